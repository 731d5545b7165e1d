"""A fast path for marshmallow loads in bulk: the same conversions without marshmallow's machinery.

A bulk load validates hundreds of thousands of records, and marshmallow spends most of a load in
its own bookkeeping (error stores, getters, per-field hooks), not in the fields' conversions.
`fast_loader(schema)` compiles a schema into a plain function that runs exactly the conversions
marshmallow would (each field's own `_deserialize`, then its validators; nested schemas and lists
recursively; the schema's `validates_schema` hooks on the result) for input it is sure of.  On
anything else (an unknown key, a missing required field, a null where none is allowed, any error
from a field, a validator or a hook) it raises `Unsure`, and the caller loads with the schema
itself, so every message a sender sees is marshmallow's.  Schemas with other hooks (pre_load,
post_load, @validates) are never taken on: their loader always raises `Unsure`.

    load = fast_loader(SCHEMA)
    try:
        record = load(data)
    except Unsure:
        record = SCHEMA.load(data)  # the messages, or the rare valid input the fast path left alone
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, fields, missing

VALIDATES_SCHEMA = "validates_schema"


class Unsure(Exception):
    """The fast path does not decide this input: load it with the schema."""


def _unsure(*_args: Any) -> Any:
    raise Unsure


def _value_loader(f: fields.Field) -> Callable[[Any], Any]:
    if isinstance(f, fields.Nested):
        inner = fast_loader(f.schema)
        return lambda v: inner(v) if isinstance(v, dict) else _unsure()
    if isinstance(f, fields.List):
        item = _field_loader(f.inner)
        low, high = getattr(f, "low", None), getattr(f, "high", None)  # record_fields.Items checks lengths first

        def load_list(v: Any) -> list:
            if not isinstance(v, list) or (high is not None and not low <= len(v) <= high):
                raise Unsure
            return [item(x) for x in v]
        return load_list
    if type(f)._deserialize is fields.Field._deserialize or isinstance(f, fields.Method | fields.Function):
        return _unsure  # a field whose conversion lives elsewhere: not taken on
    convert = f._deserialize
    return lambda v: convert(v, None, None)


def _field_loader(f: fields.Field) -> Callable[[Any], Any]:
    base, validators, allow_none = _value_loader(f), list(f.validators), f.allow_none

    def load(value: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise Unsure
        out = base(value)
        for validator in validators:
            if validator(out) is False:
                raise Unsure
        return out
    return load


def fast_loader(schema: Schema) -> Callable[[dict], dict]:
    """`schema.load(data)` for input it is sure of; raises Unsure (or any error of a field or a hook)
    otherwise, and then schema.load must decide."""
    hooks = {tag: entries for tag, entries in schema._hooks.items() if entries}
    if set(hooks) - {VALIDATES_SCHEMA} or schema.unknown != RAISE or \
            any(many or kw.get("pass_original") for _n, many, kw in hooks.get(VALIDATES_SCHEMA, ())):
        return _unsure
    if any("." in (f.attribute or "") for f in schema.load_fields.values()):
        return _unsure  # a dotted attribute builds nested output: marshmallow's business
    plan = [(f.attribute or name, f.data_key or name, _field_loader(f), f.required, f.load_default)
            for name, f in schema.load_fields.items()]
    known = {key for _a, key, _l, _r, _d in plan}
    checks = [getattr(schema, name) for name, _many, _kw in hooks.get(VALIDATES_SCHEMA, ())]

    def load(data: dict) -> dict:
        if not known.issuperset(data):
            raise Unsure
        out: dict = {}
        for attribute, key, loader, required, default in plan:
            if key in data:
                out[attribute] = loader(data[key])
            elif required:
                raise Unsure
            elif default is not missing:
                out[attribute] = default() if callable(default) else default
        for check in checks:
            check(out, partial=None, many=False, unknown=RAISE)
        return out
    return load


def loader_with_fallback(schema: Schema) -> Callable[[dict], dict]:
    """The fast path, and `schema.load` whenever it is unsure or finds a problem (for the messages)."""
    fast = fast_loader(schema)

    def load(data: dict) -> dict:
        try:
            return fast(data)
        except Exception:  # noqa: BLE001 - any doubt at all: marshmallow decides, with its messages
            return schema.load(data)
    return load
