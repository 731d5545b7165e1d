"""KLE upload: an operator sends a KLE file (as downloaded from KL), follows the import and sees what changed.

The file goes, as it is, to `POST /api/v1/klassifikation/kle-import-jobs` (platform operators
only: KLE is national data), which stores it as a queued job and answers at once; the page then
redirects to the job's own page, `/admin/klassifikation/kle/<job id>`.  The scheduler process
imports the file in the background (classification/kle_jobs.py), in one transaction, all or
nothing, and writes how far it got.  The job page shows that progress as a `<progress>` bar with a
text label and reloads itself every second (`<meta http-equiv="refresh">`: the Content-Security-
Policy allows no inline script, and none is needed) until the job has ended; then it shows the
summary (created, changed, unchanged, retired and moved classes, per level) with the job's own
example classes (links to their pages), or, for a refused file, every problem with its line.  The
upload form lists the latest jobs, so a job page can be found again.

The API client (admin/api_client.py) sends JSON; a KLE file is XML, so `send_body` makes the
same in-process sub-request with a raw body.
"""

from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.datastructures import Headers

from admin import api_client
from admin.api_client import USER_AGENT, ApiResult, ApiUnavailable
from admin.blueprint import bp
from admin.klassifikation import LEVELS
from app.api import API_PREFIX
from authz.policy import SESSION_TOKEN, PlatformRole, admin_page
from classification.kle_parser import DEFAULT_MAX_BYTES
from classification.model import KLE_EMNEPLAN, KLE_HANDLINGSFACETTER

upload_page = admin_page(PlatformRole.OPERATOR)
JOBS = "/klassifikation/kle-import-jobs"
KINDS = {"emneplan": ("KLE-emneplanen", KLE_EMNEPLAN), "handlingsfacetter": ("KLE-handlingsfacetterne",
                                                                               KLE_HANDLINGSFACETTER)}
VARIANTS = {"xml2": "KLE-Emneplan XML 2.0", "full": "Den fulde REST-variant (med UUID'er og søgeord)"}
STATES = {"queued": "Venter", "running": "Indlæses", "done": "Indlæst", "failed": "Ikke indlæst"}
HEADINGS = {"queued": "KLE-filen venter på at blive indlæst", "running": "KLE-filen indlæses",
            "done": "KLE-filen er indlæst", "failed": "KLE-filen blev ikke indlæst"}


def send_body(method: str, path: str, body: bytes, content_type: str, query: dict | None = None) -> ApiResult:
    """`api_client.call` with a raw request body instead of JSON (same isolation, token and request id)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = {"User-Agent": USER_AGENT, "Content-Type": content_type,
               "Authorization": f"Bearer {session.get(SESSION_TOKEN, '')}"}
    if g.get("request_id"):
        headers["X-Request-ID"] = g.request_id
    with app.app_context():  # its own g: its own principal, connection and transaction
        response = app.test_client().open(API_PREFIX + path, method=method, data=body, headers=headers,
                                          query_string=query or {},
                                          environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"})
        try:
            result = ApiResult(response.status_code, response.get_json(silent=True), Headers(response.headers))
        finally:
            response.close()
    if result.status >= 500:
        raise ApiUnavailable(result.status, result.body)
    return result


def _form(errors: dict[str, str], problems: list[dict], status: int = 200):
    latest = api_client.get(JOBS, limit=10)
    jobs = latest.body["items"] if latest.ok else []
    return render_template("admin/klassifikation/kle_upload.html", errors=errors, problems=problems, jobs=jobs,
                           states=STATES), status


@bp.route("/klassifikation/kle", methods=["GET", "POST"])
@upload_page
def klassifikation_kle_upload():
    """The upload form with the latest jobs; a POST queues the file and goes to its job's page."""
    if request.method == "GET":
        return _form({}, [])
    upload = request.files.get("file")
    data = upload.read(DEFAULT_MAX_BYTES + 1) if upload and upload.filename else b""
    errors: dict[str, str] = {}
    if not data:
        errors["file"] = "Vælg en KLE-fil (XML)."
    elif len(data) > DEFAULT_MAX_BYTES:
        errors["file"] = f"Filen er større end {DEFAULT_MAX_BYTES // (1024 * 1024)} MB."
    if errors:
        return _form(errors, [], 422)
    result = send_body("POST", JOBS, data, "application/xml", query={"filename": upload.filename[:255]})
    if result.ok:
        return redirect(url_for("admin.klassifikation_kle_job", job_id=result.body["id"]))
    problems = (result.body or {}).get("errors", []) if isinstance(result.body, dict) else []
    return _form({"file": "Filen blev ikke sendt; intet er ændret.",
                  "form": f"Filen blev ikke modtaget: {result.detail}"}, problems, 422)


@bp.route("/klassifikation/kle/<uuid:job_id>")
@upload_page
def klassifikation_kle_job(job_id):
    """One upload: its progress while it waits or runs (the page reloads itself), then its outcome."""
    result = api_client.get(f"{JOBS}/{job_id}")
    if not result.ok:
        abort(404 if result.status in (403, 404) else 400)
    job = result.body
    summary = job.get("summary") or {}
    title, facet = KINDS.get(summary.get("kind"), ("KLE", None))
    failure = {e.get("code") for e in job.get("errors") or []}
    return render_template("admin/klassifikation/kle_job.html", job=job, summary=summary, title=title, facet=facet,
                           heading=HEADINGS[job["state"]], variants=VARIANTS, levels=LEVELS,
                           refused="invalid_kle_file" in failure, waiting=job["state"] in ("queued", "running"))
