"""The blueprints of the two index services and the rules every route shares.

- Sags- og dokumentindeks, service `sdi`: /api/v1/sdi (cases, documents).
- Ydelsesindeks, service `yi`: /api/v1/yi (grants, payments).

Only systems call them, under an approved agreement for the municipality: the read role for
reads, the edit role for writes (and then only as the record's master system).  The municipality
is the token's; records of other municipalities do not exist for the caller.  Every read is
filtered in its query by the agreement's data constraints and, when the system acts for a user, by
the user's privileges as well (`filters`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_smorest import Blueprint

from app.errors import Problem, field_error
from authz.catalogue import Role
from authz.policy import Principal, current, system
from authz.privileges import constraint_sets
from indexes.service import IndexWriteError, Writer


@dataclass(frozen=True)
class Service:
    code: str
    blp: Blueprint
    kinds: dict[str, str]  # URL plural → record kind
    read: object
    write: object

    @property
    def record_kinds(self) -> tuple[str, ...]:
        return tuple(self.kinds.values())


SDI = Service("sdi", Blueprint("sdi", __name__, description="Sags- og dokumentindeks: case and document metadata."),
              {"cases": "sag", "documents": "dokument"}, system("sdi", Role.READ), system("sdi", Role.EDIT))
YI = Service("yi", Blueprint("yi", __name__, description="Ydelsesindeks: granted and paid-out benefits."),
             {"grants": "bevilling", "payments": "effektuering"}, system("yi", Role.READ), system("yi", Role.EDIT))
SERVICES = (SDI, YI)


def problem(exc: IndexWriteError) -> Problem:
    errors = [field_error("json", e["field"], e["detail"]) for e in exc.errors] or None
    return Problem(exc.status, exc.code, exc.detail, errors=errors)


def municipality() -> int:
    p = current()
    if p.municipality_code is None:
        raise Problem(403, "forbidden", "This caller acts for no municipality.")
    return p.municipality_code


def writer(conn) -> Writer:
    return Writer(conn, municipality(), current().system_id)


def filters(principal: Principal | None = None) -> list[list[dict]]:
    """The privilege lists a read must satisfy, each as authz.constraints takes them: the
    agreement's constraints, and the user's privileges when the system acts for a user (both)."""
    p = principal or current()
    sets = [[p.constraints or {}]]
    if p.user_uuid is not None:
        sets.append(constraint_sets(p.privileges or []))
    return sets
