"""Writes of the index services through the API: import, versions and order, remove, update, scrub,
master system and municipality rules, bulk answers per line and the dry run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.indexes_world import CPR_A, IndexWorld, index_world, stamp


@pytest.fixture
def iw(app) -> IndexWorld:
    return index_world(app)


def put(iw: IndexWorld, plural: str, rec: dict, token: str | None = None, service: str = "sdi"):
    return iw.call("put", f"/api/v1/{service}/{plural}/{rec['uuid']}", token or iw.token("fag", service), json=rec)


def get(iw: IndexWorld, plural: str, uuid: str, service: str = "sdi"):
    return iw.call("get", f"/api/v1/{service}/{plural}/{uuid}", iw.token("fag", service))


def test_import_is_idempotent_and_an_older_version_never_overwrites_a_newer(iw):
    v1, v2 = iw.case("c1", minutes=1), iw.case("c1", minutes=2, title="Sag c1, rettet")
    assert put(iw, "cases", v1).get_json()["status"] == "accepted"
    assert put(iw, "cases", v1).get_json()["status"] == "unchanged"
    r = put(iw, "cases", v2)
    assert r.get_json() == {"uuid": v1["uuid"], "kind": "sag", "status": "accepted", "registration_no": 2}
    assert put(iw, "cases", v1).get_json()["status"] == "stale"  # late delivery of the older version
    assert get(iw, "cases", v1["uuid"]).get_json()["record"]["title"] == "Sag c1, rettet"
    # Out of order from the start: the newer first, the older after.
    w2, w1 = iw.case("c2", minutes=5, title="ny"), iw.case("c2", minutes=4, title="gammel")
    assert put(iw, "cases", w2).get_json()["status"] == "accepted"
    assert put(iw, "cases", w1).get_json()["status"] == "stale"
    assert get(iw, "cases", w2["uuid"]).get_json()["record"]["title"] == "ny"


def test_the_registration_history_says_when_the_index_learned_what(iw):
    rec = iw.case("c1", minutes=1)
    put(iw, "cases", rec)
    put(iw, "cases", iw.case("c1", minutes=2, title="Anden titel"))
    put(iw, "cases", iw.case("c1", minutes=3, title="Tredje titel"))
    r = iw.call("get", f"/api/v1/sdi/cases/{rec['uuid']}/registrations", iw.token("fag", "sdi"))
    items = r.get_json()["items"]
    assert [(i["no"], i["record"]["title"], i["operation"]) for i in items] == [
        (1, "Sag c1", "import"), (2, "Anden titel", "import"), (3, "Tredje titel", "import")]
    assert items[0]["registered_to"] == items[1]["registered_from"] and items[2]["registered_to"] is None
    assert items[0]["system_id"] == iw.ids["fag"]


def test_the_same_changed_at_with_other_content_is_a_conflict(iw):
    put(iw, "cases", iw.case("c1", minutes=1))
    r = put(iw, "cases", iw.case("c1", minutes=1, title="anderledes"))
    assert r.status_code == 409 and r.get_json()["code"] == "version_conflict"


def test_remove_deletes_the_data_and_a_late_older_import_stays_out(iw):
    rec = iw.case("c1", minutes=1)
    put(iw, "cases", rec)
    token = iw.token("fag", "sdi")
    r = iw.call("delete", f"/api/v1/sdi/cases/{rec['uuid']}", token, query_string={"changed_at": stamp(3)})
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    assert get(iw, "cases", rec["uuid"]).status_code == 404
    assert put(iw, "cases", iw.case("c1", minutes=2)).get_json()["status"] == "stale"
    assert get(iw, "cases", rec["uuid"]).status_code == 404
    rows = iw.w.sql("SELECT record FROM index_registration WHERE uuid = %(u)s", {"u": rec["uuid"]})
    assert rows and all(row["record"] is None for row in rows)  # physically deleted, history of when kept
    assert put(iw, "cases", iw.case("c1", minutes=4)).get_json()["status"] == "accepted"  # newer: back again
    assert get(iw, "cases", rec["uuid"]).status_code == 200


def test_changed_at_is_kept_in_utc_whatever_its_offset_and_outside_the_years_1_to_9999_is_a_422(iw):
    token = iw.token("fag", "sdi")
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL refuses beyond ±15:59, so the API converts first.
    rec = {**iw.case("far"), "changed_at": "2026-03-01T03:59:25+17:36"}
    assert put(iw, "cases", rec).get_json()["status"] == "accepted"
    assert get(iw, "cases", rec["uuid"]).get_json()["record"]["changed_at"] == "2026-02-28T10:23:25Z"
    r = iw.call("delete", f"/api/v1/sdi/cases/{rec['uuid']}", token,
                query_string={"changed_at": "2026-03-01T09:00:00-22:00"})
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"

    too_early = "0001-01-01T00:00:00+01:00"  # 31 December of the year 0 in UTC
    r = iw.call("delete", f"/api/v1/sdi/cases/{rec['uuid']}", token, query_string={"changed_at": too_early})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    assert [(e["field"], "0001-9999" in e["detail"]) for e in r.get_json()["errors"]] == [("changed_at", True)]
    r = put(iw, "cases", {**iw.case("early"), "changed_at": too_early})
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["changed_at"]
    r = iw.bulk("sdi", token, [{"kind": "sag", **iw.case("early"), "changed_at": too_early}])
    [line] = r.get_json()["records"]
    assert line["status"] == "rejected" and [e["field"] for e in line["errors"]] == ["changed_at"]
    assert get(iw, "cases", iw.case("early")["uuid"]).status_code == 404


def test_the_first_and_last_days_python_can_hold_are_answered_not_failed(iw):
    # 0001-01-01 starts before UTC's first instant in Danish time: read as that instant.
    case = iw.case("c1")
    assert put(iw, "cases", case).get_json()["status"] == "accepted"
    r = put(iw, "documents", iw.document("d1", case, letter_date="0001-01-01"))
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    grant = iw.grant("g1")
    grant["benefits"][0]["start"] = "0001-01-01"
    r = iw.call("put", f"/api/v1/yi/grants/{grant['uuid']}", iw.token("fag", "yi"), json=grant)
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    # An instant after 9999-12-31T00:00Z has no Danish day (it would fall in the year 10000).
    late = iw.case("c2")
    late["progress"][-1] = {**late["progress"][-1], "from": "9999-12-31T23:30:00Z"}
    r = put(iw, "cases", late)
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == [
        f"progress.{len(late['progress']) - 1}.from"]


def test_a_changed_at_ahead_of_the_clock_is_refused_so_it_cannot_make_later_versions_stale(iw):
    token = iw.token("fag", "sdi")
    now = datetime.now(UTC)
    soon, later = (now + timedelta(minutes=2)).isoformat(), (now + timedelta(hours=2)).isoformat()
    # Danish time sent as Z, the commonest cause: two hours ahead in summer.
    r = put(iw, "cases", {**iw.case("ahead"), "changed_at": later})
    assert r.status_code == 422
    [error] = r.get_json()["errors"]
    assert error["field"] == "changed_at" and "clock" in error["detail"]
    assert put(iw, "cases", {**iw.case("skew"), "changed_at": soon}).get_json()["status"] == "accepted"
    r = iw.call("delete", f"/api/v1/sdi/cases/{iw.case('skew')['uuid']}", token, query_string={"changed_at": later})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "changed_at"
    r = iw.call("post", f"/api/v1/sdi/cases/{iw.case('skew')['uuid']}/scrub", token,
                json={"fields": ["related_cases"], "changed_at": later})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "changed_at"
    r = iw.bulk("sdi", token, [{"kind": "sag", **iw.case("ahead"), "changed_at": later},
                               {"kind": "sag", "op": "remove", "uuid": iw.case("skew")["uuid"], "changed_at": later}])
    assert [(line["status"], [e["field"] for e in line["errors"]]) for line in r.get_json()["records"]] == [
        ("rejected", ["changed_at"]), ("rejected", ["changed_at"])]
    assert get(iw, "cases", iw.case("ahead")["uuid"]).status_code == 404
    assert get(iw, "cases", iw.case("skew")["uuid"]).status_code == 200


def test_only_the_master_system_writes_and_other_municipalities_uuids_are_taken(iw):
    rec = iw.case("c1", master="other")
    r = put(iw, "cases", rec)  # fag sends a record whose master is `other`
    assert r.status_code == 403 and r.get_json()["code"] == "not_master_system"
    put(iw, "cases", iw.case("c1"))
    r = put(iw, "cases", iw.case("c1", master="other", minutes=9), token=iw.token("other", "sdi"))
    assert r.status_code == 403
    iw.system("fag", "sdi", municipality=101)
    r = put(iw, "cases", iw.case("c1", minutes=9, responsible_unit=iw.org.ids["KB"]), token=iw.token("fag", "sdi", 101))
    assert r.status_code == 409 and r.get_json()["code"] == "uuid_taken"


def test_update_merges_fields_and_scrub_removes_optional_relations(iw):
    case = iw.case("c1", related_cases=[iw.case("c9")["uuid"]])
    put(iw, "cases", case)
    token = iw.token("fag", "sdi")
    r = iw.call("patch", f"/api/v1/sdi/cases/{case['uuid']}", token, json={"title": "Nyt navn", "changed_at": stamp(5)})
    assert r.status_code == 200 and r.get_json()["registration_no"] == 2
    record = get(iw, "cases", case["uuid"]).get_json()["record"]
    assert record["title"] == "Nyt navn" and record["case_number"] == case["case_number"]
    r = iw.call("post", f"/api/v1/sdi/cases/{case['uuid']}/scrub", token,
                json={"fields": ["related_cases"], "changed_at": stamp(6)})
    assert r.status_code == 200, r.get_json()
    assert not get(iw, "cases", case["uuid"]).get_json()["record"].get("related_cases")
    r = iw.call("post", f"/api/v1/sdi/cases/{case['uuid']}/scrub", token,
                json={"fields": ["title"], "changed_at": stamp(7)})
    assert r.status_code == 422 and r.get_json()["code"] == "not_scrubbable"
    r = iw.call("patch", f"/api/v1/sdi/cases/{case['uuid']}", token, json={"primary_class": None,
                                                                          "changed_at": stamp(8)})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "primary_class"


def test_bulk_answers_every_line_and_keeps_the_good_ones(iw):
    case = iw.case("good")
    doc = iw.document("doc", case)
    lines = [
        {"kind": "sag", **case},
        "{not json",
        {"kind": "sag", **iw.case("badcpr", parties=[{"urn": "urn:oio:cpr-nr:3102801234", "role": "primaer"}])},
        {"kind": "sag", **iw.case("badkle", primary_class="99.99.99")},
        {"kind": "sag", **{k: v for k, v in iw.case("nounit").items() if k != "responsible_unit"}},
        {"kind": "sag", **iw.case("master", master="other")},
        {"kind": "sag", **iw.case("big", title="x" * 5000)},
        {"kind": "dokument", **doc},
        {"kind": "dokument", **{**iw.document("nocase", case), "cases": []}},
        {"kind": "bevilling", **iw.grant("g")},
    ]
    r = iw.bulk("sdi", iw.token("fag", "sdi"), lines)
    assert r.status_code == 200
    body = r.get_json()
    by_line = {rec["line"]: rec for rec in body["records"]}
    assert [by_line[n]["status"] for n in range(1, 11)] == ["accepted", "rejected", "rejected", "rejected", "rejected",
                                                           "rejected", "rejected", "accepted", "rejected", "rejected"]
    fields = {n: [e["field"] for e in by_line[n]["errors"]] for n in by_line if by_line[n]["errors"]}
    assert fields[2] == ["(line)"]
    assert fields[3] == ["parties.0.urn"] and "date" in by_line[3]["errors"][0]["detail"]
    assert fields[4] == ["primary_class"]
    assert fields[5] == ["responsible_unit"]
    assert fields[6] == ["master_system"]
    assert fields[7] == ["title"]
    assert fields[9] == ["cases"]
    assert fields[10] == ["kind"]
    assert (body["accepted"], body["rejected"]) == (2, 8)
    assert get(iw, "cases", case["uuid"]).status_code == 200
    assert get(iw, "documents", doc["uuid"]).status_code == 200


def test_a_bulk_line_with_text_the_database_cannot_store_is_rejected_alone(iw):
    good, nul = iw.case("good"), iw.case("nul", title="Sag \u0000")
    surrogate = json.dumps({"kind": "sag", **iw.case("surrogate")}).replace('"Sag surrogate"', '"Sag \\ud83d"')
    assert "\\ud83d" in surrogate
    r = iw.bulk("sdi", iw.token("fag", "sdi"), [{"kind": "sag", **good}, {"kind": "sag", **nul}, surrogate])
    assert [(line["status"], [e["field"] for e in line["errors"]]) for line in r.get_json()["records"]] == [
        ("accepted", []), ("rejected", ["title"]), ("rejected", ["title"])]
    assert get(iw, "cases", good["uuid"]).status_code == 200


def test_validate_answers_like_bulk_and_writes_nothing(iw):
    lines = [{"kind": "sag", **iw.case("v1")}, {"kind": "sag", **iw.case("v2", primary_class="99.99")}]
    r = iw.bulk("sdi", iw.token("fag", "sdi"), lines, path="validate")
    assert [rec["status"] for rec in r.get_json()["records"]] == ["accepted", "rejected"]
    assert get(iw, "cases", lines[0]["uuid"]).status_code == 404
    assert iw.w.sql("SELECT count(*) AS n FROM index_object")[0]["n"] == 0


def test_a_case_with_its_documents_and_a_grant_with_its_payments(iw):
    case = iw.case("c1")
    put(iw, "cases", case)
    d1, d2 = iw.document("d1", case), iw.document("d2", case)
    put(iw, "documents", d1)
    put(iw, "documents", d2)
    body = get(iw, "cases", case["uuid"]).get_json()
    assert sorted(d["uuid"] for d in body["documents"]) == sorted([d1["uuid"], d2["uuid"]])
    assert body["record"]["parties"][0]["urn"] == f"urn:oio:cpr-nr:{CPR_A}"
    grant = iw.grant("g1")
    assert put(iw, "grants", grant, service="yi").status_code == 200
    for month in (1, 2):
        assert put(iw, "payments", iw.payment(f"p{month}", grant, month), service="yi").status_code == 200
    body = get(iw, "grants", grant["uuid"], service="yi").get_json()
    assert len(body["payments"]) == 2


def test_a_concurrent_first_import_of_the_same_uuid_is_a_clean_409(app, iw):
    import threading

    from app.db import get_db
    from indexes.service import Writer

    rec = iw.case("race")
    answers = []
    with app.app_context():
        conn_a = get_db().pool.getconn()
        try:
            Writer(conn_a, 751, iw.ids["fag"]).import_("sag", rec)  # not committed yet
            other = threading.Thread(target=lambda: answers.append(put(iw, "cases", {**rec, "title": "B"})))
            other.start()
            other.join(1.0)
            assert other.is_alive()  # waiting for A's row
            conn_a.commit()
            other.join(30)
        finally:
            get_db().pool.putconn(conn_a)
    assert answers[0].status_code == 409 and answers[0].get_json()["code"] == "concurrent_write"
    assert put(iw, "cases", {**rec, "title": "B", "changed_at": stamp(5)}).get_json()["status"] == "accepted"


def test_case_numbers_are_unique_per_municipality(iw):
    assert put(iw, "cases", iw.case("n1", case_number="751-42")).status_code == 200
    r = put(iw, "cases", iw.case("n2", case_number="751-42"))
    assert r.status_code == 409 and r.get_json()["code"] == "case_number_taken"
    body = iw.bulk("sdi", iw.token("fag", "sdi"), [{"kind": "sag", **iw.case("n3", case_number="751-43")},
                                                   {"kind": "sag", **iw.case("n4", case_number="751-43")},
                                                   {"kind": "sag", **iw.case("n5", master="other")}]).get_json()
    assert [(x["status"], x.get("code")) for x in body["records"]] == [
        ("accepted", None), ("rejected", "case_number_taken"), ("rejected", "not_master_system")]
    assert body["records"][1]["errors"] == [{"field": "case_number", "detail": "Another case of this municipality "
                                                                               "has this case number."}]


def test_a_grant_lists_the_payments_that_name_it_in_their_lines(iw):
    grant = iw.grant("g1")
    assert put(iw, "grants", grant, service="yi").status_code == 200
    payment = {k: v for k, v in iw.payment("p1", grant, 1).items() if k != "grant"}
    assert put(iw, "payments", payment, service="yi").status_code == 200
    body = get(iw, "grants", grant["uuid"], service="yi").get_json()
    assert [p["uuid"] for p in body["payments"]] == [payment["uuid"]]


def test_an_interrupted_load_resumes_under_its_job_name_and_ends_in_the_right_state(app, iw):
    from app.db import get_db
    from indexes.bulk import import_jsonl

    cases = [iw.case(f"load{i}", minutes=i) for i in range(7)]
    lines = [json.dumps({"kind": "sag", **c}) for c in cases]
    lines.insert(3, json.dumps({"kind": "sag", **iw.case("load0", minutes=-1)}))  # an older version, late

    class Crash(Exception):
        pass

    def crash_after_two_batches(p):
        if p["done"] >= 4:
            raise Crash

    with app.app_context():
        with pytest.raises(Crash):
            import_jsonl(get_db(), 751, iw.ids["fag"], lines, job="j", batch=2, progress=crash_after_two_batches)
        again = import_jsonl(get_db(), 751, iw.ids["fag"], lines, job="j", batch=2)
    assert again["resumed_from"] == 4 and again["accepted"] == 4 and again["rejected"] == 0
    rows = iw.w.sql("SELECT count(*) AS n, max(registration_no) AS r FROM index_object")[0]
    assert (rows["n"], rows["r"]) == (7, 1)  # nothing written twice; the late older version was stale
    assert get(iw, "cases", cases[0]["uuid"]).get_json()["record"]["changed_at"] == cases[0]["changed_at"].replace(
        "+00:00", "Z")


def test_a_load_validated_by_processes_answers_as_one_validated_by_a_thread(app, iw):
    from app.db import get_db
    from indexes.bulk import import_jsonl

    def load(prefix: str, workers: int) -> dict:
        lines = [json.dumps({"kind": "sag", **iw.case(f"{prefix}{i}", minutes=i)}) for i in range(6)]
        lines[2] = lines[2].replace('"primary_class": "27.01.02"', '"primary_class": "99.99.99"')
        lines.insert(4, "{broken")
        with app.app_context():
            result = import_jsonl(get_db(), 751, iw.ids["fag"], lines, batch=2, workers=workers)
        return {**result, "rejected_records": [(r["line"], r["code"], r["errors"][0]["field"])
                                               for r in result["rejected_records"]]}

    by_thread, by_process = load("t", 0), load("p", 1)
    assert by_thread == by_process
    assert (by_thread["accepted"], by_thread["rejected"]) == (5, 2)
    assert by_thread["rejected_records"] == [(3, "unknown_reference", "primary_class"), (5, "invalid_record", "(line)")]
