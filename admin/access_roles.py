"""The municipality's roles ("Adgang → Roller"): user-system roles, job-function roles, assignments.

Vendors publish user-system roles for their systems (admin/vendor.py); the
municipality bundles them with data constraints into job-function roles and
assigns those to its users for a period (DOMAIN.md §8).  Through the
privileges API (authz/privileges_api.py), as the logged-in user:

- /admin/adgang/roller              GET /job-function-roles, and the user-system roles
                                    (GET /systems/{id}/user-system-roles) of the systems the municipality
                                    has approved agreements with (GET /agreements?state=approved)
- /admin/adgang/roller/ny           POST /job-function-roles: name, description, user-system roles, and
                                    the data constraints as simple fields (admin/access_forms.py)
- /admin/adgang/roller/<uuid>       GET /job-function-roles/{id} and its assignments; assigning the role
                                    to a user (POST .../assignments) and removing an assignment
                                    (DELETE /role-assignments/{id})

A user is named by UUID or by user key (brugernavn); a user key is looked up
in the Organisation search (GET /organisation/search?kind=user; when the
search does not answer, the form asks for the UUID instead), a UUID is
checked with GET /organisation/users/{uuid}, so that a role is not assigned
to a user the municipality does not have.
"""

from __future__ import annotations

import uuid as uuidlib

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client
from admin.access import access_page
from admin.access_forms import (
    SENSITIVITIES,
    constraint_values,
    constraints_from_form,
    empty_constraint_values,
    municipality_query,
    problems,
)
from admin.api_client import ApiUnavailable
from admin.auth import scope
from admin.blueprint import bp

ROLE_FIELDS = ("name", "description", "user_system_role_ids", "kle", "sensitivity", "see_cpr", "see_name",
               "org_units", "it_systems", "municipalities")
ASSIGN_FIELDS = ("user", "valid_from", "valid_to")


def _system_roles() -> list[dict]:
    """[{system_id, system_name, vendor_name, roles}] for the municipality's approved agreements' systems."""
    found = api_client.get("/agreements", state="approved", **municipality_query())
    systems = {a["system_id"]: a for a in (found.body if found.ok else [])}
    out = []
    for system_id, agreement in sorted(systems.items(), key=lambda s: s[1]["system_name"].lower()):
        roles = api_client.get(f"/systems/{system_id}/user-system-roles")
        out.append({"system_id": system_id, "system_name": agreement["system_name"],
                    "vendor_name": agreement["vendor_name"], "roles": roles.body if roles.ok else []})
    return out


@bp.route("/adgang/roller")
@access_page
def access_roles():
    """The municipality's job-function roles, and the user-system roles they can bundle."""
    found = api_client.get("/job-function-roles", **municipality_query())
    return render_template("admin/access/roles.html", roles=found.body if found.ok else [],
                           systems=_system_roles())


def _role_form(values: dict, errors: dict, status: int = 200):
    return render_template("admin/access/role_new.html", systems=_system_roles(), sensitivities=SENSITIVITIES,
                           values=values, errors=errors), status


@bp.route("/adgang/roller/ny", methods=["GET", "POST"])
@access_page
def access_role_new():
    """Define a job-function role: user-system roles bundled with data constraints."""
    if request.method == "GET":
        return _role_form({"name": "", "description": "", "user_system_role_ids": [], **empty_constraint_values()},
                          {})
    form = request.form
    values = {"name": form.get("name", "").strip(), "description": form.get("description", "").strip(),
              "user_system_role_ids": form.getlist("user_system_role_ids"), **constraint_values(form)}
    body = {"name": values["name"], "description": values["description"], "constraints": constraints_from_form(form),
            "user_system_role_ids": values["user_system_role_ids"], **municipality_query()}
    result = api_client.call("POST", "/job-function-roles", json=body)
    if result.ok:
        flash(f"Jobfunktionsrollen {values['name']} er oprettet. Tildel den nu til brugere.", "success")
        return redirect(url_for("admin.access_role", role_id=result.body["id"]))
    return _role_form(values, problems(result, ROLE_FIELDS), 422)


def _user(user_uuid: str) -> dict | None:
    found = api_client.get(f"/organisation/users/{user_uuid}", **scope())
    return found.body if found.ok else None


def _role_page(role_id, status: int = 200, values: dict | None = None, errors: dict | None = None):
    role = api_client.get(f"/job-function-roles/{role_id}")
    if not role.ok:
        abort(404 if role.status in (403, 404) else 400)
    found = api_client.get(f"/job-function-roles/{role_id}/assignments")
    assignments = found.body if found.ok else []
    users = {u: _user(u) for u in sorted({a["user_uuid"] for a in assignments})[:50]}
    return render_template("admin/access/role.html", role=role.body, assignments=assignments, users=users,
                           values=values or {}, errors=errors or {}), status


@bp.route("/adgang/roller/<uuid:role_id>")
@access_page
def access_role(role_id):
    """A job-function role: its user-system roles, constraints and who holds it when."""
    return _role_page(role_id)


def _resolve_user(text: str) -> tuple[str | None, str | None]:
    """(user UUID, None) for a UUID or user key of one of the municipality's users, else (None, message)."""
    if not text:
        return None, "Skriv brugerens brugernavn eller UUID."
    try:
        user_uuid = str(uuidlib.UUID(text))
    except ValueError:
        try:
            found = api_client.get("/organisation/search", kind="user", q=text, limit=50, **scope())
        except ApiUnavailable:
            return None, "Brugernavne kan ikke slås op lige nu, fordi søgningen ikke svarer. Skriv brugerens UUID."
        hits = [h for h in (found.body or {}).get("items", []) if (h.get("user_key") or "").lower() == text.lower()] \
            if found.ok else []
        if len(hits) != 1:
            return None, f"Kommunen har ingen bruger med brugernavnet {text}." if not hits else \
                f"Flere brugere har brugernavnet {text}; skriv brugerens UUID."
        return hits[0]["uuid"], None
    if _user(user_uuid) is None:
        return None, "Kommunen har ingen bruger med dette UUID."
    return user_uuid, None


@bp.route("/adgang/roller/<uuid:role_id>/tildelinger", methods=["POST"])
@access_page
def access_assignment_new(role_id):
    """Assign the role to a user for a period (open ends allowed)."""
    values = {k: request.form.get(k, "").strip() for k in ASSIGN_FIELDS}
    user_uuid, message = _resolve_user(values["user"])
    if user_uuid is None:
        return _role_page(role_id, 422, values, {"user": message, "form": "Rollen blev ikke tildelt."})
    body = {"user_uuid": user_uuid, "valid_from": values["valid_from"] or None, "valid_to": values["valid_to"] or None}
    result = api_client.call("POST", f"/job-function-roles/{role_id}/assignments", json=body)
    if result.ok:
        flash(f"Rollen er tildelt {values['user']}.", "success")
        return redirect(url_for("admin.access_role", role_id=role_id))
    if result.status == 404:
        abort(404)
    return _role_page(role_id, 422, values, problems(result, ASSIGN_FIELDS))


@bp.route("/adgang/roller/<uuid:role_id>/tildelinger/<uuid:assignment_id>/fjern", methods=["POST"])
@access_page
def access_assignment_delete(role_id, assignment_id):
    """Remove an assignment of the role."""
    result = api_client.call("DELETE", f"/role-assignments/{assignment_id}")
    if not result.ok:
        abort(404 if result.status in (403, 404) else 400)
    flash("Tildelingen er fjernet.", "success")
    return redirect(url_for("admin.access_role", role_id=role_id))
