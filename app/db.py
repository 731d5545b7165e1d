"""PostgreSQL access: one pool per process, one transaction per request.

A request borrows one connection the first time it calls `get_conn()`; the
transaction is committed at the edge (after the view, when the response is a
success) or rolled back, then the connection goes back to the pool.  Code
outside requests (CLI, workers) uses `Database.transaction()`.

Driver errors on named constraints are translated into domain problems
(`constraint_problem`), so a unique violation becomes a 409 that names the
field instead of a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from flask import Flask, current_app, g
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


@dataclass(frozen=True)
class ConstraintRule:
    status: int
    code: str
    field: str
    detail: str


_CONSTRAINTS: dict[str, ConstraintRule] = {}


def register_constraint(name: str, *, status: int = 409, code: str, field: str, detail: str) -> None:
    """Say how a violation of constraint `name` is answered (see errors.py)."""
    _CONSTRAINTS[name] = ConstraintRule(status, code, field, detail)


def constraint_rule(exc: psycopg.Error) -> ConstraintRule | None:
    name = getattr(exc.diag, "constraint_name", None)
    return _CONSTRAINTS.get(name) if name else None


class Database:
    """The connection pool and the ways to borrow from it."""

    def __init__(self, url: str, *, min_size: int, max_size: int, statement_timeout_ms: int,
                 timeout: float = 10.0, name: str = "sts"):
        # force_custom_plan: a generic plan of a prepared query ignores the values, and for the
        # bitemporal lookups (code = $1 AND period @> $2) that means scanning a whole index;
        # planning per execution is far cheaper here (docs/benchmarks.md).
        options = (f"-c statement_timeout={statement_timeout_ms} -c timezone=UTC "
                   "-c plan_cache_mode=force_custom_plan")
        self.url = url
        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False, name=name, timeout=timeout,
            kwargs={"row_factory": dict_row, "options": options, "application_name": name},
            # No check on checkout: it costs a round trip on every request. A connection
            # broken by a server restart fails its request (503) and the pool drops it.
            max_idle=300,
        )

    def open(self) -> None:
        self.pool.open(wait=self.pool.min_size > 0, timeout=self.pool.timeout)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        `timeout`: seconds to wait for a connection (default: DB_POOL_TIMEOUT).
        """
        with self.pool.connection(timeout=timeout) as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[psycopg.Connection]:
        """A connection for statements that cannot run in a transaction block."""
        with self.pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                conn.autocommit = False


def get_db() -> Database:
    return current_app.extensions["sts.db"]


def get_conn() -> psycopg.Connection:
    """The request's connection, in the request's one transaction."""
    if "db_conn" not in g:
        g.db_conn = get_db().pool.getconn()
    return g.db_conn


def with_commit(query: str, params: dict) -> None:
    """Run `query` as the request's last statement, just before its COMMIT.

    Only if the request commits: an answer of 400 or more rolls back and the statement never runs.
    For writes that take a lock held until commit (the access log's hash chain serialises its
    writers): run last, the lock is held from this statement to the COMMIT only, not while the
    answer is built.  When it is the request's only statement, it runs alone in autocommit: one
    round trip.
    """
    g.setdefault("db_with_commit", []).append((query, params))


def _commit(conn: psycopg.Connection, pending: list[tuple[str, dict]] | None) -> None:
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if pending and len(pending) == 1 and idle:
        # Nothing else to commit: the statement alone, in autocommit, is one round trip.
        conn.autocommit = True
        try:
            conn.execute(*pending[0])
        finally:
            conn.autocommit = False
        return
    for query, params in pending or ():
        conn.execute(query, params)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()


def release_conn() -> None:
    """Commit what the request wrote so far and give its connection back now.

    For requests that work through sub-requests of their own (the admin web, admin/api_client.py):
    holding a transaction (and the row locks it took) while a sub-request with its own transaction
    touches the same rows would deadlock.  A later `get_conn()` borrows a fresh connection.
    """
    pending = g.pop("db_with_commit", None)
    if pending:
        get_conn()
    conn = g.pop("db_conn", None)
    if conn is None:
        return
    try:
        _commit(conn, pending)
    finally:
        get_db().pool.putconn(conn)


def _finish_request(response):
    pending = g.pop("db_with_commit", None)
    if response.status_code >= 400:
        return response
    conn = get_conn() if pending else g.get("db_conn")
    if conn is not None and (pending or conn.info.transaction_status != 0):
        try:
            _commit(conn, pending)
        except psycopg.Error as exc:
            # Raised after the view, so Flask's error handlers would not see it.
            conn.rollback()
            from app.errors import problem_for_database_error

            problem = problem_for_database_error(exc)
            if problem is None:
                raise
            return problem
    return response


def _release(_exc: BaseException | None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        if conn.info.transaction_status != 0:  # anything not committed is abandoned
            conn.rollback()
        get_db().pool.putconn(conn)


def init_app(app: Flask) -> None:
    cfg = app.config
    db = Database(cfg["DATABASE_URL"], min_size=cfg["DB_POOL_MIN"], max_size=cfg["DB_POOL_MAX"],
                  statement_timeout_ms=cfg["DB_STATEMENT_TIMEOUT_MS"], timeout=cfg["DB_POOL_TIMEOUT"])
    db.open()
    app.extensions["sts.db"] = db
    app.after_request(_finish_request)
    app.teardown_appcontext(_release)
