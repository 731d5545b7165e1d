"""The field types of index records (indexes/records.py): strict formats with messages a sender
can act on, and the helpers the record schemas are built from."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from app.instants import to_utc
from indexes.identifiers import normalise_urn, urn_problem

MAX_AMOUNT = Decimal(10) ** 11  # amounts are below this in absolute value
CENT = Decimal("0.01")

KLE = re.compile(r"^[0-9]{2}(\.[0-9]{2}){0,2}$")
FACET = re.compile(r"^[A-Z][0-9]{2}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
INSTANT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})?$")
AMOUNT = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def length(low: int, high: int) -> Callable[[str], None]:
    def check(value: str) -> None:
        if len(value) > high:
            raise ValidationError(f"Too long: {len(value)} characters, at most {high} allowed.")
        if len(value) < low:
            raise ValidationError("Must not be empty.")
    return check


def pattern(rx: re.Pattern, error: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not rx.match(value):
            raise ValidationError(error)
    return check


class Uuid(fields.UUID):
    """A UUID, kept as its canonical lower-case string."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid_uuid")
        if CANONICAL_UUID.fullmatch(value):  # already what str(UUID(value)) gives; most are
            return value
        return str(super()._deserialize(value, attr, data, **kwargs))


class Instant(fields.Field):
    """An RFC 3339 date-time with a UTC offset, as an aware datetime in UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        m = INSTANT.match(value) if isinstance(value, str) else None
        if m is None:
            raise ValidationError("Not a valid date-time: RFC 3339, e.g. 2026-01-31T09:30:00+01:00.")
        if m.group(2) is None:
            raise ValidationError("The date-time must include a UTC offset (Z or e.g. +01:00).")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{value} is not a real date-time.") from None
        try:
            return to_utc(moment)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Day(fields.Field):
    """A calendar date YYYY-MM-DD."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if not isinstance(value, str) or not DATE.match(value):
            raise ValidationError("Not a valid date: YYYY-MM-DD.")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{value} is not a real date.") from None


class Flag(fields.Field):
    """true or false, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class Amount(fields.Field):
    """An amount in kroner: a JSON number or a string such as "-1234.50", at most 2 decimals, |x| < 10^11."""

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError('Must be a number or a string such as "1234.50".')
        if (isinstance(value, float) and not math.isfinite(value)) or \
                (isinstance(value, str) and value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")):
            raise ValidationError("NaN and Infinity are not amounts.")
        if isinstance(value, str) and not AMOUNT.match(value):
            raise ValidationError('Not a valid amount: digits with an optional "-" and decimal point, e.g. "1234.50".')
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if abs(number) >= MAX_AMOUNT:
            raise ValidationError("Must be less than 10^11 (100000000000) in absolute value.")
        cents = number.quantize(CENT)
        if cents != number:
            raise ValidationError("At most 2 decimals.")
        return cents if cents else Decimal("0.00")


class Items(fields.List):
    """A list whose length is checked before its items are (so a huge list costs nothing)."""

    def __init__(self, inner, low: int = 0, high: int = 100, **kwargs):
        super().__init__(inner, **kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value, attr, data, **kwargs) -> list:
        if isinstance(value, list | tuple):
            if len(value) > self.high:
                raise ValidationError(f"Too many items: {len(value)}, at most {self.high} allowed.")
            if len(value) < self.low:
                raise ValidationError(f"At least {self.low} item{'s' if self.low > 1 else ''} required.")
        return super()._deserialize(value, attr, data, **kwargs)


def field_of(cls: type[fields.Field], required: bool = False, **kwargs) -> fields.Field:
    """A required field, or an optional one that is null when absent."""
    return cls(required=True, **kwargs) if required else cls(allow_none=True, load_default=None, **kwargs)


def text_field(low: int, high: int, required: bool = False) -> fields.Field:
    return field_of(fields.String, required, validate=length(low, high))


def uuid_field(required: bool = False) -> fields.Field:
    return field_of(Uuid, required)


def kle_field(required: bool = False) -> fields.Field:
    return field_of(fields.String, required,
                  validate=pattern(KLE, "A KLE subject number: NN, NN.NN or NN.NN.NN, e.g. 27.35.04."))


def one_of(choices, required: bool = True) -> fields.Field:
    return field_of(fields.String, required, validate=validate.OneOf(choices, error="Must be one of: {choices}."))


def list_of(inner: fields.Field, high: int, low: int = 0) -> Items:
    """A list of at most `high` items; with `low` > 0 required, else [] when absent."""
    return Items(inner, low, high, required=True) if low else Items(inner, low, high, load_default=list)


class Urn(fields.String):
    """A party URN of a known scheme (indexes/identifiers.py), in its one searchable spelling."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if len(value) > 100:
            raise ValidationError(f"Too long: {len(value)} characters, at most 100 allowed.")
        problem = urn_problem(value)
        if problem:
            raise ValidationError(problem)
        return normalise_urn(value)
