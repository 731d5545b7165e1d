"""The unit and user search indexes ("enhed", "bruger") and what keeps them current.

A document describes an object as of one instant: now if the object exists
now (its `user_key` facts), else its nearest existence instant (the start of
its next period, or the end of its last).  `valid` holds every period of
existence (a date_range array), so a search limited to a date finds exactly
the objects that exist on it; their values on other dates are a read, not a
search (PostgreSQL is the record, the index describes the present).

Unit: key, name (+ `name_folded`: app/search/text.py folds æ/ø/å because this
Elasticsearch has no analysis-common), unit type, parent, `unit` (= its UUID)
and `unit_path` (root..unit, organisation/unit_paths.py) for the org-unit
constraints, KLE task codes with every dotted prefix (so `27.35` finds a unit
with `27.35.04`), addresses, IT systems.  User: key, the person's name (the
user's own name if it has no person), `person` (its UUID, for the access
log), addresses, the units of its current engagements (`arbejder_i`
functions) and the union of their paths.  Never a CPR number: the person
query reads the `name` field only.

Loads are batched: a batch of keys costs four or five queries whatever its
size.  User documents depend on other objects (functions, persons, ancestor
units), so `queue_dependents` (called by organisation/service.py after each
write) touches the rows of the users and units a write affects, and the
outbox triggers queue them in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from app.search import IndexSpec, uuid_counter, uuid_scanner
from app.search.text import fold
from organisation import unit_paths

UNIT_KIND, USER_KIND = "enhed", "bruger"
ENGAGEMENT = "arbejder_i"

_COMMON = {
    "uuid": {"type": "keyword"},
    "user_key": {"type": "keyword"},
    "name": {"type": "text", "fields": {"sort": {"type": "keyword"}}},
    "name_folded": {"type": "text"},
    "addresses": {"type": "text"},
    "addresses_folded": {"type": "text"},
    "unit_path": {"type": "keyword"},
    "municipality_code": {"type": "integer"},
    "lifecycle": {"type": "keyword"},
    "valid": {"type": "date_range"},
}
UNIT_MAPPINGS = {"dynamic": "strict", "properties": {
    **_COMMON, "unit": {"type": "keyword"}, "unit_type": {"type": "keyword"}, "parent": {"type": "keyword"},
    "kle": {"type": "keyword"}, "it_systems": {"type": "keyword"}}}
USER_MAPPINGS = {"dynamic": "strict", "properties": {
    **_COMMON, "person": {"type": "keyword"}, "units": {"type": "keyword"}}}

_FACTS = """
    SELECT o.uuid::text AS uuid, o.lifecycle, o.municipality_code, o.search_version,
           f.field, f.value, lower(f.valid) AS lo, upper(f.valid) AS hi
      FROM {table} o LEFT JOIN {facts} f ON f.uuid = o.uuid AND upper_inf(f.registration)
     WHERE o.uuid = ANY(%(ids)s::uuid[])
"""

_KLE_CODES = """
    SELECT uuid::text AS uuid, value #>> '{}' AS code FROM klasse_fact
     WHERE uuid = ANY(%(ids)s::uuid[]) AND field = 'user_key' AND upper_inf(registration)
     ORDER BY lower(valid) NULLS FIRST
"""

_PERSON_NAMES = """
    SELECT uuid::text AS uuid, value, lower(valid) AS lo, upper(valid) AS hi FROM person_fact
     WHERE uuid = ANY(%(ids)s::uuid[]) AND field = 'name' AND upper_inf(registration)
"""

# Every engagement (any valid time) of the users.  The CTE and the LATERAL ... OFFSET 0 fix the plan: start
# from the users' function facts, then look each function up (the planner, misjudging how many functions
# are engagements, would otherwise scan them all).  The instant is checked in Python.
_ENGAGEMENTS = """
    WITH mine AS MATERIALIZED (
        SELECT uuid, value #>> '{}' AS usr, valid FROM funktion_fact
         WHERE (value #>> '{}') = ANY(%(users)s::text[]) AND field = 'users' AND upper_inf(registration))
    SELECT u.usr, x.unit, lower(u.valid * x.valid) AS lo, upper(u.valid * x.valid) AS hi
      FROM mine u
      JOIN funktion fo ON fo.uuid = u.uuid AND fo.lifecycle NOT IN ('Passiveret', 'Slettet')
      CROSS JOIN LATERAL (
        SELECT n.value #>> '{}' AS unit, t.valid * n.valid AS valid
          FROM funktion_fact t
          JOIN funktion_fact n ON n.uuid = t.uuid AND n.field = 'units' AND upper_inf(n.registration)
         WHERE t.uuid = u.uuid AND t.field = 'function_type' AND upper_inf(t.registration)
           AND (t.value #>> '{}') = %(type)s
        OFFSET 0) x
     WHERE NOT isempty(u.valid * x.valid)
"""

Pieces = list[tuple[Any, datetime | None, datetime | None]]


# -- facts as of one instant ------------------------------------------------------------------------


def _grouped(rows) -> dict[str, tuple[dict, dict[str, Pieces]]]:
    out: dict[str, tuple[dict, dict[str, Pieces]]] = {}
    for row in rows:
        _row, fields = out.setdefault(row["uuid"], (row, {}))
        if row["field"] is not None:
            fields.setdefault(row["field"], []).append((row["value"], row["lo"], row["hi"]))
    return out


def _spans(pieces: Pieces) -> list[tuple[datetime | None, datetime | None]]:
    """The periods the pieces cover, merged and in order (None = open end)."""
    ordered = sorted(((lo, hi) for _v, lo, hi in pieces), key=lambda p: (p[0] is not None, p[0] or datetime.min))
    merged: list[list] = []
    for lo, hi in ordered:
        if merged and (merged[-1][1] is None or lo is None or lo <= merged[-1][1]):
            if merged[-1][1] is not None and (hi is None or hi > merged[-1][1]):
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _reference(spans, now: datetime) -> datetime:
    """Now if the object exists now; else the start of its next period; else just before its end."""
    for lo, hi in spans:
        if (lo is None or lo <= now) and (hi is None or now < hi):
            return now
    future = [lo for lo, _hi in spans if lo is not None and lo > now]
    if future:
        return min(future)
    return max(hi for _lo, hi in spans) - timedelta(microseconds=1)


def _at(pieces: Pieces, t: datetime) -> list[Any]:
    return [v for v, lo, hi in pieces if (lo is None or lo <= t) and (hi is None or t < hi)]


def _one(fields: dict[str, Pieces], name: str, t: datetime) -> Any:
    values = _at(fields.get(name, []), t)
    return values[0] if values else None


def _valid(spans) -> list[dict[str, str]]:
    return [{**({"gte": lo.isoformat()} if lo else {}), **({"lt": hi.isoformat()} if hi else {})}
            for lo, hi in spans]


def _kle_prefixes(codes: list[str]) -> list[str]:
    """Each code with every dotted prefix: 27.35.04 → 27, 27.35, 27.35.04."""
    out: set[str] = set()
    for code in codes:
        parts = code.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


def _addresses(values: list[dict]) -> list[str]:
    return sorted({str(a["value"]) for a in values if a.get("value")})


def _base(uuid: str, row: dict, fields: dict[str, Pieces], t: datetime, spans, name: str | None,
          addresses: list[str]) -> dict[str, Any]:
    return {"uuid": uuid, "user_key": _one(fields, "user_key", t), "name": name, "name_folded": fold(name or ""),
            "addresses": addresses, "addresses_folded": [fold(a) for a in addresses],
            "municipality_code": row["municipality_code"], "lifecycle": row["lifecycle"], "valid": _valid(spans)}


def _live(conn: psycopg.Connection, table: str, keys: list[str]):
    """(uuid, row, fields, reference instant, existence spans) of the objects that get a document."""
    query = sql.SQL(_FACTS).format(table=sql.Identifier(table), facts=sql.Identifier(f"{table}_fact"))
    now = datetime.now(UTC)
    for uuid, (row, fields) in _grouped(conn.execute(query, {"ids": keys})).items():
        if row["lifecycle"] == "Slettet" or "user_key" not in fields:
            continue  # left out: the indexer deletes the document
        spans = _spans(fields["user_key"])
        yield uuid, row, fields, _reference(spans, now), spans


# -- loaders ----------------------------------------------------------------------------------------------


def load_units(conn: psycopg.Connection, keys: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """Unit documents for a batch of keys: three queries (four if a task names only its class)."""
    live = list(_live(conn, "enhed", keys))
    tasks = {uuid: _at(fields.get("tasks", []), t) for uuid, _r, fields, t, _s in live}
    missing = sorted({task["klasse"] for ts in tasks.values() for task in ts if not task.get("code")})
    codes = {r["uuid"]: r["code"] for r in conn.execute(_KLE_CODES, {"ids": missing})} if missing else {}
    paths = unit_paths.paths_at(conn, [(uuid, t) for uuid, _r, _f, t, _s in live])
    out = {}
    for (uuid, row, fields, t, spans), path in zip(live, paths, strict=True):
        task_codes = [task.get("code") or codes.get(task["klasse"]) for task in tasks[uuid]]
        addresses = _addresses(_at(fields.get("addresses", []), t))
        doc = _base(uuid, row, fields, t, spans, _one(fields, "name", t), addresses)
        doc.update(unit=uuid, unit_path=path, unit_type=_one(fields, "unit_type", t),
                   parent=_one(fields, "parent", t),
                   kle=_kle_prefixes([c for c in task_codes if c]),
                   it_systems=sorted(set(_at(fields.get("it_systems", []), t))))
        out[uuid] = (row["search_version"], doc)
    return out


def load_users(conn: psycopg.Connection, keys: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """User documents for a batch of keys: four queries (facts, person names, engagements, unit paths)."""
    live = list(_live(conn, "bruger", keys))
    persons = {uuid: _one(fields, "person", t) for uuid, _r, fields, t, _s in live}
    names: dict[str, Pieces] = {}
    wanted = sorted({p for p in persons.values() if p})
    for r in conn.execute(_PERSON_NAMES, {"ids": wanted}) if wanted else []:
        names.setdefault(r["uuid"], []).append((r["value"], r["lo"], r["hi"]))
    engaged: dict[str, list[str]] = {}
    at = {uuid: t for uuid, _r, _f, t, _s in live}
    if live:
        for r in conn.execute(_ENGAGEMENTS, {"users": list(at), "type": ENGAGEMENT}):
            t = at[r["usr"]]
            if (r["lo"] is None or r["lo"] <= t) and (r["hi"] is None or t < r["hi"]):
                engaged.setdefault(r["usr"], []).append(r["unit"])
    pairs = sorted({(unit, at[user]) for user, units in engaged.items() for unit in units})
    path_of = dict(zip(pairs, unit_paths.paths_at(conn, pairs), strict=True))
    out = {}
    for uuid, row, fields, t, spans in live:
        person = persons[uuid]
        person_name = _one({"name": names.get(person, [])}, "name", t) if person else None
        units = sorted(set(engaged.get(uuid, [])))
        path = list(dict.fromkeys(u for unit in units for u in path_of[(unit, t)]))
        doc = _base(uuid, row, fields, t, spans, person_name or _one(fields, "name", t),
                    _addresses(_at(fields.get("addresses", []), t)))
        doc.update(person=person, units=units, unit_path=path)
        out[uuid] = (row["search_version"], doc)
    return out


UNIT_SPEC = IndexSpec(kind=UNIT_KIND, mapping_version=1, mappings=UNIT_MAPPINGS, load=load_units,
                      scan=uuid_scanner("enhed", load_units), count=uuid_counter("enhed"))
USER_SPEC = IndexSpec(kind=USER_KIND, mapping_version=1, mappings=USER_MAPPINGS, load=load_users,
                      scan=uuid_scanner("bruger", load_users), count=uuid_counter("bruger"))


# -- keeping dependent documents current ------------------------------------------------------------------

_TOUCH_USERS_OF_FUNCTION = """
    UPDATE bruger SET updated_at = updated_at
     WHERE uuid IN (SELECT (value #>> '{}')::uuid FROM funktion_fact
                     WHERE uuid = %(u)s AND field = 'users'
                       AND (upper_inf(registration) OR upper(registration) >= transaction_timestamp()))
"""

_TOUCH_USERS_OF_PERSON = """
    UPDATE bruger SET updated_at = updated_at
     WHERE uuid IN (SELECT uuid FROM bruger_fact
                     WHERE field = 'person' AND (value #>> '{}') = %(u)s::text AND upper_inf(registration))
"""


def queue_dependents(conn: psycopg.Connection, kind: str, object_id: str) -> None:
    """After a write of `kind`: queue the other documents that show data of this object.

    A moved unit: its subtree and the users employed in it (unit paths); a
    function: the users it names now or named before this write (engagements);
    a person: its users (the name).  Units and users themselves are queued by
    their own rows' triggers.
    """
    if kind == "enhed":
        unit_paths.queue_moved_unit(conn, object_id)
    elif kind == "funktion":
        conn.execute(_TOUCH_USERS_OF_FUNCTION, {"u": object_id})
    elif kind == "person":
        conn.execute(_TOUCH_USERS_OF_PERSON, {"u": object_id})
