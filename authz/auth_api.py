"""Getting credentials: system tokens (OAuth2 client credentials), the JWKS,
platform users' login, logout and personal API tokens, and "who am I"."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import problem_doc
from app.db import get_conn, get_db
from app.errors import Problem, field_error
from authz import hashing
from authz.keys import published_jwks
from authz.policy import PlatformRole, authenticated, current, platform, public
from authz.schemas import (
    LoginResponseSchema,
    LoginSchema,
    MeSchema,
    PersonalTokenRequestSchema,
    PersonalTokenSchema,
    TokenRequestSchema,
    TokenResponseSchema,
)
from authz.tokens import client_thumbprint, issue_system_token

blp = Blueprint("auth", __name__, description="Tokens for systems; login and API tokens for platform users.")
jwks_blp = Blueprint("jwks", __name__, description="Public keys that verify this service's tokens.")

ALL_PLATFORM_ROLES = tuple(PlatformRole)


def _oauth_problem(status: int, error: str, detail: str, field: str | None = None) -> Problem:
    return Problem(status, error, detail, extra={"error": error},
                   errors=[field_error("form", field, detail)] if field else None,
                   headers={"Cache-Control": "no-store"})


def _client_credentials(form: dict) -> tuple[str, str]:
    """client_id/secret from HTTP Basic (preferred by RFC 6749) or the form."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username or "", auth.password or ""
    if not form.get("client_id") or not form.get("client_secret"):
        raise _oauth_problem(401, "invalid_client", "Client authentication failed: no client_id and secret.")
    return form["client_id"], form["client_secret"]


@blp.route("/token")
class Token(MethodView):
    @public
    @blp.arguments(TokenRequestSchema, location="form")
    @blp.response(200, TokenResponseSchema)
    @blp.alt_response(401, **problem_doc("invalid_client: unknown client, wrong secret or certificate."))
    @blp.alt_response(403, **problem_doc("access_denied: no approved agreement for this service and municipality."))
    def post(self, form):
        """Issue a system token (OAuth2 client credentials, form-encoded).

        Needs an approved service agreement for the system, the service
        (`audience`) and the municipality (`municipality`, its CVR).  With
        `user`, the token acts for that user and carries the user's
        privileges for the calling system.
        """
        client_id, secret = _client_credentials(form)
        conn = get_conn()
        system = conn.execute("SELECT id, vendor_id, secret_hash, cert_thumbprint, active FROM it_system "
                              "WHERE client_id = %(c)s", {"c": client_id}).fetchone()
        if not hashing.verify_secret(system["secret_hash"] if system else hashing.DUMMY_HASH, secret) \
                or not system["active"]:
            raise _oauth_problem(401, "invalid_client", "Client authentication failed.")
        thumbprint = client_thumbprint()
        if system["cert_thumbprint"] and thumbprint != system["cert_thumbprint"]:
            raise _oauth_problem(401, "invalid_client", "This client must present its registered certificate.")
        municipality = conn.execute("SELECT code, cvr FROM municipality WHERE cvr = %(cvr)s",
                                    {"cvr": form["municipality"]}).fetchone()
        if municipality is None:
            raise _oauth_problem(400, "invalid_request", "No municipality has this CVR number.", "municipality")
        agreement = conn.execute(
            "SELECT id, service, municipality_code, roles FROM agreement WHERE system_id = %(s)s "
            "AND service = %(svc)s AND municipality_code = %(m)s AND state = 'approved'",
            {"s": system["id"], "svc": form["audience"], "m": municipality["code"]},
        ).fetchone()
        if agreement is None:
            raise _oauth_problem(403, "access_denied", "There is no approved service agreement for this system, "
                                                       "service and municipality.")
        privileges = None
        if form.get("user"):
            from authz.privileges import effective_privileges

            privileges = effective_privileges(conn, municipality["code"], str(system["id"]), str(form["user"]))
        token, seconds = issue_system_token(
            system_id=system["id"], vendor_id=system["vendor_id"], agreement=agreement,
            municipality_cvr=municipality["cvr"], thumbprint=system["cert_thumbprint"] and thumbprint,
            user_uuid=str(form["user"]) if form.get("user") else None, privileges=privileges,
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": seconds,
                "service": agreement["service"], "municipality": agreement["municipality_code"]}, 200, \
            {"Cache-Control": "no-store"}


@jwks_blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @public
    @jwks_blp.response(200)
    def get(self):
        """The public keys (JWKS) that verify system tokens, including keys being rotated out."""
        return published_jwks(get_conn())


def _user_dump(row: dict) -> dict:
    return {k: row[k] for k in ("id", "username", "display_name", "role", "municipality_code", "vendor_id")}


def _new_platform_token(conn, user_id, kind: str, lifetime: timedelta, name: str | None = None) -> tuple[str, dict]:
    token = hashing.new_opaque_token()
    row = conn.execute(
        "INSERT INTO platform_token (user_id, kind, name, token_hash, expires_at) "
        "VALUES (%(u)s, %(k)s, %(n)s, %(h)s, now() + %(life)s) RETURNING id, name, kind, created_at, expires_at, "
        "last_used_at",
        {"u": user_id, "k": kind, "n": name, "h": hashing.token_digest(token), "life": lifetime},
    ).fetchone()
    return token, row


@blp.route("/login")
class Login(MethodView):
    @public
    @blp.arguments(LoginSchema)
    @blp.response(200, LoginResponseSchema)
    @blp.alt_response(401, **problem_doc("Wrong username or password."))
    @blp.alt_response(429, **problem_doc("The account is locked after repeated failures; see Retry-After."))
    def post(self, body):
        """Log a platform user in with username and password; answers a bearer token.

        After LOGIN_MAX_FAILURES failures in a row the account locks for
        LOGIN_LOCKOUT_MINUTES; the answer does not reveal whether the
        username exists.
        """
        cfg = current_app.config
        # Failures must be counted even though the answer is an error, so this
        # runs in its own transaction (committed before the problem is raised).
        failure: Problem | None = None
        with get_db().transaction() as conn:
            user = conn.execute(
                "SELECT *, greatest(0, extract(epoch FROM locked_until - now()))::int AS locked_seconds "
                "FROM platform_user WHERE username = %(u)s AND active FOR UPDATE",
                {"u": body["username"].lower()},
            ).fetchone()
            if user and user["locked_seconds"] > 0:
                failure = Problem(429, "account_locked", "Too many failed logins; the account is locked for now.",
                                  headers={"Retry-After": str(user["locked_seconds"])})
            elif not hashing.verify_secret(user["password_hash"] if user else hashing.DUMMY_HASH,
                                           body["password"]):
                if user:
                    conn.execute(
                        "UPDATE platform_user SET failed_logins = failed_logins + 1, locked_until = CASE "
                        "WHEN failed_logins + 1 >= %(max)s THEN now() + %(lock)s END WHERE id = %(id)s",
                        {"max": cfg["LOGIN_MAX_FAILURES"], "lock": timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"]),
                         "id": user["id"]},
                    )
                failure = Problem(401, "invalid_credentials", "Wrong username or password.")
            if failure is None:
                token, lifetime = self._start_session(conn, user, body["password"], cfg)
        if failure is not None:
            raise failure
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime.total_seconds()),
                "user": _user_dump(user)}, 200, {"Cache-Control": "no-store"}

    @staticmethod
    def _start_session(conn, user, password: str, cfg) -> tuple[str, timedelta]:
        conn.execute("UPDATE platform_user SET failed_logins = 0, locked_until = NULL WHERE id = %(id)s",
                     {"id": user["id"]})
        if hashing.needs_rehash(user["password_hash"]):
            conn.execute("UPDATE platform_user SET password_hash = %(h)s WHERE id = %(id)s",
                         {"h": hashing.hash_secret(password), "id": user["id"]})
        lifetime = timedelta(hours=cfg["SESSION_LIFETIME_HOURS"])
        token, _row = _new_platform_token(conn, user["id"], "session", lifetime)
        return token, lifetime


@blp.route("/logout")
class Logout(MethodView):
    @platform(*ALL_PLATFORM_ROLES)
    @blp.response(204)
    def post(self):
        """Revoke the bearer token of this call."""
        token = request.headers["Authorization"].split(" ", 1)[1].strip()
        get_conn().execute("UPDATE platform_token SET revoked_at = now() WHERE token_hash = %(h)s",
                           {"h": hashing.token_digest(token)})


me_blp = Blueprint("me", __name__, description="The caller: who it is, and a platform user's API tokens.")


@me_blp.route("")
class Me(MethodView):
    @authenticated
    @me_blp.response(200, MeSchema)
    def get(self):
        """Who the caller is: system (with agreement, service, roles) or platform user (with role)."""
        p = current()
        return {**p.__dict__, "roles": sorted(p.roles),
                "platform_role": p.platform_role.value if p.platform_role else None}


@me_blp.route("/tokens")
class MyTokens(MethodView):
    @platform(*ALL_PLATFORM_ROLES)
    @me_blp.response(200, PersonalTokenSchema(many=True))
    def get(self):
        """The caller's tokens that are neither revoked nor expired (never the token values)."""
        return get_conn().execute(
            "SELECT id, name, kind, created_at, expires_at, last_used_at FROM platform_token "
            "WHERE user_id = %(u)s AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at",
            {"u": current().platform_user_id}).fetchall()

    @platform(*ALL_PLATFORM_ROLES)
    @me_blp.arguments(PersonalTokenRequestSchema)
    @me_blp.response(201, PersonalTokenSchema)
    def post(self, body):
        """Create a personal API token; its value is shown only in this answer."""
        token, row = _new_platform_token(get_conn(), current().platform_user_id, "personal",
                                         timedelta(days=body["expires_in_days"]), body["name"])
        return {**row, "token": token}


@me_blp.route("/tokens/<uuid:token_id>")
class MyToken(MethodView):
    @platform(*ALL_PLATFORM_ROLES)
    @me_blp.response(204)
    @me_blp.alt_response(404, **problem_doc("No such token of yours."))
    def delete(self, token_id):
        """Revoke one of the caller's tokens."""
        row = get_conn().execute("UPDATE platform_token SET revoked_at = now() WHERE id = %(id)s "
                                 "AND user_id = %(u)s AND revoked_at IS NULL RETURNING id",
                                 {"id": token_id, "u": current().platform_user_id}).fetchone()
        if row is None:
            raise Problem(404, "not_found", "No such token of yours.")


def basic_auth_header(client_id: str, secret: str) -> str:
    """For clients and tests: the HTTP Basic header for client credentials."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
