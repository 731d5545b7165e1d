"""Personal data in Organisation answers: who may see CPR numbers and person
names, how they are left out, and the access log of those who see them.

The rule (DOMAIN.md §3: "hides person names and CPR numbers unless the caller
holds see name / see CPR"):

- A **system** sees a person's CPR number only with `see_cpr: true` in the
  constraints of its service agreement, and a person's name only with
  `see_name: true`.  A missing key means *no*: personal data is opt-in.
- When the system acts for a **user** (a user-context token: `usr` and its
  privileges `prv`), the user must hold the same flag too, in at least one of
  the constraint sets of their privileges for that system
  (`authz.privileges.constraint_sets`).  The system may see what the
  agreement AND the user allow.
- **Municipality admins and platform operators** see both: they maintain the
  municipality's organisation (create persons with their CPR numbers, correct
  names), which they cannot do blind.  Their reads are access-logged like
  everyone else's.

Names count as personal data wherever they are a person's name: a Person's
`name`, and a User's `name` (the person's name as it appears on the user),
including users listed inside other answers (the users of a unit's
functions, a user's managers).  Job titles (a function's `name`), unit names
and user keys are not.

What the caller may not see is null in the answer, and the object lists it
in `omitted` (["cpr", "name"]), so "no CPR number" and "not shown" cannot be
confused.  Every answer that does contain a CPR number or a person name is
access-logged once per request (`authz.access_log.record`) with every person
it shows: `urn:oio:cpr-nr:<cpr>` when the CPR number is shown, else
`urn:uuid:<person uuid>` (for a user without a person: the user's UUID).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authz import access_log
from authz.policy import Principal, current
from authz.privileges import constraint_sets

CPR, NAME = "cpr", "name"


@dataclass(frozen=True)
class Visibility:
    """What the current caller may see."""

    cpr: bool
    name: bool


def _flag(principal: Principal, key: str) -> bool:
    if (principal.constraints or {}).get(key) is not True:
        return False
    if principal.user_uuid is None:
        return True
    return any(s.get(key) is True for s in constraint_sets(principal.privileges or []) if s)


def may_see_names(principal: Principal) -> bool:
    """Person names: systems with `see_name` (and their user too); admins and operators always."""
    return _flag(principal, "see_name") if principal.is_system else True


def may_see_cpr(principal: Principal) -> bool:
    """CPR numbers: systems with `see_cpr` (and their user too); admins and operators always."""
    return _flag(principal, "see_cpr") if principal.is_system else True


def visibility() -> Visibility:
    """The personal data the caller of this request may see (the rule in the module docstring)."""
    principal = current()
    return Visibility(cpr=may_see_cpr(principal), name=may_see_names(principal))


@dataclass
class Disclosure:
    """The persons one answer shows: collected while the answer is built, logged once at the end."""

    operation: str
    vis: Visibility = field(default_factory=visibility)
    persons: list[str] = field(default_factory=list)

    def person(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A Person object (uuid, name, cpr, ...) with what the caller may not see left out."""
        omitted = []
        if not self.vis.cpr:
            omitted.append(CPR)
        if not self.vis.name:
            omitted.append(NAME)
        out = {**obj, **{k: None for k in omitted}, "omitted": omitted}
        if out.get(CPR):
            self.persons.append(f"urn:oio:cpr-nr:{out[CPR]}")
        elif out.get(NAME):
            self.persons.append(f"urn:uuid:{obj['uuid']}")
        return out

    def user(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A User (or a user summary: uuid, name, person, ...) with the name left out unless allowed."""
        if not self.vis.name:
            return {**obj, NAME: None, "omitted": [NAME]}
        if obj.get(NAME):
            self.persons.append(f"urn:uuid:{obj.get('person') or obj['uuid']}")
        return {**obj, "omitted": []}

    def facts(self, kind: str, owner: dict[str, Any] | None, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """History rows (field, value, periods) of a person or user: personal values nulled and
        flagged `omitted` unless allowed.  `owner` is {uuid, person} for a user."""
        hidden = set()
        if kind in ("person", "bruger") and not self.vis.name:
            hidden.add(NAME)
        if kind == "person" and not self.vis.cpr:
            hidden.add(CPR)
        out = []
        for fact in facts:
            if fact["field"] in hidden:
                out.append({**fact, "value": None, "omitted": True})
                continue
            out.append({**fact, "omitted": False})
            if kind == "person" and fact["field"] == CPR and fact["value"]:
                self.persons.append(f"urn:oio:cpr-nr:{fact['value']}")
            elif kind in ("person", "bruger") and fact["field"] == NAME and fact["value"]:
                person = owner.get("person") if owner and kind == "bruger" else None
                self.persons.append(f"urn:uuid:{person or owner['uuid']}")
        return out

    def record(self) -> None:
        """Write the access-log entry (no persons shown, no entry).  Call last, after the answer is built."""
        access_log.record(self.operation, self.persons)
