"""The municipality registry: reads from PostgreSQL, search through Elasticsearch,
and the bulk load used for seed/demo data."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from marshmallow import ValidationError

from app.paging import decode_search_after, encode_cursor
from app.search import SearchService
from app.search.text import fold
from organisation.municipalities.schemas import MunicipalitySchema
from organisation.municipalities.search import KIND, SQL

SEED_FILE = Path(__file__).with_name("data") / "municipalities.csv"
_FIELDS = ("code", "cvr", "name", "region", "citizens")


def get(conn: psycopg.Connection, code: int) -> dict[str, Any] | None:
    return conn.execute(SQL.get, {"code": code}).fetchone()


def find_by_cvr(conn: psycopg.Connection, cvr: str) -> dict[str, Any] | None:
    return conn.execute(SQL.get_by_cvr, {"cvr": cvr}).fetchone()


def upsert(conn: psycopg.Connection, record: dict[str, Any]) -> str:
    """Create or update one municipality; returns 'inserted', 'updated' or 'unchanged'."""
    row = conn.execute(SQL.upsert, {k: record[k] for k in _FIELDS}).fetchone()
    if row is None:
        return "unchanged"
    return "inserted" if row["inserted"] else "updated"


class InvalidRecords(ValueError):
    """Some input rows are invalid; nothing was written."""


@dataclass
class LoadResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Parse and validate every row first, so a bad file writes nothing."""
    schema, records, problems = MunicipalitySchema(), [], []
    with path.open(encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.DictReader(f), start=2):
            try:
                records.append(schema.load(row))
            except ValidationError as exc:
                problems.append(f"line {lineno}: {exc.messages}")
    if problems:
        raise InvalidRecords("; ".join(problems))
    return records


def load(conn: psycopg.Connection, records: list[dict[str, Any]], *, only_missing: bool = False) -> LoadResult:
    """Upsert every record, or with `only_missing` create only codes not there yet."""
    result = LoadResult()
    for record in records:
        if only_missing:
            row = conn.execute(SQL.insert_missing, {k: record[k] for k in _FIELDS}).fetchone()
            outcome = "inserted" if row else "unchanged"
        else:
            outcome = upsert(conn, record)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def search(search: SearchService, *, q: str | None, region: str | None, limit: int,
           cursor: str | None) -> dict[str, Any]:
    """Municipalities matching `q`, best match first (then by name), keyset-paged."""
    filters = [{"term": {"region.keyword": region}}] if region else []
    if q:
        query = {"bool": {
            "should": [
                {"multi_match": {"query": q, "type": "bool_prefix", "fields": ["name^3", "region"]}},
                {"multi_match": {"query": fold(q), "type": "bool_prefix", "fields": ["name_folded^2"]}},
                *([{"term": {"cvr": q}}] if q.isdigit() else []),
                *([{"term": {"code": int(q)}}] if q.isdigit() and len(q) <= 3 else []),
            ],
            "minimum_should_match": 1,
            "filter": filters,
        }}
    else:
        query = {"bool": {"filter": filters}}
    sort = [{"_score": "desc"}, {"name.sort": "asc"}, {"code": "asc"}]
    body: dict[str, Any] = {"query": query, "sort": sort, "size": limit + 1, "track_total_hits": True}
    after = decode_search_after(cursor, (int, float), (str,), (int,))  # the sort's _score, name, code
    if after is not None:
        body["search_after"] = after
    result = search.search(KIND, **body)
    hits = result["hits"]["hits"]
    page = hits[:limit]
    items = [{k: h["_source"][k] for k in _FIELDS} for h in page]
    next_cursor = encode_cursor(page[-1]["sort"]) if len(hits) > limit else None
    return {"items": items, "total": result["hits"]["total"]["value"], "next_cursor": next_cursor}
