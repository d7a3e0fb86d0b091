"""Turning SQL result rows into API-shaped dicts, and values into SQL parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from evaldelta.errors import Invalid
from evaldelta.store.base import Row

# Columns stored as JSON text in every table that has them.
JSON_COLUMNS = frozenset(
    {
        "inputs",
        "outputs",
        "extra",
        "events",
        "serialized",
        "metadata",
        "split",
        "value",
        "correction",
        "feedback_source",
        "feedback_config",
        "inputs_schema_definition",
        "outputs_schema_definition",
        "transformations",
        "feedback_stats",
        "session_feedback_stats",
        "experiment_ids",
        "rubric_items",
    }
)


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    def execute(self, query: str, parameters: object = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...


def dump_json(value: Any) -> str | None:
    """JSON text for a JSON column; ``None`` stays SQL NULL.

    Python's JSON parser accepts what orjson cannot write back (nesting deeper than 254,
    integers beyond 64 bits): that is the client's fault, a 422, not a server error.
    """
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError as err:
        raise Invalid(f"a JSON value cannot be stored: {err}") from None


def load_json(text: Any) -> Any:
    if text is None or not isinstance(text, str | bytes):
        return text
    return orjson.loads(text)


def fetch_rows(cur: Cursor, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Run a query and return its rows as dicts with JSON columns decoded."""
    cur.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    decode = [n in JSON_COLUMNS for n in names]
    return [
        {n: (load_json(v) if j else v) for n, j, v in zip(names, decode, row, strict=True)}
        for row in cur.fetchall()
    ]


def session_reference(fields: Row) -> tuple[Any, Row] | None:
    """The session a run op names: a cache key for one batch and the session row to look
    up by id or create (by id, or by name alone); None when it names none."""
    if "session_id" in fields:
        return fields["session_id"], {
            "id": fields["session_id"],
            "name": fields.get("session_name"),
        }
    if "session_name" in fields:
        return ("name", fields["session_name"]), {"name": fields["session_name"]}
    return None
