"""The app's JSON answers are Flask's own, written by orjson (app/json.py)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.json import OrjsonProvider


@dataclasses.dataclass
class Point:
    x: int
    name: str


VALUES = [
    {"b": 1, "a": [1, 2, {"z": None, "y": True}], "c": {"k": -0.5}},
    {"day": date(2026, 3, 29), "at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "naive": datetime(2026, 1, 2, 3, 4)},
    {"amount": Decimal("1234.50"), "id": uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")},
    {2: "integer keys", 1: "as strings"},
    Point(1, "Århus"),
    {"beyond 64 bits": 2**70, "text": "æøå \u2028 \"quoted\""},
    [],
]


@pytest.fixture(scope="module")
def providers():
    app = Flask(__name__)
    return OrjsonProvider(app), DefaultJSONProvider(app)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
@pytest.mark.parametrize("kwargs", [{"separators": (",", ":")}, {"indent": 2}], ids=["compact", "indented"])
def test_same_json_as_flask(providers, value, kwargs):
    ours, flasks = providers
    text = ours.dumps(value, **kwargs)
    assert json.loads(text) == json.loads(flasks.dumps(value, **kwargs))
    keys = list(json.loads(text)) if isinstance(json.loads(text), dict) else []
    assert keys == sorted(keys)  # sorted, as Flask sorts them


def test_what_neither_can_write_fails_alike(providers):
    ours, flasks = providers
    for value in ({"t": time(12, 0)}, {"s": {1, 2}}, {"o": object()}):
        with pytest.raises(TypeError):
            flasks.dumps(value)
        with pytest.raises(TypeError):
            ours.dumps(value)


def test_the_app_answers_with_it(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data().endswith(b"\n") and b": " not in response.get_data()  # compact, as Flask's
    assert isinstance(client.application.json, OrjsonProvider)
