"""The national type lists (classification/seed_data.py): loaded, readable by code,
stable UUIDs, idempotent, and part of `flask demo load`."""

import dataclasses
import uuid
from pathlib import Path

from app.db import get_db
from authz.catalogue import Sensitivity
from classification import seed_data, service
from classification.model import NAMESPACE, facetter, klasser, klassifikationer
from classification.seed import load_seed

REQUIRED = {
    "enhedstype": {"forvaltning", "afdeling", "sektion", "institution", "team"},
    "funktionstype": {"arbejder_i", "leder", "udbetalende_enhed", "henvendelsessted"},
    "kle_aspekt": {"ansvarlig", "indsigt", "udfoerende"},
    "adressetype": {"postadresse", "email", "telefon", "ean", "p_nummer", "los_id", "www"},
    "foelsomhed": {s.value for s in Sensitivity},
    "sagsfremdrift": {"Opstaaet", "Oplyst", "Afgjort", "Afsluttet"},
    "dokumenttype": {"indgaaende_brev", "udgaaende_brev", "dagsorden", "notat", "faktura", "rapport"},
    "ydelsesklasse": {"kontanthjaelp", "boligstoette", "sygedagpenge"},
}

REGISTRATION_TABLES = ("klassifikation_registration", "facet_registration", "klasse_registration")


def registrations(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in REGISTRATION_TABLES}


def total_objects() -> int:
    return 1 + len(seed_data.FACETS) + sum(len(f.classes) for f in seed_data.FACETS)


def test_seed_loads_every_required_list_readable_by_code(app):
    with app.app_context(), get_db().transaction() as conn:
        result = load_seed(conn)
        assert result == (total_objects(), 0, 0)
        kl = klassifikationer.read(conn, seed_data.FAELLES_TYPER)
        assert kl["user_key"] == "faelles_typer" and kl["published"] == "Publiceret"
        for key, codes in REQUIRED.items():
            facet = seed_data.BY_KEY[key]
            stored_facet = facetter.read(conn, facet.uuid)
            assert stored_facet["user_key"] == key and stored_facet["klassifikation"] == seed_data.FAELLES_TYPER
            for code in codes:
                klasse = service.by_code(conn, facet.uuid, code)
                assert klasse is not None, (key, code)
                assert klasse["title"] and klasse["published"] == "Publiceret"
                assert klasse["facet"] == facet.uuid and klasse["lifecycle"] == "Importeret"
            stored = {c["user_key"] for c in service.facet_classes(conn, facet.uuid)}
            assert stored == {c.user_key for c in facet.classes}
        assert service.by_code(conn, seed_data.FUNKTIONSTYPE, "leder")["title"] == "Leder"


def test_uuids_are_derived_from_names_and_never_change(app):
    for facet in seed_data.FACETS:
        assert facet.uuid == str(uuid.uuid5(NAMESPACE, f"seed:facet:{facet.user_key}"))
        for c in facet.classes:
            assert facet.class_uuid(c.user_key) == str(uuid.uuid5(NAMESPACE, f"seed:klasse:{facet.user_key}:"
                                                                              f"{c.user_key}"))
    # Pinned: other systems keep these; a change to the naming scheme or the namespace must fail here.
    assert seed_data.FAELLES_TYPER == "aeac2577-177c-51c2-acf2-1dea8ceff07b"
    assert seed_data.FUNKTIONSTYPE == "450c6730-f8eb-5511-881c-6c9bd9fd524d"
    assert seed_data.class_uuid("funktionstype", "leder") == "898c2317-4885-5b8c-8759-965b1bdc6b2c"
    assert seed_data.class_uuid("foelsomhed", "VIP_SAGER") == "265e0c3d-055f-5221-9f8a-c75f6a276769"
    all_ids = [seed_data.FAELLES_TYPER] + [f.uuid for f in seed_data.FACETS] + [
        f.class_uuid(c.user_key) for f in seed_data.FACETS for c in f.classes]
    assert len(set(all_ids)) == len(all_ids) == total_objects()
    with app.app_context(), get_db().transaction() as conn:
        load_seed(conn)
        for facet in seed_data.FACETS:
            for c in facet.classes:
                assert service.by_code(conn, facet.uuid, c.user_key)["uuid"] == facet.class_uuid(c.user_key)


def test_a_second_load_changes_nothing(app):
    with app.app_context(), get_db().transaction() as conn:
        load_seed(conn)
        before = registrations(conn)
        assert load_seed(conn) == (0, 0, total_objects())
        assert registrations(conn) == before


def test_an_edited_title_is_one_registration_and_a_passivated_class_is_revived(app, monkeypatch):
    with app.app_context(), get_db().transaction() as conn:
        load_seed(conn)
        leder = seed_data.class_uuid("funktionstype", "leder")
        edited = tuple(
            dataclasses.replace(f, classes=tuple(dataclasses.replace(c, title="Chef") if c.user_key == "leder" else c
                                                 for c in f.classes)) if f.user_key == "funktionstype" else f
            for f in seed_data.FACETS)
        monkeypatch.setattr(seed_data, "FACETS", edited)
        assert load_seed(conn) == (0, 1, total_objects() - 1)
        assert klasser.read(conn, leder)["title"] == "Chef"
        assert [r["lifecycle"] for r in klasser.registrations(conn, leder)] == ["Importeret", "Rettet"]
        monkeypatch.undo()
        klasser.passivate(conn, leder)
        assert load_seed(conn) == (0, 1, total_objects() - 1)
        revived = klasser.read(conn, leder)
        assert revived["title"] == "Leder" and revived["lifecycle"] == "Importeret"


def test_sensitivity_levels_follow_the_access_control_order(app):
    facet = seed_data.BY_KEY["foelsomhed"]
    assert [c.user_key for c in facet.classes] == [s.value for s in Sensitivity]
    progress = seed_data.BY_KEY["sagsfremdrift"]
    assert [c.user_key for c in progress.classes] == ["Opstaaet", "Oplyst", "Afgjort", "Afsluttet"]


def test_the_cli_command_and_the_demo_load_include_the_seed(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert f"klassifikation seed: {total_objects()} created, 0 changed, 0 unchanged" in first.output
    with app.app_context(), get_db().transaction() as conn:
        assert service.by_code(conn, seed_data.FOELSOMHED, "VIP_SAGER")["title"] == "VIP-sager"
    again = runner.invoke(args=["demo", "load"])
    assert f"klassifikation seed: 0 created, 0 changed, {total_objects()} unchanged" in again.output
    seed = runner.invoke(args=["klassifikation", "seed"])
    assert seed.exit_code == 0, seed.output
    assert f"0 created, 0 changed, {total_objects()} unchanged" in seed.output


def test_the_documentation_lists_every_seeded_code_and_uuid():
    doc = (Path(__file__).parent.parent / "docs" / "classifications.md").read_text(encoding="utf-8")
    for facet in seed_data.FACETS:
        assert f"`{facet.user_key}`" in doc and facet.uuid in doc, facet.user_key
        for c in facet.classes:
            assert f"| `{c.user_key}` | {c.title} |" in doc and facet.class_uuid(c.user_key) in doc, c.user_key
