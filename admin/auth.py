"""Logging in and out of the admin web, its start page, and the operators' municipality.

Login posts username and password to `POST /api/v1/auth/login` (through the
API client, so argon2, the lockout after LOGIN_MAX_FAILURES with its 429 and
the session lifetime are the API's).  On success the session (a signed,
HttpOnly, Secure, SameSite=Lax cookie) holds the platform token and the user;
`authz.policy.enforce` checks that token on every admin page, like a bearer
token.  Logout revokes the token through `POST /api/v1/auth/logout` and
clears the session.

Platform operators act across municipalities; the Organisation API wants the
municipality named (`?municipality=`), so an operator chooses one here and
the pages send it (`scope()`).
"""

from __future__ import annotations

import time

from flask import flash, redirect, render_template, request, session, url_for

from admin import api_client
from admin.blueprint import SESSION_MUNICIPALITY, bp
from authz.policy import SESSION_SEEN, SESSION_TOKEN, SESSION_USER, PlatformRole, admin_page, current, public

ALL_ROLES = tuple(PlatformRole)
LOCKED = ("Kontoen er midlertidigt låst efter for mange mislykkede forsøg på at logge ind. "
          "Prøv igen om {minutes} minutter.")


class MunicipalityNeeded(Exception):  # an operator has not chosen the municipality to act on
    pass


def scope() -> dict[str, int]:
    """The query parameter that names the municipality: operators' choice; others act for their own."""
    if not current().is_operator:
        return {}
    chosen = session.get(SESSION_MUNICIPALITY)
    if not chosen:
        raise MunicipalityNeeded()
    return {"municipality": chosen["code"]}


@bp.errorhandler(MunicipalityNeeded)
def _choose_first(_exc):
    flash("Vælg først den kommune, du vil arbejde med.", "info")
    return redirect(url_for("admin.home"))


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the admin web (no other host, no scheme) is followed after login."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """The login form; on success, the page asked for or the start page."""
    if request.method == "GET":
        return render_template("admin/login.html", errors={}, username="", next=request.args.get("next", ""))
    username, password = request.form.get("username", "").strip(), request.form.get("password", "")
    wanted = _safe_next(request.form.get("next"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Skriv dit brugernavn."
    if not password:
        errors["password"] = "Skriv din adgangskode."
    status = 200
    if not errors:
        result = api_client.call("POST", "/auth/login", json={"username": username, "password": password},
                                 authenticated=False)
        if result.ok:
            return _start_session(result.body, wanted)
        status = result.status if result.status in (401, 422, 429) else 400
        if result.status == 429:
            minutes = max(1, -(-int(result.headers.get("Retry-After", "60")) // 60))
            errors["form"] = LOCKED.format(minutes=minutes)
        elif result.status == 422:
            errors.update(result.field_errors())
        else:
            errors["form"] = "Forkert brugernavn eller adgangskode."
    return render_template("admin/login.html", errors=errors, username=username, next=wanted or ""), status


def _start_session(body: dict, wanted: str | None):
    user = body["user"]
    session.clear()  # a fresh session (and CSRF token) for the logged-in user
    session[SESSION_TOKEN] = body["access_token"]
    session[SESSION_USER] = {k: (str(user[k]) if k in ("id", "vendor_id") and user[k] else user[k])
                             for k in ("id", "username", "display_name", "role", "municipality_code", "vendor_id")}
    session[SESSION_SEEN] = int(time.time())
    if user["municipality_code"]:
        found = api_client.get(f"/municipalities/{user['municipality_code']}")
        name = found.body.get("name") if found.ok else str(user["municipality_code"])
        session[SESSION_MUNICIPALITY] = {"code": user["municipality_code"], "name": name}
    return redirect(wanted or url_for("admin.home"))


@bp.route("/logout", methods=["POST"])
@admin_page(*ALL_ROLES)
def logout():
    """Revoke the session's token and forget the session."""
    api_client.call("POST", "/auth/logout")
    session.clear()
    flash("Du er logget ud.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/")
@admin_page(*ALL_ROLES)
def home():
    """The start page: what the user's role can do here."""
    return render_template("admin/home.html", errors={})


@bp.route("/kommune", methods=["POST"])
@admin_page(PlatformRole.OPERATOR)
def choose_municipality():
    """An operator chooses the municipality the pages act on (by its code, checked against the registry)."""
    code = request.form.get("code", "").strip()
    found = api_client.get(f"/municipalities/{code}") if code.isdigit() else None
    if found is None or not found.ok:
        return render_template("admin/home.html",
                               errors={"code": "Skriv en gyldig kommunekode, fx 751 for Aarhus."}), 422
    session[SESSION_MUNICIPALITY] = {"code": found.body["code"], "name": found.body["name"]}
    flash(f"Du arbejder nu med {found.body['name']} Kommune.", "info")
    return redirect(url_for("admin.home"))
