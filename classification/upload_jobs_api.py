"""KLE upload in the background (platform operators): the file is stored as a queued job and the
answer comes at once (202), with the job's address to follow its progress.

Why: a full KLE edition takes seconds to import, more than a page should wait for without showing
anything.  The runner (classification/kle_jobs.py, in the scheduler process) imports the file in
one transaction, all or nothing, exactly as the synchronous `POST /kle-imports`
(classification/upload_api.py, still there for scripts and the CLI's users) does, and writes the
progress while it works.  A job's summary is the synchronous answer plus example classes of each
kind of change; a refused file's job lists every problem with its line.  The file is not kept once
the job has ended, and is never answered.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from flask import request, url_for
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from app.paging import PageArgs, PageSchema, decode_typed_cursor, encode_cursor
from authz.policy import PlatformRole, current, platform
from classification.api import blp
from classification.kle_parser import DEFAULT_MAX_BYTES
from classification.upload_api import KleImportSchema

_COLUMNS = """j.id, j.filename, j.size, j.uploaded_by, u.username AS uploaded_by_username, j.state, j.progress,
              j.summary, j.errors, coalesce(jsonb_array_length(j.errors), 0) AS error_count, j.attempts,
              j.created_at, j.started_at, j.heartbeat_at, j.finished_at"""
_FROM = "kle_import_job j LEFT JOIN platform_user u ON u.id = j.uploaded_by"


class UploadArgs(Schema):
    filename = fields.String(load_default="kle.xml", validate=validate.Length(min=1, max=255),
                             metadata={"description": "The file's name, shown with the job (default kle.xml)."})


class ProgressSchema(Schema):
    phase = fields.String(metadata={"description": "`parse` (reading the file) or `import` (writing classes)."})
    done = fields.Integer(metadata={"description": "Classes written so far (phase `import`)."})
    total = fields.Integer(metadata={"description": "Classes in the file (phase `import`)."})


class ExampleSchema(Schema):
    uuid = fields.String()
    code = fields.String()
    title = fields.String(allow_none=True, metadata={"description": "The title in the file."})
    title_before = fields.String(allow_none=True,
                                 metadata={"description": "Changed classes: the title valid before the import."})


class ExamplesSchema(Schema):
    created = fields.List(fields.Nested(ExampleSchema))
    changed = fields.List(fields.Nested(ExampleSchema))
    retired = fields.List(fields.Nested(ExampleSchema), metadata={
        "description": "Classes the file retires or moves that this import registered (new or changed)."})


class JobSummarySchema(KleImportSchema):
    examples = fields.Nested(ExamplesSchema, metadata={"description": "The first ten of each, in file order."})


class JobErrorSchema(Schema):
    code = fields.String(metadata={"description": "invalid_kle_file (a problem of the file), import_failed (the run "
                                                  "failed; see the log) or interrupted (its runner kept stopping)."})
    line = fields.Integer(allow_none=True)
    message = fields.String()


class KleImportJobSchema(Schema):
    id = fields.UUID()
    filename = fields.String()
    size = fields.Integer(metadata={"description": "Bytes."})
    uploaded_by = fields.UUID(allow_none=True, metadata={"description": "The platform user who uploaded it."})
    uploaded_by_username = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "queued, running, done or failed."})
    progress = fields.Nested(ProgressSchema, allow_none=True)
    summary = fields.Nested(JobSummarySchema, allow_none=True, metadata={"description": "When done."})
    errors = fields.List(fields.Nested(JobErrorSchema), allow_none=True, metadata={
        "description": "When failed: every problem of a refused file with its line, or why the run failed."})
    error_count = fields.Integer()
    attempts = fields.Integer(metadata={"description": "Runs started (a run whose runner died is retried)."})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True, metadata={"description": "The runner's last sign of life."})
    finished_at = fields.DateTime(allow_none=True)


class KleImportJobItemSchema(KleImportJobSchema):
    class Meta:
        exclude = ("errors",)  # a refused file may have thousands; read the job for them


class KleImportJobPageSchema(PageSchema):
    items = fields.List(fields.Nested(KleImportJobItemSchema))


def _out(row: dict) -> dict:
    summary = row["summary"]
    if summary and summary.get("published"):
        row["summary"] = {**summary, "published": date.fromisoformat(summary["published"])}
    return row


def _job(job_id) -> dict:
    row = get_conn().execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE j.id = %(id)s", {"id": job_id}).fetchone()
    if row is None:
        raise Problem(404, "not_found", "No such KLE import job.")
    return _out(row)


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    return decode_typed_cursor(cursor, datetime.fromisoformat, UUID)


@blp.route("/kle-import-jobs")
class KleImportJobs(MethodView):
    @platform(PlatformRole.OPERATOR)
    @blp.arguments(UploadArgs, location="query")
    @blp.response(202, KleImportJobSchema, headers={"Location": {
        "description": "The job's address.", "schema": {"type": "string"}}})
    @blp.alt_response(413, **problem_doc("The file is larger than the limit."))
    @blp.alt_response(415, **problem_doc("The body is not sent as application/xml."))
    @blp.alt_response(422, **problem_doc("The body is empty, or `filename` breaks its rule (1-255 characters)."))
    @blp.doc(requestBody={"required": True, "content": {
        "application/xml": {"schema": {"type": "string", "format": "binary"}}}})
    def post(self, args):
        """Queue a KLE file (the request body, Content-Type: application/xml) for import in the background.

        The answer is the queued job (202) with its address in `Location`; follow it with
        `GET /kle-import-jobs/{id}` until its state is `done` (with the summary) or `failed`
        (with every problem of the file and its line).  The import itself is the one of
        `POST /kle-imports`: all or nothing, and the same file twice changes nothing.
        """
        if request.mimetype not in ("application/xml", "text/xml"):
            raise Problem(415, "unsupported_media_type", "Send the KLE file as application/xml.")
        if (request.content_length or 0) > DEFAULT_MAX_BYTES:
            raise Problem(413, "file_too_large", f"A KLE file may be at most {DEFAULT_MAX_BYTES} bytes.")
        request.max_content_length = DEFAULT_MAX_BYTES  # also for a body sent without Content-Length
        content = request.get_data(cache=False)
        if not content:
            raise Problem(422, "invalid_kle_file", "The body is empty: send the KLE file.",
                          errors=[field_error("body", "(file)", "Must not be empty.")])
        row = get_conn().execute(
            "INSERT INTO kle_import_job (filename, content, size, uploaded_by) VALUES (%(f)s, %(c)s, %(s)s, %(u)s) "
            "RETURNING id", {"f": args["filename"], "c": content, "s": len(content),
                             "u": current().platform_user_id}).fetchone()
        return _job(row["id"]), {"Location": url_for("klassifikation.KleImportJob", job_id=row["id"])}

    @platform(PlatformRole.OPERATOR)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, KleImportJobPageSchema)
    @blp.alt_response(400, **problem_doc("The cursor is not one this service issued."))
    def get(self, args):
        """KLE import jobs, newest first (without their `errors`; read a job for those)."""
        after = _after(args.get("cursor"))
        conn = get_conn()
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE %(at)s::timestamptz IS NULL OR (j.created_at, j.id) < "
            "(%(at)s::timestamptz, %(id)s::uuid) ORDER BY j.created_at DESC, j.id DESC LIMIT %(n)s",
            {"at": after[0] if after else None, "id": after[1] if after else None,
             "n": args["limit"] + 1}).fetchall()
        more = len(rows) > args["limit"]
        rows = rows[:args["limit"]]
        total = conn.execute("SELECT count(*) AS n FROM kle_import_job").fetchone()["n"]
        last = rows[-1] if rows else None
        return {"items": [_out(r) for r in rows], "total": total,
                "next_cursor": encode_cursor([last["created_at"].isoformat(), str(last["id"])]) if more else None}


@blp.route("/kle-import-jobs/<uuid:job_id>")
class KleImportJob(MethodView):
    @platform(PlatformRole.OPERATOR)
    @blp.response(200, KleImportJobSchema)
    @blp.alt_response(404, **problem_doc("No such job."))
    def get(self, job_id):
        """A KLE import job: its state, progress while it runs, the summary when done, the problems when failed."""
        return _job(job_id)
