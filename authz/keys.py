"""Token signing keys: RSA key pairs kept in PostgreSQL, rotated with overlap.

One key signs at a time (the newest not retired).  `rotate` creates a new key
and retires the old one, which stays in the JWKS until every token it signed
has expired, so verifiers never meet an unknown key during a rotation.
Verification keys are cached per process by key id; an unknown id reloads.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey


def _new_key_row() -> dict:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = uuid.uuid4().hex
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"kid": kid, "algorithm": ALGORITHM, "private_pem": pem, "public_jwk": json.dumps(jwk)}


def rotate(conn: psycopg.Connection, token_lifetime: timedelta) -> str:
    """Start signing with a new key; the previous one is retired but still published."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('signing_key'))")
    conn.execute(
        "UPDATE signing_key SET retired_at = now(), expires_at = now() + %(grace)s WHERE retired_at IS NULL",
        {"grace": token_lifetime + timedelta(minutes=5)},
    )
    row = _new_key_row()
    conn.execute("INSERT INTO signing_key (kid, algorithm, private_pem, public_jwk) "
                 "VALUES (%(kid)s, %(algorithm)s, %(private_pem)s, %(public_jwk)s)", row)
    return row["kid"]


def current_signing_key(conn: psycopg.Connection, token_lifetime: timedelta) -> SigningKey:
    """The key to sign with, created the first time one is needed."""
    row = conn.execute("SELECT kid, private_pem FROM signing_key WHERE retired_at IS NULL "
                       "ORDER BY created_at DESC LIMIT 1").fetchone()
    if row is None:
        rotate(conn, token_lifetime)
        return current_signing_key(conn, token_lifetime)
    private = serialization.load_pem_private_key(row["private_pem"].encode(), password=None)
    return SigningKey(row["kid"], private)


def published_jwks(conn: psycopg.Connection) -> dict:
    rows = conn.execute("SELECT public_jwk FROM signing_key WHERE expires_at IS NULL OR expires_at > now() "
                        "ORDER BY created_at DESC").fetchall()
    return {"keys": [r["public_jwk"] for r in rows]}


class VerificationKeys:
    """Public keys by kid, loaded from PostgreSQL on first sight of a kid."""

    def __init__(self):
        self._keys: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, conn_factory, kid: str):
        """The key for `kid`; `conn_factory()` gives a connection only when it must be loaded."""
        key = self._keys.get(kid)
        if key is None:
            row = conn_factory().execute("SELECT public_jwk FROM signing_key WHERE kid = %(kid)s "
                               "AND (expires_at IS NULL OR expires_at > now())", {"kid": kid}).fetchone()
            if row is None:
                return None
            key = RSAAlgorithm.from_jwk(row["public_jwk"])
            with self._lock:
                self._keys[kid] = key
        return key

    def forget(self, kid: str) -> None:
        with self._lock:
            self._keys.pop(kid, None)
