"""The sync feed's record format (docs/organisation.md "The record format"): one schema per kind.

A unit record describes one OrganisationEnhed with its manager and paying
unit; a user record one Bruger with its Person and positions.  The same
schemas validate the PUT bodies of organisation/sync_api.py and every line
of a bulk JSON-lines import (organisation/bulk.py), so a field is checked
the same way whichever way it arrives.  Only the shape and the formats are
checked here; codes (unit type, KLE) and references (parent, manager, units
of positions) are checked by organisation/service.py when written, and the
problems are reported with these field names.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate, validates_schema

KEY = validate.Length(min=1, max=100)
NAME = validate.Length(min=1, max=500)
CONTACT = validate.Length(min=1, max=500)
KLE_CODE = validate.Regexp(r"^[0-9]{2}(\.[0-9]{2}){0,2}$", error="A KLE number: 27, 27.35 or 27.35.04.")
ASPECTS = ("ansvarlig", "indsigt", "udfoerende")


def _text(description: str, rule=CONTACT, **kwargs) -> fields.String:
    return fields.String(allow_none=True, load_default=None, validate=rule,
                         metadata={"description": description}, **kwargs)


class KleTaskSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=KLE_CODE,
                         metadata={"description": "KLE number (main group, group or subject), e.g. 27.35.",
                                   "example": "27.35"})
    aspect = fields.String(required=True, validate=validate.OneOf(ASPECTS),
                           metadata={"description": "How the unit relates to the task (KLE aspect)."})


class _Record(Schema):
    class Meta:
        unknown = RAISE

    uuid = fields.UUID(metadata={"description": "The object's UUID (in a PUT the path's UUID wins; required in "
                                                "bulk lines)."})
    valid_from = fields.Date(allow_none=True, load_default=None,
                             metadata={"description": "The record is the state from this day on (Danish date); "
                                                      "absent or null = today in Europe/Copenhagen. History "
                                                      "before it is kept."})


class UnitRecordSchema(_Record):
    """One organisation unit as the HR/AD feeder sees it."""

    short_key = fields.String(required=True, validate=KEY,
                              metadata={"description": "The unit's short key (enhedsnummer), its user key.",
                                        "example": "JCA"})
    name = fields.String(required=True, validate=NAME, metadata={"example": "Jobcenter Aarhus"})
    parent_uuid = fields.UUID(allow_none=True, load_default=None,
                              metadata={"description": "The parent unit; null only for the root "
                                                       "(the municipality)."})
    type = fields.String(required=True, validate=KEY,
                         metadata={"description": "Unit type: a code of the facet enhedstype (kommune, direktion, "
                                                  "forvaltning, center, afdeling, sektion, kontor, institution, "
                                                  "team).", "example": "afdeling"})
    manager_uuid = fields.UUID(allow_none=True, load_default=None,
                               metadata={"description": "The user who manages the unit (a `leder` function); "
                                                        "null ends the manager function from valid_from."})
    paying_unit_uuid = fields.UUID(allow_none=True, load_default=None,
                                   metadata={"description": "The unit that pays for this one (an "
                                                            "`udbetalende_enhed` function); null ends it."})
    email = _text("E-mail address.", validate.Length(min=1, max=254))
    phone = _text("Phone number.", validate.Length(min=1, max=50))
    post_address = _text("Postal address (one line, or a DAR address UUID).")
    ean = _text("EAN number for e-invoicing (13 digits).",
                validate.Regexp(r"^[0-9]{13}$", error="13 digits."))
    p_number = _text("P-number (production unit in CVR, 10 digits).",
                     validate.Regexp(r"^[0-9]{10}$", error="10 digits."))
    los_id = _text("The unit's id in the LOS register.", validate.Length(min=1, max=100))
    www = _text("Web address.", validate.Length(min=1, max=2000))
    kle = fields.List(fields.Nested(KleTaskSchema), load_default=list,
                      metadata={"description": "The unit's KLE tasks; the list replaces the previous one from "
                                               "valid_from."})
    it_systems = fields.List(fields.UUID(), load_default=list,
                             metadata={"description": "UUIDs of the municipality's IT systems the unit uses."})


class PersonSchema(Schema):
    class Meta:
        unknown = RAISE

    uuid = fields.UUID(metadata={"description": "The person's UUID; absent = derived from the CPR number (else "
                                                "from the user's UUID), so the same person is found again."})
    name = fields.String(required=True, validate=NAME, metadata={"example": "Anne Jensen"})
    cpr = fields.String(allow_none=True, load_default=None,
                        validate=validate.Regexp(r"^[0-9]{10}$", error="10 digits, no hyphen."),
                        metadata={"description": "CPR number (sensitive: only shown with the privilege)."})


class PositionSchema(Schema):
    class Meta:
        unknown = RAISE

    FAST_CHECKS = ("_order",)  # the schema-level rules, for fast_loader

    uuid = fields.UUID(metadata={"description": "The position's UUID (e.g. the HR system's engagement id); "
                                                "absent = derived from (user, unit, start)."})
    unit_uuid = fields.UUID(required=True, metadata={"description": "The unit the user works in."})
    name = fields.String(allow_none=True, load_default=None, validate=NAME,
                         metadata={"description": "Job title.", "example": "Sagsbehandler"})
    start = fields.Date(required=True, metadata={"description": "First day of the position."})
    stop = fields.Date(allow_none=True, load_default=None,
                       metadata={"description": "The day after the last working day (exclusive); null = open."})

    @validates_schema
    def _order(self, data: dict[str, Any], **_):
        if data.get("stop") is not None and data["stop"] <= data["start"]:
            raise ValidationError("Must be after start (the day after the last working day).", "stop")


class UserRecordSchema(_Record):
    """One user (AD account) with its person and positions."""

    FAST_CHECKS = ("_distinct_positions",)

    user_id = fields.String(required=True, validate=KEY,
                            metadata={"description": "The user id (AD account, initials): the user key.",
                                      "example": "abc123"})
    person = fields.Nested(PersonSchema, required=True)
    email = _text("E-mail address.", validate.Length(min=1, max=254))
    phone = _text("Phone number.", validate.Length(min=1, max=50))
    positions = fields.List(fields.Nested(PositionSchema), load_default=list,
                            metadata={"description": "The user's positions (employments), each valid over "
                                                     "[start, stop). A position left out of a later record "
                                                     "ends at that record's valid_from."})

    @validates_schema
    def _distinct_positions(self, data: dict[str, Any], **_):
        seen = set()
        for i, position in enumerate(data.get("positions", [])):
            key = position.get("uuid") or (position["unit_uuid"], position["start"])
            if key in seen:
                raise ValidationError(f"Position {i} repeats an earlier position.", "positions")
            seen.add(key)


UNIT = UnitRecordSchema()
USER = UserRecordSchema()
SCHEMAS = {"unit": UNIT, "user": USER}


# -- a fast path for the bulk load -------------------------------------------------------------------------
#
# marshmallow takes a few hundred microseconds per record, which is many seconds for a whole
# municipality.  `fast_loader` compiles a schema into a plain function that accepts only input
# it is sure of (canonical UUIDs, YYYY-MM-DD dates) and gives what schema.load would; anything
# else, including every invalid record, goes to schema.load, so the messages are marshmallow's.

class _Unsure(Exception):
    pass


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _unsure(_value: Any = None) -> Any:
    raise _Unsure


def _value_loader(f: fields.Field) -> Callable[[Any], Any]:
    if isinstance(f, fields.Nested):
        inner = fast_loader(f.schema)
        return lambda v: inner(v) if isinstance(v, dict) else _unsure()
    if isinstance(f, fields.List):
        item = _field_loader(f.inner)
        return lambda v: [item(x) for x in v] if isinstance(v, list) else _unsure()
    if isinstance(f, fields.UUID):  # before String: UUID is a String
        return lambda v: uuidlib.UUID(v) if isinstance(v, str) and _UUID.match(v) else _unsure()
    if isinstance(f, fields.Date):
        return lambda v: date.fromisoformat(v) if isinstance(v, str) and _DATE.match(v) else _unsure()
    if isinstance(f, fields.String):
        return lambda v: v if isinstance(v, str) else _unsure()
    raise TypeError(f"fast_loader does not know {type(f).__name__}")


def _field_loader(f: fields.Field) -> Callable[[Any], Any]:
    base, validators, allow_none = _value_loader(f), list(f.validators), f.allow_none

    def load(value: Any) -> Any:
        if value is None:
            return None if allow_none else _unsure()
        out = base(value)
        for validator in validators:
            validator(out)
        return out
    return load


def fast_loader(schema: Schema) -> Callable[[dict], dict]:
    """`schema.load` for input it is sure of; raises _Unsure otherwise (or ValidationError/ValueError
    from a field's validator), and then schema.load must decide."""
    plan = [(name, f.data_key or name, _field_loader(f), f.required, f.load_default)
            for name, f in schema.load_fields.items()]
    known = {key for _n, key, _l, _r, _d in plan}
    checks = [getattr(schema, name) for name in getattr(schema, "FAST_CHECKS", ())]

    def load(data: dict) -> dict:
        if not known.issuperset(data):
            raise _Unsure
        out = {}
        for name, key, loader, required, default in plan:
            if key in data:
                out[name] = loader(data[key])
            elif required:
                raise _Unsure
            elif default is not missing:
                out[name] = default() if callable(default) else default
        for check in checks:
            check(out)
        return out
    return load


_FAST = {kind: fast_loader(schema) for kind, schema in SCHEMAS.items()}


def load_record(kind: str, data: dict) -> dict:
    """A record of `kind` ("unit" | "user") validated as its schema does; ValidationError if not."""
    try:
        return _FAST[kind](data)
    except (_Unsure, ValidationError, ValueError):
        return SCHEMAS[kind].load(data)


def flatten_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested messages as [{"field": "positions.0.start", "detail": ...}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "(record)" if key == "_schema" else str(key)
            out += flatten_errors(value, f"{prefix}.{name}" if prefix and name != "(record)" else (prefix or name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out += [{"field": prefix or "(record)", "detail": m} for m in messages]
    elif isinstance(messages, list):
        for m in messages:
            out += flatten_errors(m, prefix)
    else:
        out.append({"field": prefix or "(record)", "detail": str(messages)})
    return out
