"""The service catalogue: which services exist, their roles, and the data
constraints an agreement or a job-function role can carry.

It lives in code because the code enforces it: a service the code does not
know cannot be granted.  `GET /api/v1/catalogue` publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    READ = "read"
    EDIT = "edit"


class Sensitivity(StrEnum):
    """Ordered: access to a level implies access to every lower level."""

    IKKE_FORTROLIGE_DATA = "IKKE_FORTROLIGE_DATA"
    FORTROLIGE_PERSONOPLYSNINGER = "FORTROLIGE_PERSONOPLYSNINGER"
    FOELSOMME_PERSONOPLYSNINGER = "FOELSOMME_PERSONOPLYSNINGER"
    VIP_SAGER = "VIP_SAGER"

    @property
    def rank(self) -> int:
        return list(Sensitivity).index(self)


@dataclass(frozen=True)
class ConstraintType:
    key: str  # the name used in JSON
    uri: str  # the identifier used in privilege profiles
    description: str


CONSTRAINT_TYPES = (
    ConstraintType("kle", "http://sts.kombit.dk/constraints/kle/1",
                   "KLE subjects, exact (27.35.04) or as prefixes (27.*, 32.01.*)."),
    ConstraintType("org_units", "http://sts.kombit.dk/constraints/orgenhed/1",
                   "Organisation units by UUID, each with or without its subtree."),
    ConstraintType("sensitivity", "http://sts.kombit.dk/constraints/foelsomhed/1",
                   "Highest sensitivity level (følsomhed) the holder may see."),
    ConstraintType("it_systems", "http://sts.kombit.dk/constraints/itsystem/1",
                   "IT systems (UUIDs) whose data the holder may see."),
    ConstraintType("see_cpr", "urn:sts:constraint:see-cpr", "May see CPR numbers."),
    ConstraintType("see_name", "urn:sts:constraint:see-name", "May see person names."),
    ConstraintType("municipalities", "urn:sts:constraint:municipalities",
                   "Further municipalities (codes) whose shared data the holder may read."),
)
CONSTRAINT_KEYS = tuple(c.key for c in CONSTRAINT_TYPES)


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    roles: tuple[Role, ...] = (Role.READ, Role.EDIT)


SERVICES = {s.code: s for s in (
    Service("registry", "Kommuneregister", "The municipality registry."),
    Service("organisation", "Organisation", "Units, users, functions, addresses."),
    Service("klassifikation", "Klassifikation", "KLE and other classifications."),
    Service("sdi", "Sags- og dokumentindeks", "Case and document metadata."),
    Service("yi", "Ydelsesindeks", "Granted and paid-out benefits."),
    Service("distribution", "Beskedfordeler", "Subscriptions, events and data distribution."),
    Service("adgangsstyring", "Adgangsstyring", "Users' privilege profiles for a system."),
)}
