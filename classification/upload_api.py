"""KLE upload through the API (platform operators): the same import as
`flask klassifikation import-kle`, in the request's one transaction, so a
file is imported whole or not at all.  The answer is the import's summary;
a file that cannot be accepted is a 422 listing every problem with its line.
"""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from authz.policy import PlatformRole, current, platform
from classification.api import blp
from classification.kle_import import import_edition
from classification.kle_parser import DEFAULT_MAX_BYTES, KleParseError, parse_kle


class KleImportSchema(Schema):
    kind = fields.String()
    variant = fields.String()
    published = fields.Date(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    created = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()
    retired = fields.Integer()
    moved = fields.Integer()
    warnings = fields.List(fields.String())


@blp.route("/kle-imports")
class KleUpload(MethodView):
    @platform(PlatformRole.OPERATOR)
    @blp.response(200, KleImportSchema)
    @blp.alt_response(413, **problem_doc("The file is larger than the limit."))
    @blp.alt_response(422, **problem_doc("The file is not an acceptable KLE file; `errors` lists each problem."))
    @blp.doc(requestBody={"required": True, "content": {
        "application/xml": {"schema": {"type": "string", "format": "binary"}}}})
    def post(self):
        """Import a KLE file sent as the request body (Content-Type: application/xml).

        Both emneplan variants and the action facets are accepted; the same
        file twice changes nothing; a newer edition changes only what changed.
        """
        if request.mimetype not in ("application/xml", "text/xml"):
            raise Problem(415, "unsupported_media_type", "Send the KLE file as application/xml.")
        if (request.content_length or 0) > DEFAULT_MAX_BYTES:
            raise Problem(413, "file_too_large", f"A KLE file may be at most {DEFAULT_MAX_BYTES} bytes.")
        try:
            edition = parse_kle(request.get_data(cache=False))
        except KleParseError as exc:
            raise Problem(422, "invalid_kle_file", "The file was not accepted; nothing was imported.",
                          errors=[field_error("body", f"line {line}" if line else "(file)", message)
                                  for line, message in exc.errors]) from None
        result = import_edition(get_conn(), edition, actor=f"user:{current().username}")
        current_app.logger.info("KLE imported", extra={"kle_kind": edition.kind, "classes_created": result.created,
                                                       "classes_changed": result.changed})
        return {"kind": edition.kind, "variant": edition.variant, "published": edition.published,
                **result.__dict__}
