"""Validating runs and feedback as clients send them, before anything is queued.

Everything a writer could trip over is checked here, so that a bad request gets a 422 with
the place of the fault and the writer only ever sees clean records.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from evaldelta.errors import Invalid
from evaldelta.models import FeedbackCreate, JsonObject, RunType
from evaldelta.store.base import Row, RunOp
from evaldelta.store.sqlrows import dump_json


class RunIn(BaseModel):
    """A run (or the part of one that a patch carries); every field optional."""

    model_config = ConfigDict(extra="ignore")

    id: UUID | None = None
    name: str | None = Field(default=None, max_length=10_000)
    run_type: RunType | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    trace_id: UUID | None = None
    dotted_order: str | None = Field(default=None, max_length=100_000)
    parent_run_id: UUID | None = None
    session_id: UUID | None = None
    session_name: str | None = Field(default=None, min_length=1, max_length=1000)
    reference_example_id: UUID | None = None
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    extra: JsonObject | None = None
    error: str | None = None
    events: list[JsonObject] | None = None
    tags: list[str] | None = None
    serialized: JsonObject | None = None
    status: str | None = Field(default=None, max_length=100)
    total_tokens: int | None = Field(default=None, ge=0)
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    first_token_time: datetime | None = None


_runs = TypeAdapter(list[RunIn])
_feedback = TypeAdapter(list[FeedbackCreate])
RUN_JSON_FIELDS = ("inputs", "outputs", "extra", "events", "serialized")
FEEDBACK_JSON_FIELDS = ("value", "correction", "feedback_source", "extra")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raise_invalid(err: ValidationError, loc_prefix: list[str | int]) -> None:
    first = err.errors()[0]
    loc = [*loc_prefix, *first["loc"]]
    raise Invalid(f"{first['msg']} at {'.'.join(map(str, loc))}", loc=loc)


def _check_storable(row: Row, names: tuple[str, ...], loc: list[str | int]) -> None:
    """422 now for JSON the store could not write (too deep, integers over 64 bits),
    rather than a failed batch in the writer."""
    for name in names:
        try:
            dump_json(row.get(name))
        except Invalid as err:
            raise Invalid(
                f"{err.message} at {'.'.join(map(str, [*loc, name]))}", loc=[*loc, name]
            ) from None


def run_ops(kind: str, raw: list[Any], *, loc: list[str | int]) -> list[RunOp]:
    """Validate a list of run dicts of one kind ("post" or "patch") into ``RunOp``s.

    Nulls are dropped: a patch's ``null`` means "not given" (the SDK always sends
    ``session_id: null`` in patches).  A post without an id gets a new one.
    """
    try:
        runs = _runs.validate_python(raw)
    except ValidationError as err:
        _raise_invalid(err, loc)
    ops = []
    for index, run in enumerate(runs):
        fields = run.model_dump(exclude_none=True)
        _check_storable(fields, RUN_JSON_FIELDS, [*loc, index])
        for name in ("start_time", "end_time", "first_token_time"):
            if name in fields:
                fields[name] = _utc(fields[name])
        if "id" not in fields:
            if kind == "patch":
                raise Invalid("a patched run needs an id", loc=[*loc, "id"])
            fields["id"] = uuid4()
        ops.append(RunOp(kind=kind, fields=fields))
    return ops


def feedback_rows(raw: list[Any], *, loc: list[str | int]) -> list[Row]:
    """Validate feedback dicts into rows ready for the store (score as a number)."""
    try:
        items = _feedback.validate_python(raw)
    except ValidationError as err:
        _raise_invalid(err, loc)
    rows = [feedback_row(item) for item in items]
    for index, row in enumerate(rows):
        _check_storable(row, FEEDBACK_JSON_FIELDS, [*loc, index])
    return rows


def score_columns(score: bool | float | None) -> Row:
    """The stored form of a score: a finite number, remembering whether it was a boolean."""
    if score is not None and not math.isfinite(score):
        raise Invalid("score must be a finite number", loc=["body", "score"])
    return {
        "score": None if score is None else float(score),
        "score_is_bool": isinstance(score, bool),
    }


def feedback_row(item: FeedbackCreate) -> Row:
    """One feedback as the store keeps it; ids and timestamps filled in."""
    stamp = datetime.now(UTC)
    row = item.model_dump(exclude={"score"})
    row.update(score_columns(item.score))
    row["id"] = item.id or uuid4()
    row["created_at"] = _utc(item.created_at) if item.created_at else stamp
    row["modified_at"] = _utc(item.modified_at) if item.modified_at else row["created_at"]
    if item.start_time:
        row["start_time"] = _utc(item.start_time)
    if item.feedback_config is not None:
        row["feedback_config"] = item.feedback_config.model_dump()
    return row
