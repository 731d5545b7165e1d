"""A scratch app for a benchmark: its own database (all migrations and the
seed municipalities) and its own index prefix, both removed afterwards, and
the leftovers of killed runs cleaned up first."""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from elasticsearch import Elasticsearch
from flask import Flask
from psycopg import sql
from psycopg.rows import dict_row

from app import create_app
from app.migrate import upgrade
from organisation.municipalities import service as municipalities
from scripts import services


def database_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _drop_stale(admin: psycopg.Connection) -> None:
    """Scratch databases of bench runs that were killed."""
    for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sts\\_bench\\_%'"):
        m = re.match(r"^sts_bench_(\d+)$", name)
        if m and not services._pid_alive(int(m.group(1))):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_app(urls: dict[str, str]) -> Iterator[Flask]:
    pid = os.getpid()
    dbname, prefix = f"sts_bench_{pid}", f"bench_{pid}_"
    url = database_url(urls["DATABASE_URL"], dbname)
    with psycopg.connect(database_url(urls["DATABASE_URL"], "postgres"), autocommit=True) as admin:
        _drop_stale(admin)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        try:
            upgrade(url)
            with psycopg.connect(url, row_factory=dict_row) as conn:
                municipalities.load(conn, municipalities.read_csv(municipalities.SEED_FILE))
            app = create_app({"DATABASE_URL": url, "ELASTICSEARCH_URL": urls["ELASTICSEARCH_URL"],
                              "SEARCH_INDEX_PREFIX": prefix, "DB_POOL_MIN": 2, "DB_POOL_MAX": 4,
                              "LOG_LEVEL": "WARNING", "SECRET_KEY": secrets.token_urlsafe(32)})
            try:
                yield app
            finally:
                app.extensions["sts.search"].close()
                app.extensions["sts.db"].close()
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            with Elasticsearch(urls["ELASTICSEARCH_URL"]) as es:
                for index in es.indices.get(index=f"{prefix}*", allow_no_indices=True):
                    es.indices.delete(index=index, ignore_unavailable=True)


def process_env(app: Flask) -> dict[str, str]:
    """The environment for a process of `make run` (API, indexer, scheduler) on the scratch app."""
    return {**os.environ, "FLASK_APP": "app:create_app()", "DATABASE_URL": app.config["DATABASE_URL"],
            "ELASTICSEARCH_URL": app.config["ELASTICSEARCH_URL"],
            "STS_SEARCH_INDEX_PREFIX": app.extensions["sts.search"].prefix, "STS_LOG_LEVEL": "WARNING",
            "STS_SECRET_KEY": app.config["SECRET_KEY"]}


def flask_process(app: Flask, *args: str) -> subprocess.Popen:
    """`flask <args>` (e.g. `search worker`, `scheduler run`) on the scratch database and prefix."""
    return subprocess.Popen([str(Path(sys.executable).with_name("flask")), *args], env=process_env(app))


@contextmanager
def api_server(app: Flask) -> Iterator[int]:
    """The API under granian as `make run` serves it (scripts/app.py `api_argv`: 2 workers x 4
    threads), on a free port (yielded), against the scratch database and indexes."""
    from scripts.app import api_argv

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics = tempfile.mkdtemp(prefix="bench-prometheus-")
    env = {**process_env(app), "PROMETHEUS_MULTIPROC_DIR": metrics}
    server = subprocess.Popen(api_argv(f"127.0.0.1:{port}"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the API under granian did not start") from None
                time.sleep(0.3)
        yield port
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(metrics, ignore_errors=True)


def emit(line: dict) -> None:
    """One figure as a JSON line on stdout (progress goes to stderr)."""
    print(json.dumps(line, ensure_ascii=False, default=str), flush=True)


def service_urls() -> dict[str, str]:
    """DATABASE_URL and ELASTICSEARCH_URL when both are set, else the project's own services (started)."""
    if os.environ.get("DATABASE_URL") and os.environ.get("ELASTICSEARCH_URL"):
        return {"DATABASE_URL": os.environ["DATABASE_URL"], "ELASTICSEARCH_URL": os.environ["ELASTICSEARCH_URL"]}
    return services.start()


def machine() -> dict:
    """What a summary line says about the machine the figures came from."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}
