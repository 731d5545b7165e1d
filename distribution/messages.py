"""Business events (beskedfordeler): storing a published message, and who may receive it.

A sender system publishes a message for its token's municipality (messages_api.py): an envelope
(type, allowed recipient systems, related objects, KLE subject, sensitivity, validity) and a
free JSON payload.  It is stored in business_message, and a change_event of object type
'besked' is written in the same transaction: the event is sequenced and delivered, thin, like
every other change (topic 'events', pull and push); the recipient then fetches the message.
The sender's UUID makes publishing idempotent: the same UUID with the same content again is
"unchanged", with other content a conflict.

Who receives a message (`condition`; the feed and GET /messages/<uuid> use the same rule):
- the message's municipality is the subscriber's (the token's) municipality;
- `recipients` is absent (every subscriber) or lists the subscriber's system;
- the subscriber's agreement constraints allow it, read as for the indexes' records
  (authz.constraints): `sensitivity` against the message's sensitivity, `kle` against its KLE
  subject (a message without one fails a KLE constraint), `it_systems` against the SENDER
  system.  A message carries no organisation unit, so an agreement limited to org units
  receives no messages (the unit columns are NULL: the constraint fails closed);
- it is still valid when read: `valid_to` absent or in the future.  `valid_from` does not hold
  a message back (its event would be passed by readers paging on); the recipient gets it early
  and sees the window in the envelope.
The rule is applied when the event is read, so an agreement narrowed after publishing takes
effect at once.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from authz.constraints import sql_condition

OBJECT_TYPE = "besked"
MAX_PAYLOAD_BYTES = 64 * 1024
# The messages with the unit columns the constraints expect (a message has none: NULL fails closed).
MESSAGES = sql.SQL("(SELECT m.*, NULL::uuid AS unit, NULL::uuid[] AS unit_path FROM business_message m)")
COLUMNS = ("uuid", "municipality_code", "sender_system", "type", "recipients", "objects", "kle", "sensitivity",
           "valid_from", "valid_to", "payload", "created_at")

_INSERT = """
    INSERT INTO business_message (uuid, municipality_code, sender_system, type, recipients, objects, kle,
                                  sensitivity, valid_from, valid_to, payload)
    VALUES (%(uuid)s, %(m)s, %(s)s, %(type)s, %(recipients)s::uuid[], %(objects)s, %(kle)s, %(sensitivity)s,
            %(valid_from)s, %(valid_to)s, %(payload)s)
    ON CONFLICT (uuid) DO NOTHING RETURNING *
"""
_SAME = """
    SELECT * FROM business_message
     WHERE uuid = %(uuid)s AND municipality_code = %(m)s AND sender_system = %(s)s AND type = %(type)s
       AND recipients IS NOT DISTINCT FROM %(recipients)s::uuid[] AND objects = %(objects)s
       AND kle IS NOT DISTINCT FROM %(kle)s AND sensitivity = %(sensitivity)s
       AND valid_from IS NOT DISTINCT FROM %(valid_from)s::timestamptz
       AND valid_to IS NOT DISTINCT FROM %(valid_to)s::timestamptz AND payload = %(payload)s
"""


def payload_size(payload: Any) -> int:
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())


def publish(conn: psycopg.Connection, municipality_code: int, sender_system: str,
            body: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Store a message and its event; (row, "accepted"), (row, "unchanged") for a repeat with the
    same content, or (None, "conflict") when the UUID holds another message."""
    recipients = body.get("recipients")
    params = {
        "uuid": body["uuid"], "m": municipality_code, "s": sender_system, "type": body["type"],
        "recipients": None if recipients is None else sorted({str(r) for r in recipients}),
        "objects": Jsonb([{"type": o["type"], "uuid": str(o["uuid"])} for o in body.get("objects") or []]),
        "kle": body.get("kle"), "sensitivity": body["sensitivity"], "valid_from": body.get("valid_from"),
        "valid_to": body.get("valid_to"), "payload": Jsonb(body["payload"]),
    }
    row = conn.execute(_INSERT, params).fetchone()
    if row is not None:
        conn.execute("INSERT INTO change_event (object_type, object_uuid, municipality_code, change) "
                     "VALUES (%(t)s, %(u)s, %(m)s, 'created')", {"t": OBJECT_TYPE, "u": body["uuid"],
                                                                   "m": municipality_code})
        conn.execute("SELECT pg_notify('change_event', %(t)s)", {"t": OBJECT_TYPE})
        return row, "accepted"
    same = conn.execute(_SAME, params).fetchone()
    return (same, "unchanged") if same is not None else (None, "conflict")


def condition(privileges: list[list[dict]], system_id: str | None, *, alias: str = "b",
              prefix: str = "msg") -> tuple[sql.Composable, dict[str, Any]]:
    """Whether the message row `alias` (of MESSAGES) may go to this subscriber: its recipients,
    every set of constraints (AND), and validity now.  No system: restricted messages fail."""
    parts: list[sql.Composable] = [
        sql.SQL("({a}.recipients IS NULL OR {s}::uuid = ANY({a}.recipients))").format(
            a=sql.Identifier(alias), s=sql.Placeholder(f"{prefix}_system")),
        sql.SQL("({a}.valid_to IS NULL OR {a}.valid_to > now())").format(a=sql.Identifier(alias)),
    ]
    params: dict[str, Any] = {f"{prefix}_system": None if system_id is None else str(system_id)}
    for i, p in enumerate(privileges):
        cond, more = sql_condition(p, kle=f"{alias}.kle", unit=f"{alias}.unit", unit_path=f"{alias}.unit_path",
                                   sensitivity=f"{alias}.sensitivity", it_system=f"{alias}.sender_system",
                                   param_prefix=f"{prefix}{i}")
        parts.append(cond)
        params.update(more)
    return sql.SQL(" AND ").join(parts), params


def read_for(conn: psycopg.Connection, message_uuid: str, municipality_code: int, system_id: str | None,
             privileges: list[list[dict]]) -> dict[str, Any] | None:
    """The message if this subscriber may receive it, else None."""
    cond, params = condition(privileges, system_id)
    query = sql.SQL("SELECT {cols} FROM {messages} b WHERE b.uuid = %(u)s AND b.municipality_code = %(m)s "
                    "AND {cond}").format(cols=sql.SQL(", ").join(sql.Identifier("b", c) for c in COLUMNS),
                                         messages=MESSAGES, cond=cond)
    return conn.execute(query, {"u": message_uuid, "m": municipality_code, **params}).fetchone()
