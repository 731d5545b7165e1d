"""The records senders push to the indexes (docs/indexes.md "Records"): one schema per kind.

Four kinds: "sag" (case) and "dokument" (document) in the case and document index,
"bevilling" (grant) and "effektuering" (payment execution) in the benefit index.  The
schemas check shape, formats, sizes and the rules within one record; what a record
refers to (KLE codes, units, systems) is checked by indexes/service.py.

`load_record` gives the normalised record: every declared field present (null or [] when
absent), UUIDs as lower-case strings, datetimes aware in UTC, dates as date, amounts as
Decimal with two decimals, party URNs in their one searchable spelling.  `to_document`
gives its JSON form for storage, which `load_record` takes back unchanged, so an update
can merge a patch into a stored record and load it again.  Errors name the exact path
("parties.0.urn", "progress.1.to") through `flatten_errors`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from authz.catalogue import Sensitivity
from indexes.identifiers import normalise_urn, urn_problem
from organisation.sync_records import flatten_errors as _flatten

KINDS = ("sag", "dokument", "bevilling", "effektuering")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")

MAX_PARTIES = 100
MAX_PROGRESS = 50
MAX_CASE_WORKERS = 100
MAX_CLASSES = 50
MAX_RELATED = 1000          # related cases, related documents, the cases of a document, access list
MAX_DOCUMENTS = 10_000      # the documents of one case
MAX_BENEFITS = 100
MAX_LINES = 500
MAX_AMOUNT = Decimal(10) ** 11  # amounts are below this in absolute value
CENT = Decimal("0.01")

STATES = ("Opstaaet", "Oplyst", "Afgjort", "Afsluttet")
DOCUMENT_TYPES = ("indgaaende", "udgaaende", "intern", "dagsorden", "notat", "faktura", "rapport", "andet")
DOCUMENT_RELATIONS = ("svar", "bilag", "ny_revision")

_KLE = re.compile(r"^[0-9]{2}(\.[0-9]{2}){0,2}$")
_FACET = re.compile(r"^[A-Z][0-9]{2}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INSTANT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})?$")
_AMOUNT = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")


# -- fields ---------------------------------------------------------------------------------------------

def _length(low: int, high: int) -> Callable[[str], None]:
    def check(value: str) -> None:
        if len(value) > high:
            raise ValidationError(f"Too long: {len(value)} characters, at most {high} allowed.")
        if len(value) < low:
            raise ValidationError("Must not be empty.")
    return check


def _pattern(rx: re.Pattern, error: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not rx.match(value):
            raise ValidationError(error)
    return check


class Uuid(fields.UUID):
    """A UUID, kept as its canonical lower-case string."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid_uuid")
        return str(super()._deserialize(value, attr, data, **kwargs))


class Instant(fields.Field):
    """An RFC 3339 date-time with a UTC offset, as an aware datetime in UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        m = _INSTANT.match(value) if isinstance(value, str) else None
        if m is None:
            raise ValidationError("Not a valid date-time: RFC 3339, e.g. 2026-01-31T09:30:00+01:00.")
        if m.group(2) is None:
            raise ValidationError("The date-time must include a UTC offset (Z or e.g. +01:00).")
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            raise ValidationError(f"{value} is not a real date-time.") from None


class Day(fields.Field):
    """A calendar date YYYY-MM-DD."""

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        if not isinstance(value, str) or not _DATE.match(value):
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
        if isinstance(value, str) and not _AMOUNT.match(value):
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


def _field(cls: type[fields.Field], required: bool = False, **kwargs) -> fields.Field:
    """A required field, or an optional one that is null when absent."""
    return cls(required=True, **kwargs) if required else cls(allow_none=True, load_default=None, **kwargs)


def _text(low: int, high: int, required: bool = False) -> fields.Field:
    return _field(fields.String, required, validate=_length(low, high))


def _uuid(required: bool = False) -> fields.Field:
    return _field(Uuid, required)


def _kle(required: bool = False) -> fields.Field:
    return _field(fields.String, required,
                  validate=_pattern(_KLE, "A KLE subject number: NN, NN.NN or NN.NN.NN, e.g. 27.35.04."))


def _one_of(choices, required: bool = True) -> fields.Field:
    return _field(fields.String, required, validate=validate.OneOf(choices, error="Must be one of: {choices}."))


def _list(inner: fields.Field, high: int, low: int = 0) -> Items:
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


# -- schemas --------------------------------------------------------------------------------------------

class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Party(_Strict):
    urn = Urn(required=True)
    name = _text(1, 300)


def _parties(roles: tuple[str, ...]) -> Items:
    schema = _Party.from_dict({"role": _one_of(roles)}, name=f"Party_{'_'.join(roles)}")
    return _list(fields.Nested(schema), MAX_PARTIES)


class ProgressSchema(_Strict):
    state = _one_of(STATES)
    start = Instant(required=True, data_key="from", attribute="from")
    end = _field(Instant, data_key="to", attribute="to")

    @validates_schema
    def _order(self, data: dict, **_):
        if data["to"] is not None and data["to"] <= data["from"]:
            raise ValidationError("Must be after from (the period is [from, to)).", "to")


class DatePeriodSchema(_Strict):
    start = Day(required=True, data_key="from", attribute="from")
    end = Day(required=True, data_key="to", attribute="to")

    @validates_schema
    def _order(self, data: dict, **_):
        if data["to"] <= data["from"]:
            raise ValidationError("Must be after from (the period is [from, to)).", "to")


class CaseWorkerSchema(_Strict):
    user = _uuid(required=True)
    primary = Flag(load_default=False)


class RelatedDocumentSchema(_Strict):
    uuid = _uuid(required=True)
    relation = _one_of(DOCUMENT_RELATIONS)


class BenefitSchema(_Strict):
    id = _text(1, 100, required=True)
    name = _text(1, 300, required=True)
    start = Day(required=True)
    end = _field(Day)
    repayable = Flag(load_default=False)
    benefit_class = _text(1, 100, required=True)

    @validates_schema
    def _order(self, data: dict, **_):
        if data["end"] is not None and data["end"] <= data["start"]:
            raise ValidationError("Must be after start (the benefit runs [start, end)).", "end")


class LineSchema(_Strict):
    grant = _uuid(required=True)
    benefit_id = _text(1, 100, required=True)
    period = fields.Nested(DatePeriodSchema, required=True)
    amount = Amount(required=True)


class _Record(_Strict):
    uuid = _uuid(required=True)
    changed_at = Instant(required=True)
    sensitivity = _one_of([s.value for s in Sensitivity])
    master_system = _uuid(required=True)
    primary_class = _kle()
    action_facet = _field(fields.String, validate=_pattern(_FACET, "A KLE action facet: a letter, 2 digits: G01."))


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _need_recipient(data: dict, errors: dict) -> None:
    if not any(p["role"] == "modtager" for p in data["parties"]):
        errors["parties"] = ['At least one party with role "modtager" (the recipient) is required.']


class SagSchema(_Record):
    case_number = _text(1, 100, required=True)
    title = _text(1, 500, required=True)
    description = _text(0, 5000)
    legal_basis = _text(0, 500)
    archive_code = _text(0, 100)
    category = _text(0, 100)
    local_status = _text(0, 100)
    progress = _list(fields.Nested(ProgressSchema), MAX_PROGRESS, low=1)
    case_workers = _list(fields.Nested(CaseWorkerSchema), MAX_CASE_WORKERS)
    parties = _parties(("primaer", "sekundaer"))
    responsible_unit = _uuid(required=True)
    primary_class = _kle(required=True)
    other_classes = _list(_kle(required=True), MAX_CLASSES)
    related_cases = _list(_uuid(required=True), MAX_RELATED)
    documents = _list(_uuid(required=True), MAX_DOCUMENTS)
    sending_system = _uuid()
    access_list = _list(_uuid(required=True), MAX_RELATED)

    @validates_schema
    def _cross(self, data: dict, **_):
        errors: dict = {}
        periods = data["progress"]
        for i in range(1, len(periods)):
            before, this = periods[i - 1], periods[i]
            if before["to"] is None:
                errors.setdefault("progress", {})[i - 1] = {
                    "to": [f"Only the last period may be open (null); period {i} follows this one."]}
            elif this["from"] < before["to"]:
                errors.setdefault("progress", {})[i] = {
                    "from": [f"Must not be before the end of period {i - 1} ({_iso(before['to'])}): periods must "
                             "be in order and must not overlap."]}
        primary = [i for i, w in enumerate(data["case_workers"]) if w["primary"]]
        if len(primary) > 1:
            errors["case_workers"] = {i: {"primary": [f"Only one case worker can be primary (case worker "
                                                      f"{primary[0]} already is)."]} for i in primary[1:]}
        _raise(errors)


class DokumentSchema(_Record):
    number = _text(0, 100)
    title = _text(1, 500, required=True)
    letter_date = _field(Day)
    document_type = _one_of(DOCUMENT_TYPES)
    progress = _one_of(STATES, required=False)
    parties = _parties(("afsender", "modtager", "part"))
    responsible_unit = _uuid()
    cases = _list(_uuid(required=True), MAX_RELATED, low=1)
    related_documents = _list(fields.Nested(RelatedDocumentSchema), MAX_RELATED)


class BevillingSchema(_Record):
    user_key = _text(1, 100, required=True)
    benefits = _list(fields.Nested(BenefitSchema), MAX_BENEFITS, low=1)
    parties = _parties(("modtager", "bevillingsmodtager"))
    responsible_unit = _uuid(required=True)
    case = _uuid()

    @validates_schema
    def _cross(self, data: dict, **_):
        errors: dict = {}
        first: dict[str, int] = {}
        for i, benefit in enumerate(data["benefits"]):
            if benefit["id"] in first:
                errors.setdefault("benefits", {})[i] = {
                    "id": [f"Repeats the id of benefit {first[benefit['id']]}: benefit ids must be unique."]}
            first.setdefault(benefit["id"], i)
        _need_recipient(data, errors)
        _raise(errors)


class EffektueringSchema(_Record):
    period = fields.Nested(DatePeriodSchema, required=True)
    gross_amount = Amount(required=True)
    net_amount = Amount(required=True)
    amount_sent = _field(Amount)
    amount_paid = _field(Amount)
    disposition_date = Day(required=True)
    paying_unit = _uuid(required=True)
    grant = _uuid()
    lines = _list(fields.Nested(LineSchema), MAX_LINES, low=1)
    parties = _parties(("modtager",))

    @validates_schema
    def _cross(self, data: dict, **_):
        errors: dict = {}
        _need_recipient(data, errors)
        _raise(errors)


SCHEMAS: dict[str, Schema] = {"sag": SagSchema(), "dokument": DokumentSchema(), "bevilling": BevillingSchema(),
                              "effektuering": EffektueringSchema()}


# -- the API ----------------------------------------------------------------------------------------------

def load_record(kind: str, obj: dict) -> dict:
    """The normalised record of `kind` (obj without "kind"); marshmallow.ValidationError if invalid."""
    if kind not in SCHEMAS:
        raise ValidationError({"kind": [f"Must be one of: {', '.join(KINDS)}."]})
    return SCHEMAS[kind].load(obj)


def flatten_errors(messages: Any) -> list[dict[str, str]]:
    """A ValidationError's messages as [{"field": "parties.0.urn", "detail": ...}]."""
    return _flatten(messages)


def kind_of(record: dict) -> str:
    """The kind of a normalised record, from the required field only that kind has."""
    for key, kind in (("case_number", "sag"), ("document_type", "dokument"), ("benefits", "bevilling"),
                      ("lines", "effektuering")):
        if key in record:
            return kind
    raise ValueError("Not an index record.")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_document(value: Any) -> Any:
    """The JSON form of a normalised record: datetimes "...Z", dates ISO, amounts "1234.50"."""
    if isinstance(value, dict):
        return {key: to_document(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_document(v) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(CENT), "f")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(CENT), "f")
    raise TypeError(f"not JSON: {type(value).__name__}")


def document_json(record: dict) -> str:
    """`to_document(record)` as JSON text, without building the intermediate dict (bulk loads)."""
    return json.dumps(record, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def party_urns(record: dict) -> list[str]:
    """The record's party URNs, each once, in order."""
    return list(dict.fromkeys(p["urn"] for p in record.get("parties") or []))


def kle_codes(record: dict) -> list[str]:
    """The KLE subject numbers the record uses (primary class, then other classes), each once."""
    return list(dict.fromkeys(c for c in [record.get("primary_class"), *(record.get("other_classes") or [])] if c))


def unit_of(record: dict) -> str | None:
    """The unit the record belongs to for access control: the responsible unit, or the paying unit."""
    return record.get("responsible_unit") or record.get("paying_unit")


def sort_date(record: dict) -> date:
    """The record's date for sorting and for checking references: a case's first progress day (Danish
    date), a document's letter date (else the day of changed_at), a grant's first benefit start, a
    payment's disposition date."""
    kind = kind_of(record)
    if kind == "sag":
        return min(p["from"] for p in record["progress"]).astimezone(COPENHAGEN).date()
    if kind == "dokument":
        return record["letter_date"] or record["changed_at"].astimezone(COPENHAGEN).date()
    if kind == "bevilling":
        return min(b["start"] for b in record["benefits"])
    return record["disposition_date"]
