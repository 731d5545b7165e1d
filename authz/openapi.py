"""Document each operation's access rule in the OpenAPI document: its security
requirement, a line in its description, and the 401/403 answers."""

from __future__ import annotations

import re

from flask import Flask

from app.errors import PROBLEM_JSON
from authz.policy import declared_routes

SCHEMES = {
    "systemToken": {
        "type": "oauth2",
        "description": "System token (RS256 JWT) from the client-credentials grant, issued only under an "
                       "approved service agreement for the service (`aud`) and municipality.",
        "flows": {"clientCredentials": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    },
    "platformToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Opaque token (`stsp_...`) of a platform user, from /api/v1/auth/login or a personal "
                       "API token (/api/v1/me/tokens).",
    },
}


def _security(kind: str) -> list[dict]:
    return {
        "public": [],
        "system": [{"systemToken": []}],
        "platform": [{"platformToken": []}],
    }.get(kind, [{"systemToken": []}, {"platformToken": []}])


def document_security(app: Flask, api) -> None:
    for name, scheme in SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    paths = api.spec._paths  # apispec keeps the registered paths here
    for method, rule, requirement in declared_routes(app):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
        operation = paths.get(path, {}).get(method.lower())
        if operation is None or requirement is None:
            continue
        operation["security"] = _security(requirement.kind)
        if requirement.kind == "public":
            continue
        rule_text = "any authenticated caller" if requirement.kind == "authenticated" else requirement.describe()
        operation["description"] = (operation.get("description", "") + f"\n\n**Access:** {rule_text}.").strip()
        responses = operation.setdefault("responses", {})
        responses.setdefault("401", _problem("No valid bearer token (missing, expired, tampered, revoked)."))
        responses.setdefault("403", _problem("The caller is authenticated but not allowed this operation."))


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
