"""Sortiments: a named, versioned subset of classes for one IT system.

A municipality admin (or operator) defines a sortiment for a system and
replaces its classes; every replacement is a new immutable version.  The
system itself reads its own sortiments with a `klassifikation` read token;
the classes come back as they are valid and registered at the point asked.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn, register_constraint
from app.errors import Problem, field_error
from app.identifiers import MUNICIPALITY_CODE
from authz.catalogue import Role
from authz.policy import PlatformRole, current, platform, system_or_platform
from classification.api import AsOfArgs, KlasseSchema, blp
from classification.model import klasser

ADMINS = (PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)


class SortimentWriteSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=2000))
    system_id = fields.UUID(required=True)
    municipality_code = fields.Integer(validate=MUNICIPALITY_CODE,
                                       metadata={"description": "Operators only; admins use their own."})
    classes = fields.List(fields.UUID(), required=True, validate=validate.Length(max=20000))


class SortimentClassesSchema(Schema):
    classes = fields.List(fields.UUID(), required=True, validate=validate.Length(max=20000))


class SortimentSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    system_id = fields.UUID()
    municipality_code = fields.Integer()
    version = fields.Integer()
    class_ids = fields.List(fields.UUID())


class SortimentReadArgs(AsOfArgs):
    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "Default: the newest."})


class SortimentContentSchema(SortimentSchema):
    classes = fields.List(fields.Nested(KlasseSchema))


def _check_classes(ids: list, municipality_code: int) -> list[str]:
    """Existing classes, national or the municipality's own local ones."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    found = {str(r["uuid"]) for r in get_conn().execute(
        "SELECT uuid FROM klasse WHERE uuid = ANY(%(i)s::uuid[]) AND lifecycle <> 'Slettet' "
        "AND (municipality_code IS NULL OR municipality_code = %(m)s)", {"i": ids, "m": municipality_code})}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Problem(422, "unknown_class", f"{len(missing)} class(es) do not exist.",
                      errors=[field_error("json", "classes", f"No class {i}.") for i in missing[:20]])
    return ids


def _load(sortiment_id, version: int | None = None) -> dict:
    p = current()
    row = get_conn().execute(
        "SELECT s.*, v.version, v.classes AS class_ids FROM sortiment s JOIN sortiment_version v "
        "ON v.sortiment_id = s.id WHERE s.id = %(id)s AND (%(v)s::int IS NULL OR v.version = %(v)s) "
        "ORDER BY v.version DESC LIMIT 1", {"id": sortiment_id, "v": version}).fetchone()
    visible = row is not None and (p.is_operator or (p.municipality_code == row["municipality_code"] and (
        not p.is_system or str(row["system_id"]) == str(p.system_id))))
    if not visible:
        raise Problem(404, "not_found", "No such sortiment (or version) for this caller.")
    return row


@blp.route("/sortiments")
class Sortiments(MethodView):
    @platform(*ADMINS)
    @blp.arguments(SortimentWriteSchema)
    @blp.response(201, SortimentSchema)
    @blp.alt_response(409, **problem_doc("The municipality has a sortiment with this name."))
    def post(self, body):
        """Define a sortiment for an IT system (version 1)."""
        p = current()
        code = body.get("municipality_code") if p.is_operator else p.municipality_code
        if code is None:
            raise Problem(422, "validation_failed", "An operator names the municipality.",
                          errors=[field_error("json", "municipality_code", "Missing data for required field.")])
        conn = get_conn()
        if conn.execute("SELECT 1 FROM it_system WHERE id = %(s)s", {"s": body["system_id"]}).fetchone() is None:
            raise Problem(422, "unknown_system", "No such IT system.",
                          errors=[field_error("json", "system_id", "No such IT system.")])
        ids = _check_classes(body["classes"], code)
        row = conn.execute("INSERT INTO sortiment (municipality_code, system_id, name, description) VALUES "
                           "(%(m)s, %(s)s, %(n)s, %(d)s) RETURNING id",
                           {"m": code, "s": body["system_id"], "n": body["name"],
                            "d": body.get("description")}).fetchone()
        conn.execute("INSERT INTO sortiment_version (sortiment_id, version, classes, created_by) VALUES "
                     "(%(id)s, 1, %(c)s::uuid[], %(by)s)", {"id": row["id"], "c": ids, "by": p.username})
        return _load(row["id"])

    @system_or_platform("klassifikation", Role.READ, *ADMINS)
    @blp.response(200, SortimentSchema(many=True))
    def get(self):
        """Sortiments visible to the caller (a system: its own), newest versions."""
        p = current()
        return get_conn().execute(
            "SELECT DISTINCT ON (s.id) s.*, v.version, v.classes AS class_ids FROM sortiment s "
            "JOIN sortiment_version v ON v.sortiment_id = s.id WHERE (%(op)s OR s.municipality_code = %(m)s) "
            "AND (%(sys)s::uuid IS NULL OR s.system_id = %(sys)s::uuid) ORDER BY s.id, v.version DESC",
            {"op": p.is_operator, "m": p.municipality_code, "sys": p.system_id if p.is_system else None}).fetchall()


@blp.route("/sortiments/<uuid:sortiment_id>")
class Sortiment(MethodView):
    @system_or_platform("klassifikation", Role.READ, *ADMINS)
    @blp.arguments(SortimentReadArgs, location="query")
    @blp.response(200, SortimentContentSchema)
    @blp.alt_response(404, **problem_doc("No such sortiment (or version) for this caller."))
    def get(self, args, sortiment_id):
        """A sortiment version with its classes as valid/registered at the point asked."""
        row = _load(sortiment_id, args.get("version"))
        classes = klasser.read_many(get_conn(), [str(c) for c in row["class_ids"]], valid_at=args.get("valid_at"),
                                    registered_at=args.get("registered_at"))
        return {**row, "classes": classes}

    @platform(*ADMINS)
    @blp.arguments(SortimentClassesSchema)
    @blp.response(200, SortimentSchema)
    @blp.alt_response(404, **problem_doc("No such sortiment for this caller."))
    def put(self, body, sortiment_id):
        """Replace the sortiment's classes: a new version (the same set again makes none)."""
        current_row = _load(sortiment_id)
        ids = _check_classes(body["classes"], current_row["municipality_code"])
        if sorted(ids) == sorted(str(c) for c in current_row["class_ids"]):
            return current_row
        get_conn().execute("INSERT INTO sortiment_version (sortiment_id, version, classes, created_by) VALUES "
                           "(%(id)s, %(v)s, %(c)s::uuid[], %(by)s)",
                           {"id": sortiment_id, "v": current_row["version"] + 1, "c": ids,
                            "by": current().username})
        return _load(sortiment_id)


register_constraint("sortiment_name_key", code="sortiment_exists", field="name",
                    detail="The municipality has a sortiment with this name.")
register_constraint("sortiment_version_pkey", code="concurrent_update", field="classes",
                    detail="Another change of this sortiment was saved at the same time; read it and retry.")
