"""Demo records for `make run` (`flask demo load`): a few hundred synthetic citizens' cases,
documents, grants and payments for the demo municipality, sent by the demo system as their master
(indexes/synthetic.py: invented people with fake CPR numbers)."""

from __future__ import annotations

from datetime import date

from app.bitemporal.periods import copenhagen_today
from classification.model import KLE_EMNEPLAN

DEMO_CITIZENS = 300
DEMO_SEED = 751

# KLE subjects valid from `since` until today and on: records dated in that window find them.
VALID_THROUGHOUT = """
    SELECT DISTINCT c.value #>> '{}' AS code FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
     WHERE c.field = 'user_key' AND upper_inf(c.registration) AND c.valid @> tstzrange(%(since)s, NULL)
     ORDER BY 1
"""


def kle_codes_since(conn, since: date) -> list[str]:
    return [r["code"] for r in conn.execute(VALID_THROUGHOUT, {"facet": KLE_EMNEPLAN, "since": since})]


def load_demo(db, municipality_code: int, system_id: str, *, citizens: int = DEMO_CITIZENS) -> str:
    """Load the demo records unless the municipality has index records already; a sentence saying what happened."""
    from indexes.bulk import import_jsonl
    from indexes.synthetic import generate, lines

    today = copenhagen_today()
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM index_object WHERE municipality_code = %(m)s LIMIT 1",
                        {"m": municipality_code}).fetchone():
            return f"indexes: municipality {municipality_code} already has records"
        units = [r["uuid"] for r in conn.execute(
            "SELECT uuid::text AS uuid FROM enhed WHERE municipality_code = %(m)s AND lifecycle NOT IN "
            "('Passiveret', 'Slettet') ORDER BY uuid", {"m": municipality_code})]
        codes = kle_codes_since(conn, date(today.year - 6, 1, 1))
    if not units or not codes:
        return "indexes: skipped (no organisation or KLE subjects to refer to)"
    records = generate(DEMO_SEED, municipality_code=municipality_code, citizens=citizens, kle_codes=codes,
                       action_facets=[], units=units, master_systems=[system_id], today=today)
    result = import_jsonl(db, municipality_code, system_id, lines(records), job=f"demo-indexes-{today.isoformat()}")
    return (f"indexes: {result['accepted']} records accepted, {result['rejected']} rejected "
            f"({citizens} synthetic citizens)")
