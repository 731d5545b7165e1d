"""The access log: who read which persons' data, when, under which agreement.

STUB: the storage (append-only table with a hash chain), the verify command,
retention and the query endpoint are being written; views already call
`record` so that every read of personal data is logged once they land.
"""

from __future__ import annotations


def record(operation: str, persons: list[str]) -> None:
    """Log that this request returns data about `persons` (URNs such as
    `urn:oio:cpr-nr:0101011234` or `urn:uuid:<uuid>`), for `operation`
    (e.g. "privileges.read").  Runs in the request's transaction, so the
    entry and the answer stand or fall together."""
    return None
