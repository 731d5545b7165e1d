"""An organisation for benchmarks that need one but do not measure it: the seed classifications, a
synthetic KLE subject plan and a synthetic municipality loaded through the sync feed (untimed)."""

from __future__ import annotations

from datetime import date

from app.bitemporal.periods import copenhagen_today
from bench.scratch import log
from indexes.demo import kle_codes_since


def load_organisation(app, municipality_code: int, *, units: int, users: int, seed: int = 0,
                      years: int = 3, codes_since: date | None = None) -> tuple[list[str], list[str], list[str]]:
    """(unit UUIDs that exist today, KLE subject codes valid from `codes_since` on, KLE action facet
    codes)."""
    since = codes_since or date(copenhagen_today().year - 6, 1, 1)
    from classification.seed import load_seed
    from organisation.bulk import import_jsonl
    from organisation.synthetic import ensure_kle_codes, generate, lines

    db = app.extensions["sts.db"]
    with db.transaction() as conn:
        load_seed(conn, actor="bench")
        log("importing a synthetic KLE subject plan and organisation (untimed)")
        codes = ensure_kle_codes(conn, actor="bench")
    records = list(generate(seed, units=units, users=users, years=years, today=copenhagen_today(),
                            reorganisation_at=None, kle_codes=codes, big_unit_engagements=users // 4))
    result = import_jsonl(db, municipality_code, lines(records), actor="bench")
    if result["rejected"]:
        raise RuntimeError(f"the synthetic organisation was refused: {result['rejected'][:2]}")
    with db.transaction() as conn:
        codes = kle_codes_since(conn, since)
        unit_ids = [r["uuid"] for r in conn.execute(
            "SELECT uuid::text AS uuid FROM enhed WHERE municipality_code = %(m)s AND lifecycle <> 'Slettet' "
            "ORDER BY uuid", {"m": municipality_code})]
    return unit_ids, codes, []
