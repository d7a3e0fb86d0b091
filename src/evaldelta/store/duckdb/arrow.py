"""Rows to Arrow tables for DuckDB appends, with ids as Arrow's 16-byte UUID type.

Turning a ``UUID`` into text costs about fifty times what taking its 16 bytes does, and
DuckDB would parse the text back; a batch of feedback holds several ids per row, so ids
travel as ``arrow.uuid`` (fixed-size binary) columns, which DuckDB reads as ``UUID``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pyarrow as pa

# Columns of any table that hold ids.
UUID_COLUMNS = frozenset(
    {
        "tenant_id",
        "id",
        "dataset_id",
        "source_run_id",
        "session_id",
        "trace_id",
        "parent_run_id",
        "reference_example_id",
        "run_id",
        "comparative_experiment_id",
        "feedback_group_id",
        "run_session_id",
        "run_example_id",
    }
)
_NO_ID = bytes(16)


def _id_bytes(value: Any) -> bytes:
    if isinstance(value, UUID):
        return value.bytes
    if value is None:
        return _NO_ID
    return UUID(str(value)).bytes  # text from a client: parsed, so a bad id fails here


def _uuids(count: int, data: bytes, validity: pa.Buffer | None) -> pa.Array:
    storage = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), count, [validity, pa.py_buffer(data)]
    )
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def uuid_array(values: Sequence[Any]) -> pa.Array:
    """An ``arrow.uuid`` array of ids (``UUID``, their text, or None for NULL)."""
    try:
        # The usual column: validated ``UUID``s only (None or text fail over to the loop).
        return _uuids(len(values), b"".join([v.bytes for v in values]), None)
    except AttributeError:
        pass
    if all(v is None for v in values):  # e.g. feedback_group_id: cheaper than a bitmap
        return pa.nulls(len(values), pa.uuid())
    validity = None
    if any(v is None for v in values):
        validity = pa.array([v is not None for v in values], pa.bool_()).buffers()[1]
    return _uuids(len(values), b"".join([_id_bytes(v) for v in values]), validity)


def uuid_repeat(value: UUID, count: int) -> pa.Array:
    """One id ``count`` times (a batch's tenant), as an ``arrow.uuid`` array."""
    return _uuids(count, value.bytes * count, None)


def arrow_table(columns: dict[str, Sequence[Any]]) -> pa.Table:
    """An Arrow table of the given columns; id columns as ``arrow.uuid``."""
    return pa.table(
        {
            name: uuid_array(values) if name in UUID_COLUMNS else pa.array(values)
            for name, values in columns.items()
        }
    )


def rows_table(columns: list[str], rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table of ``columns`` taken from each row (missing keys are NULL)."""
    return arrow_table({c: [r.get(c) for r in rows] for c in columns})
