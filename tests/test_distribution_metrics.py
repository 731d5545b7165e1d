"""Prometheus metrics of the distribution (distribution/metrics.py) through the app's /metrics: the
feed's head, per subscription the lag, failures, last success, dead letters and pause, exposed once
also in the API server's multiprocess mode, and /metrics still answering when the database does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import get_db
from distribution import feed, push
from distribution import metrics as dmetrics
from tests.test_distribution_feed import unit
from tests.test_organisation_search import build_org
from tests.world import World, bearer


def scrape(app) -> tuple[str, dict[tuple[str, tuple], float]]:
    """/metrics as text, and its distribution samples: (name, sorted labels) -> value."""
    r = app.test_client().get("/metrics")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith("sts_distribution_")}
    return text, samples


def labels(sub: dict) -> tuple:
    return tuple(sorted({"subscription": sub["id"], "system": sub["system_id"], "municipality": "751"}.items()))


def subscription(app, w: World, name: str) -> tuple[str, dict]:
    w.system(name, "Vendor A")
    w.agreement(name, "distribution", 751)
    token = w.token(name, "distribution", 751)
    r = app.test_client().post("/api/v1/distribution/subscriptions", headers=bearer(token),
                               json={"name": "main", "topics": ["organisation"]})
    assert r.status_code == 201, r.get_json()
    return token, {**r.get_json(), "system_id": w.ids[name]}


def sql(app, query: str, params: dict | None = None) -> list[dict]:
    with app.app_context(), get_db().transaction() as conn:
        cursor = conn.execute(query, params or {})
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def setup(app):
    """751's organisation; a pull and a push subscription (one attempt per event) of 751, started at the head."""
    org = build_org(app)
    with app.app_context(), get_db().transaction() as conn:
        feed.sequence(conn)
    w = World(app)
    w.vendor("Vendor A")
    pull_token, pull = subscription(app, w, "puller")
    push_token, pushed = subscription(app, w, "pusher")
    r = app.test_client().put(f"/api/v1/distribution/subscriptions/{pushed['id']}/push", headers=bearer(push_token),
                              json={"url": "http://127.0.0.1:9/hook", "max_attempts": 1})
    assert r.status_code == 200, r.get_json()
    return org, pull_token, pull, push_token, pushed


def test_the_gauges_show_the_feed_and_each_subscription(app, setup):
    org, pull_token, pull, _, pushed = setup
    _, before = scrape(app)
    head = before[("sts_distribution_newest_position", ())]
    assert before[("sts_distribution_metrics_up", ())] == 1
    assert before[("sts_distribution_push_lag_events", labels(pushed))] == 0
    assert before[("sts_distribution_pull_lag_events", labels(pull))] == 0
    assert ("sts_distribution_push_last_success_timestamp_seconds", labels(pushed)) not in before  # none yet
    assert ("sts_distribution_push_lag_events", labels(pull)) not in before  # pull has no push series

    with app.app_context():
        for key in ("M1", "M2", "M3"):  # a transaction each
            with get_db().transaction() as conn:
                unit(conn, key, parent=org.ids["R"])
    _, written = scrape(app)
    assert written[("sts_distribution_events_unsequenced", ())] == 3
    assert written[("sts_distribution_newest_position", ())] == head

    answers = iter([(500, "down"), (200, "")])  # the first event fails (one attempt: a dead letter), the second not
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)  # the deliverer's clock
    with app.app_context():
        push.deliver_due(get_db(), now=now, limit=2, http=lambda *_: next(answers))
    positions = [r["position"] for r in sql(app, "SELECT position FROM change_event WHERE position > %(h)s "
                                                 "ORDER BY position", {"h": head})]
    assert len(positions) == 3
    r = app.test_client().post(f"/api/v1/distribution/subscriptions/{pull['id']}/ack", headers=bearer(pull_token),
                               json={"position": positions[0]})
    assert r.status_code == 200, r.get_json()
    r = app.test_client().post(f"/api/v1/distribution/subscriptions/{pull['id']}/pause", headers=bearer(pull_token))
    assert r.status_code == 200, r.get_json()

    text, after = scrape(app)
    assert after[("sts_distribution_metrics_up", ())] == 1
    assert after[("sts_distribution_events_unsequenced", ())] == 0
    assert after[("sts_distribution_newest_position", ())] == positions[-1]
    assert after[("sts_distribution_push_lag_events", labels(pushed))] == 1  # the third event waits
    assert after[("sts_distribution_pull_lag_events", labels(pull))] == 2  # two not acknowledged
    assert after[("sts_distribution_push_failures_total", labels(pushed))] == 1
    assert after[("sts_distribution_dead_letters", labels(pushed))] == 1
    assert after[("sts_distribution_push_last_success_timestamp_seconds", labels(pushed))] == now.timestamp()
    assert after[("sts_distribution_subscription_paused", labels(pull))] == 1
    assert after[("sts_distribution_subscription_paused", labels(pushed))] == 0
    assert "# TYPE sts_distribution_push_failures_total counter" in text
    assert len([k for k in after if k[1]]) == 7  # one series per subscription and metric: 2 pull + 5 push

    sql(app, "UPDATE dead_letter SET redriven_at = now()")  # redriven: no longer counted
    assert scrape(app)[1][("sts_distribution_dead_letters", labels(pushed))] == 0


def test_in_multiprocess_mode_the_collector_is_exposed_once(app, setup, monkeypatch, tmp_path):
    _, _, pull, _, pushed = setup
    _, single = scrape(app)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # as under granian (scripts/app.py)
    text, multi = scrape(app)
    assert multi == single
    for name in ("sts_distribution_metrics_up", "sts_distribution_push_lag_events", "sts_search_outbox_pending"):
        assert text.count(f"# TYPE {name} gauge") == 1
    lines = text.splitlines()
    for name, sub in (("sts_distribution_push_lag_events", pushed), ("sts_distribution_pull_lag_events", pull)):
        [line] = [x for x in lines if x.startswith(name + "{")]
        assert f'subscription="{sub["id"]}"' in line


def test_metrics_answer_when_the_query_fails(app, monkeypatch, caplog):
    def broken():
        raise psycopg.OperationalError("database away")

    monkeypatch.setattr(dmetrics, "snapshot", broken)
    text, samples = scrape(app)
    assert samples == {("sts_distribution_metrics_up", ()): 0}
    assert "sts_search_outbox_pending" in text  # the rest of /metrics is unharmed
    assert "distribution metrics not read" in caplog.text


def test_metrics_answer_when_postgres_is_unreachable(make_app):
    app = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:9/nowhere", DB_POOL_TIMEOUT=1)
    assert scrape(app)[1] == {("sts_distribution_metrics_up", ()): 0}
