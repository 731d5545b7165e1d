"""Sortiments: the municipality's named subsets of classes offered to one IT system each.

A sortiment is made for a system (one with an approved agreement with the municipality) and a
set of classes; every change of its classes is a new version (the API keeps the old ones).
Classes are picked by their codes in a facet (KLE by default); `27.01*` takes 27.01 and every
class under it.  As the logged-in admin (an operator: for the chosen municipality):

- /admin/klassifikation/sortimenter              GET /sortiments, GET /agreements?state=approved (system names)
- /admin/klassifikation/sortimenter/ny           POST /sortiments
- /admin/klassifikation/sortimenter/<uuid>       GET /sortiments/{uuid}; the form PUTs its classes
                                                 (the ones kept plus the codes added): a new version

The API has no way to rename a sortiment; its name and system are fixed when it is made.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client
from admin.auth import scope
from admin.blueprint import bp
from admin.forms import problem_messages
from admin.klassifikation import KLASS_ROLES, classifications
from authz.policy import admin_page, current
from classification.model import KLE_EMNEPLAN

sortiment_page = admin_page(*KLASS_ROLES)
K = "/klassifikation"
MAX_CODES = 100
_CODE = re.compile(r"^[A-Za-z0-9._-]{1,50}$")


def acting_for() -> int:
    """The municipality the pages act for: the admin's own, or the one an operator chose (else they choose)."""
    return scope().get("municipality") or current().municipality_code


def systems() -> dict[str, str]:
    """system UUID → "system (vendor)" of the systems with an approved agreement with the municipality."""
    found = api_client.get("/agreements", state="approved", municipality_code=acting_for())
    out = {a["system_id"]: f"{a['system_name']} ({a['vendor_name']})" for a in (found.body if found.ok else [])}
    return dict(sorted(out.items(), key=lambda item: item[1].lower()))


def facets() -> list[tuple[str, str]]:
    """(uuid, title) of every visible facet, KLE's subject plan first."""
    found = [(f["uuid"], f["title"] or f["user_key"]) for k in classifications() for f in k["facets"]]
    return sorted(found, key=lambda f: (f[0] != KLE_EMNEPLAN, f[1].lower()))


def resolve(facet: str, text: str) -> tuple[list[str], list[str]]:
    """(class UUIDs, codes not found) for codes separated by spaces, commas or lines; `code*` adds the subtree."""
    uuids: list[str] = []
    unknown: list[str] = []
    for token in [t for t in re.split(r"[\s,;]+", text) if t][:MAX_CODES]:
        code, below = token.rstrip("*").rstrip("."), token.endswith("*")
        found = api_client.get(f"{K}/facets/{facet}/classes/{code}") if _CODE.match(code) else None
        if found is None or not found.ok:
            unknown.append(token)
            continue
        uuids.append(found.body["uuid"])
        if below:
            subtree = api_client.get(f"{K}/classes/{found.body['uuid']}/subtree")
            uuids += [c["uuid"] for c in (subtree.body if subtree.ok else [])]
    return list(dict.fromkeys(uuids)), unknown


def _unknown_message(unknown: list[str]) -> str:
    return "Ingen klasse i facetten i dag med " + ("koden " if len(unknown) == 1 else "koderne ") + \
        ", ".join(unknown[:20]) + "."


@bp.route("/klassifikation/sortimenter")
@sortiment_page
def klassifikation_sortiments():
    """The municipality's sortiments: name, system, version and number of classes."""
    found = api_client.get(f"{K}/sortiments")
    items = [s for s in (found.body if found.ok else []) if s["municipality_code"] == acting_for()]
    items.sort(key=lambda s: (s["name"].lower(), s["id"]))
    return render_template("admin/klassifikation/sortiments.html", sortiments=items, systems=systems(),
                           error=None if found.ok else found.detail)


FIELDS = ("name", "description", "system_id", "facet", "codes")


@bp.route("/klassifikation/sortimenter/ny", methods=["GET", "POST"])
@sortiment_page
def klassifikation_sortiment_new():
    """Make a sortiment for a system from class codes (version 1)."""
    context = {"systems": systems(), "facets": facets()}
    if request.method == "GET":
        return render_template("admin/klassifikation/sortiment_new.html", values={"facet": KLE_EMNEPLAN},
                               errors={}, **context)
    values = {k: request.form.get(k, "").strip() for k in FIELDS}
    errors: dict[str, str] = {}
    classes, unknown = resolve(values["facet"], values["codes"])
    if unknown:
        errors["codes"] = _unknown_message(unknown)
    if not errors:
        body = {"name": values["name"], "system_id": values["system_id"] or None, "classes": classes,
                **({"description": values["description"]} if values["description"] else {})}
        if current().is_operator:
            body["municipality_code"] = acting_for()
        result = api_client.call("POST", f"{K}/sortiments", json=body)
        if result.ok:
            flash(f"Sortimentet {values['name']} er oprettet med {len(classes)} klasser.", "success")
            return redirect(url_for("admin.klassifikation_sortiment", sortiment_id=result.body["id"]))
        errors = problem_messages(result, FIELDS, {"classes": "codes"})
    errors.setdefault("form", "Sortimentet blev ikke oprettet. Ret de markerede felter.")
    return render_template("admin/klassifikation/sortiment_new.html", values=values, errors=errors, **context), 422


@bp.route("/klassifikation/sortimenter/<uuid:sortiment_id>", methods=["GET", "POST"])
@sortiment_page
def klassifikation_sortiment(sortiment_id):
    """A sortiment's newest version with its classes; the form keeps or removes classes and adds codes."""
    path = f"{K}/sortiments/{sortiment_id}"
    found = api_client.get(path)
    if found.status == 404 or (found.ok and found.body["municipality_code"] != acting_for()):
        abort(404)
    if not found.ok:
        abort(400)
    sortiment, errors = found.body, {}
    values = {"facet": request.form.get("facet", KLE_EMNEPLAN), "codes": request.form.get("codes", "").strip()}
    if request.method == "POST":
        kept = [c for c in request.form.getlist("keep") if c in {str(x) for x in sortiment["class_ids"]}]
        added, unknown = resolve(values["facet"], values["codes"])
        if unknown:
            errors = {"codes": _unknown_message(unknown), "form": "Sortimentet blev ikke gemt."}
        else:
            result = api_client.call("PUT", path, json={"classes": list(dict.fromkeys(kept + added))})
            if result.ok:
                same = result.body["version"] == sortiment["version"]
                flash("Der var ingen ændring at gemme." if same else
                      f"Sortimentet er gemt som version {result.body['version']}.", "info" if same else "success")
                return redirect(url_for("admin.klassifikation_sortiment", sortiment_id=sortiment_id))
            errors = problem_messages(result, ("codes",), {"classes": "codes"})
    return render_template("admin/klassifikation/sortiment.html", sortiment=sortiment, values=values, errors=errors,
                           system=systems().get(str(sortiment["system_id"]), str(sortiment["system_id"])),
                           facets=facets()), 422 if errors else 200
