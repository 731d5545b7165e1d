"""Push delivery (distribution/push.py, push_api.py) against a real local HTTP receiver that checks
the signature, recognises redeliveries by their idempotency key, and fails when told to: every
event is processed once and in order, dead letters and redrive, a crash before the commit, two
deliverers at once, and only what the agreement covers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.db import get_db
from distribution import push
from organisation import service
from tests.indexes_world import index_world
from tests.test_distribution_feed import events, subscribe, unit
from tests.test_organisation_search import ALWAYS

TIMEOUT = 0.3  # the deliverer's; the receiver's slow answers take longer


class Receiver:
    """A subscriber's endpoint: `modes` says how the next requests are answered ("500": fail before
    processing; "slow": process, then answer too late), then `default` ("ok" or "500")."""

    def __init__(self):
        self.secrets: dict[str, str] = {}
        self.modes: list[str] = []
        self.default = "ok"
        self.delay = 0.0
        self.keys: Counter[str] = Counter()  # idempotency key -> times received and processed
        self.processed: list[dict] = []  # events in the order they were first processed
        self.bad: list[str] = []
        self.requests: list[str] = []  # X-STS-Event-Id of every request processed
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        message = json.loads(body)
        batch = message.get("events")  # batch_size > 1: {"subscription_id", "events": [...]}
        items = batch or [message]
        sub = message["subscription_id"]
        key, stamp = request.headers["X-STS-Event-Id"], request.headers["X-STS-Timestamp"]
        expected_key = f"{sub}:{items[0]['position']}" + (f"-{items[-1]['position']}" if batch else "")
        secret = self.secrets.get(sub, "")
        expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not (secret and hmac.compare_digest(expected, request.headers["X-STS-Signature"])
                and abs(time.time() - int(stamp)) < 300 and key == expected_key
                and all(e["event_id"] == f"{sub}:{e['position']}" for e in items)):
            self.bad.append(key)
            return self.answer(request, 401)
        with self.lock:
            mode = self.modes.pop(0) if self.modes else self.default
        if mode == "500":
            return self.answer(request, 500, b"receiver down")
        with self.lock:
            self.requests.append(key)
            for event in items:
                self.keys[event["event_id"]] += 1
                if self.keys[event["event_id"]] == 1:
                    self.processed.append(event)
        if mode == "slow":
            time.sleep(TIMEOUT * 2)  # processed, but the deliverer has given up waiting
            return None
        time.sleep(self.delay)
        return self.answer(request, 200)

    @staticmethod
    def answer(request, status: int, body: bytes = b"") -> None:
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def of(self, sub: str) -> list[int]:
        return [e["position"] for e in self.processed if e["subscription_id"] == sub]


class Clock:
    """A controllable `now`: each call is 6 minutes later, past any backoff (5 minutes at most)."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=6)
        return self.now


@pytest.fixture
def iw(app):
    return index_world(app)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def enable(iw, token, sub, receiver, **settings) -> dict:
    r = iw.call("put", f"/api/v1/distribution/subscriptions/{sub}/push", token, json={"url": receiver.url, **settings})
    assert r.status_code == 200, r.get_json()
    receiver.secrets[sub] = r.get_json()["secret"]
    return r.get_json()


def status(iw, token, sub) -> dict:
    r = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/push", token)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def run(app, until, clock=None, rounds: int = 40, **kw) -> None:
    with app.app_context():
        for _ in range(rounds):
            push.deliver_due(get_db(), now=clock() if clock else None, timeout=TIMEOUT, **kw)
            if until():
                return
    raise AssertionError("not delivered in time")


def units(app, iw, *keys: str, municipality: int = 751) -> list[str]:
    parent = iw.org.ids["R" if municipality == 751 else "K"]
    with app.app_context():
        out = []
        for key in keys:  # a transaction each
            with get_db().transaction() as conn:
                out.append(unit(conn, key, municipality=municipality, parent=parent))
        return out


def test_a_flaky_receiver_ends_with_every_event_processed_once_in_order(app, iw, receiver):
    token, sub = subscribe(iw, "sub", topics=("organisation", "indexes"))
    created = enable(iw, token, sub, receiver)
    assert created["url"] == receiver.url and len(created["secret"]) >= 32
    receiver.modes = ["500", "500", "slow", "500", "slow", "500"]
    a, _b, _c = units(app, iw, "A", "B", "C")
    with app.app_context(), get_db().transaction() as conn:
        service.write(conn, "enhed", "update", a, {"name": [("A2", ALWAYS)]}, municipality_code=751)
    fag = iw.token("fag", "sdi")
    for minutes in (1, 2):
        case = iw.case("one", minutes=minutes, title=f"Sag {minutes}")
        assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", fag, json=case).status_code == 200
    expected = [e["position"] for e in events(iw, token, sub, limit=1000)["events"]]
    assert len(expected) >= 6

    run(app, lambda: len(receiver.processed) == len(expected), Clock(), jitter=lambda: 1.0)

    assert receiver.of(sub) == expected  # each processed once, in position order
    assert set(receiver.keys) == {f"{sub}:{p}" for p in expected}
    assert sum(receiver.keys.values()) == len(expected) + 2  # the two slow answers came again, same key
    assert not receiver.bad
    by_object: dict[str, list[int]] = {}
    for e in receiver.processed:
        by_object.setdefault(e["object_uuid"], []).append(e["position"])
    assert by_object[a] == sorted(by_object[a]) and len(by_object[a]) >= 2
    assert by_object[case["uuid"]] == sorted(by_object[case["uuid"]]) and len(by_object[case["uuid"]]) == 2
    run(app, lambda: True)  # caught up: the position moves to the newest event
    state = status(iw, token, sub)
    assert state["lag"] == 0 and state["attempts"] == 0 and state["failures"] == 6
    assert state["last_success_at"] and state["last_error"].startswith(("HTTP 500", "TimeoutError"))
    assert "secret" not in state


def test_an_event_that_keeps_failing_becomes_a_dead_letter_and_can_be_redriven(app, iw, receiver):
    token, sub = subscribe(iw, "sub")
    enable(iw, token, sub, receiver, max_attempts=2)
    receiver.default = "500"
    units(app, iw, "X", "Y")
    expected = [e["position"] for e in events(iw, token, sub)["events"]]
    base = f"/api/v1/distribution/subscriptions/{sub}/dead-letters"
    run(app, lambda: len(iw.call("get", base, token).get_json()) == 2, Clock())
    letters = iw.call("get", base, token).get_json()
    assert [d["position"] for d in letters] == expected
    assert all(d["attempts"] == 2 and d["error"] == "HTTP 500: receiver down" and d["redriven_at"] is None
               for d in letters)
    assert letters[0]["event"]["subscription_id"] == sub and receiver.processed == []
    assert status(iw, token, sub)["failures"] == 4

    receiver.default = "ok"  # recovered: later events flow
    [z] = units(app, iw, "Z")
    run(app, lambda: len(receiver.processed) == 1, Clock())
    assert [e["object_uuid"] for e in receiver.processed] == [z]

    r = iw.call("post", f"{base}/{letters[0]['id']}/redrive", token)
    assert r.status_code == 200 and r.get_json()["redriven_at"], r.get_json()
    assert receiver.keys[f"{sub}:{expected[0]}"] == 1
    receiver.default = "500"
    r = iw.call("post", f"{base}/{letters[1]['id']}/redrive", token)
    assert r.status_code == 502 and r.get_json()["code"] == "receiver_failed"
    assert "HTTP 500" in r.get_json()["detail"]
    assert iw.call("get", base, token).get_json()[1]["redriven_at"] is None
    assert iw.call("post", f"{base}/999999/redrive", token).status_code == 404


def test_a_failing_event_older_than_the_maximum_age_is_a_dead_letter_at_once(app, iw, receiver):
    token, sub = subscribe(iw, "sub")
    enable(iw, token, sub, receiver, max_age_seconds=60)
    receiver.default = "500"
    units(app, iw, "OLD")
    later = datetime.now(UTC) + timedelta(minutes=2)
    with app.app_context():
        assert push.deliver_due(get_db(), now=later, timeout=TIMEOUT) == 0
    [letter] = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/dead-letters", token).get_json()
    assert letter["attempts"] == 1


def test_a_crash_after_the_post_and_before_the_commit_redelivers_with_the_same_key(app, iw, receiver):
    token, sub = subscribe(iw, "sub")
    enable(iw, token, sub, receiver)
    [u] = units(app, iw, "U")
    [event] = events(iw, token, sub)["events"]

    def crash(_sub, _event, _outcome):
        raise RuntimeError("killed")

    with app.app_context(), pytest.raises(RuntimeError):
        push.deliver_due(get_db(), before_commit=crash, timeout=TIMEOUT)
    key = f"{sub}:{event['position']}"
    assert receiver.keys == {key: 1}
    run(app, lambda: receiver.keys[key] == 2)
    assert [e["object_uuid"] for e in receiver.processed] == [u]  # processed once, received twice
    assert status(iw, token, sub)["delivered_position"] >= event["position"]


def test_two_deliverers_at_once_deliver_each_event_once_in_order(app, iw, receiver):
    subs = []
    for name in ("s1", "s2", "s3"):
        token, sub = subscribe(iw, name)
        enable(iw, token, sub, receiver)
        subs.append((token, sub))
    units(app, iw, "P", "Q", "R2", "S")
    expected = {sub: [e["position"] for e in events(iw, token, sub)["events"]] for token, sub in subs}
    receiver.delay = 0.01
    barrier, counts, errors = threading.Barrier(2), [], []

    def deliverer():
        try:
            with app.app_context():
                barrier.wait()
                deadline = time.monotonic() + 10
                while len(receiver.processed) < 12 and time.monotonic() < deadline:
                    counts.append(push.deliver_due(get_db(), timeout=TIMEOUT))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(counts) == 12 and sum(receiver.keys.values()) == 12  # nothing twice, nothing lost
    for _token, sub in subs:
        assert receiver.of(sub) == expected[sub]


def test_a_subscriber_receives_only_what_its_agreement_covers(app, iw, receiver):
    token751, sub751 = subscribe(iw, "s751")
    token101, sub101 = subscribe(iw, "s101", municipality=101)
    enable(iw, token751, sub751, receiver)
    enable(iw, token101, sub101, receiver)
    [u751], [u101] = units(app, iw, "U751"), units(app, iw, "U101", municipality=101)
    run(app, lambda: len(receiver.processed) == 2)
    run(app, lambda: True)
    assert {e["object_uuid"] for e in receiver.processed if e["subscription_id"] == sub751} == {u751}
    assert {e["object_uuid"] for e in receiver.processed if e["subscription_id"] == sub101} == {u101}

    iw.w.sql("UPDATE agreement SET state = 'terminated' WHERE system_id = %(s)s AND service = 'distribution'",
             {"s": iw.ids["s751"]})
    units(app, iw, "AFTER")
    run(app, lambda: True)
    assert len(receiver.processed) == 2
    [row] = iw.w.sql("SELECT last_error FROM subscription_push WHERE subscription_id = %(i)s", {"i": sub751})
    assert "No approved agreement" in row["last_error"]


def test_push_settings_pause_resume_and_the_command(app, iw, receiver):
    token, sub = subscribe(iw, "sub")
    other, _ = subscribe(iw, "other")
    path = f"/api/v1/distribution/subscriptions/{sub}/push"
    assert iw.call("get", path, token).get_json()["code"] == "push_not_configured"
    for url in ("ftp://example.org/x", "http://example.org/hook", "not a url", "https://"):
        r = iw.call("put", path, token, json={"url": url})
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "url", url
    r = iw.call("put", path, token, json={"url": receiver.url, "max_attempts": 0})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "max_attempts"
    enable(iw, token, sub, receiver)
    for method, suffix in (("get", "push"), ("put", "push"), ("delete", "push"), ("get", "dead-letters"),
                           ("post", "pause"), ("post", "dead-letters/1/redrive")):
        r = iw.call(method, f"/api/v1/distribution/subscriptions/{sub}/{suffix}", other,
                    json={"url": "https://x.example"} if method == "put" else None)
        assert r.status_code == 404, (method, suffix)

    r = iw.call("post", f"/api/v1/distribution/subscriptions/{sub}/pause", token)
    assert r.status_code == 200 and r.get_json()["paused"] is True
    units(app, iw, "PAUSED")
    run(app, lambda: True)
    assert receiver.processed == []
    assert iw.call("post", f"/api/v1/distribution/subscriptions/{sub}/resume", token).get_json()["paused"] is False
    result = app.test_cli_runner().invoke(args=["distribution", "deliver"])
    assert result.exit_code == 0 and "1 events delivered" in result.output, result.output
    assert len(receiver.processed) == 1

    assert iw.call("delete", path, token).status_code == 204
    assert iw.call("get", path, token).status_code == 404
    assert iw.call("delete", path, token).status_code == 404
