"""Organisation's object types on the bitemporal store (docs/organisation.md).

Organisation (the municipality as an organisation) → OrganisationEnhed
(unit, `enhed`) in one hierarchy with exactly one root at any time →
Bruger (user) with a Person (name, CPR number) → OrganisationFunktion
(`funktion`: employment, manager, paying unit, contact point, ...; linking
users and units, each with its own validity) and ItSystem.

Types (unit type, function type, address type, KLE aspect) are the codes of
the seeded Klassifikation facets (classification/seed_data.py), e.g.
`unit_type = "afdeling"`, `function_type = "arbejder_i"`.  Relations hold the
related object's UUID as a string.  Addresses are values on the unit, user or
function (`{"type": "email", "value": "..."}`), not objects of their own: in
the feeds municipalities run they never live apart from their owner.  KLE
tasks carry the KLE code next to the class UUID, so "units responsible for
27.*" is an index lookup.

Every object's existence in valid time is the span of its `user_key` facts
(for a function: of `function_type`).
"""

from __future__ import annotations

from app.bitemporal.store import FieldSpec, ObjectType, Store


def _task_key(value: dict) -> str:
    return f"{value['klasse']}:{value['aspect']}"


def _address_key(value: dict) -> str:
    return f"{value['type']}:{value['value']}"


# {"klasse": uuid, "code": "27.35.04", "aspect": "ansvarlig"}
TASKS = FieldSpec("tasks", many=True, key=_task_key)
ADDRESSES = FieldSpec("addresses", many=True, key=_address_key)  # {"type": "email", "value": "..."}

ORGANISATION = ObjectType("organisation", (
    FieldSpec("user_key"), FieldSpec("name"), FieldSpec("cvr"),
))

ENHED = ObjectType("enhed", (
    FieldSpec("user_key"),      # the unit's short key (enhedsnummer / kort navn)
    FieldSpec("name"),
    FieldSpec("unit_type"),     # code in facet enhedstype
    FieldSpec("parent"),        # unit UUID; none for the root
    TASKS,
    ADDRESSES,
    FieldSpec("it_systems", many=True),  # it_system UUIDs
))

PERSON = ObjectType("person", (
    FieldSpec("user_key"),
    FieldSpec("name"),
    FieldSpec("cpr"),
))

BRUGER = ObjectType("bruger", (
    FieldSpec("user_key"),      # the user id (AD account, initials)
    FieldSpec("name"),
    FieldSpec("person"),        # person UUID
    ADDRESSES,
))

FUNKTION = ObjectType("funktion", (
    FieldSpec("user_key"),
    FieldSpec("function_type"),  # code in facet funktionstype
    FieldSpec("name"),           # e.g. the job title of an employment
    FieldSpec("units", many=True),   # the units it concerns (employment, manager: the unit; paying unit: the payer)
    FieldSpec("users", many=True),   # the users it concerns (employment: the employee; manager: the manager)
    FieldSpec("for_unit"),           # paying unit: the unit it pays for
    TASKS,
    ADDRESSES,
))

ITSYSTEM = ObjectType("itsystem", (
    FieldSpec("user_key"), FieldSpec("name"),
))

organisationer = Store(ORGANISATION)
enheder = Store(ENHED)
personer = Store(PERSON)
brugere = Store(BRUGER)
funktioner = Store(FUNKTION)
itsystemer = Store(ITSYSTEM)

STORES = {"organisation": organisationer, "enhed": enheder, "person": personer, "bruger": brugere,
          "funktion": funktioner, "itsystem": itsystemer}
