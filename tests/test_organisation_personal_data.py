"""Personal data in Organisation answers (organisation/personal.py), table-driven.

Every GET route under /api/v1/organisation, taken from the URL map (so a route
added later is covered without editing this file), is called by callers with
and without `see_cpr` / `see_name`: systems by their agreement, systems acting
for a user whose privileges do or do not carry the flags, and a municipality
admin.  No CPR number or person name may appear in an answer the caller may
not see it in; every answer that shows one is access-logged, once, with the
persons it shows; an answer that shows none is not logged.
"""

import re
import uuid

import pytest

from authz.policy import declared_routes
from tests.world import bearer, standard_world

BASE = "/api/v1/organisation"
BOSS = {"name": "Hemmelig Hansen", "cpr": "0101801234"}
WORKER = {"name": "Vera Skjultesen", "cpr": "0202901234"}
USERS = {"blind": str(uuid.uuid4()), "full": str(uuid.uuid4()), "names": str(uuid.uuid4())}

# Query parameters a route needs to answer with data (the rest answer with none).
EXTRA_QUERY = {
    f"{BASE}/hierarchy/slices": "from=2024-01-01&to=2030-01-01",
    f"{BASE}/search": "kind=user",
}
# The routes that show names (and, for persons, CPR numbers) to a caller who may see them.
SHOWS_PERSONAL_DATA = {
    f"{BASE}/persons/<uuid:person_uuid>", f"{BASE}/persons/<uuid:person_uuid>/facts",
    f"{BASE}/users/<uuid:user_uuid>", f"{BASE}/users/<uuid:user_uuid>/facts",
    f"{BASE}/units/<uuid:unit_uuid>/functions", f"{BASE}/users/<uuid:user_uuid>/managers",
}


def _ok(response, status=201):
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture
def org(app, deliver):
    """751's organisation: a root led by BOSS, a unit where WORKER is employed; and the callers."""
    w = standard_world(app)
    assert app.test_cli_runner().invoke(args=["klassifikation", "seed"]).exit_code == 0
    client = app.test_client()
    admin = bearer(w.login("admin751"))

    def post(path, body):
        return _ok(client.post(BASE + path, headers=admin, json={"valid_from": "2024-01-01", **body}))["uuid"]

    root = post("/units", {"user_key": "KOM", "name": "Kommunen", "unit_type": "kommune"})
    unit = post("/units", {"user_key": "JOB", "name": "Jobcenter", "unit_type": "center", "parent": root})
    people = {}
    for key, who in (("boss", BOSS), ("worker", WORKER)):
        person = post("/persons", who)
        user = post("/users", {"user_key": key, "name": who["name"], "person": person})
        people[key] = {"person": person, "user": user, **who}
    post("/functions", {"function_type": "leder", "units": [root], "users": [people["boss"]["user"]]})
    engagement = post("/functions", {"function_type": "arbejder_i", "units": [unit],
                                     "users": [people["worker"]["user"]], "name": "Sagsbehandler"})
    it_system = post("/it-systems", {"user_key": "OPUS", "name": "OPUS"})
    deliver()
    values = {"unit_uuid": unit, "user_uuid": people["worker"]["user"], "person_uuid": people["worker"]["person"],
              "function_uuid": engagement, "it_system_uuid": it_system}
    return w, values, people, _callers(w, client, admin)


def _callers(w, client, admin):
    """name -> (headers, may see CPR, may see names)."""
    w.system("c1", "Vendor A")
    w.agreement("a1", "organisation", 751, constraints={})
    w.agreement("b1", "organisation", 751, constraints={"see_name": True})
    w.agreement("c1", "organisation", 751, constraints={"see_cpr": True, "see_name": True})
    role = _ok(client.post(f"/api/v1/systems/{w.ids['c1']}/user-system-roles", headers=bearer(w.login("vendora")),
                           json={"key": "urn:dk:test:org-laes", "name": "Læs organisation"}))
    for user, constraints in (("blind", {"kle": ["27.*"]}), ("full", {"see_cpr": True, "see_name": True}),
                              ("names", {"see_name": True, "see_cpr": False})):
        job = _ok(client.post("/api/v1/job-function-roles", headers=admin, json={
            "name": f"Rolle {user}", "constraints": constraints, "user_system_role_ids": [role["id"]]}))
        _ok(client.post(f"/api/v1/job-function-roles/{job['id']}/assignments", headers=admin,
                        json={"user_uuid": USERS[user]}))

    def token(system, **extra):
        return bearer(w.token(system, "organisation", 751, **extra))

    return {
        "system without flags": (token("a1"), False, False),
        "system with see_name": (token("b1"), False, True),
        "system with both": (token("c1"), True, True),
        "system with both, for a user without them": (token("c1", user=USERS["blind"]), False, False),
        "system with both, for a user with both": (token("c1", user=USERS["full"]), True, True),
        "system with both, for a user with see_name": (token("c1", user=USERS["names"]), False, True),
        "municipality admin": (admin, True, True),
    }


def _url(rule: str, values: dict) -> str:
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), values["unit_uuid"]), rule)
    return url + (f"?{EXTRA_QUERY[rule]}" if rule in EXTRA_QUERY else "")


def _log(w, request_id: str) -> list[dict]:
    return w.sql("SELECT operation, persons FROM access_log WHERE request_id = %(r)s", {"r": request_id})


def test_no_route_shows_personal_data_to_a_caller_who_may_not_see_it_and_every_showing_is_logged(app, org):
    w, values, people, callers = org
    client = app.test_client()
    routes = sorted(r for m, r, _req in declared_routes(app) if m == "GET" and r.startswith(BASE + "/"))
    assert len(routes) >= 20
    shown_to_the_allowed = set()
    for caller, (headers, see_cpr, see_name) in callers.items():
        for rule in routes:
            url = _url(rule, values)
            r = client.get(url, headers=headers)
            assert r.status_code < 500, f"{caller}: GET {url} answered {r.status_code}"
            body = r.get_data(as_text=True)
            cprs = [p for p in people.values() if p["cpr"] in body]
            names = [p for p in people.values() if p["name"] in body]
            assert see_cpr or not cprs, f"{caller}: GET {url} shows a CPR number: {body[:300]}"
            assert see_name or not names, f"{caller}: GET {url} shows a name: {body[:300]}"
            entries = _log(w, r.headers["X-Request-ID"])
            if not cprs and not names:
                assert entries == [], f"{caller}: GET {url} logged {entries} but shows no personal data"
                continue
            if see_cpr and see_name:
                shown_to_the_allowed.add(rule)
            assert len(entries) == 1, f"{caller}: GET {url} shows personal data; logged {entries}"
            [entry] = entries
            assert entry["operation"].startswith("organisation"), entry
            for p in {id(p): p for p in cprs + names}.values():
                urns = {f"urn:oio:cpr-nr:{p['cpr']}", f"urn:uuid:{p['person']}", f"urn:uuid:{p['user']}"}
                assert urns & set(entry["persons"]), f"{caller}: GET {url} does not log {p['name']}: {entry}"
            for p in cprs:
                assert f"urn:oio:cpr-nr:{p['cpr']}" in entry["persons"], entry
    assert SHOWS_PERSONAL_DATA <= shown_to_the_allowed, SHOWS_PERSONAL_DATA - shown_to_the_allowed


def test_left_out_fields_are_null_and_named(app, org):
    _w, values, people, callers = org
    client = app.test_client()
    headers = callers["system with see_name"][0]
    person = client.get(f"{BASE}/persons/{values['person_uuid']}", headers=headers).get_json()
    assert (person["name"], person["cpr"], person["omitted"]) == (WORKER["name"], None, ["cpr"])
    blind = callers["system with both, for a user without them"][0]
    person = client.get(f"{BASE}/persons/{values['person_uuid']}", headers=blind).get_json()
    assert (person["name"], person["cpr"], person["omitted"]) == (None, None, ["cpr", "name"])
    user = client.get(f"{BASE}/users/{values['user_uuid']}", headers=blind).get_json()
    assert (user["user_key"], user["name"], user["omitted"]) == ("worker", None, ["name"])
    facts = client.get(f"{BASE}/persons/{values['person_uuid']}/facts", headers=blind).get_json()
    assert {f["field"]: (f["value"], f["omitted"]) for f in facts if f["field"] in ("cpr", "name")} == {
        "cpr": (None, True), "name": (None, True)}
    [function] = client.get(f"{BASE}/units/{values['unit_uuid']}/functions", headers=blind).get_json()
    assert [(u["user_key"], u["name"], u["omitted"]) for u in function["users"]] == [("worker", None, ["name"])]
    [manager] = client.get(f"{BASE}/users/{values['user_uuid']}/managers", headers=blind).get_json()
    assert [(u["uuid"], u["name"]) for u in manager["managers"]] == [(people["boss"]["user"], None)]


def test_the_log_names_the_operation_and_each_person_once(app, org):
    w, values, people, callers = org
    client = app.test_client()
    r = client.get(f"{BASE}/persons/{values['person_uuid']}", headers=callers["system with both"][0])
    assert _log(w, r.headers["X-Request-ID"]) == [
        {"operation": "organisation.persons.read", "persons": [f"urn:oio:cpr-nr:{WORKER['cpr']}"]}]
    r = client.get(f"{BASE}/users/{values['user_uuid']}/managers", headers=callers["system with see_name"][0])
    assert _log(w, r.headers["X-Request-ID"]) == [
        {"operation": "organisation.users.managers", "persons": [f"urn:uuid:{people['boss']['person']}"]}]
