"""Reads of the index services through the API: a party's overview (paging, counts, benefit totals),
search with facets, personal data and the access log, and the "changed since" feed, including a
transaction that commits after a later one."""

from __future__ import annotations

import pytest

from app.db import get_db
from indexes.service import Writer
from tests.indexes_world import CPR_A, CPR_B, IndexWorld, index_world, stamp

CPR_URN = f"urn:oio:cpr-nr:{CPR_A}"


@pytest.fixture
def iw(app, deliver) -> IndexWorld:
    iw = index_world(app)
    fag = iw.token("fag", "sdi")
    other_party = [{"urn": f"urn:oio:cpr-nr:{CPR_B}", "role": "primaer", "name": "Hanne Hansen"}]
    records = [iw.case("c1", title="Skolevalg"), iw.case("c2", title="Befordring"),
               iw.case("c3", title="Andet", parties=other_party)]
    records += [iw.document("d1", records[0]), iw.document("d2", records[0])]
    r = iw.bulk("sdi", fag, [{"kind": "sag" if "case_number" in x else "dokument", **x} for x in records])
    assert r.get_json()["accepted"] == 5, r.get_json()
    grant = iw.grant("g1")
    payments = [iw.payment("p1", grant, 1, "1000.50"), iw.payment("p2", grant, 2, "999.50"),
                iw.payment("p3", grant, 2, "10.00")]
    r = iw.bulk("yi", iw.token("fag", "yi"), [{"kind": "bevilling", **grant},
                                              *({"kind": "effektuering", **p} for p in payments)])
    assert r.get_json()["accepted"] == 4, r.get_json()
    deliver()
    iw.records = {"c1": records[0], "c2": records[1], "c3": records[2], "d1": records[3], "d2": records[4]}
    return iw


def overview(iw, token, service="sdi", **body):
    r = iw.call("post", f"/api/v1/{service}/overview", token, json={"party": CPR_URN, **body})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def access_log(iw):
    return iw.w.sql("SELECT operation, persons FROM access_log ORDER BY id")


def test_overview_lists_the_partys_cases_and_documents_with_paging(iw):
    token = iw.token("fag", "sdi")
    body = overview(iw, token, limit=2)
    assert body["total"] == 4 and body["kinds"] == {"sag": 2, "dokument": 2}
    seen = [i["uuid"] for i in body["items"]]
    while body["next_cursor"]:
        body = overview(iw, token, limit=2, cursor=body["next_cursor"])
        seen += [i["uuid"] for i in body["items"]]
    expected = {iw.records[k]["uuid"] for k in ("c1", "c2", "d1", "d2")}
    assert len(seen) == 4 and set(seen) == expected
    assert overview(iw, token, kinds=["dokument"])["total"] == 2
    assert overview(iw, token, **{"from": "2027-01-01"})["total"] == 0


def test_overview_rejects_bad_input_with_the_field(iw):
    token = iw.token("fag", "sdi")
    for body, field in (({"party": "urn:oio:cpr-nr:123"}, "party"), ({"party": CPR_URN, "kinds": ["bevilling"]},
                                                                      "kinds.0"),
                        ({"party": CPR_URN, "limit": 0}, "limit"), ({"party": CPR_URN, "cursor": "zz"}, "cursor"),
                        ({"party": CPR_URN, "from": "2026-02-01", "to": "2026-01-01"}, "to")):
        r = iw.call("post", "/api/v1/sdi/overview", token, json=body)
        assert r.status_code in (400, 422) and r.mimetype == "application/problem+json", (body, r.get_json())
        assert field in [e["field"] for e in r.get_json()["errors"]], (body, r.get_json())


def test_benefit_overview_totals_per_month(iw):
    body = overview(iw, iw.token("fag", "yi"), service="yi", totals="month")
    assert body["kinds"] == {"effektuering": 3, "bevilling": 1}
    totals = body["totals"]
    assert (totals["gross_amount"], totals["amount_paid"], totals["payments"]) == ("2010.00", "2010.00", 3)
    assert [(p["period"], p["gross_amount"], p["payments"]) for p in totals["per_period"]] == [
        ("2026-01", "1000.50", 1), ("2026-02", "1009.50", 2)]


def test_without_see_cpr_and_see_name_parties_are_left_out_and_reads_are_logged(iw):
    blind = iw.system("blind", "sdi", roles=("read",))
    item = overview(iw, blind)["items"][0]
    assert item["parties"] == [{"urn": None, "role": item["parties"][0]["role"], "name": None,
                                "omitted": ["urn", "name"]}]
    seeing = overview(iw, iw.token("fag", "sdi"))["items"][0]
    assert seeing["parties"][0]["urn"] == CPR_URN and seeing["parties"][0]["name"] == "Søren Østergård"
    log = access_log(iw)
    assert [e["operation"] for e in log[-2:]] == ["sdi.overview", "sdi.overview"]
    assert all(e["persons"] == [CPR_URN] for e in log[-2:])
    case = iw.call("get", f"/api/v1/sdi/cases/{iw.records['c1']['uuid']}", blind).get_json()
    assert case["record"]["parties"][0]["omitted"] == ["urn", "name"]
    assert {d["record"]["parties"][0]["urn"] for d in case["documents"]} == {None}
    assert access_log(iw)[-1] == {"operation": "sdi.read", "persons": [CPR_URN]}


def test_search_with_facets_and_filters(iw):
    token = iw.token("fag", "sdi")
    r = iw.call("post", "/api/v1/sdi/search", token, json={"q": "Skolevalg"})
    assert [i["uuid"] for i in r.get_json()["items"]] == [iw.records["c1"]["uuid"]]
    body = iw.call("post", "/api/v1/sdi/search", token, json={}).get_json()
    assert body["total"] == 5
    facets = {name: {f["value"]: f["count"] for f in values} for name, values in body["facets"].items()}
    assert facets["kind"] == {"sag": 3, "dokument": 2}
    assert facets["kle_main"] == {"27": 3}
    assert facets["state"] == {"Opstaaet": 3}
    assert facets["year"] == {"2026": 5}
    under_b = iw.call("post", "/api/v1/sdi/search", token, json={"under": iw.org.ids["B"]}).get_json()
    assert under_b["total"] == 0
    under_f = iw.call("post", "/api/v1/sdi/search", token, json={"under": iw.org.ids["F"], "kinds": ["sag"]})
    assert under_f.get_json()["total"] == 3
    r = iw.call("post", "/api/v1/sdi/search", token, json={"kle": "27.x"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "kle"


def test_changes_lists_writes_in_transaction_order_and_never_skips_a_late_commit(app, iw):
    token = iw.token("fag", "sdi")

    def changes(cursor=None):
        r = iw.call("get", "/api/v1/sdi/changes", token, query_string={"cursor": cursor} if cursor else {})
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    first = changes()
    assert len(first["items"]) == 5
    cursor = first["next_cursor"]
    assert changes(cursor)["items"] == []
    # A holds its transaction open while B commits: B is not listed until A has committed, then both are.
    with app.app_context():
        conn_a = get_db().pool.getconn()
        try:
            Writer(conn_a, 751, iw.ids["fag"]).import_("sag", iw.case("late", minutes=30))
            put = iw.call("put", f"/api/v1/sdi/cases/{iw.records['c2']['uuid']}", token,
                          json=iw.case("c2", minutes=31, title="Befordring, rettet"))
            assert put.get_json()["status"] == "accepted"
            assert changes(cursor)["items"] == []
            conn_a.commit()
        finally:
            get_db().pool.putconn(conn_a)
    later = changes(cursor)
    assert [i["record"]["title"] for i in later["items"]] == ["Sag late", "Befordring, rettet"]
    assert changes(later["next_cursor"])["items"] == []
    r = iw.call("delete", f"/api/v1/sdi/cases/{iw.records['c3']['uuid']}", token,
                query_string={"changed_at": stamp(40)})
    assert r.get_json()["status"] == "accepted"
    gone = changes(later["next_cursor"])["items"]
    assert [(i["uuid"], i["removed"]) for i in gone] == [(iw.records["c3"]["uuid"], True)]
    assert "record" not in gone[0]


def test_a_unit_moved_in_the_organisation_takes_its_records_along_under_the_constraints(app, iw, deliver):
    f_tree = iw.system("f_tree", "sdi", roles=("read",), org_units=[{"uuid": iw.org.ids["F"], "subtree": True}])
    b_tree = iw.system("b_tree", "sdi", roles=("read",), org_units=[{"uuid": iw.org.ids["B"], "subtree": True}])
    case = iw.records["c1"]["uuid"]
    assert iw.call("get", f"/api/v1/sdi/cases/{case}", f_tree).status_code == 200
    assert overview(iw, b_tree)["total"] == 0
    iw.org.move("A", "B")  # the cases' unit A moves from F to B
    deliver()
    assert iw.call("get", f"/api/v1/sdi/cases/{case}", f_tree).status_code == 404
    assert iw.call("get", f"/api/v1/sdi/cases/{case}", b_tree).status_code == 200
    # The documents have no unit of their own: under an org-unit constraint they are not shown (fail closed).
    assert overview(iw, b_tree)["kinds"] == {"sag": 2}
    assert overview(iw, f_tree)["total"] == 0


def test_urns_are_found_in_any_case_and_company_names_are_not_personal_data(iw, deliver):
    assert overview(iw, iw.token("fag", "sdi"), party=CPR_URN.upper())["total"] == 4
    company = {"urn": "urn:oio:cvr-nr:29189897", "role": "sekundaer", "name": "Firma A/S"}
    case = iw.case("c4", parties=[*iw.records["c1"]["parties"], company])
    assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", iw.token("fag", "sdi"), json=case).status_code == 200
    deliver()
    blind = iw.system("blind", "sdi", roles=("read",))
    parties = overview(iw, blind, party="urn:oio:cvr-nr:29189897")["items"][0]["parties"]
    assert parties[1] == {"urn": "urn:oio:cvr-nr:29189897", "role": "sekundaer", "name": "Firma A/S", "omitted": []}
    assert parties[0]["name"] is None


def test_bad_search_filters_and_cursors_are_refused(iw):
    token = iw.token("fag", "sdi")
    r = iw.call("post", "/api/v1/sdi/search", token, json={"sensitivity": "nonsense"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "sensitivity"
    from app.paging import encode_cursor

    a_uuid = "5d0a4c1e-9b6f-4a7d-8e1c-9f305d0a4c1e"
    for cursor in (encode_cursor(["x", "y"]), encode_cursor(["12", "not-a-uuid"]), encode_cursor([12, 5]), "zz",
                   encode_cursor([str(2**64), a_uuid]), encode_cursor(["\u0663", a_uuid])):  # beyond xid8; Arabic 3
        r = iw.call("get", "/api/v1/sdi/changes", token, query_string={"cursor": cursor})
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor"
    # Sort values Elasticsearch would refuse (search_after): of the wrong type, or beyond a long.
    wrong = [["x", "y"], ["x", {"a": 1}], [10**23, "a"], [True, "a"], [None, "a"], [1.5, "a"], [1, 2]]
    for key in wrong:
        r = iw.call("post", "/api/v1/sdi/overview", token, json={"party": f"urn:oio:cpr-nr:{CPR_A}",
                                                                "cursor": encode_cursor(key)})
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor", key
        r = iw.call("post", "/api/v1/sdi/search", token, json={"q": "sag", "cursor": encode_cursor([1.0, *key])})
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor", key
    r = iw.call("post", "/api/v1/sdi/search", token, json={"q": "sag", "cursor": encode_cursor([10**23, 1, "a"])})
    assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor"  # a score beyond a long
    for service, path, key in (("klassifikation", "/api/v1/klassifikation/search", ["x", "27.35"]),
                               ("registry", "/api/v1/municipalities", [1, "a", "b"]),
                               ("organisation", "/api/v1/organisation/search", [1, 2, "x"])):
        reader = iw.system("cursor-reader", service, roles=("read",))
        r = iw.call("get", path, reader, query_string={"q": "a", "cursor": encode_cursor(key)})
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor", path


def test_the_history_hides_versions_the_caller_may_not_see(iw):
    token = iw.token("fag", "sdi")
    uuid = iw.records["c1"]["uuid"]
    secret = iw.case("c1", minutes=5, sensitivity="VIP_SAGER")
    assert iw.call("put", f"/api/v1/sdi/cases/{uuid}", token, json=secret).get_json()["status"] == "accepted"
    back = iw.case("c1", minutes=6, title="Skolevalg")
    assert iw.call("put", f"/api/v1/sdi/cases/{uuid}", token, json=back).get_json()["status"] == "accepted"
    limited = iw.system("limited", "sdi", roles=("read",), sensitivity="FOELSOMME_PERSONOPLYSNINGER")
    items = iw.call("get", f"/api/v1/sdi/cases/{uuid}/registrations", limited).get_json()["items"]
    assert [(i["no"], i["omitted"], i["record"] is None) for i in items] == [(1, False, False), (2, True, True),
                                                                             (3, False, False)]
