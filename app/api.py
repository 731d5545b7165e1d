"""The flask-smorest `Api`: OpenAPI document, Swagger UI, and request rules
common to every API route.

- `/api/openapi.json` is the OpenAPI 3 document, `/api/docs` Swagger UI
  (its assets are served from the `swagger-ui-bundle` wheel: no CDN).
- Domain routes live under `/api/v1` (`API_PREFIX`).
- Errors raised through flask-smorest become problem+json (errors.py).
- A query parameter that the route does not declare is a 400, on every
  route, declared query schema or not: a misspelt filter must not be ignored.
"""

from __future__ import annotations

import http
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Flask, current_app, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from swagger_ui_bundle import swagger_ui_path

from app.errors import PROBLEM_JSON, Problem, ProblemSchema, field_error, problem_from_http_exception
from app.text_input import reject_unstorable_text

API_PREFIX = "/api/v1"
DOC_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_assets.static", "static"}
# Blueprints of server-rendered pages (the admin web): their views read and check their own query
# parameters (forms, links), so the unknown-parameter rule below, which is the JSON API's, skips them.
PAGE_BLUEPRINTS: set[str] = set()


class Api(SmorestApi):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return problem_from_http_exception(error)

    def _register_responses(self):
        """The documented error responses are what errors.py sends: problem+json."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON if status >= 400 else "application/json")
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def problem_doc(description: str) -> dict[str, Any]:
    """kwargs for `blp.alt_response` documenting a problem+json answer."""
    return {"schema": ProblemSchema, "content_type": PROBLEM_JSON, "description": description}


def view_function(endpoint: str, method: str | None = None) -> Any:
    """The function that answers `method` (default: this request's) at `endpoint`."""
    view = current_app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    method = (method or request.method).lower()
    return getattr(view_class, "get" if method == "head" else method, None)


def _declared_query_names(func: Any) -> set[str]:
    names: set[str] = set()
    for param in (getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", [])):
        if isinstance(param, dict) and param.get("in") == "query":
            schema = param["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names.update(f.data_key or name for name, f in schema.fields.items())
    return names


def reject_unknown_query_parameters() -> None:
    if request.endpoint is None or request.endpoint in DOC_ENDPOINTS or not request.args \
            or request.blueprint in PAGE_BLUEPRINTS:
        return
    # (endpoint, method) -> the query parameters its view declares, worked out once per app.
    cache = current_app.extensions.setdefault("sts.query_parameters", {})
    key = (request.endpoint, request.method)
    allowed = cache.get(key)
    if allowed is None:
        func = view_function(request.endpoint)
        if func is None:  # method not allowed: let routing answer 405
            return
        allowed = cache[key] = frozenset(_declared_query_names(func))
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise Problem(400, "unknown_query_parameter",
                      f"Unknown query parameter(s): {', '.join(unknown)}.",
                      errors=[field_error("query", name, "Unknown query parameter.") for name in unknown])


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="Støttesystemerne",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/static/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Open re-implementation of the Danish municipal support systems "
                    "(Organisation, Klassifikation, case/document and benefit indexes, distribution, "
                    "access control). Every error is application/problem+json (RFC 9457)."
                ),
            },
        },
    )
    api = Api(app)
    app.register_blueprint(FlaskBlueprint("swagger_assets", __name__, static_folder=str(swagger_ui_path),
                                          static_url_path="/api/docs/static"))
    app.before_request(reject_unknown_query_parameters)
    app.before_request(reject_unstorable_text)
    app.extensions["sts.api"] = api
    return api
