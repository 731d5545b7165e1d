"""Unit paths: what the org-unit constraints match against, in SQL and in Elasticsearch.

An agreement's constraints (and each entry of a user's privilege profile) may
carry `org_units: [{"uuid": U, "subtree": true|false}]`.  authz/constraints.py
turns that into a query condition over two denormalised values of each
indexed object: its `unit` and its `unit_path`, the unit UUIDs from the
organisation's root down to and including that unit.  "U or anything below U"
is then `U in unit_path`, an index lookup, instead of a tree walk per query.
This module computes those paths from the unit hierarchy (organisation/
hierarchy.py):

- `unit_paths(conn, municipality)`: every unit's path in a municipality at one
  instant, in one recursive query (for indexes that store a path per record,
  e.g. the case and benefit indexes: look the record's unit up in the answer);
- `paths_at(conn, [(unit, instant), ...])`: the paths of some units, each at
  its own instant, in one query (the search loaders use it per batch);
- `subtree_units(conn, unit)`: the unit and every unit below it.

Where paths are recomputed
--------------------------
Paths are computed when a document is indexed: the "enhed" and "bruger"
loaders (organisation/search.py) take them as of now.  A write that moves a
unit (changes its parent facts) queues the unit's current subtree and the
users employed in it for re-indexing (`queue_moved_unit`, called by
organisation/service.py through `organisation.search.queue_dependents`): it
touches their rows (`UPDATE ... SET updated_at = updated_at`), which fires the
search outbox triggers of migrations 0001/0010 in the writing transaction, so
the indexer re-reads them after the commit and the indexed paths follow the
move.  Indexes of other services that store unit paths must do the same for
their records (re-queue the records of the moved subtree).

Known limit
-----------
Paths describe the hierarchy *as of the moment of indexing*.  A move recorded
today with a future valid-from date changes nothing now, so the documents
keep their current paths; they change only when someone re-indexes them on or
after that date.  Until a scheduler does that (a later issue: re-queue the
subtree of every parent change whose valid-from passed since the last run, or
run `flask search reindex enhed` / `bruger` daily), a constraint on the new
parent does not yet cover the moved subtree after the date, and one on the
old parent still does.  A unit or user that does not exist now is indexed
with its path at its nearest existence instant (search.py explains which).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import psycopg

from organisation.hierarchy import INACTIVE

_MAX_DEPTH = 1000  # hierarchies are a dozen levels deep; the rules forbid cycles, this only bounds a bug

_ALL_PATHS = """
    WITH RECURSIVE unit AS MATERIALIZED (
        SELECT o.uuid, (p.value #>> '{}')::uuid AS parent
          FROM enhed o
          JOIN enhed_registration g ON g.uuid = o.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
          JOIN enhed_fact k ON k.uuid = o.uuid AND k.field = 'user_key'
                           AND k.registration @> %(r)s AND k.valid @> %(v)s
          LEFT JOIN enhed_fact p ON p.uuid = o.uuid AND p.field = 'parent'
                                AND p.registration @> %(r)s AND p.valid @> %(v)s
         WHERE o.municipality_code = %(m)s
    ), tree(uuid, path) AS (
        SELECT uuid, ARRAY[uuid] FROM unit WHERE parent IS NULL
        UNION ALL
        SELECT u.uuid, t.path || u.uuid FROM tree t JOIN unit u ON u.parent = t.uuid
         WHERE cardinality(t.path) < %(max)s
    )
    SELECT uuid::text AS uuid, path::text[] AS path FROM tree
"""

_SUBTREE = """
    WITH RECURSIVE down(uuid, depth) AS (
        SELECT %(u)s::uuid, 0
        UNION ALL
        SELECT f.uuid, d.depth + 1
          FROM down d
          JOIN enhed_fact f ON (f.value #>> '{}') = d.uuid::text AND f.field = 'parent'
                           AND f.registration @> %(r)s AND f.valid @> %(v)s
          JOIN enhed_registration g ON g.uuid = f.uuid AND g.period @> %(r)s AND g.lifecycle <> ALL(%(inactive)s)
         WHERE d.depth < %(max)s
    )
    SELECT uuid::text AS uuid FROM down ORDER BY depth, uuid
"""

# Walk up from each (unit, instant) through the current registration's parent facts valid at that instant.
_PATHS_AT = """
    WITH RECURSIVE up(n, node, at, depth) AS (
        SELECT s.n, s.unit, s.at, 0
          FROM unnest(%(units)s::uuid[], %(ats)s::timestamptz[]) WITH ORDINALITY AS s(unit, at, n)
        UNION ALL
        SELECT up.n, (f.value #>> '{}')::uuid, up.at, up.depth + 1
          FROM up JOIN enhed_fact f ON f.uuid = up.node AND f.field = 'parent'
                                   AND upper_inf(f.registration) AND f.valid @> up.at
         WHERE up.depth < %(max)s
    )
    SELECT n, array_agg(node::text ORDER BY depth DESC) AS path FROM up GROUP BY n
"""

_TOUCH_UNITS = "UPDATE enhed SET updated_at = updated_at WHERE uuid = ANY(%(units)s::uuid[])"

_TOUCH_USERS_OF_UNITS = """
    UPDATE bruger SET updated_at = updated_at
     WHERE uuid IN (SELECT (us.value #>> '{}')::uuid
                      FROM funktion_fact un
                      JOIN funktion_fact us ON us.uuid = un.uuid AND us.field = 'users' AND upper_inf(us.registration)
                     WHERE (un.value #>> '{}') = ANY(%(units)s::text[]) AND un.field = 'units'
                       AND upper_inf(un.registration))
"""

# The unit existed before this transaction and its parent facts changed in it (facts added or closed
# by a write in this transaction have a registration bound at or after the transaction's start).
_MOVED_IN_THIS_TRANSACTION = """
    SELECT EXISTS (SELECT 1 FROM enhed WHERE uuid = %(u)s AND created_at < transaction_timestamp())
       AND EXISTS (SELECT 1 FROM enhed_fact WHERE uuid = %(u)s AND field = 'parent'
                      AND (lower(registration) >= transaction_timestamp()
                           OR upper(registration) >= transaction_timestamp())) AS moved
"""


def _now(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


def unit_paths(conn: psycopg.Connection, municipality_code: int, at: datetime | None = None,
               registered_at: datetime | None = None) -> dict[str, list[str]]:
    """Every unit of the municipality that exists at `at` (default now): uuid → [root, ..., uuid].

    One recursive query from the root down.  Units not reachable from the root
    at that instant (none, while the hierarchy rules hold) are left out.
    """
    rows = conn.execute(_ALL_PATHS, {"m": municipality_code, "v": _now(at), "r": _now(registered_at),
                                     "inactive": INACTIVE, "max": _MAX_DEPTH})
    return {row["uuid"]: row["path"] for row in rows}


def subtree_units(conn: psycopg.Connection, unit: str, at: datetime | None = None,
                  registered_at: datetime | None = None) -> list[str]:
    """The unit and every active unit below it at `at` (default now), nearest first."""
    return [row["uuid"] for row in conn.execute(_SUBTREE, {"u": str(unit), "v": _now(at),
                                                           "r": _now(registered_at), "inactive": INACTIVE,
                                                           "max": _MAX_DEPTH})]


def paths_at(conn: psycopg.Connection, pairs: Sequence[tuple[str, datetime]]) -> list[list[str]]:
    """For each (unit, instant): [root, ..., unit] as the current registration says the hierarchy is
    at that instant (one query for the whole list; the search loaders call it per batch)."""
    if not pairs:
        return []
    rows = conn.execute(_PATHS_AT, {"units": [str(u) for u, _ in pairs], "ats": [t for _, t in pairs],
                                    "max": _MAX_DEPTH})
    by_n = {row["n"]: row["path"] for row in rows}
    return [by_n[n] for n in range(1, len(pairs) + 1)]


# Called with (conn, the moved subtree's units) after a move, by other packages that keep unit paths of
# their own (the indexes: indexes/__init__.py).
MOVE_LISTENERS: list[Callable[[psycopg.Connection, list[str]], None]] = []


def queue_moved_unit(conn: psycopg.Connection, unit: str) -> bool:
    """If the unit's parent changed in this transaction, queue its current subtree and the users
    employed in it for re-indexing (their indexed unit paths change).  Returns whether it did.

    A unit created in this transaction is skipped: everything below it got there by a write in
    this transaction, which queued it (and the indexer reads the state after the commit).
    """
    if not conn.execute(_MOVED_IN_THIS_TRANSACTION, {"u": unit}).fetchone()["moved"]:
        return False
    units = subtree_units(conn, unit)
    conn.execute(_TOUCH_UNITS, {"units": [u for u in units if u != str(unit)]})
    conn.execute(_TOUCH_USERS_OF_UNITS, {"units": units})
    for listener in MOVE_LISTENERS:
        listener(conn, units)
    return True
