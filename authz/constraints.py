"""Data constraints as query conditions: privileges -> SQL condition / Elasticsearch filter.

The index services (case and document index, benefit index, ...) must answer
only what the caller may see, and must do it *in the query*: filtering after
the query breaks paging, counts and aggregations, and fetches data the caller
may not have.  This module turns a list of privileges into

- `sql_condition(...)`: a psycopg `sql.Composed` WHERE condition plus its
  parameters (every value is a bound parameter; only column names are
  composed, as identifiers);
- `es_filter(...)`: an Elasticsearch query for a filter context (a `bool`
  query, or `match_all` / `match_none` at the extremes);
- `allows(...)`: the same rule in plain Python, the reference the other two
  are tested against (tests/test_constraints.py) and a check for single
  objects already in hand.

Privileges
----------
A privilege is a dict in the shape of `authz.schemas.ConstraintsSchema`: an
agreement's `constraints`, or the constraints of one entry of a user's
privilege profile.  The helpers take a *list* of them:
`[principal.constraints]` for a system; for a user, the constraints of the
profile entries that grant the role the operation needs
(`authz.privileges.constraint_sets`).  To apply both (a system acting for a
user may see what the agreement AND the user allow), build one condition
from each and AND them (give them different `param_prefix`es on the SQL side).

The rule
--------
- A case is allowed when ANY privilege in the list allows it; an empty list
  allows nothing.
- A privilege allows a case when EVERY dimension it constrains matches.  A
  missing key does not restrict that dimension (so `{}` allows everything);
  an empty list matches nothing.  Keys these helpers do not filter on
  (`see_cpr`, `see_name`, `municipalities`) are ignored: they shape answers
  or pick the municipality, they do not select cases.
- `kle`: any pattern matches.  `"P.*"` matches the code P itself and every
  code under it (codes starting with `P.`); a plain `"P"` matches exactly the
  code P; `"*"` matches every code.  Matching is on the dotted structure, so
  `27.*` matches 27 and 27.35.04 but not 270.
- `org_units`: any entry matches.  `{"uuid": U, "subtree": false}` matches a
  case whose responsible unit is U; `{"uuid": U, "subtree": true}` (the
  schema's default) matches U and every unit below it.
- `sensitivity`: a case matches when its level ranks at or below the
  privilege's level (order in `authz.catalogue.Sensitivity`; access to a
  level implies every lower one).  Implemented as membership of the set of
  levels up to the privilege's level, which is the same thing and is a plain
  `= ANY` / `terms` lookup an index can serve.
- `it_systems`: any listed system matches the case's master IT system.
- A case without a value in a dimension (no KLE code, no responsible unit,
  no sensitivity, no IT system; NULL or a missing field) fails every
  privilege that constrains that dimension, even `kle: ["*"]`.  Fail closed.

What a case must carry (denormalised at index time)
---------------------------------------------------
A privilege names an org unit by UUID only, so "U or anything below U"
cannot be answered from the case's unit alone without walking the
organisation tree per query.  Instead every indexed case carries, next to
its responsible `unit`, its `unit_path`: the UUIDs from the organisation's
root down to and including the responsible unit, written when the case is
indexed (and rewritten when units move).  Then

    subtree match  =  U in unit_path          (SQL `&&`, GIN-indexable; ES `terms`)
    exact match    =  unit = U                (btree; ES `terms`)

The exact match needs the path's last element; rather than computing it in
the query (`unit_path[cardinality(unit_path)]`, which no index serves and ES
cannot express), it is stored separately as `unit`, on both sides, so SQL
and Elasticsearch take the same inputs.  Invariant: `unit = unit_path[-1]`.
`allows()` reads only `unit_path` (the unit is its last element).

Column / field types the helpers assume:

    SQL:  kle text, unit uuid, unit_path uuid[], sensitivity text, it_system uuid
    ES:   keyword fields (unit_path a keyword array), UUIDs in canonical
          lower-case form (str(uuid.UUID(...))), absent or null when unknown

Indexes that serve the SQL condition: btree on `kle text_pattern_ops` (or a
C-collated column) for `LIKE '27.%'` and `=`, GIN on `unit_path`, btree on
`unit`, `sensitivity` and `it_system`.  The LIKE pattern is a bound
parameter, so the prefix index serves it in plans made for the actual values
(custom plans, which PostgreSQL keeps choosing for a prepared statement while
they are cheaper than a generic one; `plan_cache_mode = force_custom_plan`
pins that if an index service ever needs it).

The SQL condition is meant for WHERE / FILTER: where a case lacks a value
it may evaluate to NULL rather than FALSE, which a WHERE treats as "not
allowed"; do not negate it.

Malformed privileges (not a list, a key that is not a constraint key, an
unknown sensitivity, a bad KLE pattern or UUID) raise ValueError/TypeError
rather than being read as "no restriction".  In particular, a user's
privilege-profile entries ({role, constraints, ...}) must be unwrapped first
(`authz.privileges.constraint_sets`): passed whole, they would otherwise
look like privileges without constraints.  A privilege that constrains `it_systems` when the caller did
not name an IT-system column/field also raises: the constraint cannot be
applied there, and silently dropping it would widen access.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from authz.catalogue import CONSTRAINT_KEYS, Sensitivity
from authz.schemas import KLE_PATTERN

__all__ = ["allows", "es_filter", "sql_condition"]


@dataclass(frozen=True)
class _Kle:
    any_code: bool  # "*": every case that has a code
    exact: tuple[str, ...]  # codes matched exactly ("27" for both "27" and "27.*")
    prefixes: tuple[str, ...]  # "27." for "27.*"

    @property
    def empty(self) -> bool:
        return not (self.any_code or self.exact or self.prefixes)


@dataclass(frozen=True)
class _Units:
    exact: tuple[str, ...]
    subtree: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.exact or self.subtree)


@dataclass(frozen=True)
class _Rule:
    """One privilege, normalised; None = that dimension is not constrained."""

    kle: _Kle | None
    units: _Units | None
    levels: tuple[str, ...] | None  # the sensitivity levels allowed
    it_systems: tuple[str, ...] | None

    @property
    def matches_nothing(self) -> bool:
        return ((self.kle is not None and self.kle.empty) or (self.units is not None and self.units.empty)
                or self.levels == () or self.it_systems == ())

    @property
    def matches_everything(self) -> bool:
        return self.kle is None and self.units is None and self.levels is None and self.it_systems is None


@dataclass(frozen=True)
class _Compiled:
    everything: bool
    rules: tuple[_Rule, ...]  # empty and not everything: nothing is allowed


def _uuid(value: Any) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None


def _list(privilege: Mapping[str, Any], key: str) -> list[Any] | None:
    value = privilege.get(key)
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"privilege key {key!r} must be a list, got {type(value).__name__}")
    return list(value)


def _compile_kle(patterns: list[Any]) -> _Kle:
    exact: set[str] = set()
    prefixes: set[str] = set()
    any_code = False
    for pattern in patterns:
        if not isinstance(pattern, str) or not KLE_PATTERN.match(pattern):
            raise ValueError(f"not a KLE pattern: {pattern!r}")
        if pattern == "*":
            any_code = True
        elif pattern.endswith(".*"):
            exact.add(pattern[:-2])
            prefixes.add(pattern[:-1])  # "27.*" -> "27."
        else:
            exact.add(pattern)
    if any_code:
        return _Kle(True, (), ())
    return _Kle(False, tuple(sorted(exact)), tuple(sorted(prefixes)))


def _compile_units(entries: list[Any]) -> _Units:
    exact: set[str] = set()
    subtree: set[str] = set()
    for entry in entries:
        if not isinstance(entry, Mapping) or "uuid" not in entry:
            raise ValueError(f"an org_units entry must be {{'uuid': ..., 'subtree': bool}}, got {entry!r}")
        # The schema's default: a unit includes its subtree unless it says otherwise.
        (subtree if entry.get("subtree", True) else exact).add(_uuid(entry["uuid"]))
    return _Units(tuple(sorted(exact - subtree)), tuple(sorted(subtree)))


def _compile_levels(level: Any) -> tuple[str, ...]:
    try:
        top = Sensitivity(level)
    except ValueError:
        raise ValueError(f"not a sensitivity level: {level!r}") from None
    return tuple(s.value for s in Sensitivity if s.rank <= top.rank)


def _compile_rule(privilege: Mapping[str, Any]) -> _Rule:
    if not isinstance(privilege, Mapping):
        raise TypeError(f"a privilege must be a dict of constraints, got {type(privilege).__name__}")
    unknown = set(privilege) - set(CONSTRAINT_KEYS)
    if unknown:
        # E.g. a whole privilege-profile entry ({role, constraints, ...}) instead of its constraints:
        # with no constraint key in it, it would otherwise read as unrestricted.
        raise ValueError(f"not constraint keys: {', '.join(sorted(map(str, unknown)))} "
                         f"(pass each privilege's constraints dict; known keys: {', '.join(CONSTRAINT_KEYS)})")
    kle = _list(privilege, "kle")
    units = _list(privilege, "org_units")
    systems = _list(privilege, "it_systems")
    level = privilege.get("sensitivity")
    return _Rule(
        kle=None if kle is None else _compile_kle(kle),
        units=None if units is None else _compile_units(units),
        levels=None if level is None else _compile_levels(level),
        it_systems=None if systems is None else tuple(sorted({_uuid(s) for s in systems})),
    )


def _compile(privileges: Sequence[Mapping[str, Any]]) -> _Compiled:
    # A single constraints dict passed by mistake would iterate over its keys.
    if isinstance(privileges, Mapping | str | bytes) or not isinstance(privileges, Iterable):
        raise TypeError("privileges must be a list of constraint dicts (wrap a single one in a list)")
    rules = [_compile_rule(p) for p in privileges]
    if any(r.matches_everything for r in rules):
        return _Compiled(True, ())
    return _Compiled(False, tuple(r for r in rules if not r.matches_nothing))


# -- plain Python: the reference ---------------------------------------------------------


def _kle_matches(m: _Kle, code: str | None) -> bool:
    if code is None:
        return False
    return m.any_code or code in m.exact or any(code.startswith(p) for p in m.prefixes)


def _units_match(m: _Units, path: list[str]) -> bool:
    if not path:
        return False
    return path[-1] in m.exact or any(u in m.subtree for u in path)


def _rule_allows(rule: _Rule, kle: str | None, path: list[str], level: str | None, system: str | None) -> bool:
    return ((rule.kle is None or _kle_matches(rule.kle, kle))
            and (rule.units is None or _units_match(rule.units, path))
            and (rule.levels is None or level in rule.levels)
            and (rule.it_systems is None or system in rule.it_systems))


def allows(privileges: Sequence[Mapping[str, Any]], case: Mapping[str, Any]) -> bool:
    """Whether any of `privileges` allows `case`.

    `case`: `kle` (code or None), `unit_path` (UUIDs root..responsible unit,
    may be empty), `sensitivity` (level or None), optionally `it_system`.
    """
    compiled = _compile(privileges)
    if compiled.everything:
        return True
    path = [_uuid(u) for u in case.get("unit_path") or ()]
    system = case.get("it_system")
    system = None if system is None else _uuid(system)
    return any(_rule_allows(r, case.get("kle"), path, case.get("sensitivity"), system) for r in compiled.rules)


# -- SQL -----------------------------------------------------------------------------------


def _column(name: str) -> sql.Identifier:
    """A column name, optionally qualified ("c.kle")."""
    return sql.Identifier(*name.split("."))


def _any_of(parts: list[sql.Composable]) -> sql.Composable:
    return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" OR ").join(parts))


def sql_condition(privileges: Sequence[Mapping[str, Any]], *, kle: str, unit: str, unit_path: str,
                  sensitivity: str, it_system: str | None = None,
                  param_prefix: str = "authz") -> tuple[sql.Composed, dict[str, Any]]:
    """A WHERE condition allowing exactly what `privileges` allow, and its parameters.

    The keyword arguments name the columns (optionally qualified, "c.kle"):
    `kle` text, `unit` uuid, `unit_path` uuid[], `sensitivity` text,
    `it_system` uuid (needed only if a privilege constrains `it_systems`).
    The parameters are named `<param_prefix>_<n>` for psycopg's `%(name)s`
    style; merge them into the query's own parameters.

        cond, params = sql_condition(prv, kle="c.kle", unit="c.unit", unit_path="c.unit_path",
                                     sensitivity="c.sensitivity")
        query = sql.SQL("SELECT c.id FROM sdi_case c WHERE c.owner = %(owner)s AND {}").format(cond)
        conn.execute(query, {"owner": code, **params})
    """
    compiled = _compile(privileges)
    if compiled.everything:
        return sql.Composed([sql.SQL("TRUE")]), {}
    params: dict[str, Any] = {}

    def bind(value: Any, cast: str | None = None) -> sql.Composable:
        name = f"{param_prefix}_{len(params)}"
        params[name] = value
        placeholder = sql.Placeholder(name)
        return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast)) if cast else placeholder

    alternatives: list[sql.Composable] = []
    for rule in compiled.rules:
        conjuncts: list[sql.Composable] = []
        if rule.kle is not None:
            col = _column(kle)
            if rule.kle.any_code:
                conjuncts.append(sql.SQL("{} IS NOT NULL").format(col))
            else:
                parts: list[sql.Composable] = []
                if rule.kle.exact:
                    parts.append(sql.SQL("{} = ANY({})").format(col, bind(list(rule.kle.exact), "text[]")))
                # LIKE with a constant-prefix pattern is what a text_pattern_ops btree serves.  The
                # prefixes are validated KLE numbers (digits and dots), so they hold no LIKE wildcards.
                parts.extend(sql.SQL("{} LIKE {}").format(col, bind(p + "%")) for p in rule.kle.prefixes)
                conjuncts.append(_any_of(parts))
        if rule.units is not None:
            parts = []
            if rule.units.subtree:
                parts.append(sql.SQL("{} && {}").format(_column(unit_path), bind(list(rule.units.subtree), "uuid[]")))
            if rule.units.exact:
                parts.append(sql.SQL("{} = ANY({})").format(_column(unit), bind(list(rule.units.exact), "uuid[]")))
            conjuncts.append(_any_of(parts))
        if rule.levels is not None:
            conjuncts.append(sql.SQL("{} = ANY({})").format(_column(sensitivity), bind(list(rule.levels), "text[]")))
        if rule.it_systems is not None:
            if it_system is None:
                raise ValueError("a privilege constrains it_systems, but no it_system column was named")
            conjuncts.append(sql.SQL("{} = ANY({})").format(_column(it_system), bind(list(rule.it_systems), "uuid[]")))
        alternatives.append(sql.SQL("({})").format(sql.SQL(" AND ").join(conjuncts)))
    if not alternatives:
        return sql.Composed([sql.SQL("FALSE")]), {}
    if len(alternatives) == 1:
        return sql.Composed([alternatives[0]]), params
    return sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives)), params


# -- Elasticsearch ---------------------------------------------------------------------------


def _should(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def kle_ancestors(code: str | None) -> list[str]:
    """A KLE code and every code above it, main group first: 27.35.04 -> [27, 27.35, 27.35.04].

    Indexed next to the code (`kle_path`), it turns the pattern "P.*" into one term lookup
    (P in the path) instead of a prefix query that visits every code under P."""
    if not code:
        return []
    parts = code.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def es_filter(privileges: Sequence[Mapping[str, Any]], *, kle: str, unit: str, unit_path: str,
              sensitivity: str, it_system: str | None = None, kle_path: str | None = None) -> dict[str, Any]:
    """An Elasticsearch query (for a filter context) matching exactly what `privileges` allow.

    The keyword arguments name keyword fields, as in `sql_condition`.  With `kle_path` (a field
    holding `kle_ancestors` of the code), "P.*" patterns are term lookups on it; without, prefix
    queries on `kle`.

        search.search("sdi_case", query={"bool": {"must": [...],
                                                  "filter": [es_filter(prv, kle="kle", ...)]}})
    """
    compiled = _compile(privileges)
    if compiled.everything:
        return {"match_all": {}}
    alternatives: list[dict[str, Any]] = []
    for rule in compiled.rules:
        clauses: list[dict[str, Any]] = []
        if rule.kle is not None:
            if rule.kle.any_code:
                clauses.append({"exists": {"field": kle}})
            else:
                parts: list[dict[str, Any]] = []
                exact = list(rule.kle.exact)
                if kle_path:  # "27.*" also gave the exact code 27, which kle_path holds already
                    exact = [code for code in exact if code + "." not in rule.kle.prefixes]
                if exact:
                    parts.append({"terms": {kle: exact}})
                if kle_path and rule.kle.prefixes:
                    parts.append({"terms": {kle_path: [p.removesuffix(".") for p in rule.kle.prefixes]}})
                else:
                    parts.extend({"prefix": {kle: p}} for p in rule.kle.prefixes)
                clauses.append(_should(parts))
        if rule.units is not None:
            parts = []
            if rule.units.subtree:
                parts.append({"terms": {unit_path: list(rule.units.subtree)}})
            if rule.units.exact:
                parts.append({"terms": {unit: list(rule.units.exact)}})
            clauses.append(_should(parts))
        if rule.levels is not None:
            clauses.append({"terms": {sensitivity: list(rule.levels)}})
        if rule.it_systems is not None:
            if it_system is None:
                raise ValueError("a privilege constrains it_systems, but no it_system field was named")
            clauses.append({"terms": {it_system: list(rule.it_systems)}})
        alternatives.append({"bool": {"filter": clauses}})
    if not alternatives:
        return {"match_none": {}}
    return _should(alternatives)
