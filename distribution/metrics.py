"""Prometheus metrics of the distribution service, read from the database at scrape time.

One cheap query per scrape (a pooled connection, a short statement timeout) gives:

    sts_distribution_metrics_up                      1, or 0 when the numbers could not be read
    sts_distribution_events_unsequenced              change events committed but not yet positioned
    sts_distribution_newest_position                 the newest position of the change feed
    per subscription (labels subscription, system, municipality: one series each, so bounded):
    sts_distribution_subscription_paused             1 when paused
    sts_distribution_pull_lag_events                 newest - acknowledged position (pull subscriptions)
    sts_distribution_push_lag_events                 newest - delivered position (push subscriptions)
    sts_distribution_push_failures_total             failed attempts in all (counter)
    sts_distribution_push_last_success_timestamp_seconds   unix time of the last delivery (absent if none)
    sts_distribution_dead_letters                    events given up on and not yet redriven

Why at scrape time and not counters updated by the deliverer: the scheduler runs in its own
process and the API under granian in several; the database already holds the truth, so every
worker answering /metrics reports the same numbers.  The collector is registered with app/metrics.py
(`add_collector`), which adds it to the registry it builds for each scrape, next to the
multiprocess collector: it runs once per scrape, in the answering worker, and never goes through
the multiprocess files.  If the database does not answer, /metrics still renders, with
`sts_distribution_metrics_up 0` and none of the other series (the error is logged).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app import metrics
from app.db import get_db

log = logging.getLogger("sts.distribution.metrics")

POOL_TIMEOUT = 2.0  # seconds to wait for a pooled connection
STATEMENT_TIMEOUT_MS = 2000
LABELS = ["subscription", "system", "municipality"]

# `head` has exactly one row, so the answer has at least one (with no subscription: s.id is NULL).
QUERY = """
    WITH head AS (
        SELECT (SELECT coalesce(max(position), 0) FROM change_event) AS newest,
               (SELECT count(*) FROM change_event WHERE position IS NULL) AS unsequenced
    ), dead AS (
        SELECT subscription_id, count(*) AS n FROM dead_letter WHERE redriven_at IS NULL GROUP BY subscription_id
    )
    SELECT h.newest, h.unsequenced, s.id, s.system_id, s.municipality_code, s.paused, s.acked_position,
           p.subscription_id IS NOT NULL AS push, p.delivered_position, p.failures,
           extract(epoch FROM p.last_success_at)::float AS last_success, coalesce(d.n, 0) AS dead
      FROM head h
      LEFT JOIN subscription s ON true
      LEFT JOIN subscription_push p ON p.subscription_id = s.id
      LEFT JOIN dead d ON d.subscription_id = s.id
     ORDER BY s.id
"""


def snapshot() -> list[dict[str, Any]]:
    """The query's rows (in an app context)."""
    with get_db().transaction(timeout=POOL_TIMEOUT) as conn:
        conn.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        return conn.execute(QUERY).fetchall()


def families(rows: list[dict[str, Any]]) -> list:
    """The metric families of a snapshot."""
    newest, unsequenced = rows[0]["newest"], rows[0]["unsequenced"]
    gauge, counter = GaugeMetricFamily, CounterMetricFamily
    out = {
        "unsequenced": gauge("sts_distribution_events_unsequenced",
                             "Change events committed but not yet given a position.", value=unsequenced),
        "newest": gauge("sts_distribution_newest_position", "The newest position of the change feed.",
                        value=newest),
        "paused": gauge("sts_distribution_subscription_paused", "1 when the subscription is paused.",
                        labels=LABELS),
        "pull_lag": gauge("sts_distribution_pull_lag_events",
                          "Newest position minus the acknowledged position of a pull subscription.", labels=LABELS),
        "push_lag": gauge("sts_distribution_push_lag_events",
                          "Newest position minus the delivered position of a push subscription.", labels=LABELS),
        "failures": counter("sts_distribution_push_failures",
                            "Failed push attempts of a subscription in all.", labels=LABELS),
        "success": gauge("sts_distribution_push_last_success_timestamp_seconds",
                         "Unix time of the last successful push (absent if none yet).", labels=LABELS),
        "dead": gauge("sts_distribution_dead_letters",
                      "Events of a push subscription given up on and not yet redriven.", labels=LABELS),
    }
    for row in rows:
        if row["id"] is None:
            continue
        labels = [str(row["id"]), str(row["system_id"]), str(row["municipality_code"])]
        out["paused"].add_metric(labels, 1 if row["paused"] else 0)
        if not row["push"]:
            out["pull_lag"].add_metric(labels, max(newest - row["acked_position"], 0))
            continue
        out["push_lag"].add_metric(labels, max(newest - row["delivered_position"], 0))
        out["failures"].add_metric(labels, row["failures"])
        out["dead"].add_metric(labels, row["dead"])
        if row["last_success"] is not None:
            out["success"].add_metric(labels, row["last_success"])
    return list(out.values())


def up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily("sts_distribution_metrics_up",
                             "1 when the distribution metrics could be read from the database.", value=value)


class DistributionCollector(Collector):
    """Reads the distribution's state at every scrape (see the module docstring)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        with self.app.app_context():
            try:
                found = families(snapshot())
            except Exception:  # /metrics must render while PostgreSQL is away
                log.warning("distribution metrics not read", exc_info=True)
                found = None
        yield up(0 if found is None else 1)
        yield from found or ()


def init_app(app: Flask) -> None:
    metrics.add_collector(app, DistributionCollector(app))
