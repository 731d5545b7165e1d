"""KLE upload: an operator sends a KLE file (as downloaded from KL) and sees what changed.

The file goes, as it is, to `POST /api/v1/klassifikation/kle-imports` (platform operators only:
KLE is national data), which parses it and imports it in one transaction, all or nothing, and
answers a summary (created, changed, unchanged, retired and moved classes, per level).  The
import is synchronous, so there is no progress to follow: the summary page comes when the file
is in.  A file that is not accepted comes back with every problem and its line.

To show a few examples of what changed, the page reads the KLE facet before and after the
import (`GET /facets/{facet}/classes`, as valid today) and compares the classes' registration
numbers: a class with a new registration was created or changed; one that is no longer there
stopped being valid.

The API client (admin/api_client.py) sends JSON; a KLE file is XML, so `send_body` makes the
same in-process sub-request with a raw body.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, render_template, request, session
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
EXAMPLES = 5
KINDS = {"emneplan": ("KLE-emneplanen", KLE_EMNEPLAN), "handlingsfacetter": ("KLE-handlingsfacetterne",
                                                                               KLE_HANDLINGSFACETTER)}
VARIANTS = {"xml2": "KLE-Emneplan XML 2.0", "full": "Den fulde REST-variant (med UUID'er og søgeord)"}


def send_body(method: str, path: str, body: bytes, content_type: str) -> ApiResult:
    """`api_client.call` with a raw request body instead of JSON (same isolation, token and request id)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = {"User-Agent": USER_AGENT, "Content-Type": content_type,
               "Authorization": f"Bearer {session.get(SESSION_TOKEN, '')}"}
    if g.get("request_id"):
        headers["X-Request-ID"] = g.request_id
    with app.app_context():  # its own g: its own principal, connection and transaction
        response = app.test_client().open(API_PREFIX + path, method=method, data=body, headers=headers,
                                          environ_base={"REMOTE_ADDR": request.remote_addr or "127.0.0.1"})
        try:
            result = ApiResult(response.status_code, response.get_json(silent=True), Headers(response.headers))
        finally:
            response.close()
    if result.status >= 500:
        raise ApiUnavailable(result.status, result.body)
    return result


def snapshot(facet: str) -> dict[str, dict[str, Any]]:
    """The facet's classes valid today: UUID → {code, title, registration_no}."""
    items, _refused = api_client.get_all(f"/klassifikation/facets/{facet}/classes", limit=500)
    return {c["uuid"]: {"uuid": c["uuid"], "code": c["user_key"], "title": c["title"],
                        "registration_no": c["registration_no"]} for c in items}


def examples(before: dict[str, dict], after: dict[str, dict]) -> dict[str, list[dict]]:
    """A few classes created, changed (with the title before) and no longer valid, by code."""
    created = [c for u, c in after.items() if u not in before]
    changed = [{**c, "old_title": before[u]["title"]} for u, c in after.items()
               if u in before and c["registration_no"] != before[u]["registration_no"]]
    ended = [c for u, c in before.items() if u not in after]
    return {name: sorted(found, key=lambda c: c["code"] or "")[:EXAMPLES]
            for name, found in (("created", created), ("changed", changed), ("ended", ended))}


@bp.route("/klassifikation/kle", methods=["GET", "POST"])
@upload_page
def klassifikation_kle_upload():
    """The upload form; after a POST the summary of the import, or the file's problems."""
    if request.method == "GET":
        return render_template("admin/klassifikation/kle_upload.html", errors={}, problems=[])
    upload = request.files.get("file")
    data = upload.read(DEFAULT_MAX_BYTES + 1) if upload and upload.filename else b""
    errors: dict[str, str] = {}
    if not data:
        errors["file"] = "Vælg en KLE-fil (XML)."
    elif len(data) > DEFAULT_MAX_BYTES:
        errors["file"] = f"Filen er større end {DEFAULT_MAX_BYTES // (1024 * 1024)} MB."
    if errors:
        return render_template("admin/klassifikation/kle_upload.html", errors=errors, problems=[]), 422
    before = {facet: snapshot(facet) for _title, facet in KINDS.values()}
    result = send_body("POST", "/klassifikation/kle-imports", data, "application/xml")
    if result.ok:
        title, facet = KINDS[result.body["kind"]]
        return render_template("admin/klassifikation/kle_summary.html", summary=result.body, title=title,
                               facet=facet, filename=upload.filename, variants=VARIANTS, levels=LEVELS,
                               examples=examples(before[facet], snapshot(facet)))
    problems = (result.body or {}).get("errors", []) if isinstance(result.body, dict) else []
    errors = {"file": "Filen blev ikke indlæst; intet er ændret.",
              "form": f"Filen blev ikke indlæst: {result.detail}" if not problems else
              "Filen blev ikke indlæst, fordi den har fejl. Intet er ændret. Ret filen, eller hent den igen fra KL."}
    return render_template("admin/klassifikation/kle_upload.html", errors=errors, problems=problems), 422
