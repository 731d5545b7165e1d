"""The admin blueprint and what every admin page shares.

- CSRF: every POST/PUT/PATCH/DELETE to an admin page must carry the form's
  hidden `csrf_token` (Flask-WTF's `generate_csrf`/`validate_csrf`, bound to
  the session and signed with SECRET_KEY); otherwise a Danish 400 page.  Only
  here, not app-wide: the JSON API takes bearer tokens, never cookies, so it
  needs no CSRF protection.
- Answers to authz.policy's signals: no (valid) session → the login page
  (a redirect that remembers the page asked for); the wrong role → a Danish
  403 page.  An idle session's token is revoked through the API on the way out.
- Error pages in Danish for HTTP errors and for an API that answers 5xx.
- Security headers on every page: a strict Content-Security-Policy (no inline
  script or style anywhere in the templates), no framing, no caching.
- Template helpers: the CSRF token, the navigation for the user's role, the
  user and municipality, Danish dates.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from admin import api_client, nav
from admin.api_client import ApiUnavailable
from app.bitemporal.periods import COPENHAGEN
from authz.policy import SESSION_USER, PageForbidden, PlatformRole, SessionRequired, public

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
STATIC = Path(__file__).parent / "static"
SESSION_MUNICIPALITY = "municipality"  # {"code", "name"}: the municipality the pages act on

ROLE_LABELS = {
    PlatformRole.MUNICIPALITY_ADMIN: "Kommuneadministrator",
    PlatformRole.VENDOR_ADMIN: "Leverandøradministrator",
    PlatformRole.OPERATOR: "Platformsoperatør",
}
MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.route("/static/<path:filename>")
@public
def static(filename: str):
    """The admin web's CSS (and any small script): public, like the API's documentation assets."""
    return send_from_directory(STATIC, filename)


@bp.before_request
def _check_csrf():
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            return error_page(400, "Formularen kunne ikke sendes",
                              "Formularen er udløbet eller mangler sit sikkerhedstegn (CSRF). Gå tilbage, "
                              "genindlæs siden og prøv igen.")
    return None


@bp.after_request
def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, title: str, message: str):
    return render_template("admin/error.html", status=status, title=title, message=message), status


@bp.errorhandler(SessionRequired)
def _login_first(exc: SessionRequired):
    if exc.reason == "idle":
        api_client.call("POST", "/auth/logout")  # the token dies with the session (401 if it already had)
        minutes = current_app.config["ADMIN_IDLE_MINUTES"]
        message = f"Du er blevet logget ud, fordi du ikke har været aktiv i {minutes} minutter."
    elif exc.reason == "expired":
        message = "Din session er udløbet. Log ind igen."
    else:
        message = None
    session.clear()
    if message:
        flash(message, "info")
    wanted = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("admin.login", next=wanted))


@bp.errorhandler(PageForbidden)
def _forbidden(exc: PageForbidden):
    roles = " eller ".join(ROLE_LABELS[r].lower() for r in sorted(exc.roles))
    return error_page(403, "Ingen adgang", f"Siden er kun for {roles}. Din rolle giver ikke adgang til den.")


@bp.errorhandler(ApiUnavailable)
def _unavailable(_exc: ApiUnavailable):
    return error_page(503, "Tjenesten svarer ikke lige nu",
                      "En bagvedliggende tjeneste er midlertidigt utilgængelig. Prøv igen om lidt.")


HTTP_TEXTS = {
    400: ("Ugyldig forespørgsel", "Forespørgslen kunne ikke forstås."),
    403: ("Ingen adgang", "Du har ikke adgang til denne side."),
    404: ("Siden findes ikke", "Siden eller det, den viser, findes ikke (eller hører til en anden kommune)."),
    405: ("Ikke tilladt", "Siden kan ikke bruges på denne måde."),
    410: ("Slettet", "Det, siden viser, er slettet. Historikken findes stadig i API'et."),
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    title, message = HTTP_TEXTS.get(status, ("Der opstod en fejl", "Siden kunne ikke vises."))
    return error_page(status, title, message)


def copenhagen_date(value: str | date | datetime | None) -> date | None:
    """A date, or the Danish calendar day of an instant (ISO text from the API, or a datetime)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(COPENHAGEN).date()
    return value


@bp.app_template_filter("dato")
def danish_date(value) -> str:
    """1. marts 2026."""
    day = copenhagen_date(value)
    return "" if day is None else f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


@bp.app_template_filter("tidspunkt")
def danish_time(value) -> str:
    """1. marts 2026 kl. 14.05 (Danish local time)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(COPENHAGEN)
    return f"{danish_date(local)} kl. {local:%H.%M}"


# A global, not a context variable, so that the form macros (templates/admin/macros.html) see it too.
bp.add_app_template_global(generate_csrf, "csrf_token")


@bp.context_processor
def _page_context():
    user = session.get(SESSION_USER)
    items = nav.items_for(user["role"]) if user else []
    return {
        "user": user,
        "role_label": ROLE_LABELS.get(PlatformRole(user["role"])) if user else None,
        "nav_items": items,
        "nav_current": nav.current(items, request.endpoint),
        "municipality": session.get(SESSION_MUNICIPALITY),
    }
