"""Every error is application/problem+json naming the problem; nothing gives a 500."""

import pytest

from app.errors import PROBLEM_JSON
from authz.policy import public

VALID = {"code": 751, "cvr": "55133018", "name": "Aarhus", "region": "Region Midtjylland", "citizens": 350000}


def assert_problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:sts:problem:{code}"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_malformed_json(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", data="{not json", content_type="application/json")
    assert_problem(r, 400, "malformed_json")


def test_wrong_type_names_the_field(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", json={**VALID, "citizens": "many"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"] == [{"location": "json", "field": "citizens", "detail": "Not a valid integer."}]


def test_missing_field_names_the_field(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", json={k: v for k, v in VALID.items() if k != "name"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"] == [{"location": "json", "field": "name", "detail": "Missing data for required field."}]


def test_unknown_body_field_is_rejected(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", json={**VALID, "mayor": "x"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["field"] == "mayor"


def test_rule_violation_names_the_rule(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", json={**VALID, "cvr": "55133019"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["errors"][0]["field"] == "cvr"
    assert "modulus-11" in body["errors"][0]["detail"]


@pytest.mark.parametrize("url", ["/api/v1/municipalities?colour=red", "/api/v1/municipalities/751?x=1",
                                 "/healthz?verbose=1"])
def test_unknown_query_parameter(shared_client, url):
    body = assert_problem(shared_client.get(url), 400, "unknown_query_parameter")
    assert body["errors"][0]["location"] == "query"


def test_wrong_query_type(shared_client):
    body = assert_problem(shared_client.get("/api/v1/municipalities?limit=ten"), 422, "validation_failed")
    assert body["errors"] == [{"location": "query", "field": "limit", "detail": "Not a valid integer."}]


TEXT_BODY = '{"code": 751, "cvr": "55133018", "region": "Region Midtjylland", "citizens": 1, "name": NAME}'


@pytest.mark.parametrize("name_json", [r'"Aar\u0000hus"', r'"Aarhus \ud83d"', r'"Aarhus \uDE00 x"'])
def test_text_the_database_cannot_store_names_the_field(shared_client, name_json):
    # NUL and unpaired surrogates can only arrive as \u escapes in JSON text, so the body is sent as text.
    body = TEXT_BODY.replace("NAME", name_json)
    r = shared_client.post("/api/v1/municipalities/validate", data=body, content_type="application/json")
    problem = assert_problem(r, 422, "invalid_text")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("json", "name")]


def test_a_surrogate_pair_is_ordinary_text(shared_client):
    body = TEXT_BODY.replace("NAME", r'"Aarhus \ud83d\ude00"')
    r = shared_client.post("/api/v1/municipalities/validate", data=body, content_type="application/json")
    assert r.status_code == 200 and r.get_json()["name"] == "Aarhus \U0001f600"


def test_a_nul_in_a_query_parameter_names_the_parameter(shared_client):
    problem = assert_problem(shared_client.get("/api/v1/municipalities?q=Aar%00hus"), 422, "invalid_text")
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", "q")]


@pytest.mark.parametrize("code", ["1", "99", "1000", "99999999999999999999"])
def test_a_municipality_code_out_of_range_is_not_found(shared_client, code):
    assert_problem(shared_client.get(f"/api/v1/municipalities/{code}"), 404, "municipality_not_found")


def test_a_number_too_large_for_its_column_names_the_field(shared_client):
    r = shared_client.post("/api/v1/municipalities/validate", json={**VALID, "citizens": 10**20})
    problem = assert_problem(r, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["citizens"]


def test_unknown_route(shared_client):
    assert_problem(shared_client.get("/api/v1/nowhere"), 404, "not_found")


def test_wrong_method_lists_allowed(shared_client):
    r = shared_client.delete("/api/v1/municipalities/751")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_invalid_cursor(shared_client):
    assert_problem(shared_client.get("/api/v1/municipalities?cursor=bm9wZQ"), 400, "invalid_cursor")


def test_request_id_is_taken_from_the_caller_or_made(shared_client):
    r = shared_client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
    assert r.headers["X-Request-ID"] == "lb-1234"
    r = shared_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["X-Request-ID"] != "bad id with spaces" and len(r.headers["X-Request-ID"]) == 36


def test_unexpected_error_is_a_500_problem_without_internals(make_app, caplog):
    app = make_app(TESTING=False)

    @app.route("/boom")
    @public
    def boom():
        raise RuntimeError("secret internals")

    r = app.test_client().get("/boom")
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.get_data(as_text=True)
    logged = [rec for rec in caplog.records if rec.levelname == "ERROR" and rec.exc_info]
    assert logged and logged[0].request_id == body["request_id"]


def test_unexpected_error_propagates_under_testing(app):
    @app.route("/boom")
    @public
    def boom():
        raise RuntimeError("visible to the test")

    with pytest.raises(RuntimeError, match="visible"):
        app.test_client().get("/boom")
