"""Synthetic municipality organisations: seeded, reproducible sync records for the demo, bench and tests.

Why: a municipality's real organisation (names, CPR numbers) is personal data we must not ship,
yet the demo, the benchmarks and the tests need one of realistic shape and size, with history.
`generate(seed, units=..., users=..., today=..., reorganisation_at=...)` yields the records of
the sync feed's bulk format (organisation/sync_records.py: `{"kind": "unit", ...}` / `{"kind": "user",
...}`), the same for the same arguments: one `random.Random(seed)` and no clock but `today`.

Shape: a root unit ("kommune"), a direktion and six forvaltninger below it; under those centres,
afdelinger, sektioner, kontorer, institutioner and teams, grown by weighted random attachment
(depth at most 7; a few "wide" units attract many children).  One big institution in Sundhed og
Omsorg gets about 1,100 engagements (`BIG_UNIT_ENGAGEMENTS`).  Units carry KLE tasks drawn
Zipf-like from `kle_codes` (a few codes are popular, most are rare), contact addresses, a
manager (most units) and a paying unit (some).  Users have Danish-looking names, a synthetic CPR
number and 1-2 positions ("arbejder i") spread over the years, some ended, a few starting in the
future.

History: the organisation starts `years` before `today`; most units exist from then, the rest
appear later.  Each unit then changes about 0.6 times a year (rename, type change, move under
another parent of the same depth, new KLE task, new contact details, new manager), so a unit of
ten years has about five registrations.  With `reorganisation_at` (a future date), a few units
are moved and renamed from that date.

Order: every record is a full state "from valid_from on", so the records of one unit come together
in chronological order; and every record comes after everything it refers to, so the records can
be applied one by one and a topological sort by parent (organisation/bulk.py's) leaves them as
they are.  Units come by depth: every unit after all units it ever has as parent (moves go to a
unit of the old parent's depth).  A unit's first record names no manager; its managers' user
records follow it (their positions are in the unit and its parent), then its later records,
starting with the one that sets its first manager on its creation date.  The other users come
last, when every unit exists.

CPR numbers are fake by construction: real birth dates from 1960 to 2003 (never 1 January) and a
serial chosen so that the number FAILS the modulus-11 check, which every CPR number issued
before 2007 passes (numbers without modulus 11 have been issued since, mainly with 1 January
birth dates).  The 7th digit matches the century rules (0-3 for 1900-1999, 4 for 2000-2036).
Phone numbers, EAN numbers and addresses are random and may happen to exist; e-mail domains end
in `.example`, which cannot.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from organisation import synthetic_names as names

BIG_UNIT_ENGAGEMENTS = 1100
MIN_UNITS = 20
EVENTS_PER_YEAR = 0.6
MAX_DEPTH = 7
# Tickets for random attachment: how strongly a unit of a depth attracts children.
_TICKETS = {2: 30, 3: 24, 4: 10, 5: 3, 6: 1}
_WIDE_TICKETS = 200
# Types of the children of a unit type (weights), and the renames a type change makes.
_CHILD_TYPES = {
    "direktion": {"kontor": 1},
    "forvaltning": {"center": 7, "afdeling": 3},
    "center": {"afdeling": 45, "institution": 35, "sektion": 10, "kontor": 10},
    "afdeling": {"sektion": 35, "kontor": 20, "team": 35, "institution": 10},
    "institution": {"team": 7, "afdeling": 3},
    "sektion": {"team": 1}, "kontor": {"team": 1}, "team": {"team": 1},
}
_TYPE_CHANGES = {"kontor": "afdeling", "afdeling": "kontor", "sektion": "team", "team": "sektion"}
# How many staff a unit of a type draws (tickets for choosing a position's unit).
_STAFF = {"kommune": 1, "direktion": 1, "forvaltning": 2, "center": 3, "afdeling": 4, "sektion": 4,
          "kontor": 4, "institution": 10, "team": 6}
_ASPECTS = ["ansvarlig"] * 7 + ["udfoerende"] * 2 + ["indsigt"]
_PREFIX = {"kommune": "KOM", "direktion": "DIR", "forvaltning": "FOR", "center": "CEN", "afdeling": "AFD",
           "sektion": "SEK", "kontor": "KON", "institution": "INS", "team": "TEA"}


@dataclass
class _Unit:
    seq: int
    uuid: str
    depth: int
    type: str
    branch: int            # index into names.BRANCHES (-1: root and direktion)
    topic: str
    name: str
    short_key: str
    parent: _Unit | None
    created: date
    kle: list[dict] = field(default_factory=list)
    contact: dict = field(default_factory=dict)
    paying: str | None = None
    events: list[tuple[date, str, object]] = field(default_factory=list)  # (date, what, argument)


@dataclass
class _User:
    seq: int
    uuid: str
    first: str
    last: str
    cpr: str | None
    positions: list[dict] = field(default_factory=list)  # {"unit": _Unit, "name", "start", "stop"}


def synthetic_kle_codes(hovedgrupper: int = 25, grupper_per: int = 9, emner_per: int = 10) -> list[str]:
    """The emne codes of `classification.kle_synthetic.synthetic_emneplan(...)` edition 0 (its numbering)."""
    spread = max(1, 100 // hovedgrupper)
    return [f"{h * spread:02d}.{g:02d}.{e:02d}" for h in range(hovedgrupper) for g in range(grupper_per)
            for e in range(1, emner_per + 1)]


def kle_codes(conn) -> list[str]:
    """The subject (emne) codes of the KLE subject plan in the database, whatever their validity."""
    from classification.model import KLE_EMNEPLAN
    from classification.service import uuids_by_code

    return sorted(code for code in uuids_by_code(conn, KLE_EMNEPLAN) if code.count(".") == 2)


def ensure_kle_codes(conn, *, actor: str, hovedgrupper: int = 25, grupper_per: int = 9,
                     emner_per: int = 10) -> list[str]:
    """`kle_codes`, after importing a synthetic KLE subject plan of that size if the database has none
    (a unit's KLE tasks must name codes of the plan in the database)."""
    codes = kle_codes(conn)
    if not codes:
        from classification.kle_import import import_edition
        from classification.kle_parser import parse_kle
        from classification.kle_synthetic import synthetic_emneplan

        import_edition(conn, parse_kle(synthetic_emneplan(hovedgrupper, grupper_per, emner_per)), actor=actor)
        codes = kle_codes(conn)
    return codes


def lines(records: Iterable[dict]) -> Iterator[str]:
    """Records as bulk JSON lines."""
    return (json.dumps(r, ensure_ascii=False) for r in records)


def generate(seed: int, *, units: int, users: int, years: int = 10, today: date,
             reorganisation_at: date | None, kle_codes: Sequence[str] | None = None,
             municipality: str = "Syntetisk", big_unit_engagements: int = BIG_UNIT_ENGAGEMENTS) -> Iterator[dict]:
    """The sync records of a synthetic organisation (see the module docstring), in an order to apply them."""
    if units < MIN_UNITS:
        raise ValueError(f"units must be at least {MIN_UNITS}")
    if users < 1 or years < 1:
        raise ValueError("users and years must be at least 1")
    if reorganisation_at is not None and reorganisation_at <= today:
        raise ValueError("reorganisation_at must be after today")
    plan = _Plan(random.Random(seed), today, years, kle_codes or synthetic_kle_codes(), municipality)
    plan.tree(units)
    plan.history()
    plan.staff(users, big_unit_engagements)
    if reorganisation_at is not None:
        plan.reorganisation(reorganisation_at)
    return iter(plan.records())


class _Plan:
    """The whole organisation planned in memory first, then written out as records in applying order."""

    def __init__(self, rng: random.Random, today: date, years: int, kle_codes: Sequence[str], municipality: str):
        self.rng, self.today = rng, today
        self.start = date(today.year - years, today.month, min(today.day, 28))
        self.domain = f"{names.ascii_slug(municipality)}.kommune.example"
        self.municipality = municipality
        ranked = list(kle_codes)
        rng.shuffle(ranked)  # which codes are popular depends on the seed
        self.kle_ranked = ranked
        self.kle_cum = list(itertools.accumulate(1 / (i + 1) ** 1.1 for i in range(len(ranked))))
        self.units: list[_Unit] = []
        self.users: list[_User] = []
        self.by_depth_branch: dict[tuple[int, int], list[_Unit]] = {}
        self.big: _Unit | None = None
        self.cprs: set[str] = set()   # membership only: set order never reaches the output
        self.manager_budget = 0
        self.managers_of: dict[int, list[_User]] = {}  # unit seq → its managers over time

    # -- small helpers -------------------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def between(self, a: date, b: date) -> date:
        return a + timedelta(days=self.rng.randint(0, max(0, (b - a).days)))

    def kle_task(self) -> dict:
        code = self.rng.choices(self.kle_ranked, cum_weights=self.kle_cum)[0]
        return {"code": code, "aspect": self.rng.choice(_ASPECTS)}

    # -- the tree ------------------------------------------------------------------------------------------

    def add_unit(self, parent: _Unit | None, unit_type: str, branch: int, *, name: str | None = None,
                 topic: str | None = None, created: date | None = None) -> _Unit:
        rng = self.rng
        topic = topic or (rng.choice(names.BRANCHES[branch][1]) if branch >= 0 else self.municipality)
        seq = len(self.units)
        if created is None:
            created = parent.created if parent.created == self.start and rng.random() < 0.8 else (
                parent.created if rng.random() < 0.3 else self.between(parent.created, self.today - timedelta(30)))
        unit = _Unit(seq, self.uuid(), 1 if parent is None else parent.depth + 1, unit_type, branch, topic,
                     name or names.unit_name(rng, unit_type, branch, topic), f"{_PREFIX[unit_type]}{seq:05d}",
                     parent, created)
        unit.kle = self.initial_tasks(unit)
        unit.contact = self.contact(unit)
        if parent is not None and parent.depth >= 2 and unit_type in ("institution", "team") and rng.random() < 0.4:
            payer = parent if parent.type in ("center", "forvaltning") else self.ancestor(unit, 3)
            unit.paying = (payer if payer is not unit else parent).uuid
        self.units.append(unit)
        self.by_depth_branch.setdefault((unit.depth, branch), []).append(unit)
        return unit

    def ancestor(self, unit: _Unit, depth: int) -> _Unit:
        while unit.depth > depth and unit.parent is not None:
            unit = unit.parent
        return unit

    def initial_tasks(self, unit: _Unit) -> list[dict]:
        n = {"kommune": 0, "direktion": 0, "team": self.rng.choice([0, 0, 1])}.get(unit.type, self.rng.randint(0, 3))
        return _unique_tasks([self.kle_task() for _ in range(n)])

    def contact(self, unit: _Unit) -> dict:
        rng = self.rng
        out = dict.fromkeys(("email", "phone", "post_address", "ean", "p_number", "los_id", "www"))
        if rng.random() < 0.8:
            out["email"] = f"{names.ascii_slug(unit.name)}@{self.domain}"
        if rng.random() < 0.8:
            out["phone"] = names.phone(rng)
        if rng.random() < 0.6 or unit.type == "institution":
            out["post_address"] = names.post_address(rng)
        if unit.type in ("institution", "center", "forvaltning") and rng.random() < 0.5:
            out["ean"] = f"5798{rng.randrange(10 ** 9):09d}"
        if unit.type == "institution":
            out["p_number"] = f"10{rng.randrange(10 ** 8):08d}"
            if rng.random() < 0.5:
                out["www"] = f"https://{names.ascii_slug(unit.name)}.{self.domain}"
        return out

    def tree(self, count: int) -> None:
        """Root, direktion, forvaltninger, a centre or two in each, the big institution, then random growth."""
        rng = self.rng
        root = self.add_unit(None, "kommune", -1, name=f"{self.municipality} Kommune", created=self.start)
        self.add_unit(root, "direktion", -1, name="Direktionen", topic="Direktion", created=self.start)
        forvaltninger = [self.add_unit(root, "forvaltning", b, name=name, topic=name, created=self.start)
                         for b, (name, _topics, _weight) in enumerate(names.BRANCHES)]
        centres_each = 2 if count >= 60 else 1
        for f in forvaltninger:
            for _ in range(centres_each):
                self.add_unit(f, "center", f.branch, created=self.start)
        if count >= 60:
            self.add_unit(self.units[1], "kontor", -1, name="Direktionssekretariatet", topic="Sekretariat",
                          created=self.start)
        care = next(u for u in self.units if u.type == "center" and u.branch == names.CARE)
        self.big = self.add_unit(care, "institution", names.CARE, name=f"Hjemmeplejen {names.BIG_PLACE}",
                                 topic="Hjemmepleje", created=self.start)
        tickets: dict[int, list[_Unit]] = {b: [] for b in range(len(names.BRANCHES))}
        for unit in self.units[1:]:
            self.give_tickets(tickets, unit, wide=False)
        branch_weights = [w for _n, _t, w in names.BRANCHES]
        while len(self.units) < count:
            branch = rng.choices(range(len(names.BRANCHES)), weights=branch_weights)[0]
            parent = rng.choice(tickets[branch])
            child_types = _CHILD_TYPES[parent.type]
            child_type = rng.choices(list(child_types), weights=list(child_types.values()))[0]
            if parent.type == "center" and branch in names.INSTITUTION_BRANCHES and rng.random() < 0.3:
                child_type = "institution"  # schools, day care, care homes, ...
            unit = self.add_unit(parent, child_type, parent.branch if parent.branch >= 0 else branch)
            wide = unit.depth in (3, 4) and unit.type in ("center", "afdeling") and rng.random() < 0.04
            self.give_tickets(tickets, unit, wide=wide)

    def give_tickets(self, tickets: dict[int, list[_Unit]], unit: _Unit, *, wide: bool) -> None:
        if unit.depth >= MAX_DEPTH or unit.branch < 0 or unit is self.big:
            return
        tickets[unit.branch].extend([unit] * (_WIDE_TICKETS if wide else _TICKETS.get(unit.depth, 1)))

    # -- history -------------------------------------------------------------------------------------------

    def history(self) -> None:
        """Changes per unit over its life, managers with their changes; the manager users are made here."""
        rng = self.rng
        for unit in self.units:
            if rng.random() < 0.85:
                unit.events.append((unit.created, "manager", None))
            life = (self.today - unit.created).days
            n = max(0, round(rng.gauss(EVENTS_PER_YEAR * life / 365.25, 1.0))) if life > 1 else 0
            days = sorted({rng.randint(1, life) for _ in range(n)})
            for day in days:
                when = unit.created + timedelta(days=day)
                what = rng.choices(["rename", "kle", "contact", "move", "type", "manager"],
                                   weights=[28, 25, 17, 12, 6, 12])[0]
                if what == "move" and (unit.depth < 4 or unit is self.big):
                    what = "kle"
                if unit.depth <= 2 and what != "manager":
                    what = "contact"  # the root, direktion and forvaltninger keep their names and tasks
                if what == "type" and unit.type not in _TYPE_CHANGES:
                    what = "rename"
                unit.events.append((when, what, None))

    def move_target(self, unit: _Unit, parent: _Unit, when: date) -> _Unit | None:
        """Another unit at the parent's depth (same branch mostly) that exists on `when`; None if none found."""
        rng = self.rng
        for _ in range(8):
            branch = unit.branch if rng.random() < 0.85 else rng.randrange(len(names.BRANCHES))
            pool = self.by_depth_branch.get((parent.depth, branch))
            if not pool:
                continue
            target = rng.choice(pool)
            if target is not parent and target.created <= when and target.type in _CHILD_TYPES \
                    and target is not self.big:
                return target
        return None

    def reorganisation(self, when: date) -> None:
        """A few units moved (and some renamed) from a future date."""
        candidates = [u for u in self.units if u.depth >= 4 and u is not self.big]
        for unit in self.rng.sample(candidates, min(len(candidates), max(3, len(self.units) // 100))):
            unit.events.append((when, "move", "reorganisation"))
            if self.rng.random() < 0.5:
                unit.events.append((when, "rename", "reorganisation"))

    # -- users ---------------------------------------------------------------------------------------------

    def new_user(self) -> _User:
        rng = self.rng
        user = _User(len(self.users), self.uuid(), names.first_name(rng), rng.choice(names.LAST_NAMES),
                     None if rng.random() < 0.01 else self.cpr())
        self.users.append(user)
        return user

    def cpr(self) -> str:
        rng = self.rng
        while True:
            born = date(1960, 1, 1) + timedelta(days=rng.randrange(16070))  # 1960-01-01 .. 2003-12-31
            if born.month == 1 and born.day == 1:
                continue
            seventh = rng.randrange(4) if born.year < 2000 else 4
            number = f"{born:%d%m%y}{seventh}{rng.randrange(1000):03d}"
            if _mod11_ok(number) or number in self.cprs:
                continue
            self.cprs.add(number)
            return number

    def staff(self, count: int, big_engagements: int) -> None:
        """Managers (as the history asks for them, within half the users), the big unit's staff, everyone else."""
        self.manager_budget = count // 2
        self.plan_managers()
        rng = self.rng
        tickets = [u for u in self.units for _ in range(_STAFF[u.type])]
        big = min(big_engagements, max(0, (count - len(self.users)) // 3))
        for _ in range(big):
            self.employ(self.new_user(), self.big, tickets)
        while len(self.users) < count:
            unit = rng.choice(tickets)
            while unit is self.big:
                unit = rng.choice(tickets)
            self.employ(self.new_user(), unit, tickets)

    def plan_managers(self) -> None:
        rng = self.rng
        for unit in self.units:
            managers = []
            for i, (when, what, _arg) in enumerate(unit.events):
                if what != "manager":
                    continue
                if len(self.users) >= self.manager_budget:
                    unit.events[i] = (when, "contact", None) if when > unit.created else (when, "none", None)
                    continue
                user = self.new_user()
                if managers:
                    managers[-1][1]["stop"] = when.isoformat()
                position = {"unit": unit, "name": names.manager_title(unit.type), "start": when.isoformat(),
                            "stop": None}
                parent = unit.parent
                if parent is not None and rng.random() < 0.3 and (when - parent.created).days > 60:
                    earlier = self.between(parent.created, when - timedelta(30))
                    user.positions.append({"unit": parent, "name": names.title(rng, parent.type, parent.branch),
                                           "start": earlier.isoformat(), "stop": when.isoformat()})
                user.positions.append(position)
                managers.append((user, position))
                self.managers_of.setdefault(unit.seq, []).append(user)
                unit.events[i] = (when, "manager", user.uuid)

    def employ(self, user: _User, unit: _Unit, tickets: list[_Unit]) -> None:
        """One position in `unit` (some ended), sometimes a second one after it or beside it."""
        rng = self.rng
        start = max(unit.created, self.between(self.start - timedelta(days=8 * 365), self.today))
        if rng.random() < 0.01:
            start = self.today + timedelta(days=rng.randint(1, 60))  # hired, starting next month or so
        stop = None
        if rng.random() < 0.25 and (self.today - start).days > 90:
            stop = self.between(start + timedelta(days=60), self.today)
        user.positions.append({"unit": unit, "name": names.title(rng, unit.type, unit.branch),
                               "start": start.isoformat(), "stop": stop and stop.isoformat()})
        if rng.random() < 0.1:
            begin = stop or start
            other = rng.choice(tickets)
            if other is not unit and other is not self.big and begin <= self.today:
                start2 = max(begin + timedelta(days=1) if stop is None else begin, other.created)
                if start2 <= self.today:
                    user.positions.append({"unit": other, "name": names.title(rng, other.type, other.branch),
                                           "start": start2.isoformat(), "stop": None})

    # -- records -------------------------------------------------------------------------------------------

    def records(self) -> list[dict]:
        """Units by depth (each unit's records together, its managers' user records after its first), then
        everyone else: each record comes after everything it refers to (see the module docstring)."""
        out: list[dict] = []
        managers: set[int] = set()  # membership only
        for unit in sorted(self.units, key=lambda u: (u.depth, u.seq)):
            first, *rest = self.unit_records(unit)
            out.append(first)
            for user in self.managers_of.get(unit.seq, []):
                out.append(self.user_record(user))
                managers.add(user.seq)
            out += rest
        out += [self.user_record(u) for u in self.users if u.seq not in managers]
        return out

    def unit_records(self, unit: _Unit) -> Iterator[dict]:
        """The unit's records in chronological order: its creation (without a manager), then one per date
        on which something changed (its first manager: the date of its creation)."""
        state = {"parent": unit.parent, "name": unit.name, "type": unit.type, "manager": None,
                 "kle": list(unit.kle), "contact": dict(unit.contact), "topic": unit.topic}
        yield self.unit_record(unit, state, unit.created)
        events = sorted(unit.events, key=lambda e: e[0])
        for when, group in itertools.groupby(events, key=lambda e: e[0]):
            changed = False
            for _when, what, arg in group:
                changed |= self.apply(unit, state, when, what, arg)
            if changed:
                yield self.unit_record(unit, state, when)

    def apply(self, unit: _Unit, state: dict, when: date, what: str, arg: object) -> bool:
        rng = self.rng
        if what == "manager":
            state["manager"] = arg
        elif what == "rename":
            if unit.type == "institution" or unit.branch < 0:
                state["name"] = names.unit_name(rng, state["type"], unit.branch, state["topic"])
            else:
                state["topic"] = rng.choice(names.BRANCHES[unit.branch][1])
                state["name"] = names.unit_name(rng, state["type"], unit.branch, state["topic"])
        elif what == "type":
            state["type"] = _TYPE_CHANGES.get(state["type"], state["type"])
            state["name"] = names.unit_name(rng, state["type"], unit.branch, state["topic"])
        elif what == "kle":
            state["kle"] = _unique_tasks([*state["kle"], self.kle_task()])
        elif what == "contact":
            key = rng.choice(["phone", "email", "post_address"])
            state["contact"] = {**state["contact"], key: {
                "phone": names.phone(rng), "post_address": names.post_address(rng),
                "email": f"{names.ascii_slug(state['name'])}@{self.domain}"}[key]}
        elif what == "move":
            target = self.move_target(unit, state["parent"], when)
            if target is None:
                return False
            state["parent"] = target
        else:
            return False
        return True

    def unit_record(self, unit: _Unit, state: dict, when: date) -> dict:
        parent = state["parent"]
        return {"kind": "unit", "uuid": unit.uuid, "short_key": unit.short_key, "name": state["name"],
                "parent_uuid": parent.uuid if parent else None, "type": state["type"],
                "manager_uuid": state["manager"], "paying_unit_uuid": unit.paying, **state["contact"],
                "kle": [dict(t) for t in state["kle"]], "it_systems": [], "valid_from": when.isoformat()}

    def user_record(self, user: _User) -> dict:
        rng = self.rng
        user_id = f"{names.ascii_slug(user.first)[:2]}{names.ascii_slug(user.last)[:2]}{user.seq + 1:05d}"
        return {"kind": "user", "uuid": user.uuid, "user_id": user_id,
                "person": {"name": f"{user.first} {user.last}", "cpr": user.cpr},
                "email": f"{user_id}@{self.domain}", "phone": names.phone(rng) if rng.random() < 0.4 else None,
                "positions": [{"unit_uuid": p["unit"].uuid, "name": p["name"], "start": p["start"],
                               "stop": p["stop"]} for p in user.positions],
                "valid_from": min(p["start"] for p in user.positions)}


def _unique_tasks(tasks: list[dict]) -> list[dict]:
    seen: dict[tuple[str, str], dict] = {}
    for t in tasks:
        seen.setdefault((t["code"], t["aspect"]), t)
    return list(seen.values())


def _mod11_ok(number: str) -> bool:
    return sum(int(d) * w for d, w in zip(number, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11 == 0
