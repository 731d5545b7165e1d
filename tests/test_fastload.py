"""The bulk loads' fast path (app/fastload.py) against marshmallow itself: on valid records and on
thousands of damaged ones, whatever the fast path returns is exactly what the schema returns, and it
never accepts what the schema refuses."""

from __future__ import annotations

import copy
import json
import random
from datetime import date

import pytest
from marshmallow import Schema, ValidationError, fields, post_load

from app.fastload import Unsure, fast_loader, loader_with_fallback
from indexes.records import SCHEMAS
from indexes.synthetic import generate
from organisation.synthetic import synthetic_kle_codes

ARGS = {"municipality_code": 751, "kle_codes": synthetic_kle_codes(), "today": date(2026, 3, 1),
        "action_facets": [f"G{i:02d}" for i in range(1, 30)],
        "units": [f"00000000-0000-4000-8000-{i:012d}" for i in range(60)],
        "master_systems": [f"10000000-0000-4000-8000-{i:012d}" for i in range(8)]}
# What a sender might send instead of a value: wrong types, empty, overlong, malformed, extreme.
DAMAGE = [None, "", " ", 0, -1, 1.5, True, [], {}, "x" * 6000, "2026-02-30", "2026-01-01T10:00:00",
          "27.350", "NaN", "1e400", "12345678901234567890.5", "0.001", "ABCDEFGH-0000-4000-8000-000000000000",
          "00000000-0000-4000-8000-00000000000G", "urn:oio:cpr-nr:3213991234", "urn:oio:cvr-nr:12345678",
          "Opstaaet", "modtager", [None], [{}], ["x"] * 300]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    # Through JSON, as a sender's lines arrive.
    return [json.loads(json.dumps(r)) for r in generate(3, citizens=300, **ARGS)]


def outcome(load, data):
    try:
        return "ok", load(copy.deepcopy(data))
    except ValidationError as exc:
        return "refused", exc.messages


def _paths(value, path=()):
    """Every (path) into nested dicts and lists."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _damaged(record: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(record)
    path = rng.choice([p for p in _paths(out) if p])
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    how = rng.random()
    if how < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif how < 0.25 and isinstance(parent, dict):
        parent["unexpected"] = 1
    else:
        parent[path[-1]] = rng.choice(DAMAGE)
    return out


def test_valid_records_load_the_same_and_take_the_fast_path(records):
    fast = {kind: fast_loader(schema) for kind, schema in SCHEMAS.items()}
    for original in records:
        record = dict(original)
        kind = record.pop("kind")
        expected = SCHEMAS[kind].load(copy.deepcopy(record))
        assert fast[kind](copy.deepcopy(record)) == expected  # never Unsure on these


def test_damaged_records_get_exactly_the_schemas_answer(records):
    rng = random.Random(11)
    fast = {kind: fast_loader(schema) for kind, schema in SCHEMAS.items()}
    both = {kind: loader_with_fallback(schema) for kind, schema in SCHEMAS.items()}
    fast_accepted = refused = 0
    for _ in range(3000):
        record = dict(rng.choice(records))
        kind = record.pop("kind")
        bad = _damaged(record, rng)
        expected = outcome(SCHEMAS[kind].load, bad)
        assert outcome(both[kind], bad) == expected
        try:
            got = fast[kind](copy.deepcopy(bad))
        except (Unsure, ValidationError, ValueError, TypeError):
            refused += expected[0] == "refused"
            continue
        assert expected == ("ok", got)  # the fast path accepted: the schema accepts the same, identically
        fast_accepted += 1
    assert refused > 1000 and fast_accepted > 100  # both sides of the property were exercised


def test_schemas_with_other_hooks_are_never_taken_on():
    class WithPostLoad(Schema):
        name = fields.String(required=True)

        @post_load
        def _wrap(self, data, **_kw):
            return {"wrapped": data}

    with pytest.raises(Unsure):
        fast_loader(WithPostLoad())({"name": "x"})
    assert loader_with_fallback(WithPostLoad())({"name": "x"}) == {"wrapped": {"name": "x"}}


def test_the_storage_text_of_a_record_is_its_json_form(records):
    """document_json (orjson, the bulk path) gives exactly the JSON form to_document gives."""
    from indexes.records import document_json, load_record, to_document

    for original in records[:500]:
        record = dict(original)
        loaded = load_record(record.pop("kind"), record)
        assert json.loads(document_json(loaded)) == to_document(loaded)
