"""What distribution costs: fan-out to many push subscribers, single-change latency, pull catch-up,
each against the raw engine in the same run.

On a scratch database with the synthetic organisation's municipality (751), the distribution
scheduler running as its own process (`flask scheduler run`, as under `make run`) and local HTTP
receivers that verify every signature and count every event once by its `event_id`:

    fanout           --subscribers push subscriptions (topic organisation, thin events, `--batch`
                     events per request), each its own IT system with its own agreement; then a
                     burst of --changes units is created (transactions of 100; `write_s`) and the
                     scheduler process is started: seconds from its start until every subscriber
                     has every event (target: under 60 s for 100 subscribers and 10,000 changes)
    fanout_raw       the same events read with one plain SQL query per subscriber and POSTed, signed,
                     in the same batches to the same receivers from this process: the floor of
                     the HTTP side
    latency          one more push subscriber (one event per request); --samples single changes, one
                     at a time, while the fan-out subscribers receive them too: ms from the commit
                     until the receiver has the event, p50 / p99 (target: p99 under 2 s)
    latency_raw      the same commit-to-NOTIFY time of a plain PostgreSQL LISTEN client
    pull             a pull subscriber reads the whole backlog through the API under granian
                     (GET .../events, 1,000 per page, acknowledging each page): events per second
                     (target: at least 10,000/s)
    pull_raw         the same pages by plain SQL on change_event, serialised to JSON

The last line is the summary, each target as {"value", "target", "ok"}.  Exits 0 when it could run.

    .venv/bin/python -m bench.distribution [--subscribers N] [--changes N] [--batch N] [--samples N]

It makes a scratch database `sts_bench_<pid>` and an index prefix `bench_<pid>_`, dropped afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

from app.bitemporal.periods import Period, local_midnight
from bench.indexes import check, percentile
from bench.scratch import api_server, emit, flask_process, log, machine, scratch_app, service_urls
from classification.seed import load_seed
from distribution import push
from organisation import service
from tests.world import World, bearer

MUNICIPALITY = 751
FANOUT_TARGET_S = 60.0
LATENCY_P99_TARGET_MS = 2000.0
PULL_TARGET = 10000.0
ALWAYS = Period(local_midnight(date(2020, 1, 1)), None)


class Receivers:
    """One local HTTP server for every subscriber (path /<subscription id>): it checks the signature,
    counts each event once by its event_id, and notes when each object's event first arrived."""

    def __init__(self):
        self.secrets: dict[str, str] = {}
        self.seen: dict[str, set[str]] = {}
        self.arrived: dict[str, float] = {}  # object uuid -> first arrival (perf_counter), for latency
        self.bad = 0
        self.lock = threading.Lock()
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receivers.handle(self.path.strip("/"), self.headers, body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, sub: str, headers, body: bytes) -> None:
        stamp = headers["X-STS-Timestamp"]
        expected = "sha256=" + hmac.new(self.secrets[sub].encode(), stamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers["X-STS-Signature"]):
            with self.lock:
                self.bad += 1
            return
        message = json.loads(body)
        now = time.perf_counter()
        with self.lock:
            seen = self.seen.setdefault(sub, set())
            for event in message.get("events") or [message]:
                seen.add(event["event_id"])
                self.arrived.setdefault(event["object_uuid"], now)

    def count(self, sub: str) -> int:
        with self.lock:
            return len(self.seen.get(sub, ()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Bench:
    def __init__(self, app, emit, receivers: Receivers):
        self.app, self.emit, self.receivers = app, emit, receivers
        self.db = app.extensions["sts.db"]
        self.world = World(app)
        self.world.vendor("Bench vendor")
        with app.app_context(), self.db.transaction() as conn:
            load_seed(conn, actor="bench")  # the unit types
            self.root = self._unit(conn, "root", None)

    def _unit(self, conn, key: str, parent: str | None) -> str:
        data = {"user_key": [(key, ALWAYS)], "name": [(f"Enhed {key}", ALWAYS)], "unit_type": [("afdeling", ALWAYS)]}
        if parent:
            data["parent"] = [(parent, ALWAYS)]
        return service.write(conn, "enhed", "create", None, data, municipality_code=MUNICIPALITY).uuid

    def subscriber(self, name: str, *, batch: int | None) -> tuple[str, str]:
        """A system with a distribution agreement, a subscription to organisation; pushing to the
        receivers when `batch` is given.  (token, subscription id)."""
        self.world.system(name, "Bench vendor")
        self.world.agreement(name, "distribution", MUNICIPALITY, roles=("read",))
        token = self.world.token(name, "distribution", MUNICIPALITY)
        client = self.app.test_client()
        sub = client.post("/api/v1/distribution/subscriptions", headers=bearer(token),
                          json={"name": "bench", "topics": ["organisation"]}).get_json()["id"]
        if batch is not None:
            r = client.put(f"/api/v1/distribution/subscriptions/{sub}/push", headers=bearer(token),
                           json={"url": self.receivers.url + sub, "batch_size": batch})
            self.receivers.secrets[sub] = r.get_json()["secret"]
        return token, sub

    def fanout(self, subscribers: int, changes: int, batch: int) -> tuple[dict, list[str]]:
        subs = [self.subscriber(f"fan-{i:03d}", batch=batch)[1] for i in range(subscribers)]
        with self.app.app_context():
            self.start = self.world.sql("SELECT coalesce(max(position), 0) AS p FROM change_event")[0]["p"]
            t0 = time.perf_counter()
            for start in range(0, changes, 100):
                with self.db.transaction() as conn:
                    for i in range(start, min(start + 100, changes)):
                        self._unit(conn, f"u{i}", self.root)
            written = time.perf_counter() - t0
        t0 = time.perf_counter()  # the burst is committed; the scheduler starts now
        scheduler = flask_process(self.app, "scheduler", "run")
        try:
            deadline = time.monotonic() + 600
            last_log = time.monotonic()
            while min(self.receivers.count(s) for s in subs) < changes:
                if time.monotonic() > deadline:
                    raise RuntimeError("fan-out not delivered in 10 minutes")
                if time.monotonic() - last_log > 10:
                    last_log = time.monotonic()
                    done = sum(self.receivers.count(s) for s in subs)
                    log(f"fanout: {done:,}/{subscribers * changes:,} events delivered")
                time.sleep(0.05)
            total = time.perf_counter() - t0
        finally:
            scheduler.terminate()
            scheduler.wait(30)
        return {"name": "fanout", "subscribers": subscribers, "changes": changes, "batch": batch,
                "events_delivered": subscribers * changes, "write_s": round(written, 2), "deliver_s": round(total, 2),
                "events_per_s": round(subscribers * changes / total, 1), "bad_signatures": self.receivers.bad}, subs

    def fanout_raw(self, subs: list[str], batch: int) -> dict:
        """Plain SQL per subscriber, the same batches POSTed signed to the same receivers."""
        sent = 0
        t0 = time.perf_counter()
        with psycopg.connect(self.app.config["DATABASE_URL"]) as conn:
            for sub in subs:
                rows = conn.execute("SELECT position, object_type, object_uuid::text, municipality_code, change, "
                                    "registered_at FROM change_event WHERE position > %s "
                                    "AND object_type = 'enhed' ORDER BY position", (self.start,)).fetchall()
                events = [{"position": p, "object_type": t, "object_uuid": u, "municipality_code": m, "change": c,
                           "registered_at": r.isoformat(), "subscription_id": sub, "event_id": f"{sub}:{p}"}
                          for p, t, u, m, c, r in rows]
                for i in range(0, len(events), batch):
                    message = push.message_of(events[i:i + batch], batch)
                    error = push.send(self.receivers.url + sub, self.receivers.secrets[sub], message)
                    if error:
                        raise RuntimeError(error)
                    sent += len(message.get("events") or [message])
        s = time.perf_counter() - t0
        return {"name": "fanout_raw", "events": sent, "s": round(s, 2), "events_per_s": round(sent / s, 1)}

    def latency(self, samples: int) -> tuple[dict, dict]:
        _token, sub = self.subscriber("latency", batch=1)
        scheduler = flask_process(self.app, "scheduler", "run")
        api, raw = [], []
        try:
            time.sleep(3)
            with self.app.app_context():
                for i in range(samples):
                    with self.db.transaction() as conn:
                        uuid = self._unit(conn, f"late{i}", self.root)
                    committed = time.perf_counter()
                    deadline = committed + 30
                    while uuid not in self.receivers.arrived or self.receivers.count(sub) <= i:
                        if time.perf_counter() > deadline:
                            raise RuntimeError("a single change was not delivered in 30 s")
                        time.sleep(0.002)
                    api.append((self.receivers.arrived[uuid] - committed) * 1000)
                    time.sleep(0.05)
        finally:
            scheduler.terminate()
            scheduler.wait(30)
        url = self.app.config["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as writer:
            listener.execute("LISTEN bench_raw")
            for i in range(samples):
                writer.execute("SELECT pg_notify('bench_raw', %s)", (str(i),))
                committed = time.perf_counter()
                next(listener.notifies(timeout=10, stop_after=1))
                raw.append((time.perf_counter() - committed) * 1000)
        return ({"name": "latency", "samples": samples, "p50_ms": round(percentile(api, 50), 1),
                 "p99_ms": round(percentile(api, 99), 1), "max_ms": round(max(api), 1)},
                {"name": "latency_raw", "samples": samples, "p50_ms": round(percentile(raw, 50), 2),
                 "p99_ms": round(percentile(raw, 99), 2)})

    def pull(self, rounds: int) -> tuple[dict, dict]:
        token, sub = self.subscriber("puller", batch=None)
        with self.app.app_context():
            backlog = self.world.sql("SELECT count(*) AS n FROM change_event WHERE position IS NOT NULL")[0]["n"]
        with api_server(self.app) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = bearer(token)
            events = 0
            t0 = time.perf_counter()
            for _ in range(rounds):
                after = 0
                while True:
                    conn.request("GET", f"/api/v1/distribution/subscriptions/{sub}/events?after={after}&limit=1000",
                                 headers=headers)
                    page = json.loads(conn.getresponse().read())
                    if not page["events"]:
                        break
                    events += len(page["events"])
                    after = page["next_after"]
                    conn.request("POST", f"/api/v1/distribution/subscriptions/{sub}/ack",
                                 body=json.dumps({"position": after}),
                                 headers={**headers, "Content-Type": "application/json"})
                    conn.getresponse().read()
            api_s = time.perf_counter() - t0
            conn.close()
        raw_events = 0
        t0 = time.perf_counter()
        with psycopg.connect(self.app.config["DATABASE_URL"]) as pg:
            for _ in range(rounds):
                after = 0
                while True:
                    rows = pg.execute("SELECT position, object_type, object_uuid::text, municipality_code, change, "
                                      "registered_at FROM change_event WHERE position > %s ORDER BY position "
                                      "LIMIT 1000", (after,)).fetchall()
                    if not rows:
                        break
                    json.dumps([{"position": p, "object_type": t, "object_uuid": u, "municipality_code": m,
                                 "change": c, "registered_at": r.isoformat()} for p, t, u, m, c, r in rows])
                    raw_events += len(rows)
                    after = rows[-1][0]
        raw_s = time.perf_counter() - t0
        return ({"name": "pull", "backlog": backlog, "rounds": rounds, "events": events, "s": round(api_s, 2),
                 "events_per_s": round(events / api_s, 1)},
                {"name": "pull_raw", "events": raw_events, "s": round(raw_s, 2),
                 "events_per_s": round(raw_events / raw_s, 1)})


def run(urls: dict[str, str], emit, args) -> None:
    receivers = Receivers()
    try:
        with scratch_app(urls) as app:
            bench = Bench(app, emit, receivers)
            fan, subs = bench.fanout(args.subscribers, args.changes, args.batch)
            emit(fan)
            raw = bench.fanout_raw(subs, args.batch)
            emit(raw)
            latency, latency_raw = bench.latency(args.samples)
            emit(latency)
            emit(latency_raw)
            pull, pull_raw = bench.pull(args.rounds)
            emit(pull)
            emit(pull_raw)
    finally:
        receivers.close()
    emit({"name": "summary",
          "fanout_s": check(fan["deliver_s"], FANOUT_TARGET_S, subscribers=args.subscribers, changes=args.changes,
                            raw_s=raw["s"]),
          "latency_p99_ms": check(latency["p99_ms"], LATENCY_P99_TARGET_MS, raw_p99_ms=latency_raw["p99_ms"]),
          "pull_events_per_s": check(pull["events_per_s"], PULL_TARGET, at_least=True,
                                     raw=pull_raw["events_per_s"]),
          **machine()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="push subscribers in the fan-out")
    parser.add_argument("--changes", type=int, default=10000, help="changes in the fan-out")
    parser.add_argument("--batch", type=int, default=500, help="events per push request in the fan-out")
    parser.add_argument("--samples", type=int, default=100, help="single changes timed for latency")
    parser.add_argument("--rounds", type=int, default=3, help="times the pull subscriber reads the backlog")
    args = parser.parse_args(argv)

    run(service_urls(), emit, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
