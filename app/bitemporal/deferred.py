"""Creates held back and sent many at a time: a connection wrapper for bulk writers.

`DeferredCreates(conn)` behaves like `conn`, except that `Store.create` on it
does not execute: the new object is queued, and the queue is sent as one
statement per object type (object rows, first registrations and facts of up
to `limit` objects from one JSON document) the next time anything else runs
on the connection (`execute`, `cursor`, `transaction`, `pipeline`) or on
`flush()`.  Every other statement therefore sees exactly what it would have
seen had the creates run one by one, so callers need no changes beyond
wrapping the connection and flushing before they commit.

Why: a bulk load is mostly creates of small objects (a user, its person, its
engagements).  One statement per object spends most of its time on the way
(parameter dumping, protocol, executor start-up), not in the tables.

Errors of a queued create surface at the flush, not at `create`: use it
where a failing create aborts the batch anyway (organisation/bulk.py writes
such batches again one savepoint per record, without this wrapper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from app.bitemporal.store import Store


class DeferredCreates:
    """`conn` with `Store.create` queued until the next other statement or `flush()`."""

    def __init__(self, conn: psycopg.Connection, *, limit: int = 1000):
        self._conn = conn
        self._limit = limit
        self._queued: dict[Store, list[dict[str, Any]]] = {}
        self._count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    @property
    def connection(self) -> psycopg.Connection:
        return self._conn

    def defer_create(self, store: Store, row: dict[str, Any]) -> None:
        self._queued.setdefault(store, []).append(row)
        self._count += 1
        if self._count >= self._limit:
            self.flush()

    def flush(self) -> None:
        queued, self._queued, self._count = self._queued, {}, 0
        for store, rows in queued.items():
            self._conn.execute(store.create_many_sql(self._conn), {"objs": Jsonb(rows)})

    def execute(self, *args: Any, **kwargs: Any) -> psycopg.Cursor:
        self.flush()
        return self._conn.execute(*args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> psycopg.Cursor:
        self.flush()
        return self._conn.cursor(*args, **kwargs)

    def transaction(self, *args: Any, **kwargs: Any):
        self.flush()
        return self._conn.transaction(*args, **kwargs)

    def pipeline(self):
        self.flush()
        return self._conn.pipeline()
