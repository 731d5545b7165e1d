"""The Organisation forms: create and edit a unit, add a user to a unit, add a function.

Each form sends one API call (so one transaction), as the logged-in admin:

- new unit:      POST  /organisation/units        (name, short key, type, parent, valid from)
- edit unit:     PATCH /organisation/units/{uuid}  with If-Match: only the fields changed, from the date
                 chosen on (a date after today plans the change: "træder i kraft"); a stale form is
                 refused (412) instead of overwriting someone else's change
- new user:      PUT   /organisation/sync/users/{new uuid}: the user, its person and its employment in
                 the unit in one record (docs/organisation.md, the sync feed), so a half-made user
                 cannot be left behind
- new function:  POST  /organisation/functions     (type, title, the unit, a user of the unit)

Refusals are shown next to the fields they name (admin/forms.py).
"""

from __future__ import annotations

import uuid as uuidlib

from flask import flash, redirect, render_template, request, url_for

from admin import api_client
from admin.auth import scope
from admin.blueprint import bp, danish_date
from admin.forms import parse_date, problem_messages
from admin.organisation import function_types, org_page, unit_types
from app.bitemporal.periods import copenhagen_today

UNIT_FIELDS = ("name", "user_key", "unit_type", "parent")


def _unit_options(valid_at: str | None = None) -> list[tuple[str, str]]:
    """(uuid, "name (short key)") of the units existing at `valid_at`, by name: the parent choices."""
    units, _refused = api_client.get_all("/organisation/hierarchy", **scope(), valid_at=valid_at)
    units.sort(key=lambda u: ((u.get("name") or "").lower(), u["uuid"]))
    return [(u["uuid"], f"{u.get('name')} ({u.get('user_key')})") for u in units]


def _form(template: str, status: int = 200, **context):
    return render_template(f"admin/organisation/{template}", types=unit_types(), **context), status


@bp.route("/organisation/units/new", methods=["GET", "POST"])
@org_page
def organisation_unit_new():
    """Create a unit (from a date, which may lie ahead)."""
    today = copenhagen_today()
    if request.method == "GET":
        values = {"parent": request.args.get("parent", ""), "valid_from": today.isoformat(), "unit_type": "afdeling"}
        return _form("unit_new.html", values=values, errors={}, units=_unit_options())
    values = {k: request.form.get(k, "").strip() for k in (*UNIT_FIELDS, "valid_from")}
    body = {**{k: values[k] for k in UNIT_FIELDS}, "parent": values["parent"] or None,
            "valid_from": values["valid_from"] or None}
    result = api_client.call("POST", "/organisation/units", query=scope(), json=body)
    if result.ok:
        flash(f"Enheden {values['name']} er oprettet.", "success")
        return redirect(url_for("admin.organisation_unit", unit_id=result.body["uuid"]))
    return _form("unit_new.html", 422, values=values, errors=problem_messages(result, tuple(values)),
                 units=_unit_options())


@bp.route("/organisation/units/<uuid:unit_id>/edit", methods=["GET", "POST"])
@org_page
def organisation_unit_edit(unit_id):
    """Change a unit's name, type or parent from a date on (today, or ahead: a planned change)."""
    base = f"/organisation/units/{unit_id}"
    if request.method == "GET":
        day = parse_date(request.args.get("valid_from")) or copenhagen_today()
        found = api_client.get(base, **scope(), valid_at=day.isoformat())
        if not found.ok:
            return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
        values = {k: found.body.get(k) or "" for k in UNIT_FIELDS}
        return _form("unit_edit.html", unit_id=unit_id, values={**values, "valid_from": day.isoformat()},
                     original=values, etag=found.headers.get("ETag", ""), errors={},
                     units=_unit_options(day.isoformat()))
    values = {k: request.form.get(k, "").strip() for k in (*UNIT_FIELDS, "valid_from")}
    original = {k: request.form.get(f"original_{k}", "") for k in UNIT_FIELDS}
    etag = request.form.get("etag", "")
    changed = {k: values[k] or None for k in UNIT_FIELDS if values[k] != original[k]}
    again = {"unit_id": unit_id, "values": values, "original": original, "etag": etag}
    if not changed:
        return _form("unit_edit.html", 422, **again, units=_unit_options(values["valid_from"] or None),
                     errors={"form": "Du har ikke ændret noget."})
    result = api_client.call("PATCH", base, query=scope(), json={**changed, "valid_from": values["valid_from"]},
                             headers={"If-Match": etag} if etag else None)
    if result.ok:
        day = parse_date(values["valid_from"])
        when = "træder i kraft" if day and day > copenhagen_today() else "gælder fra"
        flash(f"Ændringen er gemt og {when} {danish_date(day)}." if day else "Ændringen er gemt.", "success")
        return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
    return _form("unit_edit.html", 422, **again, units=_unit_options(values["valid_from"] or None),
                 errors=problem_messages(result, tuple(values)))


def _unit_or_back(unit_id) -> dict | None:
    found = api_client.get(f"/organisation/units/{unit_id}", **scope())
    return found.body if found.ok and found.body.get("user_key") else None


USER_ALIASES = {"user_id": "user_key", "person.name": "person_name", "positions.0.name": "job_title",
                "positions.0.start": "start", "positions": "start", "valid_from": "start"}


@bp.route("/organisation/units/<uuid:unit_id>/users/new", methods=["GET", "POST"])
@org_page
def organisation_user_new(unit_id):
    """A new user (with person) employed in the unit from a date: one sync-feed record."""
    unit = _unit_or_back(unit_id)
    if unit is None:
        return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
    if request.method == "GET":
        return _form("user_new.html", unit=unit, values={"start": copenhagen_today().isoformat()}, errors={})
    values = {k: request.form.get(k, "").strip() for k in ("user_key", "person_name", "job_title", "start")}
    record = {"user_id": values["user_key"], "person": {"name": values["person_name"]},
              "positions": [{"unit_uuid": str(unit_id), "name": values["job_title"] or None,
                             "start": values["start"]}],
              "valid_from": values["start"] or None}
    result = api_client.call("PUT", f"/organisation/sync/users/{uuidlib.uuid4()}", query=scope(), json=record)
    if result.ok:
        flash(f"Brugeren {values['user_key']} er oprettet og ansat i {unit['name']}.", "success")
        return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
    return _form("user_new.html", 422, unit=unit, values=values,
                 errors=problem_messages(result, tuple(values), USER_ALIASES))


def _unit_users(unit_id) -> list[dict]:
    functions = api_client.get(f"/organisation/units/{unit_id}/functions", **scope()).body or []
    users = {u["uuid"]: u for f in functions for u in f.get("users", [])}
    return sorted(users.values(), key=lambda u: ((u.get("name") or u.get("user_key") or "").lower(), u["uuid"]))


@bp.route("/organisation/units/<uuid:unit_id>/functions/new", methods=["GET", "POST"])
@org_page
def organisation_function_new(unit_id):
    """A function of the unit (e.g. its manager: one of the unit's users), from a date."""
    unit = _unit_or_back(unit_id)
    if unit is None:
        return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
    context = {"unit": unit, "users": _unit_users(unit_id), "function_types": function_types()}
    if request.method == "GET":
        values = {"function_type": "leder", "valid_from": copenhagen_today().isoformat()}
        return _form("function_new.html", **context, values=values, errors={})
    values = {k: request.form.get(k, "").strip() for k in ("function_type", "name", "user", "valid_from",
                                                           "valid_to")}
    body = {"function_type": values["function_type"], "name": values["name"] or None, "units": [str(unit_id)],
            "users": [values["user"]] if values["user"] else [], "valid_from": values["valid_from"] or None,
            "valid_to": values["valid_to"] or None}
    result = api_client.call("POST", "/organisation/functions", query=scope(), json=body)
    if result.ok:
        flash("Funktionen er oprettet.", "success")
        return redirect(url_for("admin.organisation_unit", unit_id=unit_id))
    return _form("function_new.html", 422, **context, values=values,
                 errors=problem_messages(result, tuple(values), {"users": "user", "users.0": "user"}))
