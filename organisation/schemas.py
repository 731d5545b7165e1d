"""Request and answer schemas of the Organisation API (objects_api.py, reads_api.py).

Writes take each field's value for one valid period [valid_from, valid_to)
(Danish dates; either end open): create and import (PUT) send the whole
object, an update (PATCH) only the fields to change, each overwriting just
that period.  Reads answer an object as valid at `valid_at` and registered
at `registered_at`.  Persons' and users' names and CPR numbers are personal
data: left out (null, and named in `omitted`) unless the caller may see them
(organisation/personal.py).
"""

from __future__ import annotations

import copy

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.bitemporal.schemas import ValidPeriodSchema
from app.paging import MAX_LIMIT
from classification.api import Instant

KLE_CODE = validate.Regexp(r"^\d{2}(\.\d{2}){0,2}$", error="A KLE number: 27, 27.35 or 27.35.04.")
KLE_FILTER = validate.Regexp(r"^(\*|\d{2}(\.\d{2}){0,2}(\.\*)?)$",
                             error="A KLE number (27.35) or a prefix pattern (27.*, 27.35.*, *).")
CODE = validate.Regexp(r"^[a-z_]{1,40}$", error="A type code, e.g. afdeling or arbejder_i.")
KEY = validate.Length(min=1, max=200)
TEXT = validate.Length(min=1, max=500)
OMITTED = "Personal data left out of this answer because the caller may not see it (cpr, name); see " \
          "organisation/personal.py.  Null fields named here are hidden, not empty."


# -- query parameters -----------------------------------------------------------------------------------------

class ScopeArgs(Schema):
    municipality = fields.Integer(
        validate=validate.Range(min=1, max=999),
        metadata={"description": "The municipality (code) to act on: required for platform operators; others act "
                                 "for their own municipality and may leave it out."})


class OrgAsOfArgs(ScopeArgs):
    valid_at = Instant(metadata={"description": "Valid time (virkning): a date or an instant; default now."})
    registered_at = Instant(metadata={"description": "Registration time (registrering); default now."})


class OrgPageArgs(OrgAsOfArgs):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Items per page (1-{MAX_LIMIT})."})
    cursor = fields.String(validate=validate.Length(max=200),
                           metadata={"description": "`next_cursor` of the previous page; omit for the first."})


class HierarchyArgs(OrgPageArgs):
    limit = fields.Integer(load_default=5000, validate=validate.Range(min=1, max=5000),
                           metadata={"description": "Units per page (1-5000; default 5000: the whole hierarchy "
                                                    "of even a large municipality in one answer)."})


class UnitListArgs(OrgPageArgs):
    kle = fields.String(validate=KLE_FILTER, metadata={
        "description": "Only units with a KLE task matching: an exact number (27.35) or a prefix pattern (27.* = "
                       "27 and everything below it; * = any task)."})
    aspect = fields.String(validate=validate.OneOf(["ansvarlig", "indsigt", "udfoerende"]),
                           metadata={"description": "With `kle`: only tasks with this aspect."})


class SliceArgs(ScopeArgs):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "First day of the window."})
    to = fields.Date(required=True, metadata={"description": "Day after the window (exclusive)."})
    registered_at = Instant(metadata={"description": "Registration time (registrering); default now."})

    @validates_schema
    def _order(self, data, **_):
        if data["to"] <= data["from_"]:
            raise ValidationError("Must be after `from` (the window is [from, to)).", "to")


class UnitFunctionArgs(OrgAsOfArgs):
    type = fields.String(validate=CODE, metadata={"description": "Only functions of this function type "
                                                                 "(arbejder_i, leder, ...)."})
    history = fields.Boolean(load_default=False, metadata={
        "description": "Every function ever linked to the unit, with its full fact history (both times)."})


class EngagementArgs(ScopeArgs):
    valid_at = Instant(metadata={"description": "Only engagements valid at this point; default: all, past, "
                                                "present and future."})
    registered_at = Instant(metadata={"description": "Registration time (registrering); default now."})


# -- write bodies ------------------------------------------------------------------------------------------------

class OrgTaskSchema(Schema):
    code = fields.String(validate=KLE_CODE, metadata={"description": "The KLE number (or give `klasse`)."})
    klasse = fields.UUID(metadata={"description": "The KLE class's UUID (or give `code`)."})
    aspect = fields.String(required=True, metadata={"description": "ansvarlig, indsigt or udfoerende."})

    @validates_schema
    def _one(self, data, **_):
        if not data.get("code") and not data.get("klasse"):
            raise ValidationError("A task names its KLE number (`code`) or class (`klasse`).", "code")


class OrgAddressSchema(Schema):
    type = fields.String(required=True, validate=CODE,
                         metadata={"description": "email, telefon, postadresse, ean, p_nummer, los_id, www."})
    value = fields.String(required=True, validate=TEXT)


def _uuids(description: str):
    return fields.List(fields.UUID(), metadata={"description": description})


class OrgUnitWriteSchema(ValidPeriodSchema):
    user_key = fields.String(required=True, validate=KEY, metadata={"description": "The unit's short key."})
    name = fields.String(required=True, validate=TEXT)
    unit_type = fields.String(required=True, validate=CODE, metadata={"description": "A code of enhedstype."})
    parent = fields.UUID(allow_none=True, metadata={"description": "The parent unit; none only for the root."})
    tasks = fields.List(fields.Nested(OrgTaskSchema), metadata={"description": "KLE tasks."})
    addresses = fields.List(fields.Nested(OrgAddressSchema))
    it_systems = _uuids("IT systems of the municipality the unit uses.")


class OrgPersonWriteSchema(ValidPeriodSchema):
    user_key = fields.String(validate=KEY, metadata={"description": "Default: the person's UUID."})
    name = fields.String(required=True, validate=TEXT, metadata={"description": "Personal data."})
    cpr = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{10}$", error="Ten digits."),
                        metadata={"description": "The CPR number (personal data)."})


class OrgUserWriteSchema(ValidPeriodSchema):
    user_key = fields.String(required=True, validate=KEY, metadata={"description": "The user id (AD account)."})
    name = fields.String(allow_none=True, validate=TEXT, metadata={"description": "The person's name "
                                                                                  "(personal data)."})
    person = fields.UUID(allow_none=True, metadata={"description": "The user's person."})
    addresses = fields.List(fields.Nested(OrgAddressSchema))


class OrgFunctionWriteSchema(ValidPeriodSchema):
    user_key = fields.String(allow_none=True, validate=KEY)
    function_type = fields.String(required=True, validate=CODE,
                                  metadata={"description": "A code of funktionstype: arbejder_i, leder, ..."})
    name = fields.String(allow_none=True, validate=TEXT, metadata={"description": "E.g. the job title."})
    units = _uuids("The units it concerns (employment, manager: the unit; paying unit: the payer).")
    users = _uuids("The users it concerns (employment: the employee; manager: the manager).")
    for_unit = fields.UUID(allow_none=True, metadata={"description": "Paying unit: the unit it pays for."})
    tasks = fields.List(fields.Nested(OrgTaskSchema))
    addresses = fields.List(fields.Nested(OrgAddressSchema))


class OrgItSystemWriteSchema(ValidPeriodSchema):
    user_key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=TEXT)


def patch_schema(write: type[Schema], name: str) -> type[Schema]:
    """The PATCH body of `write`: every field optional; null clears a single-valued field in the period."""
    declared = {}
    for key, field in write._declared_fields.items():
        field = copy.copy(field)
        field.required = False
        field.allow_none = True
        declared[key] = field
    return type(name, (write,), {**declared, "__doc__": f"An update of {write.__name__}: only the fields "
                                                            "sent change, and only within [valid_from, valid_to)."})


# -- answers ---------------------------------------------------------------------------------------------------

class OrgWriteResultSchema(Schema):
    uuid = fields.String()
    registration_no = fields.Integer(metadata={"description": "The new registration; also the ETag."})
    lifecycle = fields.String()
    changed = fields.Boolean(metadata={"description": "False: nothing differed, no registration was made."})


class OrgObjectSchema(Schema):
    uuid = fields.String()
    municipality_code = fields.Integer()
    registration_no = fields.Integer(metadata={"description": "The registration read; also the ETag."})
    lifecycle = fields.String()
    user_key = fields.String(allow_none=True)


class OrgUnitSchema(OrgObjectSchema):
    name = fields.String(allow_none=True)
    unit_type = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)
    tasks = fields.List(fields.Dict())
    addresses = fields.List(fields.Dict())
    it_systems = fields.List(fields.String())


class OrgPersonSchema(OrgObjectSchema):
    name = fields.String(allow_none=True, metadata={"description": "Personal data (see `omitted`)."})
    cpr = fields.String(allow_none=True, metadata={"description": "Personal data (see `omitted`)."})
    omitted = fields.List(fields.String(), metadata={"description": OMITTED})


class OrgUserSchema(OrgObjectSchema):
    name = fields.String(allow_none=True, metadata={"description": "The person's name: personal data."})
    person = fields.String(allow_none=True)
    addresses = fields.List(fields.Dict())
    omitted = fields.List(fields.String(), metadata={"description": OMITTED})


class OrgFunctionSchema(OrgObjectSchema):
    function_type = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    units = fields.List(fields.String())
    users = fields.List(fields.String())
    for_unit = fields.String(allow_none=True)
    tasks = fields.List(fields.Dict())
    addresses = fields.List(fields.Dict())


class OrgItSystemSchema(OrgObjectSchema):
    name = fields.String(allow_none=True)


class OrgFactSchema(Schema):
    field = fields.String()
    value = fields.Raw(allow_none=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_to = fields.DateTime(allow_none=True, metadata={"description": "Exclusive; null = open."})
    registered_from = fields.DateTime(allow_none=True)
    registered_to = fields.DateTime(allow_none=True, metadata={"description": "Exclusive; null = still believed."})
    omitted = fields.Boolean(metadata={"description": "True: personal data this caller may not see; value is null."})


class UnitSummarySchema(Schema):
    uuid = fields.String()
    user_key = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    unit_type = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)


class UnitListItemSchema(UnitSummarySchema):
    tasks = fields.List(fields.Dict(), metadata={"description": "With `kle`: the unit's matching tasks."})


class UnitPageSchema(Schema):
    items = fields.List(fields.Nested(UnitListItemSchema))
    next_cursor = fields.String(allow_none=True,
                                metadata={"description": "Pass as `cursor` for the next page; null on the last."})


class HierarchyPageSchema(Schema):
    items = fields.List(fields.Nested(UnitSummarySchema), metadata={"description": "Units by UUID."})
    next_cursor = fields.String(allow_none=True,
                                metadata={"description": "Pass as `cursor` for the next page; null on the last."})


class HierarchySliceSchema(Schema):
    valid_from = fields.DateTime()
    valid_to = fields.DateTime(metadata={"description": "Exclusive."})
    units = fields.List(fields.Nested(UnitSummarySchema), metadata={"description": "The units valid throughout."})


class UserSummarySchema(Schema):
    uuid = fields.String()
    user_key = fields.String(allow_none=True)
    name = fields.String(allow_none=True, metadata={"description": "The person's name: personal data."})
    person = fields.String(allow_none=True)
    omitted = fields.List(fields.String(), metadata={"description": OMITTED})


class UnitFunctionSchema(Schema):
    """A function linked to a unit.  With `history=true` each item has only `uuid`, `lifecycle`,
    `facts` (every fact, both times) and `users` (every user it ever named)."""

    uuid = fields.String()
    user_key = fields.String(allow_none=True)
    function_type = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    units = fields.List(fields.String())
    for_unit = fields.String(allow_none=True)
    tasks = fields.List(fields.Dict())
    addresses = fields.List(fields.Dict())
    users = fields.List(fields.Nested(UserSummarySchema), metadata={
        "description": "As valid at valid_at, else as last known."})
    lifecycle = fields.String(metadata={"description": "history=true only: the current lifecycle."})
    facts = fields.List(fields.Nested(OrgFactSchema), metadata={"description": "history=true only."})


class EngagementPeriodSchema(Schema):
    valid_from = fields.DateTime(allow_none=True)
    valid_to = fields.DateTime(allow_none=True, metadata={"description": "Exclusive; null = open."})
    name = fields.String(allow_none=True, metadata={"description": "The job title in this period."})
    unit = fields.Nested(UnitSummarySchema, allow_none=True)


class EngagementSchema(Schema):
    uuid = fields.String()
    user_key = fields.String(allow_none=True)
    periods = fields.List(fields.Nested(EngagementPeriodSchema),
                          metadata={"description": "Where and as what, period by period."})


class ManagerSchema(Schema):
    engagement = fields.String(metadata={"description": "The user's engagement (function UUID)."})
    unit = fields.Nested(UnitSummarySchema, metadata={"description": "The engagement's unit."})
    manager_unit = fields.Nested(UnitSummarySchema, allow_none=True,
                                 metadata={"description": "The unit whose manager it is: the unit or its nearest "
                                                          "ancestor with one."})
    managers = fields.List(fields.Nested(UserSummarySchema))
