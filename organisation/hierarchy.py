"""The unit hierarchy: its rules at every point in valid time, and reads of it.

Rules, checked inside the writing transaction after a unit's facts change
(current registration, all of valid time):

- a parent is a unit of the same municipality that exists (has a `user_key`
  fact) throughout the period it is named as parent, and is not passive or
  deleted; likewise no unit may stop existing, be passivated or deleted while
  another unit names it as parent;
- no cycles: walking up from a unit through parent facts, intersecting the
  periods on the way, never comes back to it in a non-empty period;
- one root: at any instant at most one unit of a municipality exists without
  a parent.  Only checked when the written unit has such "rootless" time,
  which in practice is only the root itself.

Reads take a valid instant `v` and a registration instant `r` and use the
same fact tables and indexes for "now" and any past point.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import psycopg

from app.bitemporal.periods import COPENHAGEN, Period

INACTIVE = ["Slettet", "Passiveret"]


class HierarchyError(Exception):
    """A write that would break the hierarchy; `code`, the field and a Danish-date-free detail."""

    def __init__(self, code: str, field: str, detail: str, period: Period | None = None):
        super().__init__(detail)
        self.code, self.field, self.detail, self.period = code, field, detail, period


_EXISTENCE = """(SELECT coalesce(range_agg(e.valid), '{}') FROM enhed_fact e
                  WHERE e.uuid = %s AND e.field = 'user_key' AND upper_inf(e.registration))"""

_BAD_PARENTS = """
    SELECT f.value #>> '{}' AS parent, f.valid, p.uuid IS NULL AS missing,
           p.municipality_code IS DISTINCT FROM %(m)s AS foreign, p.lifecycle
      FROM enhed_fact f
      LEFT JOIN enhed p ON p.uuid::text = f.value #>> '{}'
     WHERE f.uuid = %(u)s::uuid AND f.field = 'parent' AND upper_inf(f.registration)
       AND (p.uuid IS NULL OR p.municipality_code IS DISTINCT FROM %(m)s OR p.lifecycle = ANY(%(inactive)s)
            OR NOT tstzmultirange(f.valid) <@ (SELECT coalesce(range_agg(e.valid), '{}') FROM enhed_fact e
                                               WHERE e.uuid = p.uuid AND e.field = 'user_key'
                                                 AND upper_inf(e.registration)))
     LIMIT 1
"""

_ORPHANED_CHILDREN = """
    SELECT c.uuid::text AS child, c.valid
      FROM enhed_fact c JOIN enhed co ON co.uuid = c.uuid
     WHERE (c.value #>> '{}') = %(u)s::uuid::text AND c.field = 'parent' AND upper_inf(c.registration)
       AND co.lifecycle <> ALL(%(inactive)s)
       AND (%(gone)s OR NOT tstzmultirange(c.valid) <@ (SELECT coalesce(range_agg(e.valid), '{}') FROM enhed_fact e
                                                      WHERE e.uuid = %(u)s::uuid AND e.field = 'user_key'
                                                        AND upper_inf(e.registration)))
     LIMIT 1
"""

_CYCLE = """
    WITH RECURSIVE up(node, period, depth) AS (
        SELECT f.value #>> '{}', f.valid, 1
          FROM enhed_fact f WHERE f.uuid = %(u)s::uuid AND f.field = 'parent' AND upper_inf(f.registration)
        UNION ALL
        SELECT g.value #>> '{}', up.period * g.valid, up.depth + 1
          FROM up JOIN enhed_fact g ON g.uuid = up.node::uuid AND g.field = 'parent'
                                   AND upper_inf(g.registration) AND g.valid && up.period
         WHERE up.node <> %(u)s::uuid::text AND up.depth < 10000
    )
    SELECT period FROM up WHERE node = %(u)s::uuid::text AND NOT isempty(period) LIMIT 1
"""

_SELF_PARENT = """
    SELECT valid AS period FROM enhed_fact
     WHERE uuid = %(u)s::uuid AND field = 'parent' AND upper_inf(registration) AND value #>> '{}' = %(u)s::uuid::text
     LIMIT 1
"""

_ROOTLESS = """
    SELECT ex - pa AS rootless FROM (
        SELECT coalesce(range_agg(valid) FILTER (WHERE field = 'user_key'), '{}') AS ex,
               coalesce(range_agg(valid) FILTER (WHERE field = 'parent'), '{}') AS pa
          FROM enhed_fact WHERE uuid = %(u)s::uuid AND field IN ('user_key', 'parent') AND upper_inf(registration)) x
"""

_OTHER_ROOTS = """
    SELECT o.uuid::text AS root, r.rootless * %(mine)s::tstzmultirange AS overlap
      FROM enhed o
      CROSS JOIN LATERAL (
        SELECT coalesce(range_agg(valid) FILTER (WHERE field = 'user_key'), '{}')
               - coalesce(range_agg(valid) FILTER (WHERE field = 'parent'), '{}') AS rootless
          FROM enhed_fact WHERE uuid = o.uuid AND field IN ('user_key', 'parent') AND upper_inf(registration)) r
     WHERE o.municipality_code = %(m)s AND o.uuid <> %(u)s::uuid AND o.lifecycle <> ALL(%(inactive)s)
       AND r.rootless && %(mine)s::tstzmultirange
     LIMIT 1
"""


def describe(period: Period) -> str:
    """A period as people read it: Copenhagen dates when the bounds are local midnights, `[from, to)`."""
    def one(t: datetime | None, open_text: str) -> str:
        if t is None:
            return open_text
        local = t.astimezone(COPENHAGEN)
        return local.date().isoformat() if local.time() == time(0) else local.isoformat()
    return f"[{one(period.lower, 'the beginning')}, {one(period.upper, 'no end')})"


def _first(multirange) -> Period:
    ranges = list(multirange)
    return Period.from_range(ranges[0]) if ranges else Period()


def check_unit(conn: psycopg.Connection, unit: str, municipality_code: int | None, *,
               new: bool = False) -> None:
    """Raise HierarchyError if the unit's current facts break a rule at any point in valid time.

    `new`: the unit was created in this statement, so nothing can name it as parent yet: no
    orphans to look for, and the only possible cycle is a unit that is its own parent."""
    if new:
        gone = False
    else:
        row = conn.execute("SELECT lifecycle FROM enhed WHERE uuid = %(u)s::uuid", {"u": unit}).fetchone()
        gone = row is None or row["lifecycle"] in INACTIVE
    params = {"u": unit, "m": municipality_code, "inactive": INACTIVE, "gone": gone}
    # A cycle first: a unit named as its own ancestor would otherwise be reported as its own child.
    cycle = None if gone else conn.execute(_SELF_PARENT if new else _CYCLE, params).fetchone()
    if cycle is not None:
        period = Period.from_range(cycle["period"])
        raise HierarchyError("hierarchy_cycle", "parent",
                             f"The parent would make the unit its own ancestor during {describe(period)}.", period)
    orphan = None if new else conn.execute(_ORPHANED_CHILDREN, params).fetchone()
    if orphan is not None:
        raise HierarchyError("unit_has_children", "parent",
                             f"Unit {orphan['child']} names this unit as its parent during "
                             f"{describe(Period.from_range(orphan['valid']))}; move it first.",
                             Period.from_range(orphan["valid"]))
    if gone:
        return
    bad = conn.execute(_BAD_PARENTS, params).fetchone()
    if bad is not None:
        period = Period.from_range(bad["valid"])
        if bad["missing"] or bad["foreign"]:
            detail = f"The parent unit {bad['parent']} does not exist in this municipality."
        elif bad["lifecycle"] in INACTIVE:
            detail = f"The parent unit {bad['parent']} is {bad['lifecycle'].lower()}."
        else:
            detail = f"The parent unit {bad['parent']} does not exist throughout {describe(period)}."
        raise HierarchyError("invalid_parent", "parent", detail, period)
    mine = conn.execute(_ROOTLESS, params).fetchone()["rootless"]
    if mine is not None and list(mine):
        other = conn.execute(_OTHER_ROOTS, {**params, "mine": mine}).fetchone()
        if other is not None:
            period = _first(other["overlap"])
            raise HierarchyError("second_root", "parent",
                                 f"Unit {other['root']} is already the root during {describe(period)}; "
                                 "a unit without a parent would be a second root.", period)


# -- reads ------------------------------------------------------------------------------------------------

_UNITS_AT = """
    SELECT f.uuid::text AS uuid, f.field, f.value
      FROM enhed o
      JOIN enhed_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
      JOIN enhed_fact f ON f.uuid = o.uuid AND f.registration @> %(r)s AND f.valid @> %(v)s
                       AND f.field IN ('user_key', 'name', 'unit_type', 'parent')
     WHERE o.municipality_code = %(m)s
"""


def units_at(conn: psycopg.Connection, municipality_code: int, v: datetime, r: datetime) -> dict[str, dict]:
    """Every unit of a municipality that exists at (v, r): uuid → {user_key, name, unit_type, parent}."""
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(_UNITS_AT, {"m": municipality_code, "v": v, "r": r, "inactive": INACTIVE}):
        out.setdefault(row["uuid"], {"uuid": row["uuid"], "user_key": None, "name": None, "unit_type": None,
                                     "parent": None})[row["field"]] = row["value"]
    return {u: x for u, x in out.items() if x["user_key"] is not None}


_ANCESTORS = """
    WITH RECURSIVE up(node, depth) AS (
        SELECT %(u)s::uuid::text, 0
        UNION ALL
        SELECT f.value #>> '{}', up.depth + 1
          FROM up JOIN enhed_fact f ON f.uuid = up.node::uuid AND f.field = 'parent'
                                   AND f.registration @> %(r)s AND f.valid @> %(v)s
         WHERE up.depth < 10000
    )
    SELECT node FROM up WHERE depth > 0 ORDER BY depth
"""

_CHILDREN = """
    SELECT f.uuid::text AS uuid FROM enhed_fact f
      JOIN enhed_registration g ON g.uuid = f.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
     WHERE (f.value #>> '{}') = ANY(%(parents)s) AND f.field = 'parent'
       AND f.registration @> %(r)s AND f.valid @> %(v)s
"""


def ancestors(conn: psycopg.Connection, unit: str, v: datetime, r: datetime) -> list[str]:
    """The unit's parent, grandparent, ... up to the root, at (v, r)."""
    return [x["node"] for x in conn.execute(_ANCESTORS, {"u": unit, "v": v, "r": r})]


def unit_path(conn: psycopg.Connection, unit: str, v: datetime, r: datetime) -> list[str]:
    """Root ... unit: the path the org-unit constraints match against (authz/constraints.py)."""
    return [*reversed(ancestors(conn, unit, v, r)), unit]


def children(conn: psycopg.Connection, units: list[str], v: datetime, r: datetime) -> list[str]:
    return [x["uuid"] for x in conn.execute(_CHILDREN, {"parents": units, "v": v, "r": r,
                                                        "inactive": INACTIVE})]


def subtree(conn: psycopg.Connection, unit: str, v: datetime, r: datetime) -> list[str]:
    """The unit and everything below it at (v, r), breadth first."""
    out, level, seen = [unit], [unit], {unit}
    while level:
        level = [c for c in children(conn, level, v, r) if c not in seen]
        seen.update(level)
        out += level
    return out
