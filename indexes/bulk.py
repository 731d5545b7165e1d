"""JSON-lines ingest of indexed records: the bulk endpoint, the dry-run validation and the CLI load.

One record per line: `{"kind": "sag", ...the record...}` imports (create or overwrite by UUID);
`{"kind": "sag", "op": "remove", "uuid": ..., "changed_at": ...}` removes.  Every line gets its
own answer: accepted, unchanged (the index already holds it), stale (the index holds something
newer: nothing to do) or rejected with every problem found (the field's path and the rule).  A
rejected line writes nothing and the others are written, so a sender resends just the rejected
ones.  Lines are written a batch at a time (indexes/service.py `apply`).

`import_jsonl` (CLI, bench, demo) commits every `batch` lines; under a job name the position is
stored with each batch (index_bulk_job), so a rerun of the same input goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime

import psycopg
from marshmallow import ValidationError, missing

from app.bulk_jobs import BulkJobs
from app.db import constraint_rule
from app.json import read_json
from app.startup import freeze_startup_objects
from app.text_input import RULE as TEXT_RULE
from app.text_input import problem_path_in
from indexes.records import CHANGED_AT, KINDS, document_json
from indexes.references import References
from indexes.service import IndexWriteError, Item, apply, load

JOBS = BulkJobs("index_bulk_job")
STATUSES = ("accepted", "unchanged", "stale", "rejected")


class _DryRun(Exception):
    """Rolls back the savepoint of a validation run."""


def _problem(field: str, detail: str) -> dict:
    return {"field": field, "detail": detail}


def _parse(text: str) -> tuple[str, str, dict] | list[dict]:
    try:
        obj = read_json(text)
    except ValueError as exc:
        return [_problem("(line)", f"Not valid JSON: {exc}.")]
    if not isinstance(obj, dict):
        return [_problem("(line)", "Not a JSON object.")]
    bad = problem_path_in(text, obj)
    if bad:
        return [_problem(bad, TEXT_RULE)]
    kind, op = obj.pop("kind", None), obj.pop("op", "import")
    if kind not in KINDS:
        return [_problem("kind", f"Must be one of {', '.join(KINDS)}.")]
    if op not in ("import", "remove"):
        return [_problem("op", "Must be import (the default) or remove.")]
    return kind, op, obj


def _changed_at(obj: dict) -> datetime | list[dict]:
    """A removal's changed_at, by the rule of a record's."""
    try:
        return CHANGED_AT.deserialize(obj.get("changed_at", missing))
    except ValidationError as exc:
        return [_problem("changed_at", " ".join(exc.messages))]


def parse(text: str, allowed: tuple[str, ...] = KINDS) -> Item | list[dict]:
    """One line as a write (Item), or its problems."""
    parsed = _parse(text)
    if isinstance(parsed, list):
        return parsed
    kind, op, obj = parsed
    if kind not in allowed:
        return [_problem("kind", f"This service takes {', '.join(allowed)} records.")]
    if op == "remove":
        extra = sorted(set(obj) - {"uuid", "changed_at"})
        if extra:
            return [_problem(extra[0], "A removal carries only uuid and changed_at.")]
        changed_at = _changed_at(obj)
        if isinstance(changed_at, list):
            return changed_at
        try:
            return Item(kind, str(uuidlib.UUID(str(obj.get("uuid")))), changed_at, None, "remove")
        except ValueError:
            return [_problem("uuid", "Not a valid UUID.")]
    try:
        record = load(kind, obj)
    except IndexWriteError as exc:
        return exc.errors
    return Item(kind, record["uuid"], record["changed_at"], record, document=document_json(record))


class Tally:
    """The answers of a run, per line, with counts."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(STATUSES, 0)
        self.records: list[dict] = []

    def add(self, line: int, uuid: str | None, status: str, errors: list[dict], code: str | None = None) -> None:
        self.counts[status] += 1
        entry = {"line": line, "uuid": uuid, "status": status, "errors": errors}
        if status == "rejected":
            entry["code"] = code or "invalid_record"
        self.records.append(entry)

    def answer(self) -> dict:
        return {**self.counts, "records": self.records}


def _raw_uuid(text: str) -> str | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj.get("uuid") if isinstance(obj, dict) and isinstance(obj.get("uuid"), str) else None


def parse_lines(lines: list[tuple[int, str]], allowed: tuple[str, ...] = KINDS) -> list[tuple]:
    """(line number, text, Item or problems) of the non-blank lines."""
    return [(n, text, parse(text, allowed)) for n, text in lines if text.strip()]


def _parse_texts(lines: list[tuple[int, str]]) -> list[Item | list[dict]]:
    """parse_lines without the lines themselves: what a validation process sends back (the
    writer has the texts already, and every byte sent is pickled on one side and unpickled on the
    other)."""
    return [parse(text) for _n, text in lines if text.strip()]


def _with_texts(lines: list[tuple[int, str]], parsed: list) -> list[tuple]:
    return [(n, text, p) for (n, text), p in zip([x for x in lines if x[1].strip()], parsed, strict=True)]


def run_batch(conn: psycopg.Connection, municipality_code: int, system_id: str | None,
              lines: list[tuple[int, str]], tally: Tally, *, allowed: tuple[str, ...] = KINDS,
              refs: References | None = None, parsed: list[tuple] | None = None) -> None:
    """Numbered lines in the caller's transaction, answered into `tally`.  Refused lines write
    nothing; should the database refuse the batch as a whole, each line is written again under its
    own savepoint so only the culprit fails.  `parsed`: parse_lines(lines), if done already."""
    parsed = parse_lines(lines, allowed) if parsed is None else parsed
    items = [p for _n, _t, p in parsed if isinstance(p, Item)]
    if refs is None:
        refs = References.named(conn, municipality_code, [i.record for i in items if i.record])
    try:
        with conn.transaction():
            apply(conn, municipality_code, system_id, items, refs)
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError):
        for item in items:
            item.outcome = item.error = None
            try:
                with conn.transaction():
                    apply(conn, municipality_code, system_id, [item], refs)
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                item.outcome = None
                rule = constraint_rule(exc)
                item.error = (IndexWriteError(rule.status, rule.code, rule.field, rule.detail) if rule else
                              IndexWriteError(422, "refused", "(record)",
                                              f"Refused by the database: {exc.diag.message_primary}."))
    for n, text, p in parsed:
        if isinstance(p, list):
            tally.add(n, _raw_uuid(text), "rejected", p)
        elif p.error is not None:
            tally.add(n, p.uuid, "rejected", p.error.errors or [_problem("(record)", p.error.detail)], p.error.code)
        else:
            tally.add(n, p.uuid, p.outcome.status, [])


def run_in(conn: psycopg.Connection, municipality_code: int, system_id: str | None, lines: Iterable[str], *,
           allowed: tuple[str, ...] = KINDS, dry_run: bool = False, batch: int = 1000) -> dict:
    """Every line in the caller's transaction (the API's bulk and validate); `dry_run` rolls it all back."""
    tally, numbered = Tally(), list(enumerate(lines, 1))
    try:
        with conn.transaction():
            for i in range(0, len(numbered), batch):
                run_batch(conn, municipality_code, system_id, numbered[i:i + batch], tally, allowed=allowed)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return tally.answer()


def _parsed_batches(data: list[str], start: int, batch: int, workers: int):
    """(first index, numbered lines, parsed) per batch, parsed ahead of the writing: validating
    records is most of a load's Python work, and it overlaps the database's.

    `workers` 0: one thread of this process parses the next batch while this one is written (the
    writer's waits on PostgreSQL free the interpreter for it).  `workers` N: N processes, `workers`
    batches ahead; they pay off only with cores to spare, because every parsed record is pickled
    across (on 2 cores that cost more CPU than the validation it moved: 3,980-4,680 records/s with the
    thread, 4,230-4,380/s with none, 3,740-4,030/s with one process, in one A/B run)."""
    chunks = [(i, list(enumerate(data[i:i + batch], i + 1))) for i in range(start, len(data), batch)]
    if len(chunks) < 3:
        yield from ((i, numbered, parse_lines(numbered)) for i, numbered in chunks)
        return
    if workers < 1:
        pool, depth, parse_batch, finish = ThreadPoolExecutor(1, "validate"), 1, parse_lines, lambda _lines, p: p
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=freeze_startup_objects)
        depth, parse_batch, finish = workers, _parse_texts, _with_texts
    with pool:
        ahead: deque = deque()
        for i, numbered in chunks:
            ahead.append((i, numbered, pool.submit(parse_batch, numbered)))
            if len(ahead) > depth:
                first, lines_, future = ahead.popleft()
                yield first, lines_, finish(lines_, future.result())
        while ahead:
            first, lines_, future = ahead.popleft()
            yield first, lines_, finish(lines_, future.result())


def import_jsonl(db, municipality_code: int, system_id: str | None, lines: Iterable[str], *,
                 job: str | None = None, batch: int = 1000, progress: Callable[[dict], None] | None = None,
                 workers: int = 0) -> dict:
    """Load a JSON-lines input, committing every `batch` lines; resumable under a job name.
    `workers` processes validate batches ahead of the writing (0: a thread of this process)."""
    data = [line.rstrip("\r\n") for line in lines]
    digest = hashlib.sha256(f"{municipality_code}:{system_id}\n".encode() + "\n".join(data).encode()).hexdigest()
    start = 0
    with db.transaction() as conn:
        refs = References.everything(conn, municipality_code)
        if job:
            start = JOBS.start(conn, job, municipality_code, digest, len(data))
    counts = dict.fromkeys(STATUSES, 0)
    rejected: list[dict] = []
    began = time.monotonic()
    for i, numbered, parsed in _parsed_batches(data, start, batch, workers):
        tally = Tally()
        with db.transaction() as conn:
            run_batch(conn, municipality_code, system_id, numbered, tally, refs=refs, parsed=parsed)
            if job:
                c = tally.counts
                JOBS.save(conn, job, municipality_code, i + batch, accepted=c["accepted"],
                          unchanged=c["unchanged"] + c["stale"], rejected=c["rejected"],
                          finished=i + batch >= len(data))
        for k in STATUSES:
            counts[k] += tally.counts[k]
        rejected += [r for r in tally.records if r["status"] == "rejected"]
        if progress is not None:
            done = min(i + batch, len(data))
            progress({"done": done, "total": len(data), **counts,
                      "rate": (done - start) / max(time.monotonic() - began, 1e-6)})
    return {**counts, "rejected_records": rejected, "resumed_from": start, "total": len(data)}
