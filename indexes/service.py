"""The one write path of the case/document and benefit indexes: import, update, remove, scrub.

Rules (docs/indexes.md):

- **Who**: the calling system must be the record's master system (`master_system`), and an
  existing record's current master; a record belongs to the municipality it was written for, and
  another municipality's UUID is answered as taken (409), never overwritten or shown.
- **Order**: every write carries the sender's `changed_at`.  A write older than what the index
  holds is answered `stale` and changes nothing, so retries, duplicates and out-of-order
  deliveries all end in the newest state.  The same `changed_at` with the same content is
  `unchanged`; with different content it is a conflict (409): the sender sent two versions
  under one stamp.  A removal leaves a tombstone with its stamp, so an older import that
  arrives after it cannot bring the record back; a newer one can.
- **References**: KLE codes must be subjects of the KLE emneplan valid on the record's date
  (`records.sort_date`), and the unit must be a unit of the municipality's organisation on that
  date or today.
- **History**: every accepted write is a registration (index_registration); a removal deletes
  the record data of the object and of all its registrations (physical deletion), keeping only
  when and by whom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from marshmallow import ValidationError
from psycopg.types.json import Jsonb

from classification.model import KLE_EMNEPLAN, KLE_HANDLINGSFACETTER
from indexes import records as rec
from organisation.unit_paths import paths_at

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
SERVICE_OF = {"sag": "sdi", "dokument": "sdi", "bevilling": "yi", "effektuering": "yi"}
# The relations kept in index_relation: record field → relation name (list fields of uuids, or one uuid).
# Optional relations a sender may scrub (remove) from a record: field → its empty value.
SCRUBBABLE = {
    "sag": {"related_cases": [], "documents": [], "other_classes": [], "case_workers": [], "access_list": [],
            "action_facet": None},
    "dokument": {"related_documents": [], "action_facet": None},
    "bevilling": {"case": None, "action_facet": None},
    "effektuering": {"grant": None},
}
RELATIONS = {"related_cases": "related_case", "documents": "document", "cases": "case", "case": "case",
             "grant": "grant"}


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


_LOCK = """
    SELECT uuid::text, kind, municipality_code, master_system::text, changed_at, registration_no, removed_at,
           record FROM index_object WHERE uuid = %(u)s FOR UPDATE
"""
_KLE_VALID = """
    SELECT DISTINCT c.value #>> '{}' AS code FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
      JOIN klasse k ON k.uuid = c.uuid AND k.lifecycle NOT IN ('Passiveret', 'Slettet')
     WHERE c.field = 'user_key' AND c.value #>> '{}' = ANY(%(codes)s) AND upper_inf(c.registration)
       AND c.valid @> %(at)s
"""
_UNIT_EXISTS = """
    SELECT 1 FROM enhed e JOIN enhed_fact f ON f.uuid = e.uuid AND f.field = 'user_key'
     WHERE e.uuid = %(u)s AND e.municipality_code = %(m)s AND e.lifecycle NOT IN ('Passiveret', 'Slettet')
       AND upper_inf(f.registration) AND (f.valid @> %(at)s OR f.valid @> now())
     LIMIT 1
"""


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), COPENHAGEN).astimezone(UTC)


@dataclass
class Writer:
    """The writes of one calling system for one municipality, in the caller's transaction."""

    conn: psycopg.Connection
    municipality_code: int
    system_id: str | None  # the calling system (None: a platform operator repairing data)
    cache: dict = field(default_factory=dict)

    # -- checks ------------------------------------------------------------------------------------

    def _load(self, kind: str, obj: dict) -> dict:
        try:
            return rec.load_record(kind, obj)
        except ValidationError as exc:
            errors = rec.flatten_errors(exc.messages)
            first = errors[0] if errors else {"field": None, "detail": "Invalid record."}
            raise IndexWriteError(422, "invalid_record", first["field"],
                                  f"{len(errors)} problem(s) in the record; the first: {first['field']}: "
                                  f"{first['detail']}", errors) from None

    def check_references(self, kind: str, record: dict) -> None:
        """KLE codes and the unit, as of the record's date (errors name the field)."""
        errors: list[dict] = []
        at = _day_start(rec.sort_date(record))
        codes = rec.kle_codes(record)
        if codes:
            found = {r["code"] for r in self.conn.execute(_KLE_VALID, {"facet": KLE_EMNEPLAN, "codes": codes,
                                                                      "at": at})}
            for name, value in [("primary_class", record.get("primary_class")),
                                *((f"other_classes.{i}", c) for i, c in enumerate(record.get("other_classes") or []))]:
                if value and value not in found:
                    errors.append({"field": name, "detail": f"{value} is not a KLE subject valid on "
                                                            f"{rec.sort_date(record).isoformat()}."})
        facet = record.get("action_facet")
        if facet:
            known = {r["code"] for r in self.conn.execute(_KLE_VALID, {"facet": KLE_HANDLINGSFACETTER,
                                                                      "codes": [facet], "at": at})}
            if facet not in known:
                errors.append({"field": "action_facet", "detail": f"{facet} is not a KLE action facet valid on "
                                                                 f"{rec.sort_date(record).isoformat()}."})
        unit = rec.unit_of(record)
        if unit is not None and not self._unit_exists(unit, at):
            name = "paying_unit" if kind == "effektuering" else "responsible_unit"
            errors.append({"field": name, "detail": f"No unit {unit} in municipality {self.municipality_code}'s "
                                                    "organisation on the record's date or today."})
        if errors:
            raise IndexWriteError(422, "unknown_reference", errors[0]["field"], errors[0]["detail"], errors)

    def _unit_exists(self, unit: str, at: datetime) -> bool:
        key = ("unit", unit, at)
        if key not in self.cache:
            self.cache[key] = self.conn.execute(_UNIT_EXISTS, {"u": unit, "m": self.municipality_code,
                                                               "at": at}).fetchone() is not None
        return self.cache[key]

    def _owner_checks(self, kind: str, uuid: str, current: dict | None, master: str | None) -> None:
        if current is not None and (current["municipality_code"] != self.municipality_code
                                    or current["kind"] != kind):
            raise IndexWriteError(409, "uuid_taken", "uuid", f"UUID {uuid} is taken by another record.")
        if self.system_id is None:
            return
        if master is not None and master != self.system_id:
            raise IndexWriteError(403, "not_master_system", "master_system",
                                  "The calling system must be the record's master system.")
        if current is not None and current["removed_at"] is None and current["master_system"] != self.system_id:
            raise IndexWriteError(403, "not_master_system", "master_system",
                                  f"Only the record's master system ({current['master_system']}) may change it.")

    # -- writes ------------------------------------------------------------------------------------

    def _lock(self, uuid: str) -> dict | None:
        return self.conn.execute(_LOCK, {"u": uuid}).fetchone()

    def import_(self, kind: str, obj: dict) -> Outcome:
        """Create or overwrite a whole record by its UUID."""
        record = self._load(kind, obj)
        uuid = str(record["uuid"])
        current = self._lock(uuid)
        self._owner_checks(kind, uuid, current, str(record["master_system"]))
        return self._put(kind, uuid, record, current, "import")

    def update(self, kind: str, uuid: str, patch: dict) -> Outcome:
        """Partial: the fields sent replace the record's (a list replaces the whole list)."""
        current = self._lock(uuid)
        if current is None or current["removed_at"] is not None or current["kind"] != kind \
                or current["municipality_code"] != self.municipality_code:
            raise IndexWriteError(404, "not_found", None, f"No {kind} {uuid}.")
        if "uuid" in patch and str(patch["uuid"]) != uuid:
            raise IndexWriteError(422, "invalid_record", "uuid", "The uuid cannot change.")
        record = self._load(kind, {**current["record"], **patch, "uuid": uuid})
        self._owner_checks(kind, uuid, current, str(record["master_system"]))
        return self._put(kind, uuid, record, current, "update")

    def scrub(self, kind: str, uuid: str, fields: list[str], changed_at: datetime) -> Outcome:
        """Remove optional relations (the named fields) from a record."""
        bad = [f for f in fields if f not in SCRUBBABLE[kind]]
        if bad:
            raise IndexWriteError(422, "not_scrubbable", "fields",
                                  f"{', '.join(bad)}: not an optional relation of a {kind}; scrubbable: "
                                  f"{', '.join(SCRUBBABLE[kind])}.")
        current = self._lock(uuid)
        if current is None or current["removed_at"] is not None or current["kind"] != kind \
                or current["municipality_code"] != self.municipality_code:
            raise IndexWriteError(404, "not_found", None, f"No {kind} {uuid}.")
        record = self._load(kind, {k: v for k, v in current["record"].items() if k not in fields}
                            | {f: SCRUBBABLE[kind][f] for f in fields if SCRUBBABLE[kind][f] is not None}
                            | {"changed_at": changed_at.isoformat()})
        self._owner_checks(kind, uuid, current, None)
        return self._put(kind, uuid, record, current, "scrub")

    def remove(self, kind: str, uuid: str, changed_at: datetime) -> Outcome:
        """Physical deletion: the record's data and its registrations' data go; a tombstone stays."""
        current = self._lock(uuid)
        self._owner_checks(kind, uuid, current, None)
        if current is None:  # removing what never arrived: a tombstone, so a late import stays out
            self.conn.execute(
                """INSERT INTO index_object (uuid, kind, municipality_code, master_system, changed_at,
                                             registration_no, removed_at, created_at, updated_at)
                   VALUES (%(u)s, %(k)s, %(m)s, %(s)s, %(c)s, 0, now(), now(), now())""",
                {"u": uuid, "k": kind, "m": self.municipality_code,
                 "s": self.system_id or "00000000-0000-0000-0000-000000000000", "c": changed_at})
            return Outcome(uuid, kind, "accepted", 0)
        if changed_at < current["changed_at"]:
            return Outcome(uuid, kind, "stale", current["registration_no"])
        if current["removed_at"] is not None:
            return Outcome(uuid, kind, "unchanged", current["registration_no"])
        no = current["registration_no"] + 1
        self.conn.execute("DELETE FROM index_relation WHERE from_uuid = %(u)s", {"u": uuid})
        self.conn.execute("UPDATE index_registration SET record = NULL, "
                          "registered = tstzrange(lower(registered), now(), '[)') "
                          "WHERE uuid = %(u)s AND (record IS NOT NULL OR upper_inf(registered))", {"u": uuid})
        self.conn.execute(
            """INSERT INTO index_registration (uuid, no, registered, changed_at, operation, system_id)
               VALUES (%(u)s, %(n)s, tstzrange(now(), NULL, '[)'), %(c)s, 'remove', %(s)s)""",
            {"u": uuid, "n": no, "c": changed_at, "s": self.system_id})
        self.conn.execute(
            """UPDATE index_object SET record = NULL, removed_at = now(), changed_at = %(c)s, registration_no = %(n)s,
                      kle = NULL, unit = NULL, unit_path = '{}', sensitivity = NULL, parties = '{}',
                      sort_date = NULL, updated_at = now(), changed_xid = pg_current_xact_id()
                WHERE uuid = %(u)s""", {"u": uuid, "c": changed_at, "n": no})
        return Outcome(uuid, kind, "accepted", no)

    def _put(self, kind: str, uuid: str, record: dict, current: dict | None, operation: str) -> Outcome:
        changed_at = record["changed_at"]
        document = rec.to_document(record)
        if current is not None:
            if changed_at < current["changed_at"]:
                return Outcome(uuid, kind, "stale", current["registration_no"])
            if changed_at == current["changed_at"]:
                if current["removed_at"] is not None or current["record"] == document:
                    return Outcome(uuid, kind, "unchanged", current["registration_no"])
                raise IndexWriteError(409, "version_conflict", "changed_at",
                                      "The index holds a different record with this changed_at; send a later one.")
        self.check_references(kind, record)
        unit = rec.unit_of(record)
        path = paths_at(self.conn, [(unit, datetime.now(UTC))])[0] if unit else []
        no = 1 if current is None else current["registration_no"] + 1
        values = {"u": uuid, "k": kind, "m": self.municipality_code, "s": str(record["master_system"]),
                  "c": changed_at, "n": no, "r": Jsonb(document), "kle": record.get("primary_class"),
                  "unit": unit, "path": path, "sens": record["sensitivity"], "parties": rec.party_urns(record),
                  "d": rec.sort_date(record), "op": operation, "sys": self.system_id}
        if current is None:
            self.conn.execute(
                """INSERT INTO index_object (uuid, kind, municipality_code, master_system, changed_at, registration_no,
                                             record, kle, unit, unit_path, sensitivity, parties, sort_date,
                                             created_at, updated_at)
                   VALUES (%(u)s, %(k)s, %(m)s, %(s)s, %(c)s, %(n)s, %(r)s, %(kle)s, %(unit)s, %(path)s::uuid[],
                           %(sens)s, %(parties)s, %(d)s, now(), now())""", values)
        else:
            self.conn.execute(
                """UPDATE index_object SET master_system = %(s)s, changed_at = %(c)s, registration_no = %(n)s,
                          record = %(r)s, removed_at = NULL, kle = %(kle)s, unit = %(unit)s,
                          unit_path = %(path)s::uuid[], sensitivity = %(sens)s, parties = %(parties)s,
                          sort_date = %(d)s, updated_at = now(),
                          changed_xid = pg_current_xact_id()
                    WHERE uuid = %(u)s""", values)
            self.conn.execute("UPDATE index_registration SET registered = tstzrange(lower(registered), now(), '[)') "
                              "WHERE uuid = %(u)s AND upper_inf(registered)", {"u": uuid})
            self.conn.execute("DELETE FROM index_relation WHERE from_uuid = %(u)s", {"u": uuid})
        self.conn.execute(
            """INSERT INTO index_registration (uuid, no, registered, changed_at, operation, system_id, record)
               VALUES (%(u)s, %(n)s, tstzrange(now(), NULL, '[)'), %(c)s, %(op)s, %(sys)s, %(r)s)""", values)
        relations = _relations(record)
        if relations:
            with self.conn.cursor() as cur:
                cur.executemany("INSERT INTO index_relation (from_uuid, relation, to_uuid) VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", [(uuid, r, t) for r, t in relations])
        return Outcome(uuid, kind, "accepted", no)


def _relations(record: dict) -> list[tuple[str, str]]:
    out = []
    for name, relation in RELATIONS.items():
        value = record.get(name)
        for target in (value if isinstance(value, list) else [value] if value else []):
            out.append((relation, str(target)))
    for r in record.get("related_documents") or []:
        out.append((f"document_{r['relation']}", str(r["uuid"])))
    return out


def jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value
