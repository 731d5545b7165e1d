"""The Organisation API under /api/v1/organisation (docs/organisation.md).

This module holds the blueprint, the access rules shared by every route and
the translation of `OrgError` into problem+json; the routes live in the
modules that `organisation.init_app` imports (objects, hierarchy reads,
sync feed, search).

Who may do what: systems with the `organisation` read role (reads) or edit
role (writes, sync) under an approved agreement for the municipality;
municipality admins for their own municipality and platform operators
through the admin API.  Every read and write is scoped to the caller's
municipality: another municipality's object is answered as not found.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from app.errors import Problem, field_error
from authz.catalogue import Role
from authz.policy import PlatformRole, current, system_or_platform
from organisation.service import OrgError

blp = Blueprint("organisation", __name__,
                description="Organisation: units, users, persons, functions and IT systems (bitemporal).")
READ = system_or_platform("organisation", Role.READ, PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
WRITE = system_or_platform("organisation", Role.EDIT, PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)


def problem(exc: OrgError) -> Problem:
    """An OrgError as the problem+json answer (422s name the field and the rule)."""
    errors = [field_error("json", exc.field, exc.detail)] if exc.field else None
    return Problem(exc.status, exc.code, exc.detail, errors=errors)


def scope(args: dict) -> int:
    """The municipality this request acts on: the caller's own, or for operators `?municipality=`."""
    p = current()
    wanted = args.get("municipality")
    if p.is_operator:
        if wanted is None:
            raise Problem(422, "municipality_required", "Platform operators name the municipality to act on.",
                          errors=[field_error("query", "municipality", "Required for platform operators.")])
        return wanted
    if p.municipality_code is None:
        raise Problem(403, "forbidden", "This caller acts for no municipality.")
    if wanted is not None and wanted != p.municipality_code:
        raise Problem(403, "forbidden", f"This caller acts for municipality {p.municipality_code} only.",
                      errors=[field_error("query", "municipality", "Not the caller's municipality.")])
    return p.municipality_code
