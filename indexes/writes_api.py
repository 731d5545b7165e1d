"""Write routes of both index services: import, update, remove, scrub, bulk and dry-run validation.

Each request is one transaction.  The record is validated as a whole (indexes/records.py) and
against Klassifikation and Organisation (indexes/service.py); a refusal names every field at fault.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from app.instants import UtcDateTime, not_ahead_of_clock
from authz.policy import current
from indexes import bulk
from indexes.api import SERVICES, Service, municipality, problem, writer
from indexes.service import IndexWriteError

BULK_TYPES = ("application/x-ndjson", "application/jsonl")
BULK_MAX_BYTES = 64 * 1024 * 1024


class IndexOutcomeSchema(Schema):
    uuid = fields.String()
    kind = fields.String(metadata={"description": "sag, dokument, bevilling or effektuering."})
    status = fields.String(metadata={"description": "accepted (written), unchanged (the index holds exactly "
                                                    "this) or stale (the index holds a later changed_at: "
                                                    "nothing was written)."})
    registration_no = fields.Integer(allow_none=True)


class IndexRemoveArgs(Schema):
    changed_at = UtcDateTime(required=True, validate=not_ahead_of_clock, metadata={
        "description": "When the record was removed at the source; a removal older than what the index "
                       "holds is stale. At most 5 minutes ahead of the service's clock."})


class IndexScrubSchema(Schema):
    fields_ = fields.List(fields.String(), data_key="fields", required=True, validate=validate.Length(min=1),
                          metadata={"description": "Optional relations to remove, e.g. related_cases, documents."})
    changed_at = UtcDateTime(required=True, validate=not_ahead_of_clock, metadata={
        "description": "When the relations were removed at the source (a new version stamp); at most 5 minutes "
                       "ahead of the service's clock."})


class IndexRecordErrorSchema(Schema):
    field = fields.String(metadata={"description": "Path of the field, e.g. parties.0.urn, or (line)."})
    detail = fields.String()


class IndexLineSchema(Schema):
    line = fields.Integer()
    uuid = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "accepted, unchanged, stale or rejected."})
    code = fields.String(metadata={"description": "Rejected lines: the problem code, as a single write would "
                                                  "answer it (docs/errors.md), e.g. not_master_system."})
    errors = fields.List(fields.Nested(IndexRecordErrorSchema))


class IndexBulkResultSchema(Schema):
    accepted = fields.Integer()
    unchanged = fields.Integer()
    stale = fields.Integer()
    rejected = fields.Integer()
    records = fields.List(fields.Nested(IndexLineSchema), metadata={"description": "One per non-blank line."})


RECORD_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "The whole record (docs/indexes.md, 'Records')."}}}}
LINES_BODY = {"required": True, "content": {t: {"schema": {"type": "string", "description": (
    'One record per line: {"kind": "sag", ...}; {"kind": "sag", "op": "remove", "uuid": ..., '
    '"changed_at": ...} removes.')}} for t in BULK_TYPES}}
LINES_PROBLEMS = ((400, "The body is not UTF-8."), (413, "The body is too large."),
                  (415, "Not application/x-ndjson or application/jsonl."))
WRITE_PROBLEMS = ((403, "The calling system is not the record's master system."),
                  (409, "The UUID is another record's, or another version has this changed_at."),
                  (422, "The record breaks a rule; `errors` names every field and rule."))


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "invalid_body", "Send the record as one JSON object (application/json).",
                      errors=[field_error("json", "(body)", "Not a JSON object.")])
    return body


def _lines() -> list[str]:
    if request.mimetype not in BULK_TYPES:
        raise Problem(415, "unsupported_media_type", "Send the records as application/x-ndjson "
                                                     "(or application/jsonl), one JSON object per line.")
    if (request.content_length or 0) > BULK_MAX_BYTES:
        raise Problem(413, "body_too_large", f"At most {BULK_MAX_BYTES} bytes per request; split the load "
                                             "or use `flask indexes import-jsonl`.")
    request.max_content_length = BULK_MAX_BYTES
    try:
        return request.get_data(cache=False).decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise Problem(400, "invalid_body", "The body is not UTF-8.",
                      errors=[field_error("body", "(body)", f"Not UTF-8 at byte {exc.start}.")]) from None


def _call(fn, *args):
    try:
        outcome = fn(*args)
    except IndexWriteError as exc:
        raise problem(exc) from None
    return {"uuid": outcome.uuid, "kind": outcome.kind, "status": outcome.status,
            "registration_no": outcome.registration_no}


def _documented(blp, problems):
    def decorator(func):
        for status, text in problems:
            func = blp.alt_response(status, **problem_doc(text))(func)
        return func
    return decorator


def _register(svc: Service) -> None:
    blp = svc.blp
    for plural, kind in svc.kinds.items():
        _record_routes(svc, plural, kind)

    @blp.route("/bulk", endpoint=f"{svc.code}_bulk")
    class Bulk(MethodView):
        @svc.write
        @blp.response(200, IndexBulkResultSchema)
        @_documented(blp, LINES_PROBLEMS)
        @blp.doc(requestBody=LINES_BODY)
        def post(self):
            """Import or remove many records sent as JSON lines, answered per line.

            A rejected line (with every problem, its field path and its problem code) writes nothing
            and the other lines are written, so a sender resends just the rejected ones.  Accepted
            lines are searchable once the indexer has delivered them (usually within a second).
            """
            return bulk.run_in(get_conn(), municipality(), current().system_id, _lines(), allowed=svc.record_kinds)

    @blp.route("/validate", endpoint=f"{svc.code}_validate")
    class Validate(MethodView):
        @svc.write
        @blp.response(200, IndexBulkResultSchema)
        @_documented(blp, LINES_PROBLEMS)
        @blp.doc(requestBody=LINES_BODY)
        def post(self):
            """Dry run: the answers a bulk upload of these lines would get, with nothing written.

            Checks everything a real write checks (the record's rules, KLE codes, units, the master
            system, versions against what the index holds) and rolls it all back.
            """
            return bulk.run_in(get_conn(), municipality(), current().system_id, _lines(), allowed=svc.record_kinds,
                               dry_run=True)

    del Bulk, Validate


def _record_routes(svc: Service, plural: str, kind: str) -> None:
    blp = svc.blp

    @blp.route(f"/{plural}/<uuid:record_uuid>", endpoint=f"{svc.code}_{plural}_write")
    class Record(MethodView):
        @svc.write
        @blp.response(200, IndexOutcomeSchema)
        @_documented(blp, ((400, "The body is not a JSON object."), *WRITE_PROBLEMS))
        @blp.doc(requestBody=RECORD_BODY)
        def put(self, record_uuid):
            """Import: create or overwrite the whole record by its UUID (idempotent).

            A record with an older `changed_at` than the index holds is answered `stale` and changes
            nothing, so retries and out-of-order deliveries are safe.
            """
            body = _json_object()
            if str(body.setdefault("uuid", str(record_uuid))) != str(record_uuid):
                raise Problem(422, "uuid_mismatch", "The body's uuid is not the one in the path.",
                              errors=[field_error("json", "uuid", "Must equal the path's UUID.")])
            return _call(writer(get_conn()).import_, kind, body)

        @svc.write
        @blp.response(200, IndexOutcomeSchema)
        @_documented(blp, ((400, "The body is not a JSON object."), (404, "No such record."), *WRITE_PROBLEMS))
        @blp.doc(requestBody={**RECORD_BODY, "content": {"application/json": {"schema": {
            "type": "object", "description": "The fields to change, with a new changed_at; a list replaces "
                                             "the whole list."}}}})
        def patch(self, record_uuid):
            """Update: the fields sent replace the record's; the result is validated as a whole."""
            return _call(writer(get_conn()).update, kind, str(record_uuid), _json_object())

        @svc.write
        @blp.arguments(IndexRemoveArgs, location="query")
        @blp.response(200, IndexOutcomeSchema)
        @_documented(blp, WRITE_PROBLEMS[:2])
        def delete(self, args, record_uuid):
            """Remove: physical deletion of the record and of its registrations' data.

            A tombstone (UUID, changed_at) stays so that an older import arriving later cannot bring
            the record back.  Removing again is `unchanged`.
            """
            return _call(writer(get_conn()).remove, kind, str(record_uuid), args["changed_at"])

    @blp.route(f"/{plural}/<uuid:record_uuid>/scrub", endpoint=f"{svc.code}_{plural}_scrub")
    class Scrub(MethodView):
        @svc.write
        @blp.arguments(IndexScrubSchema)
        @blp.response(200, IndexOutcomeSchema)
        @_documented(blp, ((404, "No such record."), *WRITE_PROBLEMS))
        def post(self, body, record_uuid):
            """Scrub: remove optional relations (e.g. related cases) from the record."""
            return _call(writer(get_conn()).scrub, kind, str(record_uuid), body["fields_"], body["changed_at"])

    del Record, Scrub


for _svc in SERVICES:
    _register(_svc)
