"""The sync feed's view of objects in time: current facts, and the facts a record asks for.

A record is "the state from valid_from on": `state_from` builds, for every field, the current
facts before valid_from followed by the record's values from valid_from on; `state_within` does
the same inside a position's own period [start, stop).  `unchanged` tells whether writing that
would change anything, with the store's own comparison (coalesced (key, value, period) facts),
so organisation/sync.py can leave out writes that would register nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from app.bitemporal.periods import Period, coalesce
from app.bitemporal.store import ACTIVE, ObjectType


def _intersect(a: Period, b: Period) -> Period | None:
    lower = a.lower if b.lower is None or (a.lower is not None and a.lower > b.lower) else b.lower
    upper = a.upper if b.upper is None or (a.upper is not None and a.upper < b.upper) else b.upper
    return Period(lower, upper) if lower is None or upper is None or lower < upper else None


def _clip(pieces: list[tuple[Any, Period]], window: Period) -> list[tuple[Any, Period]]:
    out = []
    for value, period in pieces:
        part = _intersect(period, window)
        if part is not None:
            out.append((value, part))
    return out


def _minus(window: Period, holes: list[Period]) -> list[Period]:
    parts = [window]
    for hole in holes:
        parts = [rest for part in parts for rest in part.minus(hole)]
    return parts


@dataclass
class Current:
    """An object's lifecycle and its currently registered facts: field → [(value, valid period)]."""

    lifecycle: str
    municipality_code: int | None
    facts: dict[str, list[tuple[Any, Period]]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.lifecycle in ACTIVE


def current_state(conn: psycopg.Connection, kind: str, uuids: list[str]) -> dict[str, Current]:
    """The current registration of each object that exists (two queries whatever the count).

    The objects' rows are locked (in UUID order) until the transaction ends, as the store's own
    writes lock them, so a concurrent write cannot change the state a record is merged into."""
    if not uuids:
        return {}
    t_obj, t_fact = sql.Identifier(kind), sql.Identifier(f"{kind}_fact")
    out = {r["uuid"]: Current(r["lifecycle"], r["municipality_code"]) for r in conn.execute(
        sql.SQL("SELECT uuid::text AS uuid, lifecycle, municipality_code FROM {} WHERE uuid = ANY(%(u)s::uuid[]) "
                "ORDER BY uuid FOR UPDATE").format(t_obj), {"u": uuids})}
    if out:
        for r in conn.execute(sql.SQL("SELECT uuid::text AS uuid, field, value, valid FROM {} "
                                      "WHERE uuid = ANY(%(u)s::uuid[]) AND upper_inf(registration)")
                              .format(t_fact), {"u": list(out)}):
            out[r["uuid"]].facts.setdefault(r["field"], []).append((r["value"], Period.from_range(r["valid"])))
    return out


def facts_of(data: dict[str, list]) -> dict[str, list[tuple[Any, Period]]]:
    """The facts that writing `data` (from state_from/state_within) leaves: its non-null pieces."""
    return {name: [(v, p) for v, p in pieces if v is not None] for name, pieces in data.items()}


def state_from(otype: ObjectType, current: Current | None, new: dict[str, Any], t: datetime) -> dict[str, list]:
    """Every field: the current facts before t, then the new value (None/[] = nothing) from t on.

    Single-valued fields always get a piece from t (None clears it in an update); as lists
    replace the whole field in the store, 0..n fields carry their history along."""
    before, since = Period(None, t), Period(t, None)
    data = {}
    for spec in otype.fields:
        old = _clip(current.facts.get(spec.name, []), before) if current else []
        value = new.get(spec.name)
        data[spec.name] = old + ([(v, since) for v in value or []] if spec.many else [(value, since)])
    return data


def state_within(otype: ObjectType, current: Current | None, new: dict[str, Any], t: datetime,
                 window: Period) -> dict[str, list]:
    """A position's facts: only within `window` [start, stop); the current facts before t, the new
    values from t on and wherever the old ones leave a gap.  Written with `import` (replaces all)."""
    cut = _intersect(window, Period(None, t))
    data = {}
    for spec in otype.fields:
        old = _clip(current.facts.get(spec.name, []), cut) if current and cut else []
        value = new.get(spec.name)
        values = [v for v in (value or [] if spec.many else [value]) if v is not None]
        data[spec.name] = old + [(v, p) for p in _minus(window, [p for _v, p in old]) for v in values]
    return data


def _canonical(pieces: list[tuple[Any, Period]], key) -> list:
    """Facts as the store compares them: (key, value) pieces with touching equal ones joined."""
    return sorted((json.dumps(kv, sort_keys=True, default=str),
                   p.lower.timestamp() if p.lower else -math.inf, p.upper.timestamp() if p.upper else math.inf)
                  for kv, p in coalesce([((key(v), v), p) for v, p in pieces if v is not None]))


def unchanged(otype: ObjectType, current: Current, data: dict[str, list], cache: dict) -> bool:
    """Whether writing `data` (every field, as state_from/state_within make it) would change
    nothing: the same test the store makes, without the round trips.  A KLE code not yet looked
    up answers False, and service.write decides."""
    kle = cache.get("kle", {})
    for spec in otype.fields:
        pieces = data.get(spec.name, [])
        if spec.name == "tasks":
            if any(v.get("klasse") is None and kle.get(v.get("code")) is None for v, _p in pieces):
                return False
            pieces = [({"klasse": str(v.get("klasse") or kle[v["code"]]), "code": v.get("code"),
                        "aspect": v["aspect"]}, p) for v, p in pieces]
        key = spec.key if spec.many else _no_key
        if _canonical(pieces, key) != _canonical(current.facts.get(spec.name, []), key):
            return False
    return True


def _no_key(_value: Any) -> str:
    return ""
