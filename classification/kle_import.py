"""Import a parsed KLE file (classification/kle_parser.py) into the store.

Every class is written with the store's per-period merge:

- a class new to the store gets its values from its creation date
  (OprettetDato; open when missing) to its retirement (UdgaaetDato) or move
  (FlyttetDato) date;
- a class already in the store gets the file's values from the edition's
  publication date on, so "as valid on a date before this edition" still
  shows the earlier title and guidance; from a retirement/move date on its
  values are cleared (the class stops being valid there);
- a moved subject links to its replacement (`replaced_by`) from the move date.

Because an unchanged class merges to the facts it already has, the store
registers nothing for it: importing the same file twice changes nothing, and
a newer edition touches only the classes that changed.  The whole file is
imported in the caller's one transaction: all or nothing, and one import at a
time (a transaction-level advisory lock; a second import waits for the first).

The result counts the classes and keeps a few examples of each kind of change
(`ImportResult.examples`: the first `EXAMPLES` created, changed and retired
classes in file order, each with its UUID, code and title; a changed one also
with its title as valid before the import), so a summary can name them
without comparing the facet before and after.  `progress(done, total)` is
called when the writing starts and then every `PROGRESS_EVERY` classes and at
the end, for a progress bar or a background job's progress row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import psycopg

from app.bitemporal.periods import Period, local_midnight
from app.bitemporal.store import StoreError
from classification import service
from classification.kle_parser import KleClass, KleEdition
from classification.model import (
    KLE_EMNEPLAN,
    KLE_HANDLINGSFACETTER,
    KLE_KLASSIFIKATION,
    facetter,
    klasser,
    klassifikationer,
    kle_class_uuid,
)

EXAMPLES = 10  # examples of each kind of change kept in the result
PROGRESS_EVERY = 100  # classes between two calls of the progress callback
IMPORT_LOCK = "kle_import"  # advisory lock held by an import's transaction


@dataclass
class ImportResult:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0
    moved: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # "created", "changed", "retired" (retired or moved by the file, and written by this import)
    examples: dict[str, list[dict]] = field(default_factory=lambda: {"created": [], "changed": [], "retired": []})

    def example(self, kind: str, c: KleClass, uuid: str, **extra) -> None:
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append({"uuid": uuid, "code": c.code, "title": c.title, **extra})


def _always(value) -> dict:
    return [(value, Period())]


def ensure_kle_objects(conn: psycopg.Connection) -> None:
    """The KLE Klassifikation and its two facets, with stable UUIDs (idempotent)."""
    klassifikationer.import_(conn, KLE_KLASSIFIKATION, {
        "user_key": _always("KLE"), "title": _always("Kommunernes Landsdækkende Emnesystematik"),
        "published": _always("Publiceret")})
    for facet_id, key, title in ((KLE_EMNEPLAN, "Emneplan", "KLE-emneplan"),
                                 (KLE_HANDLINGSFACETTER, "Handlingsfacetter", "KLE-handlingsfacetter")):
        facetter.import_(conn, facet_id, {"user_key": _always(key), "title": _always(title),
                                          "klassifikation": _always(KLE_KLASSIFIKATION),
                                          "published": _always("Publiceret")})


def _day(d: date | None):
    return local_midnight(d) if d else None


def _single_fields(c: KleClass, facet: str, parent: str | None) -> dict:
    return {
        "user_key": c.code, "title": c.title, "level": c.level, "facet": facet, "parent": parent,
        "guidance": c.guidance_html, "archive_code": c.archive_code,
        "deletion_period": c.deletion_period.raw if c.deletion_period else None,
        "legal_refs": [ref.__dict__ for ref in c.legal_refs] or None,
        "published": "Publiceret",
    }


def _data(c: KleClass, facet: str, parent: str | None, replaced_by: list[str], *, existing: bool,
          published: date | None) -> dict:
    start, end = _day(c.created), _day(c.retired or c.moved)
    effective = start
    if existing and published and (start is None or _day(published) > start):
        effective = _day(published)
    data: dict = {}
    for name, value in _single_fields(c, facet, parent).items():
        pieces = []
        if end is None or effective is None or effective < end:
            pieces.append((value, Period(effective, end)))
        if end is not None:
            pieces.append((None, Period(end, None)))
        data[name] = pieces
    words = Period(start, end) if end is None or start is None or start < end else None
    data["search_words"] = [(w, words) for w in dict.fromkeys(c.search_words)] if words else []
    data["replaced_by"] = [(u, Period(_day(c.moved), None)) for u in replaced_by] if c.moved else []
    return data


def import_edition(conn: psycopg.Connection, edition: KleEdition, *, actor: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ImportResult:
    # One KLE import at a time (API, CLI, background job): two imports creating the same new classes
    # would otherwise collide on their UUIDs, and the second one fail instead of finding them.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": IMPORT_LOCK})
    ensure_kle_objects(conn)
    facet = KLE_EMNEPLAN if edition.kind == "emneplan" else KLE_HANDLINGSFACETTER
    result = ImportResult(warnings=[f"line {line}: {msg}" for line, msg in edition.warnings])
    known = service.uuids_by_code(conn, facet)  # one query instead of one per class
    ids = {c.code: known.get(c.code) or (str(c.uuid) if c.uuid else kle_class_uuid(facet, c.code))
           for c in edition.classes}
    note = f"KLE {edition.kind} {edition.published or ''}".strip()
    prepared = []
    for c in edition.classes:
        replaced_by = [ids.get(code) or known.get(code) or kle_class_uuid(facet, code) for code in c.replaced_by]
        prepared.append((c, _data(c, facet, ids.get(c.parent_code) if c.parent_code else None, replaced_by,
                                  existing=c.code in known, published=edition.published)))
    # A later edition changes a handful of classes: find them with one read per batch instead of
    # locking and reading every class (docs/benchmarks.md).
    to_write: set[str] = set()
    existing = [(ids[c.code], data) for c, data in prepared if c.code in known]
    for start in range(0, len(existing), 500):
        to_write |= klasser.changed_ids(conn, dict(existing[start:start + 500]))
    total = len(prepared)
    if progress:
        progress(0, total)
    for i, (c, data) in enumerate(prepared, start=1):
        uuid = ids[c.code]
        written = False
        if c.code not in known:
            klasser.import_(conn, uuid, data, actor=actor, note=note)
            result.created += 1
            result.example("created", c, uuid)
            written = True
        elif uuid in to_write:
            before = _title_now(conn, uuid) if len(result.examples["changed"]) < EXAMPLES else None
            written = klasser.update(conn, uuid, data, actor=actor, note=note).changed
            if written:
                result.changed += 1
                result.example("changed", c, uuid, title_before=before)
        if not written:
            result.unchanged += 1
        if written and (c.retired or c.moved):
            result.example("retired", c, uuid)
        result.retired += c.retired is not None
        result.moved += c.moved is not None
        result.counts[c.level] = result.counts.get(c.level, 0) + 1
        if progress and (i % PROGRESS_EVERY == 0 or i == total):
            progress(i, total)
    return result


def _title_now(conn: psycopg.Connection, uuid: str) -> str | None:
    """The class's title as valid and registered now (None when it has none now, or is deleted)."""
    try:
        return klasser.read(conn, uuid).get("title")
    except StoreError:
        return None
