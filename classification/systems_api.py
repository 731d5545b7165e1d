"""Klassifikationer and their facets through the API: the national ones (KLE,
the shared type lists) and a municipality's own local classifications.

A municipality admin (or a system with `klassifikation` edit for that
municipality) creates local classifications and facets; operators create
national ones.  Reads show national objects and the caller's own.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.bitemporal.periods import Period
from app.db import get_conn
from app.errors import Problem
from authz.policy import current
from classification.api import READ, blp, visible
from classification.model import facetter, klassifikationer
from classification.write_api import CODE, WRITE, WriteResultSchema, _actor, _owner_for_write, _store_call


class ObjectWriteSchema(Schema):
    user_key = fields.String(required=True, validate=CODE)
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(validate=validate.Length(max=10000))


class ObjectSchema(Schema):
    uuid = fields.String()
    municipality_code = fields.Integer(allow_none=True)
    registration_no = fields.Integer()
    lifecycle = fields.String()
    user_key = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    klassifikation = fields.String(allow_none=True)
    published = fields.String(allow_none=True)


def _data(body: dict, **extra) -> dict:
    always = Period()
    data = {k: [(body.get(k), always)] for k in ("user_key", "title", "description")}
    data["published"] = [("Publiceret", always)]
    data.update({k: [(v, always)] for k, v in extra.items()})
    return data


def _list(store, table: str, extra_where: str = "", params: dict | None = None) -> list[dict]:
    p = current()
    ids = [str(r["uuid"]) for r in get_conn().execute(
        f"SELECT uuid FROM {table} WHERE lifecycle NOT IN ('Slettet', 'Passiveret') "
        f"AND (municipality_code IS NULL OR %(op)s OR municipality_code = %(m)s) {extra_where} ORDER BY uuid",
        {"op": p.is_operator, "m": p.municipality_code, **(params or {})})]
    return sorted(store.read_many(get_conn(), ids), key=lambda o: o["user_key"] or "")


@blp.route("/klassifikationer")
class Klassifikationer(MethodView):
    @READ
    @blp.response(200, ObjectSchema(many=True))
    def get(self):
        """The classifications visible to the caller: national ones and its municipality's own."""
        return _list(klassifikationer, "klassifikation")

    @WRITE
    @blp.arguments(ObjectWriteSchema)
    @blp.response(201, WriteResultSchema)
    def post(self, body):
        """Create a classification: local to the caller's municipality, national when an operator creates it."""
        p = current()
        owner = None if p.is_operator else p.municipality_code
        _owner_for_write(owner)
        return _store_call(klassifikationer.create, get_conn(), _data(body), municipality_code=owner,
                           actor=_actor()).__dict__


@blp.route("/klassifikationer/<uuid:uuid>/facets")
class KlassifikationFacets(MethodView):
    @READ
    @blp.response(200, ObjectSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such classification for this caller."))
    def get(self, uuid):
        """The facets of a classification."""
        self._parent(uuid)
        return _list(facetter, "facet", "AND uuid IN (SELECT uuid FROM facet_fact WHERE field = 'klassifikation' "
                                        "AND value #>> '{}' = %(k)s AND upper_inf(registration))", {"k": str(uuid)})

    @WRITE
    @blp.arguments(ObjectWriteSchema)
    @blp.response(201, WriteResultSchema)
    @blp.alt_response(404, **problem_doc("No such classification for this caller."))
    def post(self, body, uuid):
        """Add a facet to a classification (same owner as the classification)."""
        parent = self._parent(uuid)
        _owner_for_write(parent["municipality_code"])
        return _store_call(facetter.create, get_conn(), _data(body, klassifikation=str(uuid)),
                           municipality_code=parent["municipality_code"], actor=_actor()).__dict__

    @staticmethod
    def _parent(uuid) -> dict:
        found = klassifikationer.read_many(get_conn(), [str(uuid)])
        if not found or not visible(found[0]):
            raise Problem(404, "not_found", "No such classification for this caller.")
        return found[0]


@blp.route("/facets/<uuid:uuid>")
class Facet(MethodView):
    @READ
    @blp.response(200, ObjectSchema)
    @blp.alt_response(404, **problem_doc("No such facet for this caller."))
    def get(self, uuid):
        """One facet."""
        found = facetter.read_many(get_conn(), [str(uuid)])
        if not found or not visible(found[0]):
            raise Problem(404, "not_found", "No such facet for this caller.")
        return found[0]
