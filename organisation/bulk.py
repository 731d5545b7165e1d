"""Bulk JSON-lines import of the sync feed: `import_jsonl` (CLI, bench) and `run_in` (the API).

One record per line, `{"kind": "unit", ...}` or `{"kind": "user", ...}`
(organisation/sync_records.py).  Every line is parsed and validated first;
then the records are written in an order that lets each one find what it
refers to: units parents-first (a topological sort of the input's units),
then users (whose positions name units), then each unit's manager and
paying-unit functions (which name users and other units).  The records of
one unit (its history: several valid_from dates) are applied in line order
and written as one change.  Each step is written under its own savepoint,
so a rejected record undoes only itself, and every line is answered:
accepted (something changed), unchanged (a no-op) or rejected (with the
fields at fault).  `import_jsonl` first tries each batch without savepoints
(they cost about a third of a clean load's time); the first rejection rolls
the batch back and it is written again with them.

`import_jsonl` commits every `batch` steps.  With a job name, the position
reached is stored with each batch (table organisation_sync_job, in the same
transaction), and a rerun of the same input under the same name goes on
after the last committed batch: nothing is written twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from marshmallow import ValidationError

from app.bitemporal.deferred import DeferredCreates
from app.bitemporal.periods import copenhagen_today
from app.bulk_jobs import BulkJobs
from app.json import read_json
from app.text_input import RULE, problem_path_in
from classification import service as klassifikation
from classification.model import KLE_EMNEPLAN
from organisation import sync
from organisation.service import OrgError
from organisation.sync import Feed
from organisation.sync_records import SCHEMAS, flatten_errors, load_record

JOBS = BulkJobs("organisation_sync_job")
STATUS_RANK = {"unchanged": 0, "accepted": 1, "rejected": 2}


class Rejected(Exception):
    """A step was rejected in a batch written without savepoints."""


@dataclass
class Step:
    """One write of the import: one user record, all records of one unit, or one unit's links."""

    lines: list[int]
    kind: str  # "unit" | "user" | "links" (a unit's manager and paying unit) | "invalid"
    uuid: str | None
    records: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


def _parse(n: int, text: str) -> Step:
    try:
        obj = read_json(text)
    except ValueError as exc:
        return Step([n], "invalid", None, errors=[{"field": "(line)", "detail": f"Not valid JSON: {exc}."}])
    if not isinstance(obj, dict):
        return Step([n], "invalid", None, errors=[{"field": "(line)", "detail": "Not a JSON object."}])
    raw_uuid = obj.get("uuid") if isinstance(obj.get("uuid"), str) else None
    bad = problem_path_in(text, obj)
    if bad:
        return Step([n], "invalid", None, errors=[{"field": bad, "detail": RULE}])
    kind = obj.pop("kind", None)
    if kind not in SCHEMAS:
        return Step([n], "invalid", raw_uuid, errors=[{"field": "kind", "detail": "Must be 'unit' or 'user'."}])
    try:
        record = load_record(kind, obj)
    except ValidationError as exc:
        return Step([n], "invalid", raw_uuid, errors=flatten_errors(exc.messages))
    if record.get("uuid") is None:
        return Step([n], "invalid", None, errors=[{"field": "uuid", "detail": "Missing data for required field."}])
    return Step([n], kind, str(record["uuid"]), [record])


def _units(records: list[Step]) -> list[Step]:
    """The unit records grouped by unit (its history, in line order: one step, one write), parents
    first: a topological sort by every parent a unit's records name, otherwise in order of first
    appearance, so an input that is already parents-first keeps its order.  Units caught in a
    cycle go last (the hierarchy check then rejects them)."""
    groups: dict[str, Step] = {}
    for r in records:
        group = groups.setdefault(r.uuid, Step([], "unit", r.uuid))
        group.lines += r.lines
        group.records += r.records
    units = list(groups.values())
    index = {u.uuid: i for i, u in enumerate(units)}
    waiting = [0] * len(units)
    children: dict[int, list[int]] = {}
    for i, unit in enumerate(units):
        for parent in {str(r["parent_uuid"]) for r in unit.records if r.get("parent_uuid") is not None}:
            if parent in index and parent != unit.uuid:
                children.setdefault(index[parent], []).append(i)
                waiting[i] += 1
    ready = [i for i in range(len(units)) if waiting[i] == 0]
    heapq.heapify(ready)
    order, done = [], [False] * len(units)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        done[i] = True
        for c in children.get(i, []):
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, c)
    order += [i for i in range(len(units)) if not done[i]]
    return [units[i] for i in order]


def plan(lines: Iterable[str]) -> tuple[list[Step], str]:
    """The steps in processing order and a hash of the input (blank lines are skipped)."""
    digest = hashlib.sha256()
    invalid, units, users = [], [], []
    for n, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        digest.update(text.encode("utf-8", "surrogatepass") + b"\n")
        if not text.strip():
            continue
        step = _parse(n, text)
        {"invalid": invalid, "unit": units, "user": users}[step.kind].append(step)
    units = _units(units)
    links = [Step(u.lines, "links", u.uuid, u.records) for u in units]
    return [*invalid, *units, *users, *links], digest.hexdigest()


class Runner:
    """Writes steps with a savepoint each and keeps one answer per input line."""

    def __init__(self, municipality_code: int, actor: str | None, today: date | None = None):
        self.municipality_code, self.actor = municipality_code, actor
        self.today = today or copenhagen_today()
        self.cache: dict = {}  # type and KLE codes for service.write: looked up once per import
        self.answers: dict[int, dict[str, Any]] = {}
        self.counts = {"accepted": 0, "unchanged": 0, "rejected": 0}

    def feed(self, conn: psycopg.Connection) -> Feed:
        return Feed(conn, self.municipality_code, self.actor, self.cache, self.today)

    def prime(self, conn: psycopg.Connection) -> None:
        """Before the first batch: the municipality's organisation, and every KLE code in one query
        (else service.write looks each code up on first use)."""
        self.feed(conn).start()
        self.cache.setdefault("kle", klassifikation.uuids_by_code(conn, KLE_EMNEPLAN))

    def run(self, conn: psycopg.Connection, steps: list[Step], *, savepoints: bool = True) -> None:
        """The steps in pipeline mode: statements whose results are not read (savepoints, inserts)
        go without waiting for the server, which is most of a write's round trips.  Without
        `savepoints`, the first rejected step raises Rejected (the caller rolls back and retries
        with them).  Without savepoints, new objects are also created many at a time
        (app/bitemporal/deferred.py): a create the database refuses then fails the whole batch."""
        self.cache["fresh"] = set()  # objects created in this transaction (organisation/service.py)
        with conn.pipeline():
            target = conn if savepoints else DeferredCreates(conn)
            feed = self.feed(target)
            feed.prefetch(*_wanted(steps, self.municipality_code))
            for step in steps:
                self._one(feed, step, savepoints)
            if not savepoints:
                target.flush()

    def snapshot(self) -> tuple:
        """What `restore` needs to forget a batch that was rolled back."""
        return dict(self.answers), dict(self.counts), set(self.cache.get("known", ()))

    def restore(self, snapshot: tuple) -> None:
        answers, counts, known = snapshot
        self.answers, self.counts, self.cache["known"] = dict(answers), dict(counts), set(known)

    def _one(self, feed: Feed, step: Step, savepoints: bool = True) -> None:
        if step.kind == "invalid":
            return self._note(step, "rejected", step.errors)
        if step.kind == "links" and self.answers.get(step.lines[0], {}).get("status") == "rejected":
            return None  # the unit itself was rejected
        try:
            with feed.conn.transaction() if savepoints else contextlib.nullcontext():
                if step.kind == "unit":
                    changed = feed.unit_history(step.uuid, step.records)
                elif step.kind == "user":
                    changed = feed.upsert_user(step.uuid, step.records[0])["changed"]
                else:
                    changed = any(c for _k, _u, c in feed.unit_links(step.uuid, step.records))
        except OrgError as exc:
            if not savepoints:
                raise Rejected from exc
            return self._note(step, "rejected", [{"field": exc.field or "(record)", "detail": exc.detail}])
        return self._note(step, "accepted" if changed else "unchanged", [])

    def _note(self, step: Step, status: str, errors: list[dict]) -> None:
        """One answer per line (all lines of a unit share it); a unit's links step can only make
        its answer worse."""
        for line in step.lines:
            before = self.answers.get(line)
            if before is not None:
                if STATUS_RANK[status] <= STATUS_RANK[before["status"]]:
                    continue
                self.counts[before["status"]] -= 1
            self.answers[line] = {"line": line, "uuid": step.uuid, "status": status, "errors": errors}
            self.counts[status] += 1

    def rejected(self) -> list[dict]:
        return [{k: a[k] for k in ("line", "uuid", "errors")} for _n, a in sorted(self.answers.items())
                if a["status"] == "rejected"]


def _wanted(steps: list[Step], municipality_code: int) -> tuple[dict[str, list[str]], list[str]]:
    """The objects the steps will read before writing (for Feed.prefetch), and the users."""
    wanted: dict[str, list[str]] = {"enhed": [], "bruger": [], "person": [], "funktion": []}
    users = []
    for s in steps:
        if s.kind == "unit":
            wanted["enhed"].append(s.uuid)
        elif s.kind == "links":
            wanted["funktion"] += [sync.manager_function_uuid(s.uuid), sync.paying_function_uuid(s.uuid)]
        elif s.kind == "user":
            users.append(s.uuid)
            wanted["bruger"].append(s.uuid)
            wanted["person"].append(sync.record_person_uuid(municipality_code, s.uuid, s.records[0]))
            wanted["funktion"] += [sync.record_position_uuid(s.uuid, p) for p in s.records[0]["positions"]]
    return {k: list(dict.fromkeys(v)) for k, v in wanted.items()}, list(dict.fromkeys(users))


def run_in(conn: psycopg.Connection, municipality_code: int, lines: Iterable[str], *,
           actor: str | None = None) -> dict:
    """The whole input in the caller's transaction (the API): every line's answer, in line order."""
    steps, _digest = plan(lines)
    runner = Runner(municipality_code, actor)
    runner.prime(conn)
    runner.run(conn, steps)
    return {**runner.counts, "records": [a for _n, a in sorted(runner.answers.items())]}


def import_jsonl(db, municipality_code: int, lines: Iterable[str], *, job: str | None = None, batch: int = 500,
                 progress: Callable[[dict], None] | None = None, actor: str | None = None) -> dict:
    """Import JSON lines, committing every `batch` steps; resumable under a job name.

    `db` is app.extensions["sts.db"].  `progress` gets {"done", "total", "accepted", "unchanged",
    "rejected", "rate"} after each batch: done and total count steps (one per user record, one
    per unit with all its records, one more per unit for its manager and paying unit), rate is
    steps per second, the counts are of lines.  Returns {"accepted", "unchanged", "rejected":
    [{"line", "uuid", "errors"}], "resumed_from", "total"}; an unknown municipality raises
    OrgError(404)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    steps, digest = plan(lines)
    digest = hashlib.sha256(f"{municipality_code}:{digest}".encode()).hexdigest()
    runner = Runner(municipality_code, actor)
    with db.transaction() as conn:
        runner.prime(conn)
        start = JOBS.start(conn, job, municipality_code, digest, len(steps)) if job else 0
    began = time.monotonic()
    for i in range(start, len(steps), batch):
        chunk = steps[i:i + batch]
        before, snapshot = dict(runner.counts), runner.snapshot()
        for savepoints in (False, True):
            try:
                with db.transaction() as conn:
                    if i + len(chunk) < len(steps):
                        # Batches before the last need not wait for their WAL flush: the last one's
                        # commit flushes everything before it, and a crash before that leaves the
                        # import unfinished (resumed by job name, or simply run again).
                        conn.execute("SET LOCAL synchronous_commit = off")
                    runner.run(conn, chunk, savepoints=savepoints)
                    if job:
                        added = {k: runner.counts[k] - before[k] for k in before}
                        JOBS.save(conn, job, municipality_code, i + len(chunk), accepted=added["accepted"],
                                  unchanged=added["unchanged"], rejected=added["rejected"],
                                  finished=i + len(chunk) >= len(steps))
                break
            except Rejected:
                runner.restore(snapshot)  # rolled back: write the batch again, a savepoint per step
        if progress is not None:
            elapsed = max(time.monotonic() - began, 1e-6)
            progress({"done": i + len(chunk), "total": len(steps), **runner.counts,
                      "rate": round((i + len(chunk) - start) / elapsed, 1)})
    return {"accepted": runner.counts["accepted"], "unchanged": runner.counts["unchanged"],
            "rejected": runner.rejected(), "resumed_from": start, "total": len(steps)}
