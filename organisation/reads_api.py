"""Organisation reads across objects, as of any (valid_at, registered_at):

    GET /units?kle=27.*&aspect=          units (all, or those with matching KLE tasks), cursor-paged
    GET /units/{uuid}/ancestors          parent, grandparent, ... up to the root
    GET /units/{uuid}/children           the units directly below
    GET /units/{uuid}/subtree            the unit and everything below it, breadth first
    GET /units/{uuid}/functions          its functions (engagements, managers, ...) with their users
    GET /hierarchy                       the municipality's whole hierarchy, cursor-paged by UUID
    GET /hierarchy/slices?from=&to=      the hierarchy in each period of a window in which nothing changes
    GET /users/{uuid}/engagements        the user's employments, period by period
    GET /users/{uuid}/managers           the nearest manager of each of the user's engagements

The queries are in organisation/reads.py (a fixed number per request).  The
reads that can answer thousands of units or functions answer their rows as
they are, without a schema pass (the schemas document the shape).  Users'
names follow organisation/personal.py.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView

from app.api import problem_doc
from app.bitemporal.periods import Period, local_midnight
from app.bitemporal.store import Gone, NotFound
from app.db import get_conn
from app.errors import Problem, field_error
from app.paging import decode_typed_cursor, encode_cursor
from organisation import hierarchy, reads
from organisation import schemas as s
from organisation.api import READ, blp, scope
from organisation.model import enheder
from organisation.objects_api import as_of, owned
from organisation.personal import Disclosure

MAX_SLICE_CELLS = 200_000  # units x slices in one /hierarchy/slices answer


def _after(args: dict) -> str | None:
    """The UUID a keyset page starts after (the cursor is the last UUID of the previous page)."""
    after = decode_typed_cursor(args.get("cursor"), lambda v: str(uuidlib.UUID(str(v))))
    return after[0] if after else None


def _page(items: list[dict], limit: int) -> dict:
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor([items[-1]["uuid"]]) if more else None}


def _unit(args: dict, unit) -> tuple[str, datetime, datetime]:
    """(unit UUID, v, r) of a unit path parameter: 404 unless the caller's, 410 if deleted at r."""
    m, uuid = scope(args), str(unit)
    owned("enhed", uuid, m, "unit")
    v, r = as_of(args)
    try:
        enheder.read(get_conn(), uuid, valid_at=v, registered_at=r)
    except Gone:
        raise Problem(410, "gone", "The unit is deleted.") from None
    except NotFound:
        raise Problem(404, "not_found", f"No unit {uuid} registered at that time.") from None
    return uuid, v, r


def _summaries(uuids: list[str], v: datetime, r: datetime) -> list[dict]:
    found = reads.summaries(get_conn(), "enhed", uuids, reads.UNIT_FIELDS, v, r)
    return [found[u] for u in uuids if found[u]["user_key"] is not None]


@blp.route("/units", endpoint="unit_list")
class Units(MethodView):
    @READ
    @blp.arguments(s.UnitListArgs, location="query")
    @blp.response(200, s.UnitPageSchema)
    def get(self, args):
        """Units as of `valid_at`, by UUID, cursor-paged; with `kle`, only those with a matching KLE task
        (`27.35` exactly, `27.*` = 27 and below, optionally of one `aspect`), each with those tasks."""
        m, (v, r) = scope(args), as_of(args)
        if args.get("kle"):
            items = reads.units_by_kle(get_conn(), m, args["kle"], args.get("aspect"), v, r, after=_after(args),
                                       limit=args["limit"] + 1)
        elif args.get("aspect"):
            raise Problem(422, "validation_failed", "`aspect` filters the tasks that `kle` selects.",
                          errors=[field_error("query", "aspect", "Needs `kle`.")])
        else:
            items = reads.hierarchy_page(get_conn(), m, v, r, after=_after(args), limit=args["limit"] + 1)
        return _page(items, args["limit"])


def _tree_route(path: str, name: str, doc: str, read: Callable[[Any, str, Any, Any], list[str]]) -> None:
    """GET /units/{uuid}/<path>: the units `read` finds around the unit as of a point, as summaries."""

    def get(self, args, unit_uuid):
        uuid, v, r = _unit(args, unit_uuid)
        return jsonify(_summaries(read(get_conn(), uuid, v, r), v, r))

    get.__doc__ = doc
    get = READ(blp.arguments(s.OrgAsOfArgs, location="query")(blp.response(200, s.UnitSummarySchema(many=True))(
        blp.alt_response(404, **problem_doc("No such unit in this municipality."))(get))))
    blp.route(f"/units/<uuid:unit_uuid>/{path}")(type(name, (MethodView,), {"get": get}))


_tree_route("ancestors", "Ancestors",
            "The unit's parent, grandparent, ... up to the root (nearest first), as of that point.",
            hierarchy.ancestors)
_tree_route("children", "Children", "The units directly below the unit as of that point, by UUID.",
            lambda conn, uuid, v, r: sorted(hierarchy.children(conn, [uuid], v, r)))
_tree_route("subtree", "Subtree",
            "The unit and every unit below it as of that point, breadth first (one query per level).",
            hierarchy.subtree)


@blp.route("/units/<uuid:unit_uuid>/functions")
class UnitFunctions(MethodView):
    @READ
    @blp.arguments(s.UnitFunctionArgs, location="query")
    @blp.response(200, s.UnitFunctionSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such unit in this municipality."))
    def get(self, args, unit_uuid):
        """The functions linked to the unit (engagements, managers, ...; optionally one `type`) as of that
        point, with their users.  `history=true`: every function ever linked, with all its facts.
        Users' names follow the personal-data rule."""
        m, uuid = scope(args), str(unit_uuid)
        owned("enhed", uuid, m, "unit")
        v, r = as_of(args)
        read = reads.unit_function_history if args["history"] else reads.unit_functions
        functions = read(get_conn(), m, uuid, v, r, args.get("type"))
        disclosure = Disclosure("organisation.units.functions")
        for f in functions:
            f["users"] = [disclosure.user(u) for u in f["users"]]
        disclosure.record()
        # Answered as they are (documented by the schema, no schema pass on a hot read); the history's
        # facts arrive from the database as JSON text and are spliced in unparsed.
        if not args["history"]:
            return jsonify(functions)
        items = ",".join(f'{{"uuid":{json.dumps(f["uuid"])},"lifecycle":{json.dumps(f["lifecycle"])},'
                         f'"facts":{f["facts"]},"users":{json.dumps(f["users"])}}}' for f in functions)
        return Response(f"[{items}]", mimetype="application/json")


@blp.route("/hierarchy")
class Hierarchy(MethodView):
    @READ
    @blp.arguments(s.HierarchyArgs, location="query")
    @blp.response(200, s.HierarchyPageSchema)
    def get(self, args):
        """The whole hierarchy of the municipality as of that point: every unit with its parent, by UUID,
        up to 5,000 per page (one query per page)."""
        m, (v, r) = scope(args), as_of(args)
        items = reads.hierarchy_page(get_conn(), m, v, r, after=_after(args), limit=args["limit"] + 1)
        return jsonify(_page(items, args["limit"]))


@blp.route("/hierarchy/slices")
class HierarchySlices(MethodView):
    @READ
    @blp.arguments(s.SliceArgs, location="query")
    @blp.response(200, s.HierarchySliceSchema(many=True))
    @blp.alt_response(422, **problem_doc("The window holds too many changes: narrow it."))
    def get(self, args):
        """The hierarchy over the window [from, to): each period in which no unit changes, with the units
        valid throughout it (periods without units are left out)."""
        m = scope(args)
        r = args.get("registered_at") or as_of({})[1]
        window = Period(local_midnight(args["from_"]), local_midnight(args["to"]))
        found = reads.slices(get_conn(), m, window, r, MAX_SLICE_CELLS)
        if found is None:
            raise Problem(422, "window_too_large", f"More than {MAX_SLICE_CELLS} unit entries; narrow the window.",
                          errors=[field_error("query", "to", "The window holds too many changes.")])
        return jsonify(found)


def _user(args: dict, user) -> tuple[int, str]:
    m, uuid = scope(args), str(user)
    owned("bruger", uuid, m, "user")
    return m, uuid


@blp.route("/users/<uuid:user_uuid>/engagements")
class Engagements(MethodView):
    @READ
    @blp.arguments(s.EngagementArgs, location="query")
    @blp.response(200, s.EngagementSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such user in this municipality."))
    def get(self, args, user_uuid):
        """The user's employments (arbejder_i functions): job title and unit period by period; all of them
        (past, present, future), or with `valid_at` only those valid then."""
        m, uuid = _user(args, user_uuid)
        r = args.get("registered_at") or as_of({})[1]
        return reads.engagements(get_conn(), m, uuid, r, args.get("valid_at"))


@blp.route("/users/<uuid:user_uuid>/managers")
class Managers(MethodView):
    @READ
    @blp.arguments(s.OrgAsOfArgs, location="query")
    @blp.response(200, s.ManagerSchema(many=True))
    @blp.alt_response(404, **problem_doc("No such user in this municipality."))
    def get(self, args, user_uuid):
        """For each engagement of the user at that point: the nearest manager, i.e. the users of the
        `leder` functions of the engagement's unit, else of its nearest ancestor with one (never the
        user themselves).  Managers' names follow the personal-data rule."""
        m, uuid = _user(args, user_uuid)
        found = reads.managers(get_conn(), m, uuid, *as_of(args))
        disclosure = Disclosure("organisation.users.managers")
        for item in found:
            item["managers"] = [disclosure.user(u) for u in item["managers"]]
        disclosure.record()
        return found
