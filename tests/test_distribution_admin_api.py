"""The municipality's view of its subscribers (distribution/admin_api.py): lag, failures and dead
letters of a push subscription whose receiver (a real local HTTP server) fails, pause and resume,
redrive, and that each municipality sees only its own subscriptions.  The helpers are shared with
the admin web's tests (tests/test_admin_distribution.py)."""

from __future__ import annotations

import pytest

from app.bitemporal.periods import Period, copenhagen_today, local_midnight
from app.db import get_db
from distribution import push
from organisation import service
from tests.test_distribution_push import TIMEOUT, Clock, Receiver
from tests.world import World, bearer

BASE = "/api/v1/distribution/municipality/subscriptions"


@pytest.fixture
def world(world):
    """The standard world with the national type lists (units need their unit type)."""
    result = world.app.test_cli_runner().invoke(args=["klassifikation", "seed"])
    assert result.exit_code == 0, result.output
    return world


def subscriber(world: World, name: str, municipality: int, receiver: Receiver | None = None,
               **settings) -> tuple[str, str]:
    """A system of Vendor A with an approved distribution agreement and a subscription to the
    organisation topic (pushed to `receiver` when given): (its token, the subscription's id)."""
    world.system(name, "Vendor A")
    world.agreement(name, "distribution", municipality, roles=("read",))
    token = world.token(name, "distribution", municipality)
    client = world.app.test_client()
    r = client.post("/api/v1/distribution/subscriptions", headers=bearer(token),
                    json={"name": f"Organisation til {name}", "topics": ["organisation"]})
    assert r.status_code == 201, r.get_json()
    sub = r.get_json()["id"]
    if receiver is not None:
        r = client.put(f"/api/v1/distribution/subscriptions/{sub}/push", headers=bearer(token),
                       json={"url": receiver.url, **settings})
        assert r.status_code == 200, r.get_json()
        receiver.secrets[sub] = r.get_json()["secret"]
    return token, sub


def units(app, municipality: int, *keys: str, parent: str | None = None) -> list[str]:
    """Units valid from today, written in one transaction each (each a change event); the first is the
    root unless `parent`."""
    out: list[str] = []
    period = Period(local_midnight(copenhagen_today()), None)
    with app.app_context():
        for key in keys:
            data = {"user_key": [(key, period)], "name": [(key, period)], "unit_type": [("afdeling", period)]}
            above = parent or (out[0] if out else None)
            if above:
                data["parent"] = [(above, period)]
            with get_db().transaction() as conn:
                out.append(service.write(conn, "enhed", "create", None, data, municipality_code=municipality).uuid)
    return out


def deliver(app, clock: Clock, rounds: int = 1) -> None:
    with app.app_context():
        for _ in range(rounds):
            push.deliver_due(get_db(), now=clock(), timeout=TIMEOUT)


def get(client, token: str, path: str = "", status: int = 200, **query):
    r = client.get(BASE + path, headers=bearer(token), query_string=query)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def post(client, token: str, path: str, status: int = 200, **query):
    r = client.post(BASE + path, headers=bearer(token), query_string=query)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def test_lag_failures_and_dead_letters_of_a_failing_receiver(app, world):
    receiver = Receiver()
    try:
        _token, sub = subscriber(world, "d751", 751, receiver, max_attempts=2)
        subscriber(world, "d101", 101)
        receiver.default = "500"
        units(app, 751, "R", "A")
        client, admin = app.test_client(), world.login("admin751")
        [row] = get(client, admin)
        assert (row["id"], row["system_name"], row["vendor_name"], row["push"]) == (sub, "d751", "Vendor A", True)
        assert row["lag"] >= 2 and row["failures"] == 0 and row["dead_letters"] == 0 and not row["paused"]
        assert "secret" not in row and row["push_url"] == receiver.url

        clock = Clock()
        deliver(app, clock)
        row = get(client, admin, f"/{sub}")
        assert row["failures"] == 1 and row["attempts"] == 1 and row["last_error"] == "HTTP 500: receiver down"
        assert row["delivery"]["lag"] == row["lag"] >= 2 and "secret" not in row["delivery"]

        deliver(app, clock, rounds=6)  # two attempts per event, then a dead letter each
        row = get(client, admin, f"/{sub}")
        assert row["dead_letters"] == 2 and row["failures"] == 4 and row["lag"] == 0
        letters = get(client, admin, f"/{sub}/dead-letters")
        assert [d["error"] for d in letters] == ["HTTP 500: receiver down"] * 2
        assert all(d["event"]["subscription_id"] == sub for d in letters)

        failed = client.post(f"{BASE}/{sub}/dead-letters/{letters[0]['id']}/redrive", headers=bearer(admin))
        assert failed.status_code == 502 and failed.get_json()["code"] == "receiver_failed"
        receiver.default = "ok"
        done = post(client, admin, f"/{sub}/dead-letters/{letters[0]['id']}/redrive")
        assert done["redriven_at"] and receiver.of(sub) == [letters[0]["position"]]
        assert get(client, admin, f"/{sub}")["dead_letters"] == 1
        post(client, admin, f"/{sub}/dead-letters/999999/redrive", status=404)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_pause_stops_push_delivery_and_resume_continues(app, world):
    receiver = Receiver()
    try:
        _token, sub = subscriber(world, "d751", 751, receiver)
        client, admin = app.test_client(), world.login("admin751")
        assert post(client, admin, f"/{sub}/pause")["paused"] is True
        units(app, 751, "R")
        clock = Clock()
        deliver(app, clock, rounds=2)
        assert receiver.processed == [] and get(client, admin, f"/{sub}")["paused"] is True
        assert post(client, admin, f"/{sub}/resume")["paused"] is False
        deliver(app, clock, rounds=2)
        assert len(receiver.of(sub)) == 1 and get(client, admin, f"/{sub}")["lag"] == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_each_municipality_sees_only_its_own_and_operators_name_one(app, world):
    _t, sub751 = subscriber(world, "d751", 751)
    _t, sub101 = subscriber(world, "d101", 101)
    client = app.test_client()
    admin751, admin101 = world.login("admin751"), world.login("admin101")
    assert [s["id"] for s in get(client, admin751)] == [sub751]
    assert [s["id"] for s in get(client, admin101)] == [sub101]
    for path in (f"/{sub101}", f"/{sub101}/dead-letters"):
        assert get(client, admin751, path, 404)["code"] == "not_found"
    post(client, admin751, f"/{sub101}/pause", 404)
    assert get(client, admin101, f"/{sub101}")["paused"] is False
    get(client, admin751, "", 404, municipality=101)  # naming another municipality does not help
    assert [s["id"] for s in get(client, admin751, municipality=751)] == [sub751]

    operator = world.login("operator")
    refused = get(client, operator, "", 422)
    assert refused["errors"][0]["field"] == "municipality"
    assert [s["id"] for s in get(client, operator, municipality=101)] == [sub101]
    assert get(client, operator, f"/{sub751}", municipality=751)["id"] == sub751
    get(client, operator, f"/{sub751}", 404, municipality=101)

    get(client, world.login("vendora"), "", 403)
    get(client, world.token("d751", "distribution", 751), "", 403)  # a system uses its own routes
    assert client.get(BASE).status_code == 401
