"""JSON-lines ingest of indexed records: the bulk endpoint, the dry-run validation and the CLI load.

One record per line: `{"kind": "sag", ...the record...}` imports (create or overwrite by UUID);
`{"kind": "sag", "op": "remove", "uuid": ..., "changed_at": ...}` removes.  Every line gets its
own answer: accepted, unchanged (the index already holds it), stale (the index holds something
newer: nothing to do) or rejected with every problem found (the field's path and the rule).  Each
line is written under its own savepoint, so a rejected line undoes only itself and a sender can
resend just the rejected ones.

`import_jsonl` (CLI, bench, demo) commits every `batch` lines; under a job name the position is
stored with each batch (index_bulk_job), so a rerun of the same input goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import psycopg

from indexes.records import KINDS
from indexes.service import IndexWriteError, Outcome, Writer

STATUSES = ("accepted", "unchanged", "stale", "rejected")


class _DryRun(Exception):
    """Rolls back the savepoint of a validation run."""


def _problem(field: str, detail: str) -> dict:
    return {"field": field, "detail": detail}


def _parse(text: str) -> tuple[str, str, dict] | list[dict]:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return [_problem("(line)", f"Not valid JSON: {exc}.")]
    if not isinstance(obj, dict):
        return [_problem("(line)", "Not a JSON object.")]
    kind, op = obj.pop("kind", None), obj.pop("op", "import")
    if kind not in KINDS:
        return [_problem("kind", f"Must be one of {', '.join(KINDS)}.")]
    if op not in ("import", "remove"):
        return [_problem("op", "Must be import (the default) or remove.")]
    return kind, op, obj


def _changed_at(obj: dict) -> datetime | list[dict]:
    value = obj.get("changed_at")
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return [_problem("changed_at", "Required: a date-time with a UTC offset.")]
    return parsed


def write_line(writer: Writer, text: str, *, allowed: tuple[str, ...] = KINDS) -> tuple[str | None, Outcome | list]:
    """One line: (uuid or None, Outcome) or (uuid or None, problems).  Raises nothing for bad input."""
    parsed = _parse(text)
    if isinstance(parsed, list):
        return None, parsed
    kind, op, obj = parsed
    uuid = obj.get("uuid") if isinstance(obj.get("uuid"), str) else None
    if kind not in allowed:
        return uuid, [_problem("kind", f"This service takes {', '.join(allowed)} records.")]
    try:
        if op == "remove":
            if set(obj) - {"uuid", "changed_at"}:
                return uuid, [_problem(sorted(set(obj) - {"uuid", "changed_at"})[0],
                                       "A removal carries only uuid and changed_at.")]
            changed_at = _changed_at(obj)
            if isinstance(changed_at, list):
                return uuid, changed_at
            return uuid, writer.remove(kind, _uuid(obj.get("uuid")), changed_at)
        return uuid, writer.import_(kind, obj)
    except IndexWriteError as exc:
        return uuid, exc.errors or [_problem("(record)", exc.detail)]


def _uuid(value: Any) -> str:
    import uuid as uuidlib

    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise IndexWriteError(422, "invalid_record", "uuid", "Not a valid UUID.") from None


class Tally:
    """The answers of a run, per line, with counts."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(STATUSES, 0)
        self.records: list[dict] = []

    def add(self, line: int, uuid: str | None, result: Outcome | list) -> None:
        if isinstance(result, Outcome):
            status, errors, uuid = result.status, [], result.uuid
        else:
            status, errors = "rejected", result
        self.counts[status] += 1
        self.records.append({"line": line, "uuid": uuid, "status": status, "errors": errors})

    def answer(self) -> dict:
        return {**self.counts, "records": self.records}


def run_in(conn: psycopg.Connection, writer: Writer, lines: Iterable[str], *, allowed: tuple[str, ...] = KINDS,
           dry_run: bool = False) -> dict:
    """Every line in the caller's transaction, each under a savepoint; `dry_run` rolls all back."""
    tally = Tally()
    try:
        with conn.transaction():
            for n, text in enumerate(lines, 1):
                if text.strip():
                    _one(conn, writer, n, text, tally, allowed)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return tally.answer()


def _one(conn, writer: Writer, n: int, text: str, tally: Tally, allowed: tuple[str, ...]) -> None:
    result: tuple[str | None, Outcome | list] = (None, [])
    try:
        with conn.transaction():
            result = write_line(writer, text, allowed=allowed)
            if isinstance(result[1], list):
                raise _DryRun  # undo whatever the rejected line wrote before it was refused
    except _DryRun:
        pass
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:  # rolled back to the savepoint
        result = (result[0], [_problem("(record)", f"Refused by the database: {exc.diag.message_primary}.")])
    tally.add(n, *result)


def import_jsonl(db, municipality_code: int, system_id: str | None, lines: Iterable[str], *,
                 job: str | None = None, batch: int = 1000, progress: Callable[[dict], None] | None = None) -> dict:
    """Load a JSON-lines input, committing every `batch` lines; resumable under a job name."""
    data = [line.rstrip("\r\n") for line in lines]
    digest = hashlib.sha256(f"{municipality_code}:{system_id}\n".encode() + "\n".join(data).encode()).hexdigest()
    start = 0
    if job:
        with db.transaction() as conn:
            start = _job_start(conn, job, municipality_code, digest, len(data))
    counts = dict.fromkeys(STATUSES, 0)
    rejected: list[dict] = []
    began = time.monotonic()
    for i in range(start, len(data), batch):
        with db.transaction() as conn:
            writer = Writer(conn, municipality_code, system_id)
            tally = Tally()
            for n, text in enumerate(data[i:i + batch], i + 1):
                if text.strip():
                    _one(conn, writer, n, text, tally, KINDS)
            if job:
                _job_save(conn, job, municipality_code, i + batch, tally.counts, i + batch >= len(data))
        for k in STATUSES:
            counts[k] += tally.counts[k]
        rejected += [r for r in tally.records if r["status"] == "rejected"]
        if progress is not None:
            done = min(i + batch, len(data))
            progress({"done": done, "total": len(data), **counts,
                      "rate": (done - start) / max(time.monotonic() - began, 1e-6)})
    return {**counts, "rejected_records": rejected, "resumed_from": start, "total": len(data)}


def _job_start(conn, job: str, municipality_code: int, digest: str, total: int) -> int:
    row = conn.execute("SELECT input_hash, position FROM index_bulk_job WHERE municipality_code = %(m)s "
                       "AND name = %(n)s FOR UPDATE", {"m": municipality_code, "n": job}).fetchone()
    if row is not None and row["input_hash"] == digest:
        return min(row["position"], total)
    conn.execute("""INSERT INTO index_bulk_job (municipality_code, name, input_hash, total)
                    VALUES (%(m)s, %(n)s, %(h)s, %(t)s)
                    ON CONFLICT (municipality_code, name) DO UPDATE SET input_hash = %(h)s, total = %(t)s,
                        position = 0, accepted = 0, unchanged = 0, rejected = 0, started_at = now(),
                        updated_at = now(), finished_at = NULL""",
                 {"m": municipality_code, "n": job, "h": digest, "t": total})
    return 0


def _job_save(conn, job: str, municipality_code: int, position: int, added: dict, finished: bool) -> None:
    conn.execute("""UPDATE index_bulk_job SET position = %(p)s, accepted = accepted + %(a)s,
                           unchanged = unchanged + %(u)s + %(s)s, rejected = rejected + %(r)s, updated_at = now(),
                           finished_at = CASE WHEN %(f)s THEN now() END
                     WHERE municipality_code = %(m)s AND name = %(n)s""",
                 {"p": position, "a": added["accepted"], "u": added["unchanged"], "s": added["stale"],
                  "r": added["rejected"], "f": finished, "m": municipality_code, "n": job})
