"""Users' privileges: the service logic behind authz/privileges_api.py and the
user-context tokens of auth_api.py (no routes here).

- A vendor publishes **user-system roles** for one of its IT systems.
- A municipality defines **job-function roles**, each bundling user-system
  roles (of any systems) with data constraints (ConstraintsSchema's shape).
- A user (by UUID in Organisation) is **assigned** job-function roles for a
  half-open period [valid_from, valid_to), either end open.
- `effective_privileges` answers what a user may do in one system on one day;
  `bpp_xml` expresses that as an OIO Basic Privilege Profile (model 3, with
  constraints), the format identity providers put in SAML assertions.

Functions take the connection (`conn`) so they work in a request's
transaction and in CLI/worker transactions alike.  See docs/privileges.md.
"""

from __future__ import annotations

import base64
import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from app.db import register_constraint
from app.errors import Problem, field_error
from authz.agreements import psycopg_json
from authz.catalogue import CONSTRAINT_TYPES, Sensitivity

TIMEZONE = ZoneInfo("Europe/Copenhagen")
ROLE_KEY_PATTERN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}(:[A-Za-z0-9._~-]+)+$")  # as in migration 0004
ROLE_KEY_MAX = 200

BPP_NAMESPACE = "http://itst.dk/oiosaml/basic_privilege_profile"
CVR_SCOPE = "urn:dk:gov:saml:cvrNumberIdentifier:"
SUBTREE_SUFFIX = ".*"  # org unit "<uuid>.*" = the unit and every unit below it (like KLE's "27.*")
ET.register_namespace("bpp", BPP_NAMESPACE)


def today() -> datetime.date:
    """Today's date in Denmark: validity dates are Danish calendar days."""
    return datetime.datetime.now(TIMEZONE).date()


# -- user-system roles ------------------------------------------------------------------------

_USR_COLUMNS = "id, system_id, key, name, description, created_at"


def create_user_system_role(conn: psycopg.Connection, system_id, body: dict) -> dict:
    return conn.execute(
        f"INSERT INTO user_system_role (system_id, key, name, description) "
        f"VALUES (%(s)s, %(k)s, %(n)s, %(d)s) RETURNING {_USR_COLUMNS}",
        {"s": system_id, "k": body["key"], "n": body["name"], "d": body.get("description") or ""},
    ).fetchone()


def list_user_system_roles(conn: psycopg.Connection, system_id) -> list[dict]:
    return conn.execute(f"SELECT {_USR_COLUMNS} FROM user_system_role WHERE system_id = %(s)s ORDER BY key",
                        {"s": system_id}).fetchall()


# -- job-function roles -----------------------------------------------------------------------

_JFR_COLUMNS = "id, municipality_code, name, description, constraints, created_at, updated_at"


def _with_members(conn: psycopg.Connection, roles: list[dict]) -> list[dict]:
    """Attach `user_system_roles` (id, system_id, key, name) to each job-function role."""
    members: dict[Any, list[dict]] = {r["id"]: [] for r in roles}
    if members:
        rows = conn.execute(
            "SELECT m.job_function_role_id, u.id, u.system_id, u.key, u.name FROM job_function_role_member m "
            "JOIN user_system_role u ON u.id = m.user_system_role_id "
            "WHERE m.job_function_role_id = ANY(%(ids)s) ORDER BY u.key, u.id",
            {"ids": list(members)},
        ).fetchall()
        for row in rows:
            members[row.pop("job_function_role_id")].append(row)
    return [{**r, "user_system_roles": members[r["id"]]} for r in roles]


def _set_members(conn: psycopg.Connection, role_id, user_system_role_ids: Iterable) -> None:
    wanted = sorted({str(i) for i in user_system_role_ids})
    found = {str(r["id"]) for r in conn.execute("SELECT id FROM user_system_role WHERE id = ANY(%(ids)s::uuid[])",
                                                 {"ids": wanted})}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        detail = "No user-system role has these ids: " + ", ".join(unknown) + "."
        raise Problem(422, "unknown_user_system_role", detail,
                      errors=[field_error("json", "user_system_role_ids", detail)])
    conn.execute("DELETE FROM job_function_role_member WHERE job_function_role_id = %(r)s", {"r": role_id})
    if wanted:
        conn.execute("INSERT INTO job_function_role_member (job_function_role_id, user_system_role_id) "
                     "SELECT %(r)s, unnest(%(ids)s::uuid[])", {"r": role_id, "ids": wanted})


def get_job_function_role(conn: psycopg.Connection, role_id, *, lock: bool = False) -> dict | None:
    """One role with its members; `lock` holds the row until the transaction ends, so a
    change or an assignment made next cannot race a concurrent delete of the role."""
    row = conn.execute(f"SELECT {_JFR_COLUMNS} FROM job_function_role WHERE id = %(id)s"
                       + (" FOR UPDATE" if lock else ""), {"id": role_id}).fetchone()
    return _with_members(conn, [row])[0] if row else None


def list_job_function_roles(conn: psycopg.Connection, municipality_code: int | None) -> list[dict]:
    where, params = ("WHERE municipality_code = %(m)s", {"m": municipality_code}) \
        if municipality_code is not None else ("", {})
    rows = conn.execute(f"SELECT {_JFR_COLUMNS} FROM job_function_role {where} ORDER BY municipality_code, name",
                        params).fetchall()
    return _with_members(conn, rows)


def create_job_function_role(conn: psycopg.Connection, municipality_code: int, body: dict) -> dict:
    row = conn.execute(
        "INSERT INTO job_function_role (municipality_code, name, description, constraints) "
        "VALUES (%(m)s, %(n)s, %(d)s, %(c)s) RETURNING id",
        {"m": municipality_code, "n": body["name"], "d": body.get("description") or "",
         "c": psycopg_json(body["constraints"])},
    ).fetchone()
    _set_members(conn, row["id"], body["user_system_role_ids"])
    return get_job_function_role(conn, row["id"])


def update_job_function_role(conn: psycopg.Connection, role_id, body: dict) -> dict:
    """Replace name, description, constraints and members (PUT semantics)."""
    conn.execute(
        "UPDATE job_function_role SET name = %(n)s, description = %(d)s, constraints = %(c)s, updated_at = now() "
        "WHERE id = %(id)s",
        {"id": role_id, "n": body["name"], "d": body.get("description") or "", "c": psycopg_json(body["constraints"])},
    )
    _set_members(conn, role_id, body["user_system_role_ids"])
    return get_job_function_role(conn, role_id)


def delete_job_function_role(conn: psycopg.Connection, role_id) -> None:
    """Deletes its members and assignments too (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM job_function_role WHERE id = %(id)s", {"id": role_id})


# -- assignments ------------------------------------------------------------------------------

_ASSIGNMENT_SELECT = """
    SELECT a.id, a.job_function_role_id, a.user_uuid, lower(a.validity) AS valid_from,
           upper(a.validity) AS valid_to, a.created_at, r.municipality_code
      FROM role_assignment a JOIN job_function_role r ON r.id = a.job_function_role_id
"""


def create_assignment(conn: psycopg.Connection, role_id, user_uuid, valid_from: datetime.date | None,
                      valid_to: datetime.date | None) -> dict:
    """Assign for [valid_from, valid_to); None is an open end.  Overlap with another
    assignment of the same role to the same user violates role_assignment_no_overlap."""
    row = conn.execute(
        "INSERT INTO role_assignment (job_function_role_id, user_uuid, validity) "
        "VALUES (%(r)s, %(u)s, daterange(%(f)s, %(t)s, '[)')) RETURNING id",
        {"r": role_id, "u": user_uuid, "f": valid_from, "t": valid_to},
    ).fetchone()
    return get_assignment(conn, row["id"])


def get_assignment(conn: psycopg.Connection, assignment_id) -> dict | None:
    return conn.execute(f"{_ASSIGNMENT_SELECT} WHERE a.id = %(id)s", {"id": assignment_id}).fetchone()


def list_assignments(conn: psycopg.Connection, role_id, user_uuid=None) -> list[dict]:
    where, params = "a.job_function_role_id = %(r)s", {"r": role_id}
    if user_uuid is not None:
        where, params = where + " AND a.user_uuid = %(u)s", {**params, "u": user_uuid}
    return conn.execute(f"{_ASSIGNMENT_SELECT} WHERE {where} "
                        f"ORDER BY a.user_uuid, lower(a.validity) NULLS FIRST", params).fetchall()


def delete_assignment(conn: psycopg.Connection, assignment_id) -> None:
    conn.execute("DELETE FROM role_assignment WHERE id = %(id)s", {"id": assignment_id})


# -- effective privileges and the privilege profile --------------------------------------------

_EFFECTIVE = """
    SELECT u.key AS role, u.name AS role_name, r.name AS job_function_role, r.constraints
      FROM role_assignment a
      JOIN job_function_role r ON r.id = a.job_function_role_id
      JOIN job_function_role_member m ON m.job_function_role_id = r.id
      JOIN user_system_role u ON u.id = m.user_system_role_id
     WHERE a.user_uuid = %(user)s AND r.municipality_code = %(m)s AND u.system_id = %(s)s
       AND a.validity @> %(on)s::date
     ORDER BY u.key, r.name
"""


def effective_privileges(conn: psycopg.Connection, municipality_code: int, system_id: str, user_uuid: str,
                         on: datetime.date | None = None) -> list[dict]:
    """The user's privileges in `system_id` for `municipality_code` on day `on`
    (default: today in Denmark): one entry per user-system role of that system
    reached through a job-function role of that municipality assigned to the
    user on that day, each {role, role_name, job_function_role, constraints}.

    Ordered by role key, then job-function role name (unique per municipality,
    and the assignment rule allows one assignment of a role per user and day,
    so the order is total).  The same role may appear more than once, through
    different job-function roles with different constraints: each entry grants
    the role within its own constraints.
    """
    rows = conn.execute(_EFFECTIVE, {"user": str(user_uuid), "m": municipality_code, "s": str(system_id),
                                     "on": on or today()}).fetchall()
    return [dict(row) for row in rows]


def constraint_sets(privileges: Iterable[dict]) -> list[dict]:
    """The constraint dicts of `privileges` (e.g. a token's `prv` claim), in the
    shape authz.constraints' helpers take.  Never pass the privileges themselves:
    their top-level keys (role, constraints, ...) are not constraint keys, so a
    helper that ignores unknown keys would read each as unrestricted."""
    return [p["constraints"] for p in privileges]


def _constraint_values(key: str, value: Any) -> list[str]:
    """The values of one constraint as they are written in a BPP Constraint element."""
    if key == "org_units":
        return [str(u["uuid"]) + (SUBTREE_SUFFIX if u.get("subtree", True) else "") for u in value]
    if key == "sensitivity":  # the level: 1 (IKKE_FORTROLIGE_DATA) .. 4 (VIP_SAGER)
        return [str(Sensitivity(value).rank + 1)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def bpp_xml(cvr: str, privileges: Iterable[dict]) -> str:
    """An OIO Basic Privilege Profile document (model 3, with constraints) for
    the municipality with CVR number `cvr`: one PrivilegeGroup per privilege,
    holding its role key as `Privilege` and one `Constraint` per constraint
    value, named by the constraint type's URI (authz.catalogue.CONSTRAINT_TYPES).

    Values: KLE patterns as given (27.*, 32.01.04); org units as the UUID, or
    "<uuid>.*" for the unit with its subtree; sensitivity as the level number
    (1 = IKKE_FORTROLIGE_DATA ... 4 = VIP_SAGER: a level grants every lower
    one); IT systems as UUIDs; see_cpr/see_name as true/false; municipalities
    as codes.  A privilege without constraints is unrestricted.
    """
    if not re.fullmatch(r"[0-9]{8}", cvr or ""):
        raise ValueError(f"not a CVR number: {cvr!r}")
    root = ET.Element(f"{{{BPP_NAMESPACE}}}PrivilegeList")
    for privilege in privileges:
        group = ET.SubElement(root, "PrivilegeGroup", {"Scope": CVR_SCOPE + cvr})
        ET.SubElement(group, "Privilege").text = privilege["role"]
        constraints = privilege.get("constraints") or {}
        for ctype in CONSTRAINT_TYPES:
            if ctype.key in constraints and constraints[ctype.key] is not None:
                for value in _constraint_values(ctype.key, constraints[ctype.key]):
                    ET.SubElement(group, "Constraint", {"Name": ctype.uri}).text = value
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def bpp_base64(cvr: str, privileges: Iterable[dict]) -> str:
    """`bpp_xml` as base64 (of its UTF-8 bytes), as it travels in a SAML attribute."""
    return base64.b64encode(bpp_xml(cvr, privileges).encode("utf-8")).decode("ascii")


def register_constraints() -> None:
    register_constraint("user_system_role_system_key_key", code="user_system_role_exists", field="key",
                        detail="The system already has a user-system role with this key.")
    register_constraint("user_system_role_key_format", status=422, code="validation_failed", field="key",
                        detail="Must be a URN such as urn:dk:kombit:bsr:sag-laes.")
    register_constraint("job_function_role_municipality_name_key", code="job_function_role_exists", field="name",
                        detail="The municipality already has a job-function role with this name.")
    register_constraint("job_function_role_municipality_code_fkey", status=422, code="unknown_municipality",
                        field="municipality_code", detail="No municipality has this code.")
    register_constraint("job_function_role_member_user_system_role_fkey", status=422,
                        code="unknown_user_system_role", field="user_system_role_ids",
                        detail="No user-system role has one of these ids.")
    register_constraint("role_assignment_no_overlap", code="assignment_overlaps", field="valid_from",
                        detail="The user already holds this job-function role in an overlapping period.")
    register_constraint("role_assignment_validity_nonempty", status=422, code="validation_failed",
                        field="valid_to", detail="Must be after valid_from.")
