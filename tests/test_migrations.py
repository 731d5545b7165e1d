"""Migrations: all of them apply to an empty database, and applying again is a no-op."""

import psycopg

from app.migrate import migration_ids, pending_ids, upgrade


def test_all_migrations_apply_to_an_empty_database_and_twice_is_a_no_op(make_app):
    app = make_app(empty=True)
    url = app.config["DATABASE_URL"]
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        assert pending_ids(conn) == migration_ids()
    assert upgrade(url) == migration_ids()
    assert upgrade(url) == []
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        assert pending_ids(conn) == []
        tables = {r["tablename"] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"search_outbox", "search_index_build", "municipality"} <= tables


def test_flask_db_upgrade_command(make_app):
    app = make_app(empty=True)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"applied {len(migration_ids())} migration(s)" in first.output
    second = runner.invoke(args=["db", "upgrade"])
    assert "applied 0 migration(s)" in second.output
    status = runner.invoke(args=["db", "status"])
    assert "0 pending" in status.output
