"""The distribution scheduler and validity-boundary events (distribution/scheduler.py, boundaries.py):
a future-dated move becomes an event when it takes effect (controllable clock), once, even with two
emitters; the scheduler process positions changes when NOTIFY wakes it, loses nothing when killed,
and two of them at once still give consecutive positions."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.bitemporal.periods import Period, copenhagen_today, local_midnight
from app.db import get_db
from distribution import feed
from distribution.boundaries import emit_boundaries
from distribution.scheduler import DistributionScheduler
from tests.indexes_world import index_world
from tests.test_distribution_feed import events, subscribe, unit

FLASK = str(Path(sys.executable).with_name("flask"))


@pytest.fixture
def iw(app):
    return index_world(app)


def head(app) -> int:
    """The last position, after positioning what committed."""
    with app.app_context(), get_db().transaction() as conn:
        feed.sequence(conn)
        return conn.execute("SELECT max(position) AS p FROM change_event").fetchone()["p"]


def emit(app, now: datetime) -> int:
    with app.app_context(), get_db().transaction() as conn:
        return emit_boundaries(conn, now=now)


def after(iw, token, sub, position: int) -> list[dict]:
    return events(iw, token, sub, after=position, limit=1000)["events"]


def test_a_future_dated_move_produces_its_event_when_it_takes_effect_and_only_once(app, iw):
    token, sub = subscribe(iw, "sub")
    a = iw.org.ids["A"]
    day3 = local_midnight(copenhagen_today() + timedelta(days=3))
    before = head(app)
    iw.org.move("A", "B", Period(day3, None))
    assert a in {e["object_uuid"] for e in after(iw, token, sub, before)}  # the write's own event
    last = head(app)

    emit(app, datetime.now(UTC))  # today: the move has not taken effect
    assert a not in {e["object_uuid"] for e in after(iw, token, sub, last)}

    assert emit(app, day3 + timedelta(hours=1)) >= 1  # the clock passes the valid-from
    effect = [e for e in after(iw, token, sub, last) if e["object_uuid"] == a]
    assert [(e["object_type"], e["change"], e["municipality_code"]) for e in effect] == [("enhed", "updated", 751)]
    last = effect[0]["position"]
    assert emit(app, day3 + timedelta(hours=1)) == 0  # again: nothing new
    assert emit(app, day3 + timedelta(days=1)) == 0  # the boundary is behind the watermark
    assert after(iw, token, sub, last) == []

    # Another future move; two emitters at the same instant write its event once.
    day5 = day3 + timedelta(days=2)
    iw.org.move("A", "F", Period(day5, None))
    last = head(app)
    barrier = threading.Barrier(2)

    def racing(_):
        barrier.wait()
        return emit(app, day5 + timedelta(hours=1))

    with ThreadPoolExecutor(2) as pool:
        counts = sorted(pool.map(racing, range(2)))
    assert counts[0] == 0 and counts[1] >= 1
    assert [e["object_uuid"] for e in after(iw, token, sub, last) if e["object_uuid"] == a] == [a]


def test_cleanup_deletes_old_positioned_events_but_never_the_newest_and_a_failing_job_is_logged(app, caplog):
    with app.app_context():
        db = get_db()
        with db.transaction() as conn:
            conn.execute("INSERT INTO change_event (object_type, object_uuid, change, registered_at, position) "
                         "SELECT 'enhed', gen_random_uuid(), 'updated', now() - interval '40 days', p "
                         "FROM generate_series(1, 3) p")  # three old positioned events
            conn.execute("INSERT INTO change_event (object_type, object_uuid, change, registered_at) "
                         "VALUES ('enhed', gen_random_uuid(), 'updated', now() - interval '40 days')")  # unpositioned
        scheduler = DistributionScheduler(db, retention_days=30)
        assert scheduler.cleanup() == 2
        with db.transaction() as conn:
            left = conn.execute("SELECT position FROM change_event ORDER BY position").fetchall()
        assert [r["position"] for r in left] == [3, None]  # the newest stays: positions continue from it

        def broken() -> int:
            raise RuntimeError("boom")

        with caplog.at_level(logging.WARNING, logger="sts.distribution.scheduler"):
            scheduler._guard("broken", broken)()  # does not raise
        assert "distribution job failed" in caplog.text


# -- the scheduler process ---------------------------------------------------------------------------


class Schedulers:
    """`flask distribution scheduler` processes against the test app's database."""

    def __init__(self, app, log: Path):
        self.app, self.log, self.procs = app, log, []
        self.env = {**os.environ, "FLASK_APP": "app:create_app()", "DATABASE_URL": app.config["DATABASE_URL"],
                    "ELASTICSEARCH_URL": app.config["ELASTICSEARCH_URL"],
                    "STS_SEARCH_INDEX_PREFIX": app.config["SEARCH_INDEX_PREFIX"], "STS_LOG_LEVEL": "INFO"}

    def start(self) -> subprocess.Popen:
        # Polling only once a minute: positions within seconds prove that the NOTIFY woke it.
        with self.log.open("ab") as log:
            proc = subprocess.Popen([FLASK, "distribution", "scheduler", "--poll-seconds", "60"], env=self.env,
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def query(self, sql: str) -> dict:
        with self.app.app_context(), get_db().transaction() as conn:
            return conn.execute(sql).fetchone()

    def wait(self, what: str, condition, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def listening(self, n: int) -> None:
        self.wait(f"{n} listener(s)", lambda: self.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'sts-distribution-listen' AND query LIKE 'LISTEN %%'")["n"] == n)

    def counts(self) -> dict:
        return self.query("SELECT count(*) AS n, count(position) AS positioned, coalesce(min(position), 1) AS lo, "
                          "coalesce(max(position), 0) AS hi FROM change_event")

    def all_positioned(self, seconds: float = 5) -> dict:
        self.wait("every event positioned", lambda: (c := self.counts())["n"] == c["positioned"], seconds)
        c = self.counts()
        assert (c["lo"], c["hi"]) == (1, c["n"])  # consecutive from 1: no gaps, no duplicates
        return c

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def write_units(app, keys: list[str], parent: str | None = None) -> str:
    with app.app_context(), get_db().transaction() as conn:
        return [unit(conn, key, parent=parent) for key in keys][-1]


def test_the_scheduler_is_woken_by_notify_survives_kill_9_and_runs_twice_safely(app, tmp_path):
    assert app.test_cli_runner().invoke(args=["klassifikation", "seed"]).exit_code == 0  # unit types
    s = Schedulers(app, tmp_path / "scheduler.log")
    try:
        first = s.start()
        s.listening(1)
        seeded = s.all_positioned()["n"]
        root = write_units(app, ["N1"])
        assert s.all_positioned(seconds=3)["n"] == seeded + 1  # nobody called sequence: a NOTIFY woke it

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        s.listening(0)
        for key in ("D1", "D2", "D3"):  # written while no scheduler runs
            write_units(app, [key], root)
        assert s.counts()["positioned"] == seeded + 1
        s.start()
        s.listening(1)
        assert s.all_positioned()["n"] == seeded + 4  # nothing lost

        second = s.start()  # two schedulers at once
        s.listening(2)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: [write_units(app, [f"P{i}-{j}"], root) for j in range(5)], range(4)))
        assert s.all_positioned()["n"] == seeded + 24

        second.send_signal(signal.SIGTERM)  # a clean stop
        assert second.wait(15) == 0
    finally:
        s.stop()
