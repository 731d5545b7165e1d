"""Usage metering: calls made with system tokens, counted per day,
municipality, system, service and operation, and shown read-only to the
municipality, the vendor and operators (`GET /api/v1/usage`).

Counting must not cost a database write per call, so each process counts in
memory (a dict under a lock; a worker's threads share it) and a background
thread adds the counts to `usage_counter` every USAGE_FLUSH_SECONDS with one
multi-row upsert, in its own transaction on the app's pool; at process exit
the rest is flushed.  A failed flush keeps its counts for the next one.  A
process killed hard loses at most one interval's counts: metering is for
watching consumption, not an audit trail (that is the access log).

Every call made with a valid system token is counted, whatever its answer
(a refused call is consumption a municipality wants to see too); calls
without one (the token endpoint, platform users) are not.  The day is the
Copenhagen date of the call; the operation is "METHOD /rule".
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import Counter
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validates_schema

from app.db import Database, get_conn
from app.identifiers import MUNICIPALITY_CODE
from authz.policy import PlatformRole, current, platform

log = logging.getLogger("sts.usage")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
MAX_ROWS = 5000


class Key(NamedTuple):
    day: date
    municipality_code: int
    system_id: str
    service: str
    operation: str


_UPSERT = """
    INSERT INTO usage_counter AS u (day, municipality_code, system_id, service, operation, calls)
    SELECT * FROM unnest(%(day)s::date[], %(municipality_code)s::smallint[], %(system_id)s::uuid[],
                         %(service)s::text[], %(operation)s::text[], %(calls)s::bigint[])
    ON CONFLICT (day, municipality_code, system_id, service, operation)
    DO UPDATE SET calls = u.calls + EXCLUDED.calls
"""


class Meter:
    """In-memory counts of one app in one process, flushed to PostgreSQL."""

    def __init__(self, db: Database, interval: float):
        self.db = db
        self.interval = interval
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()  # guards _counts; held only briefly, on the request path
        self._flushing = threading.Lock()  # one flush at a time
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def count(self, key: Key) -> None:
        with self._lock:
            self._counts[key] += 1
            if self._pid != os.getpid():  # first call in this process (a thread does not survive fork)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="usage-flush", daemon=True)
                self._thread.start()

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Write the counts so far with one upsert; answers how many counter rows it touched.

        When it returns, every count taken before the call is committed (a
        flush already under way in another thread is waited for)."""
        with self._flushing:
            with self._lock:
                counts, self._counts = self._counts, Counter()
            if not counts:
                return 0
            keys = sorted(counts)  # one lock order for concurrent writers (other processes)
            params = {name: [getattr(k, name) for k in keys] for name in Key._fields}
            params["calls"] = [counts[k] for k in keys]
            try:
                with self.db.transaction() as conn:
                    conn.execute(_UPSERT, params)
            except BaseException:
                with self._lock:
                    self._counts.update(counts)  # keep them for the next flush
                raise
            return len(keys)

    def _run(self) -> None:
        while not self.db.pool.closed:
            time.sleep(self.interval)
            if self.db.pool.closed:  # the app was disposed of (tests); nothing more to do
                return
            try:
                self.flush()
            except Exception:  # the counts are kept; the next tick retries
                log.warning("usage counts could not be written; retrying", exc_info=True)


_meters: weakref.WeakSet[Meter] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for meter in list(_meters):
        if meter.db.pool.closed:
            continue
        try:
            meter.flush()
        except Exception:
            log.warning("usage counts lost at exit", exc_info=True)


def copenhagen_today() -> date:
    return datetime.now(COPENHAGEN).date()


def _count_call(response):
    principal = g.get("principal")
    if principal is not None and principal.is_system and request.url_rule is not None:
        current_app.extensions["sts.usage"].count(Key(
            copenhagen_today(), principal.municipality_code, str(principal.system_id), principal.service,
            f"{request.method} {request.url_rule.rule}"))
    return response


def flush(app: Flask | None = None) -> int:
    """Write this process's counts now (tests; the background thread does it otherwise)."""
    return (app or current_app).extensions["sts.usage"].flush()


def init_app(app: Flask) -> None:
    meter = Meter(app.extensions["sts.db"], app.config["USAGE_FLUSH_SECONDS"])
    _meters.add(meter)
    app.extensions["sts.usage"] = meter
    app.after_request(_count_call)


# -- the read-only view ----------------------------------------------------------------------------------------

blp = Blueprint("usage", __name__, description="Calls per municipality, system, service, operation and day.")


class UsageArgs(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "First day, inclusive (default: the first of "
                                                                  "this month, Copenhagen time)."})
    to = fields.Date(metadata={"description": "Last day, exclusive (default: none)."})
    system_id = fields.UUID()
    municipality_code = fields.Integer(validate=MUNICIPALITY_CODE,
                                       metadata={"description": "Operators and vendor admins: one municipality."})

    @validates_schema
    def _period(self, data, **_):
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be later than `from`.", "to")


class UsageRowSchema(Schema):
    day = fields.Date()
    municipality_code = fields.Integer()
    system_id = fields.UUID()
    system_name = fields.String(allow_none=True)
    vendor_id = fields.UUID(allow_none=True)
    service = fields.String()
    operation = fields.String(metadata={"example": "GET /api/v1/municipalities/<int:code>"})
    calls = fields.Integer()


class UsageTotalSchema(Schema):
    municipality_code = fields.Integer()
    system_id = fields.UUID()
    service = fields.String()
    calls = fields.Integer()


class UsageSchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date(allow_none=True)
    rows = fields.List(fields.Nested(UsageRowSchema), metadata={"description": f"At most {MAX_ROWS}."})
    truncated = fields.Boolean(metadata={"description": "More rows matched than were returned; totals are whole."})
    totals = fields.List(fields.Nested(UsageTotalSchema),
                         metadata={"description": "Per municipality, system and service, over the period."})
    total_calls = fields.Integer()


@blp.route("")
class Usage(MethodView):
    @platform(PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.VENDOR_ADMIN, PlatformRole.OPERATOR)
    @blp.arguments(UsageArgs, location="query")
    @blp.response(200, UsageSchema)
    def get(self, args):
        """Calls per day, municipality, system, service and operation, with totals (read-only).

        Municipality admins see their municipality's calls, vendor admins their
        systems' calls, operators all.  The period is half-open: `from` <= day
        < `to`.  Counts reach the database every few seconds.
        """
        p = current()
        start = args.get("from_") or copenhagen_today().replace(day=1)
        where, params = ["u.day >= %(from)s"], {"from": start}
        if args.get("to"):
            where.append("u.day < %(to)s")
            params["to"] = args["to"]
        if p.platform_role == PlatformRole.MUNICIPALITY_ADMIN:
            where.append("u.municipality_code = %(own_m)s")
            params["own_m"] = p.municipality_code
        elif p.platform_role == PlatformRole.VENDOR_ADMIN:
            where.append("s.vendor_id = %(own_v)s")
            params["own_v"] = p.vendor_id
        for key in ("system_id", "municipality_code"):
            if key in args:
                where.append(f"u.{key} = %({key})s")
                params[key] = args[key]
        source = f"usage_counter u LEFT JOIN it_system s ON s.id = u.system_id WHERE {' AND '.join(where)}"
        conn = get_conn()
        rows = conn.execute(
            f"SELECT u.day, u.municipality_code, u.system_id, s.name AS system_name, s.vendor_id, u.service, "
            f"u.operation, u.calls FROM {source} ORDER BY u.day, u.municipality_code, s.name, u.system_id, "
            f"u.service, u.operation LIMIT %(limit)s", {**params, "limit": MAX_ROWS + 1}).fetchall()
        totals = conn.execute(
            f"SELECT u.municipality_code, u.system_id, u.service, sum(u.calls)::bigint AS calls FROM {source} "
            f"GROUP BY u.municipality_code, u.system_id, u.service ORDER BY 1, 2, 3", params).fetchall()
        return {"from_": start, "to": args.get("to"), "rows": rows[:MAX_ROWS], "truncated": len(rows) > MAX_ROWS,
                "totals": totals, "total_calls": sum(t["calls"] for t in totals)}
