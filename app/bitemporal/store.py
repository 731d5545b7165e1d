"""The bitemporal object store (docs/bitemporal.md).

An object type is described once (`ObjectType`: its name and fields); its
tables come from `bt_create_type` (migrations/0006) and all SQL is built
here from the description.  Every field value is a *fact*: a value, the
valid-time period (virkning) in which it holds, and the registration-time
period in which the system believed it.  Nothing is overwritten:

- a write (registrering) gets the instant `now` (clock_timestamp() taken
  after the object's row lock, so registrations of one object are ordered);
- facts it supersedes get their registration period closed at `now`, the
  facts it adds are registered from `now`; unchanged facts are not touched,
  so an update costs what it changes, not the size of the object;
- a read at (valid instant v, registration instant r) takes the facts whose
  periods contain v and r: the same query shape and index for "now" and for
  any past point.

Update ("Ret") semantics: for a single-valued field each incoming piece
(value, period) overwrites only that sub-period (existing periods are split;
a value of None clears it);
for a 0..n field (`many=True`) the list sent replaces the whole list.  Fields
not sent are kept.  A write that changes no fact is a no-op: no registration,
and `WriteResult.changed` is False.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from app.bitemporal.periods import Period, coalesce

LIFECYCLES = ("Opstaaet", "Importeret", "Rettet", "Passiveret", "Slettet")
ACTIVE = {"Opstaaet", "Importeret", "Rettet"}
TRANSITIONS = {
    "Opstaaet": {"Rettet", "Passiveret", "Slettet"},
    "Importeret": {"Rettet", "Passiveret", "Slettet"},
    "Rettet": {"Rettet", "Passiveret", "Slettet"},
    "Passiveret": {"Importeret", "Slettet"},
    "Slettet": {"Importeret"},
}

Pieces = list[tuple[Any, Period]]  # (value, valid period)


class StoreError(Exception):
    """Base of the store's domain errors; the API layer turns them into problems."""


class NotFound(StoreError):
    pass


class Gone(StoreError):
    """The object is logically deleted (Slettet) at the registration point asked for."""


class PreconditionFailed(StoreError):
    """If-Match named a registration that is no longer the current one."""

    def __init__(self, current: int):
        super().__init__(f"the object has changed: its current registration is {current}")
        self.current = current


class IllegalTransition(StoreError):
    def __init__(self, frm: str, to: str):
        super().__init__(f"an object that is {frm} cannot become {to}")
        self.frm, self.to = frm, to


class InvalidData(StoreError):
    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field, self.message = field_name, message


def _default_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    many: bool = False  # a 0..n relation: several values at once, replaced as a whole
    key: Callable[[Any], str] = _default_key  # identity of one value of a `many` field


@dataclass(frozen=True)
class ObjectType:
    name: str
    fields: tuple[FieldSpec, ...]
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})


@dataclass(frozen=True)
class WriteResult:
    uuid: str
    registration_no: int
    lifecycle: str
    changed: bool


@dataclass(frozen=True)
class Fact:
    field: str
    key: str
    value: Any
    valid: Period
    registration: Period
    id: int | None = None


_CREATE = sql.SQL(
    "WITH o AS (INSERT INTO {obj} "
    "           (uuid, municipality_code, lifecycle, registration_no, created_at, updated_at) "
    "           SELECT %(u)s, %(m)s, %(l)s, 1, c.t, c.t FROM (SELECT clock_timestamp() AS t) c "
    "           RETURNING uuid, created_at AS t), "
    "     g AS (INSERT INTO {reg} (uuid, no, period, lifecycle, actor, note) "
    "           SELECT uuid, 1, tstzrange(t, NULL, '[)'), %(l)s, %(a)s, %(n)s FROM o) "
    "INSERT INTO {fact} (uuid, field, key, value, valid, registration) "
    "SELECT o.uuid, f.f, f.k, f.v, tstzrange(f.lo, f.hi, '[)'), tstzrange(o.t, NULL, '[)') "
    "  FROM o, jsonb_to_recordset(%(facts)s::jsonb) AS f(f text, k text, v jsonb, lo timestamptz, "
    "                                                     hi timestamptz)")

# Many new objects of one type from one JSON array (app/bitemporal/deferred.py); one clock instant.
_CREATE_MANY = sql.SQL(
    "WITH s AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(%(objs)s::jsonb) "
    "                          AS s(u uuid, m smallint, l text, a text, n text, facts jsonb)), "
    "     c AS MATERIALIZED (SELECT clock_timestamp() AS t), "
    "     o AS (INSERT INTO {obj} (uuid, municipality_code, lifecycle, registration_no, created_at, updated_at) "
    "           SELECT s.u, s.m, s.l, 1, c.t, c.t FROM s, c), "
    "     g AS (INSERT INTO {reg} (uuid, no, period, lifecycle, actor, note) "
    "           SELECT s.u, 1, tstzrange(c.t, NULL, '[)'), s.l, s.a, s.n FROM s, c) "
    "INSERT INTO {fact} (uuid, field, key, value, valid, registration) "
    "SELECT s.u, f.f, f.k, f.v, tstzrange(f.lo, f.hi, '[)'), tstzrange(c.t, NULL, '[)') "
    "  FROM s, c, jsonb_to_recordset(s.facts) AS f(f text, k text, v jsonb, lo timestamptz, hi timestamptz)")


class Store:
    """The operations on one object type."""

    def __init__(self, otype: ObjectType):
        self.type = otype
        self.t_obj = sql.Identifier(otype.name)
        self.t_reg = sql.Identifier(f"{otype.name}_registration")
        self.t_fact = sql.Identifier(f"{otype.name}_fact")
        self._create_sql: str | None = None
        self._create_many_sql: str | None = None

    # -- writes ---------------------------------------------------------------------------------------

    def create(self, conn: psycopg.Connection, data: dict[str, Pieces], *, uuid: str | None = None,
               municipality_code: int | None = None, actor: str | None = None, note: str | None = None,
               lifecycle: str = "Opstaaet") -> WriteResult:
        """A new object in one statement (object row, first registration, facts at one clock
        instant): nothing to read back, so bulk loads can send creates in pipeline mode."""
        object_id = str(uuid or uuidlib.uuid4())
        facts = [{"f": name, "k": k, "v": v, "lo": p.lower.isoformat() if p.lower else None,
                  "hi": p.upper.isoformat() if p.upper else None}
                 for name, triples in self._merge({}, data).items() for (k, v), p in _coalesced(triples)]
        # The facts travel as one JSON document: much cheaper to send than arrays of ranges.
        if hasattr(conn, "defer_create"):  # app/bitemporal/deferred.py: sent later, many at once
            conn.defer_create(self, {"u": object_id, "m": municipality_code, "l": lifecycle, "a": actor,
                                     "n": note, "facts": facts})
            return WriteResult(object_id, 1, lifecycle, changed=True)
        if self._create_sql is None:  # composed once: quoting identifiers costs more than the insert's Python
            self._create_sql = _CREATE.format(obj=self.t_obj, reg=self.t_reg, fact=self.t_fact).as_string(conn)
        conn.execute(self._create_sql, {"u": object_id, "m": municipality_code, "l": lifecycle, "a": actor,
                                        "n": note, "facts": Jsonb(facts)})
        return WriteResult(object_id, 1, lifecycle, changed=True)

    def create_many_sql(self, conn: psycopg.Connection) -> str:
        if self._create_many_sql is None:
            self._create_many_sql = _CREATE_MANY.format(obj=self.t_obj, reg=self.t_reg,
                                                        fact=self.t_fact).as_string(conn)
        return self._create_many_sql

    def import_(self, conn: psycopg.Connection, object_id: str, data: dict[str, Pieces], *,
                municipality_code: int | None = None, actor: str | None = None,
                note: str | None = None) -> WriteResult:
        """Create with the caller's UUID, or overwrite every field of an existing object."""
        current = self._lock(conn, object_id, missing_ok=True)
        if current is None:
            return self.create(conn, data, uuid=object_id, municipality_code=municipality_code, actor=actor,
                               note=note, lifecycle="Importeret")
        target = "Rettet" if current["lifecycle"] in ACTIVE else "Importeret"
        old = self._current_facts(conn, object_id, None)
        new = self._merge({}, data)
        return self._write(conn, current, old, new, target, actor, note, replace_all=True)

    def update(self, conn: psycopg.Connection, object_id: str, data: dict[str, Pieces], *,
               if_match: int | None = None, actor: str | None = None, note: str | None = None) -> WriteResult:
        current = self._lock(conn, object_id, if_match=if_match)
        self._check_transition(current["lifecycle"], "Rettet")
        old = self._current_facts(conn, object_id, list(data))
        by_field: dict[str, list[Fact]] = {}
        for fact in old:
            by_field.setdefault(fact.field, []).append(fact)
        new = self._merge(by_field, data)
        return self._write(conn, current, old, new, "Rettet", actor, note)

    def passivate(self, conn, object_id: str, *, if_match: int | None = None, actor=None, note=None) -> WriteResult:
        return self._lifecycle_only(conn, object_id, "Passiveret", if_match, actor, note)

    def delete(self, conn, object_id: str, *, if_match: int | None = None, actor=None, note=None) -> WriteResult:
        return self._lifecycle_only(conn, object_id, "Slettet", if_match, actor, note)

    def changed_ids(self, conn: psycopg.Connection, updates: dict[str, dict[str, Pieces]]) -> set[str]:
        """The objects among `updates` (uuid → update data) that `update` would change, or cannot
        update (missing or not active): one read for all, no locks.  A pre-filter for bulk writers
        such as a KLE edition, where most objects are unchanged; the update itself still locks and
        compares, so a write that lands in between is never overwritten blindly, at worst not
        repeated."""
        if not updates:
            return set()
        ids = list(updates)
        active = {str(r["uuid"]) for r in conn.execute(
            sql.SQL("SELECT uuid FROM {} WHERE uuid = ANY(%(u)s::uuid[]) AND lifecycle = ANY(%(a)s)")
            .format(self.t_obj), {"u": ids, "a": sorted(ACTIVE)})}
        current: dict[str, dict[str, list[Fact]]] = {}
        for x in conn.execute(sql.SQL(
                "SELECT id, uuid, field, key, value, valid, registration FROM {} WHERE uuid = ANY(%(u)s::uuid[]) "
                "AND upper_inf(registration)").format(self.t_fact), {"u": list(active)}):
            current.setdefault(str(x["uuid"]), {}).setdefault(x["field"], []).append(
                Fact(x["field"], x["key"], x["value"], Period.from_range(x["valid"]),
                     Period.from_range(x["registration"]), x["id"]))
        changed = {u for u in ids if u not in active}
        for u in active:
            by_field = current.get(u, {})
            new = self._merge(by_field, updates[u])
            if any(_canonical(by_field.get(name, [])) != _canonical_triples(after) for name, after in new.items()):
                changed.add(u)
        return changed

    # -- reads ----------------------------------------------------------------------------------------

    def read(self, conn: psycopg.Connection, object_id: str, *, valid_at: datetime | None = None,
             registered_at: datetime | None = None, allow_deleted: bool = False) -> dict[str, Any]:
        """The object as it was valid at `valid_at`, as registered at `registered_at` (defaults: now)."""
        now = self._now(conn)
        v, r = valid_at or now, registered_at or now
        reg = conn.execute(sql.SQL("SELECT g.no, g.lifecycle, o.municipality_code FROM {} g JOIN {} o "
                                   "ON o.uuid = g.uuid WHERE g.uuid = %(u)s AND g.period @> %(r)s")
                           .format(self.t_reg, self.t_obj), {"u": object_id, "r": r}).fetchone()
        if reg is None:
            raise NotFound(f"no {self.type.name} {object_id} registered at {r.isoformat()}")
        if reg["lifecycle"] == "Slettet" and not allow_deleted:
            raise Gone(f"{self.type.name} {object_id} is deleted")
        rows = conn.execute(sql.SQL("SELECT field, value FROM {} WHERE uuid = %(u)s AND registration @> %(r)s "
                                    "AND valid @> %(v)s ORDER BY field, key").format(self.t_fact),
                            {"u": object_id, "r": r, "v": v}).fetchall()
        return self._assemble(object_id, reg, rows)

    def read_many(self, conn: psycopg.Connection, object_ids: list[str], *, valid_at: datetime | None = None,
                  registered_at: datetime | None = None) -> list[dict[str, Any]]:
        """Several objects at one point, deleted ones left out; in the order asked for."""
        now = self._now(conn)
        v, r = valid_at or now, registered_at or now
        regs = {str(x["uuid"]): x for x in conn.execute(
            sql.SQL("SELECT g.uuid, g.no, g.lifecycle, o.municipality_code FROM {} g JOIN {} o ON o.uuid = g.uuid "
                    "WHERE g.uuid = ANY(%(u)s) AND g.period @> %(r)s AND g.lifecycle <> 'Slettet'")
            .format(self.t_reg, self.t_obj), {"u": object_ids, "r": r})}
        rows: dict[str, list] = {}
        for row in conn.execute(sql.SQL("SELECT uuid, field, value FROM {} WHERE uuid = ANY(%(u)s) AND "
                                        "registration @> %(r)s AND valid @> %(v)s ORDER BY uuid, field, key")
                                .format(self.t_fact), {"u": list(regs), "r": r, "v": v}):
            rows.setdefault(str(row["uuid"]), []).append(row)
        return [self._assemble(u, regs[u], rows.get(u, [])) for u in map(str, object_ids) if u in regs]

    def facts(self, conn: psycopg.Connection, object_id: str, *, valid: Period | None = None,
              registered: Period | None = None) -> list[Fact]:
        """Every fact of the object overlapping the two windows (default: all time): its history."""
        rows = conn.execute(sql.SQL(
            "SELECT id, field, key, value, valid, registration FROM {} WHERE uuid = %(u)s "
            "AND valid && %(v)s AND registration && %(r)s ORDER BY field, key, lower(registration), lower(valid)")
            .format(self.t_fact), {"u": object_id, "v": (valid or Period()).to_range(),
                                   "r": (registered or Period()).to_range()}).fetchall()
        return [Fact(x["field"], x["key"], x["value"], Period.from_range(x["valid"]),
                     Period.from_range(x["registration"]), x["id"]) for x in rows]

    def registrations(self, conn: psycopg.Connection, object_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(sql.SQL("SELECT no, period, lifecycle, actor, note FROM {} WHERE uuid = %(u)s "
                                    "ORDER BY no").format(self.t_reg), {"u": object_id}).fetchall()
        if not rows:
            raise NotFound(f"no {self.type.name} {object_id}")
        return [{**x, "period": Period.from_range(x["period"])} for x in rows]

    # -- internals ------------------------------------------------------------------------------------

    def _now(self, conn) -> datetime:
        return conn.execute("SELECT clock_timestamp() AS now").fetchone()["now"]

    def _lock(self, conn, object_id: str, *, if_match: int | None = None, missing_ok: bool = False):
        row = conn.execute(sql.SQL("SELECT uuid, lifecycle, registration_no FROM {} WHERE uuid = %(u)s FOR UPDATE")
                           .format(self.t_obj), {"u": object_id}).fetchone()
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"no {self.type.name} {object_id}")
        if if_match is not None and if_match != row["registration_no"]:
            raise PreconditionFailed(row["registration_no"])
        return row

    @staticmethod
    def _check_transition(frm: str, to: str) -> None:
        if to not in TRANSITIONS[frm]:
            raise IllegalTransition(frm, to)

    def _current_facts(self, conn, object_id: str, fields: list[str] | None) -> list[Fact]:
        rows = conn.execute(sql.SQL(
            "SELECT id, field, key, value, valid, registration FROM {} WHERE uuid = %(u)s "
            "AND upper_inf(registration) AND (%(f)s::text[] IS NULL OR field = ANY(%(f)s))").format(self.t_fact),
            {"u": object_id, "f": fields}).fetchall()
        return [Fact(x["field"], x["key"], x["value"], Period.from_range(x["valid"]),
                     Period.from_range(x["registration"]), x["id"]) for x in rows]

    def _merge(self, current: dict[str, list[Fact]], data: dict[str, Pieces]) -> dict[str, list[tuple]]:
        """The new current (key, value, valid) triples of every field in `data`."""
        out: dict[str, list[tuple]] = {}
        for name, pieces in data.items():
            spec = self.type.by_name.get(name)
            if spec is None:
                raise InvalidData(name, "unknown field")
            if spec.many:
                keyed = [(spec.key(v), v, p) for v, p in pieces]
                for i, (k, _v, p) in enumerate(keyed):
                    for k2, _v2, p2 in keyed[i + 1:]:
                        if k == k2 and p.overlaps(p2):
                            raise InvalidData(name, "the same value twice in overlapping periods")
                out[name] = keyed
                continue
            for i, (_v, p) in enumerate(pieces):
                for _v2, p2 in pieces[i + 1:]:
                    if p.overlaps(p2):
                        raise InvalidData(name, "two values in overlapping periods")
            kept = [("", f.value, rest) for f in current.get(name, [])
                    for rest in _subtract_all(f.valid, [p for _v, p in pieces])]
            out[name] = kept + [("", v, p) for v, p in pieces if v is not None]  # None clears that period
        return out

    def _write(self, conn, current, old: list[Fact], new: dict[str, list[tuple]], lifecycle: str, actor, note,
               *, replace_all: bool = False) -> WriteResult:
        """Register the difference between `old` and `new` facts (with `replace_all`, fields
        missing from `new` are emptied: an import replaces the whole object)."""
        object_id = str(current["uuid"])
        by_field: dict[str, list[Fact]] = {}
        for fact in old:
            by_field.setdefault(fact.field, []).append(fact)
        fields = set(new) | set(by_field) if replace_all else set(new)
        to_close, to_insert = [], {}
        for name in fields:
            before = by_field.get(name, [])
            after = new.get(name, [])
            if _canonical(before) == _canonical_triples(after):
                continue
            to_close += before
            to_insert[name] = [(k, v, p) for (k, v), p in _coalesce_keyed(after)]
        revived = lifecycle == "Importeret" and current["lifecycle"] != "Importeret"
        if not to_close and not to_insert and not revived:
            return WriteResult(object_id, current["registration_no"], current["lifecycle"], changed=False)
        now = self._now(conn)
        self._apply(conn, object_id, to_close, to_insert, now)
        return self._register(conn, object_id, current["registration_no"], lifecycle, now, actor, note)

    def _lifecycle_only(self, conn, object_id, lifecycle, if_match, actor, note) -> WriteResult:
        current = self._lock(conn, object_id, if_match=if_match)
        self._check_transition(current["lifecycle"], lifecycle)
        return self._register(conn, object_id, current["registration_no"], lifecycle, self._now(conn), actor, note)

    def _apply(self, conn, object_id: str, to_close: list[Fact], to_insert: dict[str, list[tuple]],
               now: datetime) -> None:
        if to_close:
            conn.execute(sql.SQL("UPDATE {} SET registration = tstzrange(lower(registration), %(now)s, '[)') "
                                 "WHERE id = ANY(%(ids)s)").format(self.t_fact),
                         {"now": now, "ids": [f.id for f in to_close]})
        rows = [(object_id, name, k, Jsonb(v), p.to_range(), Period(now, None).to_range())
                for name, triples in to_insert.items() for k, v, p in triples]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("INSERT INTO {} (uuid, field, key, value, valid, registration) "
                                        "VALUES (%s, %s, %s, %s, %s, %s)").format(self.t_fact), rows)

    def _register(self, conn, object_id: str, previous_no: int, lifecycle: str, now: datetime, actor,
                  note) -> WriteResult:
        last = conn.execute(sql.SQL("SELECT lower(period) AS since FROM {} WHERE uuid = %(u)s AND "
                                    "upper_inf(period)").format(self.t_reg), {"u": object_id}).fetchone()
        if last is not None and last["since"] >= now:  # same microsecond as the previous write
            now = last["since"] + timedelta(microseconds=1)
        conn.execute(sql.SQL("UPDATE {} SET period = tstzrange(lower(period), %(now)s, '[)') WHERE uuid = %(u)s "
                             "AND upper_inf(period)").format(self.t_reg), {"u": object_id, "now": now})
        no = previous_no + 1
        conn.execute(sql.SQL("INSERT INTO {} (uuid, no, period, lifecycle, actor, note) VALUES "
                             "(%(u)s, %(no)s, %(p)s, %(l)s, %(a)s, %(n)s)").format(self.t_reg),
                     {"u": object_id, "no": no, "p": Period(now, None).to_range(), "l": lifecycle, "a": actor,
                      "n": note})
        conn.execute(sql.SQL("UPDATE {} SET lifecycle = %(l)s, registration_no = %(no)s, updated_at = %(now)s "
                             "WHERE uuid = %(u)s").format(self.t_obj),
                     {"l": lifecycle, "no": no, "now": now, "u": object_id})
        return WriteResult(object_id, no, lifecycle, changed=True)

    def _assemble(self, object_id: str, reg: dict, rows) -> dict[str, Any]:
        obj: dict[str, Any] = {"uuid": object_id, "registration_no": reg["no"], "lifecycle": reg["lifecycle"],
                               "municipality_code": reg["municipality_code"]}
        for spec in self.type.fields:
            obj[spec.name] = [] if spec.many else None
        for row in rows:
            spec = self.type.by_name.get(row["field"])
            if spec is None:
                continue
            if spec.many:
                obj[spec.name].append(row["value"])
            else:
                obj[spec.name] = row["value"]
        return obj


def _subtract_all(period: Period, holes: list[Period]) -> list[Period]:
    parts = [period]
    for hole in holes:
        parts = [rest for part in parts for rest in part.minus(hole)]
    return parts


def _coalesce_keyed(triples: list[tuple]) -> list[tuple[tuple[str, Any], Period]]:
    return coalesce([((k, v), p) for k, v, p in triples])


def _coalesced(triples: list[tuple]) -> list[tuple[tuple[str, Any], Period]]:
    """_coalesce_keyed, without its sorting and comparing for the usual single piece of a field."""
    if len(triples) == 1:
        k, v, p = triples[0]
        return [((k, v), p)]
    return _coalesce_keyed(triples)


def _canonical_triples(triples: list[tuple]) -> list:
    return sorted(((json.dumps(kv, sort_keys=True), p.lower is not None, p.lower, p.upper is None, p.upper)
                   for kv, p in _coalesce_keyed(triples)), key=repr)


def _canonical(facts: list[Fact]) -> list:
    return _canonical_triples([(f.key, f.value, f.valid) for f in facts])
