"""GET /api/v1/organisation/search: units and users in Elasticsearch (organisation/search.py).

Who sees what:

- one municipality per search: a system's or municipality admin's own;
  a platform operator names it with `municipality`;
- a system sees only the units, and the users employed in the units, that
  its agreement's `org_units` constraint allows, and when it acts for a user
  also what one of the user's privileges allows (both must hold; a user
  with no privileges in the system sees nothing).  Only the
  `org_units` dimension applies here: KLE, sensitivity and IT-system
  constraints select cases, not the organisation registry;
- person names only for callers who may see names (organisation/personal.py:
  agreement `see_name`, and the user's too when acting for one); the names
  returned are written to the access log.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.errors import Problem, field_error
from app.identifiers import MUNICIPALITY_CODE
from app.paging import PageArgs, PageSchema
from app.search import get_search
from authz.constraints import es_filter
from authz.policy import Principal, current
from authz.privileges import constraint_sets
from authz.schemas import KLE_PATTERN
from organisation.api import READ, blp, scope
from organisation.personal import Disclosure
from organisation.search_query import UNIT_FIELD, search_organisation


class OrganisationSearchArgs(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Free text: name (æ/ø/å fold to ae/oe/aa), user key (prefix), "
                                               "address; for units also a KLE code."})
    kind = fields.String(load_default="unit", validate=validate.OneOf(["unit", "user"]),
                         metadata={"description": "What to search: units (default) or users."})
    unit_type = fields.String(validate=validate.Regexp(r"^[a-z_]{1,40}$"),
                              metadata={"description": "Units of this type (an enhedstype code, e.g. afdeling)."})
    kle = fields.String(validate=validate.Regexp(KLE_PATTERN, error="Must be a KLE code or prefix, e.g. 27.35."),
                        metadata={"description": "Units with a task under this KLE code (27.35 or 27.35.* finds "
                                                 "27.35 and 27.35.04)."})
    under = fields.UUID(metadata={"description": "Only this unit and its subtree (units), or users employed "
                                                 "there (users)."})
    valid_on = fields.Date(metadata={"description": "Only objects that exist on this date (default: today)."})
    municipality = fields.Integer(validate=MUNICIPALITY_CODE,
                                  metadata={"description": "The municipality code; required for platform "
                                                           "operators, otherwise the caller's own."})


class OrganisationHitSchema(Schema):
    uuid = fields.String()
    user_key = fields.String(allow_none=True)
    name = fields.String(allow_none=True, metadata={"description": "Users: null unless the caller may see names."})
    person = fields.String(allow_none=True, metadata={"description": "Users only: the person's UUID."})
    omitted = fields.List(fields.String(), metadata={"description": "Users only: what the caller may not see "
                                                                    "([\"name\"] or [])."})
    unit_type = fields.String(allow_none=True, metadata={"description": "Units only."})
    parent = fields.String(allow_none=True, metadata={"description": "Units only."})


class OrganisationSearchPageSchema(PageSchema):
    items = fields.List(fields.Nested(OrganisationHitSchema))


def _org_units_only(constraints: dict[str, Any]) -> dict[str, Any]:
    return {"org_units": constraints["org_units"]} if constraints.get("org_units") is not None else {}


def constraint_filters(principal: Principal, kind: str) -> list[dict[str, Any]]:
    """The org-unit constraints of the caller as Elasticsearch filters (all must hold)."""
    if not principal.is_system:
        return []
    sets = [[_org_units_only(principal.constraints or {})]]
    if principal.user_uuid is not None:  # acting for a user: any of the user's privileges, too
        sets.append([_org_units_only(c) for c in constraint_sets(principal.privileges or [])])
    out = [es_filter(s, kle="kle", unit=UNIT_FIELD[kind], unit_path="unit_path", sensitivity="sensitivity")
           for s in sets]
    return [f for f in out if f != {"match_all": {}}]


def _check_kind_args(args: dict[str, Any]) -> None:
    if args["kind"] == "user":
        for name in ("unit_type", "kle"):
            if args.get(name):
                raise Problem(422, "validation_failed", f"`{name}` filters units; it cannot be used with kind=user.",
                              errors=[field_error("query", name, "Only with kind=unit.")])


@blp.route("/search")
class OrganisationSearch(MethodView):
    @READ
    @blp.arguments(OrganisationSearchArgs, location="query")
    @blp.response(200, OrganisationSearchPageSchema)
    @blp.alt_response(403, **problem_doc("Another municipality than the caller's."))
    def get(self, args):
        """Search units or users of one municipality (Elasticsearch; cursor paging).

        Limited to the caller's municipality and, for systems, to the units
        their `org_units` constraint allows (users: employed there).  Person
        names are returned only to callers who may see names, and are
        access-logged; for other callers the text matches user keys only.
        """
        _check_kind_args(args)
        principal = current()
        municipality = scope(args)
        disclosure = Disclosure("organisation.search")
        page = search_organisation(get_search(), {**args, "municipality": municipality},
                                   see_names=disclosure.vis.name, filters=constraint_filters(principal, args["kind"]))
        if args["kind"] == "user":
            page["items"] = [disclosure.user(item) for item in page["items"]]
        disclosure.record()  # the names shown, in the access log (last: it joins the request's transaction)
        return jsonify(page)
