"""Bearer tokens: issuing system tokens (OAuth2 client credentials) and
authenticating every request.

System tokens are RS256 JWTs (PyJWT), valid for TOKEN_LIFETIME_SECONDS
(5 minutes by default), naming the system (`sub`), the service (`aud`), the
municipality (`mun`, `cvr`) and the agreement (`agr`).  They are only issued
under an approved agreement.  Every request checks the agreement again (and
takes its current roles and constraints from it) through a short per-process
cache (AGREEMENT_CACHE_SECONDS, 2 s by default; 0 reads it on every call):
terminating an agreement or deactivating a system is refused within that
time everywhere, and at once in the process that made the change.  The cache
saves a database round trip on the hot path of every system call.

Platform users' tokens are opaque (`stsp_...`), stored as SHA-256.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
from flask import current_app, request

from app.db import get_conn
from app.errors import Problem
from authz.keys import ALGORITHM, VerificationKeys, current_signing_key
from authz.policy import PlatformRole, Principal

_AGREEMENT = """
    SELECT a.state, a.roles, a.constraints, a.municipality_code, a.service,
           s.active, s.vendor_id, s.cert_thumbprint
      FROM agreement a JOIN it_system s ON s.id = a.system_id
     WHERE a.id = %(agreement)s AND a.system_id = %(system)s
"""

_PLATFORM_TOKEN = """
    SELECT t.id AS token_id, t.last_used_at < now() - interval '5 minutes' AS stale_use,
           u.id, u.username, u.role, u.municipality_code, u.vendor_id
      FROM platform_token t JOIN platform_user u ON u.id = t.user_id
     WHERE t.token_hash = %(digest)s AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active
"""


def _invalid(code: str, detail: str) -> Problem:
    return Problem(401, code, detail, headers={"WWW-Authenticate": f'Bearer error="invalid_token", '
                                               f'error_description="{detail}"'})


def lifetime() -> timedelta:
    return timedelta(seconds=current_app.config["TOKEN_LIFETIME_SECONDS"])


def client_thumbprint() -> str | None:
    value = request.headers.get(current_app.config["CERT_THUMBPRINT_HEADER"])
    return value.strip().lower().replace(":", "") if value else None


def issue_system_token(*, system_id: str, vendor_id: str, agreement: dict[str, Any], municipality_cvr: str,
                       thumbprint: str | None, user_uuid: str | None = None,
                       privileges: list[dict[str, Any]] | None = None) -> tuple[str, int]:
    conn = get_conn()
    key = current_signing_key(conn, lifetime())
    now = int(time.time())
    seconds = int(lifetime().total_seconds())
    claims: dict[str, Any] = {
        "iss": current_app.config["TOKEN_ISSUER"],
        "sub": str(system_id),
        "aud": agreement["service"],
        "iat": now,
        "nbf": now,
        "exp": now + seconds,
        "jti": uuid.uuid4().hex,
        "ven": str(vendor_id),
        "agr": str(agreement["id"]),
        "mun": agreement["municipality_code"],
        "cvr": municipality_cvr,
        "roles": sorted(agreement["roles"]),
    }
    if thumbprint:
        claims["cnf"] = {"x5t#S256": thumbprint}
    if user_uuid:
        claims["usr"] = str(user_uuid)
        claims["prv"] = privileges or []
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, seconds


class AgreementCache:
    """Agreement rows by (agreement, system), kept for a few seconds."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._rows: dict[tuple[str, str], tuple[float, dict | None]] = {}
        self._lock = threading.Lock()

    def get(self, conn_factory, agreement: str, system: str) -> dict | None:
        key = (agreement, system)
        hit = self._rows.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        row = conn_factory().execute(_AGREEMENT, {"agreement": agreement, "system": system}).fetchone()
        if self.seconds > 0:
            with self._lock:
                if len(self._rows) > 10_000:
                    self._rows.clear()
                self._rows[key] = (time.monotonic() + self.seconds, row)
        return row

    def invalidate(self, agreement: str | None = None) -> None:
        with self._lock:
            if agreement is None:
                self._rows.clear()
            else:
                for key in [k for k in self._rows if k[0] == str(agreement)]:
                    del self._rows[key]


class ClaimsCache:
    """Verified claims by token string, each kept until min(now + seconds, exp).

    Only tokens that passed signature and claim verification get in; the
    agreement behind them is still checked on every call (AgreementCache).
    """

    LIMIT = 10_000

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._claims: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        hit = self._claims.get(token)
        if hit is not None and hit[0] > time.time():
            return hit[1]
        return None

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._claims) > self.LIMIT:
                self._claims.clear()
            self._claims[token] = (min(time.time() + self.seconds, float(claims["exp"])), claims)


def claims_cache() -> ClaimsCache:
    cache = current_app.extensions.get("sts.authz.claims")
    if cache is None:
        cache = current_app.extensions["sts.authz.claims"] = ClaimsCache(
            current_app.config["AGREEMENT_CACHE_SECONDS"])
    return cache


def agreement_cache() -> AgreementCache:
    cache = current_app.extensions.get("sts.authz.agreements")
    if cache is None:
        cache = current_app.extensions["sts.authz.agreements"] = AgreementCache(
            current_app.config["AGREEMENT_CACHE_SECONDS"])
    return cache


def _verification_keys() -> VerificationKeys:
    return current_app.extensions.setdefault("sts.authz.keys", VerificationKeys())


def _verified_claims(token: str) -> dict[str, Any]:
    cache = claims_cache()
    claims = cache.get(token)
    if claims is not None:
        return claims
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise _invalid("invalid_token", "The bearer token is not a valid token.") from None
    key = _verification_keys().get(get_conn, kid) if isinstance(kid, str) else None
    if key is None:
        raise _invalid("invalid_token", "The token was not signed by a key of this service.")
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], issuer=current_app.config["TOKEN_ISSUER"], leeway=5,
            options={"require": ["exp", "iat", "iss", "sub", "aud", "agr", "mun"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _invalid("token_expired", "The token has expired; request a new one.") from None
    except jwt.InvalidTokenError as exc:
        raise _invalid("invalid_token", f"The token is not valid: {exc}.") from None
    cache.put(token, claims)
    return claims


def _authenticate_system(token: str) -> Principal:
    claims = _verified_claims(token)
    row = agreement_cache().get(get_conn, str(claims["agr"]), str(claims["sub"]))
    if row is None or row["municipality_code"] != claims["mun"] or row["service"] != claims["aud"]:
        raise _invalid("invalid_token", "The token does not match an agreement of this system.")
    if not row["active"]:
        raise Problem(403, "system_inactive", "The calling system has been deactivated.")
    if row["state"] != "approved":
        raise Problem(403, "agreement_not_active",
                      f"The service agreement behind this token is {row['state']}; no access.")
    bound = (claims.get("cnf") or {}).get("x5t#S256") or row["cert_thumbprint"]
    if bound and client_thumbprint() != bound:
        raise _invalid("invalid_token", "The token is bound to a client certificate this call did not present.")
    return Principal(
        kind="system", system_id=claims["sub"], vendor_id=str(row["vendor_id"]),
        municipality_code=row["municipality_code"], agreement_id=claims["agr"], service=row["service"],
        roles=frozenset(row["roles"]), constraints=row["constraints"],
        user_uuid=claims.get("usr"), privileges=claims.get("prv") if claims.get("usr") else None,
    )


def _authenticate_platform_user(token: str) -> Principal:
    from authz.hashing import token_digest

    conn = get_conn()
    row = conn.execute(_PLATFORM_TOKEN, {"digest": token_digest(token)}).fetchone()
    if row is None:
        raise _invalid("invalid_token", "The token is unknown, expired or revoked.")
    if row["stale_use"] is not False:
        conn.execute("UPDATE platform_token SET last_used_at = now() WHERE id = %(id)s", {"id": row["token_id"]})
    return Principal(
        kind="platform_user", platform_user_id=str(row["id"]), username=row["username"],
        platform_role=PlatformRole(row["role"]), municipality_code=row["municipality_code"],
        vendor_id=str(row["vendor_id"]) if row["vendor_id"] else None, agreement_id=None,
    )


def authenticate(token: str) -> Principal:
    if token.startswith("stsp_"):
        return _authenticate_platform_user(token)
    return _authenticate_system(token)
