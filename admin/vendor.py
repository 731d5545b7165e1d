"""The vendors' pages ("Leverandør"): their IT systems, credentials and user-system roles.

For vendor admins (their own vendor) and platform operators (any vendor,
chosen from the list).  Through the registry and privileges API
(authz/registry.py, authz/privileges_api.py), as the logged-in user:

- /admin/leverandoer                          GET /vendors: a vendor admin goes on to their vendor's
                                              systems; an operator chooses a vendor
- /admin/leverandoer/<vendor>                 GET /vendors/{id}/systems; the form to register a system
                                              (POST /vendors/{id}/systems)
- /admin/leverandoer/<vendor>/systemer/<id>   the system: its agreements (GET /agreements?system_id=), its
                                              user-system roles (GET and POST /systems/{id}/user-system-roles)
                                              and new credentials (POST /systems/{id}/secret)

The client secret is shown once: the API answers it only when a system is
registered and when its secret is replaced, and the page that answers that
POST shows it (with Cache-Control: no-store, like every admin page).  It is
never put in the session or a redirect, so it cannot be shown again; a lost
secret is replaced, which stops the old one at once.

The agreement pages of the vendor are in admin/vendor_agreements.py.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client, nav
from admin.access_forms import SERVICE_ROLES, STATES, VENDOR_ROLES, problems, services, vendor_or_404
from admin.blueprint import bp
from authz.policy import admin_page, current

vendor_page = admin_page(*VENDOR_ROLES)
nav.register("Leverandør", "admin.vendor_home", *VENDOR_ROLES, prefix="admin.vendor", order=60)

SYSTEM_FIELDS = ("name", "cert_thumbprint")
ROLE_FIELDS = ("key", "name", "description")


@bp.route("/leverandoer")
@vendor_page
def vendor_home():
    """A vendor admin's start: their vendor's systems.  An operator chooses the vendor first."""
    user = current()
    if not user.is_operator:
        return redirect(url_for("admin.vendor_systems", vendor_id=user.vendor_id))
    found = api_client.get("/vendors")
    return render_template("admin/access/vendors.html", vendors=found.body if found.ok else [])


def _systems(vendor_id) -> list[dict]:
    found = api_client.get(f"/vendors/{vendor_id}/systems")
    return found.body if found.ok else []


def _systems_page(vendor: dict, status: int = 200, **context):
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render_template("admin/access/systems.html", vendor=vendor, systems=_systems(vendor["id"]),
                           **context), status


def _secret_page(vendor: dict, system: dict, new: bool):
    """The one page that shows a client secret (see the module docstring)."""
    return render_template("admin/access/secret.html", vendor=vendor, system=system, new=new)


@bp.route("/leverandoer/<uuid:vendor_id>", methods=["GET", "POST"])
@vendor_page
def vendor_systems(vendor_id):
    """The vendor's IT systems, and registering a new one (its secret is shown once)."""
    vendor = vendor_or_404(vendor_id)
    if request.method == "GET":
        return _systems_page(vendor)
    values = {k: request.form.get(k, "").strip() for k in SYSTEM_FIELDS}
    body = {"name": values["name"], "cert_thumbprint": values["cert_thumbprint"].lower() or None}
    result = api_client.call("POST", f"/vendors/{vendor_id}/systems", json=body)
    if result.ok:
        return _secret_page(vendor, result.body, new=True)
    return _systems_page(vendor, 422, values=values, errors=problems(result, SYSTEM_FIELDS))


def _system_or_404(vendor_id, system_id) -> dict:
    system = next((s for s in _systems(vendor_id) if s["id"] == str(system_id)), None)
    if system is None:
        abort(404)
    return system


def _system_page(vendor: dict, system: dict, status: int = 200, **context):
    agreements = api_client.get("/agreements", system_id=system["id"])
    roles = api_client.get(f"/systems/{system['id']}/user-system-roles")
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render_template("admin/access/system.html", vendor=vendor, system=system,
                           agreements=agreements.body if agreements.ok else [],
                           roles=roles.body if roles.ok else [], services=services(), states=STATES,
                           service_roles=SERVICE_ROLES, **context), status


@bp.route("/leverandoer/<uuid:vendor_id>/systemer/<uuid:system_id>")
@vendor_page
def vendor_system(vendor_id, system_id):
    """One system: its client id, agreements and user-system roles, and new credentials."""
    vendor = vendor_or_404(vendor_id)
    return _system_page(vendor, _system_or_404(vendor_id, system_id))


@bp.route("/leverandoer/<uuid:vendor_id>/systemer/<uuid:system_id>/roller", methods=["POST"])
@vendor_page
def vendor_system_role_new(vendor_id, system_id):
    """Publish a user-system role of the system (what the system lets its users do)."""
    vendor = vendor_or_404(vendor_id)
    system = _system_or_404(vendor_id, system_id)
    values = {k: request.form.get(k, "").strip() for k in ROLE_FIELDS}
    result = api_client.call("POST", f"/systems/{system_id}/user-system-roles", json=values)
    if result.ok:
        flash(f"Brugersystemrollen {values['name']} er oprettet.", "success")
        return redirect(url_for("admin.vendor_system", vendor_id=vendor_id, system_id=system_id))
    return _system_page(vendor, system, 422, values=values, errors=problems(result, ROLE_FIELDS))


@bp.route("/leverandoer/<uuid:vendor_id>/systemer/<uuid:system_id>/hemmelighed", methods=["POST"])
@vendor_page
def vendor_system_secret(vendor_id, system_id):
    """New credentials for the system: a new secret, shown once; the old one stops working."""
    vendor = vendor_or_404(vendor_id)
    _system_or_404(vendor_id, system_id)
    result = api_client.call("POST", f"/systems/{system_id}/secret")
    if not result.ok:
        abort(result.status if result.status in (403, 404) else 400)
    return _secret_page(vendor, result.body, new=False)
