"""The Organisation reads that span objects, as of any (valid, registration) point.

Each read is a fixed, small number of queries whatever the size of the
answer (no query per unit or per function), on the fact tables' indexes:

- the whole hierarchy, keyset-paged by UUID: one query per page
  (`hierarchy_page`), and its validity slices over a window (`slices`);
- a unit's functions with their users: two queries, through the
  `funktion_fact_units` index (`unit_functions`, `unit_function_history`);
- units by KLE task (exact number or `P.*` prefix): two queries per page,
  through `enhed_fact_task_code` (`units_by_kle`);
- a user's engagements (`engagements`) and their nearest managers
  (`managers`), through `funktion_fact_users` / `funktion_fact_units`.

Only objects of the municipality asked for count, and (but for a unit's
function history, which shows every function with its lifecycle) only those
that are not passive or deleted at the registration point.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from app.bitemporal.periods import Period
from app.sql import after_uuid
from organisation.hierarchy import INACTIVE

UNIT_FIELDS = ("user_key", "name", "unit_type", "parent")
USER_FIELDS = ("user_key", "name", "person")

# -- summaries of related objects -------------------------------------------------------------------------------

# Each id is looked up in the index (LATERAL ... OFFSET 0, so that it is not flattened), not matched
# with `= ANY(...)`: a GiST index cannot take an array, so `= ANY` (or a hash join, which the planner
# picks for a thousand ids) scans the whole fact table, about 60 ms for 50,000 users.
_SUMMARIES_AT = """
    SELECT i.uuid::text AS uuid, f.field, f.value #>> '{{}}' AS value
      FROM unnest(%(ids)s::uuid[]) AS i(uuid)
     CROSS JOIN LATERAL (SELECT field, value FROM {fact}
                          WHERE uuid = i.uuid AND registration @> %(r)s AND valid @> %(v)s
                            AND field = ANY(%(fields)s) OFFSET 0) f
"""

# A field not valid at v: its latest value (the one starting last).
_SUMMARIES_LATEST = """
    SELECT DISTINCT ON (i.uuid, f.field) i.uuid::text AS uuid, f.field, f.value #>> '{{}}' AS value
      FROM unnest(%(ids)s::uuid[]) AS i(uuid)
     CROSS JOIN LATERAL (SELECT field, value, valid FROM {fact}
                          WHERE uuid = i.uuid AND registration @> %(r)s AND field = ANY(%(fields)s) OFFSET 0) f
     ORDER BY i.uuid, f.field, f.valid @> %(v)s DESC, lower(f.valid) DESC NULLS FIRST
"""


def summaries(conn: psycopg.Connection, kind: str, ids: Iterable[str], fields: tuple[str, ...], v: datetime,
              r: datetime, *, latest: bool = False) -> dict[str, dict[str, Any]]:
    """uuid → {uuid, fields...} of single-valued text fields at (v, r); with `latest`, a field not valid
    at v takes its last known value (for objects referred to outside their own validity)."""
    ids = sorted(set(ids))
    out = {u: {"uuid": u, **dict.fromkeys(fields)} for u in ids}
    if ids:
        query = sql.SQL(_SUMMARIES_LATEST if latest else _SUMMARIES_AT).format(fact=sql.Identifier(f"{kind}_fact"))
        for row in conn.execute(query, {"ids": ids, "fields": list(fields), "v": v, "r": r}):
            out[row["uuid"]][row["field"]] = row["value"]
    return out


# -- the hierarchy ------------------------------------------------------------------------------------------------

_HIERARCHY_PAGE = """
    SELECT f.uuid::text AS uuid, jsonb_object_agg(f.field, f.value) AS d
      FROM enhed o
      JOIN enhed_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
      JOIN enhed_fact f ON f.uuid = o.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
                       AND f.field IN ('user_key', 'name', 'unit_type', 'parent')
     WHERE o.municipality_code = %(m)s {after}
     GROUP BY f.uuid
    HAVING bool_or(f.field = 'user_key')
     ORDER BY f.uuid
     LIMIT %(limit)s
"""


def hierarchy_page(conn: psycopg.Connection, municipality_code: int, v: datetime, r: datetime, *,
                   after: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` units existing at (v, r) with UUID > `after`: uuid, user_key, name, unit_type, parent."""
    query = _HIERARCHY_PAGE.format(after=after_uuid("o.uuid", after))
    rows = conn.execute(query, {"m": municipality_code, "v": v, "r": r, "inactive": INACTIVE,
                                "after": after, "limit": limit})
    return [{"uuid": row["uuid"], **{k: row["d"].get(k) for k in UNIT_FIELDS}} for row in rows]


_WINDOW = """
    SELECT f.uuid::text AS uuid, f.field, f.value #>> '{}' AS value,
           greatest(lower(f.valid), %(from)s) AS lo, least(upper(f.valid), %(to)s) AS hi
      FROM enhed o
      JOIN enhed_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
      JOIN enhed_fact f ON f.uuid = o.uuid AND f.registration @> %(r)s AND f.valid && %(window)s
                       AND f.field IN ('user_key', 'name', 'unit_type', 'parent')
     WHERE o.municipality_code = %(m)s
"""


def timeline(pieces: Iterable[tuple[Hashable, Any, Period]],
             many: frozenset = frozenset()) -> list[tuple[Period, dict]]:
    """The periods in which nothing changes, each with its state {key: value}.

    `pieces` are (key, value, valid period); keys in `many` collect a list of values.  Adjacent
    periods with the same state are joined; periods with no state are left out."""
    pieces = list(pieces)
    bounds = sorted({b for _k, _v, p in pieces for b in (p.lower, p.upper) if b is not None})
    starts = [None, *bounds]  # period i is [starts[i], starts[i + 1]), the last one open
    states: list[dict] = [{} for _ in starts]
    for key, value, p in pieces:
        first = 0 if p.lower is None else bisect_right(bounds, p.lower)
        last = len(starts) if p.upper is None else bisect_right(bounds, p.upper)
        for i in range(first, last):
            if key in many:
                states[i].setdefault(key, []).append(value)
            else:
                states[i][key] = value
    out: list[tuple[Period, dict]] = []
    for i, state in enumerate(states):
        upper = starts[i + 1] if i + 1 < len(starts) else None
        if out and out[-1][1] == state and out[-1][0].upper == starts[i]:
            out[-1] = (Period(out[-1][0].lower, upper), state)
        elif state:
            out.append((Period(starts[i], upper), state))
    return out


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def slices(conn: psycopg.Connection, municipality_code: int, window: Period, r: datetime,
           max_cells: int) -> list[dict[str, Any]] | None:
    """The hierarchy's validity slices within `window` (one query): each period in which no unit
    changes, with the units valid in it (periods without units are left out; instants as ISO 8601
    text); None when the answer would hold more than `max_cells` unit entries (slices x units)."""
    rows = conn.execute(_WINDOW, {"m": municipality_code, "r": r, "inactive": INACTIVE, "window": window.to_range(),
                                  "from": window.lower, "to": window.upper}).fetchall()
    bounds = sorted({row["lo"] for row in rows} | {row["hi"] for row in rows})
    if (len(bounds) - 1) * len({row["uuid"] for row in rows}) > max_cells:
        return None
    index = {b: i for i, b in enumerate(bounds)}
    states: list[dict[str, dict]] = [{} for _ in bounds[1:]]
    for row in rows:  # each fact fills the slices it covers
        for i in range(index[row["lo"]], index[row["hi"]]):
            states[i].setdefault(row["uuid"], {"uuid": row["uuid"], **dict.fromkeys(UNIT_FIELDS)})[row["field"]] = \
                row["value"]
    out: list[dict[str, Any]] = []
    for i, state in enumerate(states):
        units = [u for _k, u in sorted(state.items()) if u["user_key"] is not None]
        if out and out[-1]["units"] == units and out[-1]["valid_to"] == bounds[i]:
            out[-1]["valid_to"] = bounds[i + 1]
        elif units:
            out.append({"valid_from": bounds[i], "valid_to": bounds[i + 1], "units": units})
    return [{**x, "valid_from": _iso(x["valid_from"]), "valid_to": _iso(x["valid_to"])} for x in out]


# -- a unit's functions -------------------------------------------------------------------------------------------

_LINKED_NOW = """
    WITH linked AS (
        SELECT DISTINCT l.uuid FROM funktion_fact l
          JOIN funktion o ON o.uuid = l.uuid AND o.municipality_code = %(m)s
          JOIN funktion_registration g ON g.uuid = l.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
         WHERE (l.value #>> '{}') = ANY(%(units)s) AND l.field = 'units' AND l.registration @> %(r)s
           AND l.valid @> %(v)s)
"""

# One row per function, assembled in SQL as JSON text (decoding one text per function is far cheaper
# than one jsonb value per fact): the function without its users, and its users' UUIDs.
_UNIT_FUNCTIONS = _LINKED_NOW + """
    SELECT f.uuid::text AS uuid,
           (jsonb_build_object('uuid', f.uuid::text, 'user_key', NULL, 'function_type', NULL, 'name', NULL,
                               'for_unit', NULL)
            || coalesce(jsonb_object_agg(f.field, f.value) FILTER (WHERE f.field IN ('user_key', 'function_type',
                                                                                   'name', 'for_unit')), '{}')
            || jsonb_build_object(
                   'units', coalesce(jsonb_agg(f.value ORDER BY f.key) FILTER (WHERE f.field = 'units'), '[]'),
                   'tasks', coalesce(jsonb_agg(f.value ORDER BY f.key) FILTER (WHERE f.field = 'tasks'), '[]'),
                   'addresses', coalesce(jsonb_agg(f.value ORDER BY f.key) FILTER (WHERE f.field = 'addresses'),
                                         '[]')))::text AS obj,
           coalesce(array_agg(f.value #>> '{}' ORDER BY f.key) FILTER (WHERE f.field = 'users'), '{}') AS users
      FROM linked JOIN funktion_fact f ON f.uuid = linked.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
     GROUP BY f.uuid
    HAVING bool_or(f.field = 'function_type' AND (%(type)s::text IS NULL OR f.value #>> '{}' = %(type)s))
     ORDER BY f.uuid
"""

FUNCTION_SINGLE = ("user_key", "function_type", "name", "for_unit")
FUNCTION_MANY = ("units", "users", "tasks", "addresses")


def _assemble_functions(rows) -> dict[str, dict[str, Any]]:
    """Functions from (uuid, field, value) rows."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        obj = out.setdefault(row["uuid"], {"uuid": row["uuid"], **dict.fromkeys(FUNCTION_SINGLE),
                                           **{k: [] for k in FUNCTION_MANY}})
        if row["field"] in FUNCTION_MANY:
            obj[row["field"]].append(row["value"])
        else:
            obj[row["field"]] = row["value"]
    return out


def unit_functions(conn: psycopg.Connection, municipality_code: int, unit: str, v: datetime, r: datetime,
                   function_type: str | None) -> list[dict[str, Any]]:
    """The functions naming the unit at (v, r), by UUID, each with `users` as summaries (two queries)."""
    rows = conn.execute(_UNIT_FUNCTIONS, {"m": municipality_code, "units": [unit], "v": v, "r": r,
                                          "inactive": INACTIVE, "type": function_type}).fetchall()
    users = summaries(conn, "bruger", (u for row in rows for u in row["users"]), USER_FIELDS, v, r, latest=True)
    return [{**json.loads(row["obj"]), "users": [users[u] for u in row["users"]]} for row in rows]


# Every fact of every function that ever named the unit, as JSON text built by the database (the
# answer can be thousands of facts: parsing ranges and timestamps in Python would cost more than
# the query).
_UNIT_FUNCTION_HISTORY = """
    SELECT o.uuid::text AS uuid, o.lifecycle,
           json_agg(json_build_object('field', f.field, 'value', f.value,
                                      'valid_from', lower(f.valid), 'valid_to', upper(f.valid),
                                      'registered_from', lower(f.registration),
                                      'registered_to', upper(f.registration), 'omitted', false)
                    ORDER BY f.field, f.key, lower(f.registration), lower(f.valid) NULLS FIRST)::text AS facts,
           coalesce(array_agg(DISTINCT f.value #>> '{}') FILTER (WHERE f.field = 'users'), '{}') AS users
      FROM funktion o JOIN funktion_fact f ON f.uuid = o.uuid
     WHERE o.municipality_code = %(m)s
       AND o.uuid IN (SELECT l.uuid FROM funktion_fact l WHERE (l.value #>> '{}') = %(unit)s AND l.field = 'units')
     GROUP BY o.uuid, o.lifecycle
    HAVING %(type)s::text IS NULL OR bool_or(f.field = 'function_type' AND f.value #>> '{}' = %(type)s)
     ORDER BY o.uuid
"""


def unit_function_history(conn: psycopg.Connection, municipality_code: int, unit: str, v: datetime, r: datetime,
                          function_type: str | None) -> list[dict[str, Any]]:
    """Every function that ever named the unit (any valid or registration time), by UUID, with all its
    facts (`facts`: a JSON array as text, to be answered as it is) and the users it ever named, as
    valid at v or else as last known (two queries)."""
    rows = conn.execute(_UNIT_FUNCTION_HISTORY, {"m": municipality_code, "unit": unit,
                                                 "type": function_type}).fetchall()
    users = summaries(conn, "bruger", (u for row in rows for u in row["users"]), USER_FIELDS, v, r, latest=True)
    return [{"uuid": row["uuid"], "lifecycle": row["lifecycle"], "facts": row["facts"],
             "users": [users[u] for u in sorted(row["users"])]} for row in rows]


# -- units by KLE task ---------------------------------------------------------------------------------------------

_BY_KLE = """
    SELECT t.uuid::text AS uuid, jsonb_agg(t.value ORDER BY t.key) AS tasks
      FROM enhed_fact t
      JOIN enhed o ON o.uuid = t.uuid AND o.municipality_code = %(m)s
      JOIN enhed_registration g ON g.uuid = t.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
     WHERE t.field = 'tasks' AND t.registration @> %(r)s AND t.valid @> %(v)s
       AND (%(any)s OR (t.value ->> 'code') = %(exact)s OR (t.value ->> 'code') LIKE %(prefix)s)
       AND (%(aspect)s::text IS NULL OR t.value ->> 'aspect' = %(aspect)s)
       {after}
       AND EXISTS (SELECT 1 FROM enhed_fact e WHERE e.uuid = t.uuid AND e.field = 'user_key'
                      AND e.registration @> %(r)s AND e.valid @> %(v)s)
     GROUP BY t.uuid
     ORDER BY t.uuid
     LIMIT %(limit)s
"""


def units_by_kle(conn: psycopg.Connection, municipality_code: int, pattern: str, aspect: str | None, v: datetime,
                 r: datetime, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Units with a task matching `pattern` at (v, r) (`27.35` exactly; `27.*` = 27 and below; `*` = any),
    by UUID, each with its matching tasks."""
    exact = pattern[:-2] if pattern.endswith(".*") else pattern
    prefix = exact + ".%" if pattern.endswith(".*") else None
    rows = conn.execute(_BY_KLE.format(after=after_uuid("t.uuid", after)), {
        "m": municipality_code, "v": v, "r": r, "inactive": INACTIVE, "any": pattern == "*", "exact": exact,
        "prefix": prefix, "aspect": aspect, "after": after, "limit": limit}).fetchall()
    units = summaries(conn, "enhed", [row["uuid"] for row in rows], UNIT_FIELDS, v, r)
    return [{**units[row["uuid"]], "tasks": row["tasks"]} for row in rows]


# -- a user's engagements and managers -----------------------------------------------------------------------------

_USER_FUNCTIONS = """
    SELECT f.uuid::text AS uuid, f.field, f.value, f.valid
      FROM funktion o
      JOIN funktion_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
      JOIN funktion_fact f ON f.uuid = o.uuid AND f.registration @> %(r)s
                          AND f.field IN ('user_key', 'function_type', 'name', 'units', 'users')
     WHERE o.municipality_code = %(m)s
       AND o.uuid IN (SELECT l.uuid FROM funktion_fact l WHERE (l.value #>> '{}') = %(user)s AND l.field = 'users'
                         AND l.registration @> %(r)s)
"""


def engagements(conn: psycopg.Connection, municipality_code: int, user: str, r: datetime,
                v: datetime | None) -> list[dict[str, Any]]:
    """The user's employments (arbejder_i functions naming the user), each with its periods (job
    title and unit, period by period); with `v`, only those valid at v (two queries, plus the clock)."""
    rows = conn.execute(_USER_FUNCTIONS, {"m": municipality_code, "user": user, "r": r,
                                          "inactive": INACTIVE}).fetchall()
    by_function: dict[str, list] = {}
    for row in rows:
        by_function.setdefault(row["uuid"], []).append((row["field"], row["value"], Period.from_range(row["valid"])))
    found = []
    for uuid, pieces in sorted(by_function.items()):
        periods = [(p, s) for p, s in timeline(pieces, many=frozenset({"units", "users"}))
                   if s.get("function_type") == "arbejder_i" and user in s.get("users", [])]
        if periods and (v is None or any(p.contains(v) for p, _s in periods)):
            keys = [s.get("user_key") for _p, s in periods]
            found.append({"uuid": uuid, "user_key": keys[-1], "periods": [
                {"valid_from": p.lower, "valid_to": p.upper, "name": s.get("name"),
                 "unit": (s.get("units") or [None])[0]} for p, s in periods]})
    at = v or conn.execute("SELECT clock_timestamp() AS now").fetchone()["now"]
    units = summaries(conn, "enhed", (p["unit"] for e in found for p in e["periods"] if p["unit"]), UNIT_FIELDS,
                      at, r, latest=True)
    for e in found:
        for p in e["periods"]:
            p["unit"] = units.get(p["unit"]) if p["unit"] else None
    return found


_PATHS = """
    WITH RECURSIVE up(start, node, depth) AS (
        SELECT s, s, 0 FROM unnest(%(units)s::text[]) s
        UNION ALL
        SELECT up.start, f.value #>> '{}', up.depth + 1
          FROM up JOIN enhed_fact f ON f.uuid = up.node::uuid AND f.field = 'parent'
                                   AND f.registration @> %(r)s AND f.valid @> %(v)s
         WHERE up.depth < 1000
    )
    SELECT start, node, depth FROM up ORDER BY start, depth
"""

_MANAGERS = _LINKED_NOW + """
    SELECT f.uuid::text AS uuid, f.field, f.value
      FROM linked JOIN funktion_fact f ON f.uuid = linked.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
                                      AND f.field IN ('function_type', 'units', 'users')
"""


def managers(conn: psycopg.Connection, municipality_code: int, user: str, v: datetime,
             r: datetime) -> list[dict[str, Any]]:
    """For each of the user's engagements at (v, r): its unit and the nearest manager, i.e. the users of
    the `leder` functions of the unit, else of its nearest ancestor that has one (the user never
    manages themselves: a manager who is the user is skipped, as in "my manager")."""
    found = [(e["uuid"], p["unit"]["uuid"]) for e in engagements(conn, municipality_code, user, r, v)
             for p in e["periods"]
             if p["unit"] and (p["valid_from"] is None or p["valid_from"] <= v)
             and (p["valid_to"] is None or v < p["valid_to"])]
    if not found:
        return []
    paths: dict[str, list[str]] = {}
    for row in conn.execute(_PATHS, {"units": sorted({u for _e, u in found}), "v": v, "r": r}):
        paths.setdefault(row["start"], []).append(row["node"])
    nodes = sorted({n for path in paths.values() for n in path})
    leaders: dict[str, set[str]] = {}
    for f in _assemble_functions(conn.execute(_MANAGERS, {"m": municipality_code, "units": nodes, "v": v, "r": r,
                                                          "inactive": INACTIVE})).values():
        if f["function_type"] == "leder":
            for unit in f["units"]:
                leaders.setdefault(unit, set()).update(u for u in f["users"] if u != user)
    out = []
    for engagement, unit in found:
        nearest = next((n for n in paths.get(unit, [unit]) if leaders.get(n)), None)
        out.append({"engagement": engagement, "unit": unit, "manager_unit": nearest,
                    "managers": sorted(leaders[nearest]) if nearest else []})
    units = summaries(conn, "enhed", [x for o in out for x in (o["unit"], o["manager_unit"]) if x], UNIT_FIELDS,
                      v, r, latest=True)
    users = summaries(conn, "bruger", [m for o in out for m in o["managers"]], USER_FIELDS, v, r, latest=True)
    return [{**o, "unit": units[o["unit"]], "manager_unit": units.get(o["manager_unit"]),
             "managers": [users[m] for m in o["managers"]]} for o in out]
