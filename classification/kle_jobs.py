"""The runner of queued KLE imports (table `kle_import_job`, migrations/0021.kle-import-jobs.sql).

Why: a full KLE edition takes seconds to import, and an operator's upload page should show how far
it got instead of holding a request open.  `POST /api/v1/klassifikation/kle-import-jobs`
(classification/upload_jobs_api.py) only stores the file; this module imports it, in the scheduler
process (distribution/scheduler.py, job `kle_imports`, woken by NOTIFY `kle_import_job`) or from
`flask klassifikation run-imports`.

How one job runs (`run_one`):

1. Claim: in its own committed transaction, the oldest due job is locked with `FOR UPDATE SKIP
   LOCKED` (two runners never take the same one), set `running`, `attempts + 1`, heartbeat now.
   Due: `queued`, or `running` with a heartbeat older than `stale_after` (its runner died), with
   fewer than `MAX_ATTEMPTS` attempts; a stale job out of attempts is failed instead.  One job
   runs at a time: nothing is claimed while another job is running with a fresh heartbeat (the
   claims take an advisory lock, so two runners cannot both see "none running").  KLE imports
   would wait for each other anyway (import_edition serialises them), and a job waiting on a
   lock would look dead.
2. Parse the file (no database).  A `KleParseError` fails the job with every problem and its line.
3. Import it with `import_edition` in ONE transaction, all or nothing, as the synchronous upload
   does.  Its progress callback writes `progress` and `heartbeat_at` on a separate autocommit
   connection, so readers see them while the import's transaction is still open.
4. The job is marked `done` with the summary by an UPDATE inside the import's transaction, so the
   classes and the job's outcome commit together.

`attempts` is the fencing token: every write of a runner names the attempt it claimed.  A runner
that was presumed dead but still works finds its writes matching no row (`Superseded`) and rolls
its import back; the runner that took the job over imports the file from the start, which is safe
because importing the same file is idempotent.  Any other exception fails the job with a generic
message (the details go to the log); a lost database connection leaves it `running`, and the next
runner takes it after the heartbeat timeout.  The file (`content`) is dropped when a job ends.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.db import Database
from classification.kle_import import import_edition
from classification.kle_parser import KleParseError, parse_kle

log = logging.getLogger("sts.classification.kle_jobs")

CLAIM_LOCK = "kle_import_job_claim"
STALE_AFTER = timedelta(seconds=60)  # a running job without a heartbeat this long lost its runner
MAX_ATTEMPTS = 3
FAILED = ("The import failed unexpectedly; nothing was imported. Try again, or ask the platform's operations "
          "staff (the log names this job).")
GAVE_UP = (f"The import was interrupted {MAX_ATTEMPTS} times (its runner stopped); nothing was imported. "
           "Upload the file again.")

_GIVE_UP = """
    UPDATE kle_import_job SET state = 'failed', content = NULL, finished_at = now(), errors = %(errors)s
     WHERE state = 'running' AND attempts >= %(max)s AND heartbeat_at < now() - %(stale)s
    RETURNING id
"""
_CLAIM = """
    WITH due AS (
        SELECT id FROM kle_import_job
         WHERE attempts < %(max)s
           AND (state = 'queued' OR (state = 'running' AND heartbeat_at < now() - %(stale)s))
           AND NOT EXISTS (SELECT 1 FROM kle_import_job r
                            WHERE r.state = 'running' AND r.heartbeat_at >= now() - %(stale)s)
         ORDER BY created_at, id
         LIMIT 1
           FOR UPDATE SKIP LOCKED)
    UPDATE kle_import_job j
       SET state = 'running', attempts = j.attempts + 1, started_at = now(), heartbeat_at = now(),
           progress = '{"phase": "parse"}'
      FROM due WHERE j.id = due.id
    RETURNING j.id, j.filename, j.content, j.attempts,
              (SELECT username FROM platform_user u WHERE u.id = j.uploaded_by) AS uploader
"""
_PROGRESS = """
    UPDATE kle_import_job SET progress = %(progress)s, heartbeat_at = now()
     WHERE id = %(id)s AND attempts = %(attempt)s AND state = 'running'
"""
_FINISH = """
    UPDATE kle_import_job
       SET state = %(state)s, summary = %(summary)s, errors = %(errors)s, content = NULL, finished_at = now(),
           heartbeat_at = now()
     WHERE id = %(id)s AND attempts = %(attempt)s AND state = 'running'
"""


class Superseded(Exception):  # a signal rather than an error
    """Another runner took this job over (this one was presumed dead): stop and roll back."""


def run_due(db: Database, *, stale_after: timedelta = STALE_AFTER) -> int:
    """Run due jobs one after another until none is left; returns how many were run."""
    n = 0
    while run_one(db, stale_after=stale_after):
        n += 1
    return n


def run_one(db: Database, *, stale_after: timedelta = STALE_AFTER) -> bool:
    """Claim the oldest due job and run it to its end; False when no job was due."""
    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": CLAIM_LOCK})
        for row in conn.execute(_GIVE_UP, {"errors": Jsonb([{"code": "interrupted", "line": None, "message": GAVE_UP}]),
                                           "max": MAX_ATTEMPTS, "stale": stale_after}).fetchall():
            log.warning("KLE import job given up", extra={"job_id": str(row["id"]), "attempts": MAX_ATTEMPTS})
        job = conn.execute(_CLAIM, {"max": MAX_ATTEMPTS, "stale": stale_after}).fetchone()
    if job is None:
        return False
    _run(db, job)
    return True


def _run(db: Database, job: dict[str, Any]) -> None:
    fence = {"id": job["id"], "attempt": job["attempts"]}
    extra = {"job_id": str(job["id"]), "attempt": job["attempts"], "kle_file": job["filename"]}
    log.info("KLE import job started", extra=extra)
    try:
        with db.autocommit() as beat:
            def report(progress: dict[str, Any]) -> None:
                if beat.execute(_PROGRESS, {**fence, "progress": Jsonb(progress)}).rowcount == 0:
                    raise Superseded

            try:
                edition = parse_kle(bytes(job["content"]))
            except KleParseError as exc:
                errors = [{"code": "invalid_kle_file", "line": line, "message": text} for line, text in exc.errors]
                _finish(db, fence, "failed", errors=errors)
                log.info("KLE import job refused the file", extra={**extra, "problems": len(errors)})
                return
            report({"phase": "import", "done": 0, "total": len(edition.classes)})
            with db.transaction() as conn:
                result = import_edition(
                    conn, edition, actor=f"user:{job['uploader']}" if job["uploader"] else "kle-import-job",
                    progress=lambda done, total: report({"phase": "import", "done": done, "total": total}))
                summary = {"kind": edition.kind, "variant": edition.variant,
                           "published": edition.published.isoformat() if edition.published else None,
                           **result.__dict__}
                if not _finish_in(conn, fence, "done", summary=summary):
                    raise Superseded
        log.info("KLE import job done", extra={**extra, "kle_kind": edition.kind, "classes_created": result.created,
                                               "classes_changed": result.changed})
    except Superseded:
        log.warning("KLE import job taken over by another runner; this run is rolled back", extra=extra)
    except Exception:  # the job fails (logged), the runner goes on
        log.exception("KLE import job failed", extra=extra)
        try:
            _finish(db, fence, "failed", errors=[{"code": "import_failed", "line": None, "message": FAILED}])
        except psycopg.Error as exc:  # the database is away: the job stays running, and is taken again later
            log.warning("KLE import job could not be marked failed", extra={**extra, "error": repr(exc)[:500]})


def _finish_in(conn: psycopg.Connection, fence: dict[str, Any], state: str, *, summary: dict | None = None,
               errors: list[dict] | None = None) -> bool:
    return conn.execute(_FINISH, {**fence, "state": state, "summary": Jsonb(summary) if summary else None,
                                  "errors": Jsonb(errors) if errors else None}).rowcount == 1


def _finish(db: Database, fence: dict[str, Any], state: str, **outcome: Any) -> None:
    with db.transaction() as conn:
        if not _finish_in(conn, fence, state, **outcome):
            log.warning("KLE import job was taken over by another runner", extra={"job_id": str(fence["id"])})
