"""The index records (indexes/records.py) and party identifiers (indexes/identifiers.py): plain unit tests."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from indexes import records as rec
from indexes.identifiers import cpr_century, cpr_problem, cvr_problem, normalise_urn, urn_problem

U1 = "11111111-1111-4111-8111-111111111111"
U2 = "22222222-2222-4222-8222-222222222222"
U3 = "33333333-3333-4333-8333-333333333333"
CPR = "urn:oio:cpr-nr:0101901234"
CPR2 = "urn:oio:cpr-nr:2902004123"


def valid_cvr(head: str = "2918989") -> str:
    """The 8-digit CVR number with the check digit that makes `head` pass modulus 11."""
    for check in range(10):
        number = f"{head}{check}"
        if sum(int(d) * w for d, w in zip(number, (2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11 == 0:
            return number
    raise AssertionError(f"{head} has no check digit")


def common(extra: dict, **fields) -> dict:
    """A record of the common fields and `fields`, with `extra` replacing or adding fields."""
    return {"uuid": U1, "changed_at": "2026-02-01T10:00:00+01:00", "sensitivity": "FORTROLIGE_PERSONOPLYSNINGER",
            "master_system": U2, **fields, **extra}


def sag(**extra) -> dict:
    return common(extra, case_number="27.35.04-G01-000001-26", title="Sygedagpenge", responsible_unit=U3,
                  primary_class="27.35.04", parties=[{"urn": CPR, "role": "primaer", "name": "Anne Jensen"}],
                  progress=[{"state": "Opstaaet", "from": "2026-01-05T09:00:00+01:00",
                             "to": "2026-01-20T10:00:00+01:00"},
                            {"state": "Oplyst", "from": "2026-01-20T10:00:00+01:00", "to": None}],
                  case_workers=[{"user": U2, "primary": True}])


def dokument(**extra) -> dict:
    return common(extra, title="Afgørelse", document_type="udgaaende", letter_date="2026-01-21", cases=[U3],
                  parties=[{"urn": CPR, "role": "modtager"}])


def bevilling(**extra) -> dict:
    return common(extra, user_key="BEV-751-0000001", responsible_unit=U3,
                  parties=[{"urn": CPR, "role": "modtager"}, {"urn": CPR2, "role": "bevillingsmodtager"}],
                  benefits=[{"id": "Y1", "name": "Sygedagpenge", "start": "2026-01-01", "end": "2026-07-01",
                             "repayable": False, "benefit_class": "sygedagpenge"},
                            {"id": "Y2", "name": "Boligstøtte", "start": "2025-12-01", "end": None,
                             "repayable": True, "benefit_class": "boligstoette"}])


def effektuering(**extra) -> dict:
    line = {"grant": U3, "benefit_id": "Y1", "period": {"from": "2026-01-01", "to": "2026-02-01"}, "amount": 1234.5}
    return common(extra, period={"from": "2026-01-01", "to": "2026-02-01"}, gross_amount="1234.50", net_amount=800,
                  amount_sent="800.00", amount_paid=None, disposition_date="2025-12-29", paying_unit=U3,
                  grant=U3, lines=[line, {**line, "benefit_id": "Y2", "amount": "-10.05"}],
                  parties=[{"urn": CPR, "role": "modtager"}])


MAKERS = {"sag": sag, "dokument": dokument, "bevilling": bevilling, "effektuering": effektuering}


def problems(kind: str, obj: dict) -> dict[str, list[str]]:
    """The flattened errors of an invalid record, as {field: [details]}."""
    with pytest.raises(ValidationError) as info:
        rec.load_record(kind, obj)
    out: dict[str, list[str]] = {}
    for e in rec.flatten_errors(info.value.messages):
        out.setdefault(e["field"], []).append(e["detail"])
    return out


# -- identifiers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("seventh", "yy", "century"), [
    (0, 99, 1900), (3, 0, 1900), (4, 36, 2000), (4, 37, 1900), (9, 0, 2000), (9, 99, 1900),
    (5, 57, 2000), (5, 58, 1800), (8, 0, 2000), (8, 99, 1800)])
def test_cpr_century_from_the_seventh_digit(seventh, yy, century):
    assert cpr_century(seventh, yy) == century


@pytest.mark.parametrize("number", ["0101901234", "2902004123", "2902005123", "2902965123", "2902369123",
                                    "2902409123", "3112999999", "0101010000"])
def test_valid_cpr_numbers(number):
    assert cpr_problem(number) is None


@pytest.mark.parametrize(("number", "why"), [
    ("2902014123", "CPR date part 290201 is not a real date"),   # 2001 is no leap year
    ("2902000123", "CPR date part 290200 is not a real date"),   # 7th digit 0: 1900, no leap year
    ("2902585123", "CPR date part 290258 is not a real date"),   # 7th digit 5, YY 58: 1858
    ("2902374123", "CPR date part 290237 is not a real date"),   # 7th digit 4, YY 37: 1937
    ("3102991234", "CPR date part 310299 is not a real date"),
    ("0013901234", "is not a real date"),
    ("010190123", "exactly 10 digits"), ("010190-1234", "exactly 10 digits"), ("01019O1234", "exactly 10 digits"),
    (101901234, "exactly 10 digits")])
def test_invalid_cpr_numbers(number, why):
    assert why in cpr_problem(number)


def test_cvr_modulus_11():
    assert cvr_problem("29189897") is None  # 2*2+9*7+1*6+8*5+9*4+8*3+9*2+7*1 = 198 = 18*11
    number = valid_cvr("1234567")
    assert cvr_problem(number) is None
    wrong = number[:7] + str((int(number[7]) + 1) % 10)
    assert cvr_problem(wrong) == f"CVR number {wrong} fails the modulus 11 check."
    for bad in ("09189897", "2918989", "291898970", "2918989a"):
        assert "exactly 8 digits" in cvr_problem(bad)


@pytest.mark.parametrize(("urn", "why"), [
    (CPR, None), (f"urn:oio:cvr-nr:{valid_cvr()}", None), ("urn:oio:p-nr:1003388394", None),
    (f"urn:uuid:{U1}", None), (f"URN:UUID:{U1.upper()}", None), ("URN:OIO:CPR-NR:0101901234", None),
    ("urn:oio:cpr-nr:3102991234", "not a real date"), ("urn:oio:cvr-nr:29189898", "modulus 11"),
    ("urn:oio:p-nr:123", "10 digits"), ("urn:uuid:not-a-uuid", "UUID"), ("urn:oio:cpr-nr:", "10 digits"),
    ("urn:isbn:0451450523", "Unknown party URN scheme"), ("0101901234", "Unknown party URN scheme"),
    (None, "must be a string")])
def test_urn_problem(urn, why):
    problem = urn_problem(urn)
    assert problem is None if why is None else why in problem


def test_urns_get_one_spelling():
    assert normalise_urn("URN:OIO:CPR-NR:0101901234") == CPR
    assert normalise_urn(f"URN:UUID:{U1.upper()}") == f"urn:uuid:{U1}"


# -- each kind's happy path -----------------------------------------------------------------------------

def test_sag_normalised():
    record = rec.load_record("sag", sag(related_cases=[U2.upper()]))
    assert record["uuid"] == U1 and record["related_cases"] == [U2]
    # Canonical UUIDs are taken as they are; every other spelling of one is normalised.
    v = "abcdef01-2345-4678-89ab-cdef01234567"
    spellings = [v, v.upper(), v[:9] + v[9:].upper(), "{" + v + "}", v.replace("-", ""), f"urn:uuid:{v}"]
    assert rec.load_record("sag", sag(related_cases=spellings))["related_cases"] == [v] * len(spellings)
    assert record["changed_at"] == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert record["changed_at"].utcoffset().total_seconds() == 0
    assert record["progress"][0] == {"state": "Opstaaet", "from": datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
                                     "to": datetime(2026, 1, 20, 9, 0, tzinfo=UTC)}
    assert record["progress"][1]["to"] is None
    assert record["parties"] == [{"urn": CPR, "role": "primaer", "name": "Anne Jensen"}]
    assert record["description"] is None and record["sending_system"] is None and record["action_facet"] is None
    assert record["other_classes"] == [] and record["documents"] == [] and record["access_list"] == []
    assert "kind" not in record
    assert rec.kind_of(record) == "sag"


def test_dokument_normalised():
    record = rec.load_record("dokument", dokument(related_documents=[{"uuid": U2, "relation": "svar"}]))
    assert record["letter_date"] == date(2026, 1, 21) and record["cases"] == [U3]
    assert record["related_documents"] == [{"uuid": U2, "relation": "svar"}]
    assert record["responsible_unit"] is None and record["primary_class"] is None and record["progress"] is None
    assert rec.kind_of(record) == "dokument"


def test_bevilling_normalised():
    record = rec.load_record("bevilling", bevilling(case=U2))
    assert record["benefits"][0]["start"] == date(2026, 1, 1) and record["benefits"][0]["end"] == date(2026, 7, 1)
    assert record["benefits"][1]["end"] is None and record["benefits"][1]["repayable"] is True
    assert record["case"] == U2 and rec.kind_of(record) == "bevilling"


def test_effektuering_normalised():
    record = rec.load_record("effektuering", effektuering())
    assert record["gross_amount"] == Decimal("1234.50") and record["net_amount"] == Decimal("800.00")
    assert record["amount_paid"] is None
    assert [line["amount"] for line in record["lines"]] == [Decimal("1234.50"), Decimal("-10.05")]
    assert record["period"] == {"from": date(2026, 1, 1), "to": date(2026, 2, 1)}
    assert rec.kind_of(record) == "effektuering"


@pytest.mark.parametrize("kind", rec.KINDS)
def test_to_document_is_json_and_loads_back_unchanged(kind):
    record = rec.load_record(kind, MAKERS[kind]())
    document = rec.to_document(record)
    assert json.loads(json.dumps(document)) == document
    assert rec.load_record(kind, copy.deepcopy(document)) == record
    assert document["changed_at"] == "2026-02-01T09:00:00Z"


def test_to_document_forms():
    assert rec.to_document(rec.load_record("effektuering", effektuering()))["lines"][0] == {
        "grant": U3, "benefit_id": "Y1", "period": {"from": "2026-01-01", "to": "2026-02-01"}, "amount": "1234.50"}
    assert rec.to_document({"at": datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=UTC)}) == \
        {"at": "2026-01-01T12:00:00.000005Z"}


# -- the helpers ------------------------------------------------------------------------------------------

def test_party_urns_kle_codes_and_unit():
    record = rec.load_record("sag", sag(other_classes=["32.18", "27.35.04"], parties=[
        {"urn": CPR, "role": "primaer"}, {"urn": "URN:OIO:CPR-NR:0101901234", "role": "sekundaer"},
        {"urn": CPR2, "role": "sekundaer"}]))
    assert rec.party_urns(record) == [CPR, CPR2]
    assert rec.kle_codes(record) == ["27.35.04", "32.18"]
    assert rec.unit_of(record) == U3
    assert rec.kle_codes(rec.load_record("dokument", dokument())) == []
    assert rec.unit_of(rec.load_record("dokument", dokument())) is None
    assert rec.unit_of(rec.load_record("effektuering", effektuering(paying_unit=U2))) == U2


def test_sort_dates():
    # The first period starts at 23:30 UTC on 31 January: 1 February in Copenhagen.
    first = {"state": "Opstaaet", "from": "2026-01-31T23:30:00Z", "to": "2026-02-02T00:00:00Z"}
    later = {"state": "Oplyst", "from": "2026-02-02T00:00:00Z", "to": None}
    assert rec.sort_date(rec.load_record("sag", sag(progress=[first, later]))) == date(2026, 2, 1)
    assert rec.sort_date(rec.load_record("dokument", dokument())) == date(2026, 1, 21)
    late = dokument(letter_date=None, changed_at="2026-03-01T23:30:00Z")
    assert rec.sort_date(rec.load_record("dokument", late)) == date(2026, 3, 2)
    assert rec.sort_date(rec.load_record("bevilling", bevilling())) == date(2025, 12, 1)
    assert rec.sort_date(rec.load_record("effektuering", effektuering())) == date(2025, 12, 29)


# -- shape errors -----------------------------------------------------------------------------------------

def test_unknown_kind_and_kind_inside_the_record():
    assert "Must be one of: sag, dokument" in problems("sagen", sag())["kind"][0]
    assert problems("sag", sag(kind="sag")) == {"kind": ["Unknown field."]}


def test_unknown_fields_rejected_at_every_level():
    obj = sag(colour="blue")
    obj["parties"][0]["age"] = 3
    obj["progress"][1]["note"] = "x"
    assert problems("sag", obj) == {"colour": ["Unknown field."], "parties.0.age": ["Unknown field."],
                                    "progress.1.note": ["Unknown field."]}
    assert problems("effektuering", effektuering(responsible_unit=U3)) == {"responsible_unit": ["Unknown field."]}


@pytest.mark.parametrize(("kind", "fields"), [
    ("sag", ["uuid", "changed_at", "sensitivity", "master_system", "case_number", "title", "progress",
             "responsible_unit", "primary_class"]),
    ("dokument", ["title", "document_type", "cases"]),
    ("bevilling", ["user_key", "benefits", "responsible_unit"]),
    ("effektuering", ["period", "gross_amount", "net_amount", "disposition_date", "paying_unit", "lines"])])
def test_missing_required_fields(kind, fields):
    obj = MAKERS[kind]()
    for name in fields:
        del obj[name]
    assert problems(kind, obj) == {name: ["Missing data for required field."] for name in fields}


def test_null_required_field_and_wrong_types():
    assert problems("sag", sag(title=None, case_workers=[{"user": U2, "primary": "true"}], documents=[1])) == {
        "title": ["Field may not be null."], "case_workers.0.primary": ["Must be true or false."],
        "documents.0": ["Not a valid UUID."]}
    assert problems("sag", "not an object") == {"(record)": ["Invalid input type."]}


def test_oversized_and_empty_fields_name_the_limit():
    found = problems("sag", sag(title="x" * 501, case_number="", description="d" * 5001,
                                parties=[{"urn": CPR, "role": "primaer", "name": "n" * 301}]))
    assert found == {"title": ["Too long: 501 characters, at most 500 allowed."], "case_number": ["Must not be empty."],
                     "description": ["Too long: 5001 characters, at most 5000 allowed."],
                     "parties.0.name": ["Too long: 301 characters, at most 300 allowed."]}
    assert rec.load_record("sag", sag(title="x" * 500, description=""))["description"] == ""


def test_list_limits():
    parties = [{"urn": CPR, "role": "primaer"}] * (rec.MAX_PARTIES + 1)
    assert problems("sag", sag(parties=parties)) == {"parties": ["Too many items: 101, at most 100 allowed."]}
    assert problems("sag", sag(progress=[])) == {"progress": ["At least 1 item required."]}
    assert problems("sag", sag(other_classes="27.35")) == {"other_classes": ["Not a valid list."]}
    lines = effektuering()["lines"] * (rec.MAX_LINES // 2 + 1)
    assert "at most 500 allowed" in problems("effektuering", effektuering(lines=lines))["lines"][0]
    assert problems("dokument", dokument(cases=[])) == {"cases": ["At least 1 item required."]}


def test_codes_and_choices():
    found = problems("sag", sag(primary_class="27.3", action_facet="g01", other_classes=["27.35", "abc"],
                                sensitivity="HEMMELIG", parties=[{"urn": CPR, "role": "modtager"}]))
    assert set(found) == {"primary_class", "action_facet", "other_classes.1", "sensitivity", "parties.0.role"}
    assert "NN, NN.NN or NN.NN.NN" in found["primary_class"][0]
    assert found["parties.0.role"] == ["Must be one of: primaer, sekundaer."]
    assert rec.load_record("sag", sag(action_facet="G01"))["action_facet"] == "G01"


def test_party_urns_are_checked_and_named_by_path():
    found = problems("sag", sag(parties=[{"urn": CPR, "role": "primaer"}, {"urn": "urn:oio:cpr-nr:3102991234",
                                                                           "role": "sekundaer"},
                                         {"urn": "mailto:a@b.dk", "role": "sekundaer"}]))
    assert found == {"parties.1.urn": [cpr_problem("3102991234")],
                     "parties.2.urn": [urn_problem("mailto:a@b.dk")]}


# -- datetimes and dates --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "why"), [
    ("2026-02-01T10:00:00", "must include a UTC offset"), ("2026-02-01T10:00:00.123", "must include a UTC offset"),
    ("2026-02-01", "Not a valid date-time"), ("2026-02-01T10:00:00+0100", "Not a valid date-time"),
    ("yesterday", "Not a valid date-time"), (1767261600, "Not a valid date-time"),
    ("2026-02-30T10:00:00Z", "not a real date-time")])
def test_datetimes_need_rfc3339_with_an_offset(value, why):
    assert why in problems("sag", sag(changed_at=value))["changed_at"][0]


def test_datetimes_become_utc():
    for value in ("2026-07-01T12:00:00+02:00", "2026-07-01T10:00:00Z", "2026-07-01 10:00:00+00:00"):
        assert rec.load_record("sag", sag(changed_at=value))["changed_at"] == datetime(2026, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(("value", "why"), [
    ("20260121", "YYYY-MM-DD"), ("2026-02-30", "not a real date"), ("2026-01-21T00:00:00Z", "YYYY-MM-DD"),
    (20260121, "YYYY-MM-DD")])
def test_dates(value, why):
    assert why in problems("dokument", dokument(letter_date=value))["letter_date"][0]


# -- amounts --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (0, "0.00"), (12, "12.00"), (12.5, "12.50"), ("-12.05", "-12.05"), ("1.500", "1.50"), (0.1, "0.10"),
    ("99999999999.99", "99999999999.99"), (-99999999999.99, "-99999999999.99"), ("-0", "0.00")])
def test_amounts_accepted(value, expected):
    record = rec.load_record("effektuering", effektuering(gross_amount=value))
    assert rec.to_document(record)["gross_amount"] == expected


@pytest.mark.parametrize(("value", "why"), [
    ("12.345", "At most 2 decimals."), (12.345, "At most 2 decimals."), (0.1 + 0.2, "At most 2 decimals."),
    (math.nan, "NaN and Infinity"), (math.inf, "NaN and Infinity"), ("NaN", "NaN and Infinity"),
    ("-Infinity", "NaN and Infinity"), (10 ** 11, "less than 10^11"), ("-100000000000", "less than 10^11"),
    (1e300, "less than 10^11"), ("1e3", "Not a valid amount"), ("12,50", "Not a valid amount"),
    (" 12", "Not a valid amount"), (True, "Must be a number"), ([1], "Must be a number")])
def test_amounts_rejected(value, why):
    assert why in problems("effektuering", effektuering(net_amount=value))["net_amount"][0]


# -- rules across fields ----------------------------------------------------------------------------------

def _period(state, start, end):
    return {"state": state, "from": start, "to": end}


def test_sag_progress_periods_in_order_without_overlap():
    a = _period("Opstaaet", "2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z")
    b = _period("Oplyst", "2026-01-09T00:00:00Z", "2026-01-20T00:00:00Z")
    c = _period("Afgjort", "2026-01-20T00:00:00Z", None)
    assert "must be in order and must not overlap" in problems("sag", sag(progress=[a, b, c]))["progress.1.from"][0]
    early = _period("Afgjort", "2025-12-01T00:00:00Z", "2025-12-15T00:00:00Z")
    out_of_order = [a, {**b, "from": "2026-01-10T00:00:00Z"}, early]
    assert list(problems("sag", sag(progress=out_of_order))) == ["progress.2.from"]
    gap = {**c, "from": "2026-02-01T00:00:00Z"}  # a gap between periods is allowed
    assert len(rec.load_record("sag", sag(progress=[a, gap]))["progress"]) == 2
    assert problems("sag", sag(progress=[{**a, "to": None}, c])) == {
        "progress.0.to": ["Only the last period may be open (null); period 1 follows this one."]}


def test_sag_progress_period_must_end_after_it_starts():
    same = _period("Opstaaet", "2026-01-01T10:00:00+01:00", "2026-01-01T09:00:00Z")
    assert problems("sag", sag(progress=[same])) == {
        "progress.0.to": ["Must be after from (the period is [from, to))."]}
    assert problems("sag", sag(progress=[_period("Afventer", "2026-01-01T00:00:00Z", None)])) == {
        "progress.0.state": ["Must be one of: Opstaaet, Oplyst, Afgjort, Afsluttet."]}


def test_sag_at_most_one_primary_case_worker():
    workers = [{"user": U1, "primary": True}, {"user": U2}, {"user": U3, "primary": True}]
    assert problems("sag", sag(case_workers=workers)) == {
        "case_workers.2.primary": ["Only one case worker can be primary (case worker 0 already is)."]}
    record = rec.load_record("sag", sag(case_workers=[{"user": U1}, {"user": U2}]))
    assert [w["primary"] for w in record["case_workers"]] == [False, False]


def test_bevilling_rules():
    obj = bevilling()
    obj["benefits"].append({**obj["benefits"][0], "name": "Igen"})
    assert problems("bevilling", obj) == {
        "benefits.2.id": ["Repeats the id of benefit 0: benefit ids must be unique."]}
    obj = bevilling()
    obj["benefits"][1]["end"] = "2025-12-01"
    assert problems("bevilling", obj) == {"benefits.1.end": ["Must be after start (the benefit runs [start, end))."]}
    alone = bevilling(parties=[{"urn": CPR2, "role": "bevillingsmodtager"}])
    assert problems("bevilling", alone) == {
        "parties": ['At least one party with role "modtager" (the recipient) is required.']}
    no_parties = bevilling()
    del no_parties["parties"]
    assert "parties" in problems("bevilling", no_parties)
    assert problems("bevilling", bevilling(benefits=[])) == {"benefits": ["At least 1 item required."]}


def test_effektuering_rules():
    assert problems("effektuering", effektuering(period={"from": "2026-02-01", "to": "2026-02-01"})) == {
        "period.to": ["Must be after from (the period is [from, to))."]}
    obj = effektuering()
    obj["lines"][1]["period"] = {"from": "2026-02-01", "to": "2026-01-01"}
    obj["lines"][0]["amount"] = "1.001"
    assert problems("effektuering", obj) == {"lines.1.period.to": ["Must be after from (the period is [from, to))."],
                                             "lines.0.amount": ["At most 2 decimals."]}
    assert problems("effektuering", effektuering(parties=[])) == {
        "parties": ['At least one party with role "modtager" (the recipient) is required.']}
    assert problems("effektuering", effektuering(lines=[])) == {"lines": ["At least 1 item required."]}
