"""Business events (beskedfordeler) routes under /api/v1/distribution/messages (docs/distribution.md).

A sender system (agreement for the service `distribution` with the edit role) publishes a
message for its token's municipality: POST /messages with the envelope and payload.  Subscribers
of the topic `events` get a thin event (object type 'besked', the message's UUID) and fetch the
message with GET /messages/<uuid>, which answers only the subscribers the message may go to
(distribution/messages.py: recipients, agreement constraints, validity); to anyone else it does
not exist (404).
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem
from authz.catalogue import Role, Sensitivity
from authz.policy import current, system
from distribution import messages
from distribution.api import SUBSCRIBE, blp

PUBLISH = system("distribution", Role.EDIT)
KLE_CODE = r"^\d{2}(\.\d{2}){0,2}$"


class ObjectRefSchema(Schema):
    type = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "urn:oio:cpr-nr"})
    uuid = fields.UUID(required=True)


class MessageSchema(Schema):
    uuid = fields.UUID(required=True, metadata={
        "description": "Chosen by the sender; publishing the same message again is idempotent."})
    type = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"example": "urn:oio:besked:sagsbehandling:afgoerelse"})
    recipients = fields.List(fields.UUID(), allow_none=True, load_default=None, metadata={
        "description": "The IT systems allowed to receive it (absent or null: every subscriber)."})
    objects = fields.List(fields.Nested(ObjectRefSchema), load_default=list,
                          metadata={"description": "Related objects."})
    kle = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(KLE_CODE),
                        metadata={"description": "KLE subject code.", "example": "27.01.02"})
    sensitivity = fields.String(required=True, validate=validate.OneOf([s.value for s in Sensitivity]))
    valid_from = fields.AwareDateTime(allow_none=True, load_default=None)
    valid_to = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "After this instant the message is no longer delivered."})
    payload = fields.Dict(required=True, metadata={
        "description": f"A JSON object, at most {messages.MAX_PAYLOAD_BYTES} bytes serialised."})
    sender_system = fields.UUID(dump_only=True)
    municipality_code = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)

    @validates("payload")
    def _payload_size(self, value, **_kw) -> None:
        if messages.payload_size(value) > messages.MAX_PAYLOAD_BYTES:
            raise ValidationError(f"At most {messages.MAX_PAYLOAD_BYTES} bytes serialised.")

    @validates_schema
    def _validity(self, data, **_kw) -> None:
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end <= start:
            raise ValidationError("Must be after valid_from.", "valid_to")


class PublishedSchema(MessageSchema):
    status = fields.String(dump_only=True, metadata={"description": "accepted, or unchanged for a repeat."})


@blp.route("/messages")
class Messages(MethodView):
    @PUBLISH
    @blp.arguments(MessageSchema)
    @blp.response(201, PublishedSchema)
    @blp.alt_response(200, schema=PublishedSchema, description="The same message again: unchanged.")
    @blp.alt_response(409, **problem_doc("Another message already has this UUID."))
    def post(self, body):
        """Publish a business event for the token's municipality (idempotent by `uuid`).

        Subscribers of the topic `events` get a thin event (object type `besked`) if the message
        may go to them, and fetch it with GET /messages/{uuid}.
        """
        p = current()
        row, status = messages.publish(get_conn(), p.municipality_code, p.system_id, body)
        if row is None:
            raise Problem(409, "message_conflict", "A message with this UUID and other content exists.")
        return {**row, "status": status}, 201 if status == "accepted" else 200


@blp.route("/messages/<uuid:message_uuid>")
class Message(MethodView):
    @SUBSCRIBE
    @blp.response(200, MessageSchema)
    @blp.alt_response(404, **problem_doc("No such message for this subscriber."))
    def get(self, message_uuid):
        """A message with its payload, if it may go to this subscriber (recipients, the agreement's
        constraints, still valid); else 404."""
        p = current()
        row = messages.read_for(get_conn(), message_uuid, p.municipality_code, p.system_id, [[p.constraints or {}]])
        if row is None:
            raise Problem(404, "not_found", f"No message {message_uuid} for this subscriber.")
        return row


def init_app(app) -> None:
    """Nothing to set up: the routes are on the shared blueprint."""
