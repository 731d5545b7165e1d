"""Request and response shapes of the users'-privileges API (authz/privileges_api.py)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.identifiers import MUNICIPALITY_CODE
from authz.privileges import ROLE_KEY_MAX, ROLE_KEY_PATTERN
from authz.schemas import ConstraintsSchema


class UserSystemRoleSchema(Schema):
    id = fields.UUID(dump_only=True)
    system_id = fields.UUID(dump_only=True)
    key = fields.String(required=True, validate=[
        validate.Length(min=1, max=ROLE_KEY_MAX),
        validate.Regexp(ROLE_KEY_PATTERN, error="Must be a URN such as urn:dk:kombit:bsr:sag-laes."),
    ], metadata={"description": "Identifier of the role (the Privilege in a privilege profile); unique per system.",
                 "example": "urn:dk:kombit:bsr:sag-laes"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "Læs sager"})
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    created_at = fields.DateTime(dump_only=True)


class UserSystemRoleRefSchema(Schema):
    id = fields.UUID()
    system_id = fields.UUID()
    key = fields.String()
    name = fields.String()


class JobFunctionRoleUpdateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "Sagsbehandler, børn og unge"})
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    constraints = fields.Nested(ConstraintsSchema, required=True, metadata={
        "description": "Data constraints for every user-system role in the role; required so that no role "
                       "becomes unrestricted by omission (send {} for no restriction)."})
    user_system_role_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(max=500),
                                       metadata={"description": "The user-system roles (of any systems) bundled."})


class JobFunctionRoleRequestSchema(JobFunctionRoleUpdateSchema):
    municipality_code = fields.Integer(validate=MUNICIPALITY_CODE, metadata={
        "description": "Required for operators; a municipality admin's own municipality otherwise."})


class JobFunctionRoleSchema(Schema):
    id = fields.UUID()
    municipality_code = fields.Integer()
    name = fields.String()
    description = fields.String()
    constraints = fields.Nested(ConstraintsSchema)
    user_system_roles = fields.List(fields.Nested(UserSystemRoleRefSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class JobFunctionRoleListArgs(Schema):
    municipality_code = fields.Integer(validate=MUNICIPALITY_CODE)


class AssignmentRequestSchema(Schema):
    user_uuid = fields.UUID(required=True, metadata={"description": "The user's UUID in Organisation."})
    valid_from = fields.Date(allow_none=True, metadata={"description": "First day (inclusive); open when absent."})
    valid_to = fields.Date(allow_none=True, metadata={"description": "End day (exclusive); open when absent."})

    @validates_schema
    def _period(self, data, **_):
        start, end = data.get("valid_from"), data.get("valid_to")
        if start is not None and end is not None and end <= start:
            raise ValidationError("Must be after valid_from (valid_to is exclusive).", "valid_to")


class AssignmentSchema(Schema):
    id = fields.UUID()
    job_function_role_id = fields.UUID()
    user_uuid = fields.UUID()
    valid_from = fields.Date(allow_none=True, metadata={"description": "Inclusive; null: open."})
    valid_to = fields.Date(allow_none=True, metadata={"description": "Exclusive; null: open."})
    created_at = fields.DateTime()


class AssignmentListArgs(Schema):
    user_uuid = fields.UUID()


class PrivilegeQueryArgs(Schema):
    system_id = fields.UUID(metadata={"description": "The IT system; a system caller's own system by default."})
    on = fields.Date(metadata={"description": "The day (YYYY-MM-DD); today in Denmark by default."})


class PrivilegeSchema(Schema):
    role = fields.String(metadata={"description": "The user-system role's key."})
    role_name = fields.String()
    job_function_role = fields.String(metadata={"description": "The job-function role granting it."})
    constraints = fields.Nested(ConstraintsSchema)


class PrivilegeProfileSchema(Schema):
    user_uuid = fields.UUID()
    municipality_code = fields.Integer()
    system_id = fields.UUID()
    on = fields.Date()
    privileges = fields.List(fields.Nested(PrivilegeSchema))
    bpp = fields.String(metadata={"description": "The same privileges as a base64-encoded OIO Basic Privilege "
                                                 "Profile XML document (see docs/privileges.md)."})
