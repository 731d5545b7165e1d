"""Liveness, readiness and metrics."""

from app.db import get_db
from tests.world import bearer, operator_client


def test_healthz(shared_client):
    assert shared_client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_every_check(shared_client):
    r = shared_client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    checks = r.get_json()["checks"]
    assert set(checks) == {"postgres", "elasticsearch", "migrations", "search_lag"}
    assert all(c["ok"] for c in checks.values())


def test_readyz_is_503_when_migrations_are_pending(make_app):
    app = make_app(empty=True)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["code"] == "not_ready"
    assert body["checks"]["migrations"]["ok"] is False
    assert "0001.search-outbox" in body["checks"]["migrations"]["detail"]


def test_readyz_is_503_when_search_lags(make_app):
    app = make_app(READY_MAX_SEARCH_LAG=60)
    with app.app_context(), get_db().transaction() as conn:
        conn.execute("UPDATE search_outbox SET created_at = now() - interval '10 minutes'")
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["search_lag"]["ok"] is False
    assert body["checks"]["elasticsearch"]["ok"] is True


def test_readyz_is_503_when_elasticsearch_is_unreachable(make_app):
    app = make_app(ELASTICSEARCH_URL="http://127.0.0.1:9", SEARCH_REQUEST_TIMEOUT=1)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"]["elasticsearch"]["ok"] is False
    assert r.get_json()["checks"]["postgres"]["ok"] is True


def test_search_while_elasticsearch_is_unreachable_is_a_503_problem(make_app):
    app = make_app(ELASTICSEARCH_URL="http://127.0.0.1:9", SEARCH_REQUEST_TIMEOUT=1)
    r = operator_client(app).get("/api/v1/municipalities?q=aarhus")
    assert r.status_code == 503
    assert r.get_json()["code"] == "search_unavailable"
    assert r.headers["Retry-After"]


def test_metrics_count_requests_and_show_outbox(shared_client):
    shared_client.get("/api/v1/municipalities/751")
    text = shared_client.get("/metrics").get_data(as_text=True)
    assert 'sts_http_requests_total{endpoint="/api/v1/municipalities/<int:code>",method="GET",status="200"}' in text
    assert 'sts_search_outbox_pending{kind="municipality"} 0.0' in text
    assert "sts_http_request_duration_seconds_bucket" in text


def test_requests_while_postgres_is_unreachable_are_a_503_problem(make_app):
    app = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:9/nowhere", DB_POOL_TIMEOUT=1)
    r = app.test_client().get("/api/v1/municipalities/751", headers=bearer("stsp_any"))
    assert r.status_code == 503
    assert r.get_json()["code"] == "database_unavailable"
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["postgres"]["ok"] is False
