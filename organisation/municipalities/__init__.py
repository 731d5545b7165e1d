"""The municipality registry: the 98 Danish municipalities, the tenants of
every other service.

Reads of one municipality come from PostgreSQL; lists and free-text search
go through Elasticsearch.  Writes are CLI-only for now (`flask municipalities
load|set`); the access-control issue adds protected write endpoints.
"""

from __future__ import annotations

from flask import Flask
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import problem_doc
from app.db import get_conn, register_constraint
from app.errors import Problem, field_error
from app.identifiers import MUNICIPALITY_CODES
from app.search import get_search, register_index
from authz.policy import PlatformRole, authenticated, platform
from organisation.municipalities import service
from organisation.municipalities.schemas import (
    MunicipalityListArgs,
    MunicipalityPageSchema,
    MunicipalitySchema,
    MunicipalityWriteSchema,
)
from organisation.municipalities.search import SPEC

blp = Blueprint("municipalities", __name__, description="The municipality registry (kommuner).")


@blp.route("")
class MunicipalityList(MethodView):
    @authenticated
    @blp.arguments(MunicipalityListArgs, location="query")
    @blp.response(200, MunicipalityPageSchema)
    def get(self, args):
        """Search municipalities by name or region (Elasticsearch), cursor-paged.

        Without `q`, all municipalities sorted by name.  Follow `next_cursor`
        until it is null.
        """
        return service.search(get_search(), q=args.get("q"), region=args.get("region"),
                              limit=args["limit"], cursor=args.get("cursor"))


@blp.route("/<int:code>")
class MunicipalityItem(MethodView):
    @authenticated
    @blp.response(200, MunicipalitySchema)
    @blp.alt_response(404, **problem_doc("No municipality has this code."))
    def get(self, code: int):
        """One municipality by its code (kommunekode), read from PostgreSQL."""
        row = service.get(get_conn(), code) if code in MUNICIPALITY_CODES else None
        if row is None:
            raise Problem(404, "municipality_not_found", f"No municipality has code {code}.")
        return row

    @platform(PlatformRole.OPERATOR)
    @blp.arguments(MunicipalityWriteSchema)
    @blp.response(200, MunicipalitySchema)
    @blp.alt_response(201, schema=MunicipalitySchema, description="Created.")
    @blp.alt_response(409, **problem_doc("Another municipality already has this CVR number."))
    def put(self, record, code: int):
        """Create or replace a municipality (platform operators; the registry is national)."""
        if code not in MUNICIPALITY_CODES:
            raise Problem(422, "validation_failed", f"{code} is not a municipality code.",
                          errors=[field_error("path", "code", "A municipality code (kommunekode): 100-999.")])
        outcome = service.upsert(get_conn(), {**record, "code": code})
        return service.get(get_conn(), code), 201 if outcome == "inserted" else 200


@blp.route("/validate")
class MunicipalityValidate(MethodView):
    @authenticated
    @blp.arguments(MunicipalitySchema)
    @blp.response(200, MunicipalitySchema)
    @blp.alt_response(409, **problem_doc("Another municipality already has this CVR number."))
    def post(self, record):
        """Check a municipality record without saving it (dry-run).

        Applies every rule a write applies: field types and ranges, the CVR
        modulus-11 check, the region list, and CVR uniqueness.  Answers the
        normalised record, or a problem listing each field that fails.
        """
        holder = service.find_by_cvr(get_conn(), record["cvr"])
        if holder is not None and holder["code"] != record["code"]:
            raise Problem(409, "cvr_taken", f"CVR {record['cvr']} belongs to municipality {holder['code']}.",
                          errors=[field_error("json", "cvr", "Another municipality already has this CVR number.")])
        return record


def init_app(app: Flask, api) -> None:
    from organisation.municipalities.cli import municipalities_cli

    register_index(SPEC)
    register_constraint("municipality_cvr_key", code="cvr_taken", field="cvr",
                        detail="Another municipality already has this CVR number.")
    api.register_blueprint(blp, url_prefix="/api/v1/municipalities")
    app.cli.add_command(municipalities_cli)
