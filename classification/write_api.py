"""Writing classes through the API, with the store's semantics
(docs/bitemporal.md): create (server UUID), import (the caller's UUID:
create or overwrite), update with per-period merge, passivate, delete.

Who may write: national classes (no owner) only platform operators, the
operators' KLE import being the usual way; a municipality's local classes
its admin, or a system with the `klassifikation` edit role for that
municipality.  Updates honour `If-Match` (the registration number from the
ETag): a stale one is a 412, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, post_load, validate

from app.api import problem_doc
from app.bitemporal.periods import Period, local_midnight
from app.bitemporal.schemas import ValidPeriodSchema
from app.bitemporal.store import Gone, IllegalTransition, InvalidData, NotFound, PreconditionFailed
from app.db import get_conn
from app.errors import Problem, field_error
from authz.catalogue import Role
from authz.policy import PlatformRole, current, system_or_platform
from classification import service
from classification.api import blp
from classification.model import klasser

WRITE = system_or_platform("klassifikation", Role.EDIT, PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
SINGLE = ("user_key", "title", "description", "example", "scope", "legal_source", "change_note", "guidance",
          "level", "archive_code", "deletion_period", "parent", "published")
CODE = validate.Regexp(r"^[A-Za-z0-9._-]{1,50}$", error="Letters, digits, '.', '_' and '-' (at most 50).")


class ClassWriteSchema(ValidPeriodSchema):
    user_key = fields.String(required=True, validate=CODE, metadata={"description": "The code."})
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(validate=validate.Length(max=10000))
    example = fields.String(validate=validate.Length(max=10000))
    scope = fields.String(validate=validate.Length(max=10000))
    legal_source = fields.String(validate=validate.Length(max=2000))
    change_note = fields.String(validate=validate.Length(max=2000))
    parent = fields.UUID(allow_none=True)
    search_words = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    published = fields.String(load_default="Publiceret", validate=validate.OneOf(["Publiceret", "IkkePubliceret"]))
    facet = fields.UUID(metadata={"description": "Needed by import (PUT); taken from the URL on create."})


# What a change's value must be, per field: the write schema's rule, or text for the fields only the KLE
# import fills (guidance is KLE's XHTML vejledning).
_VALUES: dict[str, fields.Field] = {
    **{name: field for name, field in ClassWriteSchema().fields.items() if name in SINGLE},
    "guidance": fields.String(validate=validate.Length(max=100_000)),
    "level": fields.String(validate=validate.Length(max=100)),
    "archive_code": fields.String(validate=validate.Length(max=100)),
    "deletion_period": fields.String(validate=validate.Length(max=100)),
}


class ChangeSchema(ValidPeriodSchema):
    field = fields.String(required=True, validate=validate.OneOf(SINGLE))
    value = fields.Raw(required=True, allow_none=True, metadata={
        "description": "The field's new value, by the rule of the same field in a create; null clears the period."})

    @post_load
    def _value(self, data, **_kw):
        """The value by its field's rule, so an update cannot store what a create would refuse."""
        if data["value"] is not None:
            try:
                value = _VALUES[data["field"]].deserialize(data["value"])
            except ValidationError as exc:
                raise ValidationError({"value": exc.messages}) from None
            data["value"] = str(value) if data["field"] == "parent" else value
        return data


class ClassUpdateSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), load_default=list,
                          metadata={"description": "Each overwrites only its own period."})
    search_words = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                               metadata={"description": "Replaces the whole list (valid for all time)."})


class WriteResultSchema(Schema):
    uuid = fields.String()
    registration_no = fields.Integer()
    lifecycle = fields.String()
    changed = fields.Boolean(metadata={"description": "False: nothing differed, no registration was made."})


def _period(data: dict) -> Period:
    start, end = data.get("valid_from"), data.get("valid_to")
    return Period(local_midnight(start) if start else None, local_midnight(end) if end else None)


def _owner_for_write(municipality_code: int | None) -> None:
    p = current()
    if municipality_code is None:
        if not p.is_operator:
            raise Problem(403, "forbidden", "National classes are maintained by platform operators (KLE import).")
    elif not p.is_operator and p.municipality_code != municipality_code:
        raise Problem(404, "not_found", "No such class for this caller's municipality.")


def _owner_of(uuid: str) -> int | None:
    row = get_conn().execute("SELECT municipality_code FROM klasse WHERE uuid = %(u)s", {"u": uuid}).fetchone()
    if row is None:
        raise Problem(404, "not_found", "No such class.")
    return row["municipality_code"]


def _if_match() -> int | None:
    value = request.headers.get("If-Match")
    if value is None:
        return None
    try:
        return int(value.strip().strip('"'))
    except ValueError:
        raise Problem(400, "invalid_if_match", "If-Match must be the ETag of a read (a registration number).",
                      errors=[field_error("header", "If-Match", "Not an ETag of this service.")]) from None


def _check_parent(uuid: str | None, parent: str | None, facet: str) -> None:
    if parent is None:
        return
    conn = get_conn()
    row = conn.execute("SELECT 1 FROM klasse_fact WHERE uuid = %(p)s AND field = 'facet' AND value #>> '{}' = %(f)s "
                       "AND upper_inf(registration)", {"p": parent, "f": facet}).fetchone()
    if row is None:
        raise Problem(422, "unknown_parent", "The parent is not a class of the same facet.",
                      errors=[field_error("json", "parent", "Not a class of this facet.")])
    chain = [parent] + [a["uuid"] for a in service.ancestors(conn, parent)]
    if uuid is not None and uuid in chain:
        raise Problem(422, "parent_cycle", "That parent would make the class its own ancestor.",
                      errors=[field_error("json", "parent", "Makes a cycle in the hierarchy.")])


def _data(body: dict[str, Any], facet: str) -> dict:
    period = _period(body)
    data = {name: [(body.get(name), period)] for name in SINGLE if name in body and name != "parent"}
    data["parent"] = [(str(body["parent"]) if body.get("parent") else None, period)]
    data["facet"] = [(facet, Period())]
    data["search_words"] = [(w, period) for w in dict.fromkeys(body.get("search_words", []))]
    return data


def _store_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except PreconditionFailed as exc:
        raise Problem(412, "precondition_failed", f"The class has changed (now registration {exc.current}); "
                                                  "read it again and retry.") from None
    except IllegalTransition as exc:
        raise Problem(409, "illegal_transition", str(exc)) from None
    except InvalidData as exc:
        raise Problem(422, "validation_failed", str(exc),
                      errors=[field_error("json", exc.field, exc.message)]) from None
    except Gone:
        raise Problem(410, "gone", "The class is deleted.") from None
    except NotFound:
        raise Problem(404, "not_found", "No such class.") from None


def _actor() -> str:
    p = current()
    return f"system:{p.system_id}" if p.is_system else f"user:{p.username}"


@blp.route("/facets/<uuid:facet>/classes", endpoint="CreateClass")
class CreateClass(MethodView):
    @WRITE
    @blp.arguments(ClassWriteSchema)
    @blp.response(201, WriteResultSchema)
    @blp.alt_response(422, **problem_doc("Invalid field, unknown parent, or a parent cycle."))
    def post(self, body, facet):
        """Create a class (server UUID) valid in [valid_from, valid_to); local to the caller's municipality
        unless an operator creates it."""
        p = current()
        owner = None if p.is_operator else p.municipality_code
        _owner_for_write(owner)
        _check_parent(None, str(body["parent"]) if body.get("parent") else None, str(facet))
        result = _store_call(klasser.create, get_conn(), _data(body, str(facet)), municipality_code=owner,
                             actor=_actor())
        return result.__dict__


@blp.route("/classes/<uuid:uuid>", endpoint="WriteClass")
class WriteClass(MethodView):
    @WRITE
    @blp.arguments(ClassWriteSchema)
    @blp.response(200, WriteResultSchema)
    @blp.alt_response(412, **problem_doc("If-Match names an older registration."))
    def put(self, body, uuid):
        """Import a class with your UUID: create it, or overwrite all of it (idempotent)."""
        if not body.get("facet"):
            raise Problem(422, "validation_failed", "An import names its facet.",
                          errors=[field_error("json", "facet", "Missing data for required field.")])
        row = get_conn().execute("SELECT municipality_code FROM klasse WHERE uuid = %(u)s", {"u": uuid}).fetchone()
        p = current()
        owner = row["municipality_code"] if row else (None if p.is_operator else p.municipality_code)
        _owner_for_write(owner)
        _check_parent(str(uuid), str(body["parent"]) if body.get("parent") else None, str(body["facet"]))
        return _store_call(klasser.import_, get_conn(), str(uuid), _data(body, str(body["facet"])),
                           municipality_code=owner, actor=_actor()).__dict__

    @WRITE
    @blp.arguments(ClassUpdateSchema)
    @blp.response(200, WriteResultSchema)
    @blp.alt_response(412, **problem_doc("If-Match names an older registration."))
    @blp.alt_response(422, **problem_doc("Overlapping periods for one field, or a parent cycle."))
    def patch(self, body, uuid):
        """Update ("Ret"): each change overwrites only its period; `search_words` replaces the list.
        A change that alters nothing makes no registration (`changed: false`)."""
        _owner_for_write(_owner_of(str(uuid)))
        data: dict = {}
        for change in body["changes"]:
            value = change["value"]
            if change["field"] == "parent":
                facet = get_conn().execute("SELECT value #>> '{}' AS f FROM klasse_fact WHERE uuid = %(u)s AND "
                                           "field = 'facet' AND upper_inf(registration) LIMIT 1",
                                           {"u": uuid}).fetchone()
                _check_parent(str(uuid), value, facet["f"] if facet else "")
            data.setdefault(change["field"], []).append((value, _period(change)))
        if "search_words" in body:
            data["search_words"] = [(w, Period()) for w in dict.fromkeys(body["search_words"])]
        return _store_call(klasser.update, get_conn(), str(uuid), data, if_match=_if_match(),
                           actor=_actor()).__dict__

    @WRITE
    @blp.response(200, WriteResultSchema)
    @blp.alt_response(409, **problem_doc("Already deleted."))
    def delete(self, uuid):
        """Delete the class logically (Slettet): plain reads answer 410, history stays."""
        _owner_for_write(_owner_of(str(uuid)))
        return _store_call(klasser.delete, get_conn(), str(uuid), if_match=_if_match(), actor=_actor()).__dict__


@blp.route("/classes/<uuid:uuid>/passivate")
class PassivateClass(MethodView):
    @WRITE
    @blp.response(200, WriteResultSchema)
    @blp.alt_response(409, **problem_doc("The class cannot be passivated from its state."))
    def post(self, uuid):
        """Passivate the class: no longer maintained, left out of searches and lists."""
        _owner_for_write(_owner_of(str(uuid)))
        return _store_call(klasser.passivate, get_conn(), str(uuid), if_match=_if_match(),
                           actor=_actor()).__dict__

