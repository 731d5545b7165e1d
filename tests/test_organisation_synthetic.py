"""The synthetic organisation generator (organisation/synthetic.py): the same seed gives the same
records; the tree, history and people have the promised shape; and a small organisation loads
through the bulk import without a single rejection, reading back as the records say."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from app.db import get_db
from organisation import bulk
from organisation.synthetic import ensure_kle_codes, generate, lines, synthetic_kle_codes
from tests.world import bearer

TODAY = date(2026, 3, 1)
REORGANISATION = date(2026, 5, 1)
SMALL = {"units": 40, "users": 200, "years": 4, "today": TODAY, "reorganisation_at": REORGANISATION}


def _records(seed: int = 7, **size) -> list[dict]:
    return list(generate(seed, **{**SMALL, **size}))


def _mod11(cpr: str) -> int:
    return sum(int(d) * w for d, w in zip(cpr, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11


def test_same_seed_same_records_other_seed_other_records():
    assert _records(7) == _records(7)
    assert _records(7) != _records(8)
    assert list(generate(3, units=25, users=30, today=TODAY, reorganisation_at=None, kle_codes=["27.35.04"])) == \
        list(generate(3, units=25, users=30, today=TODAY, reorganisation_at=None, kle_codes=["27.35.04"]))


def test_shape_one_root_parents_first_counts_and_references():
    records = _records(units=300, users=1500, years=10)
    units = [r for r in records if r["kind"] == "unit"]
    users = [r for r in records if r["kind"] == "user"]
    assert len({u["uuid"] for u in units}) == 300 and len(users) == len({u["uuid"] for u in users}) == 1500
    assert len({u["uuid"] for u in units if u["parent_uuid"] is None}) == 1
    seen_units, seen_users, last = set(), set(), {}
    for r in records:  # everything a record names comes earlier: the records apply one by one
        if r["kind"] == "unit":
            assert r["parent_uuid"] is None or r["parent_uuid"] in seen_units
            assert r["paying_unit_uuid"] is None or r["paying_unit_uuid"] in seen_units
            assert r["manager_uuid"] is None or r["manager_uuid"] in seen_users
            assert last.get(r["uuid"], r["valid_from"]) <= r["valid_from"]  # one unit's records in time order
            last[r["uuid"]] = r["valid_from"]
            seen_units.add(r["uuid"])
        else:
            assert all(p["unit_uuid"] in seen_units for p in r["positions"])
            seen_users.add(r["uuid"])
    final = {u["uuid"]: u for u in units}

    def depth(uuid: str) -> int:
        return 1 if final[uuid]["parent_uuid"] is None else 1 + depth(final[uuid]["parent_uuid"])

    assert max(depth(u) for u in final) <= 7
    types = Counter(u["type"] for u in final.values())
    assert types["kommune"] == 1 and types["direktion"] == 1 and types["forvaltning"] == 6
    assert sum(1 for u in final.values() if u["manager_uuid"]) > 0.6 * 300
    assert any(u["paying_unit_uuid"] for u in final.values()) and any(u["kle"] for u in final.values())


def test_history_future_reorganisation_and_the_big_unit():
    records = _records(units=300, users=1500, years=10)
    units = [r for r in records if r["kind"] == "unit"]
    per_unit = Counter(u["uuid"] for u in units)
    assert len(units) / len(per_unit) >= 4  # about five registrations per unit over ten years
    assert sum(1 for n in per_unit.values() if n > 1) > 0.8 * len(per_unit)
    moved = {u["uuid"] for u in units if u["valid_from"] == REORGANISATION.isoformat()}
    assert len(moved) >= 3
    assert all(u["valid_from"] <= TODAY.isoformat() for u in units if u["uuid"] not in moved)
    parents = {}
    for u in units:
        parents.setdefault(u["uuid"], []).append(u["parent_uuid"])
    assert sum(1 for p in parents.values() if len(set(p)) > 1) > 10  # moves under another parent
    full = generate(1, units=60, users=4000, today=TODAY, reorganisation_at=None)
    big = Counter(p["unit_uuid"] for r in full if r["kind"] == "user" for p in r["positions"]).most_common(1)[0]
    assert 1100 <= big[1] <= 1110


def test_people_danish_names_fake_cpr_and_positions():
    users = [r for r in _records(units=100, users=2000) if r["kind"] == "user"]
    assert any(set("æøåÆØÅ") & set(u["person"]["name"]) for u in users)
    cprs = [u["person"]["cpr"] for u in users if u["person"]["cpr"]]
    assert len(cprs) == len(set(cprs)) > 0.95 * len(users)
    for cpr in cprs:
        born = date(int(cpr[4:6]) + (2000 if cpr[6] == "4" else 1900), int(cpr[2:4]), int(cpr[:2]))
        assert date(1960, 1, 1) < born <= date(2003, 12, 31) and (born.month, born.day) != (1, 1)
        assert _mod11(cpr) != 0  # never a number the CPR office issued before 2007
    counts = Counter(len(u["positions"]) for u in users)
    assert set(counts) <= {1, 2} and counts[2] > 0
    stops = [p["stop"] for u in users for p in u["positions"]]
    assert any(stops) and stops.count(None) > len(stops) / 2
    assert all(p["stop"] is None or p["stop"] > p["start"] for u in users for p in u["positions"])


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="units"):
        generate(0, units=5, users=10, today=TODAY, reorganisation_at=None)
    with pytest.raises(ValueError, match="after today"):
        generate(0, units=50, users=10, today=TODAY, reorganisation_at=TODAY)
    assert synthetic_kle_codes(2, 2, 3)[:4] == ["00.00.01", "00.00.02", "00.00.03", "00.01.01"]


def test_a_small_organisation_loads_through_the_bulk_import(app, world):
    assert app.test_cli_runner().invoke(args=["klassifikation", "seed"]).exit_code == 0
    db = app.extensions["sts.db"]
    with app.app_context(), get_db().transaction() as conn:
        codes = ensure_kle_codes(conn, actor="test", hovedgrupper=3, grupper_per=3, emner_per=3)
    assert len(codes) == 27
    records = list(generate(5, **{**SMALL, "kle_codes": codes}))
    seen = []
    with app.app_context():
        result = bulk.import_jsonl(db, 751, lines(records), job="synthetic-test", batch=200, progress=seen.append)
    assert result["rejected"] == [] and result["accepted"] > 0 and seen[-1]["done"] == seen[-1]["total"]
    with app.app_context():
        again = bulk.import_jsonl(db, 751, lines(records), job="synthetic-test")
    assert again["resumed_from"] == again["total"] and again["accepted"] == 0

    units = [r for r in records if r["kind"] == "unit"]
    with db.transaction() as conn:
        counts = {t: conn.execute(f"SELECT count(*) AS n FROM {t} WHERE municipality_code = 751").fetchone()["n"]
                  for t in ("enhed", "bruger")}
    assert counts == {"enhed": SMALL["units"], "bruger": SMALL["users"]}

    # A unit moved in the future reorganisation reads as the records say, before and after.
    world.agreement("a1", "organisation", 751, roles=("read",))
    headers = bearer(world.token("a1", "organisation", 751))
    client = app.test_client()
    moved = next(u for u in units if u["valid_from"] == REORGANISATION.isoformat())
    history = [u for u in units if u["uuid"] == moved["uuid"]]
    for day, expected in ((TODAY, history[-2]), (REORGANISATION, history[-1])):
        r = client.get(f"/api/v1/organisation/units/{moved['uuid']}", query_string={"valid_at": day.isoformat()},
                       headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert (body["name"], body["parent"]) == (expected["name"], expected["parent_uuid"]), body
