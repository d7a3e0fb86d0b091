"""Dataset splits, kept as LangSmith keeps them: in each example's ``metadata.dataset_split``
(a list of split names; an example in no named split is in ``"base"``).

Both stores also keep the list in the examples' ``split`` column, which ``splits=`` filters
on; the two are written together, here, and only here.
"""

from __future__ import annotations

from typing import Any

from evaldelta.errors import Invalid
from evaldelta.store.base import Row

SPLIT_KEY = "dataset_split"
DEFAULT_SPLITS = ["base"]


def split_names(value: Any, loc: list[str | int]) -> list[str] | None:
    """A split (one name or a list of names) as a list, or None when not given; a 422
    naming ``loc`` when it is neither a string nor a list of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(dict.fromkeys(value))
    raise Invalid("a split is a name or a list of names (strings)", loc=loc)


def _given_splits(row: Row) -> list[str] | None:
    """The splits a create or an update names: ``split``, else ``metadata.dataset_split``."""
    split = split_names(row.get("split"), ["body", "split"])
    if split is not None:
        return split
    metadata = row.get("metadata")
    if isinstance(metadata, dict):
        return split_names(metadata.get(SPLIT_KEY), ["body", "metadata", SPLIT_KEY])
    return None


def with_splits(metadata: Any, splits: list[str]) -> tuple[Row, list[str]]:
    """The stored ``metadata`` and ``split`` of an example in ``splits`` (in none: in
    ``"base"``)."""
    splits = splits or list(DEFAULT_SPLITS)
    return {**(metadata or {}), SPLIT_KEY: splits}, splits


def created_splits(row: Row) -> Row:
    """An example to create with its splits settled (``"base"`` when none is named)."""
    splits = _given_splits(row) or list(DEFAULT_SPLITS)
    metadata, split = with_splits(row.get("metadata"), splits)
    return {**row, "metadata": metadata, "split": split}


def updated_splits(current: Row, changes: Row) -> Row:
    """``changes`` with the example's splits settled: those named, else the current ones
    (replacing the metadata keeps the example in its splits)."""
    given_splits = _given_splits(changes)
    splits = stored_splits(current) if given_splits is None else given_splits
    given = changes.get("metadata")
    metadata, split = with_splits(current.get("metadata") if given is None else given, splits)
    return {**changes, "metadata": metadata, "split": split}


def stored_splits(row: Row) -> list[str]:
    """The splits of a stored example (rows written before splits were kept in the
    metadata have them only in ``split``)."""
    metadata = row.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get(SPLIT_KEY), list):
        return list(metadata[SPLIT_KEY])
    split = row.get("split")
    if isinstance(split, str):
        return [split]
    return list(split) if split else list(DEFAULT_SPLITS)


def as_listed(row: Row) -> Row:
    """A stored example as the API shows it: splits in the metadata, no ``split`` key."""
    splits = stored_splits(row)
    row.pop("split", None)
    row["metadata"] = {**(row.get("metadata") or {}), SPLIT_KEY: splits}
    return row


def apply_metadata_operations(metadata: Any, operations: list[Row]) -> Row:
    """``metadata`` after the bulk operations of LangSmith's metadata route, each
    ``{"key", "operation", "values"}``: ``array_add`` adds the values missing from the
    key's list, ``array_remove`` takes them out (case of the operation name ignored)."""
    out = dict(metadata or {})
    for i, op in enumerate(operations):
        key, values = op["key"], list(op["values"])
        if key == SPLIT_KEY:
            split_names(values, ["body", "operations", i, "values"])
        current = out.get(key)
        if current is None:
            current = []
        if not isinstance(current, list):
            raise Invalid(
                f"metadata key {key!r} does not hold a list", loc=["body", "operations", i, "key"]
            )
        if op["operation"].lower() == "array_add":
            out[key] = current + [v for v in values if v not in current]
        else:
            out[key] = [v for v in current if v not in values]
    return out
