"""The valid-time period of a write body, shared by every API on the bitemporal store."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validates_schema


class ValidPeriodSchema(Schema):
    """`valid_from` / `valid_to` as Danish dates: the period [from, to) a write covers (virkning)."""

    valid_from = fields.Date(allow_none=True, metadata={"description": "First day (Danish date); none = open."})
    valid_to = fields.Date(allow_none=True, metadata={"description": "Day it stops being valid (exclusive)."})

    @validates_schema
    def _order(self, data, **_):
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] <= data["valid_from"]:
            raise ValidationError("Must be after valid_from (periods are [from, to)).", "valid_to")
