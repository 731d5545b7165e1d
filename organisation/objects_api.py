"""Organisation objects over REST: units, users, persons, functions and IT systems.

For each kind (`/units`, `/users`, `/persons`, `/functions`, `/it-systems`):

    POST   /{kind}                     create (server UUID)
    PUT    /{kind}/{uuid}              import: create with your UUID or overwrite all of it (idempotent)
    PATCH  /{kind}/{uuid}              update ("Ret"): the fields sent, only within [valid_from, valid_to)
    POST   /{kind}/{uuid}/passivate    passivate
    DELETE /{kind}/{uuid}              delete (logical: later plain reads answer 410 Gone)
    GET    /{kind}/{uuid}              as of `valid_at` / `registered_at`; ETag = registration number
    GET    /{kind}/{uuid}/registrations, /facts   its history

Every write goes through organisation.service (rules: type codes, references
within the municipality, the unit hierarchy), in the request's transaction;
`If-Match` (an ETag) makes it conditional (412 when stale), and a write that
changes nothing answers 200 with `"changed": false`.  On PATCH, a 0..n field
(tasks, addresses, units, users, it_systems) is replaced within the period
only: values outside it are kept, as for single-valued fields.  Everything
is scoped to the caller's municipality (platform operators name it with
`?municipality=`): another municipality's object is answered as not found.
Persons' and users' names and CPR numbers follow organisation/personal.py.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema
from psycopg import sql

from app.api import problem_doc
from app.bitemporal.periods import Period, local_midnight
from app.bitemporal.store import Gone, NotFound
from app.db import get_conn
from app.errors import Problem, field_error
from authz.policy import current
from classification.api import RegistrationSchema
from organisation import schemas as s
from organisation.api import READ, WRITE, blp, problem, scope
from organisation.model import STORES
from organisation.personal import Disclosure
from organisation.service import OrgError, end, ensure_organisation, owner, write


@dataclass(frozen=True)
class Kind:
    kind: str        # store name (organisation/model.py)
    path: str        # URL segment
    param: str       # path parameter name
    label: str       # in docs and messages
    write: type[Schema]
    patch: type[Schema]
    answer: type[Schema]

    @property
    def many(self) -> set[str]:
        return {f.name for f in STORES[self.kind].type.fields if f.many}


KINDS = (
    Kind("enhed", "units", "unit_uuid", "unit", s.OrgUnitWriteSchema,
         s.patch_schema(s.OrgUnitWriteSchema, "OrgUnitPatchSchema"), s.OrgUnitSchema),
    Kind("bruger", "users", "user_uuid", "user", s.OrgUserWriteSchema,
         s.patch_schema(s.OrgUserWriteSchema, "OrgUserPatchSchema"), s.OrgUserSchema),
    Kind("person", "persons", "person_uuid", "person", s.OrgPersonWriteSchema,
         s.patch_schema(s.OrgPersonWriteSchema, "OrgPersonPatchSchema"), s.OrgPersonSchema),
    Kind("funktion", "functions", "function_uuid", "function", s.OrgFunctionWriteSchema,
         s.patch_schema(s.OrgFunctionWriteSchema, "OrgFunctionPatchSchema"), s.OrgFunctionSchema),
    Kind("itsystem", "it-systems", "it_system_uuid", "IT system", s.OrgItSystemWriteSchema,
         s.patch_schema(s.OrgItSystemWriteSchema, "OrgItSystemPatchSchema"), s.OrgItSystemSchema),
)


# -- shared by the Organisation routes ----------------------------------------------------------------------------

def as_of(args: dict) -> tuple[datetime, datetime]:
    """(valid instant, registration instant) of a read; both default to now."""
    if args.get("valid_at") and args.get("registered_at"):
        return args["valid_at"], args["registered_at"]
    now = get_conn().execute("SELECT clock_timestamp() AS now").fetchone()["now"]
    return args.get("valid_at") or now, args.get("registered_at") or now


def owned(kind: str, object_id: str, municipality_code: int, label: str) -> None:
    """404 unless the object exists (at some time) in the municipality."""
    if owner(get_conn(), kind, object_id) != municipality_code:
        raise Problem(404, "not_found", f"No {label} {object_id} in municipality {municipality_code}.")


def if_match() -> int | None:
    value = request.headers.get("If-Match")
    if value is None:
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise Problem(400, "invalid_if_match", "If-Match must be the ETag of a read (a registration number).",
                      errors=[field_error("header", "If-Match", "Not an ETag of this service.")]) from None


def actor() -> str:
    p = current()
    return f"system:{p.system_id}" if p.is_system else f"user:{p.username}"


def period_of(body: dict) -> Period:
    start, stop = body.get("valid_from"), body.get("valid_to")
    return Period(local_midnight(start) if start else None, local_midnight(stop) if stop else None)


# -- writes ------------------------------------------------------------------------------------------------------

def _value(value: Any) -> Any:
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items() if v is not None}
    return value


def _data(k: Kind, body: dict) -> dict[str, list]:
    """A create/import body as the store's {field: [(value, period)]}."""
    period = period_of(body)
    data: dict[str, list] = {}
    for name, value in body.items():
        if name in ("valid_from", "valid_to"):
            continue
        # A 0..n field sent as null is emptied (within the period, on PATCH).
        data[name] = [(_value(v), period) for v in value or []] if name in k.many else [(_value(value), period)]
    return data


def _patch_data(k: Kind, object_id: str, body: dict) -> dict[str, list]:
    """A PATCH body as store pieces: 0..n fields keep their values outside the period."""
    conn = get_conn()
    period = period_of(body)
    data = _data(k, body)
    many = [name for name in data if name in k.many]
    if many:
        conn.execute(sql.SQL("SELECT 1 FROM {} WHERE uuid = %(u)s FOR UPDATE").format(sql.Identifier(k.kind)),
                     {"u": object_id})
        rows = conn.execute(sql.SQL("SELECT field, value, valid FROM {} WHERE uuid = %(u)s AND field = ANY(%(f)s) "
                                    "AND upper_inf(registration)").format(sql.Identifier(f"{k.kind}_fact")),
                            {"u": object_id, "f": many}).fetchall()
        for row in rows:
            data[row["field"]] += [(row["value"], rest) for rest in Period.from_range(row["valid"]).minus(period)]
    return data


def _answer(result) -> tuple[dict, int, dict]:
    return result.__dict__, 200, {"ETag": f'"{result.registration_no}"'}


def _guard_import(k: Kind, object_id: str) -> None:
    """If-Match on an import: the object must exist with that registration."""
    expected = if_match()
    if expected is None:
        return
    row = get_conn().execute(sql.SQL("SELECT registration_no FROM {} WHERE uuid = %(u)s FOR UPDATE")
                             .format(sql.Identifier(k.kind)), {"u": object_id}).fetchone()
    if row is None or row["registration_no"] != expected:
        raise Problem(412, "precondition_failed", "The object has changed since (or does not exist); read it again.")


def _write(op: str, k: Kind, object_id: str, data: dict, m: int, expected: int | None = None):
    conn = get_conn()
    try:
        ensure_organisation(conn, m, actor())
        return write(conn, k.kind, op, object_id, data, municipality_code=m, if_match=expected, actor=actor())
    except OrgError as exc:
        raise problem(exc) from None


def _end(op: str, k: Kind, object_id: str, m: int):
    try:
        return end(get_conn(), k.kind, op, object_id, municipality_code=m, if_match=if_match(), actor=actor())
    except OrgError as exc:
        raise problem(exc) from None


# -- reads -------------------------------------------------------------------------------------------------------

def _disclose(k: Kind, obj: dict, op: str) -> dict:
    if k.kind not in ("person", "bruger"):
        return obj
    disclosure = Disclosure(f"organisation.{k.path}.{op}")
    out = disclosure.person(obj) if k.kind == "person" else disclosure.user(obj)
    disclosure.record()
    return out


def _facts(k: Kind, object_id: str) -> list[dict]:
    facts = STORES[k.kind].facts(get_conn(), object_id)
    rows = [{"field": f.field, "value": f.value, "valid_from": f.valid.lower, "valid_to": f.valid.upper,
             "registered_from": f.registration.lower, "registered_to": f.registration.upper} for f in facts]
    if k.kind not in ("person", "bruger"):
        return [{**row, "omitted": False} for row in rows]
    disclosure = Disclosure(f"organisation.{k.path}.facts")
    person = next((f.value for f in reversed(facts) if f.field == "person" and f.registration.upper is None), None)
    out = disclosure.facts(k.kind, {"uuid": object_id, "person": person}, rows)
    disclosure.record()
    return out


def _routes(k: Kind) -> None:
    """Register the routes of one kind on the blueprint."""
    one = f"/{k.path}/<uuid:{k.param}>"

    def object_id(path: dict) -> str:
        return str(path[k.param])

    class Collection(MethodView):
        @WRITE
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.arguments(k.write)
        @blp.response(201, s.OrgWriteResultSchema)
        @blp.alt_response(422, **problem_doc("A field breaks a rule (named in `errors`)."))
        def post(self, args, body):
            new = str(uuidlib.uuid4())
            if k.kind == "person":
                body.setdefault("user_key", new)
            answer, _status, headers = _answer(_write("create", k, new, _data(k, body), scope(args)))
            return answer, 201, headers

    class One(MethodView):
        @READ
        @blp.arguments(s.OrgAsOfArgs, location="query")
        @blp.response(200, k.answer)
        @blp.alt_response(404, **problem_doc("Not in this municipality (or not registered at that time)."))
        @blp.alt_response(410, **problem_doc("Deleted."))
        def get(self, args, **path):
            m, uuid = scope(args), object_id(path)
            owned(k.kind, uuid, m, k.label)
            v, r = as_of(args)
            try:
                obj = STORES[k.kind].read(get_conn(), uuid, valid_at=v, registered_at=r)
            except Gone:
                raise Problem(410, "gone", f"The {k.label} is deleted (its history is still there).") from None
            except NotFound:
                raise Problem(404, "not_found", f"No {k.label} {uuid} registered at that time.") from None
            return _disclose(k, obj, "read"), 200, {"ETag": f'"{obj["registration_no"]}"'}

        @WRITE
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.arguments(k.write)
        @blp.response(200, s.OrgWriteResultSchema)
        @blp.alt_response(409, **problem_doc("The UUID belongs to another municipality's object."))
        @blp.alt_response(412, **problem_doc("If-Match names an older registration."))
        @blp.alt_response(422, **problem_doc("A field breaks a rule (named in `errors`)."))
        def put(self, args, body, **path):
            m, uuid = scope(args), object_id(path)
            if k.kind == "person":
                body.setdefault("user_key", uuid)
            if owner(get_conn(), k.kind, uuid) == m:
                _guard_import(k, uuid)
            return _answer(_write("import", k, uuid, _data(k, body), m))

        @WRITE
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.arguments(k.patch)
        @blp.response(200, s.OrgWriteResultSchema)
        @blp.alt_response(404, **problem_doc("Not in this municipality."))
        @blp.alt_response(412, **problem_doc("If-Match names an older registration."))
        @blp.alt_response(422, **problem_doc("A field breaks a rule (named in `errors`)."))
        def patch(self, args, body, **path):
            m, uuid = scope(args), object_id(path)
            owned(k.kind, uuid, m, k.label)
            expected = if_match()
            return _answer(_write("update", k, uuid, _patch_data(k, uuid, body), m, expected))

        @WRITE
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.response(200, s.OrgWriteResultSchema)
        @blp.alt_response(409, **problem_doc("Already deleted, or a unit that is still a parent."))
        def delete(self, args, **path):
            return _answer(_end("delete", k, object_id(path), scope(args)))

    class Passivate(MethodView):
        @WRITE
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.response(200, s.OrgWriteResultSchema)
        @blp.alt_response(409, **problem_doc("Cannot be passivated from its state, or a unit that is a parent."))
        def post(self, args, **path):
            return _answer(_end("passivate", k, object_id(path), scope(args)))

    class Registrations(MethodView):
        @READ
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.response(200, RegistrationSchema(many=True))
        @blp.alt_response(404, **problem_doc("Not in this municipality."))
        def get(self, args, **path):
            uuid = object_id(path)
            owned(k.kind, uuid, scope(args), k.label)
            return [{**x, "registered_from": x["period"].lower, "registered_to": x["period"].upper}
                    for x in STORES[k.kind].registrations(get_conn(), uuid)]

    class Facts(MethodView):
        @READ
        @blp.arguments(s.ScopeArgs, location="query")
        @blp.response(200, s.OrgFactSchema(many=True))
        @blp.alt_response(404, **problem_doc("Not in this municipality."))
        def get(self, args, **path):
            uuid = object_id(path)
            owned(k.kind, uuid, scope(args), k.label)
            return _facts(k, uuid)

    docs = {
        (Collection, "post"): f"Create a {k.label} (server UUID), valid in [valid_from, valid_to).",
        (One, "get"): f"One {k.label} as valid at `valid_at` and registered at `registered_at` (default now); "
                      "ETag = registration number.",
        (One, "put"): f"Import a {k.label} with your UUID: create it, or overwrite all of it (idempotent).",
        (One, "patch"): f"Update a {k.label}: the fields sent, only within [valid_from, valid_to); null clears a "
                        "field there.  Nothing changed: `changed: false`, no registration.",
        (One, "delete"): f"Delete the {k.label} logically: later plain reads answer 410, the history stays.",
        (Passivate, "post"): f"Passivate the {k.label}: no longer maintained, left out of lists and hierarchy reads.",
        (Registrations, "get"): f"Every registration of the {k.label}: when, lifecycle code, by whom.",
        (Facts, "get"): f"The {k.label}'s full bitemporal history: every value with its valid and registration "
                        "periods.",
    }
    for (view, method), text in docs.items():
        getattr(view, method).__doc__ = text
    name = k.kind
    blp.route(f"/{k.path}", endpoint=f"{name}_collection")(Collection)
    blp.route(one, endpoint=f"{name}_one")(One)
    blp.route(f"{one}/passivate", endpoint=f"{name}_passivate")(Passivate)
    blp.route(f"{one}/registrations", endpoint=f"{name}_registrations")(Registrations)
    blp.route(f"{one}/facts", endpoint=f"{name}_facts")(Facts)


for _kind in KINDS:
    _routes(_kind)
