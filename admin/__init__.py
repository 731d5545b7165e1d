"""The administration web (/admin): the municipality admins', vendor admins' and operators' tool.

Server-rendered pages (Flask + Jinja2, a small CSS file, no JavaScript build)
that are a thin client of the project's own JSON API, called in-process
(admin/api_client.py), so every action passes the API's authorisation,
validation and access log.  docs/admin.md describes it.

- blueprint.py   the blueprint, CSRF, security headers, error pages, template helpers
- auth.py        login, logout, the start page, the operators' municipality
- nav.py         the navigation registry that sections add their pages to
- organisation.py, organisation_forms.py, timeline.py   the Organisation pages
- forms.py       API problems as Danish messages next to the fields

`init_app` refuses to start without SECRET_KEY: it signs the session cookie
(which holds the user's platform token) and the CSRF tokens.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app.api import PAGE_BLUEPRINTS
from app.config import ConfigError


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer built only for a request that brings the
    cookie: API calls never do, and building it cost each of them about a tenth of a millisecond."""

    def open_session(self, app, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()  # what Flask answers for a request without the cookie
        return super().open_session(app, request)


def init_app(app: Flask, api) -> None:
    """Mount the admin web at /admin (a plain Flask blueprint: not part of the OpenAPI document)."""
    if not app.config.get("SECRET_KEY"):
        raise ConfigError("invalid configuration: SECRET_KEY: required; it signs the admin web's session cookie "
                          "and CSRF tokens (set STS_SECRET_KEY to a random value of at least 32 characters, the "
                          "same on every host; `make run` keeps one in .data/secret_key)")
    app.config.update(
        SESSION_COOKIE_NAME="sts_admin",
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=app.config["ADMIN_COOKIE_SECURE"],
        SESSION_COOKIE_SAMESITE="Lax",
        # A form's CSRF token lives as long as the session's platform token may.
        WTF_CSRF_TIME_LIMIT=app.config["SESSION_LIFETIME_HOURS"] * 3600,
    )
    app.session_interface = _CookieSessions()
    # The pages register their routes and navigation items on import.
    from admin import (  # noqa: F401
        access,
        access_log,
        access_roles,
        auth,
        distribution,
        klassifikation,
        klassifikation_forms,
        klassifikation_sortiments,
        klassifikation_upload,
        organisation,
        organisation_forms,
        usage,
        vendor,
        vendor_agreements,
    )
    from admin.blueprint import bp

    PAGE_BLUEPRINTS.add(bp.name)
    app.register_blueprint(bp)
