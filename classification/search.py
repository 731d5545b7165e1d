"""The class search index: KLE and other classes in Elasticsearch.

A document holds the class's values valid now (for a class that is not
valid now, its latest values), its code, facet, parent, publication state
and lifecycle, plus `valid`: the span of valid time in which the class
exists (from its first to its last code fact), so a search can be limited
to classes valid on a date.  Titles as they were on an earlier date are a
read (GET by code with `valid_at`), not a search: the index is derived from
PostgreSQL and describes the present.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from app.search import IndexSpec, uuid_counter, uuid_scanner
from app.search.text import fold

KIND = "klasse"
_TAGS = re.compile(r"<[^>]+>")

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "uuid": {"type": "keyword"},
        "code": {"type": "keyword"},
        "title": {"type": "text", "fields": {"sort": {"type": "keyword"}}},
        "title_folded": {"type": "text"},
        "search_words": {"type": "text"},
        "search_words_folded": {"type": "text"},
        "guidance": {"type": "text"},
        "level": {"type": "keyword"},
        "facet": {"type": "keyword"},
        "parent": {"type": "keyword"},
        "published": {"type": "keyword"},
        "lifecycle": {"type": "keyword"},
        "municipality_code": {"type": "integer"},
        "valid": {"type": "date_range"},
    },
}

_LOAD = """
    SELECT k.uuid::text AS uuid, k.lifecycle, k.municipality_code, k.search_version,
           f.field, f.value, lower(f.valid) AS valid_from, upper(f.valid) AS valid_to
      FROM klasse k LEFT JOIN klasse_fact f ON f.uuid = k.uuid AND upper_inf(f.registration)
     WHERE k.uuid = ANY(%(ids)s::uuid[])
"""


def _pick(pieces: list[tuple[Any, datetime | None, datetime | None]], now: datetime):
    """The value valid now, else the latest one."""
    for value, lo, hi in pieces:
        if (lo is None or lo <= now) and (hi is None or now < hi):
            return value
    latest = max(pieces, key=lambda p: (p[1] is not None, p[1] or datetime.min.replace(tzinfo=UTC)))
    return latest[0]


def _documents(rows) -> dict[str, tuple[int, dict[str, Any]]]:
    now = datetime.now(UTC)
    grouped: dict[str, dict] = {}
    for row in rows:
        entry = grouped.setdefault(row["uuid"], {"row": row, "fields": {}})
        if row["field"] is not None:
            entry["fields"].setdefault(row["field"], []).append((row["value"], row["valid_from"], row["valid_to"]))
    out = {}
    for uuid, entry in grouped.items():
        row, fields = entry["row"], entry["fields"]
        if row["lifecycle"] == "Slettet" or "user_key" not in fields:
            continue  # left out: the indexer deletes the document
        codes = fields["user_key"]
        lows = [lo for _v, lo, _hi in codes]
        highs = [hi for _v, _lo, hi in codes]
        valid = {}
        if all(lo is not None for lo in lows):
            valid["gte"] = min(lows).isoformat()
        if all(hi is not None for hi in highs):
            valid["lt"] = max(highs).isoformat()
        title = _pick(fields["title"], now) if "title" in fields else None
        words = sorted({v for v, _lo, _hi in fields.get("search_words", [])})
        guidance = _pick(fields["guidance"], now) if "guidance" in fields else None
        doc = {
            "uuid": uuid, "code": _pick(codes, now), "title": title, "title_folded": fold(title or ""),
            "search_words": words, "search_words_folded": [fold(w) for w in words],
            "guidance": _TAGS.sub(" ", guidance) if guidance else None,
            "level": _pick(fields["level"], now) if "level" in fields else None,
            "facet": _pick(fields["facet"], now) if "facet" in fields else None,
            "parent": _pick(fields["parent"], now) if "parent" in fields else None,
            "published": _pick(fields["published"], now) if "published" in fields else None,
            "lifecycle": row["lifecycle"], "municipality_code": row["municipality_code"], "valid": valid,
        }
        out[uuid] = (row["search_version"], doc)
    return out


def _load(conn, keys):
    return _documents(conn.execute(_LOAD, {"ids": keys}).fetchall())


SPEC = IndexSpec(kind=KIND, mapping_version=1, mappings=MAPPINGS, load=_load, scan=uuid_scanner("klasse", _load),
                 count=uuid_counter("klasse"))
