"""Instants sent by clients: date-times with a UTC offset, normalised to UTC at the edge.

Every store keeps UTC (PostgreSQL's timestamptz, Elasticsearch's dates).  Converting where the
value comes in makes two rules one place instead of failures deep in a write:
- PostgreSQL refuses offsets beyond ±15:59, which Python (and ISO 8601) accept up to ±23:59;
  in UTC there is no offset left to refuse;
- an instant whose UTC falls outside the years 1-9999 (0001-01-01T00:00+01:00) cannot be held by
  Python, and one after 9999-12-31T00:00Z cannot be shown in Danish time; both are refused here
  with the field's name, not met as an OverflowError later.

`not_ahead_of_clock` guards a sender's version stamp (`changed_at`): the index keeps the newest
version by that stamp, so one stamp far in the future (a clock or a time-zone bug: Danish time sent
as Z is one or two hours ahead) would make every real later version stale until that moment comes.
Five minutes of clock skew are allowed, as Kerberos does by default.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError, fields

LATEST = datetime(9999, 12, 31, tzinfo=UTC)  # later ones cannot be shown in Danish time (year 10000)
OUT_OF_RANGE = "The instant must fall between 0001-01-01T00:00Z and 9999-12-31T00:00Z (years 0001-9999)."
CLOCK_SKEW = timedelta(minutes=5)


def to_utc(moment: datetime) -> datetime:
    """An aware `moment` in UTC; ValueError (OUT_OF_RANGE) when it falls outside [year 1, LATEST]."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None
    if utc > LATEST:
        raise ValueError(OUT_OF_RANGE)
    return utc


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 date-time with a UTC offset (or, with `default_timezone`, without), loaded in UTC."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return to_utc(moment)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def not_ahead_of_clock(moment: datetime) -> None:
    """A marshmallow validator: `moment` is at most CLOCK_SKEW after the server's clock."""
    now = datetime.now(UTC)
    if moment > now + CLOCK_SKEW:
        raise ValidationError(f"Ahead of the service's clock ({now.isoformat(timespec='seconds')}) by more than "
                              f"{CLOCK_SKEW.seconds // 60} minutes: a version stamp in the future would make "
                              f"every later version stale. Check the sending system's clock and time zone.")
