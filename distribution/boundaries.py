"""Validity-boundary events: a future-dated change becomes a change event when it takes effect.

A write registered today with a valid-from next month (a reorganisation, say) emits its own
change event today, but what a subscriber reads "now" changes only next month.  `emit_boundaries`
finds the objects whose current facts (registration still open) start or end in valid time
within (watermark, now], writes one `updated` change event per object and advances the
watermark to `now`, all in one transaction.  The sequencer then positions the events like any
other (a NOTIFY wakes it).

Only facts registered *before* their boundary count (`lower(registration) < lower(valid)`, and
the same for the end): a fact registered after its boundary was already announced by the event
of its own write.  That keeps the scan small and lets it use the partial indexes of
migrations/0015, which hold only such future-dated facts: bulk loads (valid from the past,
open-ended) add no index entries, so their write cost is one predicate per row.  Each run is
then an index range scan over the boundaries that passed since the last run.

Two schedulers may call this at once: an advisory transaction lock lets one emit; the other
returns 0 at once.  The clock is a parameter so tests can move time forward; the watermark never
goes back (a `now` at or before it emits nothing).
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

BOUNDARY_TYPES = ("klassifikation", "facet", "klasse", "organisation", "enhed", "person", "bruger", "funktion",
                  "itsystem")
BOUNDARY_LOCK = "distribution_boundaries"

# Two arms (start, end) per type so each matches its partial index; the predicates repeat the
# indexes' WHERE clauses verbatim so the planner can use them.
_ARM = """
    SELECT {type} AS object_type, f.uuid FROM {facts} f
     WHERE upper_inf(f.registration) AND lower(f.registration) < lower(f.valid)
       AND lower(f.valid) > %(since)s AND lower(f.valid) <= %(now)s
    UNION
    SELECT {type}, f.uuid FROM {facts} f
     WHERE upper_inf(f.registration) AND lower(f.registration) < upper(f.valid)
       AND upper(f.valid) > %(since)s AND upper(f.valid) <= %(now)s
"""
_INSERT = """
    INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
    SELECT b.object_type, b.uuid, o.municipality_code, 'updated' FROM ({arm}) b JOIN {objects} o ON o.uuid = b.uuid
     ORDER BY b.uuid
"""


def _statement(object_type: str) -> sql.Composed:
    arm = sql.SQL(_ARM).format(type=sql.Literal(object_type), facts=sql.Identifier(f"{object_type}_fact"))
    return sql.SQL(_INSERT).format(arm=arm, objects=sql.Identifier(object_type))


STATEMENTS = {t: _statement(t) for t in BOUNDARY_TYPES}


def emit_boundaries(conn: psycopg.Connection, *, now: datetime) -> int:
    """Write the change events of the validity boundaries passed since the watermark, up to `now`;
    how many.  Runs in a transaction block of its own (a savepoint if the caller has one open)."""
    with conn.transaction():
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%(k)s)) AS ok",
                              {"k": BOUNDARY_LOCK}).fetchone()
        if not _value(locked, "ok"):
            return 0
        row = conn.execute("SELECT checked_until FROM distribution_boundary_watermark FOR UPDATE").fetchone()
        since = _value(row, "checked_until")
        if now <= since:
            return 0
        emitted = 0
        for statement in STATEMENTS.values():
            emitted += conn.execute(statement, {"since": since, "now": now}).rowcount
        conn.execute("UPDATE distribution_boundary_watermark SET checked_until = %(now)s", {"now": now})
        if emitted:
            conn.execute("SELECT pg_notify('change_event', 'boundaries')")
    return emitted


def _value(row, key: str):
    return row[key] if isinstance(row, dict) else row[0]
