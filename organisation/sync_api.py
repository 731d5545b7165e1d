"""The sync feed's routes under /api/v1/organisation/sync (docs/organisation.md "Keeping in sync").

What a municipality's HR/AD feeder calls: upsert one unit or user as simple
JSON (PUT, idempotent: the same record again registers nothing), passivate
or delete one, reconcile ("these are all the units that should exist"),
and a bulk JSON-lines upload answered per record.  The municipality is the
caller's; platform operators name it with `?municipality=`.  Each request
is one transaction; the bulk upload gives every record its own savepoint,
so a rejected record leaves the accepted ones in place.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from app.identifiers import MUNICIPALITY_CODE
from authz.policy import current
from organisation import bulk
from organisation.api import WRITE, blp, problem
from organisation.service import OrgError
from organisation.sync import KINDS, Feed
from organisation.sync_records import UnitRecordSchema, UserRecordSchema

BULK_TYPES = ("application/x-ndjson", "application/jsonl")
BULK_MAX_BYTES = 64 * 1024 * 1024


class MunicipalityArgs(Schema):
    municipality = fields.Integer(validate=MUNICIPALITY_CODE,
                                  metadata={"description": "Platform operators: the municipality (code) to "
                                                           "write to (required). Others write to their own and "
                                                           "may leave it out."})


class ObjectResultSchema(Schema):
    kind = fields.String(metadata={"description": "unit, user, person or function."})
    uuid = fields.String()
    changed = fields.Boolean(metadata={"description": "False: nothing differed, no registration was made."})


class SyncResultSchema(Schema):
    uuid = fields.String()
    changed = fields.Boolean(metadata={"description": "Whether any of the objects changed."})
    objects = fields.List(fields.Nested(ObjectResultSchema),
                          metadata={"description": "Every object the record maps to: the unit with its manager "
                                                   "and paying-unit functions; the user with its person and "
                                                   "position functions."})


class ReconcileSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    uuids = fields.List(fields.UUID(), required=True,
                        metadata={"description": "Every UUID of this kind that should exist; every other active "
                                                 "one of the municipality is passivated."})
    dry_run = fields.Boolean(required=True, metadata={"description": "true: only answer what would be "
                                                                     "passivated; nothing is written."})


class PassivatedSchema(Schema):
    uuid = fields.String()
    user_key = fields.String(allow_none=True, metadata={"description": "Short key (unit) or user id (user)."})


class ReconcileResultSchema(Schema):
    kind = fields.String()
    dry_run = fields.Boolean()
    passivated = fields.List(fields.Nested(PassivatedSchema),
                             metadata={"description": "What was (dry run: would be) passivated, in that order "
                                                      "(units children first)."})
    missing = fields.List(fields.String(), metadata={"description": "Listed UUIDs that are not active objects "
                                                                    "of this kind here: send their records."})


class RecordErrorSchema(Schema):
    field = fields.String(metadata={"description": "The record's field, e.g. positions.0.unit_uuid, or (line)."})
    detail = fields.String()


class BulkRecordSchema(Schema):
    line = fields.Integer(metadata={"description": "Line number in the body (from 1)."})
    uuid = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "accepted (written), unchanged (a no-op) or rejected."})
    errors = fields.List(fields.Nested(RecordErrorSchema))


class BulkResultSchema(Schema):
    accepted = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    records = fields.List(fields.Nested(BulkRecordSchema), metadata={"description": "One per non-blank line."})


def _municipality(args: dict) -> int:
    p = current()
    asked = args.get("municipality")
    if p.is_operator:
        if asked is None:
            raise Problem(400, "municipality_required", "Platform operators name the municipality.",
                          errors=[field_error("query", "municipality", "Required for platform operators.")])
        return asked
    if asked is not None and asked != p.municipality_code:
        raise Problem(404, "not_found", "No such resource for this caller's municipality.")
    return p.municipality_code


def _actor() -> str:
    p = current()
    return f"system:{p.system_id}" if p.is_system else f"user:{p.username}"


def _feed(args: dict) -> Feed:
    try:
        return Feed(get_conn(), _municipality(args), _actor()).start()
    except OrgError as exc:
        raise problem(exc) from None


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except OrgError as exc:
        raise problem(exc) from None


UPSERT_PROBLEMS = (
    (404, "The UUID belongs to another municipality (update)."),
    (409, "The UUID is taken by another municipality's object, or the transition is not allowed."),
    (422, "A field breaks a rule: an unknown type or KLE code, a missing parent, manager or unit, a cycle."),
)
END_PROBLEMS = (
    (404, "No such object in this municipality."),
    (409, "A unit that is still another unit's parent, or a deleted object passivated."),
)


def _document(problems):
    def decorator(func):
        for status, text in problems:
            func = blp.alt_response(status, **problem_doc(text))(func)
        return func
    return decorator


@blp.route("/sync/units/<uuid:uuid>", endpoint="SyncUnit")
class SyncUnit(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.arguments(UnitRecordSchema)
    @blp.response(200, SyncResultSchema)
    @_document(UPSERT_PROBLEMS)
    def put(self, args, body, uuid):
        """Upsert a unit: its state from `valid_from` (default today) on, with its manager and paying unit.

        A new unit is imported; an existing one keeps its history before valid_from. Null fields clear
        theirs from valid_from; `kle` and `it_systems` replace the lists. The same record again
        registers nothing (`changed: false`). The UUID in the path wins over one in the body.
        """
        return _call(_feed(args).upsert_unit, str(uuid), body)

    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.response(200, SyncResultSchema)
    @_document(END_PROBLEMS)
    def delete(self, args, uuid):
        """Delete a unit logically (registered by mistake); its manager and paying-unit functions too.

        Refused (409) while another unit names it as parent. Deleting again is a no-op.
        """
        return _call(_feed(args).end, "enhed", str(uuid), "delete")


@blp.route("/sync/units/<uuid:uuid>/passivate", endpoint="SyncUnitPassivate")
class SyncUnitPassivate(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.response(200, SyncResultSchema)
    @_document(END_PROBLEMS)
    def post(self, args, uuid):
        """Passivate a unit (closed down); its manager and paying-unit functions end today.

        Refused (409) while another unit names it as parent. Passivating again is a no-op; sending
        the unit's record again brings it back.
        """
        return _call(_feed(args).end, "enhed", str(uuid), "passivate")


@blp.route("/sync/users/<uuid:uuid>", endpoint="SyncUser")
class SyncUser(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.arguments(UserRecordSchema)
    @blp.response(200, SyncResultSchema)
    @_document(UPSERT_PROBLEMS)
    def put(self, args, body, uuid):
        """Upsert a user with its person and positions: the state from `valid_from` (default today) on.

        Each position is an employment function valid over [start, stop); a position left out of a
        later record ends at its valid_from. The same record again registers nothing.
        """
        return _call(_feed(args).upsert_user, str(uuid), body)

    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.response(200, SyncResultSchema)
    @_document(END_PROBLEMS)
    def delete(self, args, uuid):
        """Delete a user logically (registered by mistake), with its position functions.

        The person stays (others may share it). Deleting again is a no-op.
        """
        return _call(_feed(args).end, "bruger", str(uuid), "delete")


@blp.route("/sync/users/<uuid:uuid>/passivate", endpoint="SyncUserPassivate")
class SyncUserPassivate(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.response(200, SyncResultSchema)
    @_document(END_PROBLEMS)
    def post(self, args, uuid):
        """Passivate a user (left the municipality); its positions end today.

        Passivating again is a no-op; sending the user's record again brings it back.
        """
        return _call(_feed(args).end, "bruger", str(uuid), "passivate")


@blp.route("/sync/reconcile", endpoint="SyncReconcile")
class SyncReconcile(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.arguments(ReconcileSchema)
    @blp.response(200, ReconcileResultSchema)
    @blp.alt_response(409, **problem_doc("A listed unit's parent is not listed; nothing was passivated."))
    def post(self, args, body):
        """Full reconciliation: passivate every active unit (or user) of the municipality not listed.

        Units go children first. With `dry_run: true` nothing is written and the answer lists exactly
        what a real run would passivate.
        """
        return _call(_feed(args).reconcile, KINDS[body["kind"]], [str(u) for u in body["uuids"]],
                     dry_run=body["dry_run"])


@blp.route("/sync/bulk", endpoint="SyncBulk")
class SyncBulk(MethodView):
    @WRITE
    @blp.arguments(MunicipalityArgs, location="query")
    @blp.response(200, BulkResultSchema)
    @blp.alt_response(400, **problem_doc("The body is not UTF-8 text."))
    @blp.alt_response(413, **problem_doc("The body is larger than the limit; use `flask organisation "
                                         "import-jsonl`."))
    @blp.alt_response(415, **problem_doc("Not sent as application/x-ndjson or application/jsonl."))
    @blp.doc(requestBody={"required": True, "content": {t: {"schema": {"type": "string", "description": (
        'One record per line: {"kind": "unit", ...} or {"kind": "user", ...} (docs/organisation.md).')}}
        for t in BULK_TYPES}})
    def post(self, args):
        """Upsert many units and users sent as JSON lines; answered per record, so a sender can retry
        only the rejected ones.

        Units are written parents-first whatever their order, then users, then the units' managers
        and paying units. A rejected record undoes only itself; the rest is one transaction.
        """
        if request.mimetype not in BULK_TYPES:
            raise Problem(415, "unsupported_media_type", "Send the records as application/x-ndjson "
                                                         "(or application/jsonl), one JSON object per line.")
        if (request.content_length or 0) > BULK_MAX_BYTES:
            raise Problem(413, "body_too_large", f"A bulk upload may be at most {BULK_MAX_BYTES} bytes; "
                                                 "load larger inputs with `flask organisation import-jsonl`.")
        request.max_content_length = BULK_MAX_BYTES  # also for a body sent without Content-Length
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Problem(400, "invalid_body", "The body is not UTF-8.",
                          errors=[field_error("body", "(body)", f"Not UTF-8 at byte {exc.start}.")]) from None
        feed = _feed(args)
        return _call(bulk.run_in, feed.conn, feed.municipality_code, text.split("\n"), actor=feed.actor)
