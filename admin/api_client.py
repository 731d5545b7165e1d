"""The admin web's only way to data: the project's own JSON API, called in-process.

Every admin page reads and writes through `call()`, a sub-request to the same
application under /api/v1 with the logged-in user's platform bearer token.
So an admin action passes exactly the same authentication, access rule,
tenancy check, validation, access log and problem+json errors as the same
call from curl would; the admin web has no data rules (and no SQL) of its own
that could drift from the API's.

How: werkzeug's WSGI test client (`app.test_client()`) inside a fresh
application context.  The sub-request therefore gets its own `g`, so its own
principal, its own database connection and its own transaction, committed at
its edge by app/db.py when it answers < 400 and rolled back otherwise; the
connection goes back to the pool when the context ends.  (Without the fresh
context Flask would reuse the page's context, and the sub-request would share
and then release the page's connection.)  The page itself holds no connection
meanwhile (authz.policy releases it after authenticating the session).
The sub-request carries the page's request id, so their log lines join.

An answer is `ApiResult(status, body, headers)`.  4xx answers are for the
page to show (`field_errors()` maps a problem's `errors[].field` to its
message, for the form field of that name); a 5xx raises `ApiUnavailable`,
which the admin web answers with a "try again" page, never a bare 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session
from werkzeug.datastructures import Headers

from app.api import API_PREFIX
from authz.policy import SESSION_TOKEN

USER_AGENT = "sts-admin"


class ApiUnavailable(Exception):  # a 5xx from the API: shown as "try again later"
    def __init__(self, status: int, body: Any):
        super().__init__(f"API answered {status}")
        self.status, self.body = status, body


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any
    headers: Headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        """The problem's `code` (docs/errors.md), if the answer is a problem."""
        return self.body.get("code") if isinstance(self.body, dict) and not self.ok else None

    @property
    def detail(self) -> str:
        return (self.body or {}).get("detail", "") if isinstance(self.body, dict) else ""

    def field_errors(self, aliases: dict[str, str] | None = None) -> dict[str, str]:
        """{form field: message} from the problem's `errors`: a field named in `aliases` (API field →
        form field, e.g. "person.name" → "person_name"), else the API field's last dotted part."""
        out: dict[str, str] = {}
        for error in (self.body or {}).get("errors", []) if isinstance(self.body, dict) else []:
            field = str(error.get("field", ""))
            name = (aliases or {}).get(field, field.split(".")[-1])
            out.setdefault(name, error.get("detail", ""))
        return out


def call(method: str, path: str, *, json: Any = None, query: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, authenticated: bool = True) -> ApiResult:
    """`method` `API_PREFIX + path` as the logged-in user (or anonymously: `authenticated=False`)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    if g.get("request_id"):
        sent["X-Request-ID"] = g.request_id
    if authenticated:
        sent["Authorization"] = f"Bearer {session.get(SESSION_TOKEN, '')}"
    query = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
    with app.app_context():  # its own g: its own principal, connection and transaction
        response = app.test_client().open(
            API_PREFIX + path, method=method, json=json, query_string=query, headers=sent,
            environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"})
        try:
            body = response.get_json(silent=True)
            result = ApiResult(response.status_code, body, Headers(response.headers))
        finally:
            response.close()
    if result.status >= 500:
        raise ApiUnavailable(result.status, result.body)
    return result


def get(path: str, **query: Any) -> ApiResult:
    return call("GET", path, query=query)


def get_all(path: str, **query: Any) -> tuple[list[dict], ApiResult | None]:
    """(every item of a cursor-paged list, None), or (the items so far, the refusal) on a 4xx."""
    items: list[dict] = []
    cursor = None
    while True:
        result = get(path, **query, cursor=cursor)
        if not result.ok:
            return items, result
        items += result.body.get("items", [])
        cursor = result.body.get("next_cursor")
        if not cursor:
            return items, None
