"""The access log: who read which persons' data, when, under which agreement.

Views call `record(operation, persons)` when their answer contains personal
data (CPR numbers, names).  The entry is inserted in the request's own
transaction, as its last statement, sent with the COMMIT in one round trip
(`app.db.with_commit`), so the entry and the answer stand or fall together:
an answer that fails (status 400 or more) leaves no entry, and an entry that
cannot be written turns the answer into an error.  Writers are serialised
until they commit (see below); sent with the COMMIT, that lock is held only
inside PostgreSQL, never while Python builds the answer.  Requests run in
READ COMMITTED (the default); the trigger refuses to write under REPEATABLE
READ or SERIALIZABLE, where it could not see the newest row.

Storage (migrations/0005.access-log-usage.sql) is append-only and
hash-chained: the database assigns id and time and computes
`hash = sha256(prev_hash || canonical(row))`; updates, truncation and
deletes outside a recorded purge are refused.  `verify` recomputes the chain
here, with hashlib, exactly as the trigger does, so a row changed behind the
triggers' back is found; `purge` removes rows past retention and keeps the
remaining chain verifiable.  What the chain does not protect against is
written down in the migration.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from flask import g, has_request_context

from app.db import get_conn, with_commit

GENESIS = bytes(32)  # prev_hash of the very first row
_VERSION = "sts-access-log-v1"
_FIELDS = ("id", "at", "request_id", "system_id", "vendor_id", "platform_user_id", "user_uuid",
           "municipality_code", "agreement_id", "operation", "persons")

_INSERT = """
    INSERT INTO access_log (request_id, system_id, vendor_id, platform_user_id, user_uuid, municipality_code,
                            agreement_id, operation, persons)
    VALUES (%(request_id)s, %(system_id)s, %(vendor_id)s, %(platform_user_id)s, %(user_uuid)s,
            %(municipality_code)s, %(agreement_id)s, %(operation)s, %(persons)s)
"""


def record(operation: str, persons: list[str]) -> None:
    """Log that this request returns data about `persons` (URNs such as
    `urn:oio:cpr-nr:0101011234` or `urn:uuid:<uuid>`), for `operation`
    (e.g. "privileges.read").  Runs in the request's transaction, so the
    entry and the answer stand or fall together.  No persons, no entry."""
    principal = g.get("principal")
    if principal is None and persons:
        # A programming error: personal data on a route that does not authenticate.
        raise RuntimeError("access_log.record() needs an authenticated caller (authz.policy)")
    entry = _entry(principal, operation, persons, request_id=g.get("request_id"))
    if entry is None:
        return
    if has_request_context():
        with_commit(_INSERT, entry)
    else:  # a command or job with an app context of its own: its transaction is the connection's
        get_conn().execute(_INSERT, entry)


def record_for(conn: psycopg.Connection, principal: Any, operation: str, persons: list[str], *,
               request_id: str | None = None) -> None:
    """`record` outside a request (push delivery in the scheduler): the caller, the connection of
    the transaction the data is read in, and the request id if there is one are given; the entry
    is inserted at once, in that transaction."""
    entry = _entry(principal, operation, persons, request_id=request_id)
    if entry is not None:
        conn.execute(_INSERT, entry)


def _entry(principal: Any, operation: str, persons: list[str], *, request_id: str | None) -> dict | None:
    unique = list(dict.fromkeys(persons))
    if not unique:
        return None
    if not operation or any(not isinstance(p, str) or not p.startswith("urn:") for p in unique):
        raise ValueError(f"access log: an operation and person URNs are needed, got {operation!r}, {unique!r}")
    return {
        "request_id": request_id,
        "system_id": principal.system_id,
        "vendor_id": principal.vendor_id,
        "platform_user_id": principal.platform_user_id,
        "user_uuid": principal.user_uuid,
        "municipality_code": principal.municipality_code,
        "agreement_id": principal.agreement_id,
        "operation": operation,
        "persons": unique,
    }


# -- the chain, as the trigger computes it ----------------------------------------------------------------------

def _field(value: str | None) -> str:
    return "-" if value is None else f"{len(value.encode())}:{value}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes the trigger hashes after prev_hash (access_log_canonical in SQL)."""
    parts = [_VERSION]
    parts += [_field(_text(row[name])) for name in _FIELDS[:-1]]
    parts.append(_field("".join(_field(p) for p in row["persons"])))
    return "".join(parts).encode()


def row_hash(prev_hash: bytes, row: dict[str, Any]) -> bytes:
    return hashlib.sha256(prev_hash + canonical(row)).digest()


class Verification(NamedTuple):
    ok: bool
    checked: int
    first_bad_id: int | None


class ChainReport(NamedTuple):
    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str | None
    head_id: int | None
    head_hash: bytes | None


def inspect_chain(conn: psycopg.Connection, expect: tuple[int, bytes] | None = None) -> ChainReport:
    """Walk the whole log in id order and recompute every hash.

    The chain starts at the anchor of the newest purge (or GENESIS), and no
    row may remain at or below a purge's `up_to_id`.  `expect` = (id, hash)
    is a head noted earlier outside the database: that row must still be
    there with that hash (this catches a consistent rewrite of the chain, or
    the newest rows removed).  Reads one snapshot: when `conn` is idle, the
    transaction it starts is REPEATABLE READ, READ ONLY.
    """
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    purge_row = conn.execute("SELECT max(up_to_id) AS up_to_id, (array_agg(anchor_hash ORDER BY id DESC))[1] "
                             "AS anchor FROM access_log_purge").fetchone()
    purged_to = purge_row["up_to_id"] or 0
    previous = bytes(purge_row["anchor"]) if purge_row["anchor"] is not None else GENESIS
    checked, head_id, head_hash, expected_seen = 0, None, None, False

    def broken(row_id: int | None, reason: str) -> ChainReport:
        return ChainReport(False, checked, row_id, reason, head_id, head_hash)

    with conn.cursor(name="access_log_verify") as cur:
        cur.itersize = 2000
        cur.execute(f"SELECT {', '.join(_FIELDS)}, prev_hash, hash FROM access_log ORDER BY id")
        for row in cur:
            checked += 1
            stored = bytes(row["hash"])
            if row["id"] <= purged_to:
                return broken(row["id"], f"row {row['id']} should have gone with a purge (up to {purged_to})")
            if bytes(row["prev_hash"]) != previous:
                return broken(row["id"], f"row {row['id']} does not follow the row before it "
                                         "(a row was removed, inserted or changed)")
            if row_hash(previous, row) != stored:
                return broken(row["id"], f"row {row['id']} was changed after it was written")
            if expect is not None and row["id"] == expect[0]:
                if stored != expect[1]:
                    return broken(row["id"], f"row {row['id']} does not have the expected hash "
                                             "(the chain was rewritten)")
                expected_seen = True
            previous, head_id, head_hash = stored, row["id"], stored
    if expect is not None and not expected_seen:
        if expect[0] <= purged_to:
            return broken(None, f"row {expect[0]} has been purged; that head cannot be checked any more")
        return broken(None, f"row {expect[0]} is missing (newer rows were removed)")
    return ChainReport(True, checked, None, None, head_id, head_hash)


def verify(conn: psycopg.Connection) -> Verification:
    """(ok, rows checked, id of the first bad row or None)."""
    report = inspect_chain(conn)
    return Verification(report.ok, report.checked, report.first_bad_id)


def purge(conn: psycopg.Connection, older_than: datetime) -> int:
    """Remove every entry written before `older_than` (and so every older id);
    answers how many.  The purge is recorded, and the chain stays verifiable."""
    return conn.execute("SELECT access_log_purge(%(cutoff)s) AS n", {"cutoff": older_than}).fetchone()["n"]
