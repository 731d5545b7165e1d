"""The vendors' agreement pages: their service agreements, and requesting a new one.

Through the agreements API (authz/agreements.py), as the logged-in vendor
admin (or an operator, for the vendor chosen):

- /admin/leverandoer/<vendor>/aftaler              GET /agreements: the vendor's agreements and their
                                                   states (an operator's list is narrowed to the vendor)
- /admin/leverandoer/<vendor>/aftaler/ny           the request form: one of the vendor's systems, a
                                                   service from the catalogue (GET /catalogue), the
                                                   municipality, roles and data constraints as simple
                                                   fields; POST /agreements (the municipality is notified)
- /admin/leverandoer/<vendor>/aftaler/<uuid>       the agreement with its history; the vendor may
                                                   withdraw a request or terminate an agreement
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client
from admin.access import agreement_or_404, agreement_page, agreements_by_state, decide
from admin.access_forms import (
    SENSITIVITIES,
    SERVICE_ROLES,
    STATES,
    constraint_values,
    constraints_from_form,
    empty_constraint_values,
    municipality_names,
    problems,
    services,
    vendor_or_404,
)
from admin.blueprint import bp
from admin.vendor import vendor_page

GROUPS = (("requested", "Afventer kommunens beslutning"), ("approved", "Godkendte aftaler"),
          ("rejected", "Afviste anmodninger"), ("terminated", "Opsagte aftaler"))
REQUEST_FIELDS = ("system_id", "service", "municipality_code", "roles", "kle", "sensitivity", "see_cpr", "see_name",
                  "org_units", "it_systems", "municipalities")


def _vendor_agreements(vendor_id) -> list[dict]:
    found = api_client.get("/agreements")
    mine = [a for a in (found.body if found.ok else []) if a["vendor_id"] == str(vendor_id)]
    return sorted(mine, key=lambda a: a["created_at"], reverse=True)


@bp.route("/leverandoer/<uuid:vendor_id>/aftaler")
@vendor_page
def vendor_agreements(vendor_id):
    """The vendor's agreement requests and agreements, by state."""
    vendor = vendor_or_404(vendor_id)
    agreements = _vendor_agreements(vendor_id)
    return render_template("admin/access/vendor_agreements.html", vendor=vendor, groups=GROUPS,
                           by_state=agreements_by_state(agreements), services=services(),
                           service_roles=SERVICE_ROLES, states=STATES,
                           names=municipality_names(a["municipality_code"] for a in agreements))


def _request_form(vendor: dict, values: dict, errors: dict, status: int = 200):
    systems = api_client.get(f"/vendors/{vendor['id']}/systems")
    active = [s for s in (systems.body if systems.ok else []) if s["active"]]
    return render_template("admin/access/agreement_new.html", vendor=vendor, systems=active, services=services(),
                           service_roles=SERVICE_ROLES, sensitivities=SENSITIVITIES, values=values,
                           errors=errors), status


@bp.route("/leverandoer/<uuid:vendor_id>/aftaler/ny", methods=["GET", "POST"])
@vendor_page
def vendor_agreement_new(vendor_id):
    """Request a service agreement for one of the vendor's systems with a municipality."""
    vendor = vendor_or_404(vendor_id)
    if request.method == "GET":
        values = {"system_id": request.args.get("system", ""), "service": "", "municipality_code": "",
                  "roles": ["read"], **empty_constraint_values()}
        return _request_form(vendor, values, {})
    form = request.form
    values = {"system_id": form.get("system_id", ""), "service": form.get("service", ""),
              "municipality_code": form.get("municipality_code", "").strip(), "roles": form.getlist("roles"),
              **constraint_values(form)}
    body = {"system_id": values["system_id"] or None, "service": values["service"] or None,
            "municipality_code": values["municipality_code"] or None, "roles": values["roles"],
            "constraints": constraints_from_form(form)}
    result = api_client.call("POST", "/agreements", json=body)
    if result.ok:
        name = municipality_names([result.body["municipality_code"]])[result.body["municipality_code"]]
        flash(f"Anmodningen er sendt til {name} Kommune, som skal godkende den.", "success")
        return redirect(url_for("admin.vendor_agreement", vendor_id=vendor_id, agreement_id=result.body["id"]))
    errors = problems(result, REQUEST_FIELDS)
    if "roles" in errors and not values["roles"]:
        errors["roles"] = "Vælg mindst én rolle."
    return _request_form(vendor, values, errors, 422)


@bp.route("/leverandoer/<uuid:vendor_id>/aftaler/<uuid:agreement_id>", methods=["GET", "POST"])
@vendor_page
def vendor_agreement(vendor_id, agreement_id):
    """One of the vendor's agreements with its history; withdraw the request or terminate the agreement."""
    vendor_or_404(vendor_id)
    agreement = agreement_or_404(agreement_id)
    if agreement["vendor_id"] != str(vendor_id):
        abort(404)
    action = url_for("admin.vendor_agreement", vendor_id=vendor_id, agreement_id=agreement_id)
    if request.method == "GET":
        return agreement_page(agreement, "vendor", action)
    return decide(agreement, "vendor", action, action)
