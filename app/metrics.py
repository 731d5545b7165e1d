"""Prometheus metrics: request counts and latencies per endpoint, search lag.

Under granian every worker is its own process; when
`PROMETHEUS_MULTIPROC_DIR` is set (the run script sets it) the workers'
numbers are added up through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

COLLECTORS = "sts.metrics.collectors"  # app.extensions key: the features' scrape-time collectors
REQUESTS = Counter("sts_http_requests_total", "HTTP requests answered.", ["method", "endpoint", "status"])
LATENCY = Histogram("sts_http_request_duration_seconds", "Time to answer an HTTP request.",
                    ["method", "endpoint"])


class SearchLagCollector:
    """Outbox rows waiting per kind and the age of the oldest, read at scrape time."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from app.search import outbox_status

        pending = GaugeMetricFamily("sts_search_outbox_pending", "Outbox rows not yet in Elasticsearch.",
                                    labels=["kind"])
        age = GaugeMetricFamily("sts_search_outbox_oldest_seconds", "Age of the oldest waiting outbox row.",
                                labels=["kind"])
        with self.app.app_context():
            try:
                rows = outbox_status(timeout=3.0)
            except Exception:  # noqa: BLE001 - metrics must render while PostgreSQL is away
                rows = []
            for row in rows:
                pending.add_metric([row["kind"]], row["pending"])
                age.add_metric([row["kind"]], row["oldest_seconds"])
        yield pending
        yield age


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response):
    endpoint = request.url_rule.rule if request.url_rule else "(unmatched)"
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
    return response


def render(app: Flask) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(SearchLagCollector(app))
    for collector in app.extensions.get(COLLECTORS, ()):
        registry.register(collector)
    return generate_latest(registry)


def add_collector(app: Flask, collector) -> None:
    """Have a feature's collector (an object with `collect()`) read at every scrape, by the process
    answering it: its numbers come from the database, so they are the same in every worker and
    must not go through the multiprocess files (nor the global registry, which is never exposed)."""
    app.extensions.setdefault(COLLECTORS, []).append(collector)


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_observe)
