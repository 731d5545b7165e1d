"""The municipality search index: its mapping and how to load its documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.search import IndexSpec
from app.search.text import fold
from app.sql import Queries

KIND = "municipality"
SQL = Queries(Path(__file__).with_name("queries.sql"))

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "code": {"type": "integer"},
        "cvr": {"type": "keyword"},
        "name": {"type": "text", "fields": {"sort": {"type": "keyword"}}},
        "name_folded": {"type": "text"},
        "region": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "citizens": {"type": "integer"},
    },
}


def document(row: dict[str, Any]) -> dict[str, Any]:
    return {"code": row["code"], "cvr": row["cvr"], "name": row["name"], "name_folded": fold(row["name"]),
            "region": row["region"], "citizens": row["citizens"]}


def _load(conn, keys):
    codes = [int(k) for k in keys if k.isdigit()]
    rows = conn.execute(SQL.search_load, {"codes": codes})
    return {str(r["code"]): (r["search_version"], document(r)) for r in rows}


def _scan(conn, after, limit):
    rows = conn.execute(SQL.search_scan, {"after": after, "limit": limit})
    return [(str(r["code"]), r["search_version"], document(r)) for r in rows]


def _count(conn, after):
    return conn.execute(SQL.search_count, {"after": after}).fetchone()["n"]


SPEC = IndexSpec(kind=KIND, mapping_version=1, mappings=MAPPINGS, load=_load, scan=_scan, count=_count)
