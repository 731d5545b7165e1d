"""Push delivery: POST a subscription's events to its HTTPS endpoint, with retries and dead letters.

`deliver_due` takes each due push subscription (not paused, `next_attempt_at` reached), locked
with FOR UPDATE SKIP LOCKED so that two schedulers never deliver for the same subscription at
once, reads its next event after `delivered_position` (the same filter as pull: the municipality,
the topics and the approved agreement's constraints) and POSTs it, one event per request in
position order (so the order per object is kept), or with `batch_size` > 1 up to that many events
per request as {"subscription_id", "events": [...]} (each event with its `event_id`), signed:

    X-STS-Event-Id:   "<subscription id>:<position>" ("<first>-<last>" for a batch; a redelivery
                      repeats it: process idempotently by each event's `event_id`)
    X-STS-Timestamp:  unix seconds
    X-STS-Signature:  "sha256=" + hex HMAC-SHA256(secret, "<timestamp>." + body)

With the subscription's payload `full`, each event carries `data` (distribution/payloads.py).
A 2xx answer advances `delivered_position`; anything else (status >= 300, timeout, connection
error) counts an attempt and backs off exponentially with full jitter (0.5 s doubling, at most
5 minutes).  After `max_attempts` attempts, or when the event is older than `max_age_seconds`,
the event (every event of the batch) moves to `dead_letter` and later events flow.  Every event's outcome is committed
before the next is sent, so a crash loses nothing: at worst the event whose POST was not yet
committed is delivered again, with the same idempotency key (at least once).

The secret is stored as is in subscription_push (signing needs it), like the token signing keys
(docs/security.md): protect the database and its backups.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext
from psycopg.types.json import Jsonb

from app.db import Database, get_db
from distribution import feed, payloads

BACKOFF_BASE = 0.5  # seconds
BACKOFF_CAP = 300.0
TIMEOUT = 5.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# (url, body, headers, timeout) -> (status, response text); raises on a connection error or timeout.
Sender = Callable[[str, bytes, dict[str, str], float], tuple[int, str]]

_DUE = """
    SELECT p.*, s.system_id, s.municipality_code, s.topics, s.object_types, s.kle, s.sensitivity, s.payload,
           s.sortiment_id
      FROM subscription_push p JOIN subscription s ON s.id = p.subscription_id
     WHERE NOT s.paused AND p.next_attempt_at <= %(now)s AND p.subscription_id <> ALL(%(skip)s::uuid[])
     ORDER BY p.next_attempt_at, p.subscription_id
     LIMIT 1 FOR UPDATE OF p SKIP LOCKED
"""
_AGREEMENT = """
    SELECT a.id, a.roles, a.constraints, s.vendor_id FROM agreement a JOIN it_system s ON s.id = a.system_id
     WHERE a.system_id = %(s)s AND a.service = 'distribution' AND a.municipality_code = %(m)s
       AND a.state = 'approved' AND s.active
"""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def valid_url(url: str) -> bool:
    """https://host..., or http:// to this machine (local receivers, tests)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST with the standard library; no redirects are followed (a 3xx is a failure)."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(500).decode("utf-8", "replace")
    finally:
        conn.close()


def event_payload(row: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    registered = row["registered_at"]
    return {"position": row["position"], "object_type": row["object_type"], "object_uuid": str(row["object_uuid"]),
            "municipality_code": row["municipality_code"], "change": row["change"],
            "registered_at": registered.isoformat() if isinstance(registered, datetime) else registered,
            "subscription_id": str(subscription_id), "event_id": f"{subscription_id}:{row['position']}"}


def message_of(events: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    """What one POST carries: the event itself (batch size 1), or {"subscription_id", "events"}."""
    if batch_size == 1:
        return events[0]
    return {"subscription_id": events[0]["subscription_id"], "events": events}


def message_id(message: dict[str, Any]) -> str:
    """X-STS-Event-Id: `<subscription>:<position>`, or `<subscription>:<first>-<last>` for a batch."""
    if "events" in message:
        first, last = message["events"][0]["position"], message["events"][-1]["position"]
        return f"{message['subscription_id']}:{first}-{last}"
    return f"{message['subscription_id']}:{message['position']}"


def send(url: str, secret: str, message: dict[str, Any], *, http: Sender | None = None,
         timeout: float = TIMEOUT) -> str | None:
    """POST one event (or batch), signed; None on a 2xx answer, else what went wrong."""
    body = json.dumps(message, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {"X-STS-Event-Id": message_id(message),
               "X-STS-Timestamp": str(timestamp), "X-STS-Signature": sign(secret, timestamp, body)}
    try:
        status, text = (http or post)(url, body, headers, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure of the receiver is a failed attempt
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if 200 <= status < 300 else f"HTTP {status}: {text}"[:500]


def backoff(attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """Full jitter: a random delay up to base * 2^(attempts - 1), capped."""
    return timedelta(seconds=jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1)))


def deliver_due(db: Database, *, now: datetime | None = None, limit: int = 100, http: Sender | None = None,
                timeout: float = TIMEOUT, jitter: Callable[[], float] = random.random,
                before_commit: Callable[[dict, dict, str], None] | None = None) -> int:
    """Deliver the due push subscriptions' next events (at most `limit` events handled); how many
    were delivered.  `now` (default: the clock) decides what is due and when to retry;
    `before_commit(subscription, event, outcome)` runs before an outcome is committed (tests)."""
    now = now or datetime.now(UTC)
    with db.transaction() as conn:
        feed.sequence(conn)
    delivered, handled, skip = 0, 0, []
    while handled < limit:
        with db.transaction() as conn:
            sub = conn.execute(_DUE, {"now": now, "skip": skip}).fetchone()
            if sub is None:
                break
            outcome = _step(conn, sub, now, http, timeout, jitter, before_commit)
        if outcome in ("idle", "retry"):
            skip.append(sub["subscription_id"])
        else:
            handled += 1
            delivered += outcome == "delivered"
    return delivered


def _step(conn, sub, now, http, timeout, jitter, before_commit) -> str:
    """One event of one locked subscription: delivered, retry, dead, or idle (nothing to send)."""
    key = {"i": sub["subscription_id"], "now": now}
    agreement = conn.execute(_AGREEMENT, {"s": sub["system_id"], "m": sub["municipality_code"]}).fetchone()
    if agreement is None:
        conn.execute("UPDATE subscription_push SET last_error = %(e)s WHERE subscription_id = %(i)s",
                     {**key, "e": "No approved agreement for the service distribution: nothing is delivered."})
        return "idle"
    newest = conn.execute("SELECT coalesce(max(position), 0) AS p FROM change_event").fetchone()["p"]
    filters = feed.filters_of(sub, agreement["constraints"])
    rows = feed.read(conn, sub["municipality_code"], feed.types_of(sub["topics"], sub["object_types"]),
                     filters, after=sub["delivered_position"], limit=sub["batch_size"], system_id=sub["system_id"],
                     sortiment=sub["sortiment_id"] and str(sub["sortiment_id"]))
    if not rows:  # nothing for this subscriber up to `newest` (read before): it is caught up
        conn.execute("UPDATE subscription_push SET delivered_position = greatest(delivered_position, %(p)s) "
                     "WHERE subscription_id = %(i)s", {**key, "p": newest})
        return "idle"
    events = [event_payload(r, sub["subscription_id"]) for r in rows]
    if sub["payload"] == "full":
        renderer = payloads.Renderer(conn, payloads.principal_of(sub, agreement), filters)
        renderer.render(events)
        renderer.log()
    message = message_of(events, sub["batch_size"])
    error = send(sub["url"], sub["secret"], message, http=http, timeout=timeout)
    attempts = sub["attempts"] + 1
    too_old = now - rows[0]["registered_at"] > timedelta(seconds=sub["max_age_seconds"])
    last = events[-1]["position"]
    if error is None:
        outcome = "delivered"
        conn.execute("UPDATE subscription_push SET delivered_position = %(p)s, attempts = 0, last_success_at = %(now)s,"
                     " next_attempt_at = %(now)s WHERE subscription_id = %(i)s", {**key, "p": last})
    elif attempts >= sub["max_attempts"] or too_old:
        outcome = "dead"
        for event in events:
            conn.execute("INSERT INTO dead_letter (subscription_id, position, event, error, attempts) "
                         "VALUES (%(i)s, %(p)s, %(e)s, %(err)s, %(a)s) ON CONFLICT (subscription_id, position) "
                         "DO UPDATE SET event = EXCLUDED.event, error = EXCLUDED.error, attempts = EXCLUDED.attempts, "
                         "created_at = now(), redriven_at = NULL",
                         {**key, "p": event["position"], "e": Jsonb(event), "err": error, "a": attempts})
        conn.execute("UPDATE subscription_push SET delivered_position = %(p)s, attempts = 0, failures = failures + 1,"
                     " last_error = %(err)s, next_attempt_at = %(now)s WHERE subscription_id = %(i)s",
                     {**key, "p": last, "err": error})
    else:
        outcome = "retry"
        conn.execute("UPDATE subscription_push SET attempts = %(a)s, failures = failures + 1, last_error = %(err)s,"
                     " next_attempt_at = %(at)s WHERE subscription_id = %(i)s",
                     {**key, "a": attempts, "err": error, "at": now + backoff(attempts, jitter)})
    if before_commit:
        before_commit(dict(sub), message, outcome)
    return outcome


@click.command("deliver")
@click.option("--limit", default=1000, show_default=True, help="At most this many events.")
@click.option("--timeout", default=TIMEOUT, show_default=True, help="Seconds to wait for a receiver.")
@with_appcontext
def deliver_command(limit: int, timeout: float) -> None:
    """Push the due events of the push subscriptions to their endpoints (once)."""
    n = deliver_due(get_db(), limit=limit, timeout=timeout)
    click.echo(f"{n} events delivered")
