"""The registry: vendors (leverandører), their IT systems and credentials,
platform users, and the published service catalogue."""

from __future__ import annotations

import secrets

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import problem_doc
from app.db import get_conn, register_constraint
from app.errors import Problem
from authz import access_log, hashing
from authz.catalogue import CONSTRAINT_TYPES, SERVICES
from authz.policy import PlatformRole, authenticated, current, platform, require_vendor
from authz.schemas import PlatformUserSchema, SystemCredentialsSchema, SystemSchema, VendorSchema

OPERATOR = PlatformRole.OPERATOR
VENDOR_ADMIN = PlatformRole.VENDOR_ADMIN

blp = Blueprint("registry", __name__, description="Vendors, their IT systems and credentials; platform users.")
catalogue_blp = Blueprint("catalogue", __name__, description="The service catalogue.")

_SYSTEM_COLUMNS = "id, vendor_id, name, cert_thumbprint, client_id, active, created_at"


@catalogue_blp.route("")
class Catalogue(MethodView):
    @authenticated
    @catalogue_blp.response(200)
    def get(self):
        """Every service with its roles, and every data-constraint type with its URI."""
        return {
            "services": [{"code": s.code, "name": s.name, "description": s.description,
                          "roles": [r.value for r in s.roles]} for s in SERVICES.values()],
            "constraint_types": [{"key": c.key, "uri": c.uri, "description": c.description}
                                 for c in CONSTRAINT_TYPES],
        }


@blp.route("/vendors")
class Vendors(MethodView):
    @platform(OPERATOR, VENDOR_ADMIN)
    @blp.response(200, VendorSchema(many=True))
    def get(self):
        """Vendors: all for operators, a vendor admin's own vendor otherwise."""
        p = current()
        if p.is_operator:
            return get_conn().execute("SELECT * FROM vendor ORDER BY name").fetchall()
        return get_conn().execute("SELECT * FROM vendor WHERE id = %(id)s", {"id": p.vendor_id}).fetchall()

    @platform(OPERATOR)
    @blp.arguments(VendorSchema)
    @blp.response(201, VendorSchema)
    @blp.alt_response(409, **problem_doc("A vendor with this name exists."))
    def post(self, body):
        """Register a vendor (operators)."""
        return get_conn().execute("INSERT INTO vendor (name, cvr) VALUES (%(name)s, %(cvr)s) RETURNING *",
                                  {"name": body["name"], "cvr": body.get("cvr")}).fetchone()


def _vendor_or_404(vendor_id) -> dict:
    require_vendor(vendor_id)
    row = get_conn().execute("SELECT * FROM vendor WHERE id = %(id)s", {"id": vendor_id}).fetchone()
    if row is None:
        raise Problem(404, "not_found", "No such vendor.")
    return row


@blp.route("/vendors/<uuid:vendor_id>/systems")
class VendorSystems(MethodView):
    @platform(OPERATOR, VENDOR_ADMIN)
    @blp.response(200, SystemSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such vendor (for this caller)."))
    def get(self, vendor_id):
        """The vendor's IT systems (never their secrets)."""
        _vendor_or_404(vendor_id)
        return get_conn().execute(f"SELECT {_SYSTEM_COLUMNS} FROM it_system WHERE vendor_id = %(v)s ORDER BY name",
                                  {"v": vendor_id}).fetchall()

    @platform(OPERATOR, VENDOR_ADMIN)
    @blp.arguments(SystemSchema)
    @blp.response(201, SystemCredentialsSchema)
    @blp.alt_response(409, **problem_doc("The vendor has a system with this name."))
    def post(self, body, vendor_id):
        """Register an IT system; the answer holds its client secret, shown this once."""
        _vendor_or_404(vendor_id)
        secret = hashing.new_client_secret()
        row = get_conn().execute(
            f"INSERT INTO it_system (vendor_id, name, client_id, secret_hash, cert_thumbprint) "
            f"VALUES (%(v)s, %(n)s, %(c)s, %(h)s, %(t)s) RETURNING {_SYSTEM_COLUMNS}",
            {"v": vendor_id, "n": body["name"], "c": "sys-" + secrets.token_hex(8),
             "h": hashing.hash_secret(secret), "t": body.get("cert_thumbprint")},
        ).fetchone()
        return {**row, "client_secret": secret}


def system_or_404(system_id) -> dict:
    row = get_conn().execute(f"SELECT {_SYSTEM_COLUMNS} FROM it_system WHERE id = %(id)s",
                             {"id": system_id}).fetchone()
    if row is None:
        raise Problem(404, "not_found", "No such IT system.")
    require_vendor(row["vendor_id"])
    return row


@blp.route("/systems/<uuid:system_id>/secret")
class SystemSecret(MethodView):
    @platform(OPERATOR, VENDOR_ADMIN)
    @blp.response(200, SystemCredentialsSchema)
    @blp.alt_response(404, **problem_doc("No such IT system (for this caller)."))
    def post(self, system_id):
        """Replace the system's client secret; the new one is shown this once, the old stops working."""
        system_or_404(system_id)
        secret = hashing.new_client_secret()
        row = get_conn().execute(f"UPDATE it_system SET secret_hash = %(h)s WHERE id = %(id)s "
                                 f"RETURNING {_SYSTEM_COLUMNS}",
                                 {"h": hashing.hash_secret(secret), "id": system_id}).fetchone()
        return {**row, "client_secret": secret}


@blp.route("/platform-users")
class PlatformUsers(MethodView):
    @platform(OPERATOR)
    @blp.response(200, PlatformUserSchema(many=True))
    def get(self):
        """Every platform user (operators). Their names are personal data: the read is access-logged."""
        rows = get_conn().execute("SELECT * FROM platform_user ORDER BY username").fetchall()
        access_log.record("platform_users.list", [f"urn:uuid:{r['id']}" for r in rows])
        return rows

    @platform(OPERATOR)
    @blp.arguments(PlatformUserSchema)
    @blp.response(201, PlatformUserSchema)
    @blp.alt_response(409, **problem_doc("The username is taken."))
    def post(self, body):
        """Create a municipality admin, vendor admin or operator (operators)."""
        if not body.get("password"):
            raise Problem(422, "validation_failed", "A new user needs a password.",
                          errors=[{"location": "json", "field": "password", "detail": "Missing data for required "
                                                                                      "field."}])
        return create_platform_user(get_conn(), body)


def create_platform_user(conn, body: dict) -> dict:
    role = body["role"]
    return conn.execute(
        "INSERT INTO platform_user (username, display_name, password_hash, role, municipality_code, vendor_id) "
        "VALUES (%(u)s, %(d)s, %(h)s, %(r)s, %(m)s, %(v)s) RETURNING *",
        {"u": body["username"], "d": body["display_name"], "h": hashing.hash_secret(body["password"]), "r": role,
         "m": body.get("municipality_code") if role == "municipality_admin" else None,
         "v": body.get("vendor_id") if role == "vendor_admin" else None},
    ).fetchone()


def register_constraints() -> None:
    register_constraint("vendor_name_key", code="vendor_exists", field="name",
                        detail="A vendor with this name exists.")
    register_constraint("it_system_vendor_name_key", code="system_exists", field="name",
                        detail="The vendor already has a system with this name.")
    register_constraint("platform_user_username_key", code="username_taken", field="username",
                        detail="The username is taken.")
    register_constraint("platform_user_municipality_code_fkey", status=422, code="unknown_municipality",
                        field="municipality_code", detail="No municipality has this code.")
    register_constraint("platform_user_vendor_id_fkey", status=422, code="unknown_vendor", field="vendor_id",
                        detail="No such vendor.")
