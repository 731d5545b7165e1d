"""Cursors the service never issued, on every route that takes one.

A cursor is base64 JSON, so a caller can forge one with any values.  Schemathesis only sends random
strings, which fail to decode.  This pass sends well-formed cursors of one to three values of every
awkward type (objects, huge integers, NUL, offsets PostgreSQL refuses) to each route that declares a
`cursor`, as the service's fagsystem token and as two platform logins.  A finding is any 5xx
answer.  It only reads.
"""

from __future__ import annotations

import base64
import itertools
import json
import random

import requests

from scripts.fuzz.hooks import BASE, fetch_token

VALUES = [{"a": 1}, [1], 5, -1, 10**23, 1.5, "x", "", "a\u0000", None, True, "2026-01-01T00:00:00+17:36",
          "5d0a4c1e-9b6f-4a7d-8e1c-9f305d0a4c1e", "99999999999999999999"]
LOGINS = ["login:operator:demo-operator-password", "login:admin.aarhus:demo-aarhus-password"]
SERVICES = ("sdi", "yi", "organisation", "klassifikation", "distribution")


def _forged() -> list[list]:
    short = [list(c) for n in (1, 2) for c in itertools.product(VALUES, repeat=n)]
    three = [list(c) for c in itertools.product(VALUES, repeat=3)]
    return short + random.Random(1).sample(three, 400)


def _encode(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every route without path parameters that takes a cursor."""
    document = requests.get(f"{BASE}/api/openapi.json", timeout=30).json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "{" in path:
                continue
            in_query = any(p.get("in") == "query" and p["name"] == "cursor" for p in operation.get("parameters", []))
            if in_query or '"cursor"' in json.dumps(operation.get("requestBody", {})):
                found.append((method, path))
    return found


def forged() -> list[dict]:
    findings, asked, keys = [], 0, _forged()
    for method, path in _routes():
        service = path.split("/")[3]
        callers = [f"system:{service}"] if service in SERVICES else []
        for caller in [*callers, *LOGINS]:
            headers = {"Authorization": f"Bearer {fetch_token(caller)}"}
            for key in keys:
                if method == "get":
                    answer = requests.get(f"{BASE}{path}", params={"cursor": _encode(key)}, headers=headers, timeout=60)
                else:
                    party = {"party": "urn:oio:cpr-nr:0101011234"} if "overview" in path else {}
                    body = {"cursor": _encode(key), **party}
                    answer = requests.request(method, f"{BASE}{path}", json=body, headers=headers, timeout=60)
                asked += 1
                if answer.status_code >= 500:
                    findings.append({"pass": "cursors", "route": f"{method.upper()} {path}", "caller": caller,
                                     "cursor": key, "status": answer.status_code})
    print(json.dumps({"pass": "forged cursors", "requests": asked, "findings": len(findings)}), flush=True)
    return findings
