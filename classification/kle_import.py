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
imported in the caller's one transaction: all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import psycopg

from app.bitemporal.periods import Period, local_midnight
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


@dataclass
class ImportResult:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0
    moved: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


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
    for i, (c, data) in enumerate(prepared, start=1):
        if c.code not in known:
            klasser.import_(conn, ids[c.code], data, actor=actor, note=note)
            result.created += 1
        elif ids[c.code] in to_write and klasser.update(conn, ids[c.code], data, actor=actor, note=note).changed:
            result.changed += 1
        else:
            result.unchanged += 1
        result.retired += c.retired is not None
        result.moved += c.moved is not None
        result.counts[c.level] = result.counts.get(c.level, 0) + 1
        if progress:
            progress(i, len(edition.classes))
    return result
