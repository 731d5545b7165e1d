"""Search plumbing shared by every domain module: PostgreSQL is the record,
Elasticsearch a derived index fed from the outbox (see docs/architecture.md).

A domain module describes each searchable kind once with an `IndexSpec`
(mappings in code, a mapping version, and how to load documents from
PostgreSQL) and calls `register_index`.  Everything else is generic:

- writes queue (kind, key) in `search_outbox` by trigger, in the writing
  transaction (migrations/0001);
- `indexer.drain` delivers the outbox with the bulk API (at least once,
  idempotent, external versions so an older state never wins);
- `reindex.rebuild` builds a fresh index from PostgreSQL and swaps the alias;
- `SearchService.search` queries a kind through its alias.

Index names: alias `<prefix><kind>`, physical index
`<prefix><kind>-v<mapping version>-<timestamp>`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from elasticsearch import BadRequestError, Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from flask import Flask, current_app
from psycopg import sql

from app.db import get_db
from app.sql import after_uuid

log = logging.getLogger(__name__)
_VERSION_IN_NAME = re.compile(r"-v(\d+)-[^-]+$")
LIVE_VERSION_SECONDS = 30.0  # how long a process trusts what it learnt about an alias's mapping version


def mapping_version_of(index_name: str) -> int | None:
    """The mapping version in a physical index's name (`<alias>-v<version>-<stamp>`)."""
    m = _VERSION_IN_NAME.search(index_name)
    return int(m.group(1)) if m else None

# (conn, keys) -> {key: (version, document)}; keys missing from the answer are deleted.
Loader = Callable[[psycopg.Connection, list[str]], dict[str, tuple[int, dict[str, Any]]]]
# (conn, after_key, limit) -> [(key, version, document or None to skip)] in key order, for rebuilds.
Scanner = Callable[[psycopg.Connection, str | None, int], list[tuple[str, int, dict[str, Any]]]]
# (conn, after_key) -> how many objects a rebuild still has to copy.
Counter = Callable[[psycopg.Connection, str | None], int]


@dataclass(frozen=True)
class IndexSpec:
    kind: str
    mapping_version: int
    mappings: dict[str, Any]
    load: Loader
    scan: Scanner
    count: Counter
    settings: dict[str, Any] = field(default_factory=lambda: {"number_of_shards": 1, "number_of_replicas": 0})


_SPECS: dict[str, IndexSpec] = {}


def register_index(spec: IndexSpec) -> IndexSpec:
    _SPECS[spec.kind] = spec
    return spec


def index_spec(kind: str) -> IndexSpec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise KeyError(f"no search index kind {kind!r}; known: {', '.join(sorted(_SPECS))}") from None


def index_kinds() -> list[str]:
    return sorted(_SPECS)


def uuid_scanner(table: str, load: Loader) -> Scanner:
    """An IndexSpec `scan` over `table`'s UUIDs, documents by `load` (None for a key with nothing to
    index); the first page and the others are two statements (`app.sql.after_uuid` says why)."""
    def scan(conn, after, limit):
        query = sql.SQL("SELECT uuid::text AS uuid FROM {} WHERE true {} ORDER BY uuid LIMIT %(limit)s").format(
            sql.Identifier(table), sql.SQL(after_uuid("uuid", after)))
        ids = [r["uuid"] for r in conn.execute(query, {"after": after, "limit": limit})]
        docs = load(conn, ids) if ids else {}
        return [(u, *docs.get(u, (0, None))) for u in ids]  # None: nothing to index, the key still advances

    return scan


def uuid_counter(table: str) -> Counter:
    """An IndexSpec `count`: `table`'s rows after the cursor."""
    def count(conn, after):
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE true {}").format(sql.Identifier(table),
                                                                              sql.SQL(after_uuid("uuid", after)))
        return conn.execute(query, {"after": after}).fetchone()["n"]

    return count


class SearchService:
    """The one Elasticsearch client of a process and the index naming rules."""

    def __init__(self, url: str, prefix: str, timeout: float):
        self.prefix = prefix
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=0, retry_on_timeout=False,
                                    serializer=OrjsonSerializer())
        self._live: dict[str, tuple[float, int | None]] = {}
        self._live_lock = threading.Lock()

    def alias(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def new_index_name(self, kind: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        return f"{self.alias(kind)}-v{index_spec(kind).mapping_version}-{stamp}"

    def create_index(self, kind: str, name: str) -> None:
        spec = index_spec(kind)
        self.client.indices.create(index=name, mappings=spec.mappings, settings=spec.settings)

    def alias_target(self, kind: str) -> str | None:
        alias = self.alias(kind)
        if not self.client.indices.exists_alias(name=alias):
            return None
        return next(iter(self.client.indices.get_alias(name=alias)))

    def ensure_index(self, kind: str) -> str:
        """The index behind the kind's alias, creating an empty one the first time.

        The first index has a fixed name and gets its alias in the same create
        call, so processes starting together cannot attach two indexes.
        """
        target = self.alias_target(kind)
        if target is None:
            target = f"{self.alias(kind)}-v{index_spec(kind).mapping_version}-initial"
            spec = index_spec(kind)
            try:
                self.client.indices.create(index=target, mappings=spec.mappings, settings=spec.settings,
                                           aliases={self.alias(kind): {}})
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
            target = self.alias_target(kind) or target
        elif (mapping_version_of(target) or 0) < index_spec(kind).mapping_version:
            self._add_new_fields(kind, target)
        return target

    def _add_new_fields(self, kind: str, target: str) -> None:
        """An index built with an older mapping still takes new documents: fields added since are put
        into its mapping (an additive change Elasticsearch allows).  Queries use them only once
        `flask search reindex --outdated` has rebuilt the index (`live_version`)."""
        try:
            self.client.indices.put_mapping(index=target, **index_spec(kind).mappings)
        except BadRequestError as exc:
            log.warning("index %s has an older mapping that cannot be extended (%s); "
                        "run `flask search reindex %s`", target, exc.error, kind)

    def live_version(self, kind: str) -> int | None:
        """The mapping version of the index behind the kind's alias (None: no index), as learnt at
        most LIVE_VERSION_SECONDS ago: queries that need a newer field ask this first."""
        now = time.monotonic()
        with self._live_lock:
            cached = self._live.get(kind)
        if cached is not None and now - cached[0] < LIVE_VERSION_SECONDS:
            return cached[1]
        target = self.alias_target(kind)
        version = mapping_version_of(target) if target else None
        with self._live_lock:
            self._live[kind] = (now, version)
        return version

    def forget_live_version(self, kind: str) -> None:
        """After this process moved the alias: ask Elasticsearch again on the next query."""
        with self._live_lock:
            self._live.pop(kind, None)

    def outdated(self) -> list[str]:
        """Kinds whose live index was built with an older mapping than the code's."""
        return [kind for kind in index_kinds()
                if (target := self.alias_target(kind)) is not None
                and (mapping_version_of(target) or 0) < index_spec(kind).mapping_version]

    def physical_indexes(self, kind: str) -> list[str]:
        found = self.client.indices.get(index=f"{self.alias(kind)}-v*", allow_no_indices=True,
                                        expand_wildcards="open")
        return sorted(found)

    def ensure_indexes(self) -> None:
        for kind in index_kinds():
            self.ensure_index(kind)

    def search(self, kind: str, **body: Any) -> dict[str, Any]:
        return self.client.search(index=self.alias(kind), **body).body

    def close(self) -> None:
        self.client.close()


def get_search() -> SearchService:
    return current_app.extensions["sts.search"]


def outbox_status(kinds: Iterable[str] | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
    """Rows waiting per kind, the age of the oldest, and rows that failed."""
    wanted = list(kinds or index_kinds())
    with get_db().transaction(timeout=timeout) as conn:
        rows = conn.execute(
            """
            SELECT k.kind,
                   count(o.id) AS pending,
                   coalesce(extract(epoch FROM now() - min(o.created_at)), 0)::float AS oldest_seconds,
                   count(o.id) FILTER (WHERE o.attempts > 0) AS failing
              FROM unnest(%(kinds)s::text[]) AS k(kind)
              LEFT JOIN search_outbox o ON o.kind = k.kind
             GROUP BY k.kind ORDER BY k.kind
            """,
            {"kinds": wanted},
        ).fetchall()
    return rows


def init_app(app: Flask) -> None:
    cfg = app.config
    app.extensions["sts.search"] = SearchService(cfg["ELASTICSEARCH_URL"], cfg["SEARCH_INDEX_PREFIX"],
                                                 cfg["SEARCH_REQUEST_TIMEOUT"])
