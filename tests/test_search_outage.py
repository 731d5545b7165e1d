"""Elasticsearch going down loses nothing: the outbox keeps changes until it is back.

This test runs its own Elasticsearch node (started by the project's script on
a free port, data in its own folder), so stopping it disturbs neither the
rest of the suite nor `make run`.
"""

import os
import shutil
import socket
import threading
import time

import pytest

from app.db import get_db
from app.search import get_search
from app.search.indexer import run_worker
from organisation.municipalities import service
from scripts import services
from tests.world import operator_client


def _free_port_pair() -> int:
    """A port p with p (HTTP) and p + 100 (transport) both free; where the search
    starts depends on the pid, so two test runs at once rarely race for one."""
    first = 59310 + (os.getpid() % 45) * 2
    for port in [*range(first, 59400), *range(59310, first)]:
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 100))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a second Elasticsearch")


@pytest.fixture
def own_elasticsearch(service_urls):
    port = _free_port_pair()
    home = services.DATA / f"test-es-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    node = services.Elasticsearch(home=home, port=port)
    node.start()
    yield node
    node.stop()
    shutil.rmtree(node.home, ignore_errors=True)


def pending(app) -> int:
    with app.app_context(), get_db().transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM search_outbox").fetchone()["n"]


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_changes_made_while_elasticsearch_is_down_arrive_when_it_is_back(make_app, own_elasticsearch):
    app = make_app(ELASTICSEARCH_URL=own_elasticsearch.url, SEARCH_REQUEST_TIMEOUT=5)
    with app.app_context():
        db, search = get_db(), get_search()
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(db, search),
                              kwargs={"batch_size": 100, "max_backoff": 1.0, "poll_interval": 0.2, "stop": stop})
    worker.start()
    client = operator_client(app)
    try:
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
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
