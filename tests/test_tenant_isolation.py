"""Tenant isolation: every protected route, called by callers of another
municipality (and another vendor), with the ids of municipality 751's objects,
leaks nothing and changes nothing.

The table is the URL map itself, so a route added later is covered without
editing this file: a GET may answer 200 only with none of 751's markers in
it; a write naming 751's objects must be refused (403/404, or 422 when the
body is refused before anything is looked up).
"""

import re

import pytest

from authz import usage
from classification.model import KLE_EMNEPLAN
from tests.world import bearer, standard_world

USER = "0f5b7a0e-9c1d-4a57-8e0a-3b2c1d4e5f60"  # a case worker of Aarhus
SECRET_NAME = "Sagsbehandler-751-hemmelig"
SECRET_CPR = "0101751234"

# Not tenant data: national reference data and the caller's own account.
NOT_TENANT_SCOPED = {
    ("GET", "/api/v1/catalogue"), ("GET", "/api/v1/municipalities"), ("GET", "/api/v1/municipalities/<int:code>"),
    ("POST", "/api/v1/municipalities/validate"), ("GET", "/api/v1/me"), ("GET", "/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"), ("POST", "/api/v1/auth/logout"),
    # Published user-system roles are the vendor's catalogue, readable by every municipality admin.
    ("GET", "/api/v1/systems/<uuid:system_id>/user-system-roles"),
}


@pytest.fixture
def victim(app):
    """Municipality 751 with an agreement, a request, a job-function role and an
    assignment, an access-log entry and usage, a local class and a sortiment, and an
    organisation (units, a person, a user, a function, an IT system); returns
    (world, path values, markers)."""
    w = standard_world(app)
    w.agreement("a1", "adgangsstyring", 751)
    w.agreement("b1", "adgangsstyring", 101)
    client = app.test_client()
    vendora, admin751 = bearer(w.login("vendora")), bearer(w.login("admin751"))
    request = client.post("/api/v1/agreements", headers=vendora, json={
        "system_id": w.ids["a1"], "service": "sdi", "municipality_code": 751, "roles": ["read"]}).get_json()
    role = client.post(f"/api/v1/systems/{w.ids['a1']}/user-system-roles", headers=vendora,
                       json={"key": "urn:dk:test:sag-laes", "name": "Læs"}).get_json()
    job = client.post("/api/v1/job-function-roles", headers=admin751, json={
        "name": SECRET_NAME, "constraints": {"kle": ["27.*"]}, "user_system_role_ids": [role["id"]]}).get_json()
    assignment = client.post(f"/api/v1/job-function-roles/{job['id']}/assignments", headers=admin751,
                             json={"user_uuid": USER}).get_json()
    profile = client.get(f"/api/v1/users/{USER}/privileges?system_id={w.ids['a1']}", headers=admin751)
    assert profile.status_code == 200 and profile.get_json()["privileges"]  # also writes the access log
    a1_token = w.token("a1", "registry", 751)
    assert client.get("/api/v1/municipalities/751", headers=bearer(a1_token)).status_code == 200
    usage.flush(app)
    [notification] = [n for n in client.get("/api/v1/notifications", headers=admin751).get_json()
                      if n["agreement_id"] == request["id"]]
    local_class = client.post(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes", headers=admin751,
                              json={"user_key": "L751", "title": SECRET_NAME}).get_json()["uuid"]
    sortiment = client.post("/api/v1/klassifikation/sortiments", headers=admin751, json={
        "name": SECRET_NAME, "system_id": w.ids["a1"], "classes": [local_class]}).get_json()["id"]
    [admin_token] = client.get("/api/v1/me/tokens", headers=admin751).get_json()
    [agreement] = w.sql("SELECT id FROM agreement WHERE system_id = %(s)s AND service = 'registry'",
                        {"s": w.ids["a1"]})
    org = _organisation(app, client, admin751)
    org.update(_indexes(app, w, org["unit_uuid"]))
    values = {
        "agreement_id": request["id"], "role_id": job["id"], "assignment_id": assignment["id"],
        "user_uuid": USER, "system_id": w.ids["a1"], "vendor_id": w.ids["Vendor A"],
        "notification_id": str(notification["id"]), "token_id": admin_token["id"], "code": "751",
        "uuid": local_class, "facet": KLE_EMNEPLAN, "sortiment_id": sortiment, "dead_letter_id": "1",
        "message_uuid": "7d7c1d55-7a53-4e3e-9d46-5d0c3f0c0751", "job_id": "5b1e0a52-0c44-4d5e-8f0e-2f6a0b2c0751",
        **org,
    }
    markers = [request["id"], str(agreement["id"]), job["id"], assignment["id"], USER, SECRET_NAME, sortiment,
               f"urn:uuid:{USER}", w.ids["a1"], *org.values(), SECRET_CPR]
    return w, values, markers


def _organisation(app, client, admin751) -> dict[str, str]:
    """751's organisation: a root and a unit, a person and the user USER employed in the unit, an IT
    system; the path values of the Organisation routes."""
    assert app.test_cli_runner().invoke(args=["klassifikation", "seed"]).exit_code == 0

    def write(method, path, body):
        r = client.open(f"/api/v1/organisation{path}", method=method, headers=admin751,
                        json={"valid_from": "2024-01-01", **body})
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()["uuid"]

    root = write("POST", "/units", {"user_key": "KOM751", "name": SECRET_NAME, "unit_type": "kommune"})
    unit = write("POST", "/units", {"user_key": "JOB751", "name": SECRET_NAME, "unit_type": "center",
                                    "parent": root})
    person = write("POST", "/persons", {"name": SECRET_NAME, "cpr": SECRET_CPR})
    write("PUT", f"/users/{USER}", {"user_key": "sb751", "name": SECRET_NAME, "person": person})
    function = write("POST", "/functions", {"function_type": "arbejder_i", "units": [unit], "users": [USER],
                                            "name": SECRET_NAME})
    it_system = write("POST", "/it-systems", {"user_key": "IT751", "name": SECRET_NAME})
    return {"unit_uuid": unit, "root_uuid": root, "person_uuid": person, "function_uuid": function,
            "it_system_uuid": it_system}


def _indexes(app, w, unit: str) -> dict[str, str]:
    """A case of 751 in the case index and a grant in the benefit index, sent by its system fag751."""
    from tests.test_organisation_search import KLE_FILE

    assert app.test_cli_runner().invoke(args=["klassifikation", "import-kle", str(KLE_FILE)]).exit_code == 0
    client, ids = app.test_client(), {}
    w.system("fag751", "Vendor A")
    party = [{"urn": f"urn:oio:cpr-nr:{SECRET_CPR}", "role": "primaer", "name": SECRET_NAME}]
    for service, plural, name, record in (
        ("sdi", "cases", "record_uuid", {
            "uuid": "7d7c1d55-7a53-4e3e-9d46-5d0c3f0a0751", "case_number": "751-1", "title": SECRET_NAME,
            "responsible_unit": unit, "primary_class": "27.01.02", "parties": party,
            "progress": [{"state": "Opstaaet", "from": "2026-02-01T08:00:00Z", "to": None}]}),
        ("yi", "grants", "grant_uuid", {
            "uuid": "7d7c1d55-7a53-4e3e-9d46-5d0c3f0b0751", "user_key": SECRET_NAME, "responsible_unit": unit,
            "parties": [{**party[0], "role": "modtager"}], "benefits": [
                {"id": "1", "name": "Hjælp", "start": "2026-01-01", "end": None, "benefit_class": "x"}]})):
        w.agreement("fag751", service, 751, roles=("read", "edit"))
        token = bearer(w.token("fag751", service, 751))
        r = client.put(f"/api/v1/{service}/{plural}/{record['uuid']}", headers=token, json={
            **record, "changed_at": "2026-03-01T10:00:00Z", "sensitivity": "IKKE_FORTROLIGE_DATA",
            "master_system": w.ids["fag751"]})
        assert r.status_code == 200 and r.get_json()["status"] == "accepted", r.get_json()
        ids[name] = record["uuid"]
    w.agreement("fag751", "distribution", 751)
    r = client.post("/api/v1/distribution/subscriptions", headers=bearer(w.token("fag751", "distribution", 751)),
                    json={"name": SECRET_NAME, "topics": ["organisation", "indexes"]})
    assert r.status_code == 201, r.get_json()
    ids["subscription_id"] = r.get_json()["id"]
    return ids


def _callers(w):
    """Callers who must see nothing of 751: another municipality's admin and systems, another vendor."""
    return {
        "admin of 101": bearer(w.login("admin101")),
        "admin of vendor B": bearer(w.login("vendorb")),
        "system b1 for 101 (registry)": bearer(w.token("b1", "registry", 101)),
        "system b1 for 101 (adgangsstyring)": bearer(w.token("b1", "adgangsstyring", 101)),
        **{f"system b1 for 101 ({s})": bearer(_index_token(w, s)) for s in ("sdi", "yi", "distribution")},
    }


def _index_token(w, service: str) -> str:
    w.agreement("b1", service, 101, roles=("read", "edit"), constraints={"see_cpr": True, "see_name": True})
    return w.token("b1", service, 101)


def _url(rule: str, values: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule)


def test_no_route_leaks_or_changes_another_municipalitys_data(app, victim):
    from authz.policy import declared_routes

    w, values, markers = victim
    client = app.test_client()
    # Admin web pages (docs/admin.md) take no bearer token and hold no data rules of their own: they call
    # the API routes checked here; tests/test_admin_security.py checks their tenancy through a session.
    routes = [(m, r) for m, r, req in declared_routes(app)
              if req.kind not in ("public", "admin_page") and (m, r) not in NOT_TENANT_SCOPED]
    assert len(routes) >= 25
    checked = []
    callers = _callers(w)
    for caller, headers in callers.items():
        for method, rule in routes:
            url = _url(rule, values)
            r = client.open(url, method=method, json={}, headers=headers)
            # Echoing what the caller itself sent (the URL's ids, a problem's `instance`) is no leak.
            body = r.get_data(as_text=True)
            leaked = [m for m in markers if m in body and m not in url]
            assert not leaked, f"{caller}: {method} {url} leaked {leaked}: {body[:300]}"
            if method != "GET" and "<" in rule:
                assert r.status_code in (403, 404, 422), f"{caller}: {method} {url} answered {r.status_code}"
            checked.append((caller, method, rule, r.status_code))
    assert len(checked) == len(callers) * len(routes)

    # Nothing of 751 changed.
    admin751 = bearer(w.login("admin751"))
    assert client.get(f"/api/v1/agreements/{values['agreement_id']}", headers=admin751).get_json()["state"] == \
        "requested"
    assert client.get(f"/api/v1/job-function-roles/{values['role_id']}", headers=admin751).status_code == 200
    [assignment] = client.get(f"/api/v1/job-function-roles/{values['role_id']}/assignments",
                              headers=admin751).get_json()
    assert assignment["id"] == values["assignment_id"]
    assert client.get("/api/v1/me", headers=bearer(w.token("a1", "registry", 751))).status_code == 200


def test_reads_of_personal_data_are_logged_for_the_right_municipality_only(app, victim):
    w, _values, _markers = victim
    client = app.test_client()
    mine = client.get(f"/api/v1/access-log?person=urn:uuid:{USER}", headers=bearer(w.login("admin751"))).get_json()
    assert [e["operation"] for e in mine["items"]] == ["privileges.read"]
    theirs = client.get(f"/api/v1/access-log?person=urn:uuid:{USER}",
                        headers=bearer(w.login("admin101"))).get_json()
    assert theirs["items"] == []
