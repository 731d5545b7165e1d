"""Every error answer is `application/problem+json` (RFC 9457).

Members: `type` (a URN naming the problem), `title`, `status`, `detail`,
`instance` (the request path), plus `code` (machine-readable, the last part
of `type`), `request_id`, and `errors` (one entry per field: `location`,
`field`, `detail`) where a request was invalid.

Domain code raises `Problem`; HTTP errors from Flask/werkzeug and webargs
validation errors are converted by `problem_from_http_exception` (wired into
the API object in api.py); unexpected exceptions become a 500 without
internals and are logged with the request id (under testing Flask re-raises
them instead, because no handler for `Exception` is registered).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import elasticsearch
import psycopg
from flask import Flask, g, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

from app.db import constraint_rule

PROBLEM_JSON = "application/problem+json"


class FieldErrorSchema(Schema):
    location = fields.String(metadata={"description": "json, query, path or header.", "example": "json"})
    field = fields.String(metadata={"description": "Dotted path of the field.", "example": "cvr"})
    detail = fields.String(metadata={"description": "The rule it breaks."})


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error is answered."""

    type = fields.String(metadata={"example": "urn:sts:problem:validation_failed"})
    title = fields.String(metadata={"example": "Unprocessable Content"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String()
    instance = fields.String(metadata={"description": "The request path."})
    code = fields.String(metadata={"description": "Machine-readable problem code (docs/errors.md)."})
    request_id = fields.String(metadata={"description": "Also in the X-Request-ID header and the logs."})
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={"description": "One entry per field."})


class Problem(Exception):
    """A client-facing error: raise it anywhere in a request."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}  # further RFC 9457 extension members


def field_error(location: str, field: str, detail: str) -> dict[str, str]:
    return {"location": location, "field": field, "detail": detail}


def problem_response(problem: Problem):
    body: dict[str, Any] = {
        "type": f"urn:sts:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
        "code": problem.code,
    }
    if "request_id" in g:
        body["request_id"] = g.request_id
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extra)
    response = jsonify(body)
    response.status_code = problem.status
    response.mimetype = PROBLEM_JSON
    response.headers.update(problem.headers)
    return response


def _flatten(messages: Any, location: str, prefix: str = "") -> list[dict[str, str]]:
    """webargs/marshmallow messages ({field: [msg] | {nested}}) as a flat list."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, location, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend(field_error(location, prefix or "(body)", m) for m in messages)
    elif isinstance(messages, list):
        for m in messages:
            out.extend(_flatten(m, location, prefix))
    else:
        out.append(field_error(location, prefix or "(body)", str(messages)))
    return out


def _code_for(status: int) -> str:
    return re.sub(r"[^a-z0-9]+", "_", HTTPStatus(status).phrase.lower()).strip("_")


def problem_from_http_exception(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or {}
    errors = [e for location, msgs in messages.items() for e in _flatten(msgs, location)]
    code, detail = _code_for(status), exc.description or HTTPStatus(status).description
    headers = dict(data.get("headers") or {})
    if status == 400 and messages.get("json") == ["Invalid JSON body."]:
        code, detail = "malformed_json", "The request body is not valid JSON."
    elif status == 422:
        code, detail = "validation_failed", "The request did not pass validation; see errors."
    elif status == 405:
        allowed = exc.get_response().headers.get("Allow", "")
        headers["Allow"] = allowed
        detail = f"{request.method} is not allowed here; allowed: {allowed}."
    elif status == 404:
        detail = f"No resource at {request.path}."
    return problem_response(Problem(status, code, detail, errors=errors or None, headers=headers))


def _handle_problem(problem: Problem):
    return problem_response(problem)


def problem_for_database_error(exc: psycopg.Error):
    """The answer to a database error a client can act on, or None (a bug: 500)."""
    if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return problem_response(Problem(409, "concurrent_update",
                                        "Another request changed the same data at the same time; retry.",
                                        headers={"Retry-After": "1"}))
    rule = constraint_rule(exc)
    if rule is None:
        return None
    return problem_response(Problem(rule.status, rule.code, rule.detail,
                                    errors=[field_error("json", rule.field, rule.detail)]))


def _handle_database_unavailable(_exc: psycopg.OperationalError):
    # Connection lost or no pool slot in time (psycopg_pool.PoolTimeout is one too).
    return problem_response(Problem(503, "database_unavailable",
                                    "The database is temporarily unavailable; try again shortly.",
                                    headers={"Retry-After": "5"}))


def _handle_database_error(exc: psycopg.Error):
    response = problem_for_database_error(exc)
    if response is None:
        raise exc
    return response


def _handle_internal_error(_exc: InternalServerError):
    # Flask has already logged the original exception (with the request id).
    return problem_response(Problem(500, "internal_error",
                                    "The server failed to answer; the request id identifies the log entry."))


def _handle_search_error(exc: elasticsearch.ApiError):
    """An index that is not there yet, or a cluster answering 429/5xx, is a 503;
    anything else is a bug in the query and stays a 500."""
    if isinstance(exc, elasticsearch.NotFoundError) or exc.meta.status in (429, 500, 502, 503, 504):
        return _handle_search_unavailable(exc)
    raise exc


def _handle_search_unavailable(_exc: Exception):
    return problem_response(Problem(503, "search_unavailable",
                                    "Search is temporarily unavailable; try again shortly.",
                                    headers={"Retry-After": "5"}))


def init_app(app: Flask) -> None:
    app.register_error_handler(Problem, _handle_problem)
    app.register_error_handler(psycopg.OperationalError, _handle_database_unavailable)
    app.register_error_handler(psycopg.IntegrityError, _handle_database_error)
    app.register_error_handler(psycopg.errors.SerializationFailure, _handle_database_error)
    app.register_error_handler(psycopg.errors.DeadlockDetected, _handle_database_error)
    app.register_error_handler(InternalServerError, _handle_internal_error)
    app.register_error_handler(elasticsearch.ConnectionError, _handle_search_unavailable)
    app.register_error_handler(elasticsearch.ConnectionTimeout, _handle_search_unavailable)
    app.register_error_handler(elasticsearch.ApiError, _handle_search_error)
    # Errors outside the API blueprints (e.g. unknown routes) get the same treatment.
    app.register_error_handler(HTTPException, problem_from_http_exception)
