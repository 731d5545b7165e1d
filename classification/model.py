"""Klassifikation's object types on the bitemporal store (docs/bitemporal.md).

Klassifikation (a classification system) → Facet (one dimension of it) →
Klasse (a class; `user_key` is its code, e.g. KLE `27.35.04`).  Field names
are English identifiers for the OIO attributes (brugervendtnoegle → user_key,
titel → title, ...; docs/glossary.md).  Relations hold the related object's
UUID as a string; `mappings` hold {"uuid", "kind"} links to classes of other
classifications.
"""

from __future__ import annotations

import uuid

from app.bitemporal.store import FieldSpec, ObjectType, Store

KLASSIFIKATION = ObjectType("klassifikation", (
    FieldSpec("user_key"), FieldSpec("title"), FieldSpec("description"), FieldSpec("owner"),
    FieldSpec("published"),
))

FACET = ObjectType("facet", (
    FieldSpec("user_key"), FieldSpec("title"), FieldSpec("description"), FieldSpec("klassifikation"),
    FieldSpec("published"),
))

KLASSE = ObjectType("klasse", (
    FieldSpec("user_key"),        # the code
    FieldSpec("title"),
    FieldSpec("description"),
    FieldSpec("example"),
    FieldSpec("scope"),
    FieldSpec("legal_source"),
    FieldSpec("change_note"),
    FieldSpec("guidance"),        # KLE vejledning (XHTML fragment)
    FieldSpec("level"),           # KLE: hovedgruppe / gruppe / emne / handlingsfacet(_kategori)
    FieldSpec("legal_refs"),      # list of {title, paragraph, accession_nr, url}
    FieldSpec("archive_code"),    # BevaringJaevnfoerArkivloven
    FieldSpec("deletion_period"),  # SletningJaevnfoerPersondataloven (ISO 8601 duration when it is one)
    FieldSpec("search_words", many=True),
    FieldSpec("facet"),
    FieldSpec("parent"),
    FieldSpec("replaced_by", many=True),
    FieldSpec("replaces", many=True),
    FieldSpec("mappings", many=True, key=lambda v: f"{v['kind']}:{v['uuid']}"),
    FieldSpec("published"),       # Publiceret / IkkePubliceret
))

klassifikationer, facetter, klasser = Store(KLASSIFIKATION), Store(FACET), Store(KLASSE)

# Stable identities of the national KLE objects, so every installation agrees.
NAMESPACE = uuid.UUID("8c3f2b7e-5d0a-4c1e-9b6f-2a7d4e1c9f30")
KLE_KLASSIFIKATION = str(uuid.uuid5(NAMESPACE, "klassifikation:KLE"))
KLE_EMNEPLAN = str(uuid.uuid5(NAMESPACE, "facet:KLE:emneplan"))
KLE_HANDLINGSFACETTER = str(uuid.uuid5(NAMESPACE, "facet:KLE:handlingsfacetter"))


def kle_class_uuid(facet: str, code: str) -> str:
    """A stable UUID for a KLE code in a facet, for files that carry none (XML 2.0)."""
    return str(uuid.uuid5(NAMESPACE, f"klasse:{facet}:{code}"))
