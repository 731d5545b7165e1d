"""The sync feed: unit and user records (organisation/sync_records.py) as writes to the store.

A record says "this is the state from `valid_from` on" (default: today in
Europe/Copenhagen).  So an existing object gets the pieces [valid_from, ∞)
and keeps its history before valid_from; a new object is imported.  Every
write goes through organisation/service.py, which checks codes, references
and the hierarchy, and registers nothing when nothing differs, so sending
the same record again is a no-op everywhere.

- unit → `enhed` (user_key = short key, name, unit_type, parent, tasks,
  addresses, it_systems) + a `leder` function (the manager) and an
  `udbetalende_enhed` function (the paying unit), each with a stable UUID
  derived from the unit's; null ends them from valid_from;
- user → `person` (stable UUID from the CPR number, else from the user) +
  `bruger` + one `arbejder_i` function per position, valid over its own
  [start, stop); a position left out of a later record ends at valid_from.

`Feed` works inside the caller's transaction (the request's, or one bulk
batch's); problems are `OrgError`s whose `field` names the record's field.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg
from psycopg import sql

from app.bitemporal.periods import Period, copenhagen_today, local_midnight
from organisation import service
from organisation.model import STORES
from organisation.service import OrgError
from organisation.sync_state import Current, current_state, facts_of, state_from, state_within, unchanged

INACTIVE = ["Passiveret", "Slettet"]
KINDS = {"unit": "enhed", "user": "bruger"}
NAMES = {"enhed": "unit", "bruger": "user", "person": "person", "funktion": "function"}
UNIT_ADDRESSES = {"email": "email", "phone": "telefon", "post_address": "postadresse", "ean": "ean",
                  "p_number": "p_nummer", "los_id": "los_id", "www": "www"}
USER_ADDRESSES = {"email": "email", "phone": "telefon"}
# Store field (as named in an OrgError) → record field, per kind of write.
UNIT_FIELDS = {"user_key": "short_key", "unit_type": "type", "parent": "parent_uuid", "tasks": "kle",
               "tasks.code": "kle", "tasks.aspect": "kle", "addresses": "(addresses)",
               "addresses.type": "(addresses)", None: "uuid"}
USER_FIELDS = {"user_key": "user_id", "name": "person.name", "person": "person.uuid", None: "uuid"}
PERSON_FIELDS = {"cpr": "person.cpr", "name": "person.name", None: "person.uuid"}


def _uuid5(name: str) -> str:
    return str(uuidlib.uuid5(service.NAMESPACE, f"sync:{name}"))


def manager_function_uuid(unit: str) -> str:
    return _uuid5(f"{unit}:leder")


def paying_function_uuid(unit: str) -> str:
    return _uuid5(f"{unit}:udbetalende_enhed")


def position_uuid(user: str, unit: str, start: date) -> str:
    return _uuid5(f"{user}:{unit}:{start.isoformat()}")


def person_uuid(municipality_code: int, cpr: str | None, user: str) -> str:
    """From the CPR number within the municipality (persons belong to one), else from the user."""
    return _uuid5(f"person:{municipality_code}:{cpr}") if cpr else _uuid5(f"person:{user}")


def record_person_uuid(municipality_code: int, user: str, record: dict) -> str:
    """The person of a user record: its own UUID if given, else derived."""
    person = record["person"]
    return str(person.get("uuid") or person_uuid(municipality_code, person.get("cpr"), user))


def record_position_uuid(user: str, position: dict) -> str:
    return str(position.get("uuid") or position_uuid(user, str(position["unit_uuid"]), position["start"]))


def _unit_values(record: dict) -> dict:
    """A unit record as the values of an `enhed`."""
    tasks = {(k["code"], k["aspect"]): {"code": k["code"], "aspect": k["aspect"]} for k in record["kle"]}
    return {"user_key": record["short_key"], "name": record["name"], "unit_type": record["type"],
            "parent": str(record["parent_uuid"]) if record.get("parent_uuid") else None,
            "tasks": list(tasks.values()),
            "addresses": [{"type": code, "value": record[name]} for name, code in UNIT_ADDRESSES.items()
                          if record.get(name) is not None],
            "it_systems": sorted({str(u) for u in record["it_systems"]})}


def _renamed(exc: OrgError, names: dict, other: str | None = None) -> OrgError:
    """The error with the record's field name: `names` maps store fields (None: the object itself),
    `other` takes every field not in `names` (else it keeps its name)."""
    name = names[exc.field] if exc.field in names else (other or exc.field)
    return OrgError(exc.status, exc.code, name, exc.detail)


# -- the feed ---------------------------------------------------------------------------------------------

_POSITIONS = """
    SELECT DISTINCT f.value #>> '{}' AS user, f.uuid::text AS uuid FROM funktion_fact f
      JOIN funktion o ON o.uuid = f.uuid
     WHERE f.field = 'users' AND (f.value #>> '{}') = ANY(%(u)s) AND upper_inf(f.registration)
       AND o.municipality_code = %(m)s AND o.lifecycle <> ALL(%(inactive)s)
       AND EXISTS (SELECT 1 FROM funktion_fact g WHERE g.uuid = f.uuid AND g.field = 'function_type'
                      AND (g.value #>> '{}') = 'arbejder_i' AND upper_inf(g.registration))
"""


@dataclass
class Feed:
    """The sync feed's writes for one municipality, in the caller's transaction."""

    conn: psycopg.Connection
    municipality_code: int
    actor: str | None = None
    cache: dict = field(default_factory=dict)  # type and KLE codes, shared by every write (service.write)
    today: date = field(default_factory=copenhagen_today)
    # States read ahead for a batch (`prefetch`): (kind, uuid) → Current | None, and user → positions.
    # Each is used once: whoever writes an object reads its state first, so a second record of the
    # same object in the batch reads it afresh.
    ahead: dict = field(default_factory=dict)

    def start(self) -> Feed:
        service.ensure_organisation(self.conn, self.municipality_code, self.actor)
        return self

    def prefetch(self, uuids: dict[str, list[str]], users: list[str] = ()) -> None:
        """Read the current states of many objects (kind → UUIDs) and the positions of `users` at
        once, for the records of one batch: a handful of queries instead of several per record."""
        for kind, wanted in uuids.items():
            found = current_state(self.conn, kind, wanted)
            self.ahead.update({(kind, u): found.get(u) for u in wanted})
        if users:
            by_user = {u: [] for u in users}
            for r in self.conn.execute(_POSITIONS, {"u": list(users), "m": self.municipality_code,
                                                    "inactive": INACTIVE}):
                by_user[r["user"]].append(r["uuid"])
            self.ahead.update({("positions", u): p for u, p in by_user.items()})

    def _state(self, kind: str, uuid: str) -> Current | None:
        key = (kind, uuid)
        if key in self.ahead:
            return self.ahead.pop(key)
        return current_state(self.conn, kind, [uuid]).get(uuid)

    def _states(self, kind: str, uuids: list[str]) -> dict[str, Current]:
        out = {u: self.ahead.pop((kind, u)) for u in uuids if (kind, u) in self.ahead}
        out.update(current_state(self.conn, kind, [u for u in uuids if u not in out]))
        return {u: c for u, c in out.items() if c is not None}

    def _t(self, record: dict) -> datetime:
        return local_midnight(record.get("valid_from") or self.today)

    def _write(self, kind: str, uuid: str, current: Current | None, data: dict, names: dict,
               other: str | None = None, op: str | None = None) -> bool:
        """service.write (update if the object is active and ours, else import); whether it changed.

        A write that would change nothing is not sent at all (the store would register nothing
        either), which makes re-sending a whole unchanged organisation cheap."""
        mine = current is not None and current.municipality_code == self.municipality_code
        if mine and current.active and unchanged(STORES[kind].type, current, data, self.cache):
            return False
        op = op or ("update" if mine and current.active else "import")  # another's UUID: 409 uuid_taken
        try:
            return service.write(self.conn, kind, op, uuid, data, municipality_code=self.municipality_code,
                                 actor=self.actor, cache=self.cache, new=current is None).changed
        except OrgError as exc:
            raise _renamed(exc, names, other) from None

    def _outcome(self, uuid: str, objects: list[tuple[str, str, bool]]) -> dict:
        return {"uuid": uuid, "changed": any(c for _k, _u, c in objects),
                "objects": [{"kind": NAMES[k], "uuid": u, "changed": c} for k, u, c in objects]}

    # units

    def _fold(self, kind: str, current: Current | None, changes: list[tuple[dict, datetime]]) -> dict:
        """The data of several records of one object applied in order ("the state from t on" each),
        computed in memory so the object is written once."""
        otype, state, data = STORES[kind].type, current, {}
        for new, t in changes:
            data = state_from(otype, state, new, t)
            state = Current(state.lifecycle if state else "Importeret", self.municipality_code, facts_of(data))
        return data

    def upsert_unit(self, uuid: str, record: dict, *, links: bool = True) -> dict:
        """The unit (and, unless `links` is False, its manager and paying-unit functions)."""
        objects = [("enhed", uuid, self.unit_history(uuid, [record]))]
        if links:
            objects += self.unit_links(uuid, [record])
        return self._outcome(uuid, objects)

    def unit_history(self, uuid: str, records: list[dict]) -> bool:
        """One or more records of a unit, in order, written as one change; whether it changed.

        One record is an `update` from its valid_from (or an `import` of a new unit); several
        (a unit's history in a bulk load) are folded and imported whole, so loading the same
        history again is a no-op too."""
        current = self._state("enhed", uuid)
        data = self._fold("enhed", current, [(_unit_values(r), self._t(r)) for r in records])
        return self._write("enhed", uuid, current, data, UNIT_FIELDS, op=None if len(records) == 1 else "import")

    def unit_links(self, uuid: str, records: list[dict]) -> list[tuple[str, str, bool]]:
        """The unit's manager (`leder`) and paying unit (`udbetalende_enhed`) as its records say,
        each from its valid_from on (null ends the function there)."""
        links = [(manager_function_uuid(uuid), "manager_uuid",
                  lambda r: r.get("manager_uuid") and {"function_type": "leder", "units": [uuid],
                                                       "users": [str(r["manager_uuid"])]}),
                 (paying_function_uuid(uuid), "paying_unit_uuid",
                  lambda r: r.get("paying_unit_uuid") and {"function_type": "udbetalende_enhed",
                                                           "units": [str(r["paying_unit_uuid"])], "for_unit": uuid})]
        states = self._states("funktion", [u for u, _n, _v in links])
        out = []
        for fuuid, name, values in links:
            current = states.get(fuuid)
            changes = [({"user_key": fuuid, **v} if (v := values(r)) else {}, self._t(r)) for r in records]
            if (current is None or not current.active) and not any(new for new, _t in changes):
                continue  # nothing there and nothing to make
            data = self._fold("funktion", current, changes)
            changed = self._write("funktion", fuuid, current, data, {}, name,
                                  op=None if len(records) == 1 else "import")
            out.append(("funktion", fuuid, changed))
        return out

    # users

    def upsert_user(self, uuid: str, record: dict) -> dict:
        """The user, its person and its positions."""
        t = self._t(record)
        person = record["person"]
        puuid = record_person_uuid(self.municipality_code, uuid, record)
        pcurrent = self._state("person", puuid)
        pnew = {"user_key": puuid, "name": person["name"], "cpr": person.get("cpr")}
        pchanged = self._write("person", puuid, pcurrent, state_from(STORES["person"].type, pcurrent, pnew, t),
                               PERSON_FIELDS)
        current = self._state("bruger", uuid)
        new = {"user_key": record["user_id"], "name": person["name"], "person": puuid,
               "addresses": [{"type": code, "value": record[name]} for name, code in USER_ADDRESSES.items()
                             if record.get(name) is not None]}
        changed = self._write("bruger", uuid, current, state_from(STORES["bruger"].type, current, new, t),
                              USER_FIELDS)
        objects = [("bruger", uuid, changed), ("person", puuid, pchanged)]
        objects += self._positions(uuid, record["positions"], t, known=current is not None)
        return self._outcome(uuid, objects)

    def positions_of(self, user: str) -> list[str]:
        """The active `arbejder_i` functions that name the user (the feed's positions)."""
        if ("positions", user) in self.ahead:
            return self.ahead.pop(("positions", user))
        return [r["uuid"] for r in self.conn.execute(_POSITIONS, {"u": [user], "m": self.municipality_code,
                                                                  "inactive": INACTIVE})]

    def _positions(self, user: str, positions: list[dict], t: datetime, *, known: bool) -> list:
        wanted = {record_position_uuid(user, p): (i, p) for i, p in enumerate(positions)}
        if known:
            earlier = [u for u in self.positions_of(user) if u not in wanted]
        else:  # a new user has none (and a later record of it in the batch must look afresh)
            self.ahead.pop(("positions", user), None)
            earlier = []
        states = self._states("funktion", [*wanted, *earlier])
        otype = STORES["funktion"].type
        out = []
        for fuuid, (i, p) in wanted.items():
            window = Period(local_midnight(p["start"]), local_midnight(p["stop"]) if p.get("stop") else None)
            new = {"user_key": fuuid, "function_type": "arbejder_i", "name": p.get("name"),
                   "units": [str(p["unit_uuid"])], "users": [user]}
            data = state_within(otype, states.get(fuuid), new, t, window)
            changed = self._write("funktion", fuuid, states.get(fuuid), data,
                                  {"units": f"positions.{i}.unit_uuid", "name": f"positions.{i}.name",
                                   None: f"positions.{i}.uuid"}, f"positions.{i}", op="import")
            out.append(("funktion", fuuid, changed))
        for fuuid in earlier:  # left out of this record: ends at valid_from
            out.append(("funktion", fuuid, self._end_function(fuuid, states[fuuid], t)))
        return out

    def _end_function(self, fuuid: str, current: Current, t: datetime) -> bool:
        data = state_from(STORES["funktion"].type, current, {}, t)
        return self._write("funktion", fuuid, current, data, {}, "positions")

    # passivate / delete

    def end(self, kind: str, uuid: str, op: str) -> dict:
        """Passivate or delete a unit or user (`kind` "enhed" | "bruger"); again is a no-op.

        A user's positions end today (passivate) or are deleted with it; so are a unit's manager and
        paying-unit functions.  A unit that is still some unit's parent is refused (409)."""
        current = current_state(self.conn, kind, [uuid]).get(uuid)
        if current is None or current.municipality_code != self.municipality_code:
            raise OrgError(404, "not_found", None, f"No {NAMES[kind]} {uuid} in municipality "
                                                   f"{self.municipality_code}.")
        if current.lifecycle == {"passivate": "Passiveret", "delete": "Slettet"}[op]:
            return self._outcome(uuid, [(kind, uuid, False)])
        dependants = self.positions_of(uuid) if kind == "bruger" else \
            [manager_function_uuid(uuid), paying_function_uuid(uuid)]
        objects = []
        for fuuid, fcurrent in current_state(self.conn, "funktion", dependants).items():
            if not fcurrent.active:
                continue
            if op == "delete":
                service.end(self.conn, "funktion", "delete", fuuid, municipality_code=self.municipality_code,
                            actor=self.actor, cache=self.cache)
                objects.append(("funktion", fuuid, True))
            else:
                objects.append(("funktion", fuuid, self._end_function(fuuid, fcurrent, local_midnight(self.today))))
        service.end(self.conn, kind, op, uuid, municipality_code=self.municipality_code, actor=self.actor,
                    cache=self.cache)
        return self._outcome(uuid, [(kind, uuid, True), *objects])

    # reconciliation

    def reconcile(self, kind: str, listed: list[str], *, dry_run: bool) -> dict:
        """Passivate every active unit/user of the municipality that `listed` leaves out.

        Units go children first.  A listed unit whose parent (at any time) would be passivated is a
        409 before anything is written.  The answer lists what was (or, in a dry run, would be)
        passivated, in that order, and the listed UUIDs that are not active objects here."""
        table = sql.Identifier(kind)
        rows = self.conn.execute(sql.SQL(
            """SELECT o.uuid::text AS uuid,
                      (SELECT f.value #>> '{{}}' FROM {fact} f WHERE f.uuid = o.uuid AND f.field = 'user_key'
                          AND upper_inf(f.registration) ORDER BY upper(f.valid) DESC NULLS FIRST LIMIT 1) AS user_key
                 FROM {obj} o WHERE o.municipality_code = %(m)s AND o.lifecycle <> ALL(%(inactive)s)
                ORDER BY o.uuid""").format(obj=table, fact=sql.Identifier(f"{kind}_fact")),
            {"m": self.municipality_code, "inactive": INACTIVE}).fetchall()
        keep = set(listed)
        doomed = {r["uuid"]: r for r in rows if r["uuid"] not in keep}
        order = list(doomed)
        if kind == "enhed":
            order = self._children_first(doomed)
        if not dry_run:
            for uuid in order:
                self.end(kind, uuid, "passivate")
        active = {r["uuid"] for r in rows}
        return {"kind": NAMES[kind], "dry_run": dry_run,
                "passivated": [{"uuid": u, "user_key": doomed[u]["user_key"]} for u in order],
                "missing": sorted(u for u in keep if u not in active)}

    def _children_first(self, doomed: dict) -> list[str]:
        edges = self.conn.execute(
            """SELECT DISTINCT f.uuid::text AS child, f.value #>> '{}' AS parent FROM enhed_fact f
                 JOIN enhed o ON o.uuid = f.uuid
                WHERE o.municipality_code = %(m)s AND o.lifecycle <> ALL(%(inactive)s) AND f.field = 'parent'
                  AND upper_inf(f.registration) ORDER BY 1, 2""",
            {"m": self.municipality_code, "inactive": INACTIVE}).fetchall()
        conflicts = [e for e in edges if e["child"] not in doomed and e["parent"] in doomed]
        if conflicts:
            listed = ", ".join(f"{e['child']} (parent {e['parent']})" for e in conflicts[:5])
            raise OrgError(409, "parent_not_listed", "uuids",
                           f"{len(conflicts)} listed unit(s) have a parent that would be passivated: {listed}; "
                           "list the parents too, or move the units first. Nothing was passivated.")
        children: dict[str, list[str]] = {}
        for e in edges:
            if e["child"] in doomed and e["parent"] in doomed:
                children.setdefault(e["parent"], []).append(e["child"])
        order, seen = [], set()
        for root in doomed:
            stack = [(root, False)]
            while stack:  # post-order: a unit after all its children
                node, expanded = stack.pop()
                if expanded:
                    order.append(node)
                elif node not in seen:
                    seen.add(node)
                    stack.append((node, True))
                    stack += [(c, False) for c in children.get(node, []) if c not in seen]
        return order
