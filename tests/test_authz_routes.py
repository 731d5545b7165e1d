"""Every route is behind the one enforcement point: anonymous calls are refused
everywhere except on the documented public routes (API routes with a 401, admin
web pages with a redirect to the admin login page)."""

import re
import uuid

from authz.policy import declared_routes

# The documented public routes (docs/security.md); nothing else may answer an anonymous caller.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("GET", "/api/docs/static/<path:filename>"),
    ("GET", "/static/<path:filename>"), ("GET", "/.well-known/jwks.json"),
    ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/login"),
    # The admin web's login page and its stylesheet (docs/admin.md).
    ("GET", "/admin/login"), ("POST", "/admin/login"), ("GET", "/admin/static/<path:filename>"),
}


def _concrete(rule: str) -> str:
    """A URL for the rule, with made-up values for its variables."""
    def value(m):
        kind = m.group(1) or "string"
        return {"int": "751", "uuid": str(uuid.uuid4()), "path": "x"}.get(kind.rstrip(":"), "x")

    return re.sub(r"<(?:(\w+):)?\w+>", value, rule)


def test_every_route_declares_an_access_rule(shared_app):
    undeclared = [(m, r) for m, r, req in declared_routes(shared_app) if req is None]
    assert undeclared == []


def test_public_routes_are_exactly_the_documented_ones(shared_app):
    public = {(m, r) for m, r, req in declared_routes(shared_app) if req.kind == "public"}
    assert public == PUBLIC


def test_every_other_route_rejects_an_anonymous_call_with_401(shared_app):
    client = shared_app.test_client()
    checked = 0
    for method, rule, requirement in declared_routes(shared_app):
        if requirement.kind in ("public", "admin_page"):
            continue
        r = client.open(_concrete(rule), method=method, json={})
        assert r.status_code == 401, f"{method} {rule} answered {r.status_code} to an anonymous call"
        assert r.mimetype == "application/problem+json"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 20


def test_garbage_bearer_tokens_are_401(shared_app):
    client = shared_app.test_client()
    for token in ("x", "a.b.c", "stsp_unknown", "Bearer"):
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_every_admin_page_sends_an_anonymous_caller_to_the_login_page(shared_app):
    """Admin pages (authz.policy.admin_page) are browser pages: no session, no page, but a redirect to
    the login page (remembering a page asked for with GET), never the page and never a JSON 401."""
    client = shared_app.test_client()
    checked = 0
    for method, rule, requirement in declared_routes(shared_app):
        if requirement.kind != "admin_page":
            continue
        assert rule.startswith("/admin"), rule
        url = _concrete(rule)
        r = client.open(url, method=method, data={})
        assert r.status_code == 302, f"{method} {rule} answered {r.status_code} without a session"
        assert r.headers["Location"].startswith("/admin/login"), r.headers["Location"]
        if method == "GET":
            assert "next=" in r.headers["Location"]
        checked += 1
    assert checked >= 8


def test_admin_pages_are_only_the_admin_web(shared_app):
    """Every /admin route is either public (login, stylesheet) or an admin page; no admin route is
    declared with an API rule, and no API route with the admin page rule."""
    for method, rule, requirement in declared_routes(shared_app):
        if rule.startswith("/admin"):
            assert requirement.kind in ("public", "admin_page"), (method, rule)
        else:
            assert requirement.kind != "admin_page", (method, rule)
