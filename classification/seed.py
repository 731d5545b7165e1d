"""Load the national type lists (classification/seed_data.py) into Klassifikation.

Every object is written with the store's `import_` under its stable UUID,
national (no owning municipality), valid from an open start to an open end and
published.  Importing identical data is a no-op in the store, so loading the
seed again registers nothing; a title or description edited in seed_data.py
becomes one Rettet registration of that object (its history keeps the old
text).  The seed is the source of truth for these lists: a change made to a
seeded object by other means is reverted by the next load.  Runs in the
caller's transaction: all or nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import psycopg

from app.bitemporal.periods import Period
from app.bitemporal.store import Store, WriteResult
from classification import seed_data
from classification.model import facetter, klasser, klassifikationer


class SeedResult(NamedTuple):
    created: int
    changed: int
    unchanged: int


def _always(value) -> list:
    return [(value, Period())]


def _fields(**values) -> dict:
    """Fields with a value, each valid always; None fields are left out (an import then leaves them empty)."""
    return {name: _always(value) for name, value in values.items() if value is not None}


def load_seed(conn: psycopg.Connection, *, actor: str | None = None) -> SeedResult:
    """Create or bring up to date the seeded Klassifikation, facets and classes: (created, changed, unchanged)."""
    counts = {"created": 0, "changed": 0, "unchanged": 0}
    note = "seed: fælles typer"

    def write(store: Store, object_id: str, data: dict) -> None:
        outcome: WriteResult = store.import_(conn, object_id, data, actor=actor, note=note)
        if not outcome.changed:
            counts["unchanged"] += 1
        elif outcome.registration_no == 1:
            counts["created"] += 1
        else:
            counts["changed"] += 1  # updated, or revived after being passivated or deleted

    write(klassifikationer, seed_data.FAELLES_TYPER, _fields(
        user_key=seed_data.KLASSIFIKATION_KEY, title=seed_data.KLASSIFIKATION_TITLE,
        description=seed_data.KLASSIFIKATION_DESCRIPTION, published="Publiceret"))
    for facet in seed_data.FACETS:
        write(facetter, facet.uuid, _fields(
            user_key=facet.user_key, title=facet.title, description=facet.description,
            klassifikation=seed_data.FAELLES_TYPER, published="Publiceret"))
        for c in facet.classes:
            write(klasser, facet.class_uuid(c.user_key), _fields(
                user_key=c.user_key, title=c.title, description=c.description, facet=facet.uuid,
                published="Publiceret"))
    return SeedResult(**counts)
