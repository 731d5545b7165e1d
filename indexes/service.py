"""The one write path of the case/document and benefit indexes: `apply` a batch of writes.

A single PUT, PATCH, DELETE or scrub is a batch of one (`Writer`); a bulk upload or an initial load
is a batch of up to a thousand (indexes/bulk.py).  The same rules decide every write:

- **Who**: the calling system must be the record's master system (`master_system`), and an
  existing record's current master; a record belongs to the municipality it was written for, and
  another municipality's UUID is answered as taken (409), never overwritten or shown.
- **Order**: every write carries the sender's `changed_at`.  A write older than what the index
  holds is answered `stale` and changes nothing, so retries, duplicates and out-of-order
  deliveries all end in the newest state.  The same `changed_at` with the same content is
  `unchanged`; with different content it is a conflict (409): two versions under one stamp.
  A removal leaves a tombstone with its stamp, so an older import arriving after it cannot bring
  the record back; a newer one can.
- **References**: KLE codes valid on the record's date, the unit in the municipality's
  organisation (indexes/references.py).
- **History**: every accepted write is a registration (index_registration); a removal deletes
  the record data of the object and of all its registrations (physical deletion), keeping only
  when and by whom.

Refused writes write nothing, so a batch needs no savepoints; the rows of a batch are written with
COPY and a few set-based statements (indexes/batch_sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from marshmallow import ValidationError

from app.json import read_json
from indexes import batch_sql
from indexes import records as rec
from indexes.references import References

# Optional relations a sender may scrub (remove) from a record: field → its empty value.
SCRUBBABLE = {
    "sag": {"related_cases": [], "documents": [], "other_classes": [], "case_workers": [], "access_list": [],
            "action_facet": None},
    "dokument": {"related_documents": [], "action_facet": None},
    "bevilling": {"case": None, "action_facet": None},
    "effektuering": {"grant": None},
}


class IndexWriteError(Exception):
    """A refused write: HTTP status, problem code, the field at fault (a dotted path) and why."""

    def __init__(self, status: int, code: str, field: str | None, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.status, self.code, self.field, self.detail = status, code, field, detail
        self.errors = errors or ([{"field": field, "detail": detail}] if field else [])


@dataclass(frozen=True)
class Outcome:
    uuid: str
    kind: str
    status: str  # accepted | unchanged | stale
    registration_no: int | None


@dataclass
class Item:
    """One write of a batch: an import (`record` set) or a removal (`record` None)."""

    kind: str
    uuid: str
    changed_at: datetime
    record: dict | None = None
    operation: str = "import"  # import | update | scrub | remove
    outcome: Outcome | None = None
    error: IndexWriteError | None = None
    document: str | None = field(default=None, repr=False)  # the record as stored (JSON text)


def invalid(exc: ValidationError) -> IndexWriteError:
    errors = rec.flatten_errors(exc.messages)
    first = errors[0] if errors else {"field": None, "detail": "Invalid record."}
    return IndexWriteError(422, "invalid_record", first["field"],
                           f"{len(errors)} problem(s) in the record; the first: {first['field']}: {first['detail']}",
                           errors)


def load(kind: str, obj: dict) -> dict:
    try:
        return rec.load_record(kind, obj)
    except ValidationError as exc:
        raise invalid(exc) from None


def _owner_error(item: Item, current: dict | None, municipality_code: int, system_id: str | None):
    if current is not None and (current["municipality_code"] != municipality_code or current["kind"] != item.kind):
        return IndexWriteError(409, "uuid_taken", "uuid", f"UUID {item.uuid} is taken by another record.")
    if system_id is None:
        return None
    if item.record is not None and str(item.record["master_system"]) != system_id:
        return IndexWriteError(403, "not_master_system", "master_system",
                               "The calling system must be the record's master system.")
    if current is not None and current["removed_at"] is None and current["master_system"] != system_id:
        return IndexWriteError(403, "not_master_system", "master_system",
                               f"Only the record's master system ({current['master_system']}) may change it.")
    return None


def _decide(item: Item, current: dict | None, municipality_code: int, system_id: str | None,
            refs: References) -> str | None:
    """Sets item.outcome or item.error, or returns what to write: new | update | remove | tombstone."""
    item.error = _owner_error(item, current, municipality_code, system_id)
    if item.error:
        return None
    no = current["registration_no"] if current else None
    if current is not None and item.changed_at < current["changed_at"]:
        item.outcome = Outcome(item.uuid, item.kind, "stale", no)
        return None
    if item.record is None:  # removal
        if current is None:
            return "tombstone"
        if current["removed_at"] is not None:
            item.outcome = Outcome(item.uuid, item.kind, "unchanged", no)
            return None
        return "remove"
    if item.document is None:  # the bulk load's validation processes make it ahead
        item.document = rec.document_json(item.record)
    if current is not None and item.changed_at == current["changed_at"]:
        if current["removed_at"] is not None or current["record"] == read_json(item.document):
            item.outcome = Outcome(item.uuid, item.kind, "unchanged", no)
        else:
            item.error = IndexWriteError(409, "version_conflict", "changed_at", "The index holds a different "
                                         "record with this changed_at; send a later one.")
        return None
    problems = refs.problems(item.kind, item.record)
    if problems:
        item.error = IndexWriteError(422, "unknown_reference", problems[0]["field"], problems[0]["detail"], problems)
        return None
    return "new" if current is None else "update"


def apply(conn: psycopg.Connection, municipality_code: int, system_id: str | None, items: list[Item],
          refs: References) -> None:
    """Decide and write a batch in the caller's transaction; each item ends with an outcome or an
    error.  Items naming the same UUID are applied in order (a later one sees the earlier one)."""
    while items:
        seen, now, later = set(), [], []
        for item in items:
            (later if item.uuid in seen else now).append(item)
            seen.add(item.uuid)
        current = batch_sql.lock(conn, [i.uuid for i in now])
        plan: dict[str, list[Item]] = {"new": [], "update": [], "remove": [], "tombstone": []}
        for item in now:
            action = _decide(item, current.get(item.uuid), municipality_code, system_id, refs)
            if action:
                plan[action].append(item)
                base = current.get(item.uuid)
                no = 0 if action == "tombstone" else (base["registration_no"] + 1 if base else 1)
                item.outcome = Outcome(item.uuid, item.kind, "accepted", no)
        batch_sql.write(conn, municipality_code, system_id, plan, refs)
        items = later


class Writer:
    """Single writes for one calling system and municipality, in the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, municipality_code: int, system_id: str | None):
        self.conn, self.municipality_code, self.system_id = conn, municipality_code, system_id

    def _one(self, item: Item) -> Outcome:
        refs = References.named(self.conn, self.municipality_code, [item.record] if item.record else [])
        apply(self.conn, self.municipality_code, self.system_id, [item], refs)
        if item.error:
            raise item.error
        return item.outcome

    def _current(self, kind: str, uuid: str) -> dict:
        current = batch_sql.lock(self.conn, [uuid]).get(uuid)
        if current is None or current["removed_at"] is not None or current["kind"] != kind \
                or current["municipality_code"] != self.municipality_code:
            raise IndexWriteError(404, "not_found", None, f"No {kind} {uuid}.")
        return current

    def import_(self, kind: str, obj: dict) -> Outcome:
        """Create or overwrite a whole record by its UUID."""
        record = load(kind, obj)
        return self._one(Item(kind, record["uuid"], record["changed_at"], record))

    def update(self, kind: str, uuid: str, patch: dict) -> Outcome:
        """Partial: the fields sent replace the record's (a list replaces the whole list)."""
        current = self._current(kind, uuid)
        if "uuid" in patch and str(patch["uuid"]) != uuid:
            raise IndexWriteError(422, "invalid_record", "uuid", "The uuid cannot change.")
        record = load(kind, {**current["record"], **patch, "uuid": uuid})
        return self._one(Item(kind, uuid, record["changed_at"], record, "update"))

    def scrub(self, kind: str, uuid: str, fields: list[str], changed_at: datetime) -> Outcome:
        """Remove optional relations (the named fields) from a record."""
        bad = [f for f in fields if f not in SCRUBBABLE[kind]]
        if bad:
            raise IndexWriteError(422, "not_scrubbable", "fields",
                                  f"{', '.join(bad)}: not an optional relation of a {kind}; scrubbable: "
                                  f"{', '.join(SCRUBBABLE[kind])}.")
        current = self._current(kind, uuid)
        record = load(kind, {k: v for k, v in current["record"].items() if k not in fields}
                      | {f: SCRUBBABLE[kind][f] for f in fields if SCRUBBABLE[kind][f] is not None}
                      | {"changed_at": changed_at.isoformat()})
        return self._one(Item(kind, uuid, record["changed_at"], record, "scrub"))

    def remove(self, kind: str, uuid: str, changed_at: datetime) -> Outcome:
        """Physical deletion: the record's data and its registrations' data go; a tombstone stays."""
        return self._one(Item(kind, uuid, changed_at, None, "remove"))
