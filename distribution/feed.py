"""The change feed: sequencing committed change events, and reading them for a subscriber.

Events are written by triggers in the writing transaction (migrations/0013) without a position.
`sequence` gives every committed, unsequenced event the next positions, ordered by the commit
time of its transaction (track_commit_timestamp; without it, by transaction id), under a lock so
that one sequencer runs at a time.  A transaction that commits after a later one therefore gets
later positions: readers that page by position see every event once, in commit order, with no
gaps.  Per object the order is always right: two transactions writing the same object are
serialised by its row lock.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from distribution import messages
from indexes.reads import access_condition

TOPICS = {
    "organisation": ("organisation", "enhed", "person", "bruger", "funktion", "itsystem"),
    "klassifikation": ("klassifikation", "facet", "klasse", "sortiment"),
    "indexes": ("sag", "dokument", "bevilling", "effektuering"),
    "events": (messages.OBJECT_TYPE,),
}
INDEX_TYPES = TOPICS["indexes"]
SEQUENCER_LOCK = "change_event_sequencer"

_SEQUENCE = """
    WITH todo AS (
        SELECT id, row_number() OVER (
                   ORDER BY CASE WHEN %(ts)s
                                 THEN pg_xact_commit_timestamp(((xid::text::numeric %% 4294967296)::text)::xid) END,
                            xid, id) AS n
          FROM change_event WHERE position IS NULL),
         base AS (SELECT coalesce(max(position), 0) AS b FROM change_event)
    UPDATE change_event e SET position = base.b + todo.n FROM todo, base WHERE e.id = todo.id
"""

_READ = """
    SELECT e.position, e.object_type, e.object_uuid::text AS object_uuid, e.municipality_code, e.change,
           e.registered_at
      FROM change_event e
      LEFT JOIN index_object o ON o.uuid = e.object_uuid AND e.object_type = ANY(%(index_types)s)
      LEFT JOIN {messages} b ON b.uuid = e.object_uuid AND e.object_type = %(message_type)s
     WHERE e.position > %(after)s AND e.object_type = ANY(%(types)s)
       AND (e.municipality_code = %(m)s OR e.municipality_code IS NULL)
       AND (e.object_type <> ALL(%(index_types)s) OR e.change = 'deleted' OR o.removed_at IS NOT NULL OR {access})
       AND (e.object_type <> %(message_type)s OR (b.uuid IS NOT NULL AND {message_access}))
       AND ({sortiment})
     ORDER BY e.position LIMIT %(limit)s
"""
# A subscription to one sortiment: of Klassifikation only the sortiment and its newest version's classes.
SORTIMENT_CONDITION = """
    e.object_type <> ALL(%(klassifikation_types)s)
    OR (e.object_type = 'sortiment' AND e.object_uuid = %(sortiment)s::uuid)
    OR (e.object_type = 'klasse' AND e.object_uuid = ANY(
        SELECT unnest(v.classes) FROM (SELECT classes FROM sortiment_version WHERE sortiment_id = %(sortiment)s::uuid
                                        ORDER BY version DESC LIMIT 1) v))
"""


def sequence(conn: psycopg.Connection) -> int:
    """Position the committed events not yet positioned; how many.  0 if another sequencer holds
    the lock (it will position them)."""
    if not conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%(k)s)) AS ok", {"k": SEQUENCER_LOCK}
                        ).fetchone()["ok"]:
        return 0
    ts = conn.execute("SELECT current_setting('track_commit_timestamp') = 'on' AS on").fetchone()["on"]
    return conn.execute(_SEQUENCE, {"ts": ts}).rowcount


def filters_of(subscription: dict, agreement_constraints: dict | None) -> list[list[dict]]:
    """The privilege lists an event must satisfy (authz.constraints): the agreement's constraints,
    and the subscription's own KLE and sensitivity filters when it has any (both must hold)."""
    sets = [[agreement_constraints or {}]]
    own = {k: v for k, v in (("kle", subscription.get("kle")), ("sensitivity", subscription.get("sensitivity")))
           if v is not None}
    if own:
        sets.append([own])
    return sets


def types_of(topics: list[str], object_types: list[str] | None) -> list[str]:
    types = [t for topic in topics for t in TOPICS[topic]]
    return [t for t in types if object_types is None or t in object_types]


def read(conn: psycopg.Connection, municipality_code: int, types: list[str], privileges: list[list[dict]], *,
         after: int, limit: int, system_id: str | None = None, sortiment: str | None = None) -> list[dict[str, Any]]:
    """Events after `after` of these object types for one municipality (and national data), the
    indexes' records limited by the agreement's constraints (removals shown: they hold no data),
    business events by who may receive them (distribution/messages.py; `system_id` is the
    subscriber's system: without it, messages for named recipients are not shown); with
    `sortiment`, Klassifikation events only of that sortiment and its classes."""
    access, params = access_condition(privileges)
    message_access, more = messages.condition(privileges, system_id)
    only = sql.SQL(SORTIMENT_CONDITION) if sortiment else sql.SQL("TRUE")
    return conn.execute(sql.SQL(_READ).format(access=access, messages=messages.MESSAGES, message_access=message_access,
                                              sortiment=only),
                        {"after": after, "types": types, "m": municipality_code, "index_types": list(INDEX_TYPES),
                         "message_type": messages.OBJECT_TYPE, "limit": limit, "sortiment": sortiment,
                         "klassifikation_types": list(TOPICS["klassifikation"]), **params, **more}).fetchall()
