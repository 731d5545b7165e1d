"""The Organisation REST API: objects (create, import, update by period, If-Match,
no-op, passivate, delete), hierarchy reads as of both times (a future move, paging,
slices), its rules through the API (cycle, second root), a unit's functions, units
by KLE number, engagements and managers, validation errors and tenancy."""

import uuid
from datetime import timedelta

import pytest

from app.bitemporal.periods import copenhagen_today
from classification.model import KLE_EMNEPLAN
from tests.world import bearer

BASE = "/api/v1/organisation"


@pytest.fixture
def seeded(app, world):
    result = app.test_cli_runner().invoke(args=["klassifikation", "seed"])
    assert result.exit_code == 0, result.output
    return world


@pytest.fixture
def admin(app, seeded):
    """A client acting as 751's municipality admin."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {seeded.login('admin751')}"
    return client


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def unit(client, key, parent=None, unit_type="afdeling", **extra):
    body = {"user_key": key, "name": f"Enhed {key}", "unit_type": unit_type, "parent": parent,
            "valid_from": "2024-01-01", **extra}
    return ok(client.post(f"{BASE}/units", json=body), 201)["uuid"]


def user(client, key, name=None):
    person = ok(client.post(f"{BASE}/persons", json={"name": name or f"Person {key}", "cpr": None,
                                                     "valid_from": "2024-01-01"}), 201)["uuid"]
    return ok(client.post(f"{BASE}/users", json={"user_key": key, "name": name or f"Person {key}",
                                                 "person": person, "valid_from": "2024-01-01"}), 201)["uuid"]


def function(client, ftype, unit_id, user_id=None, name=None, valid_from="2024-01-01", valid_to=None):
    body = {"function_type": ftype, "units": [unit_id], "users": [user_id] if user_id else [], "name": name,
            "valid_from": valid_from, "valid_to": valid_to}
    return ok(client.post(f"{BASE}/functions", json=body), 201)["uuid"]


def keys(items):
    return [i["user_key"] for i in items]


def test_create_read_update_by_period_if_match_and_no_op(admin):
    root = unit(admin, "KOM", unit_type="kommune")
    child = unit(admin, "A", root)
    r = admin.get(f"{BASE}/units/{child}")
    read = ok(r)
    assert r.headers["ETag"] == f'"{read["registration_no"]}"'
    assert (read["name"], read["parent"], read["lifecycle"]) == ("Enhed A", root, "Opstaaet")
    changed = ok(admin.patch(f"{BASE}/units/{child}", headers={"If-Match": r.headers["ETag"]},
                             json={"name": "Midlertidigt navn", "valid_from": "2025-06-01", "valid_to": "2025-07-01"}))
    assert changed["changed"] is True and changed["registration_no"] == read["registration_no"] + 1
    assert ok(admin.get(f"{BASE}/units/{child}?valid_at=2025-06-15"))["name"] == "Midlertidigt navn"
    assert ok(admin.get(f"{BASE}/units/{child}?valid_at=2025-07-01"))["name"] == "Enhed A"
    # As registered before the change, 15 June had the old name.
    registrations = ok(admin.get(f"{BASE}/units/{child}/registrations"))
    assert [x["lifecycle"] for x in registrations] == ["Opstaaet", "Rettet"]
    before = registrations[0]["registered_from"].replace("+00:00", "Z")
    old = ok(admin.get(f"{BASE}/units/{child}?valid_at=2025-06-15&registered_at={before}"))
    assert old["name"] == "Enhed A" and old["registration_no"] == read["registration_no"]
    # The same change again is a no-op; a stale ETag is refused and nothing is written.
    again = ok(admin.patch(f"{BASE}/units/{child}", json={"name": "Midlertidigt navn", "valid_from": "2025-06-01",
                                                          "valid_to": "2025-07-01"}))
    assert again["changed"] is False and again["registration_no"] == changed["registration_no"]
    stale = admin.patch(f"{BASE}/units/{child}", headers={"If-Match": r.headers["ETag"]}, json={"name": "Tabt"})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    assert ok(admin.get(f"{BASE}/units/{child}"))["name"] == "Enhed A"
    facts = ok(admin.get(f"{BASE}/units/{child}/facts"))
    assert {f["value"] for f in facts if f["field"] == "name"} == {"Enhed A", "Midlertidigt navn"}


def test_patch_of_a_list_replaces_it_only_within_the_period(admin):
    root = unit(admin, "KOM", unit_type="kommune", addresses=[{"type": "email", "value": "kom@x.dk"}])
    ok(admin.patch(f"{BASE}/units/{root}", json={"addresses": [{"type": "email", "value": "ny@x.dk"}],
                                                 "valid_from": "2025-01-01"}))
    assert ok(admin.get(f"{BASE}/units/{root}?valid_at=2024-06-01"))["addresses"] == [
        {"type": "email", "value": "kom@x.dk"}]
    assert ok(admin.get(f"{BASE}/units/{root}"))["addresses"] == [{"type": "email", "value": "ny@x.dk"}]


def test_import_is_idempotent_passivate_and_delete(admin):
    it_system = str(uuid.uuid4())
    body = {"user_key": "KMD-OPUS", "name": "OPUS"}
    first = ok(admin.put(f"{BASE}/it-systems/{it_system}", json=body))
    assert (first["changed"], first["lifecycle"]) == (True, "Importeret")
    assert ok(admin.put(f"{BASE}/it-systems/{it_system}", json=body))["changed"] is False
    stale = admin.put(f"{BASE}/it-systems/{it_system}", json={**body, "name": "Ny"}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412
    overwritten = ok(admin.put(f"{BASE}/it-systems/{it_system}", json={**body, "name": "Ny"},
                               headers={"If-Match": f'"{first["registration_no"]}"'}))
    assert overwritten["lifecycle"] == "Rettet"
    assert admin.post(f"{BASE}/it-systems/{it_system}/passivate", headers={"If-Match": '"1"'}).status_code == 412
    assert ok(admin.post(f"{BASE}/it-systems/{it_system}/passivate"))["lifecycle"] == "Passiveret"
    assert ok(admin.delete(f"{BASE}/it-systems/{it_system}"))["lifecycle"] == "Slettet"
    gone = admin.get(f"{BASE}/it-systems/{it_system}")
    assert gone.status_code == 410 and gone.get_json()["code"] == "gone"
    assert admin.delete(f"{BASE}/it-systems/{it_system}").status_code == 409
    history = ok(admin.get(f"{BASE}/it-systems/{it_system}/registrations"))
    assert [h["lifecycle"] for h in history] == ["Importeret", "Rettet", "Passiveret", "Slettet"]
    # Reviving by import is allowed (Slettet -> Importeret).
    assert ok(admin.put(f"{BASE}/it-systems/{it_system}", json=body))["lifecycle"] == "Importeret"


def test_hierarchy_reads_at_past_dates_and_a_future_move(admin):
    root = unit(admin, "KOM", unit_type="kommune")
    a = unit(admin, "A", root)
    b = unit(admin, "B", root)
    c = unit(admin, "C", a, valid_from="2025-01-01")
    move = copenhagen_today() + timedelta(days=30)
    ok(admin.patch(f"{BASE}/units/{c}", json={"parent": b, "valid_from": move.isoformat()}))
    later = (move + timedelta(days=1)).isoformat()
    assert keys(ok(admin.get(f"{BASE}/units/{a}/children"))) == ["C"]
    assert keys(ok(admin.get(f"{BASE}/units/{a}/children?valid_at={later}"))) == []
    assert keys(ok(admin.get(f"{BASE}/units/{b}/children?valid_at={later}"))) == ["C"]
    assert keys(ok(admin.get(f"{BASE}/units/{c}/ancestors"))) == ["A", "KOM"]
    assert keys(ok(admin.get(f"{BASE}/units/{c}/ancestors?valid_at={later}"))) == ["B", "KOM"]
    assert keys(ok(admin.get(f"{BASE}/units/{a}/subtree?valid_at=2024-06-01"))) == ["A"]
    assert keys(ok(admin.get(f"{BASE}/units/{a}/subtree"))) == ["A", "C"]
    # As registered before the move was, the future still had C under A.
    [created, _moved] = ok(admin.get(f"{BASE}/units/{c}/registrations"))
    before = created["registered_from"].replace("+00:00", "Z")
    assert keys(ok(admin.get(f"{BASE}/units/{c}/ancestors?valid_at={later}&registered_at={before}"))) == \
        ["A", "KOM"]
    # The whole hierarchy, two units a page, by UUID.
    seen, cursor = [], None
    while True:
        page = ok(admin.get(f"{BASE}/hierarchy?limit=2&valid_at={later}" + (f"&cursor={cursor}" if cursor else "")))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [u["uuid"] for u in seen] == sorted([root, a, b, c])
    assert {u["user_key"]: u["parent"] for u in seen} == {"KOM": None, "A": root, "B": root, "C": b}
    assert keys(ok(admin.get(f"{BASE}/hierarchy?valid_at=2024-06-01"))["items"]) != []
    assert "C" not in keys(ok(admin.get(f"{BASE}/hierarchy?valid_at=2024-06-01"))["items"])
    # Slices over a window: before C, C under A, C under B.
    window = ok(admin.get(f"{BASE}/hierarchy/slices?from=2024-06-01&to={later}"))
    assert [(s["valid_from"][:10], {u["user_key"]: u["parent"] for u in s["units"]}.get("C")) for s in window] == [
        ("2024-05-31", None), ("2024-12-31", a), (str(move - timedelta(days=1)), b)]


def test_hierarchy_rules_through_the_api(admin):
    root = unit(admin, "KOM", unit_type="kommune")
    a = unit(admin, "A", root)
    c = unit(admin, "C", a)
    cycle = admin.patch(f"{BASE}/units/{a}", json={"parent": c, "valid_from": "2025-01-01"})
    assert cycle.status_code == 422 and cycle.get_json()["code"] == "hierarchy_cycle"
    assert cycle.get_json()["errors"][0]["field"] == "parent"
    second = admin.post(f"{BASE}/units", json={"user_key": "X", "name": "X", "unit_type": "kommune"})
    assert second.status_code == 422 and second.get_json()["code"] == "second_root"
    still_parent = admin.delete(f"{BASE}/units/{a}")
    assert still_parent.status_code == 409 and still_parent.get_json()["code"] == "unit_has_children"
    assert keys(ok(admin.get(f"{BASE}/units/{c}/ancestors"))) == ["A", "KOM"]


def test_functions_of_a_unit_now_by_type_and_with_history(admin):
    root = unit(admin, "KOM", unit_type="kommune")
    anne, bo = user(admin, "anne", "Anne Jensen"), user(admin, "bo", "Bo Hansen")
    engagement = function(admin, "arbejder_i", root, anne, "Sagsbehandler")
    manager = function(admin, "leder", root, bo)
    ended = function(admin, "arbejder_i", root, bo, "Elev", valid_to="2025-01-01")
    now = ok(admin.get(f"{BASE}/units/{root}/functions"))
    assert {f["uuid"] for f in now} == {engagement, manager}
    [only] = ok(admin.get(f"{BASE}/units/{root}/functions?type=arbejder_i"))
    assert (only["uuid"], only["name"]) == (engagement, "Sagsbehandler")
    assert [(u["uuid"], u["user_key"], u["name"]) for u in only["users"]] == [(anne, "anne", "Anne Jensen")]
    past = ok(admin.get(f"{BASE}/units/{root}/functions?type=arbejder_i&valid_at=2024-06-01"))
    assert {f["uuid"] for f in past} == {engagement, ended}
    history = ok(admin.get(f"{BASE}/units/{root}/functions?history=true&type=arbejder_i"))
    by_id = {h["uuid"]: h for h in history}
    assert set(by_id) == {engagement, ended}
    [stop] = [f["valid_to"] for f in by_id[ended]["facts"] if f["field"] == "function_type"]
    assert stop.startswith("2024-12-31T23:00")
    assert [u["user_key"] for u in by_id[ended]["users"]] == ["bo"]


def test_units_by_kle_number_and_prefix(app, admin, seeded):
    operator = bearer(seeded.login("operator"))
    parents = {}
    for code in ("27", "27.35", "27.35.04", "28", "28.01"):
        parent = parents.get(code.rsplit(".", 1)[0]) if "." in code else None
        parents[code] = ok(app.test_client().post(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes",
                                                  headers=operator, json={"user_key": code, "title": code,
                                                                          "parent": parent}), 201)["uuid"]
    root = unit(admin, "KOM", unit_type="kommune", tasks=[{"code": "28.01", "aspect": "ansvarlig"}])
    unit(admin, "U1", root, tasks=[{"code": "27.35.04", "aspect": "ansvarlig"}])
    unit(admin, "U2", root, tasks=[{"code": "27", "aspect": "indsigt"}])
    ended = unit(admin, "U3", root, tasks=[{"code": "27.35", "aspect": "udfoerende"}])
    ok(admin.patch(f"{BASE}/units/{ended}", json={"tasks": [], "valid_from": "2025-01-01"}))

    def units(query):
        return sorted(keys(ok(admin.get(f"{BASE}/units?{query}"))["items"]))

    assert units("kle=27.*") == ["U1", "U2"]
    assert units("kle=27.*&valid_at=2024-06-01") == ["U1", "U2", "U3"]
    assert units("kle=27.35") == []
    assert units("kle=27.35.*") == ["U1"]
    assert units("kle=27.35.04") == ["U1"]
    assert units("kle=27.*&aspect=indsigt") == ["U2"]
    assert units("kle=*") == ["KOM", "U1", "U2"]
    assert units("") == ["KOM", "U1", "U2", "U3"]
    # One unit a page, by UUID, with the cursor: each once.
    seen, cursor = [], None
    while True:
        page = ok(admin.get(f"{BASE}/units?kle=*&limit=1" + (f"&cursor={cursor}" if cursor else "")))
        seen += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert [u["uuid"] for u in seen] == sorted(u["uuid"] for u in seen) and sorted(keys(seen)) == ["KOM", "U1", "U2"]
    [u1] = ok(admin.get(f"{BASE}/units?kle=27.35.*"))["items"]
    assert u1["tasks"] == [{"klasse": parents["27.35.04"], "code": "27.35.04", "aspect": "ansvarlig"}]
    bad = admin.get(f"{BASE}/units?kle=27.3")
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "kle"
    unknown = admin.post(f"{BASE}/units", json={"user_key": "U4", "name": "U4", "unit_type": "afdeling",
                                                "parent": root, "tasks": [{"code": "99.99", "aspect": "ansvarlig"}]})
    assert unknown.status_code == 422 and unknown.get_json()["errors"][0]["field"] == "tasks.code"


def test_engagements_and_nearest_managers(admin):
    root = unit(admin, "KOM", unit_type="kommune")
    a = unit(admin, "A", root)
    a1 = unit(admin, "A1", a)
    boss, lead, me = user(admin, "boss", "Direktør"), user(admin, "lead", "Leder"), user(admin, "me", "Medarbejder")
    function(admin, "leder", root, boss)
    function(admin, "leder", a1, lead, valid_from="2025-01-01")
    job = function(admin, "arbejder_i", a1, me, "Konsulent")
    other = function(admin, "arbejder_i", a, me, "Projektleder", valid_to="2026-01-01")
    ok(admin.patch(f"{BASE}/functions/{job}", json={"name": "Seniorkonsulent", "valid_from": "2025-06-01"}))

    everything = {e["uuid"]: e for e in ok(admin.get(f"{BASE}/users/{me}/engagements"))}
    assert set(everything) == {job, other}
    assert [(p["valid_from"][:10], p["valid_to"] and p["valid_to"][:10], p["name"], p["unit"]["user_key"])
            for p in everything[job]["periods"]] == [
        ("2023-12-31", "2025-05-31", "Konsulent", "A1"), ("2025-05-31", None, "Seniorkonsulent", "A1")]
    assert [e["uuid"] for e in ok(admin.get(f"{BASE}/users/{me}/engagements?valid_at=2026-06-01"))] == [job]

    def nearest(at):
        return {(m["unit"]["user_key"], m["manager_unit"]["user_key"], tuple(x["user_key"] for x in m["managers"]))
                for m in ok(admin.get(f"{BASE}/users/{me}/managers?valid_at={at}"))}

    assert nearest("2024-06-01") == {("A1", "KOM", ("boss",)), ("A", "KOM", ("boss",))}
    assert nearest("2025-06-01") == {("A1", "A1", ("lead",)), ("A", "KOM", ("boss",))}
    # A manager is never their own manager: the lead's nearest manager is above A1.
    function(admin, "arbejder_i", a1, lead, "Leder")
    [mine] = ok(admin.get(f"{BASE}/users/{lead}/managers?valid_at=2025-06-01"))
    assert (mine["manager_unit"]["user_key"], [m["name"] for m in mine["managers"]]) == ("KOM", ["Direktør"])


def test_validation_errors_name_the_field_and_the_rule(admin, seeded):
    root = unit(admin, "KOM", unit_type="kommune")

    def fields_of(r):
        assert r.status_code == 422, r.get_json()
        return {e["field"] for e in r.get_json()["errors"]}

    assert fields_of(admin.post(f"{BASE}/units", json={"user_key": "A", "unit_type": "afdeling"})) == {"name"}
    assert fields_of(admin.post(f"{BASE}/units", json={"user_key": "A", "name": "A", "unit_type": "planet",
                                                       "parent": root})) == {"unit_type"}
    assert fields_of(admin.post(f"{BASE}/units", json={"user_key": "A", "name": "A", "unit_type": "afdeling",
                                                       "parent": str(uuid.uuid4())})) == {"parent"}
    assert fields_of(admin.post(f"{BASE}/units", json={"user_key": "A", "name": "A", "unit_type": "afdeling",
                                                       "parent": root, "valid_from": "2025-02-01",
                                                       "valid_to": "2025-01-01"})) == {"valid_to"}
    assert fields_of(admin.post(f"{BASE}/units", json={
        "user_key": "A", "name": "A", "unit_type": "afdeling", "parent": root,
        "addresses": [{"type": "fax", "value": "1"}]})) == {"addresses.type"}
    assert fields_of(admin.post(f"{BASE}/persons", json={"name": "X", "cpr": "12345"})) == {"cpr"}
    assert fields_of(admin.post(f"{BASE}/functions", json={"function_type": "arbejder_i",
                                                           "users": [str(uuid.uuid4())]})) == {"users"}
    assert fields_of(admin.get(f"{BASE}/hierarchy?limit=5001")) == {"limit"}
    assert admin.get(f"{BASE}/hierarchy?cursor=bm9wZQ").status_code == 400
    assert fields_of(admin.get(f"{BASE}/units?aspect=ansvarlig")) == {"aspect"}
    assert fields_of(admin.get(f"{BASE}/hierarchy/slices?from=2025-02-01&to=2025-01-01")) == {"to"}
    bad_etag = admin.patch(f"{BASE}/units/{root}", headers={"If-Match": "abc"}, json={"name": "x"})
    assert bad_etag.status_code == 400 and bad_etag.get_json()["errors"][0]["field"] == "If-Match"
    operator = bearer(seeded.login("operator"))
    no_scope = admin.get(f"{BASE}/hierarchy", headers=operator)
    assert no_scope.status_code == 422 and no_scope.get_json()["errors"][0]["field"] == "municipality"


def test_another_municipality_sees_nothing_and_operators_name_the_municipality(admin, seeded):
    root = unit(admin, "KOM", unit_type="kommune")
    fred = user(admin, "fred", "Fred")
    other = bearer(seeded.login("admin101"))
    for path in (f"/units/{root}", f"/units/{root}/children", f"/units/{root}/functions", f"/units/{root}/facts",
                 f"/users/{fred}", f"/users/{fred}/engagements", f"/users/{fred}/managers"):
        r = admin.get(BASE + path, headers=other)
        assert r.status_code == 404 and r.get_json()["code"] == "not_found", path
    assert admin.patch(f"{BASE}/units/{root}", headers=other, json={"name": "Kapret"}).status_code == 404
    assert admin.delete(f"{BASE}/units/{root}", headers=other).status_code == 404
    taken = admin.put(f"{BASE}/units/{root}", headers=other,
                      json={"user_key": "KOM", "name": "Kapret", "unit_type": "kommune"})
    assert taken.status_code == 409
    assert ok(admin.get(f"{BASE}/hierarchy", headers=other))["items"] == []
    assert admin.get(f"{BASE}/hierarchy?municipality=751", headers=other).status_code == 403
    assert ok(admin.get(f"{BASE}/units/{root}"))["name"] == "Enhed KOM"
    operator = bearer(seeded.login("operator"))
    assert keys(ok(admin.get(f"{BASE}/hierarchy?municipality=751", headers=operator))["items"]) == ["KOM"]
    assert admin.get(f"{BASE}/units/{root}?municipality=101", headers=operator).status_code == 404
    body = {"user_key": "KOM101", "name": "Kommune 101", "unit_type": "kommune"}
    unscoped = admin.post(f"{BASE}/units", headers=operator, json=body)
    assert unscoped.status_code == 422 and unscoped.get_json()["errors"][0]["field"] == "municipality"
    ok(admin.post(f"{BASE}/units?municipality=101", headers=operator, json=body), 201)
    assert keys(ok(admin.get(f"{BASE}/hierarchy", headers=other))["items"]) == ["KOM101"]
    assert keys(ok(admin.get(f"{BASE}/hierarchy"))["items"]) == ["KOM"]


def test_a_system_with_the_edit_role_writes_and_reads(app, seeded):
    seeded.agreement("a1", "organisation", 751, roles=("read", "edit"))
    seeded.agreement("b1", "organisation", 751, roles=("read",))
    writer = bearer(seeded.token("a1", "organisation", 751))
    reader = bearer(seeded.token("b1", "organisation", 751))
    client = app.test_client()
    created = client.post(f"{BASE}/units", headers=writer,
                          json={"user_key": "KOM", "name": "Kommunen", "unit_type": "kommune"})
    assert created.status_code == 201
    [reg] = ok(client.get(f"{BASE}/units/{created.get_json()['uuid']}/registrations", headers=reader))
    assert reg["actor"] == f"system:{seeded.ids['a1']}"
    assert client.post(f"{BASE}/units", headers=reader, json={"user_key": "X", "name": "X",
                                                              "unit_type": "afdeling"}).status_code == 403
