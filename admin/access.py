"""The municipality's access pages ("Adgang"): service agreements, and approving or rejecting them.

For municipality admins (their municipality) and platform operators (the
municipality chosen on the start page).  Through the agreements API
(authz/agreements.py), as the logged-in user; the API decides again on
every call who may see and decide what (another municipality's agreement is
a 404, a vendor admin may not approve):

- /admin/adgang                       GET /agreements: the requests awaiting a decision, the approved
                                      agreements, and the rejected and terminated ones
- /admin/adgang/aftaler/<uuid>        GET /agreements/{id}: the agreement with its history; approve,
                                      reject or terminate it with a note for the vendor
                                      (POST /agreements/{id}/approve | reject | terminate)

The vendor side of the same agreements is admin/vendor_agreements.py, which
shares `agreement_page()`.  Roles and assignments: admin/access_roles.py;
the access log: admin/access_log.py; usage: admin/usage.py.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client, nav
from admin.access_forms import (
    ACCESS_ROLES,
    SERVICE_ROLES,
    STATES,
    municipality_names,
    municipality_query,
    problems,
    services,
)
from admin.blueprint import bp
from authz.policy import admin_page, current

access_page = admin_page(*ACCESS_ROLES)
nav.register("Adgang", "admin.access_overview", *ACCESS_ROLES, prefix="admin.access", order=30)

GROUPS = (("requested", "Anmodninger, der venter på din beslutning"), ("approved", "Godkendte aftaler"),
          ("rejected", "Afviste aftaler"), ("terminated", "Opsagte aftaler"))
# decision (the API's action) → ({side: the states it is offered in}, Danish: done, can be done).  The API
# allows more (a municipality may terminate a request); the pages offer what each side needs: the
# municipality approves or rejects a request and terminates an agreement, the vendor withdraws a request
# or terminates an agreement.
DECISIONS = {
    "approve": ({"municipality": {"requested"}}, "godkendt", "godkendes"),
    "reject": ({"municipality": {"requested"}}, "afvist", "afvises"),
    "terminate": ({"municipality": {"approved"}, "vendor": {"requested", "approved"}}, "opsagt", "opsiges"),
}
EVENTS = {"requested": "Anmodning sendt", "approved": "Godkendt", "rejected": "Afvist", "terminated": "Opsagt"}
ACTORS = {"platform_user": "en platformsbruger", "system": "et system", "operator_cli": "driften"}


def agreements_by_state(agreements: list[dict]) -> dict[str, list[dict]]:
    return {state: [a for a in agreements if a["state"] == state] for state, _label in GROUPS}


@bp.route("/adgang")
@access_page
def access_overview():
    """The municipality's service agreements, the requests awaiting a decision first."""
    found = api_client.get("/agreements", **municipality_query())
    agreements = sorted(found.body if found.ok else [], key=lambda a: a["created_at"], reverse=True)
    return render_template("admin/access/overview.html", groups=GROUPS, by_state=agreements_by_state(agreements),
                           services=services(), service_roles=SERVICE_ROLES, states=STATES)


def agreement_or_404(agreement_id) -> dict:
    found = api_client.get(f"/agreements/{agreement_id}")
    if not found.ok:
        abort(404 if found.status in (403, 404) else 400)
    return found.body


def allowed_decisions(agreement: dict, side: str) -> list[str]:
    """The decisions `side` ("municipality" or "vendor") may take on the agreement in its state."""
    return [d for d, (offered, *_texts) in DECISIONS.items() if agreement["state"] in offered.get(side, ())]


def agreement_page(agreement: dict, side: str, action: str, status: int = 200, errors=None, note: str = ""):
    """The agreement with its history and the decisions `side` may take (posted to `action`)."""
    names = municipality_names([agreement["municipality_code"]])
    return render_template(
        "admin/access/agreement.html", agreement=agreement, side=side, action=action,
        decisions=allowed_decisions(agreement, side), services=services(), service_roles=SERVICE_ROLES,
        states=STATES, events=EVENTS, actors=ACTORS, me=str(current().platform_user_id), errors=errors or {},
        note=note, municipality_name=names.get(agreement["municipality_code"])), status


def decide(agreement: dict, side: str, action: str, done_url: str):
    """POST a decision from the agreement page: one API call; its refusal is shown on the page."""
    decision, note = request.form.get("decision", ""), request.form.get("note", "").strip()
    if decision not in allowed_decisions(agreement, side):
        state = STATES[agreement["state"]].lower()
        message = "Vælg en af handlingerne på siden." if decision not in DECISIONS else \
            f"Aftalen kan ikke {DECISIONS[decision][2]} i sin nuværende tilstand ({state})."
        return agreement_page(agreement, side, action, 422, {"form": message}, note)
    result = api_client.call("POST", f"/agreements/{agreement['id']}/{decision}", json={"note": note} if note else {})
    if result.ok:
        tell = " Leverandøren har fået besked." if side == "municipality" else " Kommunen kan se det i sin liste."
        flash(f"Aftalen er {DECISIONS[decision][1]}.{tell}", "success")
        return redirect(done_url)
    if result.status == 404:
        abort(404)
    fresh = agreement_or_404(agreement["id"])
    return agreement_page(fresh, side, action, 422, problems(result, ("note",)), note)


@bp.route("/adgang/aftaler/<uuid:agreement_id>", methods=["GET", "POST"])
@access_page
def access_agreement(agreement_id):
    """One agreement of the municipality: approve or reject a request, or terminate an agreement."""
    agreement = agreement_or_404(agreement_id)
    action = url_for("admin.access_agreement", agreement_id=agreement_id)
    if request.method == "GET":
        return agreement_page(agreement, "municipality", action)
    return decide(agreement, "municipality", action, action)
