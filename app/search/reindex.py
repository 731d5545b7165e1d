"""Rebuild a kind's index from PostgreSQL without interrupting searches.

1. Create a new physical index and record it in `search_index_build`
   (state `building`).  From that commit on, the indexer writes every change
   to the new index too, so nothing changed during the rebuild is lost.
2. Copy every object in key order, in batches, recording the last key after
   each batch: an interrupted rebuild resumes where it stopped.
3. Refresh, then move the alias to the new index in one atomic
   `update_aliases` call and mark the build `live`.  The index just replaced
   is kept (a way back; searches already routed to it finish); older ones go.

Searches go through the alias the whole time, so they keep answering.
External versions make the copy and the indexer safe to race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import elasticsearch

from app.db import Database
from app.search import SearchService, index_spec

log = logging.getLogger("sts.search.reindex")

Progress = Callable[[int, int], None]  # (done so far, total)


def _start_or_resume(db: Database, search: SearchService, kind: str, restart: bool) -> dict:
    with db.transaction() as conn:
        build = conn.execute(
            "SELECT * FROM search_index_build WHERE kind = %(kind)s AND state = 'building' FOR UPDATE",
            {"kind": kind},
        ).fetchone()
        if build and restart:
            conn.execute("UPDATE search_index_build SET state = 'abandoned', finished_at = now() "
                         "WHERE index_name = %(n)s", {"n": build["index_name"]})
            search.client.indices.delete(index=build["index_name"], ignore_unavailable=True)
            build = None
        if build and not search.client.indices.exists(index=build["index_name"]):
            # The half-built index is gone (e.g. Elasticsearch was wiped): start over.
            conn.execute("UPDATE search_index_build SET state = 'abandoned', finished_at = now() "
                         "WHERE index_name = %(n)s", {"n": build["index_name"]})
            build = None
        if build:
            log.info("resuming index build", extra={"index": build["index_name"], "after": build["last_key"]})
            return build
        name = search.new_index_name(kind)
        search.create_index(kind, name)
        return conn.execute(
            "INSERT INTO search_index_build (index_name, kind) VALUES (%(n)s, %(kind)s) RETURNING *",
            {"n": name, "kind": kind},
        ).fetchone()


def rebuild(db: Database, search: SearchService, kind: str, *, batch_size: int = 1000,
            restart: bool = False, progress: Progress | None = None) -> str:
    """Build a fresh index for `kind`, swap the alias to it; returns its name."""
    spec = index_spec(kind)
    build = _start_or_resume(db, search, kind, restart)
    name, last_key, done = build["index_name"], build["last_key"], build["done"]
    with db.transaction() as conn:
        total = done + spec.count(conn, last_key)
    if progress:
        progress(done, total)
    while True:
        with db.transaction() as conn:
            rows = spec.scan(conn, last_key, batch_size)
            if not rows:
                break
            operations = []
            for key, version, source in rows:
                if source is not None:  # a scanner may skip an object (e.g. deleted) but still advance
                    operations += [{"index": {"_index": name, "_id": key, "version": version,
                                              "version_type": "external"}}, source]
            response = search.client.bulk(operations=operations) if operations else {"items": []}
            rejected = [item for item in response["items"]
                        if item["index"].get("status") not in (200, 201, 409)]
            if rejected:
                raise RuntimeError(f"Elasticsearch rejected {len(rejected)} documents, e.g. {rejected[0]}")
            last_key, done = rows[-1][0], done + len(rows)
            conn.execute("UPDATE search_index_build SET last_key = %(k)s, done = %(d)s WHERE index_name = %(n)s",
                         {"k": last_key, "d": done, "n": name})
        if progress:
            progress(done, max(total, done))
    search.client.indices.refresh(index=name)
    _swap_alias(db, search, kind, name)
    return name


def _swap_alias(db: Database, search: SearchService, kind: str, name: str) -> None:
    alias = search.alias(kind)
    old = search.alias_target(kind)
    actions = [{"add": {"index": name, "alias": alias}}]
    if old and old != name:
        actions.insert(0, {"remove": {"index": old, "alias": alias}})
    with db.transaction() as conn:
        search.client.indices.update_aliases(actions=actions)
        search.forget_live_version(kind)
        conn.execute("UPDATE search_index_build SET state = 'live', finished_at = now() WHERE index_name = %(n)s",
                     {"n": name})
    # The index just replaced stays (searches already routed to it finish, and it
    # is a way back); anything older goes.
    for stale in search.physical_indexes(kind):
        if stale not in (name, old):
            try:
                search.client.indices.delete(index=stale)
            except elasticsearch.NotFoundError:
                pass
    log.info("alias swapped", extra={"alias": alias, "index": name, "previous": old})
