"""A unit's history for people: its facts (GET /organisation/units/{uuid}/facts) as a timeline.

The API answers every fact with its valid period (virkning) and registration
period.  The timeline takes the facts believed now (registration still open)
and lists each day on which something about the unit starts or stops in
valid time, oldest first, with per field what it was before and what it is
from that day: "1. marts 2027: navn Jobcenter → Jobcenter Aarhus".  Days after
today are planned changes ("træder i kraft").  Kept free of Flask so that it
is tested as plain functions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.bitemporal.periods import COPENHAGEN

# The unit's fields in the order the timeline shows them; `user_key` spans its existence.
FIELDS = ("user_key", "name", "unit_type", "parent", "tasks", "addresses", "it_systems")
MANY = frozenset({"tasks", "addresses", "it_systems"})
FIELD_LABELS = {
    "user_key": "Kortnavn", "name": "Navn", "unit_type": "Enhedstype", "parent": "Overordnet enhed",
    "tasks": "KLE-opgaver", "addresses": "Adresser", "it_systems": "IT-systemer",
    "function_type": "Funktionstype", "units": "Enheder", "users": "Brugere", "for_unit": "For enhed",
    "person": "Person",
}


@dataclass(frozen=True)
class Fact:
    field: str
    value: Any
    valid_from: datetime | None
    valid_to: datetime | None

    def holds_at(self, t: datetime | None) -> bool:
        """Valid at t; t=None means "just before the first boundary" (the beginning of time)."""
        if t is None:
            return self.valid_from is None
        return (self.valid_from is None or self.valid_from <= t) and (self.valid_to is None or t < self.valid_to)


@dataclass
class Change:
    field: str
    before: list[Any]
    after: list[Any]

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)


@dataclass
class Entry:
    at: datetime
    day: date
    kind: str                 # created | ended | changed
    planned: bool             # the day is after today
    changes: list[Change] = field(default_factory=list)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def current_facts(rows: list[dict[str, Any]], fields: tuple[str, ...] = FIELDS) -> list[Fact]:
    """The API's fact rows that are believed now (registered_to is null), for these fields."""
    return [Fact(r["field"], r["value"], _instant(r["valid_from"]), _instant(r["valid_to"]))
            for r in rows if r.get("registered_to") is None and r["field"] in fields]


def _state(facts: list[Fact], t: datetime | None, many: frozenset[str]) -> dict[str, list[Any]]:
    state: dict[str, list[Any]] = {}
    for f in facts:
        if f.holds_at(t) and f.value is not None:
            state.setdefault(f.field, []).append(f.value)
    return {k: sorted(v, key=repr) if k in many else v for k, v in state.items()}


def history(rows: list[dict[str, Any]], today: date, fields: tuple[str, ...] = FIELDS,
            many: frozenset[str] = MANY) -> list[Entry]:
    """An object's timeline from its fact rows, oldest first (see the module docstring): a unit's by
    default; a class's with its own fields (admin/klassifikation.py).  `user_key` spans existence."""
    facts = current_facts(rows, fields)
    bounds = sorted({b for f in facts for b in (f.valid_from, f.valid_to) if b is not None})
    entries: list[Entry] = []
    previous = _state(facts, None, many)
    for at in bounds:
        now = _state(facts, at, many)
        changes = [Change(name, previous.get(name, []), now.get(name, [])) for name in fields
                   if previous.get(name, []) != now.get(name, [])]
        if changes:
            existed, exists = bool(previous.get("user_key")), bool(now.get("user_key"))
            kind = "created" if exists and not existed else "ended" if existed and not exists else "changed"
            day = at.astimezone(COPENHAGEN).date()
            entries.append(Entry(at, day, kind, day > today, changes))
        previous = now
    return entries


def lifespan(rows: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None, bool]:
    """(first day, day after the last, whether it has gaps) of the unit's existence (its user_key facts)."""
    spans = sorted(((f.valid_from, f.valid_to) for f in current_facts(rows) if f.field == "user_key"),
                   key=lambda s: (s[0] is not None, s[0] or datetime.min.replace(tzinfo=COPENHAGEN)))
    if not spans:
        return None, None, False
    gaps = any(a[1] != b[0] for a, b in itertools.pairwise(spans))
    return spans[0][0], spans[-1][1], gaps
