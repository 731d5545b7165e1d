"""Read API of Klassifikation: classes by UUID or by code within a facet, their
children, ancestors and history, and a whole facet as of a date.

Every read takes `valid_at` (virkning) and `registered_at` (registrering),
each a date (meaning midnight in Europe/Copenhagen) or an ISO 8601 instant
with a time zone; the defaults are now.  A class read answers its
registration number as ETag.  Writes (and search) arrive next (see the note
in docs/bitemporal.md).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from app.api import problem_doc
from app.bitemporal.periods import local_midnight
from app.bitemporal.store import Gone, NotFound
from app.db import get_conn
from app.errors import Problem
from app.instants import to_utc
from app.paging import PageArgs, PageSchema, decode_typed_cursor, encode_cursor, text
from app.search import get_search
from authz.catalogue import Role
from authz.policy import PlatformRole, current, system_or_platform
from classification import service
from classification.model import klasser
from classification.search_query import search_classes

blp = Blueprint("klassifikation", __name__, description="Klassifikation and KLE (read; bitemporal).")
READ = system_or_platform("klassifikation", Role.READ, PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)


class Instant(fields.Field):
    """A date (midnight Europe/Copenhagen) or an ISO 8601 instant with a time zone."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            if len(value) == 10:
                return local_midnight(date.fromisoformat(value))
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValidationError("Must be a date (YYYY-MM-DD) or an ISO 8601 instant with a time zone.") from None
        if parsed.tzinfo is None:
            raise ValidationError("An instant needs a time zone (e.g. Z or +01:00).")
        try:
            return to_utc(parsed)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class AsOfArgs(Schema):
    valid_at = Instant(metadata={"description": "Valid time (virkning): a date or an instant; default now."})
    registered_at = Instant(metadata={"description": "Registration time (registrering); default now."})


class FacetPageArgs(AsOfArgs, PageArgs):
    pass


class KlasseSchema(Schema):
    uuid = fields.String()
    municipality_code = fields.Integer(allow_none=True,
                                       metadata={"description": "Owner of a local class; null for national ones."})
    registration_no = fields.Integer(metadata={"description": "The registration read; also the ETag."})
    lifecycle = fields.String()
    user_key = fields.String(allow_none=True, metadata={"description": "The code, e.g. 27.35.04."})
    title = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    guidance = fields.String(allow_none=True)
    archive_code = fields.String(allow_none=True)
    deletion_period = fields.String(allow_none=True)
    legal_refs = fields.Raw(allow_none=True)
    search_words = fields.List(fields.String())
    facet = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)
    replaced_by = fields.List(fields.String())
    published = fields.String(allow_none=True)


class KlassePageSchema(PageSchema):
    items = fields.List(fields.Nested(KlasseSchema))


class RegistrationSchema(Schema):
    no = fields.Integer()
    lifecycle = fields.String()
    registered_from = fields.DateTime()
    registered_to = fields.DateTime(allow_none=True)
    actor = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


def visible(obj: dict | None) -> bool:
    """National classes are for everyone; a municipality's local classes for it (and operators)."""
    if obj is None:
        return False
    p = current()
    return obj.get("municipality_code") is None or p.is_operator or obj["municipality_code"] == p.municipality_code


def only_visible(objs: list[dict]) -> list[dict]:
    return [o for o in objs if visible(o)]


def _one(uuid: str, args: dict) -> dict:
    try:
        obj = klasser.read(get_conn(), uuid, valid_at=args.get("valid_at"), registered_at=args.get("registered_at"))
        if not visible(obj):
            raise NotFound(uuid)
        return obj
    except Gone:
        raise Problem(410, "gone", "The class is deleted (read its history to see what it was).") from None
    except NotFound:
        raise Problem(404, "not_found", "No such class at that registration time.") from None


class SearchArgs(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Free text: title, search words, guidance (æ/ø/å fold to ae/oe/aa)."})
    code = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9.]{1,20}$"),
                         metadata={"description": "Code or code prefix, e.g. 27.35."})
    facet = fields.UUID(metadata={"description": "Only classes of this facet."})
    valid_on = fields.Date(metadata={"description": "Only classes valid on this date (default: today)."})
    published = fields.String(load_default="Publiceret", validate=validate.OneOf(["Publiceret", "IkkePubliceret"]))


class SearchHitSchema(Schema):
    uuid = fields.String()
    code = fields.String()
    title = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    facet = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)
    search_words = fields.List(fields.String())


class SearchPageSchema(PageSchema):
    items = fields.List(fields.Nested(SearchHitSchema))


@blp.route("/search")
class Search(MethodView):
    @READ
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, SearchPageSchema)
    def get(self, args):
        """Search classes (Elasticsearch): text, code prefix, facet, valid on a date, publication state."""
        p = current()
        page = search_classes(get_search(), {**args, "municipality": None if p.is_operator else p.municipality_code})
        # The hits are already in the documented shape (search_query.FIELDS): answering them as
        # they are saves a schema pass on the hottest read path (docs/benchmarks.md).
        return jsonify(page)


@blp.route("/classes/<uuid:uuid>")
class Klasse(MethodView):
    @READ
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, KlasseSchema)
    @blp.alt_response(404, **problem_doc("No such class at that registration time."))
    @blp.alt_response(410, **problem_doc("The class is deleted."))
    def get(self, args, uuid):
        """One class as valid at `valid_at` and registered at `registered_at`; ETag = registration number."""
        obj = _one(str(uuid), args)
        return obj, 200, {"ETag": f'"{obj["registration_no"]}"'}


def _related(lookup, uuid, args: dict) -> list[dict]:
    """Classes related to a visible class (children, subtree, ancestors) at the point asked."""
    _one(str(uuid), args)
    return only_visible(lookup(get_conn(), str(uuid), valid_at=args.get("valid_at"),
                               registered_at=args.get("registered_at")))


@blp.route("/classes/<uuid:uuid>/children")
class Children(MethodView):
    @READ
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, KlasseSchema(many=True))
    def get(self, args, uuid):
        """The class's children at that point, by code."""
        return _related(service.children, uuid, args)


@blp.route("/classes/<uuid:uuid>/subtree")
class Subtree(MethodView):
    @READ
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, KlasseSchema(many=True))
    def get(self, args, uuid):
        """Every class below this one at that point (children, grandchildren, ...), by code."""
        return _related(service.subtree, uuid, args)


@blp.route("/classes/<uuid:uuid>/ancestors")
class Ancestors(MethodView):
    @READ
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, KlasseSchema(many=True))
    def get(self, args, uuid):
        """Parent, grandparent, ... of the class at that point (nearest first)."""
        return _related(service.ancestors, uuid, args)


@blp.route("/classes/<uuid:uuid>/registrations")
class History(MethodView):
    @READ
    @blp.response(200, RegistrationSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such class."))
    def get(self, uuid):
        """Every registration of the class: when, lifecycle code, by whom."""
        _visible_any_time(str(uuid))
        try:
            rows = klasser.registrations(get_conn(), str(uuid))
        except NotFound:
            raise Problem(404, "not_found", "No such class.") from None
        return [{**r, "registered_from": r["period"].lower, "registered_to": r["period"].upper} for r in rows]


def _visible_any_time(uuid: str) -> None:
    row = get_conn().execute("SELECT municipality_code FROM klasse WHERE uuid = %(u)s", {"u": uuid}).fetchone()
    if row is not None and not visible(row):
        raise Problem(404, "not_found", "No such class.")


class FactSchema(Schema):
    field = fields.String()
    value = fields.Raw(allow_none=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_to = fields.DateTime(allow_none=True, metadata={"description": "Exclusive; null = open."})
    registered_from = fields.DateTime(allow_none=True)
    registered_to = fields.DateTime(allow_none=True, metadata={"description": "Exclusive; null = still believed."})


@blp.route("/classes/<uuid:uuid>/facts")
class Facts(MethodView):
    @READ
    @blp.response(200, FactSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such class."))
    def get(self, uuid):
        """The class's full bitemporal history: every value with its valid and registration periods."""
        _visible_any_time(str(uuid))
        facts = klasser.facts(get_conn(), str(uuid))
        if not facts and not get_conn().execute("SELECT 1 FROM klasse WHERE uuid = %(u)s", {"u": uuid}).fetchone():
            raise Problem(404, "not_found", "No such class.")
        return [{"field": f.field, "value": f.value, "valid_from": f.valid.lower, "valid_to": f.valid.upper,
                 "registered_from": f.registration.lower, "registered_to": f.registration.upper} for f in facts]


@blp.route("/facets/<uuid:facet>/classes")
class FacetClasses(MethodView):
    @READ
    @blp.arguments(FacetPageArgs, location="query")
    @blp.response(200, KlassePageSchema)
    def get(self, args, facet):
        """A whole facet (e.g. the KLE subject plan) at one point, by code, cursor-paged."""
        after = decode_typed_cursor(args.get("cursor"), text)
        p = current()
        page, total, more = service.facet_page(
            get_conn(), str(facet), after=after[0] if after else None, limit=args["limit"],
            municipality_code=p.municipality_code, everyone=p.is_operator,
            valid_at=args.get("valid_at"), registered_at=args.get("registered_at"))
        return {"items": page, "total": total,
                "next_cursor": encode_cursor([page[-1]["user_key"] or ""]) if more else None}


@blp.route("/facets/<uuid:facet>/classes/<string:code>")
class ClassByCode(MethodView):
    @READ
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, KlasseSchema)
    @blp.alt_response(404, **problem_doc("No class with this code in the facet at that point."))
    def get(self, args, facet, code):
        """One class by its code within a facet (e.g. KLE 27.35.04) at that point."""
        if not re.fullmatch(r"[A-Za-z0-9.]{1,20}", code):
            raise Problem(400, "invalid_code", "A code is letters, digits and dots.")
        obj = service.by_code(get_conn(), str(facet), code, valid_at=args.get("valid_at"),
                              registered_at=args.get("registered_at"))
        if not visible(obj):
            raise Problem(404, "not_found", f"No class {code} in this facet at that point.")
        return obj, 200, {"ETag": f'"{obj["registration_no"]}"'}
