"""The distribution service's subscriber routes under /api/v1/distribution (docs/distribution.md).

A subscriber is a registered IT system with an approved agreement for the service `distribution`
and a municipality.  It creates subscriptions (topics: organisation, klassifikation, indexes;
optionally only some object types) and pulls their thin events by position: each event names the
object type, UUID, municipality and change, in commit order.  It reads the object itself through
the service that owns it.  Events of the indexes' records are limited by the agreement's data
constraints (KLE subjects, units, sensitivity, IT systems); removals are listed to every
subscriber of the topic (they hold no data).

Long-polling (`wait`): when there is no event, the request LISTENs on channel `change_event` (the
triggers NOTIFY it) on a dedicated autocommit connection, and gives its pooled connection back
while it waits; on a NOTIFY (or every few seconds, in case the sequencer was busy) it positions
and reads again, and answers as soon as there is an event or the wait is over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn, get_db, register_constraint
from app.errors import Problem, field_error
from authz.catalogue import Role, Sensitivity
from authz.policy import current, system
from distribution import feed, payloads

blp = Blueprint("distribution", __name__, description="Distribution: subscriptions and their change events (pull).")
SUBSCRIBE = system("distribution", Role.READ)
MAX_EVENTS = 1000
MAX_WAIT = 25  # seconds of long-polling, below the server's worker timeout
RECHECK = 5.0  # seconds between reads while waiting without a NOTIFY


class SubscriptionSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    topics = fields.List(fields.String(validate=validate.OneOf(list(feed.TOPICS))), required=True,
                         validate=validate.Length(min=1))
    object_types = fields.List(fields.String(validate=validate.OneOf(
        [t for types in feed.TOPICS.values() for t in types])), allow_none=True, load_default=None,
        metadata={"description": "Only these object types of the topics (default: all)."})
    kle = fields.List(fields.String(validate=validate.Regexp(r"^(\*|\d\d(\.\d\d){0,2}(\.\*)?)$")),
                      allow_none=True, load_default=None, metadata={
                          "description": "Only index records and business events with these KLE subjects "
                                         "(27.35.04, or 27.* for 27 and everything under it)."})
    sensitivity = fields.String(validate=validate.OneOf([s.value for s in Sensitivity]), allow_none=True,
                                load_default=None, metadata={
                                    "description": "Only index records and business events up to this sensitivity."})
    sortiment = fields.UUID(allow_none=True, load_default=None, metadata={
        "description": "Only this sortiment of the topic klassifikation: its own events and those of the classes "
                       "in its newest version (a sortiment of this municipality offered to this system)."})
    payload = fields.String(load_default="thin", validate=validate.OneOf(["thin", "full"]), metadata={
        "description": "thin (default): events name the object (type, UUID, change); full: events also carry "
                       "`data`, the object's current state as the agreement allows it (CPR numbers and names "
                       "only with see_cpr / see_name; null after a deletion)."})
    acked_position = fields.Integer(dump_only=True, metadata={"description": "The last position acknowledged."})
    paused = fields.Boolean(dump_only=True)


class EventsArgs(Schema):
    after = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "Events after this position (default: the subscription's acknowledged position)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS))
    wait = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_WAIT), metadata={
        "description": f"Long-polling: when there is no event, wait up to this many seconds (0-{MAX_WAIT}) for one "
                       "and answer as soon as it is there (default 0: answer at once)."})


class AckSchema(Schema):
    position = fields.Integer(required=True, validate=validate.Range(min=0),
                              metadata={"description": "Every event up to and including this position is processed."})


_COLUMNS = ("id, name, topics, object_types, kle, sensitivity, sortiment_id AS sortiment, payload, acked_position, "
            "paused")


def _check_sortiment(conn, body: dict, p) -> None:
    if body["sortiment"] is None:
        return
    if "klassifikation" not in body["topics"]:
        raise Problem(422, "validation_failed", "A sortiment is part of the topic klassifikation.",
                      errors=[field_error("json", "sortiment", "Needs the topic klassifikation.")])
    if conn.execute("SELECT 1 FROM sortiment WHERE id = %(i)s AND municipality_code = %(m)s AND system_id = %(s)s",
                    {"i": body["sortiment"], "m": p.municipality_code, "s": p.system_id}).fetchone() is None:
        raise Problem(422, "validation_failed", "No such sortiment offered to this system here.",
                      errors=[field_error("json", "sortiment", "Not this municipality's sortiment for this system.")])


def _mine(subscription_id) -> dict:
    p = current()
    row = get_conn().execute(f"SELECT {_COLUMNS} FROM subscription WHERE id = %(i)s AND system_id = %(s)s "
                             "AND municipality_code = %(m)s", {"i": subscription_id, "s": p.system_id,
                                                               "m": p.municipality_code}).fetchone()
    if row is None:
        raise Problem(404, "not_found", f"No subscription {subscription_id} of this system and municipality.")
    return row


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @SUBSCRIBE
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self):
        """This system's subscriptions for the token's municipality."""
        p = current()
        return get_conn().execute(f"SELECT {_COLUMNS} FROM subscription WHERE system_id = %(s)s AND "
                                  "municipality_code = %(m)s ORDER BY name",
                                  {"s": p.system_id, "m": p.municipality_code}).fetchall()

    @SUBSCRIBE
    @blp.arguments(SubscriptionSchema)
    @blp.response(201, SubscriptionSchema)
    @blp.alt_response(409, **problem_doc("This system already has a subscription with this name here."))
    def post(self, body):
        """Subscribe: events from now on (the first read starts after the newest event sequenced so far)."""
        p, conn = current(), get_conn()
        _check_sortiment(conn, body, p)
        feed.sequence(conn)
        start = conn.execute("SELECT coalesce(max(position), 0) AS p FROM change_event").fetchone()["p"]
        return conn.execute(
            f"INSERT INTO subscription (system_id, municipality_code, name, topics, object_types, kle, sensitivity, "
            f"sortiment_id, payload, acked_position) VALUES (%(s)s, %(m)s, %(n)s, %(t)s, %(o)s, %(k)s, %(v)s, %(so)s, "
            f"%(pl)s, %(a)s) "
            f"RETURNING {_COLUMNS}",
            {"s": p.system_id, "m": p.municipality_code, "n": body["name"], "t": body["topics"],
             "o": body["object_types"], "k": body["kle"], "v": body["sensitivity"], "pl": body["payload"],
             "so": body["sortiment"], "a": start}).fetchone()


@blp.route("/subscriptions/<uuid:subscription_id>")
class Subscription(MethodView):
    @SUBSCRIBE
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **problem_doc("No such subscription of this system and municipality."))
    def get(self, subscription_id):
        """One subscription with its acknowledged position."""
        return _mine(subscription_id)

    @SUBSCRIBE
    @blp.response(204)
    @blp.alt_response(404, **problem_doc("No such subscription of this system and municipality."))
    def delete(self, subscription_id):
        """Unsubscribe."""
        _mine(subscription_id)
        get_conn().execute("DELETE FROM subscription WHERE id = %(i)s", {"i": subscription_id})


def _release_request_conn() -> None:
    """Commit the request's transaction and give its connection back to the pool (get_conn()
    borrows a new one), so a long-poll does not hold a pooled connection while it waits."""
    conn = g.pop("db_conn", None)
    if conn is not None:
        conn.commit()
        get_db().pool.putconn(conn)


def _read_or_wait(read: Callable[[psycopg.Connection], list], wait: int) -> list:
    """Position and read; with `wait`, LISTEN first (so no commit after the read goes unnoticed),
    then wait for a NOTIFY and read again until there are events or `wait` seconds have passed."""
    if not wait:
        conn = get_conn()
        feed.sequence(conn)
        return read(conn)
    deadline = time.monotonic() + wait
    with psycopg.connect(get_db().url, autocommit=True, application_name="sts-distribution-longpoll") as listener:
        listener.execute("LISTEN change_event")
        conn = get_conn()
        feed.sequence(conn)
        rows = read(conn)
        while not rows and (remaining := deadline - time.monotonic()) > 0:
            _release_request_conn()
            notified = any(True for _ in listener.notifies(timeout=min(remaining, RECHECK), stop_after=1))
            conn = get_conn()
            if notified:  # wait for a busy sequencer, so the commit that notified is positioned now
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": feed.SEQUENCER_LOCK})
            feed.sequence(conn)
            rows = read(conn)
    return rows


@blp.route("/subscriptions/<uuid:subscription_id>/events")
class Events(MethodView):
    @SUBSCRIBE
    @blp.arguments(EventsArgs, location="query")
    @blp.response(200)
    @blp.alt_response(404, **problem_doc("No such subscription of this system and municipality."))
    def get(self, args, subscription_id):
        """The subscription's events after a position, in commit order (type, UUID, change; `data` too
        when the subscription's payload is full).

        Process them, then acknowledge the last position (POST .../ack); reading again without
        `after` starts after the acknowledged position, so an unacknowledged event is delivered
        again (at least once: make processing idempotent by `position`).  With `wait`, an empty
        read waits up to that many seconds for the next event (long-polling) instead of
        answering an empty page at once.
        """
        sub, p = _mine(subscription_id), current()
        after = args.get("after", sub["acked_position"])
        sets = feed.filters_of(sub, p.constraints)
        types = feed.types_of(sub["topics"], sub["object_types"])

        def read(conn):
            return feed.read(conn, p.municipality_code, types, sets, after=after, limit=args["limit"],
                             system_id=p.system_id, sortiment=sub["sortiment"] and str(sub["sortiment"]))

        rows = _read_or_wait(read, args["wait"])
        events = [{**r, "registered_at": r["registered_at"].isoformat()} for r in rows]
        if sub["payload"] == "full":
            renderer = payloads.Renderer(get_conn(), p, sets)
            renderer.render(events)
            renderer.log(g.get("request_id"))
        return jsonify({"events": events, "next_after": events[-1]["position"] if events else after})


@blp.route("/subscriptions/<uuid:subscription_id>/ack")
class Ack(MethodView):
    @SUBSCRIBE
    @blp.arguments(AckSchema)
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **problem_doc("No such subscription of this system and municipality."))
    @blp.alt_response(422, **problem_doc("A position beyond the newest event."))
    def post(self, body, subscription_id):
        """Acknowledge every event up to a position (never moves backwards)."""
        _mine(subscription_id)
        conn = get_conn()
        newest = conn.execute("SELECT coalesce(max(position), 0) AS p FROM change_event").fetchone()["p"]
        if body["position"] > newest:
            raise Problem(422, "validation_failed", "No event has this position yet.",
                          errors=[field_error("json", "position", f"At most {newest}.")])
        return conn.execute(f"UPDATE subscription SET acked_position = greatest(acked_position, %(p)s) "
                            f"WHERE id = %(i)s RETURNING {_COLUMNS}",
                            {"p": body["position"], "i": subscription_id}).fetchone()


def register_constraints() -> None:
    register_constraint("subscription_name_key", code="subscription_exists", field="name",
                        detail="This system already has a subscription with this name for this municipality.")
