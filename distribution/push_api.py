"""Push delivery routes under /api/v1/distribution/subscriptions/<id> (docs/distribution.md).

A subscriber gives a subscription a push endpoint (PUT .../push: an https URL, or http to this
machine for local receivers); the answer carries the subscription's HMAC secret, shown this once
(distribution/push.py says how events are signed and retried).  It watches the delivery (GET
.../push: position, lag, attempts, failures, last error and success; never the secret), lists
the events given up on (GET .../dead-letters) and sends one again (POST .../redrive), and pauses
and resumes the subscription.  Everything is scoped to the caller's system and municipality.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem
from distribution import push
from distribution.api import _COLUMNS, SUBSCRIBE, SubscriptionSchema, _mine, blp

NOT_FOUND = problem_doc("No such subscription of this system and municipality.")


def _url(value: str) -> None:
    if not push.valid_url(value):
        raise ValidationError("An https:// URL (http:// only to 127.0.0.1 or localhost).")


class PushSchema(Schema):
    url = fields.String(required=True, validate=[validate.Length(max=2000), _url],
                        metadata={"description": "Where events are POSTed (batch_size per request)."})
    batch_size = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000), metadata={
        "description": "Events per request: 1 (default) POSTs each event as the body; more POSTs "
                       '{"subscription_id", "events": [...]} with up to this many events in position order.'})
    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=100), metadata={
        "description": "Attempts before an event goes to the dead letters."})
    max_age_seconds = fields.Integer(load_default=86400, validate=validate.Range(min=1, max=30 * 86400), metadata={
        "description": "An event this old that fails goes to the dead letters."})


class PushCreatedSchema(PushSchema):
    secret = fields.String(dump_only=True, metadata={
        "description": "The HMAC-SHA256 key of X-STS-Signature. Shown only in this answer; PUT again to rotate."})


class PushStatusSchema(PushSchema):
    delivered_position = fields.Integer(dump_only=True)
    lag = fields.Integer(dump_only=True, metadata={"description": "Newest position minus the delivered position."})
    attempts = fields.Integer(dump_only=True, metadata={"description": "Failed attempts of the next event."})
    failures = fields.Integer(dump_only=True, metadata={"description": "Failed attempts in all."})
    last_error = fields.String(dump_only=True, allow_none=True)
    last_success_at = fields.DateTime(dump_only=True, allow_none=True)
    next_attempt_at = fields.DateTime(dump_only=True)


class DeadLetterSchema(Schema):
    id = fields.Integer(dump_only=True)
    position = fields.Integer(dump_only=True)
    event = fields.Dict(dump_only=True, metadata={"description": "The event as it was POSTed."})
    error = fields.String(dump_only=True)
    attempts = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    redriven_at = fields.DateTime(dump_only=True, allow_none=True)


_UPSERT = """
    INSERT INTO subscription_push (subscription_id, url, secret, max_attempts, max_age_seconds, batch_size,
                                   delivered_position)
    SELECT id, %(url)s, %(secret)s, %(max_attempts)s, %(max_age_seconds)s, %(batch_size)s, acked_position
      FROM subscription WHERE id = %(i)s
    ON CONFLICT (subscription_id) DO UPDATE
       SET url = EXCLUDED.url, secret = EXCLUDED.secret, max_attempts = EXCLUDED.max_attempts,
           max_age_seconds = EXCLUDED.max_age_seconds, batch_size = EXCLUDED.batch_size, attempts = 0,
           next_attempt_at = now()
    RETURNING url, secret, max_attempts, max_age_seconds, batch_size
"""
_STATUS = """
    SELECT p.url, p.max_attempts, p.max_age_seconds, p.batch_size, p.delivered_position, p.attempts, p.failures,
           p.last_error, p.last_success_at, p.next_attempt_at,
           greatest((SELECT coalesce(max(position), 0) FROM change_event) - p.delivered_position, 0) AS lag
      FROM subscription_push p WHERE p.subscription_id = %(i)s
"""
_DEAD = "id, position, event, error, attempts, created_at, redriven_at"


def _push(subscription_id,
          query: str = "SELECT url, secret, batch_size FROM subscription_push WHERE subscription_id = %(i)s"):
    row = get_conn().execute(query, {"i": subscription_id}).fetchone()
    if row is None:
        raise Problem(404, "push_not_configured", f"Subscription {subscription_id} has no push endpoint.")
    return row


@blp.route("/subscriptions/<uuid:subscription_id>/push")
class Push(MethodView):
    @SUBSCRIBE
    @blp.response(200, PushStatusSchema)
    @blp.alt_response(404, **problem_doc("No such subscription, or it has no push endpoint."))
    def get(self, subscription_id):
        """The push delivery's state: position, lag, attempts, failures, last error and success."""
        _mine(subscription_id)
        return _push(subscription_id, _STATUS)

    @SUBSCRIBE
    @blp.arguments(PushSchema)
    @blp.response(200, PushCreatedSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def put(self, body, subscription_id):
        """Push the subscription's events to a URL; answers the signing secret, this once.

        Each event is POSTed as JSON in its own request (or, with `batch_size` > 1, up to that
        many in one request as `{"subscription_id", "events": [...]}`), in position order, with
        the headers X-STS-Event-Id (`<subscription id>:<position>`, or `:<first>-<last>` for a
        batch; the same on a redelivery: process idempotently by each event's `event_id`),
        X-STS-Timestamp (unix seconds) and X-STS-Signature (`sha256=` + hex HMAC-SHA256
        of `<timestamp>.<body>` with the secret).  Answer 2xx when processed; other
        answers are retried with exponential backoff until `max_attempts` or `max_age_seconds`,
        then the event is a dead letter.  Delivery starts after the acknowledged position;
        PUT again to change the URL or rotate the secret (the position is kept).
        """
        _mine(subscription_id)
        return get_conn().execute(_UPSERT, {**body, "i": subscription_id, "secret": push.new_secret()}).fetchone()

    @SUBSCRIBE
    @blp.response(204)
    @blp.alt_response(404, **problem_doc("No such subscription, or it has no push endpoint."))
    def delete(self, subscription_id):
        """Stop pushing (the dead letters are kept)."""
        _mine(subscription_id)
        _push(subscription_id)
        get_conn().execute("DELETE FROM subscription_push WHERE subscription_id = %(i)s", {"i": subscription_id})


@blp.route("/subscriptions/<uuid:subscription_id>/dead-letters")
class DeadLetters(MethodView):
    @SUBSCRIBE
    @blp.response(200, DeadLetterSchema(many=True))
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, subscription_id):
        """The events given up on, oldest position first, with the last error."""
        _mine(subscription_id)
        return dead_letters(subscription_id)


@blp.route("/subscriptions/<uuid:subscription_id>/dead-letters/<int:dead_letter_id>/redrive")
class Redrive(MethodView):
    @SUBSCRIBE
    @blp.response(200, DeadLetterSchema)
    @blp.alt_response(404, **problem_doc("No such subscription, dead letter or push endpoint."))
    @blp.alt_response(502, **problem_doc("The receiver did not accept the event; `detail` says what it answered."))
    def post(self, subscription_id, dead_letter_id):
        """Send a dead letter's event again, now, once (same idempotency key); marks it redriven.

        It goes as the subscription's requests look: the event itself, or a batch of one event
        when the subscription pushes batches (`batch_size` > 1).
        """
        _mine(subscription_id)
        return redrive(subscription_id, dead_letter_id)


# -- the operations, for a subscription whose caller is already checked (also distribution/admin_api.py) ---------

def dead_letters(subscription_id) -> list[dict]:
    return get_conn().execute(f"SELECT {_DEAD} FROM dead_letter WHERE subscription_id = %(i)s ORDER BY position",
                              {"i": subscription_id}).fetchall()


def redrive(subscription_id, dead_letter_id: int) -> dict:
    """POST the dead letter's event once more, as the subscription's requests look (one event, or a
    batch of one), signed, with its own idempotency key; mark it redriven.  502 if refused again."""
    conn = get_conn()
    letter = conn.execute(f"SELECT {_DEAD} FROM dead_letter WHERE id = %(d)s AND subscription_id = %(i)s",
                          {"d": dead_letter_id, "i": subscription_id}).fetchone()
    if letter is None:
        raise Problem(404, "not_found", f"No dead letter {dead_letter_id} of this subscription.")
    target = _push(subscription_id)
    error = push.send(target["url"], target["secret"], push.message_of([letter["event"]], target["batch_size"]),
                      timeout=current_app.config.get("DISTRIBUTION_PUSH_TIMEOUT", push.TIMEOUT))
    if error is not None:
        raise Problem(502, "receiver_failed", f"The receiver did not accept the event: {error}")
    return conn.execute(f"UPDATE dead_letter SET redriven_at = now() WHERE id = %(d)s RETURNING {_DEAD}",
                        {"d": dead_letter_id}).fetchone()


def set_paused(subscription_id, paused: bool) -> dict:
    return get_conn().execute(f"UPDATE subscription SET paused = %(p)s WHERE id = %(i)s RETURNING {_COLUMNS}",
                              {"p": paused, "i": subscription_id}).fetchone()


def _set_paused(subscription_id, paused: bool):
    _mine(subscription_id)
    return set_paused(subscription_id, paused)


@blp.route("/subscriptions/<uuid:subscription_id>/pause")
class Pause(MethodView):
    @SUBSCRIBE
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, subscription_id):
        """Pause push delivery (events wait; nothing is lost)."""
        return _set_paused(subscription_id, True)


@blp.route("/subscriptions/<uuid:subscription_id>/resume")
class Resume(MethodView):
    @SUBSCRIBE
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, subscription_id):
        """Resume push delivery from where it stopped."""
        return _set_paused(subscription_id, False)
