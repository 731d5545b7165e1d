"""Reading Klassifikation: classes by code within a facet, children, ancestors,
a whole facet, each at any (valid, registration) point."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from classification.model import klasser

_BY_CODE = """
    SELECT c.uuid FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND f.registration @> %(r)s AND f.valid @> %(v)s
     WHERE c.field = 'user_key' AND c.value #>> '{}' = %(code)s AND c.registration @> %(r)s AND c.valid @> %(v)s
"""

_ANY_TIME_BY_CODE = """
    SELECT c.uuid FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
     WHERE c.field = 'user_key' AND c.value #>> '{}' = %(code)s AND upper_inf(c.registration)
     LIMIT 1
"""

_CHILDREN = """
    SELECT uuid FROM klasse_fact WHERE field = 'parent' AND value #>> '{}' = %(parent)s
       AND registration @> %(r)s AND valid @> %(v)s
"""

_FACET_MEMBERS = """
    SELECT uuid FROM klasse_fact WHERE field = 'facet' AND value #>> '{}' = %(facet)s
       AND registration @> %(r)s AND valid @> %(v)s
"""


def _now(conn) -> datetime:
    return conn.execute("SELECT clock_timestamp() AS now").fetchone()["now"]


def _points(conn, valid_at, registered_at):
    now = None if valid_at and registered_at else _now(conn)
    return valid_at or now, registered_at or now


def uuid_of_code(conn: psycopg.Connection, facet: str, code: str) -> str | None:
    """The class with this code in the facet, whatever its validity (for imports)."""
    row = conn.execute(_ANY_TIME_BY_CODE, {"facet": facet, "code": code}).fetchone()
    return str(row["uuid"]) if row else None


_ALL_CODES = """
    SELECT DISTINCT ON (c.value #>> '{}') c.value #>> '{}' AS code, c.uuid::text AS uuid FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
     WHERE c.field = 'user_key' AND upper_inf(c.registration)
"""


def uuids_by_code(conn: psycopg.Connection, facet: str) -> dict[str, str]:
    """Every code of the facet and its class, whatever its validity (one query, for imports)."""
    return {r["code"]: r["uuid"] for r in conn.execute(_ALL_CODES, {"facet": facet})}


def by_code(conn: psycopg.Connection, facet: str, code: str, *, valid_at: datetime | None = None,
            registered_at: datetime | None = None) -> dict[str, Any] | None:
    v, r = _points(conn, valid_at, registered_at)
    row = conn.execute(_BY_CODE, {"facet": facet, "code": code, "v": v, "r": r}).fetchone()
    if row is None:
        return None
    found = klasser.read_many(conn, [str(row["uuid"])], valid_at=v, registered_at=r)
    return found[0] if found else None


def children(conn: psycopg.Connection, parent: str, *, valid_at=None, registered_at=None) -> list[dict[str, Any]]:
    v, r = _points(conn, valid_at, registered_at)
    ids = [str(x["uuid"]) for x in conn.execute(_CHILDREN, {"parent": parent, "v": v, "r": r})]
    return sorted(klasser.read_many(conn, ids, valid_at=v, registered_at=r), key=lambda c: c["user_key"] or "")


_SUBTREE = """
    WITH RECURSIVE tree(uuid, depth) AS (
        SELECT %(root)s::uuid, 0
        UNION
        SELECT p.uuid, t.depth + 1 FROM tree t
          JOIN klasse_fact p ON p.field = 'parent' AND p.value #>> '{}' = t.uuid::text
                            AND p.registration @> %(r)s AND p.valid @> %(v)s
         WHERE t.depth < 50
    )
    SELECT uuid FROM tree WHERE depth > 0
"""


def subtree(conn: psycopg.Connection, root: str, *, valid_at=None, registered_at=None) -> list[dict[str, Any]]:
    """Every class below `root` at that point (one recursive query), sorted by code."""
    v, r = _points(conn, valid_at, registered_at)
    ids = [str(x["uuid"]) for x in conn.execute(_SUBTREE, {"root": root, "v": v, "r": r})]
    return sorted(klasser.read_many(conn, ids, valid_at=v, registered_at=r), key=lambda c: c["user_key"] or "")


def ancestors(conn: psycopg.Connection, uuid: str, *, valid_at=None, registered_at=None) -> list[dict[str, Any]]:
    """Parent, grandparent, ... (nearest first); stops at a cycle rather than looping."""
    v, r = _points(conn, valid_at, registered_at)
    out, seen = [], {uuid}
    current = klasser.read_many(conn, [uuid], valid_at=v, registered_at=r)
    while current and current[0]["parent"] and current[0]["parent"] not in seen:
        seen.add(current[0]["parent"])
        current = klasser.read_many(conn, [current[0]["parent"]], valid_at=v, registered_at=r)
        out += current
    return out


_FACET_PAGE = """
    SELECT m.uuid, c.value #>> '{}' AS code, count(*) OVER () AS total
      FROM klasse_fact m
      JOIN klasse_fact c ON c.uuid = m.uuid AND c.field = 'user_key' AND c.registration @> %(r)s AND c.valid @> %(v)s
      JOIN klasse o ON o.uuid = m.uuid
     WHERE m.field = 'facet' AND m.value #>> '{}' = %(facet)s AND m.registration @> %(r)s AND m.valid @> %(v)s
       AND (%(everyone)s OR o.municipality_code IS NULL OR o.municipality_code = %(m)s)
     ORDER BY code
"""


def facet_page(conn: psycopg.Connection, facet: str, *, after: str | None, limit: int, municipality_code: int | None,
               everyone: bool, valid_at=None, registered_at=None) -> tuple[list[dict[str, Any]], int, bool]:
    """One page of a facet's classes (by code, after `after`), the total, and whether more follow.

    Paging happens in SQL, so a page reads only its own classes (national ones and those of
    `municipality_code`; all when `everyone`)."""
    v, r = _points(conn, valid_at, registered_at)
    rows = conn.execute(f"SELECT * FROM ({_FACET_PAGE}) page WHERE %(after)s::text IS NULL OR code > %(after)s "
                        "ORDER BY code LIMIT %(limit)s",
                        {"facet": facet, "v": v, "r": r, "m": municipality_code, "everyone": everyone,
                         "after": after, "limit": limit + 1}).fetchall()
    total = rows[0]["total"] if rows else _facet_total(conn, facet, v, r, municipality_code, everyone)
    ids = [str(x["uuid"]) for x in rows[:limit]]
    return klasser.read_many(conn, ids, valid_at=v, registered_at=r), total, len(rows) > limit


def _facet_total(conn, facet, v, r, municipality_code, everyone) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM ({_FACET_PAGE}) page",
                        {"facet": facet, "v": v, "r": r, "m": municipality_code, "everyone": everyone}).fetchone()["n"]


def facet_classes(conn: psycopg.Connection, facet: str, *, valid_at=None, registered_at=None) -> list[dict[str, Any]]:
    """Every class of a facet at one point, sorted by code."""
    v, r = _points(conn, valid_at, registered_at)
    ids = [str(x["uuid"]) for x in conn.execute(_FACET_MEMBERS, {"facet": facet, "v": v, "r": r})]
    return sorted(klasser.read_many(conn, ids, valid_at=v, registered_at=r), key=lambda c: c["user_key"] or "")
