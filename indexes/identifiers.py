"""Party identifiers in the index records: CPR, CVR and P numbers and the URNs that carry them.

A party is named by a URN (`urn:oio:cpr-nr:DDMMYYSSSS`, `urn:oio:cvr-nr:NNNNNNNN`,
`urn:oio:p-nr:NNNNNNNNNN` or `urn:uuid:<uuid>`), and readers search by exactly
that string, so a malformed number would make a record unfindable.  Each check
returns None for a good value and otherwise one sentence saying what is wrong,
for the validation error of the field.

CPR numbers have had no modulus-11 check since 2007, so only the date part is
checked, with the century read from the 7th digit.  CVR numbers keep their
modulus-11 check.
"""

from __future__ import annotations

import re
from datetime import date

_CPR = re.compile(r"^[0-9]{10}$")
_CVR = re.compile(r"^[1-9][0-9]{7}$")
_P_NUMBER = re.compile(r"^[0-9]{10}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)

CPR_PREFIX = "urn:oio:cpr-nr:"
CVR_PREFIX = "urn:oio:cvr-nr:"
P_PREFIX = "urn:oio:p-nr:"
UUID_PREFIX = "urn:uuid:"


def cpr_century(seventh_digit: int, yy: int) -> int:
    """The century (1800, 1900 or 2000) of a CPR number's birth year, from its 7th digit and YY."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr_birth_date(s: str) -> date | None:
    """The birth date a 10-digit CPR number stands for, or None if DDMMYY is no real date."""
    day, month, yy = int(s[0:2]), int(s[2:4]), int(s[4:6])
    try:
        return date(cpr_century(int(s[6]), yy) + yy, month, day)
    except ValueError:
        return None


def cpr_problem(s: str) -> str | None:
    """None for a valid CPR number (10 digits, no hyphen), else what is wrong with it."""
    if not isinstance(s, str) or not _CPR.match(s):
        return "A CPR number must be exactly 10 digits (no hyphen)."
    if cpr_birth_date(s) is None:
        century = cpr_century(int(s[6]), int(s[4:6]))
        return (f"CPR date part {s[:6]} is not a real date (with 7th digit {s[6]} the year is "
                f"{century + int(s[4:6])}).")
    return None


def cvr_problem(s: str) -> str | None:
    """None for a valid CVR number (8 digits, not starting with 0, modulus 11), else what is wrong."""
    if not isinstance(s, str) or not _CVR.match(s):
        return "A CVR number must be exactly 8 digits, the first not 0."
    if sum(int(d) * w for d, w in zip(s, CVR_WEIGHTS, strict=True)) % 11:
        return f"CVR number {s} fails the modulus 11 check."
    return None


def p_number_problem(s: str) -> str | None:
    """None for a P number (production unit: 10 digits), else what is wrong."""
    if not isinstance(s, str) or not _P_NUMBER.match(s):
        return "A P number must be exactly 10 digits."
    return None


def _uuid_problem(s: str) -> str | None:
    if not _UUID.match(s.lower()):
        return "urn:uuid: must be followed by a UUID (8-4-4-4-12 hexadecimal digits)."
    return None


_SCHEMES = ((CPR_PREFIX, cpr_problem), (CVR_PREFIX, cvr_problem), (P_PREFIX, p_number_problem),
            (UUID_PREFIX, _uuid_problem))


def urn_problem(urn: str) -> str | None:
    """None for a party URN of a known scheme with a valid identifier, else what is wrong."""
    if not isinstance(urn, str):
        return "A party URN must be a string."
    for prefix, problem in _SCHEMES:
        if urn.lower().startswith(prefix):
            return problem(urn[len(prefix):])
    return ("Unknown party URN scheme: expected urn:oio:cpr-nr:, urn:oio:cvr-nr:, urn:oio:p-nr: "
            "or urn:uuid:.")


def normalise_urn(urn: str) -> str:
    """A valid party URN in its one searchable spelling: lower-case scheme (and UUID)."""
    lowered = urn.lower()
    for prefix, _problem in _SCHEMES:
        if lowered.startswith(prefix):
            return lowered if prefix == UUID_PREFIX else prefix + urn[len(prefix):]
    return urn
