"""Enforcement, in one place.

Every view declares what it needs with one decorator:

    @public                                  no credentials (health, token endpoint, JWKS)
    @authenticated                           any valid system token or platform user
    @system(service, Role.READ)              a system token for `service` with that role
    @platform(PlatformRole.OPERATOR, ...)    a platform user with one of these roles
    @system_or_platform(service, role, *platform_roles)
    @admin_page(*platform_roles)             an admin web page (admin/): a platform user's session

`enforce` runs before every request: it authenticates the bearer token
(tokens.py), checks the route's requirement, and leaves the caller in
`current()` for service code.  An admin page authenticates from the admin
session cookie instead (the platform token stored at login, checked the same
way as a bearer token, plus an idle timeout); a missing, expired, revoked or
idle session raises `SessionRequired` and a wrong role `PageForbidden`,
which the admin web answers with its login page and a Danish 403 page.  A route without a declaration is refused (and
`check_routes` makes the app refuse to start with one).  Tenancy is checked
by the views through `require_municipality` / `require_vendor`, with a 404 so
that another municipality's objects are not even confirmed to exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask import Flask, current_app, g, request, session

from app.api import DOC_ENDPOINTS, view_function
from app.errors import Problem
from authz.catalogue import Role


class PlatformRole(StrEnum):
    MUNICIPALITY_ADMIN = "municipality_admin"
    VENDOR_ADMIN = "vendor_admin"
    OPERATOR = "platform_operator"


@dataclass(frozen=True)
class Requirement:
    kind: str  # public | authenticated | system | platform | system_or_platform | admin_page
    service: str | None = None
    role: Role | None = None
    platform_roles: frozenset[PlatformRole] = frozenset()

    def describe(self) -> str:
        parts = []
        if self.service:
            parts.append(f"system token for service '{self.service}' with role '{self.role}'")
        if self.platform_roles:
            parts.append("platform user: " + ", ".join(sorted(self.platform_roles)))
        return " or ".join(parts) or self.kind


@dataclass
class Principal:
    """Who is calling, as established by `enforce`."""

    kind: str  # "system" | "platform_user"
    # system callers
    system_id: str | None = None
    vendor_id: str | None = None
    municipality_code: int | None = None
    agreement_id: str | None = None
    service: str | None = None
    roles: frozenset[str] = frozenset()
    constraints: dict[str, Any] = field(default_factory=dict)
    user_uuid: str | None = None  # the end user a system acts for, if any
    privileges: list[dict[str, Any]] | None = None
    # platform users
    platform_user_id: str | None = None
    platform_role: PlatformRole | None = None
    username: str | None = None

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    @property
    def is_operator(self) -> bool:
        return self.platform_role == PlatformRole.OPERATOR


def _declare(requirement: Requirement) -> Callable:
    def decorator(func: Callable) -> Callable:
        func._authz = requirement  # type: ignore[attr-defined]
        return func

    return decorator


public = _declare(Requirement("public"))
authenticated = _declare(Requirement("authenticated"))


def system(service: str, role: Role) -> Callable:
    return _declare(Requirement("system", service, role))


def platform(*roles: PlatformRole) -> Callable:
    return _declare(Requirement("platform", platform_roles=frozenset(roles)))


def system_or_platform(service: str, role: Role, *roles: PlatformRole) -> Callable:
    return _declare(Requirement("system_or_platform", service, role, frozenset(roles)))


def admin_page(*roles: PlatformRole) -> Callable:
    """An admin web page for platform users with one of `roles`, authenticated from the admin session."""
    return _declare(Requirement("admin_page", platform_roles=frozenset(roles)))


# The admin session (a signed cookie, admin/): what login stores and `enforce` reads.
SESSION_TOKEN = "token"    # the platform token answered by POST /api/v1/auth/login
SESSION_USER = "user"      # id, username, display_name, role, municipality_code, vendor_id
SESSION_SEEN = "seen"      # epoch seconds of the session's last page


class SessionRequired(Exception):  # a signal to the admin web rather than an error
    """An admin page without a valid session; `reason` is "missing", "expired" or "idle"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PageForbidden(Exception):
    """An admin page the logged-in user's role may not see; `roles` are the roles it needs."""

    def __init__(self, roles: frozenset[PlatformRole]):
        super().__init__(", ".join(sorted(roles)))
        self.roles = roles


def requirement_of(endpoint: str, method: str | None = None) -> Requirement | None:
    if endpoint in DOC_ENDPOINTS:
        return Requirement("public")
    func = view_function(endpoint, method)
    return getattr(func, "_authz", None)


def current() -> Principal:
    """The authenticated caller of this request (never None on a protected route)."""
    principal = g.get("principal")
    if principal is None:
        raise Problem(401, "unauthenticated", "This operation needs credentials.")
    return principal


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="sts"'})


def _forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


def _check(requirement: Requirement, principal: Principal) -> None:
    if requirement.kind == "authenticated":
        return
    if principal.is_system:
        if requirement.kind not in ("system", "system_or_platform"):
            raise _forbidden(f"This operation is not open to systems; it needs {requirement.describe()}.")
        if principal.service != requirement.service:
            raise _forbidden(f"The token is for service '{principal.service}'; this operation belongs to "
                             f"'{requirement.service}'.")
        if str(requirement.role) not in principal.roles:
            raise _forbidden(f"The agreement does not grant role '{requirement.role}' on '{requirement.service}'.")
        return
    if requirement.kind not in ("platform", "system_or_platform") or \
            principal.platform_role not in requirement.platform_roles:
        raise _forbidden(f"This operation needs {requirement.describe()}.")


def enforce() -> None:
    if request.endpoint is None or request.method == "OPTIONS":
        return  # 404/405 are answered by routing
    requirement = requirement_of(request.endpoint)
    if requirement is None:
        raise _forbidden("This route declares no access rule and is closed.")
    if requirement.kind == "public":
        return
    from authz.tokens import authenticate  # tokens.py needs the app; imported late

    if requirement.kind == "admin_page":
        _enforce_admin_page(requirement, authenticate)
        return

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("This operation needs a bearer token (Authorization: Bearer ...).")
    g.principal = authenticate(token.strip())
    _check(requirement, g.principal)


def _enforce_admin_page(requirement: Requirement, authenticate: Callable[[str], Principal]) -> None:
    token = session.get(SESSION_TOKEN)
    if not token:
        raise SessionRequired("missing")
    seen = session.get(SESSION_SEEN) or 0
    if time.time() - seen > current_app.config["ADMIN_IDLE_MINUTES"] * 60:
        raise SessionRequired("idle")
    try:
        principal = authenticate(token)
    except Problem:  # expired or revoked (logged out elsewhere), or the user was deactivated
        raise SessionRequired("expired") from None
    finally:
        # The page works through API sub-requests with their own transactions (admin/api_client.py):
        # hold no connection, and no lock on the token's row, meanwhile.
        from app.db import release_conn

        release_conn()
    if principal.kind != "platform_user":
        raise SessionRequired("expired")
    g.principal = principal
    if principal.platform_role not in requirement.platform_roles:
        raise PageForbidden(requirement.platform_roles)
    session[SESSION_SEEN] = int(time.time())


def require_municipality(code: int) -> None:
    """The caller may act for municipality `code` (operators may act for all)."""
    principal = current()
    if principal.is_operator:
        return
    if principal.municipality_code != code:
        raise Problem(404, "not_found", "No such resource for this caller's municipality.")


def require_vendor(vendor_id: str) -> None:
    principal = current()
    if principal.is_operator:
        return
    if principal.vendor_id is None or str(principal.vendor_id) != str(vendor_id):
        raise Problem(404, "not_found", "No such resource for this caller's vendor.")


def check_routes(app: Flask) -> None:
    """Refuse to start when any route lacks an access declaration."""
    missing = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if requirement_of(rule.endpoint, method) is None:
                    missing.append(f"{method} {rule.rule}")
    if missing:
        raise RuntimeError("routes without an access rule (authz.policy): " + ", ".join(sorted(missing)))


def init_app(app: Flask) -> None:
    app.before_request(enforce)


def declared_routes(app: Flask) -> list[tuple[str, str, Requirement]]:
    """(method, rule, requirement) for every route: for tests and docs."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((method, rule.rule, requirement_of(rule.endpoint, method)))
    return out

