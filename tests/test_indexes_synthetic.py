"""The synthetic index records (indexes/synthetic.py): the same seed gives the same lines; parties have valid
CPR and CVR numbers; cases per citizen are heavy-tailed; every record comes after what it refers to; grants,
payments and amounts agree; the counts are those `sizes` promises; and every record passes the validation of
indexes/records.py.  Pure generation: no database, no app."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest

from indexes.synthetic import MAX_PAYMENTS, STATES, generate, lines, sizes
from organisation.synthetic import synthetic_kle_codes

TODAY = date(2026, 3, 1)
ARGS = {"municipality_code": 751, "kle_codes": synthetic_kle_codes(), "today": TODAY,
        "action_facets": [f"G{i:02d}" for i in range(1, 30)],
        "units": [f"00000000-0000-4000-8000-{i:012d}" for i in range(60)],
        "master_systems": [f"10000000-0000-4000-8000-{i:012d}" for i in range(8)]}
CITIZENS = 2000
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
AMOUNT = re.compile(r"^-?\d+\.\d\d$")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return list(generate(7, citizens=CITIZENS, **ARGS))


def _century(seventh: int, yy: int) -> int:
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def _cpr_ok(number: str) -> bool:
    if not re.fullmatch(r"\d{10}", number):
        return False
    yy = int(number[4:6])
    try:
        born = date(_century(int(number[6]), yy) + yy, int(number[2:4]), int(number[0:2]))
    except ValueError:
        return False
    return born < TODAY


def _cvr_ok(number: str) -> bool:
    return bool(re.fullmatch(r"[1-9]\d{7}", number)) and \
        sum(int(d) * w for d, w in zip(number, (2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11 == 0


def _stamp(value: str) -> datetime:
    assert STAMP.match(value), value
    return datetime.fromisoformat(value)


def test_same_seed_same_lines_other_seed_other_lines():
    small = {**ARGS, "citizens": 150}
    first = list(lines(generate(3, **small)))
    assert first == list(lines(generate(3, **small)))
    assert first != list(lines(generate(4, **small)))
    assert all("\n" not in line and ", " not in line[:20] for line in first)
    other = {r["uuid"] for r in generate(3, **{**small, "municipality_code": 101})}
    assert not other & {json.loads(line)["uuid"] for line in first}   # uuids differ per municipality


def test_json_able_kinds_and_formats(records):
    assert json.loads(json.dumps(records)) == records
    assert {r["kind"] for r in records} == {"sag", "dokument", "bevilling", "effektuering"}
    uuids = [r["uuid"] for r in records]
    assert len(uuids) == len(set(uuids))
    for r in records:
        assert _stamp(r["changed_at"]).date() < TODAY
        if r["kind"] == "effektuering":
            amounts = [r[k] for k in ("gross_amount", "net_amount", "amount_sent", "amount_paid")]
            assert all(AMOUNT.match(a) for a in amounts + [line["amount"] for line in r["lines"]])


def test_parties_have_valid_unique_cpr_and_cvr_numbers(records):
    names: dict[str, str] = {}
    for r in records:
        for party in r["parties"]:
            scheme, number = party["urn"].rsplit(":", 1)
            if scheme == "urn:oio:cpr-nr":
                assert _cpr_ok(number), number
                weighted = sum(int(d) * w for d, w in zip(number, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1), strict=True))
                assert weighted % 11, f"{number} passes modulus 11: it could be a real person's"
            else:
                assert scheme == "urn:oio:cvr-nr" and _cvr_ok(number), party["urn"]
            assert names.setdefault(party["urn"], party["name"]) == party["name"]   # one number, one party
    schemes = Counter(urn.rsplit(":", 1)[0] for urn in names)
    assert schemes["urn:oio:cpr-nr"] > CITIZENS // 2 and schemes["urn:oio:cvr-nr"] > 20


def test_cases_per_owner_are_heavy_tailed(records):
    cases = [r for r in records if r["kind"] == "sag"]
    owners = CITIZENS + CITIZENS // 20
    per_owner = Counter(r["parties"][0]["urn"] for r in cases)
    counts = sorted(per_owner.values()) + [0] * (owners - len(per_owner))
    assert statistics.median(counts) <= 2
    assert max(counts) >= 50 and max(counts) <= 200
    assert 2.0 < len(cases) / owners < 3.0
    kle = Counter(r["primary_class"] for r in cases)
    assert kle.most_common(1)[0][1] > 10 * len(cases) / len(ARGS["kle_codes"])   # Zipf: a few are popular
    assert Counter(r["responsible_unit"] for r in cases).most_common(1)[0][1] > 3 * len(cases) / 60


def test_counts_roughly_match_sizes(records):
    counts = Counter(r["kind"] for r in records)
    for kind, expected in sizes(CITIZENS).items():
        assert 0.75 * expected < counts[kind] < 1.25 * expected, (kind, counts[kind], expected)


def test_cases_progress_workers_and_sensitivity(records):
    cases = [r for r in records if r["kind"] == "sag"]
    documents = {r["uuid"]: r for r in records if r["kind"] == "dokument"}
    assert len({r["case_number"] for r in cases}) == len(cases)
    for case in cases:
        progress = case["progress"]
        assert [p["state"] for p in progress] == list(STATES[:len(progress)])
        for before, after in pairwise(progress):
            assert _stamp(before["to"]) == _stamp(after["from"]) > _stamp(before["from"])
        assert progress[-1]["to"] is None
        changed = _stamp(case["changed_at"])
        assert all(changed >= _stamp(p["from"]) for p in progress)
        opened = _stamp(progress[0]["from"]).date()
        closed = _stamp(progress[-1]["from"]).date() if progress[-1]["state"] == "Afsluttet" else TODAY
        for uuid in case["documents"]:
            letter = date.fromisoformat(documents[uuid]["letter_date"])
            assert opened <= letter <= closed and changed >= _stamp(documents[uuid]["changed_at"])
        assert 1 <= len(case["case_workers"]) <= 2 and sum(w["primary"] for w in case["case_workers"]) == 1
        assert case["parties"][0]["role"] == "primaer"
    shares = Counter(r["sensitivity"] for r in cases)
    low = shares["IKKE_FORTROLIGE_DATA"] + shares["FORTROLIGE_PERSONOPLYSNINGER"]
    assert low > 0.8 * len(cases) and shares["FOELSOMME_PERSONOPLYSNINGER"] > 0.03 * len(cases)
    assert 0 < shares["VIP_SAGER"] < 0.02 * len(cases)
    assert {len(r["documents"]) for r in cases} == set(range(11))
    assert 2.5 < len(documents) / len(cases) < 3.7


def test_every_record_after_what_it_refers_to(records):
    seen: dict[str, dict] = {}
    for r in records:
        if r["kind"] == "sag":
            assert all(u in seen for u in r.get("related_cases", []))
        elif r["kind"] == "dokument":
            (case_uuid,) = r["cases"]
            assert seen[case_uuid]["kind"] == "sag" and r["uuid"] in seen[case_uuid]["documents"]
            assert all(d["uuid"] in seen for d in r.get("related_documents", []))
        elif r["kind"] == "bevilling":
            assert "case" not in r or seen[r["case"]]["parties"][0]["urn"] == r["parties"][0]["urn"]
        else:
            assert seen[r["grant"]]["kind"] == "bevilling"
        seen[r["uuid"]] = r


def test_grants_and_payments_agree(records):
    grants = {r["uuid"]: r for r in records if r["kind"] == "bevilling"}
    payments = [r for r in records if r["kind"] == "effektuering"]
    recipients = {g["parties"][0]["urn"] for g in grants.values()}
    assert 0.15 * CITIZENS < len(recipients) < 0.25 * CITIZENS
    per_grant = Counter(p["grant"] for p in payments)
    assert max(per_grant.values()) <= MAX_PAYMENTS
    for grant in grants.values():
        assert 1 <= len(grant["benefits"]) <= 3 and grant["parties"][0]["role"] == "modtager"
    for p in payments:
        grant = grants[p["grant"]]
        benefits = {b["id"]: b for b in grant["benefits"]}
        assert p["parties"][0]["urn"] == grant["parties"][0]["urn"]
        assert date.fromisoformat(p["disposition_date"]) < TODAY and p["period"]["from"] <= TODAY.isoformat()
        for line in p["lines"]:
            benefit = benefits[line["benefit_id"]]
            assert line["grant"] == grant["uuid"]
            assert p["period"]["from"] <= line["period"]["from"] < line["period"]["to"] <= p["period"]["to"]
            assert benefit["start"] <= line["period"]["from"]
            assert benefit["end"] is None or line["period"]["to"] <= benefit["end"]
        gross, net = Decimal(p["gross_amount"]), Decimal(p["net_amount"])
        assert gross == sum(Decimal(line["amount"]) for line in p["lines"])
        assert 0 < net <= gross and p["amount_paid"] == p["amount_sent"] == p["net_amount"]


def test_every_record_passes_the_record_validation():
    from indexes.records import load_record

    for r in generate(11, citizens=300, **ARGS):
        record = dict(r)
        load_record(record.pop("kind"), record)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="must not be empty"):
        generate(1, citizens=10, **{**ARGS, "kle_codes": []})
    assert list(generate(1, citizens=0, **ARGS)) == []
    assert list(generate(1, citizens=20, **{**ARGS, "action_facets": []}))


def test_a_case_relating_to_an_earlier_one_before_any_recent_case_exists():
    """Seed 0 with three KLE subjects: a case meant to relate to a recent case of another citizen,
    before any other citizen had one, chose from an empty list; it relates to its citizen's earlier
    case instead."""
    units = [f"00000000-0000-4000-8000-{i:012d}" for i in range(50)]
    small = list(generate(0, citizens=1000, municipality_code=751, kle_codes=["27.01.02", "27.35.04", "32.00.00"],
                          action_facets=["G01"], units=units, master_systems=[units[0]], today=date(2026, 11, 28)))
    related = [r for r in small if r.get("related_cases")]
    assert related and all(r["related_cases"][0] != r["uuid"] for r in related)
