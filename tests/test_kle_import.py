"""KLE import into the bitemporal store, through the CLI, with the synthetic samples."""

from datetime import date, timedelta
from pathlib import Path

from app.bitemporal.periods import local_midnight
from app.db import get_db
from classification import service
from classification.model import KLE_EMNEPLAN, KLE_HANDLINGSFACETTER, klasser

DATA = Path(__file__).parent / "data" / "kle"


def run_import(app, name):
    return app.test_cli_runner().invoke(args=["klassifikation", "import-kle", str(DATA / name)])


def klasse(app, code, day=None, registered_at=None, facet=KLE_EMNEPLAN):
    with app.app_context(), get_db().transaction() as conn:
        return service.by_code(conn, facet, code, valid_at=local_midnight(day) + timedelta(hours=12) if day else None,
                               registered_at=registered_at)


def klasse_count(app):
    with app.app_context(), get_db().transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM klasse").fetchone()["n"]


def test_import_counts_hierarchy_retired_and_moved(app):
    result = run_import(app, "emneplan-xml2-2026-01.xml")
    assert result.exit_code == 0, result.output
    assert "3 hovedgruppe" in result.output and "12 gruppe" in result.output and "36 emne" in result.output
    assert "51 created, 0 changed, 0 unchanged" in result.output
    assert klasse_count(app) == 51

    emne = klasse(app, "27.01.01")
    parent = klasse(app, "27.01")
    assert emne["parent"] == parent["uuid"] and parent["parent"] == klasse(app, "27")["uuid"]
    with app.app_context(), get_db().transaction() as conn:
        codes = [c["user_key"] for c in service.children(conn, parent["uuid"])]
        assert codes == ["27.01.01", "27.01.02", "27.01.03"]
        assert [a["user_key"] for a in service.ancestors(conn, emne["uuid"])] == ["27.01", "27"]
    # Retired 2025-10-01: valid the day before, not on the day.
    assert klasse(app, "27.02.03", date(2025, 9, 30))["title"]
    assert klasse(app, "27.02.03", date(2025, 10, 1)) is None
    # Moved 2025-07-01 to 32.01.02.
    before = klasse(app, "27.05.01", date(2025, 6, 30))
    assert before["replaced_by"] == []
    with app.app_context(), get_db().transaction() as conn:
        moved = klasser.read(conn, before["uuid"], valid_at=local_midnight(date(2025, 7, 2)))
    assert moved["replaced_by"] == [klasse(app, "32.01.02")["uuid"]] and moved["title"] is None


def test_the_same_file_twice_changes_nothing_and_a_new_edition_only_what_changed(app):
    run_import(app, "emneplan-xml2-2026-01.xml")
    with app.app_context(), get_db().transaction() as conn:
        after_first = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
        registrations = conn.execute("SELECT count(*) AS n FROM klasse_registration").fetchone()["n"]
    again = run_import(app, "emneplan-xml2-2026-01.xml")
    assert "0 created, 0 changed, 51 unchanged" in again.output, again.output
    with app.app_context(), get_db().transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM klasse_registration").fetchone()["n"] == registrations

    newer = run_import(app, "emneplan-xml2-2026-04.xml")
    assert newer.exit_code == 0, newer.output
    assert "1 created, 3 changed, 48 unchanged" in newer.output, newer.output
    # 17.01.02 has a new title from the edition's date; before it, and as registered before, the old one.
    old_title = klasse(app, "17.01.02", date(2026, 3, 1))["title"]
    new_title = klasse(app, "17.01.02", date(2026, 5, 1))["title"]
    assert old_title != new_title
    assert klasse(app, "17.01.02", date(2026, 5, 1), registered_at=after_first)["title"] == old_title
    assert klasse(app, "17.02.01", date(2026, 3, 31)) is not None
    assert klasse(app, "17.02.01", date(2026, 4, 1)) is None
    assert klasse(app, "32.05.04", date(2026, 5, 1)) is not None


def test_full_variant_brings_search_words_and_action_facets_import(app):
    assert run_import(app, "emneplan-full-2026-01.xml").exit_code == 0
    emne = klasse(app, "27.01.01")
    assert emne["search_words"], "the full variant carries search words"
    result = run_import(app, "handlingsfacetter-2026-01.xml")
    assert result.exit_code == 0, result.output
    assert klasse(app, "G01", facet=KLE_HANDLINGSFACETTER)["title"]


def test_broken_files_import_nothing_and_name_the_line(app):
    for name in ("broken-malformed.xml", "broken-unknown-root.xml", "broken-code-format.xml",
                 "broken-replaced-by-cycle.xml", "broken-doctype-entity.xml"):
        result = run_import(app, name)
        assert result.exit_code != 0, name
        assert "nothing imported" in result.output, (name, result.output)
    assert "line" in run_import(app, "broken-code-format.xml").output
    assert klasse_count(app) == 0
