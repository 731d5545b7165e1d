"""Request and response shapes of the access-control API."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.identifiers import MUNICIPALITY_CODE
from authz.catalogue import CONSTRAINT_KEYS, SERVICES, Role, Sensitivity

KLE_PATTERN = re.compile(r"^(\*|\d{2}(\.\d{2}){0,2}(\.\*)?)$")


def _kle(value: str) -> None:
    if not KLE_PATTERN.match(value):
        raise ValidationError("Must be a KLE number (27, 27.35, 27.35.04) or a prefix pattern (27.*, 32.01.*).")


class OrgUnitConstraintSchema(Schema):
    uuid = fields.UUID(required=True)
    subtree = fields.Boolean(load_default=True, metadata={"description": "Include every unit below it."})


class ConstraintsSchema(Schema):
    """Data constraints; a missing key means no restriction of that kind."""

    kle = fields.List(fields.String(validate=_kle), validate=validate.Length(max=500))
    org_units = fields.List(fields.Nested(OrgUnitConstraintSchema), validate=validate.Length(max=500))
    sensitivity = fields.String(validate=validate.OneOf([s.value for s in Sensitivity]))
    it_systems = fields.List(fields.UUID(), validate=validate.Length(max=100))
    see_cpr = fields.Boolean()
    see_name = fields.Boolean()
    municipalities = fields.List(fields.Integer(validate=MUNICIPALITY_CODE))


assert set(ConstraintsSchema().fields) == set(CONSTRAINT_KEYS)


def _service(value: str) -> None:
    if value not in SERVICES:
        raise ValidationError(f"Unknown service; one of: {', '.join(sorted(SERVICES))}.")


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, validate=validate.Equal("client_credentials"))
    client_id = fields.String(validate=validate.Length(min=1, max=200))
    client_secret = fields.String(validate=validate.Length(min=1, max=500))
    municipality = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{8}$", error="Must be a CVR number."),
                                 metadata={"description": "CVR number of the municipality to act for."})
    audience = fields.String(required=True, validate=_service,
                             metadata={"description": "The service (catalogue code) the token is for."})
    user = fields.UUID(metadata={"description": "Act on behalf of this user (UUID in Organisation): the token "
                                                "carries the user's privileges for the calling system."})


class TokenResponseSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()
    service = fields.String()
    municipality = fields.Integer(metadata={"description": "Municipality code."})


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=500), load_only=True)


class PlatformUserSchema(Schema):
    id = fields.UUID(dump_only=True)
    username = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9._@-]{3,100}$"))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(["municipality_admin", "vendor_admin",
                                                                 "platform_operator"]))
    municipality_code = fields.Integer(allow_none=True, validate=MUNICIPALITY_CODE)
    vendor_id = fields.UUID(allow_none=True)
    password = fields.String(load_only=True, validate=validate.Length(min=12, max=500),
                             metadata={"description": "At least 12 characters."})

    @validates_schema
    def _scope(self, data, **_):
        role = data.get("role")
        if role == "municipality_admin" and not data.get("municipality_code"):
            raise ValidationError("A municipality admin needs municipality_code.", "municipality_code")
        if role == "vendor_admin" and not data.get("vendor_id"):
            raise ValidationError("A vendor admin needs vendor_id.", "vendor_id")


class LoginResponseSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    user = fields.Nested(PlatformUserSchema)


class PersonalTokenRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=365))


class PersonalTokenSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    token = fields.String(metadata={"description": "Shown once, when created."})


class VendorSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    cvr = fields.String(validate=validate.Regexp(r"^[0-9]{8}$", error="Must be a CVR number."), allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class SystemSchema(Schema):
    id = fields.UUID(dump_only=True)
    vendor_id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    cert_thumbprint = fields.String(allow_none=True, validate=validate.Regexp(
        r"^[0-9a-f]{64}$", error="Must be the certificate's SHA-256 as 64 lower-case hex digits."))
    client_id = fields.String(dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class SystemCredentialsSchema(SystemSchema):
    client_secret = fields.String(dump_only=True, metadata={"description": "Shown once; store it safely."})


class AgreementRequestSchema(Schema):
    system_id = fields.UUID(required=True)
    service = fields.String(required=True, validate=_service)
    municipality_code = fields.Integer(required=True, validate=MUNICIPALITY_CODE)
    roles = fields.List(fields.String(validate=validate.OneOf([r.value for r in Role])), required=True,
                        validate=validate.Length(min=1))
    constraints = fields.Nested(ConstraintsSchema, load_default=dict)


class AgreementEventSchema(Schema):
    state = fields.String()
    actor_id = fields.UUID(allow_none=True)
    actor_kind = fields.String()
    note = fields.String(allow_none=True)
    at = fields.DateTime()


class AgreementSummarySchema(Schema):
    id = fields.UUID()
    system_id = fields.UUID()
    system_name = fields.String()
    vendor_id = fields.UUID()
    vendor_name = fields.String()
    service = fields.String()
    municipality_code = fields.Integer()
    roles = fields.List(fields.String())
    constraints = fields.Nested(ConstraintsSchema)
    state = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AgreementSchema(AgreementSummarySchema):
    events = fields.List(fields.Nested(AgreementEventSchema))


class AgreementListArgs(Schema):
    state = fields.String(validate=validate.OneOf(["requested", "approved", "rejected", "terminated"]))
    municipality_code = fields.Integer()
    system_id = fields.UUID()


class DecisionSchema(Schema):
    note = fields.String(validate=validate.Length(max=2000), metadata={"description": "Why (kept in the history)."})


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    agreement_id = fields.UUID(allow_none=True)
    message = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class MeSchema(Schema):
    kind = fields.String()
    system_id = fields.String(allow_none=True)
    vendor_id = fields.String(allow_none=True)
    municipality_code = fields.Integer(allow_none=True)
    agreement_id = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    user_uuid = fields.String(allow_none=True)
    privileges = fields.List(fields.Dict(), allow_none=True, metadata={
        "description": "A user-context token's privileges (see GET /api/v1/users/{user_uuid}/privileges)."})
    platform_user_id = fields.String(allow_none=True)
    platform_role = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
