"""Push delivery by the scheduler process (distribution/scheduler.py, push.py) against a real, slow
local HTTP receiver: SIGKILL of the scheduler in the middle of delivery loses nothing and repeats at
most the one event in flight (same idempotency key); two schedulers at once deliver every event
once, in order per object (the subscription's row is locked FOR UPDATE SKIP LOCKED while a POST
is on its way)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from app.db import get_db
from organisation import service
from tests.indexes_world import index_world
from tests.test_distribution_feed import events, subscribe, unit
from tests.test_distribution_push import Receiver, enable
from tests.test_distribution_scheduler import FLASK, Schedulers
from tests.test_organisation_search import ALWAYS

DELAY = 0.3  # the receiver processes an event, then takes this long to answer
WAIT = 60.0  # bound on every wait for delivery


class Fleet(Schedulers):
    """Scheduler processes that poll every second (delivery runs without a NOTIFY too)."""

    def start(self) -> subprocess.Popen:
        with self.log.open("ab") as log:
            proc = subprocess.Popen([FLASK, "distribution", "scheduler", "--poll-seconds", "1"], env=self.env,
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc


@pytest.fixture
def receiver():
    r = Receiver()
    r.delay = DELAY
    yield r
    r.server.shutdown()
    r.server.server_close()


def create(app, parent: str, keys: list[str]) -> list[str]:
    with app.app_context():
        out = []
        for key in keys:  # a transaction each
            with get_db().transaction() as conn:
                out.append(unit(conn, key, parent=parent))
        return out


def rename(app, uuids: list[str], suffix: str) -> None:
    with app.app_context():
        for uuid in uuids:
            with get_db().transaction() as conn:
                service.write(conn, "enhed", "update", uuid, {"name": [(f"{uuid[:8]}-{suffix}", ALWAYS)]},
                              municipality_code=751)


def first_arrivals_in_order_per_object(receiver: Receiver, sub: str) -> dict[str, list[int]]:
    by_object: dict[str, list[int]] = {}
    for e in receiver.processed:
        if e["subscription_id"] == sub:
            by_object.setdefault(e["object_uuid"], []).append(e["position"])
    for positions in by_object.values():
        assert positions == sorted(positions)
    return by_object


def test_kill_9_during_delivery_loses_nothing_and_two_schedulers_deliver_each_event_once(app, receiver, tmp_path):
    iw = index_world(app)
    token, sub = subscribe(iw, "sub")
    enable(iw, token, sub, receiver)
    key = f"{sub}:{{}}".format
    s = Fleet(app, tmp_path / "scheduler.log")
    try:
        # -- part 1: 30 changes (10 units, each renamed twice), the scheduler killed mid-delivery -----------
        uuids = create(app, iw.org.ids["R"], [f"K{i}" for i in range(10)])
        rename(app, uuids, "a")
        rename(app, uuids, "b")
        expected = [e["position"] for e in events(iw, token, sub, limit=1000)["events"]]
        assert len(expected) >= 30

        first = s.start()
        s.wait("some events delivered", lambda: len(receiver.processed) >= 8, WAIT)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        s.listening(0)
        time.sleep(DELAY + 0.2)  # a request already on its way is handled by now
        delivered = s.query(f"SELECT delivered_position AS p FROM subscription_push WHERE subscription_id = '{sub}'")
        arrived = [e["position"] for e in receiver.processed]
        assert 8 <= len(arrived) < len(expected), "killed too late: the kill must interrupt delivery"
        committed = [p for p in expected if p <= delivered["p"]]
        in_flight = arrived[len(committed):]  # processed by the receiver, not committed by the killed scheduler
        assert arrived[:len(committed)] == committed and len(in_flight) <= 1
        assert in_flight == expected[len(committed):len(committed) + len(in_flight)]

        s.start()  # a new scheduler continues
        s.wait("every event delivered", lambda: len(receiver.processed) == len(expected), WAIT)
        s.wait("the position committed", lambda: s.query(
            f"SELECT delivered_position AS p FROM subscription_push WHERE subscription_id = '{sub}'")["p"]
            >= expected[-1], WAIT)
        assert receiver.of(sub) == expected  # first arrivals: every event, in position order
        assert set(receiver.keys) == {key(p) for p in expected}  # processed by key exactly once each
        repeated = {k for k, n in receiver.keys.items() if n > 1}
        assert repeated <= {key(p) for p in in_flight}  # only the event in flight at the kill came again
        assert all(n <= 2 for n in receiver.keys.values())
        assert sum(receiver.keys.values()) <= len(expected) + 1
        assert len(first_arrivals_in_order_per_object(receiver, sub)) >= 10
        assert not receiver.bad

        # -- part 2: two schedulers at once, 20 more changes written while they run ----------------------------
        before = Counter(receiver.keys)
        s.start()
        s.listening(2)
        more = create(app, iw.org.ids["R"], [f"M{i}" for i in range(5)])
        rename(app, more + uuids[:5], "c")
        rename(app, more, "d")
        # The feed shows an event once every transaction older than it has ended; a scheduler's
        # delivery transaction may still be open right after the last write.
        expected2: list[int] = []

        def all_twenty_visible() -> bool:
            expected2[:] = [e["position"] for e in events(iw, token, sub, limit=1000)["events"]][len(expected):]
            return len(expected2) >= 20

        s.wait("the 20 new events in the feed", all_twenty_visible, WAIT)
        s.wait("every new event delivered", lambda: len(receiver.processed) == len(expected) + len(expected2), WAIT)
        time.sleep(DELAY + 1.2)  # a poll interval: any second delivery would have arrived by now
        assert all(proc.poll() is None for proc in s.procs[1:]), "a scheduler died"
        assert receiver.of(sub) == expected + expected2  # in position order, so in order per object
        new = receiver.keys - before
        assert set(new) == {key(p) for p in expected2}
        assert all(n == 1 for n in new.values()), f"delivered twice: {[k for k, n in new.items() if n > 1]}"
        by_object = first_arrivals_in_order_per_object(receiver, sub)
        assert all(len(by_object[u]) >= 3 for u in more + uuids[:5])
        assert not receiver.bad
    finally:
        s.stop()
