"""Usage metering: calls made with system tokens are counted per day, municipality,
system, service and operation, and shown to the municipality and the vendor only."""

import psycopg
import pytest

from authz import usage
from tests.world import bearer

ONE = "GET /api/v1/municipalities/<int:code>"


def usage_of(w, user, query=""):
    r = w.app.test_client().get(f"/api/v1/usage{query}", headers=bearer(w.login(user)))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def calls(w, token, n, url="/api/v1/municipalities/751"):
    client = w.app.test_client()
    for _ in range(n):
        assert client.get(url, headers=bearer(token)).status_code == 200


def test_calls_are_counted_and_shown_to_the_municipality_and_the_vendor(world):
    calls(world, world.token("a1", "registry", 751), 4)
    calls(world, world.token("a1", "registry", 751), 1, "/api/v1/me")
    usage.flush(world.app)
    today = usage.copenhagen_today().isoformat()
    for user in ("admin751", "vendora", "operator"):
        body = usage_of(world, user)
        rows = {(r["day"], r["municipality_code"], r["system_id"], r["service"], r["operation"]): r["calls"]
                for r in body["rows"]}
        assert rows == {(today, 751, world.ids["a1"], "registry", ONE): 4,
                        (today, 751, world.ids["a1"], "registry", "GET /api/v1/me"): 1}, user
        assert body["totals"] == [{"municipality_code": 751, "system_id": world.ids["a1"], "service": "registry",
                                   "calls": 5}]
        assert body["total_calls"] == 5 and body["truncated"] is False
        assert body["rows"][0]["system_name"] == "a1"
    for user in ("admin101", "vendorb"):  # another municipality, another vendor: nothing
        body = usage_of(world, user)
        assert body["rows"] == [] and body["total_calls"] == 0


def test_flushes_add_up_and_platform_users_are_not_counted(world):
    token = world.token("b1", "registry", 101)
    calls(world, token, 2, "/api/v1/municipalities/101")
    usage.flush(world.app)
    calls(world, token, 3, "/api/v1/municipalities/101")
    usage_of(world, "admin101")  # a platform user's call is not metered
    usage.flush(world.app)
    assert usage.flush(world.app) == 0  # nothing new
    [row] = usage_of(world, "admin101")["rows"]
    assert row["calls"] == 5 and row["operation"] == ONE and row["municipality_code"] == 101


def test_filters_and_period(world):
    calls(world, world.token("a1", "registry", 751), 2)
    usage.flush(world.app)
    today = usage.copenhagen_today()
    assert usage_of(world, "operator", f"?system_id={world.ids['b1']}")["total_calls"] == 0
    assert usage_of(world, "operator", f"?system_id={world.ids['a1']}&municipality_code=751")["total_calls"] == 2
    assert usage_of(world, "operator", f"?to={today.isoformat()}")["total_calls"] == 0  # `to` is exclusive
    assert usage_of(world, "operator", f"?from={today.isoformat()}")["total_calls"] == 2
    r = world.app.test_client().get("/api/v1/usage", headers=bearer(world.token("a1", "registry", 751)))
    assert r.status_code == 403  # systems do not read the meter


def test_a_failed_flush_keeps_its_counts(world, monkeypatch):
    calls(world, world.token("a1", "registry", 751), 3)
    meter = world.app.extensions["sts.usage"]

    def down(*_args, **_kwargs):
        raise psycopg.OperationalError("database is down")

    monkeypatch.setattr(meter.db, "transaction", down)
    with pytest.raises(psycopg.OperationalError):
        meter.flush()
    assert meter.pending() == 3
    monkeypatch.undo()
    usage.flush(world.app)
    assert meter.pending() == 0
    assert usage_of(world, "vendora")["total_calls"] == 3
