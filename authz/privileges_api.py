"""The users'-privileges API: user-system roles (vendors), job-function roles and
their assignments (municipalities), and a user's privilege profile for a system
(municipality admins, and systems holding an `adgangsstyring` agreement).

Tenancy: a municipality admin sees and changes only its own municipality's
job-function roles and assignments (another municipality's answer 404, as
everywhere); operators act for any municipality.  The logic is in privileges.py.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from authz import access_log, privileges
from authz.catalogue import Role
from authz.policy import PlatformRole, current, platform, require_municipality, require_vendor, system_or_platform
from authz.privileges_schemas import (
    AssignmentListArgs,
    AssignmentRequestSchema,
    AssignmentSchema,
    JobFunctionRoleListArgs,
    JobFunctionRoleRequestSchema,
    JobFunctionRoleSchema,
    JobFunctionRoleUpdateSchema,
    PrivilegeProfileSchema,
    PrivilegeQueryArgs,
    UserSystemRoleSchema,
)
from authz.registry import system_or_404

MUNICIPALITY_ADMIN = PlatformRole.MUNICIPALITY_ADMIN
VENDOR_ADMIN = PlatformRole.VENDOR_ADMIN
OPERATOR = PlatformRole.OPERATOR
PROFILE_SERVICE = "adgangsstyring"

user_system_roles_blp = Blueprint("user_system_roles", __name__, url_prefix="/api/v1/systems",
                                  description="User-system roles: what a vendor's IT system lets its users do.")
job_function_roles_blp = Blueprint("job_function_roles", __name__, url_prefix="/api/v1",
                                   description="Job-function roles of a municipality and their assignment to users.")
profile_blp = Blueprint("privilege_profiles", __name__, url_prefix="/api/v1/users",
                        description="A user's privilege profile for an IT system (JSON and OIO BPP).")
BLUEPRINTS = (user_system_roles_blp, job_function_roles_blp, profile_blp)


def _not_found(what: str) -> Problem:
    return Problem(404, "not_found", f"No such {what} for this caller.")


def _unprocessable(location: str, field: str, detail: str) -> Problem:
    return Problem(422, "validation_failed", "The request did not pass validation; see errors.",
                   errors=[field_error(location, field, detail)])


# -- user-system roles ------------------------------------------------------------------------


@user_system_roles_blp.route("/<uuid:system_id>/user-system-roles")
class UserSystemRoles(MethodView):
    @platform(VENDOR_ADMIN, OPERATOR, MUNICIPALITY_ADMIN)
    @user_system_roles_blp.response(200, UserSystemRoleSchema(many=True))
    @user_system_roles_blp.alt_response(404, **problem_doc("No such IT system (for this caller)."))
    def get(self, system_id):
        """The user-system roles a system publishes (its vendor, operators, and every municipality admin)."""
        conn = get_conn()
        system = conn.execute("SELECT vendor_id FROM it_system WHERE id = %(id)s", {"id": system_id}).fetchone()
        if system is None:
            raise _not_found("IT system")
        if current().platform_role == VENDOR_ADMIN:
            require_vendor(system["vendor_id"])
        return privileges.list_user_system_roles(conn, system_id)

    @platform(VENDOR_ADMIN, OPERATOR)
    @user_system_roles_blp.arguments(UserSystemRoleSchema)
    @user_system_roles_blp.response(201, UserSystemRoleSchema)
    @user_system_roles_blp.alt_response(404, **problem_doc("No such IT system of the caller's vendor."))
    @user_system_roles_blp.alt_response(409, **problem_doc("user_system_role_exists: the key is taken."))
    def post(self, body, system_id):
        """Publish a user-system role for one of the vendor's systems."""
        system_or_404(system_id)
        return privileges.create_user_system_role(get_conn(), system_id, body)


# -- job-function roles -----------------------------------------------------------------------


def _role_or_404(role_id, *, lock: bool = False) -> dict:
    role = privileges.get_job_function_role(get_conn(), role_id, lock=lock)
    if role is None:
        raise _not_found("job-function role")
    require_municipality(role["municipality_code"])
    return role


def _municipality_for_new_role(requested: int | None) -> int:
    p = current()
    if p.is_operator:
        if requested is None:
            raise _unprocessable("json", "municipality_code", "An operator must name the municipality.")
        return requested
    if requested is not None and requested != p.municipality_code:
        raise Problem(403, "forbidden", "A municipality admin defines roles for their own municipality only.")
    return p.municipality_code


@job_function_roles_blp.route("/job-function-roles")
class JobFunctionRoles(MethodView):
    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.arguments(JobFunctionRoleListArgs, location="query")
    @job_function_roles_blp.response(200, JobFunctionRoleSchema(many=True))
    @job_function_roles_blp.alt_response(403, **problem_doc("A municipality admin named another municipality."))
    def get(self, args):
        """Job-function roles: a municipality admin's own; all or one municipality's for operators."""
        p = current()
        code = args.get("municipality_code")
        if not p.is_operator:
            if code is not None and code != p.municipality_code:
                raise Problem(403, "forbidden", "A municipality admin sees their own municipality's roles only.")
            code = p.municipality_code
        return privileges.list_job_function_roles(get_conn(), code)

    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.arguments(JobFunctionRoleRequestSchema)
    @job_function_roles_blp.response(201, JobFunctionRoleSchema)
    @job_function_roles_blp.alt_response(403, **problem_doc("Another municipality than the admin's own."))
    @job_function_roles_blp.alt_response(409, **problem_doc("job_function_role_exists: the name is taken."))
    def post(self, body):
        """Define a job-function role: user-system roles bundled with data constraints."""
        code = _municipality_for_new_role(body.get("municipality_code"))
        return privileges.create_job_function_role(get_conn(), code, body)


@job_function_roles_blp.route("/job-function-roles/<uuid:role_id>")
class JobFunctionRole(MethodView):
    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.response(200, JobFunctionRoleSchema)
    @job_function_roles_blp.alt_response(404, **problem_doc("No such job-function role for this caller."))
    def get(self, role_id):
        """One job-function role with its user-system roles and constraints."""
        return _role_or_404(role_id)

    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.arguments(JobFunctionRoleUpdateSchema)
    @job_function_roles_blp.response(200, JobFunctionRoleSchema)
    @job_function_roles_blp.alt_response(404, **problem_doc("No such job-function role for this caller."))
    @job_function_roles_blp.alt_response(409, **problem_doc("job_function_role_exists: the name is taken."))
    def put(self, body, role_id):
        """Replace a job-function role's name, description, constraints and user-system roles.

        Takes effect for profiles read from now on; user-context tokens already
        issued keep their privileges until they expire.
        """
        _role_or_404(role_id, lock=True)
        return privileges.update_job_function_role(get_conn(), role_id, body)

    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.response(204)
    @job_function_roles_blp.alt_response(404, **problem_doc("No such job-function role for this caller."))
    def delete(self, role_id):
        """Delete a job-function role and every assignment of it."""
        _role_or_404(role_id, lock=True)
        privileges.delete_job_function_role(get_conn(), role_id)


@job_function_roles_blp.route("/job-function-roles/<uuid:role_id>/assignments")
class Assignments(MethodView):
    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.arguments(AssignmentListArgs, location="query")
    @job_function_roles_blp.response(200, AssignmentSchema(many=True))
    @job_function_roles_blp.alt_response(404, **problem_doc("No such job-function role for this caller."))
    def get(self, args, role_id):
        """Who holds the job-function role, and when (past, present and future assignments)."""
        _role_or_404(role_id)
        return privileges.list_assignments(get_conn(), role_id, args.get("user_uuid"))

    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.arguments(AssignmentRequestSchema)
    @job_function_roles_blp.response(201, AssignmentSchema)
    @job_function_roles_blp.alt_response(404, **problem_doc("No such job-function role for this caller."))
    @job_function_roles_blp.alt_response(409, **problem_doc("assignment_overlaps: the user already holds the "
                                                            "role in an overlapping period."))
    def post(self, body, role_id):
        """Assign the job-function role to a user for [valid_from, valid_to); an absent date is an open end."""
        _role_or_404(role_id, lock=True)
        return privileges.create_assignment(get_conn(), role_id, body["user_uuid"], body.get("valid_from"),
                                            body.get("valid_to"))


@job_function_roles_blp.route("/role-assignments/<uuid:assignment_id>")
class Assignment(MethodView):
    @platform(MUNICIPALITY_ADMIN, OPERATOR)
    @job_function_roles_blp.response(204)
    @job_function_roles_blp.alt_response(404, **problem_doc("No such assignment for this caller."))
    def delete(self, assignment_id):
        """Remove an assignment (to end one early, assign again with the new end date first)."""
        conn = get_conn()
        assignment = privileges.get_assignment(conn, assignment_id)
        if assignment is None:
            raise _not_found("assignment")
        require_municipality(assignment["municipality_code"])
        privileges.delete_assignment(conn, assignment_id)


# -- the privilege profile --------------------------------------------------------------------


@profile_blp.route("/<uuid:user_uuid>/privileges")
class PrivilegeProfile(MethodView):
    @system_or_platform(PROFILE_SERVICE, Role.READ, MUNICIPALITY_ADMIN)
    @profile_blp.arguments(PrivilegeQueryArgs, location="query")
    @profile_blp.response(200, PrivilegeProfileSchema)
    @profile_blp.alt_response(403, **problem_doc("A system asked for another system's profile."))
    @profile_blp.alt_response(404, **problem_doc("No such IT system."))
    def get(self, args, user_uuid):
        """A user's privileges for an IT system on a day, as JSON and as a base64 OIO BPP document.

        For the caller's municipality: a municipality admin's, or the
        municipality of a system's `adgangsstyring` agreement.  A system reads
        profiles for itself only (`system_id` defaults to it).  The answer is
        personal data: every read is written to the access log.
        """
        p = current()
        system_id = args.get("system_id")
        if p.is_system:
            system_id = system_id or p.system_id
            if str(system_id) != str(p.system_id):
                raise Problem(403, "forbidden", "A system may read privilege profiles for itself only.")
        elif system_id is None:
            raise _unprocessable("query", "system_id", "Missing data for required field.")
        conn = get_conn()
        if conn.execute("SELECT 1 FROM it_system WHERE id = %(id)s", {"id": system_id}).fetchone() is None:
            raise Problem(404, "not_found", "No such IT system.")
        municipality = conn.execute("SELECT code, cvr FROM municipality WHERE code = %(m)s",
                                    {"m": p.municipality_code}).fetchone()
        on = args.get("on") or privileges.today()
        found = privileges.effective_privileges(conn, municipality["code"], str(system_id), str(user_uuid), on)
        answer = {"user_uuid": user_uuid, "municipality_code": municipality["code"], "system_id": system_id,
                  "on": on, "privileges": found, "bpp": privileges.bpp_base64(municipality["cvr"], found)}
        access_log.record("privileges.read", [f"urn:uuid:{user_uuid}"])  # last: it serialises writers
        return answer
