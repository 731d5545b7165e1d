"""Data constraints as query conditions (authz/constraints.py).

The property test draws random privilege lists from a small universe (a
little org tree, a handful of KLE codes on three levels plus near misses
such as 270, the four sensitivity levels, two IT systems) and checks that
the SQL condition run in the real PostgreSQL, the Elasticsearch filter run
against a real index and the plain-Python `allows` select exactly the same
cases.  Rather than random cases, the cases are every combination of the
universe's values, missing ones included: a superset of any sample
hypothesis could draw, loaded once per test into a temporary table and an
index under the test app's prefix.  The example tests pin the semantics down
in words."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from psycopg import sql

from app.db import get_db
from app.search import get_search
from authz.catalogue import Sensitivity
from authz.constraints import allows, es_filter, kle_ancestors, sql_condition
from authz.schemas import ConstraintsSchema

# -- the universe --------------------------------------------------------------------------


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:test:{name}"))


#   ROOT ─┬─ A ─┬─ A1 ── A1X
#         │     └─ A2
#         └─ B ──── B1
PARENT = {"ROOT": None, "A": "ROOT", "A1": "A", "A1X": "A1", "A2": "A", "B": "ROOT", "B1": "B"}
UNIT = {name: _uuid(f"unit:{name}") for name in PARENT}
UNIT["ELSEWHERE"] = _uuid("unit:elsewhere")  # in privileges only: a unit no case belongs to


def path_of(name: str | None) -> list[str]:
    path = []
    while name is not None:
        path.insert(0, UNIT[name])
        name = PARENT[name]
    return path


CASE_KLE = [None, "27", "27.35", "27.35.04", "27.35.05", "27.36", "27.36.01", "32", "32.01", "32.01.02", "32.10",
            "270", "27.350", "32.010"]  # the last three: not KLE codes, but what a sloppy prefix match takes
KLE_PATTERNS = ["*", "27", "27.*", "27.35", "27.35.*", "27.35.04", "27.35.04.*", "27.36.*", "32.*", "32.01.*",
                "32.01.02", "32.10", "33.*"]
LEVELS = [s.value for s in Sensitivity]
SYSTEM = {name: _uuid(f"system:{name}") for name in ("S1", "S2", "S3")}  # S3: in privileges only

CASES = [
    {"id": n, "kle": kle, "unit_path": path_of(unit), "sensitivity": level, "it_system": system}
    for n, (kle, unit, level, system) in enumerate(itertools.product(
        CASE_KLE, [None, *PARENT], [None, *LEVELS], [None, SYSTEM["S1"], SYSTEM["S2"]]))
]
FIELDS = {"kle": "kle", "unit": "unit", "unit_path": "unit_path", "sensitivity": "sensitivity",
          "it_system": "it_system"}

org_unit = st.fixed_dictionaries({"uuid": st.sampled_from(sorted(UNIT.values()))},
                                 optional={"subtree": st.booleans()})
DIMENSIONS = {
    "kle": st.lists(st.sampled_from(KLE_PATTERNS), min_size=1, max_size=3),
    "org_units": st.lists(org_unit, min_size=1, max_size=3),
    "sensitivity": st.sampled_from(LEVELS),
    "it_systems": st.lists(st.sampled_from(sorted(SYSTEM.values())), min_size=1, max_size=2),
}
# Every drawn privilege constrains at least one dimension and no list is empty: left to itself,
# hypothesis favours `{}` and `[]`, which allow everything or nothing and compare nothing
# interesting.  Those degenerate shapes are pinned with @example below instead.
privilege = st.sets(st.sampled_from(sorted(DIMENSIONS)), min_size=1).flatmap(
    lambda keys: st.fixed_dictionaries({k: DIMENSIONS[k] for k in sorted(keys)},
                                       optional={"see_cpr": st.booleans(), "see_name": st.booleans()}))
privilege_lists = st.lists(privilege, min_size=1, max_size=3)
DEGENERATE = [[], [{}], [{"see_cpr": True}], [{"kle": []}], [{"org_units": [], "kle": ["27.*"]}, {"kle": ["32.*"]}],
              [{"it_systems": []}]]


# -- the two real back ends ----------------------------------------------------------------


CASE_TABLE = """
    CREATE TEMP TABLE constraint_case (
        id int PRIMARY KEY, kle text, unit uuid, unit_path uuid[] NOT NULL, sensitivity text, it_system uuid
    ) ON COMMIT DROP
"""


def load_cases(conn) -> None:
    conn.execute(CASE_TABLE)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO constraint_case (id, kle, unit, unit_path, sensitivity, it_system) "
            "VALUES (%(id)s, %(kle)s, %(unit)s, %(unit_path)s::uuid[], %(sensitivity)s, %(it_system)s)",
            [{**c, "unit": c["unit_path"][-1] if c["unit_path"] else None} for c in CASES])


def sql_ids(conn, privileges) -> set[int]:
    condition, params = sql_condition(privileges, **FIELDS)
    note(f"SQL: {condition.as_string(conn)}  {params}")
    query = sql.SQL("SELECT id FROM constraint_case WHERE {}").format(condition)
    with conn.transaction():  # a savepoint: one failing example must not abort the others
        return {row["id"] for row in conn.execute(query, params)}


def make_index(app) -> str:
    search = get_search()
    name = f"{app.config['SEARCH_INDEX_PREFIX']}constraint_cases"
    keyword = {"type": "keyword"}
    search.client.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": 0},
                                 mappings={"dynamic": "strict", "properties": {
                                     "kle": keyword, "kle_path": keyword, "unit": keyword, "unit_path": keyword,
                                     "sensitivity": keyword, "it_system": keyword}})
    operations = []
    for c in CASES:
        operations.append({"index": {"_index": name, "_id": str(c["id"])}})
        doc = {"unit_path": c["unit_path"], "unit": c["unit_path"][-1] if c["unit_path"] else None,
               "kle_path": kle_ancestors(c["kle"]), **{k: c[k] for k in ("kle", "sensitivity", "it_system")}}
        operations.append({k: v for k, v in doc.items() if v is not None})
    result = search.client.bulk(operations=operations, refresh=True)
    assert not result["errors"]
    return name


def es_ids(index: str, privileges, **extra) -> set[int]:
    query = es_filter(privileges, **FIELDS, **extra)
    note(f"ES: {query}")
    found = get_search().client.search(index=index, query={"bool": {"filter": [query]}},
                                       size=len(CASES) + 1, source=False)
    return {int(hit["_id"]) for hit in found["hits"]["hits"]}


def describe(ids: set[int]) -> list[dict]:
    return [CASES[i] for i in sorted(ids)][:5]


# -- the property --------------------------------------------------------------------------


def _degenerate_examples(func):
    for privileges in DEGENERATE:
        func = example(privileges=privileges, as_loaded=False)(func)
    return func


def test_sql_es_and_python_agree_on_random_privileges(app):
    """State (database, index) is built here, once; hypothesis runs the inner function, so
    no function-scoped fixture is shared across its examples behind its back."""
    with app.app_context(), get_db().transaction() as conn:
        load_cases(conn)
        index = make_index(app)

        @settings(max_examples=60, deadline=None)
        @given(privileges=privilege_lists, as_loaded=st.booleans())
        @_degenerate_examples
        def check(privileges, as_loaded):
            schema = ConstraintsSchema()
            assert all(schema.validate(p) == {} for p in privileges)  # the generator makes real shapes
            if as_loaded:  # what the API hands over after validation: UUID objects, subtree filled in
                privileges = [schema.load(p) for p in privileges]
            expected = {c["id"] for c in CASES if allows(privileges, c)}
            in_sql = sql_ids(conn, privileges)
            in_es = es_ids(index, privileges)
            by_path = es_ids(index, privileges, kle_path="kle_path")  # "P.*" as terms on the ancestors
            assert in_sql == expected, (f"SQL only: {describe(in_sql - expected)}; "
                                        f"Python only: {describe(expected - in_sql)}")
            assert in_es == expected, (f"ES only: {describe(in_es - expected)}; "
                                       f"Python only: {describe(expected - in_es)}")
            assert by_path == expected, (f"ES (kle_path) only: {describe(by_path - expected)}; "
                                         f"Python only: {describe(expected - by_path)}")

        check()
        conn.rollback()


# -- the semantics, by example -------------------------------------------------------------


def case(kle="27.35.04", unit="A1", sensitivity="IKKE_FORTROLIGE_DATA", it_system=None) -> dict:
    return {"kle": kle, "unit_path": path_of(unit), "sensitivity": sensitivity, "it_system": it_system}


def test_kle_prefix_pattern_covers_the_code_and_everything_under_it():
    prv = [{"kle": ["27.*"]}]
    assert allows(prv, case(kle="27"))
    assert allows(prv, case(kle="27.35"))
    assert allows(prv, case(kle="27.35.04"))
    assert not allows(prv, case(kle="270"))
    assert not allows(prv, case(kle="2"))
    assert not allows(prv, case(kle="32.27"))
    assert not allows(prv, case(kle=None))
    assert allows([{"kle": ["32.01.*"]}], case(kle="32.01.02"))
    assert not allows([{"kle": ["32.01.*"]}], case(kle="32.010"))


def test_plain_kle_pattern_is_exact_and_star_needs_a_code():
    assert allows([{"kle": ["27.35"]}], case(kle="27.35"))
    assert not allows([{"kle": ["27.35"]}], case(kle="27.35.04"))
    assert not allows([{"kle": ["27.35"]}], case(kle="27"))
    assert allows([{"kle": ["*"]}], case(kle="99.99.99"))
    assert not allows([{"kle": ["*"]}], case(kle=None))


def test_org_unit_subtree_versus_exact():
    subtree = [{"org_units": [{"uuid": UNIT["A"], "subtree": True}]}]
    exact = [{"org_units": [{"uuid": UNIT["A"], "subtree": False}]}]
    assert [allows(subtree, case(unit=u)) for u in ("A", "A1", "A1X", "A2", "ROOT", "B", None)] == \
        [True, True, True, True, False, False, False]
    assert [allows(exact, case(unit=u)) for u in ("A", "A1", "A1X", "ROOT")] == [True, False, False, False]
    # The schema's default is the subtree.
    assert allows([{"org_units": [{"uuid": UNIT["A"]}]}], case(unit="A1X"))


def test_sensitivity_level_includes_every_lower_level():
    prv = [{"sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"}]
    assert [allows(prv, case(sensitivity=level)) for level in LEVELS] == [True, True, False, False]
    assert all(allows([{"sensitivity": "VIP_SAGER"}], case(sensitivity=level)) for level in LEVELS)
    assert not allows([{"sensitivity": "VIP_SAGER"}], case(sensitivity=None))


def test_missing_key_is_unrestricted_empty_list_is_nothing_and_any_privilege_suffices():
    assert allows([{}], case(kle=None, unit=None, sensitivity=None))
    assert not allows([], case())
    assert not allows([{"kle": []}], case())
    assert not allows([{"org_units": []}], case())
    both = [{"kle": ["27.*"], "sensitivity": "IKKE_FORTROLIGE_DATA"}, {"kle": ["32.*"], "sensitivity": "VIP_SAGER"}]
    assert allows(both, case(kle="27.35", sensitivity="IKKE_FORTROLIGE_DATA"))
    assert not allows(both, case(kle="27.35", sensitivity="VIP_SAGER"))  # no single privilege allows both
    assert allows(both, case(kle="32.01", sensitivity="VIP_SAGER"))
    # Keys that do not select cases do not restrict.
    assert allows([{"see_cpr": False, "see_name": False, "municipalities": [101]}], case())


def test_it_systems_match_the_master_system():
    prv = [{"it_systems": [SYSTEM["S1"]]}]
    assert allows(prv, case(it_system=SYSTEM["S1"]))
    assert not allows(prv, case(it_system=SYSTEM["S2"]))
    assert not allows(prv, case(it_system=None))
    with pytest.raises(ValueError, match="it_system"):
        sql_condition(prv, kle="kle", unit="unit", unit_path="unit_path", sensitivity="sensitivity")
    with pytest.raises(ValueError, match="it_system"):
        es_filter(prv, kle="kle", unit="unit", unit_path="unit_path", sensitivity="sensitivity")


@pytest.mark.parametrize("privileges, error", [
    ({"kle": ["27.*"]}, TypeError),  # one constraints dict, not a list of them
    ([{"kle": "27.*"}], TypeError),
    ([{"kle": ["27.3"]}], ValueError),
    ([{"kle": ["27%"]}], ValueError),
    ([{"sensitivity": "SECRET"}], ValueError),
    ([{"org_units": [{"uuid": "not-a-uuid"}]}], ValueError),
    ([{"org_units": {"uuid": UNIT["A"]}}], TypeError),
    ([{"it_systems": ["x"]}], ValueError),
    ([{"role": "urn:x:read", "constraints": {"kle": ["27.*"]}}], ValueError),  # a profile entry, not unwrapped
])
def test_malformed_privileges_are_refused_not_read_as_unrestricted(privileges, error):
    with pytest.raises(error):
        allows(privileges, case())
    with pytest.raises(error):
        sql_condition(privileges, kle="kle", unit="unit", unit_path="unit_path", sensitivity="sensitivity",
                      it_system="it_system")


def test_extremes_are_constants():
    kw = {"kle": "kle", "unit": "unit", "unit_path": "unit_path", "sensitivity": "sensitivity"}
    assert sql_condition([], **kw)[0].as_string(None) == "FALSE"
    assert sql_condition([{"kle": []}], **kw)[0].as_string(None) == "FALSE"
    assert sql_condition([{"kle": ["27"]}, {}], **kw) == (sql.Composed([sql.SQL("TRUE")]), {})
    assert es_filter([], **kw) == {"match_none": {}}
    assert es_filter([{"sensitivity": "VIP_SAGER"}, {"see_cpr": True}], **kw) == {"match_all": {}}


# -- composing and indexing in PostgreSQL ---------------------------------------------------


def test_agreement_and_user_conditions_compose_in_one_query(app):
    """A system acting for a user: the agreement's constraints AND the user's privileges."""
    agreement = [{"kle": ["27.*"]}]
    user = [{"sensitivity": "IKKE_FORTROLIGE_DATA"}, {"org_units": [{"uuid": UNIT["B"]}]}]
    a_cond, a_params = sql_condition(agreement, **FIELDS, param_prefix="agr")
    u_cond, u_params = sql_condition(user, **FIELDS, param_prefix="usr")
    assert not set(a_params) & set(u_params)
    query = sql.SQL("SELECT id FROM constraint_case WHERE {} AND {}").format(a_cond, u_cond)
    with app.app_context(), get_db().transaction() as conn:
        load_cases(conn)
        got = {row["id"] for row in conn.execute(query, {**a_params, **u_params})}
        conn.rollback()
    assert got == {c["id"] for c in CASES if allows(agreement, c) and allows(user, c)}
    assert got


@pytest.mark.parametrize("privilege", [
    {"kle": ["27.*", "32.01.02"]},
    {"org_units": [{"uuid": UNIT["A"], "subtree": True}, {"uuid": UNIT["B"], "subtree": False}]},
    {"sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"},
    {"it_systems": [SYSTEM["S1"]]},
], ids=["kle", "org_units", "sensitivity", "it_systems"])
def test_each_dimension_can_be_answered_from_an_index(app, privilege):
    condition, params = sql_condition([privilege], **FIELDS)
    with app.app_context(), get_db().transaction() as conn:
        load_cases(conn)
        conn.execute("CREATE INDEX ON constraint_case (kle text_pattern_ops)")
        conn.execute("CREATE INDEX ON constraint_case USING gin (unit_path)")
        for column in ("unit", "sensitivity", "it_system"):
            conn.execute(sql.SQL("CREATE INDEX ON constraint_case ({})").format(sql.Identifier(column)))
        conn.execute("ANALYZE constraint_case")
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row["QUERY PLAN"] for row in conn.execute(
            sql.SQL("EXPLAIN SELECT id FROM constraint_case WHERE {}").format(condition), params))
        conn.rollback()
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
