"""Schema migrations: plain SQL files in `migrations/`, applied by yoyo.

yoyo-migrations is chosen because it applies plain `.sql` files in order,
records them in the database, takes a lock so two deployers cannot collide,
and applies each file in a transaction.  Applying twice is a no-op.

    flask db upgrade     apply what is pending
    flask db status      list applied and pending migrations
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _backend(database_url: str):
    _scheme, rest = database_url.split("://", 1)
    return get_backend(f"postgresql+psycopg://{rest}")


def migration_ids() -> list[str]:
    return sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql"))


def upgrade(database_url: str) -> list[str]:
    """Apply pending migrations; returns the ids applied."""
    backend = _backend(database_url)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        # yoyo prints the result rows of a migration's SELECTs (e.g. `SELECT bt_create_type(...)`);
        # they belong with the logs, not in the output of whoever called us.
        with backend.lock(), contextlib.redirect_stdout(sys.stderr):
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def pending_ids(conn) -> list[str]:
    """Migrations on disk that the database has not applied (cheap; for /readyz)."""
    exists = conn.execute("SELECT to_regclass('_yoyo_migration') IS NOT NULL AS e").fetchone()["e"]
    applied = set()
    if exists:
        applied = {r["migration_id"] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    return [m for m in migration_ids() if m not in applied]


db_cli = AppGroup("db", help="Database schema migrations.")


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Apply all pending migrations (a no-op when there are none)."""
    applied = upgrade(current_app.config["DATABASE_URL"])
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@db_cli.command("status")
def status_command() -> None:
    """List pending migrations."""
    from app.db import get_db

    with get_db().transaction() as conn:
        pending = pending_ids(conn)
    click.echo(f"{len(migration_ids()) - len(pending)} applied, {len(pending)} pending")
    for m in pending:
        click.echo(f"  pending: {m}")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
