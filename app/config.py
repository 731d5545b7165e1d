"""The one configuration object: defaults < environment < explicit override.

Every setting is declared once in `ConfigSchema` (its type, default and
meaning).  The environment provides values as `STS_<NAME>`, except the two
service URLs, which keep their conventional names `DATABASE_URL` and
`ELASTICSEARCH_URL`.  An unknown key, in the override or as an `STS_*`
variable, is an error: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

UNPREFIXED = ("DATABASE_URL", "ELASTICSEARCH_URL")
PREFIX = "STS_"


class ConfigError(ValueError):
    """The configuration is invalid; the message names every bad key."""


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    DATABASE_URL = fields.String(
        load_default="postgresql://postgres@127.0.0.1:54320/sts",
        validate=validate.Regexp(r"^postgres(ql)?://", error="must be a postgresql:// URL"),
        metadata={"doc": "PostgreSQL connection URL (the system of record)."},
    )
    ELASTICSEARCH_URL = fields.String(
        load_default="http://127.0.0.1:59200",
        validate=validate.Regexp(r"^https?://", error="must be an http(s):// URL"),
        metadata={"doc": "Elasticsearch URL (the derived search index)."},
    )
    SEARCH_INDEX_PREFIX = fields.String(
        load_default="sts_",
        validate=validate.Regexp(r"^[a-z0-9_][a-z0-9_\-]*$", error="lower-case letters, digits, _ and - only"),
        metadata={"doc": "Prefix of every index and alias name; tests use their own."},
    )
    DB_POOL_MIN = fields.Integer(load_default=1, validate=validate.Range(min=0),
                                 metadata={"doc": "Connections kept open per process."})
    DB_POOL_MAX = fields.Integer(load_default=10, validate=validate.Range(min=1),
                                 metadata={"doc": "Most connections per process."})
    DB_POOL_TIMEOUT = fields.Float(
        load_default=10.0, validate=validate.Range(min=0.1),
        metadata={"doc": "Seconds a caller waits for a database connection before giving up (a 503)."},
    )
    DB_STATEMENT_TIMEOUT_MS = fields.Integer(
        load_default=30000, validate=validate.Range(min=0),
        metadata={"doc": "statement_timeout of every pooled connection, ms (0 = none)."},
    )
    SEARCH_REQUEST_TIMEOUT = fields.Float(load_default=10.0, validate=validate.Range(min=0.1),
                                          metadata={"doc": "Seconds before an Elasticsearch call gives up."})
    INDEXER_BATCH_SIZE = fields.Integer(load_default=500, validate=validate.Range(min=1, max=10000),
                                        metadata={"doc": "Outbox rows sent to Elasticsearch per bulk request."})
    INDEXER_MAX_BACKOFF = fields.Float(
        load_default=30.0, validate=validate.Range(min=0.1),
        metadata={"doc": "Longest wait (seconds) between retries while Elasticsearch is down."},
    )
    READY_MAX_SEARCH_LAG = fields.Float(
        load_default=300.0, validate=validate.Range(min=0),
        metadata={"doc": "Seconds the oldest outbox row may wait before /readyz reports not ready."},
    )
    TOKEN_ISSUER = fields.String(load_default="urn:sts:token-issuer",
                                 metadata={"doc": "`iss` of the system tokens this service issues and accepts."})
    TOKEN_LIFETIME_SECONDS = fields.Integer(load_default=300, validate=validate.Range(min=30, max=3600),
                                            metadata={"doc": "Lifetime of system tokens."})
    AGREEMENT_CACHE_SECONDS = fields.Float(
        load_default=2.0, validate=validate.Range(min=0, max=60),
        metadata={"doc": "Seconds a process may reuse an agreement's state when checking a token "
                         "(0 = read it on every call); bounds how fast a termination takes effect elsewhere."},
    )
    CERT_THUMBPRINT_HEADER = fields.String(
        load_default="X-SSL-Client-SHA256",
        metadata={"doc": "Header in which the TLS-terminating proxy passes the client certificate's SHA-256."},
    )
    SESSION_LIFETIME_HOURS = fields.Integer(load_default=8, validate=validate.Range(min=1, max=24),
                                            metadata={"doc": "Lifetime of a platform user's login token."})
    LOGIN_MAX_FAILURES = fields.Integer(load_default=5, validate=validate.Range(min=1),
                                       metadata={"doc": "Failed logins in a row before the account locks."})
    LOGIN_LOCKOUT_MINUTES = fields.Integer(load_default=15, validate=validate.Range(min=1),
                                           metadata={"doc": "How long a locked account stays locked."})
    ACCESS_LOG_RETENTION_DAYS = fields.Integer(
        load_default=1826, validate=validate.Range(min=1),
        metadata={"doc": "Days access-log entries are kept; `flask authz purge-access-log` removes older ones."},
    )
    USAGE_FLUSH_SECONDS = fields.Float(
        load_default=5.0, validate=validate.Range(min=0.1, max=3600),
        metadata={"doc": "Seconds between writes of each process's in-memory usage counts to the database."},
    )
    LOG_LEVEL = fields.String(load_default="INFO",
                              validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]),
                              metadata={"doc": "Log level of the JSON logs on stderr."})
    SECRET_KEY = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=32, error="at least 32 characters"),
        metadata={"doc": "Signs the admin web's session cookie and CSRF tokens; required (`make run` keeps one "
                         "in .data/secret_key). Every host of one deployment needs the same value."},
    )
    ADMIN_IDLE_MINUTES = fields.Integer(
        load_default=30, validate=validate.Range(min=1, max=24 * 60),
        metadata={"doc": "Minutes without a request after which the admin web logs its user out."},
    )
    ADMIN_COOKIE_SECURE = fields.Boolean(
        load_default=True,
        metadata={"doc": "Send the admin session cookie over HTTPS only (browsers also accept it on "
                         "http://127.0.0.1 and localhost)."},
    )
    TESTING = fields.Boolean(load_default=False,
                             metadata={"doc": "Flask testing mode: unexpected errors propagate."})


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in environ.items():
        if key in UNPREFIXED:
            values[key] = value
        elif key.startswith(PREFIX):
            values[key[len(PREFIX):]] = value
    return values


# Read from STS_* by the service scripts, not by the app; they are not app settings.
SCRIPT_ONLY = {"DATA_DIR", "PG_PORT", "ES_PORT", "ES_HEAP", "APP_BIND", "APP_WORKERS", "APP_THREADS",
               "DEMO_ORGANISATION_SIZE"}


def load_config(override: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, environment and `override`, validate, and return the settings."""
    env = _from_environment(os.environ if environ is None else environ)
    merged = {k: v for k, v in env.items() if k not in SCRIPT_ONLY}
    merged.update(override or {})
    try:
        settings = ConfigSchema().load(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in sorted(exc.messages.items()))
        raise ConfigError(f"invalid configuration: {problems}") from None
    if settings["DB_POOL_MIN"] > settings["DB_POOL_MAX"]:
        raise ConfigError("invalid configuration: DB_POOL_MIN: must not exceed DB_POOL_MAX")
    return settings


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for every setting, for the docs."""
    rows = []
    for name, field in ConfigSchema().fields.items():
        var = name if name in UNPREFIXED else PREFIX + name
        rows.append((var, str(field.load_default), field.metadata.get("doc", "")))
    return rows
