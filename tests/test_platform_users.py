"""Platform users: password login with lockout, personal API tokens, roles."""

from tests.world import PASSWORD, bearer


def test_login_gives_a_token_that_identifies_the_user(app, world):
    token = world.login("admin751")
    me = app.test_client().get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["kind"] == "platform_user" and me["platform_role"] == "municipality_admin"
    assert me["municipality_code"] == 751 and me["username"] == "admin751"


def test_wrong_password_and_unknown_user_look_the_same(app, world):
    client = app.test_client()
    a = client.post("/api/v1/auth/login", json={"username": "admin751", "password": "wrong"})
    b = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong"})
    assert a.status_code == b.status_code == 401
    assert a.get_json()["detail"] == b.get_json()["detail"]


def test_lockout_after_repeated_failures(make_app):
    from tests.world import World

    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=10)
    world = World(app)
    world.user("admin751", "municipality_admin", municipality=751)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/auth/login", json={"username": "admin751", "password": "x"}).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "admin751", "password": PASSWORD})
    assert r.status_code == 429 and r.get_json()["code"] == "account_locked"
    assert 0 < int(r.headers["Retry-After"]) <= 600
    world.sql("UPDATE platform_user SET locked_until = now() - interval '1 second'")
    assert client.post("/api/v1/auth/login", json={"username": "admin751", "password": PASSWORD}).status_code == 200


def test_personal_tokens_and_logout(app, world):
    client = app.test_client()
    session = world.login("vendora")
    r = client.post("/api/v1/me/tokens", json={"name": "ci", "expires_in_days": 30}, headers=bearer(session))
    assert r.status_code == 201
    personal = r.get_json()
    assert personal["token"].startswith("stsp_")
    assert client.get("/api/v1/me", headers=bearer(personal["token"])).get_json()["username"] == "vendora"
    listed = client.get("/api/v1/me/tokens", headers=bearer(session)).get_json()
    assert {t["kind"] for t in listed} == {"session", "personal"} and all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/me/tokens/{personal['id']}", headers=bearer(session)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(personal["token"])).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(session)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(session)).status_code == 401


def test_operators_create_users_and_others_cannot(app, world):
    client = app.test_client()
    body = {"username": "admin461", "display_name": "Odense admin", "role": "municipality_admin",
            "municipality_code": 461, "password": "a long enough password"}
    assert client.post("/api/v1/platform-users", json=body, headers=bearer(world.login("admin751"))).status_code == 403
    r = client.post("/api/v1/platform-users", json=body, headers=bearer(world.login("operator")))
    assert r.status_code == 201 and "password" not in r.get_json() and "password_hash" not in r.get_json()
    for code in (None, 1, 261597050545):  # none, not a kommunekode, beyond the column
        r = client.post("/api/v1/platform-users", json={**body, "username": "xyz1", "municipality_code": code},
                        headers=bearer(world.login("operator")))
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "municipality_code"


def test_cli_creates_the_first_operator(app):
    result = app.test_cli_runner().invoke(args=["authz", "create-user", "root.op", "--role", "platform_operator",
                                                "--name", "First operator", "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    r = app.test_client().post("/api/v1/auth/login", json={"username": "root.op", "password": "a long enough password"})
    assert r.status_code == 200


def test_municipality_writes_are_for_operators(app, world):
    client = app.test_client()
    body = {"cvr": "55133018", "name": "Aarhus", "region": "Region Midtjylland", "citizens": 360000}
    assert client.put("/api/v1/municipalities/751", json=body,
                      headers=bearer(world.login("admin751"))).status_code == 403
    system = world.token("a1", "registry", 751)
    assert client.put("/api/v1/municipalities/751", json=body, headers=bearer(system)).status_code == 403
    operator = bearer(world.login("operator"))
    r = client.put("/api/v1/municipalities/751", json=body, headers=operator)
    assert r.status_code == 200 and r.get_json()["citizens"] == 360000
    r = client.put("/api/v1/municipalities/999", json={**body, "cvr": "12345674", "name": "Ny"}, headers=operator)
    assert r.status_code == 201
    assert client.get("/api/v1/municipalities/999", headers=operator).get_json()["name"] == "Ny"
    r = client.put("/api/v1/municipalities/147", json=body, headers=operator)  # Aarhus' CVR on Frederiksberg
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "cvr"
    for code in (1, 1000, 10**20):  # not kommunekoder; the column holds 100-999
        r = client.put(f"/api/v1/municipalities/{code}", json={**body, "cvr": "12345674"}, headers=operator)
        assert r.status_code == 422 and r.get_json()["errors"][0] == {
            "location": "path", "field": "code", "detail": "A municipality code (kommunekode): 100-999."}


def test_listing_platform_users_is_access_logged(app, world):
    client = app.test_client()
    operator = bearer(world.login("operator"))
    users = client.get("/api/v1/platform-users", headers=operator).get_json()
    assert {u["username"] for u in users} >= {"operator", "admin751"}
    log = client.get(f"/api/v1/access-log?person=urn:uuid:{world.ids['admin751']}", headers=operator).get_json()
    assert [e["operation"] for e in log["items"]] == ["platform_users.list"]
