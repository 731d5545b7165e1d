"""Named SQL queries, written by hand in `.sql` files beside the code that runs them.

A file holds blocks introduced by `-- name: some_name`; a comment line right
after it is the query's description.  Queries use psycopg's named
placeholders (`%(code)s`).  `Queries(path).some_name` is the SQL text.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries:
    def __init__(self, path: str | Path):
        text = Path(path).read_text(encoding="utf-8")
        parts = _NAME.split(text)
        self._sql: dict[str, str] = {}
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in self._sql:
                raise ValueError(f"{path}: query {name!r} is defined twice")
            self._sql[name] = body.strip()
        self._path = path

    def __getattr__(self, name: str) -> str:
        try:
            return self._sql[name]
        except KeyError:
            raise AttributeError(f"{self._path} has no query named {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._sql


def after_uuid(column: str, after: str | None) -> str:
    """The keyset condition of a page after the first, `AND <column> > %(after)s::uuid`; nothing on
    the first page.

    Two statements, not one with `%(after)s IS NULL OR ...`: the generic plan a prepared statement
    gets after a few runs cannot start an index scan at the cursor for that form, so every page
    would read the index from its start and filter (quadratic over a walk of all pages).
    `column` is SQL written in the code, never input."""
    return "" if after is None else f"AND {column} > %(after)s::uuid"
