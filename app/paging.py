"""Opaque keyset cursors: the sort key of the last item, encoded for the URL.

Keyset paging never skips or repeats rows when data changes between pages,
and costs the same on page 1,000 as on page 1 (unlike OFFSET).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from app.errors import Problem, field_error
from app.text_input import problem_path

MAX_LIMIT = 500


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def invalid_cursor() -> Problem:
    """The one answer to a cursor this service did not issue (raise it)."""
    return Problem(400, "invalid_cursor", "The cursor is not one this service issued; start again without it.",
                   errors=[field_error("query", "cursor", "Not a valid cursor.")])


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        key = None
    if not isinstance(key, list) or len(key) != length or problem_path(key):  # problem_path: NUL, surrogates
        raise invalid_cursor()
    return key


def text(value: Any) -> str:
    """A `decode_typed_cursor` parser: a string."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def decode_typed_cursor(cursor: str | None, *parsers: Callable[[Any], Any]) -> tuple | None:
    """A cursor of one value per parser, each passed through it (datetime.fromisoformat, int, UUID, ...);
    a value that does not parse makes the cursor invalid."""
    key = decode_cursor(cursor, len(parsers))
    if key is None:
        return None
    try:
        return tuple(parse(value) for parse, value in zip(parsers, key, strict=True))
    except (TypeError, ValueError, AttributeError):
        raise invalid_cursor() from None


_INT64 = range(-(2**63), 2**63)


def _fits(value: Any, shape: tuple[type, ...]) -> bool:
    if value is None or isinstance(value, bool):
        return value is None and type(None) in shape
    if isinstance(value, int):  # JSON integers reach Elasticsearch as longs, also for a score
        return (int in shape or float in shape) and value in _INT64
    if isinstance(value, float):
        return float in shape and math.isfinite(value)
    return isinstance(value, str) and str in shape


def decode_search_after(cursor: str | None, *shapes: tuple[type, ...]) -> list[Any] | None:
    """A cursor of Elasticsearch sort values (`search_after`), one per sort field, each of one of the
    types its shape names (int: a long; float: a score; str: a keyword; type(None): missing).
    Elasticsearch refuses a value of another type with an error, so such a cursor is invalid here."""
    key = decode_cursor(cursor, len(shapes))
    if key is not None and not all(_fits(v, shape) for v, shape in zip(key, shapes, strict=True)):
        raise invalid_cursor()
    return key


class PageArgs(Schema):
    """Query parameters every paged list accepts."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Items per page (1-{MAX_LIMIT})."})
    cursor = fields.String(validate=validate.Length(max=2000),
                           metadata={"description": "`next_cursor` of the previous page; omit for the first."})


class PageSchema(Schema):
    total = fields.Integer(metadata={"description": "Number of matching items."})
    next_cursor = fields.String(allow_none=True,
                                metadata={"description": "Pass as `cursor` for the next page; null on the last."})
