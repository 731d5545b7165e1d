"""The Klassifikation pages: classifications and facets, a facet (KLE) as a tree, a class with its history, search.

All data comes from the Klassifikation API (docs/classifications.md) through the API client, as
the logged-in admin (national classes and the municipality's own local ones):

- /admin/klassifikation                       GET /klassifikationer and each one's /facets
- /admin/klassifikation/facets/<uuid>         GET /facets/{uuid} and /facets/{uuid}/classes?valid_at=
  ?as_of=&open=<class>                        the facet as a tree (KLE: hovedgrupper → grupper → emner),
                                              opened down to one class by following links (no script)
- /admin/klassifikation/classes/<uuid>        GET /classes/{uuid} (+ /ancestors, /children, /facts,
                                              /registrations): the class as of a date and its history
- /admin/klassifikation/search?q=             GET /search (Elasticsearch)

The forms (local classes, sortiments) are in admin/klassifikation_forms.py, the KLE upload in
admin/klassifikation_upload.py.  A class's guidance is an XHTML fragment from the KLE file: it is
shown as plain text (tags dropped, autoescaped), never as markup.
"""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

from flask import abort, render_template, request, session

from admin import api_client, nav
from admin.blueprint import SESSION_MUNICIPALITY, bp
from admin.organisation import date_arg
from admin.timeline import Entry, history
from app.bitemporal.periods import copenhagen_today
from authz.policy import PlatformRole, admin_page, current
from classification.model import KLE_EMNEPLAN

KLASS_ROLES = (PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
klass_page = admin_page(*KLASS_ROLES)
nav.register("Klassifikation", "admin.klassifikation_home", *KLASS_ROLES, prefix="admin.klassifikation", order=20)

LEVELS = {"hovedgruppe": "Hovedgruppe", "gruppe": "Gruppe", "emne": "Emne",
          "handlingsfacet_kategori": "Handlingsfacetkategori", "handlingsfacet": "Handlingsfacet"}
LIFECYCLES = {"Opstaaet": "Oprettet", "Importeret": "Importeret", "Rettet": "Rettet", "Passiveret": "Passiveret",
              "Slettet": "Slettet"}
ARCHIVE = {"B": "B: bevares", "K": "K: kasseres"}
# A class's fields in the order its history shows them; `user_key` (the code) spans its existence.
HISTORY_FIELDS = ("user_key", "title", "description", "parent", "level", "published", "replaced_by", "search_words",
                  "guidance", "archive_code", "deletion_period", "legal_refs", "example", "scope", "legal_source",
                  "change_note")
MANY = frozenset({"replaced_by", "search_words"})
FIELD_LABELS = {"user_key": "Kode", "title": "Titel", "description": "Beskrivelse", "parent": "Overordnet klasse",
                "level": "Niveau", "published": "Publicering", "replaced_by": "Afløst af", "search_words": "Søgeord",
                "guidance": "Vejledning", "archive_code": "Bevaring (arkivloven)",
                "deletion_period": "Sletning (persondataloven)", "legal_refs": "Retskilder", "example": "Eksempel",
                "scope": "Afgrænsning", "legal_source": "Lovgrundlag", "change_note": "Ændringsnote"}
LONG = frozenset({"guidance", "legal_refs", "description", "example", "scope"})  # "changed", not the whole text
_BLOCK_END = re.compile(r"</(p|li|ul|ol|div|h\d)>|<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def own_municipality() -> int | None:
    """The municipality whose local data the pages show: the admin's own, or an operator's chosen one."""
    chosen = session.get(SESSION_MUNICIPALITY)
    return current().municipality_code if not current().is_operator else (chosen or {}).get("code")


def may_edit(klass: dict) -> bool:
    """A municipality admin edits the municipality's own local classes (the API decides again)."""
    p = current()
    return bool(klass.get("municipality_code")) and not p.is_operator and \
        klass["municipality_code"] == p.municipality_code


def guidance_paragraphs(text: str | None) -> list[str]:
    """The guidance's XHTML as plain paragraphs (list items start with a bullet)."""
    if not text:
        return []
    text = re.sub(r"<li[^>]*>", "• ", _BLOCK_END.sub("\n", text), flags=re.IGNORECASE)
    lines = (" ".join(html.unescape(_TAG.sub("", line)).split()) for line in text.split("\n"))
    return [line for line in lines if line]


def duration(text: str | None) -> str:
    """An ISO 8601 duration as Danish words (P3Y6M → 3 år og 6 måneder); other text as it is."""
    m = _DURATION.match(text or "")
    if not text or not m or not any(m.groups()):
        return text or ""
    parts = [f"{n} {unit if n == '1' else plural}" for n, unit, plural in
             zip(m.groups(), ("år", "måned", "dag"), ("år", "måneder", "dage"), strict=True) if n]
    return " og ".join(parts)


def class_history(rows: list[dict[str, Any]], today: date) -> list[Entry]:
    """The class's valid-time timeline from its facts (believed now): each day on which a field
    starts or stops, oldest first, like a unit's (admin/timeline.py), over the class's fields."""
    return history(rows, today, HISTORY_FIELDS, MANY)


@bp.app_template_global("class_value")
def class_value(field: str, values: list, names: dict[str, str]) -> str:
    """A class fact's values as text for people (long texts are only said to exist)."""
    if not values:
        return "(ingen)"
    if field in LONG:
        return "(tekst)"
    if field in ("parent", "replaced_by"):
        return ", ".join(names.get(v, v) for v in values)
    if field == "deletion_period":
        return duration(values[0])
    if field in ("level", "archive_code"):
        return ", ".join((LEVELS if field == "level" else ARCHIVE).get(v, v) for v in values)
    return ", ".join(str(v) for v in values)


def classifications() -> list[dict]:
    """Every visible classification with its facets: [{…, facets: [...]}] (national first)."""
    found = api_client.get("/klassifikation/klassifikationer")
    out = []
    for k in found.body if found.ok else []:
        facets = api_client.get(f"/klassifikation/klassifikationer/{k['uuid']}/facets")
        out.append({**k, "facets": facets.body if facets.ok else []})
    return sorted(out, key=lambda k: (k["municipality_code"] is not None, (k["title"] or "").lower()))


@bp.route("/klassifikation")
@klass_page
def klassifikation_home():
    """The classifications and their facets, search, and the way to KLE, local classes and sortiments."""
    mine = own_municipality()
    shown = [k for k in classifications() if k["municipality_code"] in (None, mine)]
    return render_template("admin/klassifikation/home.html", classifications=shown, kle=KLE_EMNEPLAN,
                           is_operator=current().is_operator)


def facet_or_404(facet) -> dict:
    found = api_client.get(f"/klassifikation/facets/{facet}")
    if found.status == 404:
        abort(404)
    if not found.ok:
        abort(400)
    return found.body


def tree(classes: list[dict]) -> tuple[list[dict], dict[str, dict]]:
    """(roots, nodes by UUID): nodes {klass, children} by code; a class whose parent is not among them is a root."""
    nodes = {c["uuid"]: {"klass": c, "children": []} for c in classes}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["klass"].get("parent") or "")
        (parent["children"] if parent else roots).append(node)
    for children in [roots] + [n["children"] for n in nodes.values()]:
        children.sort(key=lambda n: (n["klass"].get("user_key") or "", n["klass"]["uuid"]))
    return roots, nodes


@bp.route("/klassifikation/facets/<uuid:facet>")
@klass_page
def klassifikation_facet(facet):
    """A facet's classes as a tree as of a date; `open` unfolds the path down to one class."""
    as_of, error = date_arg("as_of")
    info = facet_or_404(facet)
    classes, refused = api_client.get_all(f"/klassifikation/facets/{facet}/classes", limit=500,
                                          valid_at=as_of.isoformat() if as_of else None)
    if refused is not None and not error:
        error = refused.detail
    roots, nodes = tree(classes)
    opened, at = [], nodes.get(request.args.get("open", ""))
    while at is not None and at["klass"]["uuid"] not in opened:
        opened.append(at["klass"]["uuid"])
        at = nodes.get(at["klass"].get("parent") or "")
    return render_template("admin/klassifikation/facet.html", facet=info, roots=roots, count=len(classes),
                           opened=set(opened), open_id=request.args.get("open", ""), levels=LEVELS,
                           as_of=as_of or copenhagen_today(), explicit_as_of=as_of, error=error,
                           mine=own_municipality())


def _titles(uuids: set[str], known: dict[str, str]) -> dict[str, str]:
    """class UUID → "code title", reading the classes not yet known (a handful)."""
    names = dict(known)
    for uuid in sorted(uuids - set(names))[:20]:
        found = api_client.get(f"/klassifikation/classes/{uuid}")
        if found.ok and found.body.get("user_key"):
            names[uuid] = f"{found.body['user_key']} {found.body.get('title') or ''}".strip()
    return names


@bp.route("/klassifikation/classes/<uuid:class_id>")
@klass_page
def klassifikation_class(class_id):
    """One class as of a date: its values, place in the tree, children, and its history."""
    as_of, error = date_arg("as_of")
    valid_at = as_of.isoformat() if as_of else None
    base = f"/klassifikation/classes/{class_id}"
    klass = api_client.get(base, valid_at=valid_at)
    if klass.status in (404, 410):
        abort(klass.status)
    if not klass.ok:
        abort(400)
    ancestors = api_client.get(f"{base}/ancestors", valid_at=valid_at).body or []
    children = api_client.get(f"{base}/children", valid_at=valid_at).body or []
    facts = api_client.get(f"{base}/facts").body or []
    registrations = api_client.get(f"{base}/registrations").body or []
    facet_uuid = klass.body.get("facet") or next((f["value"] for f in facts if f["field"] == "facet"), None)
    facet = api_client.get(f"/klassifikation/facets/{facet_uuid}").body if facet_uuid else None
    entries = class_history(facts, copenhagen_today())
    related = {v for e in entries for c in e.changes if c.field in ("parent", "replaced_by")
               for v in c.before + c.after}
    known = {c["uuid"]: f"{c['user_key']} {c.get('title') or ''}".strip() for c in ancestors + children}
    names = _titles(related | set(klass.body.get("replaced_by") or []), known)
    return render_template(
        "admin/klassifikation/class.html", klass=klass.body, as_of=as_of, error=error, facet=facet,
        ancestors=list(reversed(ancestors)), children=children, entries=entries, names=names,
        registrations=registrations, lifecycles=LIFECYCLES, levels=LEVELS, archive=ARCHIVE,
        guidance=guidance_paragraphs(klass.body.get("guidance")), deletion=duration(klass.body.get("deletion_period")),
        labels=FIELD_LABELS, today=copenhagen_today(), editable=may_edit(klass.body))


@bp.route("/klassifikation/search")
@klass_page
def klassifikation_search():
    """Search classes by text or code (national and the municipality's own), valid on a date."""
    q = request.args.get("q", "").strip()[:200]
    as_of, error = date_arg("as_of")
    facet = request.args.get("facet", "").strip()
    hits, total, facets = [], 0, {}
    if q and not error:
        result = api_client.get("/klassifikation/search", q=q, facet=facet or None, limit=50,
                                valid_on=as_of.isoformat() if as_of else None)
        if result.ok:
            hits, total = result.body["items"], result.body["total"]
        else:
            error = result.detail
        for uuid in sorted({h["facet"] for h in hits if h.get("facet")})[:10]:
            found = api_client.get(f"/klassifikation/facets/{uuid}")
            facets[uuid] = found.body.get("title") if found.ok else uuid
    return render_template("admin/klassifikation/search.html", q=q, hits=hits, total=total, facets=facets,
                           facet=facet, as_of=as_of, error=error, levels=LEVELS)
