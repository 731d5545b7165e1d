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

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from marshmallow import RAISE, Schema, ValidationError, fields, validates_schema

from app.fastload import loader_with_fallback
from app.instants import not_ahead_of_clock
from authz.catalogue import Sensitivity
from indexes.record_fields import (
    CENT,
    FACET,
    Amount,
    Day,
    Flag,
    Instant,
    Items,
    Urn,
    field_of,
    kle_field,
    list_of,
    one_of,
    pattern,
    text_field,
    uuid_field,
)
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

STATES = ("Opstaaet", "Oplyst", "Afgjort", "Afsluttet")
DOCUMENT_TYPES = ("indgaaende", "udgaaende", "intern", "dagsorden", "notat", "faktura", "rapport", "andet")
DOCUMENT_RELATIONS = ("svar", "bilag", "ny_revision")



# -- schemas --------------------------------------------------------------------------------------------

class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Party(_Strict):
    urn = Urn(required=True)
    name = text_field(1, 300)


def _parties(roles: tuple[str, ...]) -> Items:
    schema = _Party.from_dict({"role": one_of(roles)}, name=f"Party_{'_'.join(roles)}")
    return list_of(fields.Nested(schema), MAX_PARTIES)


class ProgressSchema(_Strict):
    state = one_of(STATES)
    start = Instant(required=True, data_key="from", attribute="from")
    end = field_of(Instant, data_key="to", attribute="to")

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
    user = uuid_field(required=True)
    primary = Flag(load_default=False)


class RelatedDocumentSchema(_Strict):
    uuid = uuid_field(required=True)
    relation = one_of(DOCUMENT_RELATIONS)


class BenefitSchema(_Strict):
    id = text_field(1, 100, required=True)
    name = text_field(1, 300, required=True)
    start = Day(required=True)
    end = field_of(Day)
    repayable = Flag(load_default=False)
    benefit_class = text_field(1, 100, required=True)

    @validates_schema
    def _order(self, data: dict, **_):
        if data["end"] is not None and data["end"] <= data["start"]:
            raise ValidationError("Must be after start (the benefit runs [start, end)).", "end")


class LineSchema(_Strict):
    grant = uuid_field(required=True)
    benefit_id = text_field(1, 100, required=True)
    period = fields.Nested(DatePeriodSchema, required=True)
    amount = Amount(required=True)


# The sender's version stamp, also for a bulk removal line (indexes/bulk.py), which is no record.
CHANGED_AT = Instant(required=True, validate=not_ahead_of_clock)


class _Record(_Strict):
    uuid = uuid_field(required=True)
    changed_at = CHANGED_AT
    sensitivity = one_of([s.value for s in Sensitivity])
    master_system = uuid_field(required=True)
    primary_class = kle_field()
    action_facet = field_of(fields.String, validate=pattern(FACET, "A KLE action facet: a letter, 2 digits: G01."))


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _need_recipient(data: dict, errors: dict) -> None:
    if not any(p["role"] == "modtager" for p in data["parties"]):
        errors["parties"] = ['At least one party with role "modtager" (the recipient) is required.']


class SagSchema(_Record):
    case_number = text_field(1, 100, required=True)
    title = text_field(1, 500, required=True)
    description = text_field(0, 5000)
    legal_basis = text_field(0, 500)
    archive_code = text_field(0, 100)
    category = text_field(0, 100)
    local_status = text_field(0, 100)
    progress = list_of(fields.Nested(ProgressSchema), MAX_PROGRESS, low=1)
    case_workers = list_of(fields.Nested(CaseWorkerSchema), MAX_CASE_WORKERS)
    parties = _parties(("primaer", "sekundaer"))
    responsible_unit = uuid_field(required=True)
    primary_class = kle_field(required=True)
    other_classes = list_of(kle_field(required=True), MAX_CLASSES)
    related_cases = list_of(uuid_field(required=True), MAX_RELATED)
    documents = list_of(uuid_field(required=True), MAX_DOCUMENTS)
    sending_system = uuid_field()
    access_list = list_of(uuid_field(required=True), MAX_RELATED)

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
    number = text_field(0, 100)
    title = text_field(1, 500, required=True)
    letter_date = field_of(Day)
    document_type = one_of(DOCUMENT_TYPES)
    progress = one_of(STATES, required=False)
    parties = _parties(("afsender", "modtager", "part"))
    responsible_unit = uuid_field()
    cases = list_of(uuid_field(required=True), MAX_RELATED, low=1)
    related_documents = list_of(fields.Nested(RelatedDocumentSchema), MAX_RELATED)


class BevillingSchema(_Record):
    user_key = text_field(1, 100, required=True)
    benefits = list_of(fields.Nested(BenefitSchema), MAX_BENEFITS, low=1)
    parties = _parties(("modtager", "bevillingsmodtager"))
    responsible_unit = uuid_field(required=True)
    case = uuid_field()

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
    amount_sent = field_of(Amount)
    amount_paid = field_of(Amount)
    disposition_date = Day(required=True)
    paying_unit = uuid_field(required=True)
    grant = uuid_field()
    lines = list_of(fields.Nested(LineSchema), MAX_LINES, low=1)
    parties = _parties(("modtager",))

    @validates_schema
    def _cross(self, data: dict, **_):
        errors: dict = {}
        _need_recipient(data, errors)
        _raise(errors)


SCHEMAS: dict[str, Schema] = {"sag": SagSchema(), "dokument": DokumentSchema(), "bevilling": BevillingSchema(),
                              "effektuering": EffektueringSchema()}


# Bulk loads validate with the schemas' fast path (app/fastload.py): the same conversions without
# marshmallow's machinery; a record it is unsure of, and every invalid one, is loaded by the schema.
_LOAD = {kind: loader_with_fallback(schema) for kind, schema in SCHEMAS.items()}


# -- the API ----------------------------------------------------------------------------------------------

def load_record(kind: str, obj: dict) -> dict:
    """The normalised record of `kind` (obj without "kind"); marshmallow.ValidationError if invalid."""
    if kind not in SCHEMAS:
        raise ValidationError({"kind": [f"Must be one of: {', '.join(KINDS)}."]})
    return _LOAD[kind](obj)


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
    """`to_document(record)` as JSON text, without building the intermediate dict (bulk loads; orjson,
    with datetimes and dates handed to `_json_default` so the text is exactly to_document's)."""
    return orjson.dumps(record, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


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
