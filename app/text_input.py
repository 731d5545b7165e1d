"""Text that cannot be stored is refused where it comes in, naming the field.

PostgreSQL's text and jsonb cannot hold NUL (U+0000), and UTF-8 has no encoding for an unpaired
surrogate (a JSON escape such as `\\ud83d` without its partner); left to the database, either
fails deep inside a write as a 500.  Every request is checked before its view runs: query
parameters, form fields and JSON bodies.  Bulk bodies (JSON lines) are checked line by line by their
parsers with `problem_path_in`, so one bad line does not refuse the rest.

In JSON text both can only arrive as `\\u` escapes (a raw NUL or a raw surrogate is not valid JSON
or not valid UTF-8), so a body is walked only when its text contains one: the usual request pays one
scan of its bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from app.errors import Problem, field_error

RULE = "Text must not contain NUL (U+0000) or an unpaired surrogate (U+D800-U+DFFF)."
_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_ESCAPE_BYTES = re.compile(_ESCAPE.pattern.encode())
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def may_hold_bad_text(text: str | bytes) -> bool:
    """Whether JSON text has an escape that could decode to NUL or a surrogate (then walk it)."""
    return (_ESCAPE_BYTES if isinstance(text, bytes) else _ESCAPE).search(text) is not None


def problem_path_in(text: str | bytes, value: Any) -> str | None:
    """`problem_path` of `value`, parsed from the JSON `text`, walked only when the text could hold one."""
    return problem_path(value) if may_hold_bad_text(text) else None


def problem_path(value: Any, path: str = "") -> str | None:
    """The dotted path (`parties.0.name`) of the first string or key in `value` that breaks RULE."""
    if isinstance(value, str):
        return (path or "(body)") if _BAD_CHAR.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _BAD_CHAR.search(key):
                return inner
            found = problem_path(item, inner)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = problem_path(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def reject_unstorable_text() -> None:
    """A before_request hook: 422 `invalid_text` naming the first parameter or field that breaks RULE."""
    sources = [("query", request.args)]
    if request.mimetype in _FORMS:
        sources.append(("form", request.form))
    for location, values in sources:
        for name, value in values.items(multi=True):
            if _BAD_CHAR.search(name) or _BAD_CHAR.search(value):
                _refuse(location, name)
    if request.is_json:
        data = request.get_data(cache=True)
        if may_hold_bad_text(data):
            try:
                path = problem_path(json.loads(data))
            except ValueError:
                return  # not JSON at all: the view's parser answers that
            if path:
                _refuse("json", path)


def _refuse(location: str, field: str) -> None:
    raise Problem(422, "invalid_text", f"{field}: {RULE}", errors=[field_error(location, field, RULE)])
