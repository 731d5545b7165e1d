"""The demo data `make run` loads: usable credentials, safe to load twice."""

from app.demo import DEMO_SYSTEM, DEMO_USERS
from authz.auth_api import basic_auth_header
from tests.world import bearer


def test_demo_credentials_work_and_loading_twice_adds_nothing(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "load"])
    assert "access-control demo objects added: 0" in second.output
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
