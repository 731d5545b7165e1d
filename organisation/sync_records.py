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

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.fastload import loader_with_fallback

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


# The bulk load validates with the schemas' fast path (app/fastload.py): the same conversions without
# marshmallow's machinery; every invalid record is loaded by the schema itself, for its messages.
_LOAD = {kind: loader_with_fallback(schema) for kind, schema in SCHEMAS.items()}


def load_record(kind: str, data: dict) -> dict:
    """A record of `kind` ("unit" | "user") validated as its schema does; ValidationError if not."""
    return _LOAD[kind](data)


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
