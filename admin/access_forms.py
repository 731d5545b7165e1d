"""What the access pages (Adgang, Leverandør, Forbrug) share: scope, Danish labels, constraint fields.

- Who the pages act for.  A municipality admin acts for their own
  municipality (the API knows it from the token); a platform operator for the
  municipality chosen on the start page (admin/auth.py), which the access
  API takes as `?municipality_code=` (the Organisation API's `?municipality=`
  is `admin.auth.scope()`).
- Danish labels for agreement states, service roles and sensitivity levels,
  and `describe_constraints()`: an agreement's or a job-function role's data
  constraints (authz/schemas.py ConstraintsSchema) as short Danish lines.
- The constraints as simple form fields (KLE patterns, sensitivity, CPR and
  names, org units, IT systems, other municipalities) and back: lists are
  typed separated by commas, spaces or new lines, and sent to the API as they
  are, so the API's validation (e.g. a KLE pattern) is the one rule; its
  refusal of `constraints.kle.0` is shown under the KLE field
  (`problems()`).
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, session

from admin import api_client
from admin.api_client import ApiResult
from admin.auth import scope
from admin.blueprint import SESSION_MUNICIPALITY, bp
from admin.forms import problem_messages
from authz.policy import PlatformRole, current

ACCESS_ROLES = (PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
VENDOR_ROLES = (PlatformRole.VENDOR_ADMIN, PlatformRole.OPERATOR)

STATES = {"requested": "Afventer godkendelse", "approved": "Godkendt", "rejected": "Afvist",
          "terminated": "Opsagt"}
SERVICE_ROLES = {"read": "Læse", "edit": "Skrive"}
SENSITIVITIES = {
    "IKKE_FORTROLIGE_DATA": "Ikke-fortrolige data",
    "FORTROLIGE_PERSONOPLYSNINGER": "Fortrolige personoplysninger",
    "FOELSOMME_PERSONOPLYSNINGER": "Følsomme personoplysninger",
    "VIP_SAGER": "VIP-sager",
}
CONSTRAINT_FIELDS = ("kle", "sensitivity", "see_cpr", "see_name", "org_units", "it_systems", "municipalities")
CODES = {
    "agreement_exists": "Der findes allerede en anmodet eller godkendt aftale for systemet, tjenesten og kommunen.",
    "system_exists": "Leverandøren har allerede et system med det navn.",
    "system_inactive": "Systemet er deaktiveret.",
    "unknown_municipality": "Der findes ingen kommune med den kode.",
    "invalid_transition": "Aftalen er ikke længere i en tilstand, der tillader det. Den er måske allerede behandlet.",
    "user_system_role_exists": "Systemet har allerede en brugersystemrolle med den nøgle.",
    "job_function_role_exists": "Kommunen har allerede en jobfunktionsrolle med det navn.",
    "assignment_overlaps": "Brugeren har allerede rollen i en periode, der overlapper.",
}


def municipality_code() -> int:
    """The municipality the pages act for (an operator's choice, else the user's own)."""
    if current().is_operator:
        scope()  # an operator who has not chosen is sent to the start page to choose
        return int(session[SESSION_MUNICIPALITY]["code"])
    return int(current().municipality_code)


def municipality_query() -> dict[str, int]:
    """`municipality_code` for the access API: operators name it, others act for their own."""
    return {"municipality_code": municipality_code()} if current().is_operator else {}


def municipality_names(codes) -> dict[int, str]:
    """code → name of the municipalities named (for lists of agreements)."""
    names = {}
    for code in sorted({int(c) for c in codes if c})[:50]:
        found = api_client.get(f"/municipalities/{code}")
        names[code] = found.body["name"] if found.ok else str(code)
    return names


def services() -> dict[str, dict]:
    """code → {name, description, roles} of the service catalogue (GET /catalogue)."""
    found = api_client.get("/catalogue")
    return {s["code"]: s for s in found.body["services"]} if found.ok else {}


def vendor_or_404(vendor_id) -> dict:
    """The vendor the page is about: one the user may see (their own; any, for operators)."""
    found = api_client.get("/vendors")
    vendor = next((v for v in found.body if v["id"] == str(vendor_id)), None) if found.ok else None
    if vendor is None:
        abort(404)
    return vendor


def split_list(text: str | None) -> list[str]:
    """The items typed in a list field, separated by commas, semicolons, spaces or new lines."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def constraints_from_form(form) -> dict[str, Any]:
    """The ConstraintsSchema body from the constraint fields; an empty field restricts nothing."""
    out: dict[str, Any] = {}
    if split_list(form.get("kle")):
        out["kle"] = split_list(form.get("kle"))
    if form.get("sensitivity"):
        out["sensitivity"] = form.get("sensitivity")
    for flag in ("see_cpr", "see_name"):
        if form.get(flag):
            out[flag] = True  # only `true` grants it; left out, the holder may not see it
    if split_list(form.get("org_units")):
        subtree = bool(form.get("org_units_subtree"))
        out["org_units"] = [{"uuid": u, "subtree": subtree} for u in split_list(form.get("org_units"))]
    for name in ("it_systems", "municipalities"):
        if split_list(form.get(name)):
            out[name] = split_list(form.get(name))
    return out


def constraint_values(form) -> dict[str, Any]:
    """The constraint fields as typed, to show a refused form again."""
    values = {k: (form.get(k) or "").strip() for k in CONSTRAINT_FIELDS}
    values["org_units_subtree"] = bool(form.get("org_units_subtree"))
    return values


def empty_constraint_values() -> dict[str, Any]:
    return {**dict.fromkeys(CONSTRAINT_FIELDS, ""), "org_units_subtree": True}


@bp.app_template_global("describe_constraints")
def describe_constraints(constraints: dict[str, Any] | None) -> list[str]:
    """Danish lines for a set of data constraints; a missing key does not restrict that dimension."""
    c = constraints or {}
    lines = []
    if "kle" in c:
        lines.append("KLE-emner: " + (", ".join(c["kle"]) or "ingen"))
    if "sensitivity" in c:
        lines.append(f"Højeste følsomhed: {SENSITIVITIES.get(c['sensitivity'], c['sensitivity'])}")
    if "org_units" in c:
        units = c["org_units"]
        below = " (med underenheder)" if units and all(u.get("subtree", True) for u in units) else ""
        lines.append(f"Organisationsenheder: {len(units)}{below}")
    if "it_systems" in c:
        lines.append(f"IT-systemer: {len(c['it_systems'])}")
    if "municipalities" in c:
        lines.append("Andre kommuner: " + (", ".join(str(m) for m in c["municipalities"]) or "ingen"))
    lines.append("Må se CPR-numre" if c.get("see_cpr") else "Må ikke se CPR-numre")
    lines.append("Må se navne" if c.get("see_name") else "Må ikke se navne")
    return lines


def problems(result: ApiResult, fields: tuple[str, ...]) -> dict[str, str]:
    """The API's refusal as {form field: Danish message}: nested and list fields
    (`constraints.kle.0`, `roles.1`, `constraints.org_units.0.uuid`) belong to the form field
    named by their first part below `constraints`."""
    aliases = {}
    for error in (result.body or {}).get("errors", []) if isinstance(result.body, dict) else []:
        name = str(error.get("field", ""))
        parts = name.split(".")
        if parts[0] == "constraints" and len(parts) > 1:
            parts = parts[1:]
        aliases[name] = parts[0]
    errors = problem_messages(result, fields, aliases)
    if result.code in CODES:
        errors = dict.fromkeys(errors, CODES[result.code])
    return errors
