"""The demo data `make run` loads: usable credentials, a synthetic organisation, safe to load twice."""

from app.bitemporal.periods import Period
from app.demo import DEMO_SYSTEM, DEMO_USERS
from authz.auth_api import basic_auth_header
from organisation import service
from tests.world import bearer


def test_demo_credentials_work_and_loading_twice_adds_nothing(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--organisation-size", "small"])
    assert first.exit_code == 0, first.output
    assert "organisation 751: 20 units, 80 users loaded" in first.output and " 0 rejected" in first.output
    second = runner.invoke(args=["demo", "load", "--organisation-size", "small"])
    assert "access-control demo objects added: 0" in second.output
    assert "organisation 751: already loaded" in second.output
    assert "indexes: " in first.output and " 0 rejected" in first.output.split("indexes: ")[1]
    assert "indexes: municipality 751 already has records" in second.output
    client = app.test_client()
    r = client.post("/api/v1/auth/token", headers={"Authorization": basic_auth_header(
        DEMO_SYSTEM["client_id"], DEMO_SYSTEM["client_secret"])},
        data={"grant_type": "client_credentials", "municipality": "55133018", "audience": "registry"})
    assert r.status_code == 200, r.get_json()
    assert client.get("/api/v1/municipalities/751",
                      headers=bearer(r.get_json()["access_token"])).status_code == 200
    for user in DEMO_USERS:
        login = client.post("/api/v1/auth/login", json={"username": user["username"], "password": user["password"]})
        assert login.status_code == 200 and login.get_json()["user"]["role"] == user["role"]
    r = client.post("/api/v1/auth/token", headers={"Authorization": basic_auth_header(
        DEMO_SYSTEM["client_id"], DEMO_SYSTEM["client_secret"])},
        data={"grant_type": "client_credentials", "municipality": "55133018", "audience": "organisation"})
    hierarchy = client.get("/api/v1/organisation/hierarchy", headers=bearer(r.get_json()["access_token"]))
    assert hierarchy.status_code == 200 and len(hierarchy.get_json()["items"]) == 20
    r = client.post("/api/v1/auth/token", headers={"Authorization": basic_auth_header(
        DEMO_SYSTEM["client_id"], DEMO_SYSTEM["client_secret"])},
        data={"grant_type": "client_credentials", "municipality": "55133018", "audience": "sdi"})
    changes = client.get("/api/v1/sdi/changes?limit=5", headers=bearer(r.get_json()["access_token"]))
    assert changes.status_code == 200 and len(changes.get_json()["items"]) == 5


def test_demo_organisation_can_be_left_out_and_is_not_loaded_over_an_existing_one(app):
    runner = app.test_cli_runner()
    skipped = runner.invoke(args=["demo", "load"], env={"STS_DEMO_ORGANISATION_SIZE": "none"})
    assert skipped.exit_code == 0 and "organisation 751: skipped (size none)" in skipped.output
    with app.app_context(), app.extensions["sts.db"].transaction() as conn:  # the municipality's own root unit
        service.write(conn, "enhed", "create", None, {"user_key": [("AAK", Period())], "name": [
            ("Aarhus Kommune", Period())], "unit_type": [("kommune", Period())]}, municipality_code=751)
    again = runner.invoke(args=["demo", "load", "--organisation-size", "small"])
    assert again.exit_code == 0 and "organisation 751: municipality 751 already has an organisation" in again.output
