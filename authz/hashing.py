"""Hashing of passwords and client secrets (argon2id), and of opaque tokens.

argon2-cffi is used rather than anything hand-made: its defaults follow the
RFC 9106 recommendations, and `check_needs_rehash` lets stored hashes move to
stronger parameters on the next successful login.  Opaque bearer tokens are
long random strings, so a plain SHA-256 is enough to store them.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(value: str) -> str:
    return _hasher.hash(value)


def verify_secret(stored_hash: str, value: str) -> bool:
    try:
        return _hasher.verify(stored_hash, value)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# A valid hash of a random value, so an unknown client id costs as much as a wrong secret.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def new_opaque_token() -> str:
    return "stsp_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
