"""Snapshot export and resend-everything of a subscription (docs/distribution.md).

A new subscriber needs the current state before it can follow the feed.  GET
.../subscriptions/<id>/snapshot lists every current object the subscription covers (its topics
and object types, the token's municipality and national data, the indexes' records the
agreement's constraints allow, removed records and logically deleted objects left out) as thin
items, keyset-paged by (object_type, uuid).  Every page carries `feed_position`: the newest
positioned event when the snapshot was started (kept in the cursor).  Any change not visible to
a page is positioned after it, so a subscriber that reads the whole snapshot and then follows
the feed after `feed_position` misses nothing (it may see a change twice: idempotent processing).
Business events have no current state: they are in the feed only, never in a snapshot.

POST .../subscriptions/<id>/resend rewinds the subscription to position 0 (and its push delivery,
if it has one), so every event still retained (30 days by default, distribution/scheduler.py
cleanup) is delivered again, at least once.  For a full state the snapshot is the tool.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import psycopg
from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from psycopg import sql

from app.api import problem_doc
from app.db import get_conn
from app.paging import decode_cursor, encode_cursor, invalid_cursor
from authz.policy import current
from distribution import feed, payloads
from distribution.api import _COLUMNS, SUBSCRIBE, SubscriptionSchema, _mine, blp
from indexes.reads import access_condition

MAX_ITEMS = 1000
NOT_FOUND = problem_doc("No such subscription of this system and municipality.")
# The object types with a `lifecycle` (the bitemporal store); a 'Slettet' object is gone.
BITEMPORAL = ("organisation", "enhed", "person", "bruger", "funktion", "itsystem", "klassifikation", "facet", "klasse")
# The types with a current state; business events (a topic of their own) are only in the feed.
SNAPSHOT_TYPES = {*BITEMPORAL, "sortiment", *feed.INDEX_TYPES}

_OBJECTS = """
    SELECT %(t)s::text AS object_type, uuid::text AS object_uuid, municipality_code FROM {table}
     WHERE (municipality_code = %(m)s OR municipality_code IS NULL) AND lifecycle <> 'Slettet' AND uuid > %(u)s
       AND {only}
     ORDER BY uuid LIMIT %(limit)s
"""
_SORTIMENTS = """
    SELECT 'sortiment' AS object_type, id::text AS object_uuid, municipality_code FROM sortiment
     WHERE municipality_code = %(m)s AND id > %(u)s AND (%(sortiment)s::uuid IS NULL OR id = %(sortiment)s::uuid)
     ORDER BY id LIMIT %(limit)s
"""
# A subscription to one sortiment: only the classes of its newest version (and no classifications or facets).
_IN_SORTIMENT = """
    uuid = ANY(SELECT unnest(v.classes) FROM (SELECT classes FROM sortiment_version
                                               WHERE sortiment_id = %(sortiment)s::uuid
                                               ORDER BY version DESC LIMIT 1) v)
"""
_RECORDS = """
    SELECT o.kind AS object_type, o.uuid::text AS object_uuid, o.municipality_code FROM index_object o
     WHERE o.kind = %(t)s AND o.municipality_code = %(m)s AND o.removed_at IS NULL AND o.uuid > %(u)s AND {access}
     ORDER BY o.uuid LIMIT %(limit)s
"""
_FIRST = str(uuidlib.UUID(int=0))


class SnapshotArgs(Schema):
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=MAX_ITEMS),
                           metadata={"description": f"Items per page (1-{MAX_ITEMS})."})
    cursor = fields.String(validate=validate.Length(max=2000),
                           metadata={"description": "`next_cursor` of the previous page; omit to start a snapshot."})


class SnapshotItemSchema(Schema):
    object_type = fields.String()
    object_uuid = fields.String()
    municipality_code = fields.Integer(allow_none=True, metadata={"description": "Null for national data."})
    data = fields.Raw(allow_none=True, metadata={
        "description": "Only with payload full: the object's current state as the agreement allows it."})


class SnapshotPageSchema(Schema):
    items = fields.List(fields.Nested(SnapshotItemSchema))
    feed_position = fields.Integer(metadata={
        "description": "The newest event when the snapshot started: after the last page, follow the feed after it "
                       "(GET .../events?after=feed_position, or acknowledge it)."})
    next_cursor = fields.String(allow_none=True,
                                metadata={"description": "Pass as `cursor` for the next page; null on the last."})


def _cursor(value: str | None) -> tuple[int | None, str, str]:
    """(feed position, object type, uuid) of the last item; (None, "", nil uuid) to start."""
    key = decode_cursor(value, 3)
    if key is None:
        return None, "", _FIRST
    position, object_type, uuid = key
    try:
        ok = isinstance(position, int) and position >= 0 and isinstance(object_type, str) and bool(uuidlib.UUID(uuid))
    except (TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise invalid_cursor()
    return position, object_type, uuid


def _page(conn: psycopg.Connection, municipality: int, types: list[str], privileges: list[list[dict]],
          after_type: str, after_uuid: str, limit: int, sortiment: str | None = None) -> list[dict[str, Any]]:
    """Up to `limit` current objects after (after_type, after_uuid), by object type then UUID."""
    access, params = access_condition(privileges)
    items: list[dict[str, Any]] = []
    for t in sorted(types):
        if t < after_type or len(items) >= limit or t not in SNAPSHOT_TYPES or \
                (sortiment and t in ("klassifikation", "facet")):
            continue
        args = {"t": t, "m": municipality, "u": after_uuid if t == after_type else _FIRST, "limit": limit - len(items),
                "sortiment": sortiment}
        if t in feed.INDEX_TYPES:
            query, args = sql.SQL(_RECORDS).format(access=access), {**args, **params}
        elif t == "sortiment":
            query = sql.SQL(_SORTIMENTS)
        else:
            only = sql.SQL(_IN_SORTIMENT if sortiment and t == "klasse" else "TRUE")
            query = sql.SQL(_OBJECTS).format(table=sql.Identifier(t), only=only)
        items += conn.execute(query, args).fetchall()
    return items


@blp.route("/subscriptions/<uuid:subscription_id>/snapshot")
class Snapshot(MethodView):
    @SUBSCRIBE
    @blp.arguments(SnapshotArgs, location="query")
    @blp.response(200, SnapshotPageSchema)
    @blp.alt_response(400, **problem_doc("`cursor` is not one this service issued (code invalid_cursor)."))
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, subscription_id):
        """Every current object the subscription covers, thin (type, UUID, municipality), in pages.

        The first page (no `cursor`) starts the snapshot and fixes `feed_position`, the newest
        event at that moment; every page repeats it.  Read the pages with `next_cursor` until it
        is null, then follow the feed after `feed_position`: a change during the snapshot is in
        the feed after it (an object may come twice; process idempotently).  Deleted objects and
        removed index records are not listed; index records only as the agreement's constraints
        allow.  With the subscription's payload `full`, each item carries `data` (its current
        state as the agreement allows it); with `thin`, read each object through its service.
        """
        sub, p, conn = _mine(subscription_id), current(), get_conn()
        position, after_type, after_uuid = _cursor(args.get("cursor"))
        if position is None:
            feed.sequence(conn)
            position = conn.execute("SELECT coalesce(max(position), 0) AS p FROM change_event").fetchone()["p"]
        types = feed.types_of(sub["topics"], sub["object_types"])
        items = _page(conn, p.municipality_code, types, feed.filters_of(sub, p.constraints), after_type, after_uuid,
                      args["limit"], sub["sortiment"] and str(sub["sortiment"]))
        last = items[-1] if len(items) == args["limit"] else None
        if sub["payload"] == "full":
            renderer = payloads.Renderer(conn, p, feed.filters_of(sub, p.constraints))
            items = renderer.render([dict(item) for item in items])
            renderer.log(g.get("request_id"))
        return {"items": items, "feed_position": position,
                "next_cursor": encode_cursor([position, last["object_type"], last["object_uuid"]]) if last else None}


@blp.route("/subscriptions/<uuid:subscription_id>/resend")
class Resend(MethodView):
    @SUBSCRIBE
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, subscription_id):
        """Resend everything: rewind the subscription (and its push delivery) to position 0.

        Every event still retained (30 days by default) is delivered again, by pull and by push,
        at least once: skip what you have processed by its position / idempotency key.  The dead
        letters are kept.  For the full current state, use the snapshot.
        """
        _mine(subscription_id)
        conn = get_conn()
        conn.execute("UPDATE subscription_push SET delivered_position = 0, attempts = 0, next_attempt_at = now() "
                     "WHERE subscription_id = %(i)s", {"i": subscription_id})
        return conn.execute(f"UPDATE subscription SET acked_position = 0 WHERE id = %(i)s RETURNING {_COLUMNS}",
                            {"i": subscription_id}).fetchone()


def init_app(app) -> None:
    """The routes are added to the distribution blueprint on import; nothing else to set up."""
