"""JSON through orjson: Flask's answers, and reading JSON text as `json` reads it.

The output is what Flask's `DefaultJSONProvider` writes, in the same types: dates and datetimes as
HTTP dates, Decimal and UUID as strings, dataclasses as objects, keys sorted, compact out of
debug mode; only non-ASCII characters are sent as UTF-8 rather than `\\u` escapes (the same JSON
value).  It is several times faster: a 50-item overview page took about 640 µs with `json.dumps`
and 90 µs with orjson.  (Most overview pages are short; on the bench's overview it made no
measurable difference, docs/benchmarks.md: it pays on long pages.)  What orjson cannot
write (an integer beyond 64 bits, arguments other than indent and separators) goes to Flask's own.
Request bodies are still read by `json`, whose error messages the problem answers quote.

`read_json` reads stored records and bulk lines, several times faster than `json.loads`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

# Datetimes and dataclasses go to Flask's `default`: HTTP dates, and objects with sorted keys.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() - {"indent", "separators"}:
            return super().dumps(obj, **kwargs)
        option = _OPTIONS | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        try:
            return orjson.dumps(obj, default=self.default, option=option).decode()
        except TypeError:
            return super().dumps(obj, **kwargs)


def read_json(text: str) -> Any:
    """JSON text as `json.loads` reads it, several times faster: orjson first; what orjson refuses
    (integers beyond 64 bits, NaN, lone surrogates, broken JSON) goes to json, which reads it or
    raises its ValueError naming the problem."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
