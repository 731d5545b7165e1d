"""The SQL of a batch of index writes (indexes/service.py decides, this module writes).

New records, their first registrations and their relations go in by COPY; updates, removals and
the closing of earlier registrations are one set-based statement each, whatever the batch size.
This is what lets an initial load of millions of records run at the speed of the tables rather
than of one round trip per record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
import psycopg
from psycopg.types.json import Jsonb

from indexes import records as rec

if TYPE_CHECKING:
    from indexes.references import References
    from indexes.service import Item

NO_SYSTEM = "00000000-0000-0000-0000-000000000000"
# Record field → relation name (index_relation): lists of UUIDs or one UUID.
RELATIONS = {"related_cases": "related_case", "documents": "document", "cases": "case", "case": "case",
             "grant": "grant"}

_LOCK = """
    SELECT uuid::text AS uuid, kind, municipality_code, master_system::text AS master_system, changed_at,
           registration_no, removed_at, record
      FROM index_object WHERE uuid = ANY(%(u)s::uuid[]) ORDER BY uuid FOR UPDATE
"""
_OBJECT_COLUMNS = ("uuid, kind, municipality_code, master_system, changed_at, registration_no, record, kle, unit, "
                   "unit_path, sensitivity, parties, sort_date")
_UPDATE = """
    UPDATE index_object o SET master_system = x.master_system, changed_at = x.changed_at, registration_no = x.no,
           record = x.record, removed_at = NULL, kle = x.kle, unit = x.unit, unit_path = x.unit_path,
           sensitivity = x.sensitivity, parties = x.parties, sort_date = x.sort_date, updated_at = now(),
           changed_xid = pg_current_xact_id()
      FROM jsonb_to_recordset(%(rows)s) AS x(uuid uuid, master_system uuid, changed_at timestamptz, no integer,
                                               record jsonb, kle text, unit uuid, unit_path uuid[], sensitivity text,
                                               parties text[], sort_date date)
     WHERE o.uuid = x.uuid
"""
_REMOVE = """
    UPDATE index_object o SET record = NULL, removed_at = %(t)s, changed_at = x.changed_at, registration_no = x.no,
           kle = NULL, unit = NULL, unit_path = '{}', sensitivity = NULL, parties = '{}', sort_date = NULL,
           updated_at = now(), changed_xid = pg_current_xact_id()
      FROM jsonb_to_recordset(%(rows)s) AS x(uuid uuid, changed_at timestamptz, no integer)
     WHERE o.uuid = x.uuid
"""
# The current registration's record is the object's (not stored twice); when it is superseded, it keeps
# a copy.  (A removal then forgets every copy: _FORGET.)
_CLOSE = """
    UPDATE index_registration r SET registered = tstzrange(lower(r.registered), %(t)s, '[)'), record = o.record
      FROM index_object o
     WHERE r.uuid = ANY(%(u)s::uuid[]) AND upper_inf(r.registered) AND o.uuid = r.uuid
"""
_FORGET = "UPDATE index_registration SET record = NULL WHERE uuid = ANY(%(u)s::uuid[]) AND record IS NOT NULL"


_REPATH = """
    UPDATE index_object o SET unit_path = string_to_array(p.path, ',')::uuid[], changed_xid = pg_current_xact_id()
      FROM unnest(%(units)s::uuid[], %(paths)s::text[]) AS p(unit, path)
     WHERE o.unit = p.unit AND o.removed_at IS NULL AND o.unit_path <> string_to_array(p.path, ',')::uuid[]
"""


def repath(conn: psycopg.Connection, units: list[str]) -> None:
    """After a move in the organisation: the moved units' records get their new unit paths (and
    so their new place under the org-unit constraints), in the moving transaction; the outbox
    trigger re-queues them for search."""
    from organisation.unit_paths import paths_at

    now = datetime.now(UTC)
    paths = paths_at(conn, [(u, now) for u in units])
    conn.execute(_REPATH, {"units": units, "paths": [",".join(p) for p in paths]})


def lock(conn: psycopg.Connection, uuids: list[str]) -> dict[str, dict]:
    """The current rows of these records, locked until the transaction ends (in UUID order, so
    two loads of overlapping batches cannot deadlock)."""
    if not uuids:
        return {}
    return {row["uuid"]: row for row in conn.execute(_LOCK, {"u": uuids})}


def _columns(item: Item, refs: References, municipality_code: int) -> tuple:
    r = item.record
    unit = rec.unit_of(r)
    return (item.uuid, item.kind, municipality_code, str(r["master_system"]), item.changed_at,
            item.outcome.registration_no, item.document, r.get("primary_class"), unit, refs.path(unit),
            r["sensitivity"], rec.party_urns(r), rec.sort_date(r))


def _relations(item: Item) -> list[tuple[str, str, str]]:
    r, out = item.record, []
    for name, relation in RELATIONS.items():
        value = r.get(name)
        for target in value if isinstance(value, list) else [value] if value else []:
            out.append((item.uuid, relation, str(target)))
    out += [(item.uuid, f"document_{d['relation']}", str(d["uuid"])) for d in r.get("related_documents") or []]
    out += [(item.uuid, "grant", str(line["grant"])) for line in r.get("lines") or []]  # a payment's grants
    return list(dict.fromkeys(out))


def write(conn: psycopg.Connection, municipality_code: int, system_id: str | None, plan: dict[str, list[Item]],
          refs: References) -> None:
    if not any(plan.values()):
        return
    t = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
    changed = [i.uuid for i in plan["update"] + plan["remove"]]
    if changed:
        conn.execute(_CLOSE, {"t": t, "u": changed})
        conn.execute("DELETE FROM index_relation WHERE from_uuid = ANY(%(u)s::uuid[])", {"u": changed})
    with conn.cursor() as cur:
        if plan["new"]:
            with cur.copy(f"COPY index_object ({_OBJECT_COLUMNS}) FROM STDIN") as copy:
                for item in plan["new"]:
                    copy.write_row(_columns(item, refs, municipality_code))
        if plan["update"]:
            rows = [dict(zip(("uuid", "kind", "m", "master_system", "changed_at", "no", "record", "kle", "unit",
                              "unit_path", "sensitivity", "parties", "sort_date"),
                             _columns(i, refs, municipality_code), strict=True)) for i in plan["update"]]
            for row in rows:
                # The record is already JSON text: embedded as it is, not parsed and written again.
                row.update(changed_at=row["changed_at"].isoformat(), record=orjson.Fragment(row["record"]),
                           sort_date=row["sort_date"].isoformat())
            cur.execute(_UPDATE, {"rows": Jsonb(rows, dumps=orjson.dumps)})
        if plan["remove"]:
            cur.execute(_FORGET, {"u": [i.uuid for i in plan["remove"]]})
            cur.execute(_REMOVE, {"t": t, "rows": Jsonb([{"uuid": i.uuid, "changed_at": i.changed_at.isoformat(),
                                                         "no": i.outcome.registration_no} for i in plan["remove"]])})
        if plan["tombstone"]:
            with cur.copy("COPY index_object (uuid, kind, municipality_code, master_system, changed_at, "
                          "registration_no, removed_at) FROM STDIN") as copy:
                for item in plan["tombstone"]:
                    copy.write_row((item.uuid, item.kind, municipality_code, system_id or NO_SYSTEM,
                                    item.changed_at, 0, t))
        registered = f"[{t.isoformat()},)"
        with cur.copy("COPY index_registration (uuid, no, registered, changed_at, operation, system_id, record) "
                      "FROM STDIN") as copy:
            for item in plan["new"] + plan["update"] + plan["remove"]:
                copy.write_row((item.uuid, item.outcome.registration_no, registered, item.changed_at,
                                item.operation, system_id, None))
        relations = [r for item in plan["new"] + plan["update"] for r in _relations(item)]
        if relations:
            with cur.copy("COPY index_relation (from_uuid, relation, to_uuid) FROM STDIN") as copy:
                for row in relations:
                    copy.write_row(row)
