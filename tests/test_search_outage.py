"""Elasticsearch going down loses nothing: the outbox keeps changes until it is back.

This test runs its own Elasticsearch node (started by the project's script on
a free port, data in its own folder), so stopping it disturbs neither the
rest of the suite nor `make run`.
"""

import time

import pytest

from app.db import get_db
from app.search import get_search
from organisation.municipalities import service
from tests.elasticsearch_node import indexer_thread, own_node, pending, wait_for
from tests.world import operator_client


@pytest.fixture
def own_elasticsearch(service_urls):
    with own_node() as node:
        yield node


@pytest.mark.slow
def test_changes_made_while_elasticsearch_is_down_arrive_when_it_is_back(make_app, own_elasticsearch):
    app = make_app(ELASTICSEARCH_URL=own_elasticsearch.url, SEARCH_REQUEST_TIMEOUT=5)
    with app.app_context():
        search = get_search()
    client = operator_client(app)
    with indexer_thread(app):
        assert wait_for(lambda: pending(app) == 0, 60), "the seed data was not delivered"

        own_elasticsearch.stop()
        assert not own_elasticsearch.running()
        with app.app_context(), get_db().transaction() as conn:
            service.upsert(conn, dict(service.get(conn, 751), name="Aarhus efter nedbrud"))
            conn.execute("DELETE FROM municipality WHERE code = 825")
        time.sleep(3)  # the worker tries, fails and backs off; the rows stay
        assert pending(app) == 2  # the update and the deletion, both kept
        r = client.get("/api/v1/municipalities?q=aarhus")
        assert r.status_code == 503 and r.get_json()["code"] == "search_unavailable"

        own_elasticsearch.start()
        assert wait_for(lambda: pending(app) == 0, 60), "the outbox did not drain after Elasticsearch came back"
        search.client.indices.refresh(index=search.alias("municipality"))
        found = client.get("/api/v1/municipalities?q=nedbrud").get_json()["items"]
        assert [m["code"] for m in found] == [751]
        assert client.get("/api/v1/municipalities?limit=1").get_json()["total"] == 97


def test_an_index_deleted_while_the_worker_runs_is_created_again_by_the_next_delivery(app):
    """The worker makes sure of its indexes at start (and after a failure), not at every wake-up:
    an index deleted behind its back comes back with the next bulk that finds it missing."""
    with app.app_context():
        search = get_search()
    client = operator_client(app)
    with indexer_thread(app):
        assert wait_for(lambda: pending(app) == 0, 60), "the seed data was not delivered"
        search.client.indices.delete(index=search.alias_target("municipality"))
        assert search.alias_target("municipality") is None

        with app.app_context(), get_db().transaction() as conn:
            service.upsert(conn, dict(service.get(conn, 751), name="Aarhus efter sletning"))
        assert wait_for(lambda: pending(app) == 0, 60), "the change was not delivered to a new index"
        assert search.alias_target("municipality") is not None
        search.client.indices.refresh(index=search.alias("municipality"))
        found = client.get("/api/v1/municipalities?q=sletning").get_json()["items"]
        assert [m["code"] for m in found] == [751]
