"""The access-log viewer ("Adgang → Adgangslog"): who read which persons' data, when, and how.

Through `GET /access-log` (authz/access_log_api.py), as the logged-in
municipality admin (their municipality's entries; the API refuses others)
or operator (the chosen municipality).  Filters:

- person: a CPR number (with or without the dash, sent as
  `urn:oio:cpr-nr:DDMMYYXXXX`), a UUID (`urn:uuid:...`) or a URN as it is;
- system: one of the systems the municipality has agreements with;
- period: from and to dates, both inclusive, in Danish time (the API's
  half-open `[from, to)` in instants: `to` is the next day's midnight).

Newest first, 25 a page; "Næste side" follows the API's keyset cursor, and
the filters travel in the links.  Reading the log is itself logged by the
API (`access_log.read`).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from datetime import date

from flask import render_template, request

from admin import api_client
from admin.access import access_page
from admin.access_forms import municipality_query
from admin.blueprint import bp
from admin.forms import parse_date
from app.bitemporal.periods import day_end, local_midnight

PAGE_SIZE = 25
CPR = re.compile(r"^(\d{6})-?(\d{4})$")
OPERATIONS = {"privileges.read": "Rettighedsprofil læst", "access_log.read": "Adgangslog læst",
              "platform_users.list": "Platformsbrugere læst"}


def person_urn(text: str) -> str:
    """The person's URN as the log stores it, from a CPR number, a UUID or a URN."""
    text = text.strip()
    if match := CPR.match(text):
        return f"urn:oio:cpr-nr:{match.group(1)}{match.group(2)}"
    try:
        return f"urn:uuid:{uuidlib.UUID(text)}"
    except ValueError:
        return text


def describe_person(urn: str) -> str:
    """A person's URN for people: CPR 010101-1234, or the URN as it is."""
    if urn.startswith("urn:oio:cpr-nr:") and len(urn) == 25:
        cpr = urn.removeprefix("urn:oio:cpr-nr:")
        return f"CPR {cpr[:6]}-{cpr[6:]}"
    return urn


def describe_operation(operation: str) -> str:
    return OPERATIONS.get(operation, operation)


def _filters() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(the filters as typed, the API's query for them, messages for fields that are not valid)."""
    values = {k: request.args.get(k, "").strip() for k in ("person", "system", "from", "to")}
    query: dict[str, str] = {}
    errors: dict[str, str] = {}
    if values["person"]:
        query["person"] = person_urn(values["person"])
    if values["system"]:
        query["system_id"] = values["system"]
    for name in ("from", "to"):
        if values[name]:
            day = parse_date(values[name])
            if day is None:
                errors[name] = "Skriv en dato som ÅÅÅÅ-MM-DD."
            elif name == "from":
                query["from"] = local_midnight(day).isoformat()
            elif day < date.max:  # 9999-12-31 has no day after it: the period stays open
                query["to"] = day_end(day).isoformat()
    return values, query, errors


def _systems() -> dict[str, str]:
    """system id → "name (vendor)" of the systems with agreements with the municipality."""
    found = api_client.get("/agreements", **municipality_query())
    systems = {a["system_id"]: f"{a['system_name']} ({a['vendor_name']})" for a in (found.body if found.ok else [])}
    return dict(sorted(systems.items(), key=lambda s: s[1].lower()))


@bp.route("/adgang/adgangslog")
@access_page
def access_log():
    """The municipality's access log, filtered by person, system and period, newest first."""
    values, query, errors = _filters()
    systems = _systems()
    page = {"items": [], "total": 0, "next_cursor": None}
    cursor = request.args.get("cursor") or None
    if not errors:
        found = api_client.get("/access-log", **query, **municipality_query(), limit=PAGE_SIZE, cursor=cursor)
        if found.ok:
            page = found.body
        else:
            messages = {"person": "Skriv et CPR-nummer, et UUID eller en URN.", "system_id": "Vælg et system.",
                        "to": "Til-datoen skal ligge efter fra-datoen.", "cursor": "Siden findes ikke længere."}
            for error in found.body.get("errors", []) if isinstance(found.body, dict) else []:
                field = {"system_id": "system"}.get(error.get("field"), error.get("field"))
                errors[field] = messages.get(error.get("field"), error.get("detail", ""))
            errors.setdefault("form", "Adgangsloggen kunne ikke vises: " + found.detail)
    links = {k: v for k, v in values.items() if v}
    return render_template("admin/access/access_log.html", values=values, errors=errors, systems=systems,
                           page=page, links=links, cursor=cursor, describe_person=describe_person,
                           describe_operation=describe_operation, page_size=PAGE_SIZE), 422 if errors else 200
