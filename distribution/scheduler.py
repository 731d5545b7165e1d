"""The distribution scheduler: one long-running process (`flask distribution scheduler`, started
by `make run`) that keeps the change feed moving.

Jobs (APScheduler 3, a BlockingScheduler with a thread pool):

- `sequence`   position committed change events (distribution.feed.sequence), every second and at
               once when a NOTIFY on channel `change_event` arrives (the triggers send it), so a
               change is positioned, and then delivered, well within a second;
- `deliver`    push delivery (distribution.push.deliver_due, when that module provides it), every
               second and right after `sequence` positioned something;
- `boundaries` every minute: change events for future-dated changes that have taken effect
               (distribution/boundaries.py), with the real clock;
- `cleanup`    daily: delete positioned events older than the retention, never the newest one
               (the sequencer continues from the highest position);
- `kle_imports` the queued KLE uploads (classification/kle_jobs.py `run_due`), every few seconds
               and at once when a NOTIFY on channel `kle_import_job` arrives (sent on every upload).
               It is here rather than in a process of its own because this is the one background
               process `make run` starts that runs jobs from a schedule.

A LISTEN thread on its own autocommit connection (channels `change_event` and `kle_import_job`)
wakes the jobs (`modify_job(next_run_time=now)`).
Every job body catches and logs its errors: a database restart or a failing subscriber must not
end the process; the job simply runs again at its next time.  Two schedulers may run at once:
the sequencer and the boundary scan take advisory locks (the second one skips), push delivery
locks its rows, the cleanup's deletes are idempotent, and a KLE import job is claimed with
FOR UPDATE SKIP LOCKED.  Killing the process loses nothing:
every job's work is one transaction, and what it did not commit is done by the next run.
SIGTERM / SIGINT stop it after the running jobs finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from app.db import Database
from distribution import feed
from distribution.boundaries import emit_boundaries

log = logging.getLogger("sts.distribution.scheduler")

EVENT_RETENTION_DAYS = 30  # positioned change events older than this are deleted by `cleanup`
POLL_SECONDS = 1.0  # `sequence` and `deliver` run at least this often without a NOTIFY
BOUNDARY_SECONDS = 60.0  # how often validity boundaries are checked (their events are this late at most)
CLEANUP_HOURS = 24.0
CLEANUP_BATCH = 10000
CLEANUP_LOCK = "change_event_cleanup"
KLE_IMPORT_SECONDS = 5.0  # queued KLE imports are looked for this often without a NOTIFY
# NOTIFY channel -> the job it wakes
CHANNELS = {"change_event": "sequence", "kle_import_job": "kle_imports"}

_CLEANUP = """
    DELETE FROM change_event WHERE id IN (
        SELECT id FROM change_event
         WHERE position IS NOT NULL AND registered_at < now() - make_interval(days => %(days)s)
           AND position < (SELECT max(position) FROM change_event)
         LIMIT %(batch)s)
"""


def _now() -> datetime:
    return datetime.now(UTC)


class DistributionScheduler:
    """The jobs, the NOTIFY listener and the APScheduler that runs them."""

    def __init__(self, db: Database, *, retention_days: int = EVENT_RETENTION_DAYS, poll_seconds: float = POLL_SECONDS,
                 boundary_seconds: float = BOUNDARY_SECONDS, kle_import_seconds: float = KLE_IMPORT_SECONDS,
                 clock: Callable[[], datetime] = _now):
        self.db, self.retention_days, self.clock = db, retention_days, clock
        self.stop = threading.Event()
        self._woken = threading.Event()  # a NOTIFY arrived: `sequence` runs (again)
        self._kle_woken = threading.Event()  # an upload arrived: `kle_imports` looks (again)
        self._running: dict[str, int] = {}  # job id -> runs in progress
        self._lock = threading.Lock()
        self.scheduler = BlockingScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        start = _now()
        # `sequence` may run twice at once: a NOTIFY during a run starts another that waits for the lock.
        for job_id, seconds, body, instances in (("sequence", poll_seconds, self.sequence, 2),
                                                 ("deliver", poll_seconds, self.deliver, 1),
                                                 ("boundaries", boundary_seconds, self.boundaries, 1),
                                                 ("cleanup", CLEANUP_HOURS * 3600, self.cleanup, 1),
                                                 ("kle_imports", kle_import_seconds, self.kle_imports, 1)):
            self.scheduler.add_job(self._guard(job_id, body), "interval", seconds=seconds, id=job_id, name=job_id,
                                   next_run_time=start, max_instances=instances)

    # -- jobs -------------------------------------------------------------------------------------

    def sequence(self) -> int:
        """Position what committed; again while NOTIFYs keep arriving during the run.

        The sequencer's lock is awaited (feed.sequence alone skips when another holds it): a run
        woken by a NOTIFY then reads after the holder committed, so the commit that sent the
        NOTIFY is always positioned by this run, even with another scheduler busy."""
        total = 0
        while True:
            self._woken.clear()
            with self.db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": feed.SEQUENCER_LOCK})
                n = feed.sequence(conn)
            total += n
            if n:
                log.info("change events positioned", extra={"events": n})
                self.trigger("deliver")
            if not self._woken.is_set() or self.stop.is_set():
                return total

    def deliver(self) -> int:
        """Push the due deliveries (distribution/push.py), until nothing more is delivered."""
        from distribution import push

        total = 0
        while not self.stop.is_set():  # again while there is work: a backlog is not left for the next poll
            n = push.deliver_due(self.db)
            total += n
            if not n:
                return total
        return total

    def boundaries(self) -> int:
        with self.db.transaction() as conn:
            n = emit_boundaries(conn, now=self.clock())
        if n:
            log.info("validity-boundary events written", extra={"events": n})
        return n

    def cleanup(self) -> int:
        """Delete positioned events older than the retention, in batches; never the newest."""
        total = 0
        while not self.stop.is_set():
            with self.db.transaction() as conn:
                if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%(k)s)) AS ok",
                                    {"k": CLEANUP_LOCK}).fetchone()["ok"]:
                    break
                n = conn.execute(_CLEANUP, {"days": self.retention_days, "batch": CLEANUP_BATCH}).rowcount
            total += n
            if n < CLEANUP_BATCH:
                break
        if total:
            log.info("old change events deleted", extra={"events": total, "retention_days": self.retention_days})
        return total

    def kle_imports(self) -> int:
        """Run the queued KLE imports (and those whose runner died), one after another; again when
        an upload's NOTIFY arrived meanwhile (it may have come after the last look for work)."""
        from classification import kle_jobs

        total = 0
        while True:
            self._kle_woken.clear()
            total += kle_jobs.run_due(self.db)
            if not self._kle_woken.is_set() or self.stop.is_set():
                return total

    def _guard(self, job_id: str, body: Callable[[], int]) -> Callable[[], None]:
        def run() -> None:
            with self._lock:
                self._running[job_id] = self._running.get(job_id, 0) + 1
            try:
                body()
            except Exception as exc:  # noqa: BLE001 - one failing run must not end the process
                log.warning("distribution job failed", extra={"job": job_id, "error": repr(exc)[:500]})
            finally:
                with self._lock:
                    self._running[job_id] -= 1

        run.__name__ = job_id
        return run

    # -- waking -----------------------------------------------------------------------------------

    def trigger(self, job_id: str) -> None:
        """Run a job now.  A running `sequence` notices the wake-up flag and runs once more, and a
        second one is started (it waits for the first's lock); with two running the flag is enough.
        A running `kle_imports` notices its flag and looks once more.  Another running job is left
        alone (its next regular run follows within a poll interval)."""
        if job_id == "sequence":
            self._woken.set()
        if job_id == "kle_imports":
            self._kle_woken.set()
        if self._running.get(job_id, 0) >= (2 if job_id == "sequence" else 1):
            return
        try:
            self.scheduler.modify_job(job_id, next_run_time=_now())
        except SchedulerNotRunningError:
            pass

    def listen(self) -> None:
        """LISTEN on `CHANNELS` on an autocommit connection; wake each channel's job on every NOTIFY burst."""
        conn: psycopg.Connection | None = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.db.url, autocommit=True, application_name="sts-distribution-listen")
                    for channel, job_id in CHANNELS.items():
                        conn.execute(f"LISTEN {channel}")
                        self.trigger(job_id)  # what committed while nobody listened
                for notify in conn.notifies(timeout=0.5, stop_after=1):
                    self.trigger(CHANNELS.get(notify.channel, "sequence"))
            except psycopg.Error as exc:
                log.warning("NOTIFY listener failed; reconnecting", extra={"error": repr(exc)[:500]})
                if conn is not None:
                    conn.close()
                conn = None
                self.stop.wait(1.0)
        if conn is not None:
            conn.close()

    # -- the process ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self.stop.set()
        try:
            self.scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass

    def run(self) -> None:
        """Run until SIGTERM / SIGINT (or `shutdown` from another thread)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.shutdown())
            signal.signal(signal.SIGINT, lambda *_: self.shutdown())
        # APScheduler logs every run at INFO; the jobs log what they did themselves.
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
        listener = threading.Thread(target=self.listen, name="change-event-listener", daemon=True)
        listener.start()
        log.info("distribution scheduler started", extra={"jobs": [j.id for j in self.scheduler.get_jobs()]})
        try:
            self.scheduler.start()
        finally:
            self.stop.set()
            listener.join(5)
        log.info("distribution scheduler stopped")
