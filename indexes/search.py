"""The Elasticsearch index of indexed records: one index ("indeks") for all four kinds.

Layout (docs/indexes.md): one index with a `kind` field rather than one per kind, because the
question asked most is "everything about this citizen", across cases, documents, grants and
payments, sorted and paged together; one query over one index does that, with counts and facets
that stay exact.  Every query filters on `municipality_code` (a term on a keyword-like integer),
and the shard count stays 1 at municipal volumes; a platform that outgrows one shard sets
`number_of_shards` and routes by municipality code (a search always names exactly one).

Fields designed for the queries: party URNs as keywords (`parties`), the KLE subject as a keyword
(`kle`, for exact patterns) with its ancestor codes (`kle_path`: 27, 27.35, 27.35.04, so the
constraint "27.*" is one term lookup, not a prefix query over every code under 27) and its main
group (`kle_main`, a facet), the responsible unit and its path from the root (`unit`, `unit_path`, for org-unit
constraints), sensitivity as its name (`sensitivity`, for the constraint's terms filter) and as an
ordered number (`sensitivity_rank`, for sorting and ranges), dates for sorting and periods, and the
amounts of payments in øre (long: exact sums).  `summary` is stored, not indexed: the overview's items.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from app.json import read_json
from app.search import IndexSpec
from app.sql import after_uuid
from authz.catalogue import Sensitivity
from authz.constraints import kle_ancestors

KIND = "indeks"
# Amounts as whole øre in long fields: sums are exact (this Elasticsearch has no scaled_float).
AMOUNTS = {"gross_amount": "gross_cents", "net_amount": "net_cents", "amount_paid": "paid_cents"}
MAPPING_VERSION = 2  # 2: kle_path
KLE_PATH_SINCE = 2  # the mapping version whose documents all carry kle_path
_RANK = {level.value: level.rank for level in Sensitivity}

MAPPINGS = {"dynamic": "strict", "properties": {
    "kind": {"type": "keyword"},
    "uuid": {"type": "keyword"},
    "municipality_code": {"type": "integer"},
    "master_system": {"type": "keyword"},
    "sensitivity": {"type": "keyword"},
    "sensitivity_rank": {"type": "byte"},
    "kle": {"type": "keyword"},
    "kle_path": {"type": "keyword"},
    "kle_main": {"type": "keyword"},
    "action_facet": {"type": "keyword"},
    "unit": {"type": "keyword"},
    "unit_path": {"type": "keyword"},
    "parties": {"type": "keyword"},
    "title": {"type": "text", "fields": {"sort": {"type": "keyword", "ignore_above": 256}}},
    "text": {"type": "text"},
    "number": {"type": "keyword"},
    "state": {"type": "keyword"},
    "document_type": {"type": "keyword"},
    "benefit_classes": {"type": "keyword"},
    "related": {"type": "keyword"},
    "sort_date": {"type": "date", "format": "date"},
    "changed_at": {"type": "date"},
    "period": {"type": "date_range", "format": "date"},
    "gross_cents": {"type": "long"},
    "net_cents": {"type": "long"},
    "paid_cents": {"type": "long"},
    "summary": {"type": "object", "enabled": False},
}}

_ROWS = """
    SELECT uuid::text AS uuid, kind, municipality_code, master_system::text AS master_system, changed_at,
           record::text AS record, kle, unit::text AS unit, unit_path::text[] AS unit_path, sensitivity, parties,
           sort_date, search_version
      FROM index_object WHERE uuid = ANY(%(ids)s::uuid[]) AND removed_at IS NULL
"""
# A rebuild pages by UUID, with one statement for the first page and one for the rest
# (`app.sql.after_uuid` says why).
_SCAN = """
    SELECT uuid::text AS uuid, kind, municipality_code, master_system::text AS master_system, changed_at,
           record::text AS record, kle, unit::text AS unit, unit_path::text[] AS unit_path, sensitivity, parties,
           sort_date, search_version
      FROM index_object WHERE removed_at IS NULL {after}
     ORDER BY uuid LIMIT %(limit)s
"""


def current_state(record: dict, now: datetime | None = None) -> str | None:
    """A case's progress state now (the period containing now, else the latest one)."""
    progress = record.get("progress")
    if isinstance(progress, str) or progress is None:
        return progress
    now = now or datetime.now(UTC)
    latest = None
    for p in progress:
        lo = datetime.fromisoformat(p["from"])
        hi = datetime.fromisoformat(p["to"]) if p.get("to") else None
        if lo <= now and (hi is None or now < hi):
            return p["state"]
        if latest is None or lo > datetime.fromisoformat(latest["from"]):
            latest = p
    return latest["state"] if latest else None


def _period(kind: str, r: dict) -> dict | None:
    if kind == "effektuering":
        return {"gte": r["period"]["from"], "lt": r["period"]["to"]}
    if kind == "bevilling":
        starts = [b["start"] for b in r["benefits"]]
        ends = [b.get("end") for b in r["benefits"]]
        return {"gte": min(starts), **({} if None in ends else {"lt": max(ends)})}
    if kind == "sag":
        starts = [p["from"][:10] for p in r["progress"]]
        return {"gte": min(starts)}
    return None


def _title(kind: str, r: dict) -> str:
    if kind == "bevilling":
        return f"{r['user_key']}: " + ", ".join(b["name"] for b in r["benefits"])
    if kind == "effektuering":
        return f"Udbetaling {r['period']['from']} til {r['period']['to']}"
    return r.get("title") or ""


def _record(value: str | dict) -> dict:
    """The stored record, read as text (`record::text`) and parsed by `read_json`, several times
    faster than the driver's json module."""
    return read_json(value) if isinstance(value, str) else value


def document_of(row: dict) -> dict[str, Any]:
    """The search document of one index_object row."""
    r, kind = _record(row["record"]), row["kind"]
    number = r.get("case_number") or r.get("number") or r.get("user_key")
    summary = {"kind": kind, "uuid": row["uuid"], "title": _title(kind, r), "number": number,
               "sort_date": row["sort_date"].isoformat() if row["sort_date"] else None,
               "state": current_state(r), "sensitivity": row["sensitivity"], "kle": row["kle"], "unit": row["unit"],
               "parties": r.get("parties") or [], "master_system": row["master_system"],
               "changed_at": row["changed_at"].isoformat()}
    for name in ("document_type", "letter_date", "period", "gross_amount", "net_amount", "amount_sent",
                 "amount_paid", "disposition_date", "benefits", "cases", "case", "grant"):
        if r.get(name) is not None:
            summary[name] = r[name]
    text = " ".join(str(r[f]) for f in ("description", "legal_basis", "category", "local_status", "case_number",
                                        "number", "archive_code") if r.get(f))
    related = [str(u) for f in ("cases", "related_cases", "documents") for u in (r.get(f) or [])]
    related += [str(r[f]) for f in ("case", "grant") if r.get(f)]
    doc = {"kind": kind, "uuid": row["uuid"], "municipality_code": row["municipality_code"],
           "master_system": row["master_system"], "sensitivity": row["sensitivity"],
           "sensitivity_rank": _RANK[row["sensitivity"]] if row["sensitivity"] else None,
           "kle": row["kle"], "kle_path": kle_ancestors(row["kle"]),
           "kle_main": row["kle"].split(".")[0] if row["kle"] else None,
           "action_facet": r.get("action_facet"), "unit": row["unit"], "unit_path": row["unit_path"] or [],
           "parties": row["parties"], "title": summary["title"], "text": text, "number": number,
           "state": summary["state"], "document_type": r.get("document_type"),
           "benefit_classes": sorted({b["benefit_class"] for b in r.get("benefits") or []}),
           "related": related, "sort_date": summary["sort_date"], "changed_at": summary["changed_at"],
           "period": _period(kind, r), "summary": summary}
    for name, cents in AMOUNTS.items():
        if r.get(name) is not None:
            doc[cents] = int((Decimal(r[name]) * 100).to_integral_value())
    return doc


def load(conn: psycopg.Connection, keys: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    return {row["uuid"]: (row["search_version"], document_of(row)) for row in conn.execute(_ROWS, {"ids": keys})}


def scan(conn: psycopg.Connection, after: str | None, limit: int) -> list[tuple[str, int, dict[str, Any]]]:
    query = _SCAN.format(after=after_uuid("uuid", after))
    return [(row["uuid"], row["search_version"], document_of(row))
            for row in conn.execute(query, {"after": after, "limit": limit})]


def count(conn: psycopg.Connection, after: str | None) -> int:
    query = "SELECT count(*) AS n FROM index_object WHERE removed_at IS NULL " + after_uuid("uuid", after)
    return conn.execute(query, {"after": after}).fetchone()["n"]


SPEC = IndexSpec(kind=KIND, mapping_version=MAPPING_VERSION, mappings=MAPPINGS, load=load, scan=scan, count=count)
