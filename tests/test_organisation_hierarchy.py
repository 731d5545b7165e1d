"""The unit hierarchy's rules at every point in valid time, against the real PostgreSQL:
explicit cases (cycles that exist only for a while, a second root, a parent that
does not exist throughout, ending a unit that still has children) and a
property-based comparison with a reference model of the hierarchy."""

import uuid
from datetime import date, timedelta

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from app.bitemporal.periods import Period, local_midnight
from organisation import hierarchy
from organisation.service import OrgError, end, write

D = local_midnight
M = 751
ALWAYS = Period()


@pytest.fixture
def conn(app):
    result = app.test_cli_runner().invoke(args=["klassifikation", "seed"])
    assert result.exit_code == 0, result.output
    with psycopg.connect(app.config["DATABASE_URL"], row_factory=dict_row, options="-c timezone=UTC") as c:
        yield c


def since(day: date, until: date | None = None) -> Period:
    return Period(D(day), D(until) if until else None)


def unit(conn, name: str, parent: str | None, *, period: Period = ALWAYS, uid: str | None = None) -> str:
    data = {"user_key": [(name, period)], "name": [(name, period)], "unit_type": [("afdeling", period)]}
    if parent is not None:
        data["parent"] = [(parent, period)]
    try:
        result = write(conn, "enhed", "import", uid or str(uuid.uuid4()), data, municipality_code=M)
    except OrgError:
        conn.rollback()  # as the request transaction is: nothing of a refused write stays
        raise
    conn.commit()
    return result.uuid


def move(conn, uid: str, parent: str | None, period: Period):
    try:
        result = write(conn, "enhed", "update", uid, {"parent": [(parent, period)]}, municipality_code=M)
    except OrgError:
        conn.rollback()
        raise
    conn.commit()
    return result


def parents_at(conn, day: date) -> dict[str, str | None]:
    now = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
    return {u: x["parent"] for u, x in hierarchy.units_at(conn, M, D(day) + timedelta(hours=12), now).items()}


def test_a_cycle_that_would_exist_only_for_a_while_is_refused(conn):
    root = unit(conn, "root", None)
    a = unit(conn, "a", root)
    b = unit(conn, "b", root)
    move(conn, b, a, since(date(2027, 1, 1), date(2028, 1, 1)))  # b under a during 2027
    # a under b from mid-2027 on: a cycle in [2027-07-01, 2028-01-01) only.
    with pytest.raises(OrgError) as err:
        move(conn, a, b, since(date(2027, 7, 1)))
    assert err.value.code == "hierarchy_cycle" and err.value.field == "parent"
    assert "2027-07-01" in err.value.detail
    # From 2028 on it is fine, and the store kept nothing of the refused write.
    move(conn, a, b, since(date(2028, 1, 1)))
    assert parents_at(conn, date(2027, 8, 1))[a] == root
    assert parents_at(conn, date(2028, 2, 1))[a] == b
    assert parents_at(conn, date(2027, 8, 1))[b] == a


def test_a_unit_cannot_be_its_own_parent(conn):
    root = unit(conn, "root", None)
    a = unit(conn, "a", root)
    with pytest.raises(OrgError) as err:
        move(conn, a, a, since(date(2026, 1, 1)))
    assert err.value.code == "hierarchy_cycle"


def test_a_second_root_is_refused_only_where_it_overlaps(conn):
    root = unit(conn, "root", None, period=since(date(2020, 1, 1), date(2030, 1, 1)))
    with pytest.raises(OrgError) as err:
        unit(conn, "other root", None, period=since(date(2029, 1, 1)))
    assert err.value.code == "second_root" and root in err.value.detail
    # A successor root from the day the old one ends is fine.
    unit(conn, "successor", None, period=since(date(2030, 1, 1)))
    # Clearing a child's parent for a month makes it a root for that month: refused.
    a = unit(conn, "a", root, period=since(date(2020, 1, 1), date(2030, 1, 1)))
    with pytest.raises(OrgError) as err:
        move(conn, a, None, since(date(2026, 1, 1), date(2026, 2, 1)))
    assert err.value.code == "second_root"


def test_a_parent_must_exist_throughout_and_in_the_same_municipality(conn):
    root = unit(conn, "root", None)
    short = unit(conn, "short-lived", root, period=since(date(2026, 1, 1), date(2027, 1, 1)))
    with pytest.raises(OrgError) as err:
        unit(conn, "child", short, period=since(date(2026, 6, 1)))
    assert err.value.code == "invalid_parent" and "throughout" in err.value.detail
    unit(conn, "child", short, period=since(date(2026, 6, 1), date(2027, 1, 1)))
    with pytest.raises(OrgError) as err:
        unit(conn, "orphan", str(uuid.uuid4()))
    assert err.value.code == "invalid_parent"
    # A unit of another municipality is not a parent.
    foreign = write(conn, "enhed", "import", str(uuid.uuid4()), {"user_key": [("x", ALWAYS)]},
                    municipality_code=101).uuid  # the root of 101
    conn.commit()
    with pytest.raises(OrgError) as err:
        unit(conn, "child of a stranger", foreign)
    assert err.value.code == "invalid_parent"


def test_a_unit_that_is_still_a_parent_cannot_end(conn):
    root = unit(conn, "root", None)
    a = unit(conn, "a", root)
    child = unit(conn, "child", a, period=since(date(2026, 1, 1), date(2028, 1, 1)))
    with pytest.raises(OrgError) as err:
        end(conn, "enhed", "passivate", a, municipality_code=M)
    conn.rollback()
    assert err.value.status == 409 and err.value.code == "unit_has_children" and child in err.value.detail
    # Nor may it stop existing while the child still names it.
    with pytest.raises(OrgError) as err:
        move_existence = {"user_key": [(None, since(date(2027, 1, 1)))]}
        write(conn, "enhed", "update", a, move_existence, municipality_code=M)
    conn.rollback()
    assert err.value.code == "unit_has_children"
    # Once the child has moved away, it can.
    move(conn, child, root, since(date(2026, 1, 1), date(2028, 1, 1)))
    end(conn, "enhed", "passivate", a, municipality_code=M)
    conn.commit()
    assert a not in parents_at(conn, date(2026, 6, 1))


def test_reads_follow_the_hierarchy_as_of_any_point(conn):
    root = unit(conn, "root", None)
    a = unit(conn, "a", root)
    b = unit(conn, "b", a)
    c = unit(conn, "c", root)
    move(conn, b, c, since(date(2027, 1, 1)))  # a future-dated reorganisation
    now = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
    before, after = D(date(2026, 12, 31)) + timedelta(hours=23), D(date(2027, 1, 1))
    assert hierarchy.ancestors(conn, b, before, now) == [a, root]
    assert hierarchy.ancestors(conn, b, after, now) == [c, root]
    assert hierarchy.unit_path(conn, b, after, now) == [root, c, b]
    assert sorted(hierarchy.subtree(conn, root, before, now)) == sorted([root, a, b, c])
    assert hierarchy.children(conn, [a], before, now) == [b]
    assert hierarchy.children(conn, [a], after, now) == []
    # As registered before the move, 2027 still had b under a.
    registered_before = conn.execute("SELECT lower(period) AS t FROM enhed_registration WHERE uuid = %(u)s "
                                      "AND no = 1", {"u": b}).fetchone()["t"]
    assert hierarchy.ancestors(conn, b, after, registered_before) == [a, root]


# -- property-based comparison with a reference model ---------------------------------------------------

DAYS = [date(2026, 1, 1), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 25), date(2027, 1, 1)]
CHECK_DAYS = [date(2025, 12, 31), *DAYS, *(d + timedelta(days=1) for d in DAYS)]
NAMES = ["a", "b", "c", "d"]


@st.composite
def periods(draw):
    lo = draw(st.sampled_from([None, *DAYS]))
    later = [d for d in DAYS if lo is None or d > lo]
    hi = draw(st.sampled_from([None, *later]))
    return Period(D(lo) if lo else None, D(hi) if hi else None)


MOVES = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from([*NAMES, "root", None]), periods()),
                 min_size=1, max_size=6)


class Model:
    """The parent of every unit at every instant, as a list of (parent, period) per unit; the rules
    checked by brute force at the start of every elementary interval."""

    def __init__(self):
        self.parents = {n: [("root", ALWAYS)] for n in NAMES}
        self.parents["root"] = []

    def moved(self, name, parent, period):
        kept = [(p, rest) for p, q in self.parents[name] for rest in q.minus(period)]
        new = {k: list(v) for k, v in self.parents.items()}
        new[name] = kept + ([(parent, period)] if parent is not None else [])
        return new

    @staticmethod
    def parent_at(parents, name, t):
        return next((p for p, q in parents[name] if q.contains(t)), None)

    @classmethod
    def violations(cls, parents) -> set[str]:
        bounds = {b for pieces in parents.values() for _p, q in pieces for b in (q.lower, q.upper) if b}
        instants = [min(bounds, default=D(DAYS[0])) - timedelta(days=1), *sorted(bounds)]
        found = set()
        for t in instants:
            if sum(cls.parent_at(parents, n, t) is None for n in parents) > 1:
                found.add("second_root")
            for n in parents:
                seen, x = set(), n
                while x is not None and x not in seen:
                    seen.add(x)
                    x = cls.parent_at(parents, x, t)
                if x is not None:
                    found.add("hierarchy_cycle")
        return found


def test_the_hierarchy_matches_the_reference_model(conn):
    @settings(max_examples=25, deadline=None)
    @given(moves=MOVES)
    def check(moves):
        conn.execute("TRUNCATE enhed, enhed_registration, enhed_fact")
        conn.commit()
        ids = {"root": unit(conn, "root", None)}
        for n in NAMES:
            ids[n] = unit(conn, n, ids["root"])
        model = Model()
        for name, parent, period in moves:
            candidate = model.moved(name, parent, period)
            expected = Model.violations(candidate)
            try:
                move(conn, ids[name], ids[parent] if parent else None, period)
            except OrgError as exc:
                assert exc.code in expected, (name, parent, period, exc.code, expected)
                continue
            assert not expected, (name, parent, period, expected)
            model.parents = candidate
        names = {v: k for k, v in ids.items()}
        now = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
        for day in CHECK_DAYS:
            for t in (D(day) - timedelta(microseconds=1), D(day)):
                got = {names[u]: names.get(x["parent"]) for u, x in hierarchy.units_at(conn, M, t, now).items()}
                assert got == {n: Model.parent_at(model.parents, n, t) for n in ids}, t

    check()
