"""Users' privileges through the public API: vendors publish user-system roles,
municipalities bundle them into job-function roles with data constraints and
assign those to users; a user's profile is read as JSON and as OIO BPP XML,
and a user-context token carries it."""

import base64
import uuid
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import jwt
import pytest

from authz import access_log
from authz.privileges import bpp_xml
from tests.world import CVR, bearer

READ_KEY = "urn:dk:kombit:bsr:sag-laes"
WRITE_KEY = "urn:dk:kombit:bsr:sag-skriv"
B1_KEY = "urn:dk:vendorb:b1:admin"
ORG_UNIT = "6d1f3a43-3b0e-4bd5-9f5b-0c1b1d2e3f40"
USER = "0f5b7a0e-9c1d-4a57-8e0a-3b2c1d4e5f60"
CONSTRAINTS = {"kle": ["27.*", "32.01.*"], "org_units": [{"uuid": ORG_UNIT, "subtree": True}],
               "sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"}
KLE_URI = "http://sts.kombit.dk/constraints/kle/1"
ORG_URI = "http://sts.kombit.dk/constraints/orgenhed/1"
SENSITIVITY_URI = "http://sts.kombit.dk/constraints/foelsomhed/1"
BPP_NS = "http://itst.dk/oiosaml/basic_privilege_profile"


class As:
    """Calls as one platform user (logged in once)."""

    def __init__(self, world, username):
        self.client = world.app.test_client()
        self.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login(username)}"

    def __getattr__(self, name):
        return getattr(self.client, name)


def publish(caller, system_id, key, name="A role", status=201):
    r = caller.post(f"/api/v1/systems/{system_id}/user-system-roles", json={"key": key, "name": name})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def fields_of(r):
    return [e["field"] for e in r.get_json().get("errors", [])]


@pytest.fixture
def scene(world):
    """Vendor A publishes two roles for a1, vendor B one for b1; Aarhus (751) bundles all
    three in "Sagsbehandler" and assigns it to USER for the first half of 2026."""
    s = SimpleNamespace()
    s.world, s.a1, s.b1 = world, world.ids["a1"], world.ids["b1"]
    s.vendora, s.vendorb = As(world, "vendora"), As(world, "vendorb")
    s.admin751, s.admin101, s.operator = As(world, "admin751"), As(world, "admin101"), As(world, "operator")
    s.read = publish(s.vendora, s.a1, READ_KEY, "Læs sager")
    s.write = publish(s.vendora, s.a1, WRITE_KEY, "Skriv sager")
    s.b1_role = publish(s.vendorb, s.b1, B1_KEY, "Administrator")
    r = s.admin751.post("/api/v1/job-function-roles", json={
        "name": "Sagsbehandler", "description": "Børn og unge", "constraints": CONSTRAINTS,
        "user_system_role_ids": [s.write["id"], s.read["id"], s.b1_role["id"]]})
    assert r.status_code == 201, r.get_json()
    s.role = r.get_json()
    r = s.admin751.post(f"/api/v1/job-function-roles/{s.role['id']}/assignments",
                        json={"user_uuid": USER, "valid_from": "2026-01-01", "valid_to": "2026-07-01"})
    assert r.status_code == 201, r.get_json()
    s.assignment = r.get_json()
    return s


def profile(caller, system_id=None, on=None, user=USER):
    query = "&".join(f"{k}={v}" for k, v in (("system_id", system_id), ("on", on)) if v)
    return caller.get(f"/api/v1/users/{user}/privileges" + (f"?{query}" if query else ""))


def expected(key, name, constraints=CONSTRAINTS, role="Sagsbehandler"):
    return {"role": key, "role_name": name, "job_function_role": role, "constraints": constraints}


# -- user-system roles -------------------------------------------------------------------------


def test_vendor_publishes_roles_that_municipality_admins_can_list(scene):
    assert scene.read["system_id"] == scene.a1 and scene.read["key"] == READ_KEY
    for caller in (scene.vendora, scene.admin751, scene.admin101, scene.operator):
        r = caller.get(f"/api/v1/systems/{scene.a1}/user-system-roles")
        assert r.status_code == 200
        assert [u["key"] for u in r.get_json()] == [READ_KEY, WRITE_KEY]
    assert scene.vendorb.get(f"/api/v1/systems/{scene.a1}/user-system-roles").status_code == 404
    assert scene.operator.get(f"/api/v1/systems/{uuid.uuid4()}/user-system-roles").status_code == 404


def test_only_the_systems_vendor_or_an_operator_publishes(scene):
    publish(scene.vendorb, scene.a1, "urn:dk:x:y", status=404)
    publish(scene.admin751, scene.a1, "urn:dk:x:y", status=403)
    publish(scene.operator, scene.a1, "urn:dk:x:y", status=201)


def test_role_keys_are_unique_per_system_and_must_be_urns(scene):
    r = scene.vendora.post(f"/api/v1/systems/{scene.a1}/user-system-roles", json={"key": READ_KEY, "name": "x"})
    assert r.status_code == 409 and r.get_json()["code"] == "user_system_role_exists"
    assert fields_of(r) == ["key"]
    publish(scene.vendorb, scene.b1, READ_KEY)  # another system may use the same key
    for bad in ("sag-laes", "urn:", "urn:dk", "urn:dk::x", "urn:dk:sag laes", "http://x/y", "urn:dk:" + "x" * 200):
        r = scene.vendora.post(f"/api/v1/systems/{scene.a1}/user-system-roles", json={"key": bad, "name": "x"})
        assert r.status_code == 422, bad
        assert fields_of(r) == ["key"]
    r = scene.vendora.post(f"/api/v1/systems/{scene.a1}/user-system-roles", json={"key": "urn:dk:a:b"})
    assert r.status_code == 422 and fields_of(r) == ["name"]


# -- job-function roles ------------------------------------------------------------------------


def test_job_function_role_bundles_roles_with_constraints(scene):
    role = scene.admin751.get(f"/api/v1/job-function-roles/{scene.role['id']}").get_json()
    assert role["municipality_code"] == 751 and role["name"] == "Sagsbehandler"
    assert role["constraints"] == CONSTRAINTS
    assert [u["key"] for u in role["user_system_roles"]] == [READ_KEY, WRITE_KEY, B1_KEY]
    assert [r["id"] for r in scene.admin751.get("/api/v1/job-function-roles").get_json()] == [role["id"]]
    assert scene.operator.get("/api/v1/job-function-roles?municipality_code=751").get_json()[0]["id"] == role["id"]
    assert scene.operator.get("/api/v1/job-function-roles?municipality_code=101").get_json() == []


def test_another_municipality_neither_sees_nor_changes_the_role(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}"
    body = {"name": "x", "constraints": {}, "user_system_role_ids": []}
    assert scene.admin101.get(url).status_code == 404
    assert scene.admin101.put(url, json=body).status_code == 404
    assert scene.admin101.delete(url).status_code == 404
    assert scene.admin101.get(url + "/assignments").status_code == 404
    assert scene.admin101.post(url + "/assignments", json={"user_uuid": USER}).status_code == 404
    assert scene.admin101.delete(f"/api/v1/role-assignments/{scene.assignment['id']}").status_code == 404
    assert scene.admin101.get("/api/v1/job-function-roles").get_json() == []
    assert scene.admin101.get("/api/v1/job-function-roles?municipality_code=751").status_code == 403
    assert scene.admin751.get(url).status_code == 200


def test_who_may_define_job_function_roles(scene):
    body = {"name": "Leder", "constraints": {}, "user_system_role_ids": [scene.read["id"]]}
    r = scene.vendora.post("/api/v1/job-function-roles", json=body)
    assert r.status_code == 403
    assert scene.vendora.get("/api/v1/job-function-roles").status_code == 403
    assert scene.admin751.post("/api/v1/job-function-roles", json={**body, "municipality_code": 101}).status_code == 403
    r = scene.operator.post("/api/v1/job-function-roles", json=body)
    assert r.status_code == 422 and fields_of(r) == ["municipality_code"]
    r = scene.operator.post("/api/v1/job-function-roles", json={**body, "municipality_code": 101})
    assert r.status_code == 201 and r.get_json()["municipality_code"] == 101
    r = scene.operator.post("/api/v1/job-function-roles", json={**body, "name": "Other", "municipality_code": 998})
    assert r.status_code == 422 and fields_of(r) == ["municipality_code"]


def test_job_function_role_validation_names_fields(scene):
    post = scene.admin751.post
    r = post("/api/v1/job-function-roles", json={"name": "Sagsbehandler", "constraints": {},
                                                 "user_system_role_ids": []})
    assert r.status_code == 409 and r.get_json()["code"] == "job_function_role_exists" and fields_of(r) == ["name"]
    r = post("/api/v1/job-function-roles", json={"name": "Ny"})
    assert r.status_code == 422 and sorted(fields_of(r)) == ["constraints", "user_system_role_ids"]
    r = post("/api/v1/job-function-roles", json={"name": "Ny", "user_system_role_ids": [],
                                                 "constraints": {"kle": ["27.*", "abc"], "sensitivity": "HEMMELIG",
                                                                 "org_units": [{"subtree": True}]}})
    assert r.status_code == 422
    assert sorted(fields_of(r)) == ["constraints.kle.1", "constraints.org_units.0.uuid", "constraints.sensitivity"]
    r = post("/api/v1/job-function-roles", json={"name": "Ny", "constraints": {},
                                                 "user_system_role_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_user_system_role"
    assert fields_of(r) == ["user_system_role_ids"]


def test_put_replaces_the_role_and_the_profile_follows(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}"
    r = scene.admin751.put(url, json={"name": "Sagsbehandler", "constraints": {"kle": ["27.*"]},
                                      "user_system_role_ids": [scene.read["id"]]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["constraints"] == {"kle": ["27.*"]} and r.get_json()["updated_at"] > scene.role["updated_at"]
    body = profile(scene.admin751, scene.a1, "2026-03-01").get_json()
    assert body["privileges"] == [expected(READ_KEY, "Læs sager", {"kle": ["27.*"]})]
    r = scene.admin751.put(url, json={"name": "Sagsbehandler", "constraints": {}})
    assert r.status_code == 422 and fields_of(r) == ["user_system_role_ids"]
    r = scene.admin751.put(url, json={"name": "x", "constraints": {}, "user_system_role_ids": [],
                                      "municipality_code": 101})
    assert r.status_code == 422 and fields_of(r) == ["municipality_code"]


def test_deleting_a_role_removes_its_assignments(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}"
    assert scene.admin751.delete(url).status_code == 204
    assert scene.admin751.get(url).status_code == 404
    assert profile(scene.admin751, scene.a1, "2026-03-01").get_json()["privileges"] == []
    assert scene.world.sql("SELECT count(*) AS n FROM role_assignment")[0]["n"] == 0


# -- assignments -------------------------------------------------------------------------------


def test_assignments_are_listed_and_deleted(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}/assignments"
    listed = scene.admin751.get(url).get_json()
    assert listed == [scene.assignment]
    assert scene.assignment["valid_from"] == "2026-01-01" and scene.assignment["valid_to"] == "2026-07-01"
    assert scene.admin751.get(f"{url}?user_uuid={uuid.uuid4()}").get_json() == []
    r = scene.admin751.post(url, json={"user_uuid": str(uuid.uuid4())})
    assert r.status_code == 201 and r.get_json()["valid_from"] is None and r.get_json()["valid_to"] is None
    assert scene.admin751.delete(f"/api/v1/role-assignments/{scene.assignment['id']}").status_code == 204
    assert scene.admin751.delete(f"/api/v1/role-assignments/{scene.assignment['id']}").status_code == 404
    assert scene.admin751.get(f"{url}?user_uuid={USER}").get_json() == []


def test_overlapping_assignment_of_the_same_role_is_409(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}/assignments"
    r = scene.admin751.post(url, json={"user_uuid": USER, "valid_from": "2026-06-30"})
    assert r.status_code == 409 and r.get_json()["code"] == "assignment_overlaps"
    assert fields_of(r) == ["valid_from"]
    assert scene.admin751.post(url, json={"user_uuid": USER, "valid_to": "2026-01-02"}).status_code == 409
    # Half-open periods: one that starts on the day the other ends does not overlap.
    assert scene.admin751.post(url, json={"user_uuid": USER, "valid_from": "2026-07-01"}).status_code == 201
    assert scene.admin751.post(url, json={"user_uuid": USER, "valid_to": "2026-01-01"}).status_code == 201
    assert scene.admin751.post(url, json={"user_uuid": str(uuid.uuid4()), "valid_from": "2026-03-01"}
                               ).status_code == 201


def test_assignment_validation_names_fields(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}/assignments"
    for start, end in (("2026-05-01", "2026-04-30"), ("2026-05-01", "2026-05-01")):
        r = scene.admin751.post(url, json={"user_uuid": USER, "valid_from": start, "valid_to": end})
        assert r.status_code == 422 and fields_of(r) == ["valid_to"]
    r = scene.admin751.post(url, json={"user_uuid": "not-a-uuid", "valid_from": "1 May"})
    assert r.status_code == 422 and sorted(fields_of(r)) == ["user_uuid", "valid_from"]
    assert scene.vendora.post(url, json={"user_uuid": USER}).status_code == 403


# -- the privilege profile ---------------------------------------------------------------------


def test_profile_inside_the_validity(scene):
    r = profile(scene.admin751, scene.a1, "2026-03-01")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert {k: body[k] for k in ("user_uuid", "municipality_code", "system_id", "on")} == {
        "user_uuid": USER, "municipality_code": 751, "system_id": scene.a1, "on": "2026-03-01"}
    assert body["privileges"] == [expected(READ_KEY, "Læs sager"), expected(WRITE_KEY, "Skriv sager")]
    b1 = profile(scene.admin751, scene.b1, "2026-03-01").get_json()["privileges"]
    assert b1 == [expected(B1_KEY, "Administrator")]


@pytest.mark.parametrize(("on", "holds"), [("2025-12-31", False), ("2026-01-01", True), ("2026-06-30", True),
                                           ("2026-07-01", False)])
def test_profile_follows_the_half_open_validity(scene, on, holds):
    privileges = profile(scene.admin751, scene.a1, on).get_json()["privileges"]
    assert bool(privileges) is holds


def test_profile_as_oio_bpp(scene):
    body = profile(scene.admin751, scene.a1, "2026-03-01").get_json()
    root = ET.fromstring(base64.b64decode(body["bpp"]))
    assert root.tag == f"{{{BPP_NS}}}PrivilegeList"
    groups = root.findall("PrivilegeGroup")
    assert [g.get("Scope") for g in groups] == [f"urn:dk:gov:saml:cvrNumberIdentifier:{CVR[751]}"] * 2
    assert [[p.text for p in g.findall("Privilege")] for g in groups] == [[READ_KEY], [WRITE_KEY]]
    for group in groups:
        assert [(c.get("Name"), c.text) for c in group.findall("Constraint")] == [
            (KLE_URI, "27.*"), (KLE_URI, "32.01.*"), (ORG_URI, f"{ORG_UNIT}.*"), (SENSITIVITY_URI, "2")]
    empty = ET.fromstring(base64.b64decode(profile(scene.admin751, scene.a1, "2027-01-01").get_json()["bpp"]))
    assert empty.tag == f"{{{BPP_NS}}}PrivilegeList" and list(empty) == []


def test_bpp_values_of_every_constraint_type():
    xml = bpp_xml("55133018", [{"role": "urn:x:y", "constraints": {
        "org_units": [{"uuid": ORG_UNIT, "subtree": False}], "sensitivity": "VIP_SAGER", "see_cpr": False,
        "it_systems": [ORG_UNIT], "municipalities": [101], "kle": ["*"]}}, {"role": "urn:x:z", "constraints": {}}])
    assert xml.startswith("<?xml")
    a, b = ET.fromstring(xml).findall("PrivilegeGroup")
    assert [(c.get("Name").rsplit("/", 2)[-2] if "kombit" in c.get("Name") else c.get("Name"), c.text)
            for c in a.findall("Constraint")] == [
        ("kle", "*"), ("orgenhed", ORG_UNIT), ("foelsomhed", "4"), ("itsystem", ORG_UNIT),
        ("urn:sts:constraint:see-cpr", "false"), ("urn:sts:constraint:municipalities", "101")]
    assert b.findall("Constraint") == [] and b.find("Privilege").text == "urn:x:z"
    with pytest.raises(ValueError, match="CVR"):
        bpp_xml("5513301", [])


def test_another_municipalitys_admin_cannot_read_the_profile(scene):
    r = profile(scene.admin101, scene.a1, "2026-03-01")
    assert r.status_code == 200
    assert r.get_json()["municipality_code"] == 101 and r.get_json()["privileges"] == []
    r = scene.admin101.get(f"/api/v1/users/{USER}/privileges?system_id={scene.a1}&on=2026-03-01"
                           f"&municipality_code=751")
    assert r.status_code == 400
    for caller in (scene.vendora, scene.operator):
        assert profile(caller, scene.a1, "2026-03-01").status_code == 403


def test_profile_reads_are_access_logged(scene, monkeypatch):
    calls = []
    real = access_log.record
    monkeypatch.setattr(access_log, "record", lambda op, persons: (calls.append((op, persons)), real(op, persons)))
    assert profile(scene.admin751, scene.a1, "2026-03-01").status_code == 200
    assert calls == [("privileges.read", [f"urn:uuid:{USER}"])]


def test_profile_query_validation(scene):
    r = profile(scene.admin751)
    assert r.status_code == 422 and fields_of(r) == ["system_id"]
    r = scene.admin751.get(f"/api/v1/users/{USER}/privileges?system_id={scene.a1}&on=2026-13-01")
    assert r.status_code == 422 and fields_of(r) == ["on"]
    assert profile(scene.admin751, str(uuid.uuid4())).status_code == 404
    assert scene.admin751.get("/api/v1/users/not-a-uuid/privileges").status_code == 404


def test_profile_defaults_to_today_in_denmark(scene):
    url = f"/api/v1/job-function-roles/{scene.role['id']}/assignments"
    other = str(uuid.uuid4())
    assert scene.admin751.post(url, json={"user_uuid": other}).status_code == 201
    body = profile(scene.admin751, scene.a1, user=other).get_json()
    assert len(body["privileges"]) == 2 and body["on"]


def test_a_system_with_an_adgangsstyring_agreement_reads_its_own_profiles(scene):
    world = scene.world
    world.agreement("a1", "adgangsstyring", 751)
    client = world.app.test_client()
    token = world.token("a1", "adgangsstyring", 751)
    r = client.get(f"/api/v1/users/{USER}/privileges?on=2026-03-01", headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["system_id"] == scene.a1 and r.get_json()["municipality_code"] == 751
    assert [p["role"] for p in r.get_json()["privileges"]] == [READ_KEY, WRITE_KEY]
    r = client.get(f"/api/v1/users/{USER}/privileges?system_id={scene.a1}&on=2026-03-01", headers=bearer(token))
    assert r.status_code == 200
    r = client.get(f"/api/v1/users/{USER}/privileges?system_id={scene.b1}", headers=bearer(token))
    assert r.status_code == 403
    registry_token = world.token("a1", "registry", 751)  # the wrong service
    assert client.get(f"/api/v1/users/{USER}/privileges", headers=bearer(registry_token)).status_code == 403


def test_a_user_context_token_carries_the_users_privileges(scene):
    world, other = scene.world, str(uuid.uuid4())
    url = f"/api/v1/job-function-roles/{scene.role['id']}/assignments"
    assert scene.admin751.post(url, json={"user_uuid": other, "valid_from": "2000-01-01"}).status_code == 201
    token = world.token("a1", "registry", 751, user=other)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["usr"] == other
    assert claims["prv"] == [expected(READ_KEY, "Læs sager"), expected(WRITE_KEY, "Skriv sager")]
    me = world.app.test_client().get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.get_json()["user_uuid"] == other and me.get_json()["privileges"] == claims["prv"]
    # A user without assignments gets a token with no privileges; a plain token names no user.
    claims = jwt.decode(world.token("a1", "registry", 751, user=str(uuid.uuid4())),
                        options={"verify_signature": False})
    assert claims["prv"] == []
    plain = world.app.test_client().get("/api/v1/me", headers=bearer(world.token("a1", "registry", 751)))
    assert plain.get_json()["user_uuid"] is None and plain.get_json()["privileges"] is None
    r = world.token_response("a1", "registry", 751, user="not-a-uuid")
    assert r.status_code == 422 and fields_of(r) == ["user"]
