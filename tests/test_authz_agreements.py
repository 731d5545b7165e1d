"""The agreement flow: a vendor requests, the municipality approves, the system
gets a token; every state change is kept with who and when."""

from tests.world import bearer


def test_request_approve_token_terminate(app, world):
    client = app.test_client()
    vendor, admin, other_admin = world.login("vendora"), world.login("admin101"), world.login("admin751")
    body = {"system_id": world.ids["a1"], "service": "sdi", "municipality_code": 101, "roles": ["read", "edit"],
            "constraints": {"kle": ["27.*"], "sensitivity": "FORTROLIGE_PERSONOPLYSNINGER", "see_cpr": True}}
    r = client.post("/api/v1/agreements", json=body, headers=bearer(vendor))
    assert r.status_code == 201, r.get_json()
    agreement = r.get_json()
    assert agreement["state"] == "requested" and agreement["constraints"]["kle"] == ["27.*"]
    assert world.token_response("a1", "sdi", 101).status_code == 403  # not yet approved

    # The municipality sees the pending request and a notification; another municipality does not.
    pending = client.get("/api/v1/agreements?state=requested", headers=bearer(admin)).get_json()
    assert [a["id"] for a in pending] == [agreement["id"]]
    assert client.get("/api/v1/agreements?state=requested", headers=bearer(other_admin)).get_json() == []
    assert client.get(f"/api/v1/agreements/{agreement['id']}", headers=bearer(other_admin)).status_code == 404
    notes = client.get("/api/v1/notifications", headers=bearer(admin)).get_json()
    assert notes[0]["kind"] == "agreement_requested" and notes[0]["agreement_id"] == agreement["id"]

    # The vendor cannot approve its own request; the municipality can.
    assert client.post(f"/api/v1/agreements/{agreement['id']}/approve", json={},
                       headers=bearer(vendor)).status_code == 403
    r = client.post(f"/api/v1/agreements/{agreement['id']}/approve", json={"note": "ok"}, headers=bearer(admin))
    assert r.status_code == 200 and r.get_json()["state"] == "approved"
    assert client.post(f"/api/v1/agreements/{agreement['id']}/approve", json={},
                       headers=bearer(admin)).status_code == 409

    token = world.token("a1", "sdi", 101)
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["roles"] == ["edit", "read"] and me["municipality_code"] == 101
    vendor_notes = client.get("/api/v1/notifications", headers=bearer(vendor)).get_json()
    assert vendor_notes[0]["kind"] == "agreement_approved"

    r = client.post(f"/api/v1/agreements/{agreement['id']}/terminate", json={"note": "contract ended"},
                    headers=bearer(vendor))
    assert r.status_code == 200
    history = r.get_json()["events"]
    assert [e["state"] for e in history] == ["requested", "approved", "terminated"]
    assert history[1]["actor_id"] == world.ids["admin101"] and history[1]["note"] == "ok"
    assert all(e["at"] for e in history)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 403


def test_reject(app, world):
    client = app.test_client()
    r = client.post("/api/v1/agreements", headers=bearer(world.login("vendorb")),
                    json={"system_id": world.ids["b1"], "service": "yi", "municipality_code": 101, "roles": ["read"]})
    agreement_id = r.get_json()["id"]
    r = client.post(f"/api/v1/agreements/{agreement_id}/reject", json={"note": "not needed"},
                    headers=bearer(world.login("admin101")))
    assert r.get_json()["state"] == "rejected"
    assert world.token_response("b1", "yi", 101).status_code == 403


def test_a_vendor_cannot_request_for_another_vendors_system(app, world):
    r = app.test_client().post("/api/v1/agreements", headers=bearer(world.login("vendora")),
                               json={"system_id": world.ids["b1"], "service": "sdi", "municipality_code": 101,
                                     "roles": ["read"]})
    assert r.status_code == 404


def test_duplicate_live_request_is_a_409_naming_the_field(app, world):
    body = {"system_id": world.ids["a1"], "service": "registry", "municipality_code": 751, "roles": ["read"]}
    r = app.test_client().post("/api/v1/agreements", json=body, headers=bearer(world.login("vendora")))
    assert r.status_code == 409 and r.get_json()["code"] == "agreement_exists"


def test_agreement_validation_names_fields(app, world):
    body = {"system_id": world.ids["a1"], "service": "nope", "municipality_code": 751, "roles": ["admin"],
            "constraints": {"kle": ["27.x"], "sensitivity": "SECRET", "colour": "red"}}
    r = app.test_client().post("/api/v1/agreements", json=body, headers=bearer(world.login("vendora")))
    assert r.status_code == 422
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert {"service", "roles.0", "constraints.kle.0", "constraints.sensitivity", "constraints.colour"} <= fields


def test_vendor_registers_a_system_and_sees_its_secret_once(app, world):
    client = app.test_client()
    operator, vendor = world.login("operator"), world.login("vendora")
    r = client.post(f"/api/v1/vendors/{world.ids['Vendor A']}/systems", json={"name": "Sagssystem"},
                    headers=bearer(vendor))
    assert r.status_code == 201
    created = r.get_json()
    assert created["client_secret"] and created["client_id"].startswith("sys-")
    listed = client.get(f"/api/v1/vendors/{world.ids['Vendor A']}/systems", headers=bearer(vendor)).get_json()
    assert all("client_secret" not in s for s in listed)
    assert client.get(f"/api/v1/vendors/{world.ids['Vendor A']}/systems",
                      headers=bearer(world.login("vendorb"))).status_code == 404
    assert client.post("/api/v1/vendors", json={"name": "Vendor C"}, headers=bearer(vendor)).status_code == 403
    assert client.post("/api/v1/vendors", json={"name": "Vendor C"}, headers=bearer(operator)).status_code == 201
    assert client.post("/api/v1/vendors", json={"name": "Vendor C"}, headers=bearer(operator)).status_code == 409
    # The secret works, then is replaced.
    world.secrets[created["client_id"]] = created["client_secret"]
    world.sql("INSERT INTO agreement (system_id, service, municipality_code, roles, state) "
              "VALUES (%(s)s, 'registry', 751, '{read}', 'approved')", {"s": created["id"]})
    assert world.token_response(created["client_id"], "registry", 751).status_code == 200
    r = client.post(f"/api/v1/systems/{created['id']}/secret", headers=bearer(vendor))
    assert r.status_code == 200
    assert world.token_response(created["client_id"], "registry", 751).status_code == 401
    world.secrets[created["client_id"]] = r.get_json()["client_secret"]
    assert world.token_response(created["client_id"], "registry", 751).status_code == 200
