"""Organisation writes: the store's operations plus the rules the store does not know.

Every write goes through `write`, `passivate` or `delete` here (the API and
the sync feed alike), inside the caller's transaction, so a refused write
leaves nothing behind:

- type codes (unit type, function type, address type, KLE aspect) must be
  classes of the seeded facets; a KLE task names a KLE code (its class UUID
  is filled in) or a class UUID;
- relations point to objects of the same municipality (a user's person, a
  function's units and users, a unit's IT systems);
- the unit hierarchy rules of organisation/hierarchy.py, at every point in
  valid time.

Problems are raised as `OrgError` (status, code, field, detail); the API turns
them into problem+json and the sync feed into per-record rejections.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import psycopg
from psycopg import sql

from app.bitemporal.periods import Period
from app.bitemporal.store import (
    Gone,
    IllegalTransition,
    InvalidData,
    NotFound,
    Pieces,
    PreconditionFailed,
    WriteResult,
)
from classification import service as klassifikation
from classification.model import KLE_EMNEPLAN
from classification.seed_data import facet_uuid
from organisation.hierarchy import HierarchyError, check_unit
from organisation.model import STORES
from organisation.search import queue_dependents

NAMESPACE = uuidlib.UUID("5b0f7f64-1c55-4b8e-9a4e-6c2b1a7e0d11")
TYPE_FACETS = {"unit_type": "enhedstype", "function_type": "funktionstype"}
RELATIONS = {  # kind → field → kind of the related objects
    "bruger": {"person": "person"},
    "funktion": {"units": "enhed", "users": "bruger"},
    "enhed": {"it_systems": "itsystem"},
}


class OrgError(Exception):
    def __init__(self, status: int, code: str, field: str | None, detail: str):
        super().__init__(detail)
        self.status, self.code, self.field, self.detail = status, code, field, detail


def organisation_uuid(municipality_code: int) -> str:
    """The stable UUID of a municipality's Organisation object."""
    return str(uuidlib.uuid5(NAMESPACE, f"organisation:{municipality_code}"))


def ensure_organisation(conn: psycopg.Connection, municipality_code: int, actor: str | None = None) -> str:
    """The municipality's Organisation object, made from the registry entry the first time."""
    from organisation.model import organisationer

    uuid = organisation_uuid(municipality_code)
    if conn.execute("SELECT 1 FROM organisation WHERE uuid = %(u)s", {"u": uuid}).fetchone() is None:
        m = conn.execute("SELECT name, cvr FROM municipality WHERE code = %(m)s", {"m": municipality_code}).fetchone()
        if m is None:
            raise OrgError(404, "unknown_municipality", None, f"No municipality {municipality_code}.")
        always = Period()
        organisationer.import_(conn, uuid, {"user_key": [(str(municipality_code), always)],
                                            "name": [(m["name"], always)], "cvr": [(m["cvr"], always)]},
                               municipality_code=municipality_code, actor=actor)
    return uuid


def _codes(conn, cache: dict, facet_key: str) -> set[str]:
    if facet_key not in cache:
        cache[facet_key] = set(klassifikation.uuids_by_code(conn, facet_uuid(facet_key)))
    return cache[facet_key]


def _values(pieces: Pieces) -> list[Any]:
    return [v for v, _p in pieces if v is not None]


def check_references(conn: psycopg.Connection, kind: str, data: dict[str, Pieces], municipality_code: int,
                     cache: dict | None = None) -> dict[str, Pieces]:
    """`data` with KLE task classes filled in; OrgError(422) naming the field for a bad code or relation."""
    cache = {} if cache is None else cache
    for name, facet_key in TYPE_FACETS.items():
        for value in _values(data.get(name, [])):
            if value not in _codes(conn, cache, facet_key):
                raise OrgError(422, "unknown_type", name, f"{value!r} is not a code of the facet {facet_key}.")
    for value in _values(data.get("addresses", [])):
        if value.get("type") not in _codes(conn, cache, "adressetype"):
            raise OrgError(422, "unknown_type", "addresses.type",
                           f"{value.get('type')!r} is not a code of the facet adressetype.")
    if "tasks" in data:
        filled = []
        for value, period in data["tasks"]:
            if value.get("aspect") not in _codes(conn, cache, "kle_aspekt"):
                raise OrgError(422, "unknown_type", "tasks.aspect",
                               f"{value.get('aspect')!r} is not a code of the facet kle_aspekt.")
            klasse = value.get("klasse")
            code = value.get("code")
            if klasse is None and code:
                kle = cache.setdefault("kle", {})
                if code not in kle:
                    kle[code] = klassifikation.uuid_of_code(conn, KLE_EMNEPLAN, code)
                klasse = kle[code]
            if klasse is None:
                raise OrgError(422, "unknown_kle_code", "tasks.code", f"No KLE subject {code!r}.")
            filled.append(({"klasse": str(klasse), "code": code, "aspect": value["aspect"]}, period))
        data = {**data, "tasks": filled}
    known = cache.setdefault("known", set())  # (kind, uuid) written in this municipality by this caller
    for name, target in RELATIONS.get(kind, {}).items():
        wanted = sorted({str(v) for v in _values(data.get(name, [])) if (target, str(v)) not in known})
        if not wanted:
            continue
        found = {str(r["uuid"]) for r in conn.execute(
            sql.SQL("SELECT uuid FROM {} WHERE uuid = ANY(%(u)s::uuid[]) AND municipality_code = %(m)s "
                    "AND lifecycle <> 'Slettet'").format(sql.Identifier(target)),
            {"u": wanted, "m": municipality_code})}
        missing = [u for u in wanted if u not in found]
        if missing:
            raise OrgError(422, "unknown_reference", name,
                           f"No {target} {missing[0]} in municipality {municipality_code}.")
    return data


def _store_errors(exc: Exception) -> OrgError:
    if isinstance(exc, NotFound):
        return OrgError(404, "not_found", None, str(exc))
    if isinstance(exc, Gone):
        return OrgError(410, "gone", None, str(exc))
    if isinstance(exc, PreconditionFailed):
        return OrgError(412, "precondition_failed", None,
                        f"The object has changed since (registration {exc.current}); read it again.")
    if isinstance(exc, IllegalTransition):
        return OrgError(409, "illegal_transition", None, str(exc))
    if isinstance(exc, InvalidData):
        return OrgError(422, "invalid_data", exc.field_name, str(exc))
    raise exc


def owner(conn: psycopg.Connection, kind: str, object_id: str) -> int | None:
    """The municipality an existing object belongs to, or None if there is no such object."""
    row = conn.execute(sql.SQL("SELECT municipality_code FROM {} WHERE uuid = %(u)s").format(sql.Identifier(kind)),
                       {"u": object_id}).fetchone()
    return None if row is None else row["municipality_code"]


def write(conn: psycopg.Connection, kind: str, op: str, object_id: str | None, data: dict[str, Pieces], *,
          municipality_code: int, if_match: int | None = None, actor: str | None = None,
          note: str | None = None, cache: dict | None = None, new: bool = False) -> WriteResult:
    """create (server UUID unless given), import (create or overwrite by UUID) or update (per-period merge).

    `new`: the caller has just seen that no object has this UUID (the sync feed reads the states
    of a batch ahead), so a create or import skips the lookups and writes in one statement.
    `cache` (a dict the caller keeps for many writes) remembers type codes, KLE codes and the
    objects written, whose existence then needs no query when later writes refer to them."""
    store = STORES[kind]
    cache = {} if cache is None else cache
    if new and op in ("create", "import"):
        data = check_references(conn, kind, data, municipality_code, cache)
        try:
            result = store.create(conn, data, uuid=object_id, municipality_code=municipality_code, actor=actor,
                                  note=note, lifecycle="Opstaaet" if op == "create" else "Importeret")
        except InvalidData as exc:
            raise _store_errors(exc) from None
        return _written(conn, kind, result, municipality_code, cache, new=True,
                        users=[str(v) for v in _values(data.get("users", []))])
    if object_id is not None:
        existing = owner(conn, kind, object_id)
        if existing is not None and existing != municipality_code:
            # Another municipality's object: as if it did not exist, and not to be overwritten.
            raise OrgError(404 if op == "update" else 409, "not_found" if op == "update" else "uuid_taken", None,
                           f"No {kind} {object_id} in municipality {municipality_code}.")
    data = check_references(conn, kind, data, municipality_code, cache)
    try:
        if op == "create":
            result = store.create(conn, data, uuid=object_id, municipality_code=municipality_code, actor=actor,
                                  note=note)
        elif op == "import":
            result = store.import_(conn, object_id, data, municipality_code=municipality_code, actor=actor,
                                   note=note)
        else:
            result = store.update(conn, object_id, data, if_match=if_match, actor=actor, note=note)
    except (NotFound, Gone, PreconditionFailed, IllegalTransition, InvalidData) as exc:
        raise _store_errors(exc) from None
    return _written(conn, kind, result, municipality_code, cache)


def _written(conn, kind: str, result: WriteResult, municipality_code: int, cache: dict, *,
             new: bool = False, users: list[str] = ()) -> WriteResult:
    """The rules and the search queueing after a write.

    Objects created in this transaction (`cache["fresh"]`; a caller that keeps `cache` across
    transactions resets it per transaction) are queued for search by their own insert, so a new
    function does not touch them again, and a new unit or person has nothing that shows it yet."""
    if kind == "enhed" and result.changed:
        _check_hierarchy(conn, result.uuid, municipality_code, new=new)
    fresh = cache.setdefault("fresh", set())
    if new:
        fresh.add((kind, result.uuid))
        stale = [u for u in users if ("bruger", u) not in fresh]
        if kind == "funktion" and stale:  # users written before this transaction show their engagements
            conn.execute("UPDATE bruger SET updated_at = updated_at WHERE uuid = ANY(%(u)s::uuid[])", {"u": stale})
    if result.changed and not new:
        queue_dependents(conn, kind, result.uuid)  # search documents that show this object's data
    cache.setdefault("known", set()).add((kind, result.uuid))
    return result


def _check_hierarchy(conn, unit: str, municipality_code: int, *, new: bool = False) -> None:
    try:
        check_unit(conn, unit, municipality_code, new=new)
    except HierarchyError as exc:
        raise OrgError(422 if exc.code != "unit_has_children" else 409, exc.code, exc.field, exc.detail) from None


def end(conn: psycopg.Connection, kind: str, op: str, object_id: str, *, municipality_code: int,
        if_match: int | None = None, actor: str | None = None, note: str | None = None,
        cache: dict | None = None) -> WriteResult:
    """passivate or delete (logical); a unit that is still some unit's parent is refused (409)."""
    if cache is not None and op == "delete":
        cache.setdefault("known", set()).discard((kind, object_id))
    if owner(conn, kind, object_id) != municipality_code:
        raise OrgError(404, "not_found", None, f"No {kind} {object_id} in municipality {municipality_code}.")
    store = STORES[kind]
    try:
        result = (store.passivate if op == "passivate" else store.delete)(conn, object_id, if_match=if_match,
                                                                           actor=actor, note=note)
    except (NotFound, Gone, PreconditionFailed, IllegalTransition, InvalidData) as exc:
        raise _store_errors(exc) from None
    if kind == "enhed":
        _check_hierarchy(conn, object_id, municipality_code)
    if result.changed:
        queue_dependents(conn, kind, object_id)
    return result
