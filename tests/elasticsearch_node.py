"""A second Elasticsearch node for the tests that stop or kill it, and the waiting they need.

The node is started by the project's script (scripts/services.py) on a free port pair with its
data in its own folder, so stopping or killing it disturbs neither the rest of the suite (which
uses the main node) nor `make run`.  It keeps its folder between a stop and the next start, as a
real node restarting after a crash does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.db import get_db
from app.search import get_search
from app.search.indexer import run_worker
from scripts import services


def free_port_pair() -> int:
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


@contextmanager
def own_node() -> Iterator[services.Elasticsearch]:
    """A started node of our own; stopped and its folder removed afterwards."""
    home = services.DATA / f"test-es-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    node = services.Elasticsearch(home=home, port=free_port_pair())
    node.start()
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(node.home, ignore_errors=True)


def kill(node: services.Elasticsearch) -> None:
    """SIGKILL the node's process (no shutdown, no flush: a crash) and wait until it is gone."""
    pid = int(node.pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    if not wait_for(lambda: not services._pid_alive(pid), 30):
        raise RuntimeError(f"Elasticsearch (pid {pid}) still runs after SIGKILL")


def pending(app) -> int:
    """Rows in the app's search outbox (every kind)."""
    with app.app_context(), get_db().transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM search_outbox").fetchone()["n"]


@contextmanager
def indexer_thread(app, *, batch_size: int = 100) -> Iterator[None]:
    """The indexer (`run_worker`, as `flask search worker` runs it) on a thread, against the app's
    database and indexes, backing off at most 1 s; stopped, and checked to have stopped, at the end."""
    with app.app_context():
        db, search = get_db(), get_search()
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(db, search),
                              kwargs={"batch_size": batch_size, "max_backoff": 1.0, "poll_interval": 0.2, "stop": stop})
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
