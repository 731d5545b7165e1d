"""System tokens: issued only under an approved agreement; every bad token is refused."""

import time

import jwt
import pytest

from app.db import get_db
from authz import keys
from authz.auth_api import basic_auth_header
from authz.tokens import lifetime
from tests.world import CVR, bearer


def test_a_valid_token_works(world):
    token = world.token("a1", "registry", 751)
    r = world.app.test_client().get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 200
    me = r.get_json()
    assert me["kind"] == "system" and me["municipality_code"] == 751 and me["service"] == "registry"
    assert me["system_id"] == world.ids["a1"] and me["roles"] == ["read"]
    assert world.app.test_client().get("/api/v1/municipalities/751", headers=bearer(token)).status_code == 200


def test_token_answer_is_oauth2_shaped_and_not_cached(world):
    r = world.token_response("a1", "registry", 751)
    body = r.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert r.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "registry" and claims["mun"] == 751 and claims["cvr"] == CVR[751]
    assert claims["exp"] - claims["iat"] == 300


def test_credentials_in_the_form_work_too(world):
    r = world.app.test_client().post("/api/v1/auth/token", data={
        "grant_type": "client_credentials", "client_id": "a1", "client_secret": world.secrets["a1"],
        "municipality": CVR[751], "audience": "registry"})
    assert r.status_code == 200


@pytest.mark.parametrize("case", ["wrong secret", "unknown client"])
def test_bad_client_credentials(world, case):
    if case == "wrong secret":
        world.secrets["a1"] = "nope"
        r = world.token_response("a1", "registry", 751)
    else:
        world.secrets["ghost"] = "x"
        r = world.token_response("ghost", "registry", 751)
    assert r.status_code == 401
    assert r.get_json()["code"] == "invalid_client" and r.get_json()["error"] == "invalid_client"


def test_no_approved_agreement_means_no_token(world):
    r = world.token_response("a1", "registry", 101)  # a1 has an agreement for 751 only
    assert r.status_code == 403 and r.get_json()["code"] == "access_denied"
    r = world.token_response("a1", "sdi", 751)  # ... and for the registry service only
    assert r.status_code == 403
    world.agreement("a1", "sdi", 751, state="requested")
    assert world.token_response("a1", "sdi", 751).status_code == 403  # requested is not approved


def test_token_request_validation_names_fields(world):
    r = world.app.test_client().post("/api/v1/auth/token", data={"grant_type": "password", "municipality": "1",
                                                                 "audience": "nonsense"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert {"grant_type", "municipality", "audience"} <= fields
    r = world.app.test_client().post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials", "municipality": "12345678",
                                    "audience": "registry", "client_id": "a1",
                                    "client_secret": world.secrets["a1"]})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "municipality"


def _forge(world, **changes) -> str:
    """A token signed with this service's real key, with claims changed."""
    token = world.token("a1", "registry", 751)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    with world.app.test_request_context(), get_db().transaction() as conn:
        key = keys.current_signing_key(conn, lifetime())
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def test_expired_token(world):
    now = int(time.time())
    token = _forge(world, iat=now - 900, nbf=now - 900, exp=now - 600)
    r = world.app.test_client().get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 401 and r.get_json()["code"] == "token_expired"
    assert "Bearer" in r.headers["WWW-Authenticate"]


def test_tampered_token(world):
    token = world.token("a1", "registry", 751)
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["mun"] = 101
    forged_payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    r = world.app.test_client().get("/api/v1/me", headers=bearer(f"{header}.{forged_payload}.{signature}"))
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"


def test_token_signed_by_a_stranger(world):
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = jwt.decode(world.token("a1", "registry", 751), options={"verify_signature": False})
    with world.app.test_request_context(), get_db().transaction() as conn:
        kid = keys.current_signing_key(conn, lifetime()).kid
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})
    assert world.app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_wrong_audience_is_forbidden(world):
    world.agreement("a1", "sdi", 751)
    sdi_token = world.token("a1", "sdi", 751)
    client = world.app.test_client()
    assert client.get("/api/v1/me", headers=bearer(sdi_token)).status_code == 200  # any service may ask who it is
    r = client.put("/api/v1/municipalities/751", headers=bearer(sdi_token),
                   json={"cvr": "55133018", "name": "X", "region": "Region Midtjylland", "citizens": 1})
    assert r.status_code == 403


def test_wrong_municipality_claim_is_refused(world):
    # A token whose municipality does not match its agreement (e.g. edited and re-signed elsewhere).
    token = _forge(world, mun=101, cvr=CVR[101])
    r = world.app.test_client().get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 401


def test_terminating_the_agreement_revokes_tokens_at_once(world):
    token = world.token("a1", "registry", 751)
    client = world.app.test_client()
    assert client.get("/api/v1/municipalities/751", headers=bearer(token)).status_code == 200
    admin = world.login("admin751")
    [agreement] = world.sql("SELECT id FROM agreement WHERE system_id = %(s)s", {"s": world.ids["a1"]})
    r = client.post(f"/api/v1/agreements/{agreement['id']}/terminate", json={"note": "vendor left"},
                    headers=bearer(admin))
    assert r.status_code == 200, r.get_json()
    r = client.get("/api/v1/municipalities/751", headers=bearer(token))
    assert r.status_code == 403 and r.get_json()["code"] == "agreement_not_active"
    assert world.token_response("a1", "registry", 751).status_code == 403


def test_deactivated_system_is_refused(world):
    token = world.token("a1", "registry", 751)
    world.sql("UPDATE it_system SET active = false WHERE id = %(s)s", {"s": world.ids["a1"]})
    assert world.app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 403
    assert world.token_response("a1", "registry", 751).status_code == 401


def test_certificate_bound_system(world):
    thumb = "ab" * 32
    world.system("bound", "Vendor A", thumbprint=thumb)
    world.agreement("bound", "registry", 751)
    assert world.token_response("bound", "registry", 751).status_code == 401  # no certificate presented
    good = {"X-SSL-Client-SHA256": thumb}
    r = world.app.test_client().post(
        "/api/v1/auth/token", headers={"Authorization": basic_auth_header("bound", world.secrets["bound"]), **good},
        data={"grant_type": "client_credentials", "municipality": CVR[751], "audience": "registry"})
    assert r.status_code == 200
    token = r.get_json()["access_token"]
    client = world.app.test_client()
    assert client.get("/api/v1/me", headers={**bearer(token), **good}).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401  # stolen token, no certificate


def test_jwks_publishes_the_signing_key_and_keeps_the_old_one_during_rotation(world):
    old_token = world.token("a1", "registry", 751)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    result = world.app.test_cli_runner().invoke(args=["authz", "rotate-keys"])
    assert result.exit_code == 0, result.output
    new_token = world.token("a1", "registry", 751)
    new_kid = jwt.get_unverified_header(new_token)["kid"]
    assert new_kid != old_kid
    jwks = world.app.test_client().get("/.well-known/jwks.json").get_json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    client = world.app.test_client()
    for token in (old_token, new_token):  # both verify, also with the published keys alone
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        jwk = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"])
        key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        assert jwt.decode(token, key, algorithms=["RS256"], audience="registry")["sub"] == world.ids["a1"]


def test_a_termination_made_elsewhere_takes_effect_within_the_cache_time(make_app):
    from tests.world import standard_world

    app = make_app(AGREEMENT_CACHE_SECONDS=0.5)
    world = standard_world(app)
    token = world.token("a1", "registry", 751)
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    # Another process terminates the agreement: this process does not hear of it...
    world.sql("UPDATE agreement SET state = 'terminated' WHERE system_id = %(s)s", {"s": world.ids["a1"]})
    deadline = time.monotonic() + 5
    while client.get("/api/v1/me", headers=bearer(token)).status_code == 200:
        assert time.monotonic() < deadline, "the termination never took effect"
        time.sleep(0.1)
    # ... but within the configured half second it refuses the token.
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["code"] == "agreement_not_active"


def test_a_token_that_expires_is_refused_although_its_claims_were_cached(make_app):
    """The verified-claims cache keeps a token no longer than its own `exp` (leeway is 5 s),
    however long the cache time."""
    from tests.world import standard_world

    world = standard_world(make_app(AGREEMENT_CACHE_SECONDS=60))
    now = int(time.time())
    token = _forge(world, iat=now - 10, nbf=now - 10, exp=now + 1)
    client = world.app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    time.sleep(7)
    r = client.get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 401 and r.get_json()["code"] == "token_expired"
