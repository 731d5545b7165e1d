"""What indexed records refer to, checked in memory: KLE subjects and action facets with their
validity, and the municipality's units with their existence periods and current paths.

A bulk load reads all of them once (`References.everything`) and then checks any number of
records without another query; a single write reads just what its record names
(`References.named`).  Both check with the same code (`problems`), so a record is judged the same
way whichever route it came by.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import psycopg

from app.bitemporal.periods import local_midnight
from classification.model import KLE_EMNEPLAN, KLE_HANDLINGSFACETTER
from indexes import records as rec
from organisation.unit_paths import paths_at, unit_paths

INACTIVE = ["Passiveret", "Slettet"]
# A passivated unit (closed, no longer maintained) is still what old records name; a deleted one is not.
UNIT_INACTIVE = ["Slettet"]
Periods = list[tuple[datetime | None, datetime | None]]

_CODES = """
    SELECT c.value #>> '{}' AS code, lower(c.valid) AS lo, upper(c.valid) AS hi FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
      JOIN klasse k ON k.uuid = c.uuid AND k.lifecycle <> ALL(%(inactive)s)
     WHERE c.field = 'user_key' AND upper_inf(c.registration)
       AND (%(codes)s::text[] IS NULL OR c.value #>> '{}' = ANY(%(codes)s::text[]))
"""
_UNITS = """
    SELECT e.uuid::text AS uuid, lower(f.valid) AS lo, upper(f.valid) AS hi FROM enhed e
      JOIN enhed_fact f ON f.uuid = e.uuid AND f.field = 'user_key' AND upper_inf(f.registration)
     WHERE e.municipality_code = %(m)s AND e.lifecycle <> ALL(%(inactive)s)
       AND (%(units)s::uuid[] IS NULL OR e.uuid = ANY(%(units)s::uuid[]))
"""


def day_start(day: date) -> datetime:
    return local_midnight(day)


def _holds(periods: Periods, at: datetime) -> bool:
    return any((lo is None or lo <= at) and (hi is None or at < hi) for lo, hi in periods)


def _periods(rows, key: str) -> dict[str, Periods]:
    out: dict[str, Periods] = {}
    for row in rows:
        out.setdefault(row[key], []).append((row["lo"], row["hi"]))
    return out


class References:
    """KLE subjects, action facets and units of one municipality, with what checks them."""

    def __init__(self, municipality_code: int, subjects: dict[str, Periods], facets: dict[str, Periods],
                 units: dict[str, Periods], paths: dict[str, list[str]]):
        self.municipality_code = municipality_code
        self.subjects, self.facets, self.units, self.paths = subjects, facets, units, paths

    @classmethod
    def everything(cls, conn: psycopg.Connection, municipality_code: int) -> References:
        return cls._load(conn, municipality_code, None, None, None)

    @classmethod
    def named(cls, conn: psycopg.Connection, municipality_code: int, records: Iterable[dict]) -> References:
        records = list(records)
        codes = sorted({c for r in records for c in rec.kle_codes(r)})
        facets = sorted({r["action_facet"] for r in records if r.get("action_facet")})
        units = sorted({u for r in records if (u := rec.unit_of(r))})
        return cls._load(conn, municipality_code, codes, facets, units)

    @classmethod
    def _load(cls, conn, municipality_code: int, codes, facets, units) -> References:
        def codes_of(facet, wanted):
            if wanted == []:
                return {}
            return _periods(conn.execute(_CODES, {"facet": facet, "codes": wanted, "inactive": INACTIVE}), "code")

        found_units = {} if units == [] else _periods(
            conn.execute(_UNITS, {"m": municipality_code, "units": units, "inactive": UNIT_INACTIVE}), "uuid")
        if units is None:
            paths = unit_paths(conn, municipality_code)
        else:  # as unit_paths has them: only units in today's tree
            now = datetime.now(UTC)
            alive = [u for u, periods in found_units.items() if _holds(periods, now)]
            paths = dict(zip(alive, paths_at(conn, [(u, now) for u in alive]), strict=True))
        return cls(municipality_code, codes_of(KLE_EMNEPLAN, codes), codes_of(KLE_HANDLINGSFACETTER, facets),
                   found_units, paths)

    def problems(self, kind: str, record: dict) -> list[dict]:
        """Every reference the record gets wrong, as {field, detail}."""
        day = rec.sort_date(record)
        at, out = day_start(day), []
        named = [("primary_class", record.get("primary_class")),
                 *((f"other_classes.{i}", c) for i, c in enumerate(record.get("other_classes") or []))]
        now = datetime.now(UTC)
        for name, code in named:
            if code and not (_holds(self.subjects.get(code, []), at) or _holds(self.subjects.get(code, []), now)):
                out.append({"field": name, "detail": f"{code} is not a KLE subject valid on {day.isoformat()} "
                                                     "or today."})
        facet = record.get("action_facet")
        if facet and not (_holds(self.facets.get(facet, []), at) or _holds(self.facets.get(facet, []), now)):
            out.append({"field": "action_facet",
                        "detail": f"{facet} is not a KLE action facet valid on {day.isoformat()} or today."})
        unit = rec.unit_of(record)
        if unit is not None and not (_holds(self.units.get(unit, []), at) or _holds(self.units.get(unit, []), now)):
            out.append({"field": "paying_unit" if kind == "effektuering" else "responsible_unit",
                        "detail": f"No unit {unit} in municipality {self.municipality_code}'s organisation on "
                                  f"{day.isoformat()} or today."})
        return out

    def path(self, unit: str | None) -> list[str]:
        """The unit's path from the root now ([] for no unit, or a unit outside today's tree)."""
        return self.paths.get(unit, []) if unit else []
