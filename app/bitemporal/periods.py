"""Half-open time periods `[lower, upper)`, with `None` for an open end.

The one place the end-exclusive rule is written down: a period contains
`lower` and every instant up to, but not including, `upper`.  All instants
are timezone-aware UTC; "a date" in the API means midnight Europe/Copenhagen
of that date (`local_midnight`), so a period "1 January - 1 February" in
Danish terms is `[2026-01-01T00:00+01:00, 2026-02-01T00:00+01:00)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from psycopg.types.range import Range

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def local_midnight(day: date) -> datetime:
    """The instant a Danish calendar day starts, in UTC (23:00 or 22:00 the day before); for
    0001-01-01, which starts before UTC's first instant, that first instant."""
    try:
        return datetime.combine(day, time(0), tzinfo=COPENHAGEN).astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def day_end(day: date) -> datetime:
    """The exclusive end of a Danish calendar day: the next day's `local_midnight`; for 9999-12-31,
    which has no next day, the last instant Python holds."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return local_midnight(day + timedelta(days=1))


def copenhagen_today() -> date:
    return datetime.now(COPENHAGEN).date()


def _starts_before_end(lower: datetime | None, upper: datetime | None) -> bool:
    """lower < upper, reading None as -infinity for a lower bound and +infinity for an upper."""
    return lower is None or upper is None or lower < upper


@dataclass(frozen=True)
class Period:
    lower: datetime | None = None
    upper: datetime | None = None

    def __post_init__(self):
        for v in (self.lower, self.upper):
            if v is not None and v.tzinfo is None:
                raise ValueError("period bounds must be timezone-aware")
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise ValueError("a period's end must be after its start")

    @classmethod
    def from_range(cls, r: Range) -> Period:
        return cls(r.lower, r.upper)

    def to_range(self) -> Range:
        return Range(self.lower, self.upper, "[)")

    def contains(self, t: datetime) -> bool:
        return (self.lower is None or self.lower <= t) and (self.upper is None or t < self.upper)

    def overlaps(self, other: Period) -> bool:
        return _starts_before_end(self.lower, other.upper) and _starts_before_end(other.lower, self.upper)

    def minus(self, other: Period) -> list[Period]:
        """The parts of self outside other (0, 1 or 2 periods)."""
        if not self.overlaps(other):
            return [self]
        out = []
        if other.lower is not None and (self.lower is None or self.lower < other.lower):
            out.append(Period(self.lower, other.lower))
        if other.upper is not None and (self.upper is None or other.upper < self.upper):
            out.append(Period(other.upper, self.upper))
        return out

    def meets(self, other: Period) -> bool:
        """self ends exactly where other starts."""
        return self.upper is not None and self.upper == other.lower


def coalesce(pieces: list[tuple[object, Period]]) -> list[tuple[object, Period]]:
    """Sorted (value, period) pieces with touching periods of equal value joined.

    Two descriptions that coalesce to the same list mean the same facts, which
    is how a no-op update is recognised."""
    def start(p: Period):
        return (p.lower is not None, p.lower or datetime.min.replace(tzinfo=UTC))

    ordered = sorted(pieces, key=lambda vp: (json.dumps(vp[0], sort_keys=True, default=str), start(vp[1])))
    out: list[tuple[object, Period]] = []
    for value, period in ordered:
        if out and out[-1][0] == value and out[-1][1].meets(period):
            out[-1] = (value, Period(out[-1][1].lower, period.upper))
        else:
            out.append((value, period))
    return out
