"""Danish identifiers: format and check-digit rules, shared by every module."""

from __future__ import annotations

import re

_CVR = re.compile(r"^[0-9]{8}$")
_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def is_valid_cvr(value: str) -> bool:
    """A CVR number: eight digits, not starting with 0, weighted sum divisible by 11."""
    if not _CVR.match(value) or value[0] == "0":
        return False
    return sum(int(d) * w for d, w in zip(value, _CVR_WEIGHTS, strict=True)) % 11 == 0
