"""Danish identifiers: format and check-digit rules, shared by every module."""

from __future__ import annotations

import re

from marshmallow import validate

MUNICIPALITY_CODES = range(100, 1000)  # kommunekoder: three digits (the column is a smallint)
MUNICIPALITY_CODE = validate.Range(min=MUNICIPALITY_CODES.start, max=MUNICIPALITY_CODES.stop - 1)
_CVR = re.compile(r"^[0-9]{8}$")
_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def is_valid_cvr(value: str) -> bool:
    """A CVR number: eight digits, not starting with 0, weighted sum divisible by 11."""
    if not _CVR.match(value) or value[0] == "0":
        return False
    return sum(int(d) * w for d, w in zip(value, _CVR_WEIGHTS, strict=True)) % 11 == 0
