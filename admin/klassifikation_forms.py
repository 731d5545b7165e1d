"""The municipality's local classifications, facets and classes: list, create, edit.

National classes (KLE, the shared type lists) are maintained centrally (the KLE import); a
municipality keeps its own local classes, either in a local classification of its own or
alongside the national classes of a facet.  Each form is one API call, as the logged-in
municipality admin (the API makes what an admin creates local to their municipality; an
operator's writes would be national, so these pages are the municipality admins'):

- /admin/klassifikation/lokale                     GET /klassifikationer (own), their /facets and classes
- /admin/klassifikation/lokale/ny                  POST /klassifikationer
- /admin/klassifikation/lokale/<uuid>/facetter/ny  POST /klassifikationer/{uuid}/facets
- /admin/klassifikation/classes/new?facet=         POST /facets/{facet}/classes (parent given by its code)
- /admin/klassifikation/classes/<uuid>/edit        PATCH /classes/{uuid} with If-Match: title and
                                                   description from a date on, search words

Refusals are shown next to the fields they name (admin/forms.py).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from admin import api_client
from admin.blueprint import bp, danish_date
from admin.forms import parse_date, problem_messages
from admin.klassifikation import classifications
from app.bitemporal.periods import copenhagen_today
from authz.policy import PlatformRole, admin_page, current

local_page = admin_page(PlatformRole.MUNICIPALITY_ADMIN)
K = "/klassifikation"
STALE = ("Klassen er blevet ændret af en anden, siden du åbnede formularen. Åbn den igen, og gentag din "
         "ændring.")


def words(text: str) -> list[str]:
    """Search words, one a line (blank lines dropped, duplicates once)."""
    return list(dict.fromkeys(w.strip() for w in text.splitlines() if w.strip()))


def local_classifications() -> list[dict]:
    return [k for k in classifications() if k["municipality_code"] == current().municipality_code]


@bp.route("/klassifikation/lokale")
@local_page
def klassifikation_local():
    """The municipality's local classifications with their facets and classes."""
    own = local_classifications()
    for k in own:
        for facet in k["facets"]:
            facet["classes"], _refused = api_client.get_all(f"{K}/facets/{facet['uuid']}/classes", limit=500)
    return render_template("admin/klassifikation/local.html", classifications=own)


def _object_form(title: str, intro: str, action: str, path: str, done: str, context: dict):
    fields = ("user_key", "title", "description")
    if request.method == "GET":
        return render_template("admin/klassifikation/object_new.html", title=title, intro=intro, action=action,
                               values={}, errors={}, **context)
    values = {k: request.form.get(k, "").strip() for k in fields}
    body = {k: v for k, v in values.items() if v or k != "description"}
    result = api_client.call("POST", path, json=body)
    if result.ok:
        flash(done.format(**values), "success")
        return redirect(url_for("admin.klassifikation_local"))
    return render_template("admin/klassifikation/object_new.html", title=title, intro=intro, action=action,
                           values=values, errors=problem_messages(result, fields), **context), 422


@bp.route("/klassifikation/lokale/ny", methods=["GET", "POST"])
@local_page
def klassifikation_local_new():
    """Create a local classification (its facets and classes follow)."""
    return _object_form("Opret lokal klassifikation", "En klassifikation samler kommunens egne facetter og klasser.",
                        url_for("admin.klassifikation_local_new"), f"{K}/klassifikationer",
                        "Klassifikationen {title} er oprettet. Tilføj nu en facet.", {})


@bp.route("/klassifikation/lokale/<uuid:klassifikation>/facetter/ny", methods=["GET", "POST"])
@local_page
def klassifikation_facet_new(klassifikation):
    """Add a facet to one of the municipality's local classifications."""
    parent = next((k for k in local_classifications() if k["uuid"] == str(klassifikation)), None)
    if parent is None:
        return redirect(url_for("admin.klassifikation_local"))
    return _object_form(f"Tilføj facet til {parent['title'] or parent['user_key']}",
                        "En facet er én dimension af klassifikationen, fx en typeliste.",
                        url_for("admin.klassifikation_facet_new", klassifikation=klassifikation),
                        f"{K}/klassifikationer/{klassifikation}/facets", "Facetten {title} er oprettet.",
                        {"parent": parent})


def facet_options() -> list[tuple[str, str]]:
    """(uuid, label) of the facets a local class may be made in: the municipality's own first, then national."""
    own, national = [], []
    for k in classifications():
        for f in k["facets"]:
            label = f"{f['title'] or f['user_key']} ({k['title'] or k['user_key']})"
            if k["municipality_code"] == current().municipality_code:
                own.append((f["uuid"], label))
            elif k["municipality_code"] is None:
                national.append((f["uuid"], f"{label}, national"))
    return own + national


def _parent_of(facet: str, code: str) -> tuple[str | None, str | None]:
    """(the UUID of the class with `code` in the facet, or None) and a message when there is none."""
    if not code:
        return None, None
    found = api_client.get(f"{K}/facets/{facet}/classes/{code}")
    if found.ok:
        return found.body["uuid"], None
    return None, f"Facetten har ingen klasse med koden {code} i dag."


NEW_FIELDS = ("facet", "user_key", "title", "description", "parent_code", "valid_from", "valid_to", "search_words")


@bp.route("/klassifikation/classes/new", methods=["GET", "POST"])
@local_page
def klassifikation_class_new():
    """Create a local class in a facet, valid from a date (a later date plans it)."""
    options = facet_options()
    if request.method == "GET":
        values = {"facet": request.args.get("facet", ""), "valid_from": copenhagen_today().isoformat()}
        return render_template("admin/klassifikation/class_new.html", values=values, errors={}, facets=options)
    values = {k: request.form.get(k, "").strip() for k in NEW_FIELDS}
    errors: dict[str, str] = {}
    if values["facet"] not in {uuid for uuid, _label in options}:
        errors["facet"] = "Vælg en facet."
    parent, problem = _parent_of(values["facet"], values["parent_code"]) if not errors else (None, None)
    if problem:
        errors["parent_code"] = problem
    if not errors:
        body = {"user_key": values["user_key"], "title": values["title"], "parent": parent,
                "search_words": words(values["search_words"]), "valid_from": values["valid_from"] or None,
                "valid_to": values["valid_to"] or None}
        if values["description"]:
            body["description"] = values["description"]
        result = api_client.call("POST", f"{K}/facets/{values['facet']}/classes", json=body)
        if result.ok:
            flash(f"Klassen {values['user_key']} {values['title']} er oprettet.", "success")
            return redirect(url_for("admin.klassifikation_class", class_id=result.body["uuid"]))
        errors = problem_messages(result, NEW_FIELDS, {"parent": "parent_code"})
    errors.setdefault("form", "Klassen blev ikke oprettet. Ret de markerede felter.")
    return render_template("admin/klassifikation/class_new.html", values=values, errors=errors, facets=options), 422


EDIT_FIELDS = ("title", "description", "search_words")


def _editable(class_id) -> tuple[dict, dict] | None:
    """(the class now, its editable values as the form shows them), or None if it is not valid today."""
    found = api_client.get(f"{K}/classes/{class_id}")
    if not found.ok or not found.body.get("user_key"):
        return None
    values = {"title": found.body.get("title") or "", "description": found.body.get("description") or "",
              "search_words": "\n".join(found.body.get("search_words") or [])}
    return {**found.body, "etag": found.headers.get("ETag", "")}, values


@bp.route("/klassifikation/classes/<uuid:class_id>/edit", methods=["GET", "POST"])
@local_page
def klassifikation_class_edit(class_id):
    """Change a local class's title and description from a date on (a later date plans it), and its search words.

    The form carries the ETag of the class it showed; the values it changed are those that differ from
    the class now, and If-Match refuses the change if the class was changed meanwhile."""
    found = _editable(class_id)
    if found is None:
        return redirect(url_for("admin.klassifikation_class", class_id=class_id))
    klass, original = found
    if request.method == "GET":
        return render_template("admin/klassifikation/class_edit.html", klass=klass, etag=klass["etag"], errors={},
                               values={**original, "valid_from": copenhagen_today().isoformat()})
    values = {k: request.form.get(k, "").strip() for k in (*EDIT_FIELDS, "valid_from")}
    etag = request.form.get("etag", "")
    changes = [{"field": k, "value": values[k] or None, "valid_from": values["valid_from"] or None}
               for k in ("title", "description") if values[k] != original[k]]
    body: dict = {"changes": changes}
    if words(values["search_words"]) != words(original["search_words"]):
        body["search_words"] = words(values["search_words"])
    again = {"klass": klass, "values": values, "etag": etag}
    if not values["title"]:
        return render_template("admin/klassifikation/class_edit.html", **again,
                               errors={"title": "Skal udfyldes.", "form": "Ændringen blev ikke gemt."}), 422
    if not changes and "search_words" not in body:
        return render_template("admin/klassifikation/class_edit.html", **again,
                               errors={"form": "Du har ikke ændret noget."}), 422
    result = api_client.call("PATCH", f"{K}/classes/{class_id}", json=body,
                             headers={"If-Match": etag} if etag else None)
    if result.ok:
        day = parse_date(values["valid_from"])
        when = "træder i kraft" if day and day > copenhagen_today() else "gælder fra"
        flash(f"Ændringen er gemt og {when} {danish_date(day)}." if changes and day else "Ændringen er gemt.",
              "success")
        return redirect(url_for("admin.klassifikation_class", class_id=class_id))
    errors = problem_messages(result, (*EDIT_FIELDS, "valid_from"), {"changes.0.valid_from": "valid_from"})
    if result.code == "precondition_failed":
        errors["form"] = STALE
    return render_template("admin/klassifikation/class_edit.html", **again, errors=errors), 422
