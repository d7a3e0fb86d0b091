"""LangSmith's example filter language: the run filter syntax (``parser.py``) over an
example's ``metadata`` only.

Supported, as LangSmith documents it for examples::

    has(metadata, '{"key": "value", ...}')   every key holds that value
    exists(metadata, "key")                  the key is present (even if null)
    and(f, ...), or(f, ...), not(f)

In ``has``, a list value is matched by containment: ``'{"dataset_split": ["train"]}'``
matches an example in ``train`` and other splits too; any other value must be equal (as
JSON).  Everything else is refused with a :class:`FilterError` naming its position.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from evaldelta.delta.filters.parser import Arg, Attr, Call, FilterError, Literal, parse_filter
from evaldelta.store.dialect import Dialect

Fragment = tuple[str, list[Any]]

SUPPORTED = 'has(metadata, \'{"key": "value"}\'), exists(metadata, "key"), and, or, not'


def example_filter_to_sql(text: str, dialect: Dialect, metadata: str = "metadata") -> Fragment:
    """``(sql, params)``: a boolean SQL expression over the example's ``metadata`` column."""
    return _node(parse_filter(text), dialect, metadata)


def _join(sep: str, parts: list[Fragment]) -> Fragment:
    params: list[Any] = []
    for _, p in parts:
        params += p
    return "(" + sep.join(sql for sql, _ in parts) + ")", params


def _node(arg: Arg, d: Dialect, doc: str) -> Fragment:
    if not isinstance(arg, Call):
        raise FilterError(f"expected a filter: {SUPPORTED}", arg.pos)
    if arg.name in ("and", "or", "not"):
        if not arg.args:
            raise FilterError(f"{arg.name}() needs at least one filter", arg.pos)
        if arg.name == "not" and len(arg.args) != 1:
            raise FilterError(f"not() takes 1 filter, got {len(arg.args)}", arg.pos)
        parts = [_node(a, d, doc) for a in arg.args]
        if arg.name == "not":
            return f"(NOT {parts[0][0]})", parts[0][1]
        return _join(" AND " if arg.name == "and" else " OR ", parts)
    if arg.name not in ("has", "exists"):
        raise FilterError(f"{arg.name}() is not supported on examples; use {SUPPORTED}", arg.pos)
    if len(arg.args) != 2 or not (isinstance(arg.args[0], Attr) and arg.args[0].name == "metadata"):
        raise FilterError(f"{arg.name}() takes metadata and a value: {SUPPORTED}", arg.pos)
    value = arg.args[1]
    if not (isinstance(value, Literal) and isinstance(value.value, str)):
        raise FilterError(f"{arg.name}(metadata, ...) takes a string", value.pos)
    if arg.name == "exists":
        return d.json_member_exists(doc, value.value)
    return _has(value, d, doc)


def _has(value: Literal, d: Dialect, doc: str) -> Fragment:
    assert isinstance(value.value, str)

    def reject_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        wanted = json.loads(value.value, parse_constant=reject_constant)
        orjson.dumps(wanted)  # what the dialects send: 64-bit integers, nesting < 255
    except (ValueError, RecursionError, orjson.JSONEncodeError) as err:
        raise FilterError(f"invalid JSON in has(metadata, ...): {err}", value.pos) from None
    if not isinstance(wanted, dict):
        raise FilterError("has(metadata, ...) takes a JSON object", value.pos)
    parts: list[Fragment] = []
    for key, item in wanted.items():
        if isinstance(item, list):
            parts += [d.json_member_contains(doc, key, v) for v in item]
            if not item:  # an empty list: only that the key is there
                parts.append(d.json_member_exists(doc, key))
        else:
            parts.append(d.json_member_equals(doc, key, item))
    return _join(" AND ", parts) if parts else ("TRUE", [])
