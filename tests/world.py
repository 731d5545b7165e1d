"""A small populated world for access-control tests: vendors, systems,
agreements and platform users, made through the service code, with helpers
to log in and get tokens through the public API."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from psycopg.types.json import Jsonb

from app.db import get_db
from authz import hashing
from authz.auth_api import basic_auth_header

PASSWORD = "correct horse battery staple"


@functools.cache
def _hash(value: str) -> str:
    """argon2 is slow on purpose; tests reuse one hash per value."""
    return hashing.hash_secret(value)
CVR = {751: "55133018", 101: "64942212", 461: "35209115"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    app: object
    ids: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def sql(self, query: str, params: dict | None = None):
        with self.app.app_context(), get_db().transaction() as conn:
            cursor = conn.execute(query, params or {})
            return cursor.fetchall() if cursor.description else []

    def vendor(self, name: str) -> str:
        [row] = self.sql("INSERT INTO vendor (name) VALUES (%(n)s) RETURNING id", {"n": name})
        self.ids[name] = str(row["id"])
        return self.ids[name]

    def system(self, name: str, vendor: str, thumbprint: str | None = None) -> str:
        secret = f"secret-of-{name}"
        [row] = self.sql(
            "INSERT INTO it_system (vendor_id, name, client_id, secret_hash, cert_thumbprint) "
            "VALUES (%(v)s, %(n)s, %(c)s, %(h)s, %(t)s) RETURNING id",
            {"v": self.ids[vendor], "n": name, "c": name, "h": _hash(secret), "t": thumbprint})
        self.ids[name], self.secrets[name] = str(row["id"]), secret
        return self.ids[name]

    def agreement(self, system: str, service: str, municipality: int, roles=("read",), constraints=None,
                  state: str = "approved") -> str:
        [row] = self.sql(
            "INSERT INTO agreement (system_id, service, municipality_code, roles, constraints, state) "
            "VALUES (%(s)s, %(svc)s, %(m)s, %(r)s, %(c)s, %(st)s) RETURNING id",
            {"s": self.ids[system], "svc": service, "m": municipality, "r": list(roles),
             "c": Jsonb(constraints or {}), "st": state})
        return str(row["id"])

    def user(self, username: str, role: str, municipality: int | None = None, vendor: str | None = None) -> str:
        [row] = self.sql(
            "INSERT INTO platform_user (username, display_name, password_hash, role, municipality_code, vendor_id) "
            "VALUES (%(u)s, %(u)s, %(h)s, %(r)s, %(m)s, %(v)s) RETURNING id",
            {"u": username, "h": _hash(PASSWORD), "r": role, "m": municipality,
             "v": self.ids[vendor] if vendor else None})
        self.ids[username] = str(row["id"])
        return self.ids[username]

    def login(self, username: str) -> str:
        r = self.app.test_client().post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["access_token"]

    def token_response(self, system: str, service: str, municipality: int, **extra):
        form = {"grant_type": "client_credentials", "municipality": CVR[municipality], "audience": service, **extra}
        return self.app.test_client().post(
            "/api/v1/auth/token", data=form,
            headers={"Authorization": basic_auth_header(system, self.secrets[system]),
                     **extra.pop("headers", {})})

    def token(self, system: str, service: str, municipality: int, **extra) -> str:
        r = self.token_response(system, service, municipality, **extra)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["access_token"]


def standard_world(app) -> World:
    """Vendor A with system A1 (registry read for 751); vendor B with B1 (for 101);
    an operator, admins of 751 and 101, and vendor admins of A and B."""
    w = World(app)
    w.vendor("Vendor A")
    w.vendor("Vendor B")
    w.system("a1", "Vendor A")
    w.system("b1", "Vendor B")
    w.agreement("a1", "registry", 751)
    w.agreement("b1", "registry", 101)
    w.user("operator", "platform_operator")
    w.user("admin751", "municipality_admin", municipality=751)
    w.user("admin101", "municipality_admin", municipality=101)
    w.user("vendora", "vendor_admin", vendor="Vendor A")
    w.user("vendorb", "vendor_admin", vendor="Vendor B")
    return w


def operator_client(app):
    """A test client of `app` sending a platform operator's token (made on the spot)."""
    w = World(app)
    w.user("operator", "platform_operator")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {w.login('operator')}"
    return client
