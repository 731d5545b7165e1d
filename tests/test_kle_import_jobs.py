"""KLE uploads imported in the background (classification/upload_jobs_api.py, classification/kle_jobs.py):
an upload is queued (202, Location, a NOTIFY), a runner imports it while its progress is seen from other
connections, a broken file fails with every problem and its line, a job whose runner died is taken again
(simulated, and with a real `flask klassifikation run-imports` killed mid-import), two runners never take
the same job, the scheduler process imports an upload when its NOTIFY arrives, the synchronous endpoint
is unchanged, and only operators may use any of it.

To see progress while the import's transaction is open, deterministically, a test holds the runner at
one class: its own uncommitted create of that class's UUID makes the runner's insert wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.bitemporal.periods import Period
from app.db import get_db
from classification import kle_jobs
from classification.kle_parser import DEFAULT_MAX_BYTES, parse_kle
from classification.kle_synthetic import synthetic_emneplan
from classification.model import klasser
from tests.world import bearer, standard_world

KLE = Path(__file__).parent / "data" / "kle"
JOBS = "/api/v1/klassifikation/kle-import-jobs"
FLASK = str(Path(sys.executable).with_name("flask"))
# 2 hovedgrupper, 6 grupper, 240 emner: progress at 0, 100, 200 and 248.
BIG = synthetic_emneplan(hovedgrupper=2, grupper_per=3, emner_per=40)
HELD = 149  # the class (0-based, in file order) at which a test holds the runner: after progress 100


@pytest.fixture
def world(app):
    return standard_world(app)


@pytest.fixture
def operator(app, world):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('operator')}"
    return client


def upload(client, data: bytes, filename: str = "kle.xml") -> dict:
    r = client.post(JOBS, data=data, content_type="application/xml", query_string={"filename": filename})
    assert r.status_code == 202, r.get_json()
    assert r.headers["Location"] == f"{JOBS}/{r.get_json()['id']}"
    return r.get_json()


def job(client, job_id: str) -> dict:
    r = client.get(f"{JOBS}/{job_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def run_due(app, **kw) -> int:
    with app.app_context():
        return kle_jobs.run_due(get_db(), **kw)


def sql(app, query: str, params: dict | None = None) -> list[dict]:
    with app.app_context(), get_db().transaction() as conn:
        cursor = conn.execute(query, params or {})
        return cursor.fetchall() if cursor.description else []


def klasse_count(app) -> int:
    return sql(app, "SELECT count(*) AS n FROM klasse")[0]["n"]


def held_at(app, index: int) -> psycopg.Connection:
    """A connection whose open transaction creates the class at `index` of BIG: a runner's create of
    that class waits for it (roll it back to let the runner go on)."""
    uuid = str(parse_kle(BIG).classes[index].uuid)
    conn = psycopg.connect(app.config["DATABASE_URL"], row_factory=dict_row)
    klasser.import_(conn, uuid, {"user_key": [("held", Period())]})
    return conn


def written(job: dict) -> int:
    """Classes written so far according to the job's progress (0 before the import phase)."""
    return (job["progress"] or {}).get("done") or 0


def wait_for(what: str, condition, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def test_an_upload_is_queued_then_imported_with_progress_seen_while_its_transaction_is_open(app, operator, world):
    with psycopg.connect(app.config["DATABASE_URL"], autocommit=True) as listener:
        listener.execute("LISTEN kle_import_job")
        queued = upload(operator, BIG, "emneplan-2026-01.xml")
        notified = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notified == [queued["id"]]  # the runner is woken at once
    assert queued["state"] == "queued" and queued["filename"] == "emneplan-2026-01.xml"
    assert queued["size"] == len(BIG) and queued["attempts"] == 0 and "content" not in queued
    assert queued["uploaded_by"] == world.ids["operator"] and queued["uploaded_by_username"] == "operator"
    listed = operator.get(JOBS).get_json()
    assert listed["total"] == 1 and [j["id"] for j in listed["items"]] == [queued["id"]]

    hold = held_at(app, HELD)
    try:
        with ThreadPoolExecutor(1) as pool:
            runner = pool.submit(run_due, app)
            seen = wait_for("progress 100", lambda: written(j := job(operator, queued["id"])) and j)
            # Seen through the API (other connections) while the import's one transaction is open.
            assert seen["state"] == "running" and seen["attempts"] == 1 and seen["heartbeat_at"]
            assert seen["progress"] == {"phase": "import", "done": 100, "total": 248}
            assert klasse_count(app) == 0  # nothing committed yet: all or nothing
            assert operator.get(JOBS).get_json()["items"][0]["state"] == "running"
            hold.rollback()
            assert runner.result(timeout=120) == 1
    finally:
        hold.close()

    done = job(operator, queued["id"])
    assert done["state"] == "done" and done["progress"] == {"phase": "import", "done": 248, "total": 248}
    assert done["finished_at"] and done["errors"] is None and done["error_count"] == 0
    summary = done["summary"]
    assert (summary["kind"], summary["variant"], summary["published"]) == ("emneplan", "full", "2026-01-01")
    assert (summary["created"], summary["changed"], summary["unchanged"]) == (248, 0, 0)
    assert summary["counts"] == {"hovedgruppe": 2, "gruppe": 6, "emne": 240}
    codes = [c.code for c in parse_kle(BIG).classes]
    assert [e["code"] for e in summary["examples"]["created"]] == codes[:10]
    assert summary["examples"]["changed"] == [] and summary["examples"]["retired"] == []
    assert klasse_count(app) == 248
    assert sql(app, "SELECT content FROM kle_import_job")[0]["content"] is None  # the file is not kept

    # A newer edition: the same summary as the synchronous import would give, plus the examples.
    newer = synthetic_emneplan(hovedgrupper=2, grupper_per=3, emner_per=40, edition=1)
    second = upload(operator, newer)
    assert run_due(app) == 1
    summary = job(operator, second["id"])["summary"]
    assert (summary["created"], summary["changed"]) == (4, 9)
    assert len(summary["examples"]["created"]) == 4 and len(summary["examples"]["changed"]) == 9
    retitled = [e for e in summary["examples"]["changed"] if e["title_before"] != e["title"]]
    assert retitled and all(e["title_before"] for e in retitled)
    assert {e["code"] for e in summary["examples"]["retired"]} <= {e["code"] for e in summary["examples"]["changed"]}
    assert len(summary["examples"]["retired"]) == 4  # three retired, one moved
    listed = operator.get(JOBS, query_string={"limit": 1}).get_json()
    assert [j["id"] for j in listed["items"]] == [second["id"]] and "errors" not in listed["items"][0]
    rest = operator.get(JOBS, query_string={"limit": 1, "cursor": listed["next_cursor"]}).get_json()
    assert [j["id"] for j in rest["items"]] == [queued["id"]] and rest["next_cursor"] is None
    assert run_due(app) == 0


def test_a_broken_file_fails_with_every_problem_and_its_line_and_bad_uploads_are_refused(app, operator):
    broken = upload(operator, (KLE / "broken-code-format.xml").read_bytes(), "broken.xml")
    malformed = upload(operator, (KLE / "broken-malformed.xml").read_bytes())
    assert run_due(app) == 2
    failed = job(operator, broken["id"])
    assert failed["state"] == "failed" and failed["summary"] is None and failed["error_count"] == 4
    assert all(e["code"] == "invalid_kle_file" and e["line"] for e in failed["errors"])
    assert any("wrong code format" in e["message"] for e in failed["errors"])
    assert [e["line"] for e in failed["errors"]] == sorted(e["line"] for e in failed["errors"])
    assert job(operator, malformed["id"])["errors"][0]["line"] == 12
    assert klasse_count(app) == 0
    assert [r["content"] for r in sql(app, "SELECT content FROM kle_import_job")] == [None, None]

    r = operator.post(JOBS, data=b"", content_type="application/xml")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "(file)"
    r = operator.post(JOBS, data=b"<x/>", content_type="application/json")
    assert r.status_code == 415 and r.mimetype == "application/problem+json"
    r = operator.post(JOBS, data=b" " * (DEFAULT_MAX_BYTES + 1), content_type="application/xml")
    assert r.status_code == 413 and r.get_json()["code"] == "file_too_large"
    r = operator.post(JOBS, data=b"<x/>", content_type="application/xml", query_string={"filename": "x" * 256})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "filename"
    assert operator.get(f"{JOBS}/00000000-0000-4000-8000-000000000000").status_code == 404
    r = operator.get(JOBS, query_string={"cursor": "bm9wZQ"})
    assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor"
    assert sql(app, "SELECT count(*) AS n FROM kle_import_job")[0]["n"] == 2


def test_a_job_left_running_by_a_dead_runner_is_taken_again_from_the_start(app, operator):
    data = (KLE / "emneplan-xml2-2026-01.xml").read_bytes()
    dead, exhausted = (upload(operator, data)["id"] for _ in range(2))

    def left_running(job_id: str, attempts: int, heartbeat_ago: str) -> None:
        sql(app, "UPDATE kle_import_job SET state = 'running', attempts = %(a)s, started_at = now(), "
                 "heartbeat_at = now() - %(ago)s::interval, progress = %(p)s WHERE id = %(id)s",
            {"a": attempts, "ago": heartbeat_ago, "id": job_id,
             "p": Jsonb({"phase": "import", "done": 20, "total": 51})})

    left_running(dead, 1, "5 minutes")      # its runner died
    left_running(exhausted, 3, "5 minutes")  # died three times
    assert run_due(app) == 1
    again = job(operator, dead)
    assert again["state"] == "done" and again["attempts"] == 2 and again["summary"]["created"] == 51
    assert again["progress"] == {"phase": "import", "done": 51, "total": 51}
    given_up = job(operator, exhausted)
    assert given_up["state"] == "failed" and given_up["errors"][0]["code"] == "interrupted"
    assert given_up["attempts"] == 3 and given_up["finished_at"]
    assert klasse_count(app) == 51

    # A job whose runner is alive is left alone, and the next one waits for it: one import at a time.
    alive, waiting = (upload(operator, data)["id"] for _ in range(2))
    left_running(alive, 1, "1 second")
    assert run_due(app) == 0
    assert (job(operator, alive)["state"], job(operator, waiting)["state"]) == ("running", "queued")
    # Once its heartbeat is older than the timeout, the job is taken over; the old runner's late writes
    # name an attempt that is no longer the job's (fencing), so they change nothing.
    assert run_due(app, stale_after=timedelta(0)) == 2
    taken = job(operator, alive)
    assert taken["state"] == "done" and taken["attempts"] == 2 and taken["summary"]["unchanged"] == 51
    assert job(operator, waiting)["state"] == "done"
    with app.app_context(), get_db().transaction() as conn:
        assert not kle_jobs._finish_in(conn, {"id": alive, "attempt": 1}, "failed")
    assert job(operator, alive)["state"] == "done"


def flask_env(app) -> dict[str, str]:
    """The environment of a `flask` process against the test app's database."""
    return {**os.environ, "FLASK_APP": "app:create_app()", "DATABASE_URL": app.config["DATABASE_URL"],
            "ELASTICSEARCH_URL": app.config["ELASTICSEARCH_URL"],
            "STS_SEARCH_INDEX_PREFIX": app.config["SEARCH_INDEX_PREFIX"]}


def test_the_scheduler_process_imports_an_upload_when_its_notify_arrives(app, operator, tmp_path):
    log = tmp_path / "scheduler.log"
    with log.open("ab") as out:  # without a NOTIFY it would look for uploads only every ten minutes
        scheduler = subprocess.Popen([FLASK, "scheduler", "run", "--kle-import-seconds", "600"], env=flask_env(app),
                                     stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    try:
        wait_for("the scheduler's LISTEN", lambda: sql(
            app, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
                 "AND application_name = 'sts-distribution-listen' AND query = 'LISTEN kle_import_job'")[0]["n"])
        data = (KLE / "emneplan-xml2-2026-01.xml").read_bytes()
        for expected in (51, 0):  # the second one arrives after the first run looked for work
            job_id = upload(operator, data)["id"]
            done = wait_for("the job done", lambda i=job_id: (j := job(operator, i))["state"] == "done" and j,
                            seconds=15)
            assert done["summary"]["created"] == expected, log.read_text()[-2000:]
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(15) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait(10)


def test_a_runner_process_killed_mid_import_loses_nothing(app, operator, tmp_path):
    queued = upload(operator, BIG)
    env = flask_env(app)
    hold = held_at(app, HELD)
    log = tmp_path / "runner.log"
    try:
        with log.open("ab") as out:
            runner = subprocess.Popen([FLASK, "klassifikation", "run-imports"], env=env, stdout=out, stderr=out,
                                      stdin=subprocess.DEVNULL)
        try:
            wait_for("the runner's progress 100", lambda: written(job(operator, queued["id"])), seconds=60)
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(10)
        hold.rollback()
    finally:
        hold.close()
    assert job(operator, queued["id"])["state"] == "running"
    assert klasse_count(app) == 0  # the killed runner's transaction never committed

    assert run_due(app, stale_after=timedelta(0)) == 1  # as the next runner does after the heartbeat timeout
    done = job(operator, queued["id"])
    assert done["state"] == "done" and done["attempts"] == 2, log.read_text()[-2000:]
    assert done["summary"]["created"] == 248 and klasse_count(app) == 248


def test_two_runners_never_take_the_same_job(app, operator):
    data = (KLE / "handlingsfacetter-2026-01.xml").read_bytes()
    ids = {upload(operator, data, f"h{i}.xml")["id"] for i in range(6)}
    barrier = threading.Barrier(3)

    def runner(_):
        barrier.wait()
        return run_due(app)

    with ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(runner, range(3)))
    assert sum(counts) == 6
    rows = sql(app, "SELECT id, state, attempts, summary FROM kle_import_job")
    assert {str(r["id"]) for r in rows} == ids
    assert all(r["state"] == "done" and r["attempts"] == 1 for r in rows)  # each run exactly once
    # Each file was imported once by one runner: the first import created the classes, the others found them.
    assert sorted(r["summary"]["created"] for r in rows) == [0, 0, 0, 0, 0, 12]


def test_the_synchronous_upload_is_unchanged_and_only_operators_may_queue_or_read_jobs(app, operator, world):
    data = (KLE / "emneplan-xml2-2026-01.xml").read_bytes()
    r = operator.post("/api/v1/klassifikation/kle-imports", data=data, content_type="application/xml")
    assert r.status_code == 200
    assert set(r.get_json()) == {"kind", "variant", "published", "counts", "created", "changed", "unchanged",
                                 "retired", "moved", "warnings"}
    assert r.get_json()["created"] == 51 and r.get_json()["published"] == "2026-01-01"
    queued = upload(operator, data)
    for username in ("admin751", "vendora"):
        other = bearer(world.login(username))
        assert app.test_client().post(JOBS, data=data, content_type="application/xml", headers=other).status_code == 403
        assert app.test_client().get(f"{JOBS}/{queued['id']}", headers=other).status_code == 403
        assert app.test_client().get(JOBS, headers=other).status_code == 403
    assert app.test_client().get(JOBS).status_code == 401
    assert sql(app, "SELECT count(*) AS n FROM kle_import_job")[0]["n"] == 1
