"""`GET /api/v1/access-log`: the access log, for the municipality it concerns.

A municipality admin sees the entries written under their municipality
(system calls under its agreements, and its own admins' reads); operators
see all.  Filters: person, system, end user, period (half-open `[from, to)`).
Newest first, keyset-paged on (at, id).  The answer itself names persons,
so reading the log is logged too (operation `access_log.read`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem
from app.identifiers import MUNICIPALITY_CODE
from app.instants import UtcDateTime
from app.paging import PageArgs, PageSchema, decode_typed_cursor, encode_cursor
from authz import access_log
from authz.policy import PlatformRole, current, platform

blp = Blueprint("access_log", __name__, description="Who read which persons' data (the access log).")

_COLUMNS = ("id, at, request_id, system_id, vendor_id, platform_user_id, user_uuid, municipality_code, "
            "agreement_id, operation, persons")


class AccessLogArgs(PageArgs):
    person = fields.String(validate=validate.Length(min=5, max=200),
                           metadata={"description": "Entries about this person (URN, exact), e.g. "
                                                    "`urn:oio:cpr-nr:0101011234` or `urn:uuid:...`."})
    system_id = fields.UUID(metadata={"description": "Entries written for calls of this IT system."})
    user_uuid = fields.UUID(metadata={"description": "Entries of calls made on behalf of this end user."})
    municipality_code = fields.Integer(validate=MUNICIPALITY_CODE,
                                       metadata={"description": "Operators: one municipality. A municipality "
                                                                "admin may only give their own."})
    from_ = UtcDateTime(data_key="from", default_timezone=UTC,
                        metadata={"description": "From this time, inclusive (ISO 8601; UTC if no offset)."})
    to = UtcDateTime(default_timezone=UTC,
                     metadata={"description": "Until this time, exclusive (ISO 8601; UTC if no offset)."})

    @validates_schema
    def _period(self, data, **_):
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("Must be later than `from`.", "to")


class AccessLogEntrySchema(Schema):
    id = fields.Integer(metadata={"description": "Position in the hash chain."})
    at = fields.DateTime()
    request_id = fields.String(allow_none=True, metadata={"description": "X-Request-ID of the call."})
    system_id = fields.UUID(allow_none=True)
    vendor_id = fields.UUID(allow_none=True)
    platform_user_id = fields.UUID(allow_none=True, metadata={"description": "A platform user's own read."})
    user_uuid = fields.UUID(allow_none=True, metadata={"description": "The end user a system acted for."})
    municipality_code = fields.Integer(allow_none=True)
    agreement_id = fields.UUID(allow_none=True)
    operation = fields.String(metadata={"example": "privileges.read"})
    persons = fields.List(fields.String(), metadata={"description": "URNs of the persons concerned."})


class AccessLogPageSchema(PageSchema):
    items = fields.List(fields.Nested(AccessLogEntrySchema))


def _scope(args: dict) -> tuple[list[str], dict]:
    """WHERE clauses for the caller's scope and the filters."""
    p = current()
    where: list[str] = []
    params: dict = {}
    code = args.get("municipality_code")
    if not p.is_operator:
        if code is not None and code != p.municipality_code:
            raise Problem(403, "forbidden", "A municipality admin sees only their own municipality's access log.")
        code = p.municipality_code
    if code is not None:
        where.append("municipality_code = %(m)s")
        params["m"] = code
    if "person" in args:
        where.append("persons @> ARRAY[%(person)s]::text[]")
        params["person"] = args["person"]
    for key in ("system_id", "user_uuid"):
        if key in args:
            where.append(f"{key} = %({key})s")
            params[key] = args[key]
    if "from_" in args:
        where.append("at >= %(from_)s")
        params["from_"] = args["from_"]
    if "to" in args:
        where.append("at < %(to)s")
        params["to"] = args["to"]
    return where, params


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    return decode_typed_cursor(cursor, datetime.fromisoformat, int)


@blp.route("")
class AccessLog(MethodView):
    @platform(PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
    @blp.arguments(AccessLogArgs, location="query")
    @blp.response(200, AccessLogPageSchema)
    @blp.alt_response(400, **problem_doc("invalid_cursor: the cursor was not issued by this service."))
    @blp.alt_response(403, **problem_doc("A municipality admin asked for another municipality."))
    def get(self, args):
        """Access-log entries: who read which persons' data, when, under which agreement (newest first).

        Municipality admins see their own municipality's entries, operators
        all.  The period is half-open: `from` <= at < `to`.  Follow
        `next_cursor` until it is null.  This read is itself logged.
        """
        where, params = _scope(args)
        conn = get_conn()
        condition = " AND ".join(where) or "TRUE"
        total = conn.execute(f"SELECT count(*) AS n FROM access_log WHERE {condition}", params).fetchone()["n"]
        after = _after(args.get("cursor"))
        if after is not None:
            where.append("(at, id) < (%(c_at)s, %(c_id)s)")
            params.update(c_at=after[0], c_id=after[1])
        limit = args["limit"]
        rows = conn.execute(f"SELECT {_COLUMNS} FROM access_log WHERE {' AND '.join(where) or 'TRUE'} "
                            f"ORDER BY at DESC, id DESC LIMIT %(limit)s", {**params, "limit": limit + 1}).fetchall()
        page = rows[:limit]
        next_cursor = encode_cursor([page[-1]["at"].isoformat(), page[-1]["id"]]) if len(rows) > limit else None
        access_log.record("access_log.read", [person for row in page for person in row["persons"]])
        return {"items": page, "total": total, "next_cursor": next_cursor}
