"""`flask search ...`: operate the search index.

    flask search status            outbox lag per kind, alias targets, builds
    flask search reindex [KIND]    rebuild from PostgreSQL, swap alias (resumable)
    flask search reindex --outdated   only indexes built with an older mapping version
    flask search drain             deliver the outbox once, now
    flask search worker            deliver the outbox continuously (run by `make run`)
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import get_db
from app.search import get_search, index_kinds, outbox_status
from app.search.indexer import drain, run_worker
from app.search.reindex import rebuild
from app.startup import freeze_startup_objects

search_cli = AppGroup("search", help="Operate the Elasticsearch index (derived from PostgreSQL).")


@search_cli.command("status")
def status_command() -> None:
    """Outbox lag per kind, the index behind each alias, builds in progress."""
    search = get_search()
    with get_db().transaction() as conn:
        builds = {r["kind"]: r for r in conn.execute(
            "SELECT * FROM search_index_build WHERE state = 'building'")}
    click.echo(f"{'kind':<20} {'pending':>8} {'failing':>8} {'oldest(s)':>10}  index")
    for row in outbox_status():
        target = search.alias_target(row["kind"]) or "(no index yet)"
        click.echo(f"{row['kind']:<20} {row['pending']:>8} {row['failing']:>8} "
                   f"{row['oldest_seconds']:>10.1f}  {target}")
        if row["kind"] in builds:
            b = builds[row["kind"]]
            click.echo(f"{'':<20} building {b['index_name']}: {b['done']} copied, last key {b['last_key']}")


@search_cli.command("reindex")
@click.argument("kinds", nargs=-1)
@click.option("--restart", is_flag=True, help="Abandon an interrupted build instead of resuming it.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10000))
@click.option("--outdated", is_flag=True,
              help="Only the kinds whose index was built with an older mapping version (after an upgrade).")
def reindex_command(kinds: tuple[str, ...], restart: bool, batch_size: int, outdated: bool) -> None:
    """Rebuild KINDS (default: all) from PostgreSQL into new indexes, then swap the aliases.

    An interrupted rebuild resumes where it stopped when run again.
    """
    unknown = sorted(set(kinds) - set(index_kinds()))
    if unknown:
        raise click.BadParameter(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(index_kinds())}")
    chosen = list(kinds or index_kinds())
    if outdated:
        stale = set(get_search().outdated())
        chosen = [kind for kind in chosen if kind in stale]
        if not chosen:
            click.echo("every index has the current mapping version")
    for kind in chosen:
        with click.progressbar(length=1, label=f"reindex {kind}", show_pos=True) as bar:
            def progress(done: int, total: int, bar=bar) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            name = rebuild(get_db(), get_search(), kind, batch_size=batch_size, restart=restart,
                           progress=progress)
        click.echo(f"{kind}: alias {get_search().alias(kind)} -> {name}")


@search_cli.command("drain")
def drain_command() -> None:
    """Deliver every due outbox row now and wait until it is searchable."""
    search = get_search()
    search.ensure_indexes()
    n = drain(get_db(), search, batch_size=current_app.config["INDEXER_BATCH_SIZE"], refresh="wait_for")
    click.echo(f"delivered {n} outbox row(s)")


@search_cli.command("worker")
@click.option("--poll-interval", default=5.0, show_default=True, help="Seconds between polls without NOTIFY.")
def worker_command(poll_interval: float) -> None:
    """Deliver the outbox continuously, backing off while Elasticsearch is down."""
    freeze_startup_objects()
    cfg = current_app.config
    run_worker(get_db(), get_search(), batch_size=cfg["INDEXER_BATCH_SIZE"],
               max_backoff=cfg["INDEXER_MAX_BACKOFF"], poll_interval=poll_interval)
