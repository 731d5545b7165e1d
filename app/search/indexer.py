"""Deliver the search outbox to Elasticsearch.

`drain_once` takes a batch of due outbox rows (`FOR UPDATE SKIP LOCKED`, so
several indexers can run), re-reads the current state of those objects from
PostgreSQL, and sends it with one bulk request using external versions:

- an object that exists is indexed with its row's `search_version`;
- an object that is gone is deleted with the outbox id as version (larger
  than any version it had);
- a version conflict means Elasticsearch already holds a newer state: done.

Delivered rows are deleted in the same transaction.  If Elasticsearch cannot
be reached nothing is deleted and `SearchUnavailable` is raised; `run_worker`
then backs off (exponential, with jitter) and tries again, so changes made
while Elasticsearch is down are delivered once it is back.  Items rejected
one by one are retried later with their own backoff and their error kept in
the row (`flask search status` shows them).
"""

from __future__ import annotations

import logging
import select
import signal
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import elasticsearch
import orjson
import psycopg
from elasticsearch.serializer import JsonSerializer
from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

from app.db import Database
from app.search import SearchService, index_spec

# The bulk body is serialised here, with orjson; what it cannot (Decimal, ...) as the client would.
_JSON_DEFAULT = JsonSerializer().default

log = logging.getLogger("sts.search.indexer")

# Item outcomes that mean "Elasticsearch holds this state or a newer one".
_DONE_STATUSES = {200, 201, 409}


class SearchUnavailable(RuntimeError):
    """Elasticsearch could not be reached; the outbox keeps the rows."""


@dataclass
class DrainResult:
    taken: int = 0
    delivered: int = 0
    failed: int = 0


_SELECT_DUE = """
    SELECT id, kind, object_id FROM search_outbox
     WHERE next_attempt_at <= now()
     ORDER BY id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
"""

_BUILDING = "SELECT index_name FROM search_index_build WHERE kind = %(kind)s AND state = 'building'"


def _bulk_actions(search: SearchService, conn: psycopg.Connection, kind: str,
                  keys: dict[str, int]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(key, action, source) triples for every target index of `kind`."""
    docs = index_spec(kind).load(conn, list(keys))
    targets = [(search.alias(kind), True)]
    targets += [(row["index_name"], False) for row in conn.execute(_BUILDING, {"kind": kind})]
    out = []
    for key, outbox_id in keys.items():
        for index, is_alias in targets:
            meta: dict[str, Any] = {"_index": index, "_id": key, "version_type": "external"}
            if is_alias:
                meta["require_alias"] = True
            if key in docs:
                version, source = docs[key]
                out.append((key, {"index": {**meta, "version": version}}, source))
            else:
                out.append((key, {"delete": {**meta, "version": outbox_id}}, None))
    return out


def drain_once(db: Database, search: SearchService, *, batch_size: int = 500,
               refresh: bool | str = False) -> DrainResult:
    """Deliver one batch of due outbox rows.  Returns what happened."""
    result = DrainResult()
    with db.transaction() as conn:
        rows = conn.execute(_SELECT_DUE, {"limit": batch_size}).fetchall()
        if not rows:
            return result
        result.taken = len(rows)
        latest: dict[str, dict[str, int]] = defaultdict(dict)  # kind -> key -> newest outbox id
        for row in rows:
            keys = latest[row["kind"]]
            keys[row["object_id"]] = max(row["id"], keys.get(row["object_id"], 0))

        operations: list[dict[str, Any]] = []
        owners: list[tuple[str, str]] = []  # (kind, key) per action, in bulk order
        for kind, keys in latest.items():
            for key, action, source in _bulk_actions(search, conn, kind, keys):
                operations.append(action)
                if source is not None:
                    operations.append(source)
                owners.append((kind, key))
        body = b"".join(orjson.dumps(op, default=_JSON_DEFAULT) + b"\n" for op in operations)
        try:
            response = search.client.bulk(operations=body, refresh=refresh)
        except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
            raise SearchUnavailable(str(exc)) from exc
        except elasticsearch.TransportError as exc:
            raise SearchUnavailable(f"{type(exc).__name__}: {exc}") from exc

        errors: dict[tuple[str, str], str] = {}
        for owner, item in zip(owners, response["items"], strict=True):
            (op, outcome), = item.items()
            status = outcome.get("status", 0)
            if status in _DONE_STATUSES or (op == "delete" and status == 404):
                continue
            errors[owner] = str(outcome.get("error", outcome))[:2000]
            if "index_not_found" in errors[owner]:
                search.ensure_index(owner[0])

        done_ids = [r["id"] for r in rows if (r["kind"], r["object_id"]) not in errors]
        conn.execute("DELETE FROM search_outbox WHERE id = ANY(%(ids)s)", {"ids": done_ids})
        for (kind, key), error in errors.items():
            ids = [r["id"] for r in rows if r["kind"] == kind and r["object_id"] == key]
            conn.execute(
                """
                UPDATE search_outbox
                   SET attempts = attempts + 1, last_error = %(error)s,
                       next_attempt_at = now() + least(interval '1 second' * power(2, attempts), interval '1 hour')
                 WHERE id = ANY(%(ids)s)
                """,
                {"ids": ids, "error": error},
            )
            log.warning("search item rejected", extra={"kind": kind, "key": key, "error": error})
        result.delivered, result.failed = len(done_ids), len(rows) - len(done_ids)
    return result


def drain(db: Database, search: SearchService, *, batch_size: int = 500, refresh: bool | str = False) -> int:
    """Deliver everything that is due now; returns the number of rows delivered."""
    delivered = 0
    while True:
        result = drain_once(db, search, batch_size=batch_size, refresh=refresh)
        delivered += result.delivered
        if result.taken == 0 or result.delivered == 0:
            return delivered


def run_worker(db: Database, search: SearchService, *, batch_size: int, max_backoff: float,
               poll_interval: float = 5.0, stop: threading.Event | None = None) -> None:
    """Drain forever: wake on NOTIFY from the outbox trigger or every `poll_interval`."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Anything can fail in a process that runs for months (Elasticsearch down or
    # answering 503, PostgreSQL restarting): log it, back off, try again.
    retrying = Retrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential_jitter(multiplier=0.5, max=max_backoff),
        before_sleep=lambda state: log.warning(
            "indexing failed; retrying",
            extra={"attempt": state.attempt_number, "error": repr(state.outcome.exception())[:500]}),
        sleep=stop.wait,
    )
    log.info("indexer started", extra={"index_prefix": search.prefix})
    listener: psycopg.Connection | None = None
    # The indexes are made sure of at start and after a failure, not at every wake-up (two requests to
    # Elasticsearch per kind, and a mapping put into an index that is waiting for its rebuild); an
    # index deleted meanwhile is created again when a bulk answers index_not_found.
    ensured = False
    try:
        while not stop.is_set():
            for attempt in retrying:
                with attempt:
                    if stop.is_set():
                        break
                    if listener is None or listener.closed:
                        listener = psycopg.connect(db.url, autocommit=True)
                        listener.execute("LISTEN search_outbox")
                    if not ensured:
                        search.ensure_indexes()
                        ensured = True
                    try:
                        delivered = drain(db, search, batch_size=batch_size)
                    except Exception:
                        ensured = False
                        raise
                    if delivered:
                        log.info("search outbox delivered", extra={"rows": delivered})
            if listener is not None and not listener.closed:
                # Sleep until a NOTIFY arrives (or the poll interval passes), then drop what queued up.
                select.select([listener.fileno()], [], [], poll_interval)
                try:
                    for _ in listener.notifies(timeout=0):
                        pass
                except psycopg.OperationalError:
                    listener.close()
    finally:
        if listener is not None:
            listener.close()
    log.info("indexer stopped")
