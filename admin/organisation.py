"""The Organisation pages: the tree as of a date, a unit with its history, what changes on a date.

All data comes from the Organisation API (docs/organisation.md) through the
API client, as the logged-in admin (their municipality; an operator's chosen
one):

- /admin/organisation?as_of=YYYY-MM-DD   GET /organisation/hierarchy?valid_at=
- /admin/organisation/units/<uuid>       GET /organisation/units/{uuid} (+ /facts, /registrations,
                                         /functions, /ancestors) and the unit and function types
- /admin/organisation/changes?date=      GET /organisation/changes?date=

The forms (create and edit units, add users and functions) are in
admin/organisation_forms.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, render_template, request

from admin import api_client, nav
from admin.auth import scope
from admin.blueprint import bp
from admin.timeline import FIELD_LABELS, history, lifespan
from app.bitemporal.periods import copenhagen_today
from authz.policy import PlatformRole, admin_page
from classification.seed_data import ENHEDSTYPE, FUNKTIONSTYPE, KLE_ASPEKT

ORG_ROLES = (PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
org_page = admin_page(*ORG_ROLES)
nav.register("Organisation", "admin.organisation_tree", *ORG_ROLES, prefix="admin.organisation", order=10)

LIFECYCLES = {"Opstaaet": "Oprettet", "Importeret": "Importeret", "Rettet": "Rettet", "Passiveret": "Passiveret",
              "Slettet": "Slettet"}
CHANGE_LABELS = {"created": "Oprettes", "ended": "Ophører", "changed": "Ændres"}
KIND_LABELS = {"unit": "Enheder", "function": "Funktioner (ansættelser, ledere m.m.)", "user": "Brugere",
               "it_system": "IT-systemer"}


def date_arg(name: str) -> tuple[date | None, str | None]:
    """(the date in query parameter `name`, or None) and a Danish message when it is not a date."""
    text = request.args.get(name, "").strip()
    if not text:
        return None, None
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return None, "Skriv en dato som ÅÅÅÅ-MM-DD."


def titles(facet: str) -> dict[str, str]:
    """code → title of a seeded type list (unit types, function types, KLE aspects)."""
    items, _refused = api_client.get_all(f"/klassifikation/facets/{facet}/classes", limit=500)
    return {c["user_key"]: c["title"] or c["user_key"] for c in items if c.get("user_key")}


def unit_types() -> dict[str, str]:
    return titles(ENHEDSTYPE)


def function_types() -> dict[str, str]:
    return titles(FUNKTIONSTYPE)


def tree(units: list[dict]) -> list[dict]:
    """Nested nodes {unit, children} from hierarchy items; units whose parent is not among them are roots."""
    nodes = {u["uuid"]: {"unit": u, "children": []} for u in units}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["unit"].get("parent") or "")
        (parent["children"] if parent else roots).append(node)
    for node in nodes.values():
        node["children"].sort(key=lambda n: ((n["unit"].get("name") or "").lower(), n["unit"]["uuid"]))
    roots.sort(key=lambda n: ((n["unit"].get("name") or "").lower(), n["unit"]["uuid"]))
    return roots


@bp.route("/organisation")
@org_page
def organisation_tree():
    """The municipality's units as a tree, as of a date (default today)."""
    as_of, error = date_arg("as_of")
    units, refused = api_client.get_all("/organisation/hierarchy", **scope(),
                                        valid_at=as_of.isoformat() if as_of else None)
    if refused is not None and not error:
        error = refused.detail
    return render_template("admin/organisation/tree.html", roots=tree(units), count=len(units),
                           as_of=as_of or copenhagen_today(), error=error, types=unit_types())


def _names(uuids: set[str], known: dict[str, str], valid_at: str | None) -> dict[str, str]:
    """unit UUID → name, reading the units not yet known (a handful: parents in a unit's history)."""
    names = dict(known)
    for uuid in sorted(uuids - set(names))[:20]:
        found = api_client.get(f"/organisation/units/{uuid}", **scope(), valid_at=valid_at)
        if found.ok and found.body.get("name"):
            names[uuid] = found.body["name"]
    return names


def _task_titles(tasks: list[dict]) -> dict[str, str]:
    out = {}
    for task in tasks[:30]:
        if task.get("klasse"):
            found = api_client.get(f"/klassifikation/classes/{task['klasse']}")
            if found.ok:
                out[task["klasse"]] = found.body.get("title") or ""
    return out


@bp.route("/organisation/units/<uuid:unit_id>")
@org_page
def organisation_unit(unit_id):
    """One unit as of a date: its values, users and functions, KLE tasks, and its history."""
    as_of, error = date_arg("as_of")
    valid_at = as_of.isoformat() if as_of else None
    base = f"/organisation/units/{unit_id}"
    unit = api_client.get(base, **scope(), valid_at=valid_at)
    if unit.status in (404, 410):
        abort(unit.status)
    if not unit.ok:
        abort(400)
    facts = api_client.get(f"{base}/facts", **scope()).body or []
    registrations = api_client.get(f"{base}/registrations", **scope()).body or []
    functions = api_client.get(f"{base}/functions", **scope(), valid_at=valid_at).body or []
    ancestors = api_client.get(f"{base}/ancestors", **scope(), valid_at=valid_at).body or []
    entries = history(facts, copenhagen_today())
    parents = {v for e in entries for c in e.changes if c.field == "parent" for v in c.before + c.after if v}
    names = _names(parents, {a["uuid"]: a["name"] for a in ancestors}, valid_at)
    first, last, gaps = lifespan(facts)
    return render_template(
        "admin/organisation/unit.html", unit=unit.body, as_of=as_of, error=error, functions=functions,
        ancestors=list(reversed(ancestors)), entries=entries, names=names, registrations=registrations,
        lifecycles=LIFECYCLES, first=first, last=last, gaps=gaps, types=unit_types(),
        function_types=function_types(), aspects=titles(KLE_ASPEKT), task_titles=_task_titles(unit.body["tasks"]),
        today=copenhagen_today(), etag=unit.headers.get("ETag", ""))


def describe_value(field: str, value: Any, names: dict[str, str], types: dict[str, str]) -> str:
    """A fact's value as text for people."""
    if value is None:
        return "(ingen)"
    if field in ("parent", "for_unit"):
        return names.get(value, value)
    if field == "unit_type":
        return types.get(value, value)
    if isinstance(value, dict):
        if "code" in value or "klasse" in value:
            return f"{value.get('code', '')} ({value.get('aspect', '')})"
        if "type" in value:
            return f"{value['type']}: {value.get('value', '')}"
    return str(value)


@bp.app_template_global("describe_value")
def _describe_value(field: str, value: Any, names: dict[str, str] | None = None,
                    types: dict[str, str] | None = None) -> str:
    return describe_value(field, value, names or {}, types or {})


@bp.app_template_global("field_label")
def _field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


@bp.route("/organisation/changes")
@org_page
def organisation_changes():
    """What changes in the organisation on a date (default today): planned and past changes alike."""
    day, error = date_arg("date")
    day = day or copenhagen_today()
    result = api_client.get("/organisation/changes", **scope(), date=day.isoformat(), limit=1000)
    if not result.ok:
        error = error or result.detail
    items = result.body.get("items", []) if result.ok else []
    groups = {kind: [i for i in items if i["kind"] == kind] for kind in KIND_LABELS}
    parents = {v for i in items for name, f in i["fields"].items() if name == "parent"
               for v in f["ended"] + f["started"] if v}
    names = _names(parents, {i["uuid"]: i["summary"].get("name") for i in items if i["kind"] == "unit"},
                   day.isoformat())
    return render_template("admin/organisation/changes.html", day=day, error=error, groups=groups,
                           kinds=KIND_LABELS, changes=CHANGE_LABELS, names=names, types=unit_types(),
                           function_types=function_types(),
                           truncated=result.ok and result.body.get("truncated"), today=copenhagen_today())
