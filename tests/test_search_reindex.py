"""Rebuilding an index from PostgreSQL: searches keep answering, the alias moves,
an interrupted rebuild resumes, changes made during a rebuild are kept."""

import threading

import pytest

from app.db import get_db
from app.search import get_search
from app.search.reindex import rebuild
from organisation.municipalities import service


class Interrupted(Exception):
    pass


def alias_target(app):
    with app.app_context():
        return get_search().alias_target("municipality")


def test_reindex_while_searches_run_in_a_loop(app, client, deliver):
    deliver()
    before = alias_target(app)
    failures, answered, stop = [], [0], threading.Event()

    def search_loop():
        while not stop.is_set():
            r = client.get("/api/v1/municipalities?q=aarhus")
            items = r.get_json().get("items") if r.status_code == 200 else None
            if not items or items[0]["code"] != 751:
                failures.append((r.status_code, r.get_data(as_text=True)[:300]))
            answered[0] += 1

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        targets = []
        for _ in range(3):
            result = app.test_cli_runner().invoke(args=["search", "reindex", "municipality", "--batch-size", "10"])
            assert result.exit_code == 0, result.output
            targets.append(alias_target(app))
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert answered[0] > 10
    assert len({before, *targets}) == 4  # every rebuild made a new index and the alias followed
    with app.app_context():
        search = get_search()
        assert search.alias_target("municipality") == targets[-1]
        assert search.client.count(index=search.alias("municipality"))["count"] == 98
        # The previous index is kept as a way back; older ones are gone.
        assert search.physical_indexes("municipality") == sorted(targets[-2:])


def test_an_interrupted_reindex_resumes_and_keeps_changes_made_meanwhile(app, client, deliver):
    deliver()
    before = alias_target(app)

    def crash_after_three_batches(done, _total):
        if done >= 30:
            raise Interrupted

    with app.app_context(), pytest.raises(Interrupted):
        rebuild(get_db(), get_search(), "municipality", batch_size=10, progress=crash_after_three_batches)
    assert alias_target(app) == before  # searches still use the old index

    # A change while the build is half done reaches the new index through the indexer.
    with app.app_context(), get_db().transaction() as conn:
        record = dict(service.get(conn, 101), name="København under ombygning")
        service.upsert(conn, record)
    deliver()
    status = app.test_cli_runner().invoke(args=["search", "status"])
    assert "building" in status.output and "30 copied" in status.output

    result = app.test_cli_runner().invoke(args=["search", "reindex", "municipality", "--batch-size", "10"])
    assert result.exit_code == 0, result.output
    after = alias_target(app)
    assert after != before
    with app.app_context(), get_db().transaction() as conn:
        build = conn.execute("SELECT * FROM search_index_build WHERE index_name = %(n)s", {"n": after}).fetchone()
    assert build["state"] == "live" and build["done"] == 98  # resumed at 30, not restarted
    body = client.get("/api/v1/municipalities?q=ombygning").get_json()
    assert [m["code"] for m in body["items"]] == [101]


def test_restart_abandons_an_interrupted_build(app, deliver):
    deliver()

    def crash(done, _total):
        if done >= 10:
            raise Interrupted

    with app.app_context(), pytest.raises(Interrupted):
        rebuild(get_db(), get_search(), "municipality", batch_size=10, progress=crash)
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--restart"])
    assert result.exit_code == 0, result.output
    with app.app_context(), get_db().transaction() as conn:
        states = [r["state"] for r in conn.execute(
            "SELECT state FROM search_index_build WHERE kind = 'municipality' ORDER BY started_at")]
    assert states == ["abandoned", "live"]


def test_reindex_of_an_unknown_kind_is_refused(app):
    result = app.test_cli_runner().invoke(args=["search", "reindex", "nonsense"])
    assert result.exit_code != 0
    assert "unknown kind" in result.output
