"""Test fixtures: the real services, a database per test, an index prefix per test.

- The services are started (or reused) through the same script `make run`
  uses (scripts/services.py); `DATABASE_URL` / `ELASTICSEARCH_URL` point the
  suite at services of your own instead.
- A template database gets every migration and the seed data once per run;
  each test that needs isolation gets a copy (`CREATE DATABASE ... TEMPLATE`)
  and its own Elasticsearch index prefix, both dropped afterwards.  Nothing
  is ever named like `make run`'s database (`sts`) or prefix (`sts_`).
- `shared_app` is one such copy for the whole run, indexed once, for tests
  that only read.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from elasticsearch import Elasticsearch
from psycopg.rows import dict_row

from app import create_app
from app.bitemporal.periods import COPENHAGEN
from app.db import get_db
from app.migrate import upgrade
from app.search import get_search
from app.search.indexer import drain
from organisation.municipalities import service as municipalities
from scripts import services
from tests.world import standard_world

RUN_ID = f"t{os.getpid()}"
_numbers = itertools.count()
# The admin web's signing key (app/config.py SECRET_KEY): passed to every test app, and in the
# environment for the `flask` processes some tests start.
SECRET_KEY = os.environ.setdefault("STS_SECRET_KEY", secrets.token_urlsafe(48))


def database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    return services.start()


@pytest.fixture(scope="session")
def admin_conn(service_urls):
    with psycopg.connect(database_url(service_urls["DATABASE_URL"], "postgres"), autocommit=True,
                         row_factory=dict_row) as conn:
        _drop_stale_databases(conn)
        yield conn


def _drop_stale_databases(conn: psycopg.Connection) -> None:
    """Databases left behind by test runs that were killed."""
    for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sts\\_t%%'"):
        m = re.match(r"^sts_t(\d+)_", row["datname"])
        if m and not services._pid_alive(int(m.group(1))):
            conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db(admin_conn, service_urls):
    name = f"sts_{RUN_ID}_tpl"
    admin_conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(service_urls["DATABASE_URL"], name)
    upgrade(url)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        municipalities.load(conn, municipalities.read_csv(municipalities.SEED_FILE))
    yield name
    admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class AppFactory:
    """Makes apps on fresh copies of the template database; cleans them up."""

    def __init__(self, admin_conn, service_urls, template_db):
        self.admin, self.urls, self.template = admin_conn, service_urls, template_db
        self.made: list[tuple[object, str, str]] = []
        # Cleanup uses the suite's Elasticsearch, whatever URL a test gave its app.
        self.es = Elasticsearch(service_urls["ELASTICSEARCH_URL"])

    def __call__(self, *, empty: bool = False, **overrides):
        n = next(_numbers)
        dbname = f"sts_{RUN_ID}_{n}"
        template = "template0" if empty else self.template
        self.admin.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
        prefix = f"{RUN_ID}_{n}_"
        config = {
            "DATABASE_URL": database_url(self.urls["DATABASE_URL"], dbname),
            "ELASTICSEARCH_URL": self.urls["ELASTICSEARCH_URL"],
            "SEARCH_INDEX_PREFIX": prefix,
            "TESTING": True,
            "DB_POOL_MIN": 0,
            "DB_POOL_MAX": 8,
            "SECRET_KEY": SECRET_KEY,
            **overrides,
        }
        app = create_app(config)
        self.made.append((app, dbname, prefix))
        return app

    def cleanup(self) -> None:
        for app, dbname, prefix in self.made:
            app.extensions["sts.search"].close()
            app.extensions["sts.db"].close()
            self.admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            for index in self.es.indices.get(index=f"{prefix}*", allow_no_indices=True):
                self.es.indices.delete(index=index, ignore_unavailable=True)
        self.made.clear()
        self.es.close()


@pytest.fixture
def make_app(admin_conn, service_urls, template_db):
    factory = AppFactory(admin_conn, service_urls, template_db)
    yield factory
    factory.cleanup()


@pytest.fixture
def app(make_app):
    """A fresh app: own database (migrated, seeded, outbox not yet delivered), own index prefix."""
    return make_app()


@pytest.fixture
def deliver(app):
    """Deliver the outbox to Elasticsearch now and make it searchable."""

    def _deliver() -> int:
        with app.app_context():
            search = get_search()
            search.ensure_indexes()
            return drain(get_db(), search, refresh=True)

    return _deliver


@pytest.fixture(scope="session")
def shared_app(admin_conn, service_urls, template_db):
    """One indexed copy of the seed data for tests that only read."""
    factory = AppFactory(admin_conn, service_urls, template_db)
    app = factory()
    with app.app_context():
        search = get_search()
        search.ensure_indexes()
        drain(get_db(), search, refresh=True)
    yield app
    factory.cleanup()


@pytest.fixture(scope="session")
def shared_world(shared_app):
    return standard_world(shared_app)


@pytest.fixture(scope="session")
def shared_token(shared_world):
    """A system token (registry, read) for municipality 751 in the shared app."""
    return shared_world.token("a1", "registry", 751)


@pytest.fixture
def shared_client(shared_app, shared_token):
    """A client of the shared app that sends a valid system token."""
    client = shared_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {shared_token}"
    return client


@pytest.fixture
def anonymous_client(shared_app):
    return shared_app.test_client()


@pytest.fixture
def today():
    """The Danish calendar day the test runs on, as the service computes "today".

    Taken when the test starts, never at import: a run that passes midnight in Copenhagen would
    otherwise compare yesterday with the service's today.  A test that would start in the last
    seconds of a day waits for the next one, so its requests all see the day it was given.
    """
    now = datetime.now(COPENHAGEN)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=COPENHAGEN)
    if (left := (midnight - now).total_seconds()) < 5:
        time.sleep(left + 0.1)
    return datetime.now(COPENHAGEN).date()


@pytest.fixture
def world(app):
    return standard_world(app)


@pytest.fixture
def client(app, world):
    """A client of a fresh app that sends the operator's token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('operator')}"
    return client


def pytest_sessionfinish(session, exitstatus) -> None:
    """Stop the one Chromium the browser tests shared (tests/browser_session.py)."""
    from tests.browser_session import close_shared_browser

    close_shared_browser()
