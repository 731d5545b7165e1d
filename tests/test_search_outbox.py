"""The outbox: written in the writing transaction, delivered at least once,
idempotent, and an older state never overwrites a newer one."""

import pytest

from app.db import get_db
from app.search import get_search
from app.search.indexer import drain, drain_once
from organisation.municipalities import service


def outbox(app, kind="municipality"):
    with app.app_context(), get_db().transaction() as conn:
        return conn.execute("SELECT * FROM search_outbox WHERE kind = %(k)s ORDER BY id", {"k": kind}).fetchall()


def es_doc(app, code):
    with app.app_context():
        search = get_search()
        return search.client.get(index=search.alias("municipality"), id=str(code)).body


def set_name(app, code, name):
    with app.app_context(), get_db().transaction() as conn:
        record = dict(service.get(conn, code))
        record["name"] = name
        return service.upsert(conn, record)


def test_a_rolled_back_write_leaves_no_outbox_row(app):
    before = len(outbox(app))
    with app.app_context(), pytest.raises(RuntimeError), get_db().transaction() as conn:
        record = dict(service.get(conn, 751), name="Never")
        service.upsert(conn, record)
        assert len(conn.execute("SELECT id FROM search_outbox").fetchall()) == before + 1
        raise RuntimeError("abort the transaction")
    assert len(outbox(app)) == before


def test_a_no_op_write_queues_nothing(app, deliver):
    deliver()
    with app.app_context(), get_db().transaction() as conn:
        assert service.upsert(conn, dict(service.get(conn, 751))) == "unchanged"
    assert outbox(app) == []


def test_drain_delivers_everything_and_empties_the_outbox(app, deliver):
    assert len(outbox(app)) == 98  # the seed data, written by the template
    assert deliver() == 98
    assert outbox(app) == []
    with app.app_context():
        search = get_search()
        assert search.client.count(index=search.alias("municipality"))["count"] == 98


def test_delivering_the_same_change_twice_is_harmless(app, deliver):
    deliver()
    set_name(app, 751, "Aarhus A")
    with app.app_context(), get_db().transaction() as conn:
        # Queue the same object again, as a retry after a crash would.
        conn.execute("INSERT INTO search_outbox (kind, object_id) VALUES ('municipality', '751')")
    assert deliver() == 2
    doc = es_doc(app, 751)
    assert doc["_source"]["name"] == "Aarhus A"
    assert deliver() == 0


def test_an_older_version_never_overwrites_a_newer_one(app, deliver):
    deliver()
    set_name(app, 751, "Aarhus v2")
    deliver()
    newest = es_doc(app, 751)
    with app.app_context():
        search = get_search()
        # An old state arriving late (e.g. from a slow second indexer).
        response = search.client.bulk(operations=[
            {"index": {"_index": search.alias("municipality"), "_id": "751", "version": newest["_version"] - 1,
                       "version_type": "external"}},
            {**newest["_source"], "name": "Aarhus stale"},
        ], refresh=True)
    assert response["items"][0]["index"]["status"] == 409
    assert es_doc(app, 751)["_source"]["name"] == "Aarhus v2"


def test_deleted_rows_leave_the_index(app, deliver):
    deliver()
    with app.app_context(), get_db().transaction() as conn:
        conn.execute("DELETE FROM municipality WHERE code = 411 OR code = 825")
    deliver()
    with app.app_context():
        search = get_search()
        assert search.client.count(index=search.alias("municipality"))["count"] == 97


def test_concurrent_indexers_split_the_work_without_loss(app):
    """Two batches taken at once (SKIP LOCKED) never hold the same row."""
    with app.app_context():
        search, db = get_search(), get_db()
        search.ensure_indexes()
        with db.transaction() as conn:
            taken = conn.execute("SELECT id FROM search_outbox ORDER BY id LIMIT 40 FOR UPDATE SKIP LOCKED").fetchall()
            other = drain_once(db, search, batch_size=500, refresh=True)
            assert other.taken == 98 - len(taken)
        assert drain(db, search, refresh=True) == len(taken)
        assert search.client.count(index=search.alias("municipality"))["count"] == 98


def test_a_rejected_item_is_kept_with_its_error_and_retried_later(app, deliver):
    deliver()
    with app.app_context(), get_db().transaction() as conn:
        conn.execute("INSERT INTO search_outbox (kind, object_id) VALUES ('municipality', '101')")
    with app.app_context():
        search = get_search()
        # Make the index refuse writes for a moment.
        search.client.indices.put_settings(index=search.alias("municipality"),
                                           settings={"index.blocks.write": True})
        try:
            result = drain_once(get_db(), search)
        finally:
            search.client.indices.put_settings(index=search.alias("municipality"),
                                               settings={"index.blocks.write": False})
    assert result.failed == 1
    [row] = outbox(app)
    assert row["attempts"] == 1 and "blocked" in row["last_error"]
    assert row["next_attempt_at"] > row["created_at"]
    status = app.test_cli_runner().invoke(args=["search", "status"])
    assert "municipality" in status.output and " 1 " in status.output
