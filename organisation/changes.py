"""What changes on one day: the Organisation objects whose facts start or end on it.

"Hvad ændrer sig den 1. marts?" is the question a municipality asks before and
after a reorganisation.  The answer is read from the fact tables directly: a
fact whose valid period starts on the day (a value taking effect) or ends on
it (a value ceasing), as registered at `r`, for the municipality's units,
users, functions and IT systems that are not passive or deleted at `r`.
Persons are left out (their only values, name and CPR number, are personal
data; a user's name change shows on the user).

Each object is answered once, with per field the values that cease and the
values that take effect that day (a value that does both, e.g. a fact split by
a registration, is no change and is left out), and a summary: `created` (its
existence starts), `ended` (it stops) or `changed`.

Cost: one query per object type.  For a day still to come only facts
registered before their boundary can match, and those are exactly the entries
of the partial indexes of migrations/0015 (`*_fact_future_start` / `_end`),
so planning ahead is an index range scan; for a day that has begun, facts
registered on or after it (back-dated ones, bulk loads) are found by scanning
the type's current facts.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from app.bitemporal.periods import day_end, local_midnight
from organisation.hierarchy import INACTIVE
from organisation.reads import UNIT_FIELDS, USER_FIELDS, summaries

# Object type → (kind in the answer, the field whose span is the object's existence, summary fields).
TYPES = {
    "enhed": ("unit", "user_key", UNIT_FIELDS),
    "bruger": ("user", "user_key", USER_FIELDS),
    "funktion": ("function", "function_type", ("user_key", "function_type", "name")),
    "itsystem": ("it_system", "user_key", ("user_key", "name")),
}

# Facts registered before their boundary are exactly the entries of the partial indexes of
# migrations/0015 (the predicates repeat the indexes' WHERE clauses, so the planner uses them); facts
# registered on or after it (back-dated) exist only for a day that has begun, and no index holds them.
_ARMS = """
    SELECT f.uuid, f.field, f.value, lower(f.valid) AS valid_from, upper(f.valid) AS valid_to
      FROM {facts} f
     WHERE upper_inf(f.registration) AND lower(f.registration) < lower(f.valid)
       AND lower(f.valid) >= %(day)s AND lower(f.valid) < %(next)s
    UNION
    SELECT f.uuid, f.field, f.value, lower(f.valid), upper(f.valid)
      FROM {facts} f
     WHERE upper_inf(f.registration) AND lower(f.registration) < upper(f.valid)
       AND upper(f.valid) >= %(day)s AND upper(f.valid) < %(next)s
    UNION
    SELECT f.uuid, f.field, f.value, lower(f.valid), upper(f.valid)
      FROM {facts} f
     WHERE %(begun)s AND upper_inf(f.registration)
       AND ((lower(f.valid) >= %(day)s AND lower(f.valid) < %(next)s AND lower(f.registration) >= lower(f.valid))
            OR (upper(f.valid) >= %(day)s AND upper(f.valid) < %(next)s AND lower(f.registration) >= upper(f.valid)))
"""

_CHANGES = """
    SELECT c.uuid::text AS uuid, c.field, c.value, c.valid_from, c.valid_to FROM ({arms}) c
      JOIN {objects} o ON o.uuid = c.uuid AND o.municipality_code = %(m)s
     WHERE o.lifecycle <> ALL(%(inactive)s)
     ORDER BY c.uuid, c.field, c.valid_from NULLS FIRST
"""

# A function's units and users around the day (valid then, or just before it ended).
_FUNCTION_LINKS = """
    SELECT f.uuid::text AS uuid, f.field, f.value #>> '{}' AS value FROM funktion_fact f
     WHERE f.uuid = ANY(%(ids)s::uuid[]) AND f.field IN ('units', 'users') AND f.registration @> %(r)s
       AND f.valid && tstzrange(%(before)s, %(next)s)
"""


def _statement(object_type: str) -> sql.Composed:
    facts = sql.Identifier(f"{object_type}_fact")
    return sql.SQL(_CHANGES).format(arms=sql.SQL(_ARMS).format(facts=facts), objects=sql.Identifier(object_type))


STATEMENTS = {t: _statement(t) for t in TYPES}


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _fields(rows: list[dict], day: datetime, next_day: datetime) -> dict[str, dict[str, list]]:
    """field → {"ended": [...], "started": [...]} of one object, values in both left out."""
    out: dict[str, dict[str, list]] = {}
    for row in rows:
        entry = out.setdefault(row["field"], {"ended": [], "started": []})
        if row["valid_to"] is not None and day <= row["valid_to"] < next_day:
            entry["ended"].append(row["value"])
        if row["valid_from"] is not None and day <= row["valid_from"] < next_day:
            entry["started"].append(row["value"])
    for name in list(out):
        ended, started = out[name]["ended"], out[name]["started"]
        both = {_key(v) for v in ended} & {_key(v) for v in started}
        out[name] = {"ended": [v for v in ended if _key(v) not in both],
                     "started": [v for v in started if _key(v) not in both]}
        if not out[name]["ended"] and not out[name]["started"]:
            del out[name]
    return out


def changes_on(conn: psycopg.Connection, municipality_code: int, day: date, *,
               limit: int) -> tuple[list[dict[str, Any]], bool]:
    """(objects changing on `day` as registered now, whether more than `limit` were found).

    Each object: kind, uuid, change (created | ended | changed), summary (its user key, name, ... as
    valid that day, else as last valid), fields ({field: {ended, started}}); functions also carry
    `units` and `users` (as summaries, linked around the day).  Users' names are personal data: the
    caller filters them (organisation/personal.py)."""
    start, next_day = local_midnight(day), day_end(day)
    r = conn.execute("SELECT clock_timestamp() AS now").fetchone()["now"]
    params = {"m": municipality_code, "day": start, "next": next_day, "begun": start <= r, "inactive": INACTIVE}
    found: list[dict[str, Any]] = []
    more = False
    for object_type, (kind, existence, summary_fields) in TYPES.items():
        by_object: dict[str, list[dict]] = {}
        for row in conn.execute(STATEMENTS[object_type], params):
            by_object.setdefault(row["uuid"], []).append(row)
        objects = []
        for uuid, rows in by_object.items():
            fields = _fields(rows, start, next_day)
            if not fields:
                continue
            exists = fields.get(existence, {"ended": [], "started": []})
            change = ("created" if exists["started"] and not exists["ended"] else
                      "ended" if exists["ended"] and not exists["started"] else "changed")
            objects.append({"kind": kind, "uuid": uuid, "change": change, "fields": fields})
        if len(found) + len(objects) > limit:
            objects, more = objects[:limit - len(found)], True
        if objects:
            labels = summaries(conn, object_type, [o["uuid"] for o in objects], summary_fields, start, r,
                               latest=True)
            for o in objects:
                o["summary"] = labels[o["uuid"]]
            if object_type == "funktion":
                _link_functions(conn, objects, start, next_day, r)
        found += objects
        if more:
            break
    return found, more


def _link_functions(conn: psycopg.Connection, objects: list[dict], start: datetime, next_day: datetime,
                    r: datetime) -> None:
    """Each function's `units` and `users` around the day, as summaries (latest known values)."""
    links: dict[str, dict[str, list[str]]] = {o["uuid"]: {"units": [], "users": []} for o in objects}
    rows = conn.execute(_FUNCTION_LINKS, {"ids": list(links), "r": r, "before": start - timedelta(seconds=1),
                                          "next": next_day})
    for row in rows:
        values = links[row["uuid"]][row["field"]]
        if row["value"] not in values:
            values.append(row["value"])
    units = summaries(conn, "enhed", (u for x in links.values() for u in x["units"]), UNIT_FIELDS, start, r,
                      latest=True)
    users = summaries(conn, "bruger", (u for x in links.values() for u in x["users"]), USER_FIELDS, start, r,
                      latest=True)
    for o in objects:
        o["units"] = [units[u] for u in sorted(links[o["uuid"]]["units"])]
        o["users"] = [users[u] for u in sorted(links[o["uuid"]]["users"])]
