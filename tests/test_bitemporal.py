"""The bitemporal store against the real PostgreSQL: explicit cases (splitting,
half-open ends at midnight and across DST, lifecycle, concurrency) and a
property-based comparison with a naive full-copy reference model."""

import threading
import uuid
from datetime import date, timedelta

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from app.bitemporal.deferred import DeferredCreates
from app.bitemporal.periods import Period, local_midnight
from app.bitemporal.store import (
    FieldSpec,
    Gone,
    IllegalTransition,
    InvalidData,
    ObjectType,
    PreconditionFailed,
    Store,
)

ITEM = ObjectType("bt_item", (FieldSpec("title"), FieldSpec("parent"), FieldSpec("tags", many=True)))
STORE = Store(ITEM)
D = local_midnight  # a Danish calendar date's first instant


@pytest.fixture
def conn(app):
    url = app.config["DATABASE_URL"]
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as setup:
        setup.execute("SELECT bt_create_type('bt_item')")
    with psycopg.connect(url, row_factory=dict_row, options="-c timezone=UTC") as c:
        yield c


def since(day: date, until: date | None = None) -> Period:
    return Period(D(day), D(until) if until else None)


def test_an_update_overwrites_only_its_sub_period(conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    u = STORE.update(conn, w.uuid, {"title": [("B", since(date(2026, 3, 1), date(2026, 4, 1)))]})
    conn.commit()
    assert u.changed and u.registration_no == 2

    def title(day, hour=12):
        return STORE.read(conn, w.uuid, valid_at=D(day) + timedelta(hours=hour))["title"]

    assert title(date(2026, 2, 1)) == "A"
    assert title(date(2026, 3, 15)) == "B"
    assert STORE.read(conn, w.uuid, valid_at=D(date(2026, 4, 1)))["title"] == "A"  # the end is exclusive
    assert STORE.read(conn, w.uuid, valid_at=D(date(2026, 4, 1)) - timedelta(microseconds=1))["title"] == "B"
    # As registered before the update, March still says A.
    first = STORE.registrations(conn, w.uuid)[0]["period"]
    assert STORE.read(conn, w.uuid, valid_at=D(date(2026, 3, 15)), registered_at=first.lower)["title"] == "A"


def test_periods_are_danish_days_across_dst(conn):
    # DST starts 2026-03-29 (02:00 -> 03:00) and ends 2026-10-25 (03:00 -> 02:00).
    w = STORE.create(conn, {"title": [("summer", since(date(2026, 3, 29), date(2026, 10, 25)))]})
    conn.commit()
    assert D(date(2026, 3, 29)).hour == 23 and D(date(2026, 10, 25)).hour == 22  # UTC of local midnight

    def at(t):
        return STORE.read(conn, w.uuid, valid_at=t)["title"]

    assert at(D(date(2026, 3, 29))) == "summer"
    assert at(D(date(2026, 3, 29)) - timedelta(microseconds=1)) is None
    assert at(D(date(2026, 10, 25)) - timedelta(microseconds=1)) == "summer"
    assert at(D(date(2026, 10, 25))) is None
    assert D(date(2026, 10, 26)) - D(date(2026, 10, 25)) == timedelta(hours=25)  # the long day


def test_no_op_update_creates_no_registration(conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))], "tags": [("x", since(date(2026, 1, 1)))]})
    conn.commit()
    again = STORE.update(conn, w.uuid, {"title": [("A", since(date(2026, 2, 1), date(2026, 3, 1)))],
                                        "tags": [("x", since(date(2026, 1, 1)))]})
    assert not again.changed and again.registration_no == 1
    assert len(STORE.registrations(conn, w.uuid)) == 1


def test_a_relation_list_is_replaced_and_other_fields_are_not_copied(conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))],
                            "tags": [("x", since(date(2026, 1, 1))), ("y", since(date(2026, 1, 1)))]})
    conn.commit()
    title_fact = [f for f in STORE.facts(conn, w.uuid) if f.field == "title"]
    STORE.update(conn, w.uuid, {"tags": [("z", since(date(2026, 6, 1)))]})
    conn.commit()
    assert STORE.read(conn, w.uuid, valid_at=D(date(2026, 7, 1)))["tags"] == ["z"]
    assert STORE.read(conn, w.uuid, valid_at=D(date(2026, 2, 1)))["tags"] == []
    assert [f for f in STORE.facts(conn, w.uuid) if f.field == "title"] == title_fact  # untouched row


def test_lifecycle_delete_is_gone_but_history_stays(conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    STORE.passivate(conn, w.uuid)
    conn.commit()
    assert STORE.read(conn, w.uuid)["lifecycle"] == "Passiveret"
    STORE.delete(conn, w.uuid)
    conn.commit()
    with pytest.raises(Gone):
        STORE.read(conn, w.uuid)
    first = STORE.registrations(conn, w.uuid)[0]["period"]
    assert STORE.read(conn, w.uuid, registered_at=first.lower)["title"] == "A"
    with pytest.raises(IllegalTransition):
        STORE.passivate(conn, w.uuid)
    conn.rollback()
    revived = STORE.import_(conn, w.uuid, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    assert revived.lifecycle == "Importeret" and STORE.read(conn, w.uuid)["title"] == "A"
    assert [r["lifecycle"] for r in STORE.registrations(conn, w.uuid)] == \
        ["Opstaaet", "Passiveret", "Slettet", "Importeret"]


def test_import_is_idempotent_and_replaces_the_whole_object(conn):
    object_id = str(uuid.uuid4())
    data = {"title": [("A", since(date(2026, 1, 1)))], "parent": [("p", since(date(2026, 1, 1)))]}
    assert STORE.import_(conn, object_id, data).changed
    conn.commit()
    assert not STORE.import_(conn, object_id, data).changed
    STORE.import_(conn, object_id, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    assert STORE.read(conn, object_id, valid_at=D(date(2026, 2, 1)))["parent"] is None


def _facts(conn, object_id):
    return [(r["field"], r["key"], r["value"], r["valid"]) for r in conn.execute(
        "SELECT field, key, value, valid FROM bt_item_fact WHERE uuid = %(u)s ORDER BY field, key, lower(valid)",
        {"u": object_id})]


def test_deferred_creates_store_what_direct_creates_store_and_are_seen_by_the_next_statement(conn):
    datas = [{"title": [("A", since(date(2026, 1, 1), date(2026, 3, 29))), ("B", since(date(2026, 3, 29)))],
              "tags": [(["x", "y"], since(date(2025, 10, 26)))]},
             {"title": [("C", since(date(2026, 1, 1)))], "parent": [(None, since(date(2026, 1, 1)))]},
             {}]
    direct = [STORE.create(conn, d, municipality_code=101, actor="t", lifecycle="Importeret").uuid for d in datas]
    deferred = DeferredCreates(conn, limit=2)
    queued = [STORE.create(deferred, d, municipality_code=101, actor="t", lifecycle="Importeret").uuid
              for d in datas]
    # Two were sent when the queue reached its limit; the third is sent by the next statement.
    assert conn.execute("SELECT count(*) AS n FROM bt_item WHERE uuid = ANY(%(u)s::uuid[])",
                        {"u": queued}).fetchone()["n"] == 2
    assert STORE.read(deferred, queued[2])["title"] is None
    conn.commit()
    for a, b in zip(direct, queued, strict=True):
        assert _facts(conn, a) == _facts(conn, b)
        assert STORE.read(conn, a, valid_at=D(date(2026, 4, 1))) | {"uuid": None} == \
            STORE.read(conn, b, valid_at=D(date(2026, 4, 1))) | {"uuid": None}
        def regs(u):
            return [(r["no"], r["lifecycle"], r["actor"]) for r in STORE.registrations(conn, u)]

        assert regs(a) == regs(b)
    assert STORE.read(conn, queued[0], valid_at=D(date(2026, 4, 1)))["title"] == "B"


def test_overlapping_values_in_one_write_are_refused(conn):
    with pytest.raises(InvalidData) as exc:
        STORE.create(conn, {"title": [("A", since(date(2026, 1, 1))), ("B", since(date(2026, 2, 1)))]})
    assert exc.value.field == "title"


def test_the_database_refuses_overlapping_facts(conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute("INSERT INTO bt_item_fact (uuid, field, value, valid, registration) VALUES "
                     "(%(u)s, 'title', '\"B\"', tstzrange('2026-06-01', NULL), tstzrange(now(), NULL))",
                     {"u": w.uuid})
    conn.rollback()


def test_concurrent_updates_one_wins_the_other_gets_412_and_retries(app, conn):
    w = STORE.create(conn, {"title": [("A", since(date(2026, 1, 1)))]})
    conn.commit()
    etag = STORE.read(conn, w.uuid)["registration_no"]
    barrier, outcomes = threading.Barrier(2), {}

    def writer(name):
        with psycopg.connect(app.config["DATABASE_URL"], row_factory=dict_row) as c:
            barrier.wait()
            try:
                STORE.update(c, w.uuid, {"title": [(name, since(date(2026, 1, 1)))]}, if_match=etag, actor=name)
                c.commit()
                outcomes[name] = "won"
            except PreconditionFailed as exc:
                c.rollback()
                fresh = exc.current
                STORE.update(c, w.uuid, {"title": [(name, since(date(2026, 1, 1)))]}, if_match=fresh, actor=name)
                c.commit()
                outcomes[name] = "retried"

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("X", "Y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["retried", "won"]
    history = STORE.registrations(conn, w.uuid)
    assert [r["actor"] for r in history[1:]] == [n for n in ("X", "Y") if outcomes[n] == "won"] + \
        [n for n in ("X", "Y") if outcomes[n] == "retried"]
    retried = next(n for n, o in outcomes.items() if o == "retried")
    assert STORE.read(conn, w.uuid)["title"] == retried


# -- property-based comparison with a naive model -------------------------------------------------------------

DAYS = [date(2026, 1, 1), date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 25),
        date(2026, 10, 26), date(2027, 1, 1)]
INSTANTS = sorted({D(d) + timedelta(microseconds=delta) for d in DAYS for delta in (-1, 0)})


@st.composite
def periods(draw):
    lo = draw(st.sampled_from([None, *DAYS]))
    later = [d for d in DAYS if lo is None or d > lo]
    hi = draw(st.sampled_from([None, *later]))
    return Period(D(lo) if lo else None, D(hi) if hi else None)


@st.composite
def single_pieces(draw):
    pieces, used = [], []
    for _ in range(draw(st.integers(1, 2))):
        p = draw(periods())
        if all(not p.overlaps(q) for q in used):
            used.append(p)
            pieces.append((draw(st.sampled_from(["a", "b", None])), p))
    return pieces


@st.composite
def many_pieces(draw):
    pieces = []
    for value in draw(st.lists(st.sampled_from(["x", "y", "z"]), max_size=3, unique=True)):
        pieces.append((value, draw(periods())))
    return pieces


@st.composite
def data(draw):
    out = {}
    if draw(st.booleans()):
        out["title"] = draw(single_pieces())
    if draw(st.booleans()):
        out["tags"] = draw(many_pieces())
    return out


OPS = st.lists(st.tuples(st.sampled_from(["update", "update", "passivate", "delete", "import"]), data()),
               min_size=1, max_size=6)


class Model:
    """Each registration keeps a full copy of the object: obviously right, and slow."""

    def __init__(self):
        self.registrations: list[tuple] = []  # (registered from, lifecycle, {field: [(value, period)]})

    @property
    def current(self):
        return self.registrations[-1]

    @staticmethod
    def merged(snapshot, incoming, replace_all=False):
        new = {} if replace_all else {k: list(v) for k, v in snapshot.items()}
        for name, pieces in incoming.items():
            if name == "tags":
                new[name] = list(pieces)
                continue
            kept = [(v, rest) for v, p in new.get(name, []) for rest in _minus_all(p, [q for _v, q in pieces])]
            new[name] = kept + [(v, p) for v, p in pieces if v is not None]
        return new

    def value_at(self, snapshot, name, t):
        values = sorted(v for v, p in snapshot.get(name, []) if p.contains(t))
        return values if name == "tags" else (values[0] if values else None)

    def read(self, r, v):
        regs = [x for x in self.registrations if x[0] <= r]
        if not regs:
            return None
        _since, lifecycle, snapshot = regs[-1]
        return lifecycle, self.value_at(snapshot, "title", v), self.value_at(snapshot, "tags", v)


def _minus_all(period, holes):
    parts = [period]
    for hole in holes:
        parts = [rest for part in parts for rest in part.minus(hole)]
    return parts


def test_store_matches_the_reference_model(conn):
    @settings(max_examples=40, deadline=None)
    @given(first=data(), ops=OPS)
    def check(first, ops):
        model = Model()
        w = STORE.create(conn, first)
        conn.commit()
        model.registrations.append((STORE.registrations(conn, w.uuid)[-1]["period"].lower, "Opstaaet",
                                    Model.merged({}, first)))
        for op, payload in ops:
            lifecycle = model.current[1]
            try:
                if op == "update":
                    predicted = w.uuid in STORE.changed_ids(conn, {w.uuid: payload})
                    result = STORE.update(conn, w.uuid, payload)
                    snapshot = Model.merged(model.current[2], payload)
                    assert predicted == result.changed, "changed_ids disagrees with update"
                elif op == "import":
                    result = STORE.import_(conn, w.uuid, payload)
                    snapshot = Model.merged({}, payload, replace_all=True)
                else:
                    result = getattr(STORE, op)(conn, w.uuid)
                    snapshot = model.current[2]
                conn.commit()
            except IllegalTransition:
                conn.rollback()
                continue
            if result.changed:
                since_ = STORE.registrations(conn, w.uuid)[-1]["period"].lower
                model.registrations.append((since_, result.lifecycle, snapshot))
            else:
                assert _canon(snapshot) == _canon(model.current[2]), "the store missed a change"
            assert lifecycle in ("Opstaaet", "Importeret", "Rettet", "Passiveret", "Slettet")
        checkpoints = [since_ for since_, _l, _s in model.registrations]
        points = sorted({*checkpoints, *(t - timedelta(microseconds=1) for t in checkpoints)})
        for r in points:
            for v in INSTANTS:
                expected = model.read(r, v)
                try:
                    obj = STORE.read(conn, w.uuid, valid_at=v, registered_at=r, allow_deleted=True)
                    got = (obj["lifecycle"], obj["title"], sorted(obj["tags"]))
                except Exception as exc:  # noqa: BLE001 - NotFound before the first registration
                    got = None if type(exc).__name__ == "NotFound" else exc
                assert got == expected, (r, v)
        # Windows: what ever held in a valid window, as registered in a registration window.
        window_v, window_r = Period(D(DAYS[1]), D(DAYS[4])), Period(checkpoints[0], None)
        seen = {(f.field, f.value) for f in STORE.facts(conn, w.uuid, valid=window_v, registered=window_r)}
        expected = {(name, v) for since_, _l, snap in model.registrations for name, pieces in snap.items()
                    for v, p in pieces if p.overlaps(window_v)}
        assert seen == expected

    check()


def _canon(snapshot):
    from app.bitemporal.periods import coalesce

    return {k: coalesce(list(v)) for k, v in snapshot.items() if v}
