"""admin/timeline.py: a unit's facts as a timeline for people, and the navigation registry."""

from datetime import date

import admin.organisation  # noqa: F401  (registers its navigation item, as the app does)
from admin import nav
from admin.timeline import history, lifespan
from authz.policy import PlatformRole


def fact(field, value, valid_from, valid_to=None, registered_to=None):
    return {"field": field, "value": value, "valid_from": valid_from, "valid_to": valid_to,
            "registered_from": "2020-01-01T00:00:00+00:00", "registered_to": registered_to}


JAN = "2024-12-31T23:00:00+00:00"   # 1 January 2025, Copenhagen
MAR = "2027-02-28T23:00:00+00:00"   # 1 March 2027
JUL = "2027-06-30T22:00:00+00:00"   # 1 July 2027 (summer time)
ROWS = [
    fact("user_key", "JC", JAN, JUL),
    fact("name", "Jobcenter", JAN, MAR),
    fact("name", "Jobcenter Aarhus", MAR, JUL),
    fact("name", "Gammelt navn", JAN, None, registered_to="2026-01-01T00:00:00+00:00"),  # superseded belief
    fact("parent", "root", JAN, JUL),
    fact("tasks", {"code": "15.00", "aspect": "ansvarlig"}, MAR, JUL),
]


def test_each_day_something_starts_or_stops_oldest_first_with_planned_days_marked():
    entries = history(ROWS, today=date(2026, 11, 27))
    assert [(e.day, e.kind, e.planned) for e in entries] == [
        (date(2025, 1, 1), "created", False), (date(2027, 3, 1), "changed", True),
        (date(2027, 7, 1), "ended", True)]
    renamed = {c.field: (c.before, c.after) for c in entries[1].changes}
    assert renamed == {"name": (["Jobcenter"], ["Jobcenter Aarhus"]),
                       "tasks": ([], [{"code": "15.00", "aspect": "ansvarlig"}])}
    assert entries[1].changes[0].label == "Navn"


def test_lifespan_of_the_unit():
    first, last, gaps = lifespan(ROWS)
    assert (first.isoformat(), last.isoformat(), gaps) == ("2024-12-31T23:00:00+00:00", "2027-06-30T22:00:00+00:00",
                                                           False)
    assert lifespan([*ROWS, fact("user_key", "JC", "2028-01-01T00:00:00+00:00")])[2] is True
    assert lifespan([]) == (None, None, False)


def test_navigation_shows_each_role_its_sections():
    org = [i.label for i in nav.items_for(PlatformRole.MUNICIPALITY_ADMIN)]
    assert "Organisation" in org
    assert "Organisation" in [i.label for i in nav.items_for(PlatformRole.OPERATOR)]
    assert "Organisation" not in [i.label for i in nav.items_for(PlatformRole.VENDOR_ADMIN)]
    items = nav.items_for(PlatformRole.OPERATOR)
    assert nav.current(items, "admin.organisation_unit").label == "Organisation"
    assert nav.current(items, "admin.home") is None
