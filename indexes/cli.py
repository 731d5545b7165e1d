"""`flask indexes ...`: the initial load of a sender's records.

    flask indexes import-jsonl FILE --municipality 751 --system <uuid> [--job NAME] [--batch 1000] [--workers 0]

loads a JSON-lines file of records (docs/indexes.md) as the given master system would send them
through POST /api/v1/{sdi,yi}/bulk, committing every batch; progress goes to stderr, one JSON line
per rejected record to stdout, and the exit code is 1 when any record was rejected.  With `--job`,
an interrupted load run again with the same name and file goes on where it stopped.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.db import get_db
from app.startup import freeze_startup_objects
from indexes import bulk

indexes_cli = AppGroup("indexes", help="Case, document and benefit indexes.")


@indexes_cli.command("import-jsonl")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--municipality", type=int, required=True, help="The municipality code, e.g. 751.")
@click.option("--system", "system_id", type=click.UUID, required=True,
              help="The sending (master) system's id; records naming another master are rejected.")
@click.option("--job", help="A name for this load: run it again with the same name and file to resume.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Lines per committed transaction.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes validating records ahead of the writes (0: a thread of this process; "
                   "processes pay off only with cores to spare).")
def import_jsonl_command(file, municipality: int, system_id, job: str | None, batch: int, workers: int) -> None:
    """Load index records from a JSON-lines FILE ('-' for stdin)."""
    def progress(p: dict) -> None:
        click.echo(f"{p['done']}/{p['total']} lines ({100 * p['done'] // max(p['total'], 1)}%): "
                   f"{p['accepted']} accepted, {p['unchanged']} unchanged, {p['stale']} stale, "
                   f"{p['rejected']} rejected; {p['rate']:.0f} lines/s", err=True)

    freeze_startup_objects()
    result = bulk.import_jsonl(get_db(), municipality, str(system_id), file, job=job, batch=batch,
                               progress=progress, workers=workers)
    for rejected in result["rejected_records"]:
        click.echo(json.dumps(rejected, ensure_ascii=False))
    resumed = f"; resumed after line {result['resumed_from']}" if result["resumed_from"] else ""
    click.echo(f"{getattr(file, 'name', 'input')}: {result['accepted']} accepted, {result['unchanged']} unchanged, "
               f"{result['stale']} stale, {result['rejected']} rejected{resumed}", err=True)
    if result["rejected"]:
        click.get_current_context().exit(1)
