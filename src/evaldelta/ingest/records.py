"""Validating runs and feedback as clients send them, before anything is queued.

Everything a writer could trip over is checked here, so that a bad request gets a 422 with
the place of the fault and the writer only ever sees clean records.  A request's runs (and
its feedback) are validated by one pydantic call over the whole list into plain dicts
(``TypedDict`` schemas, checked in Rust); the Python left per record is the few fix-ups a
schema cannot express.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Required
from uuid import UUID, uuid4

import orjson
from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from evaldelta.errors import Invalid
from evaldelta.store.base import Row, RunOp
from evaldelta.store.sqlrows import dump_json

JsonObject = dict[str, Any]
Score = bool | int | float
RunType = Literal["tool", "chain", "llm", "retriever", "embedding", "prompt", "parser"]


class RunIn(TypedDict, total=False):
    """A run (or the part of one that a patch carries); every field optional."""

    id: UUID | None
    name: Annotated[str, Field(max_length=10_000)] | None
    run_type: RunType | None
    start_time: datetime | None
    end_time: datetime | None
    trace_id: UUID | None
    dotted_order: Annotated[str, Field(max_length=100_000)] | None
    parent_run_id: UUID | None
    session_id: UUID | None
    session_name: Annotated[str, Field(min_length=1, max_length=1000)] | None
    reference_example_id: UUID | None
    inputs: JsonObject | None
    outputs: JsonObject | None
    extra: JsonObject | None
    error: str | None
    events: list[JsonObject] | None
    tags: list[str] | None
    serialized: JsonObject | None
    status: Annotated[str, Field(max_length=100)] | None
    total_tokens: Annotated[int, Field(ge=0)] | None
    prompt_tokens: Annotated[int, Field(ge=0)] | None
    completion_tokens: Annotated[int, Field(ge=0)] | None
    first_token_time: datetime | None


class FeedbackConfigIn(TypedDict, total=False):
    type: Required[Literal["continuous", "categorical", "freeform"]]
    min: float | None
    max: float | None
    categories: list[JsonObject] | None


class FeedbackIn(TypedDict, total=False):
    """What ``models.FeedbackCreate`` accepts, validated into a dict."""

    id: UUID | None
    key: Required[Annotated[str, Field(min_length=1, max_length=180)]]
    score: Score | None
    value: Score | str | JsonObject | None
    comment: str | None
    correction: JsonObject | str | None
    run_id: UUID | None
    trace_id: UUID | None
    session_id: UUID | None
    start_time: datetime | None
    created_at: datetime | None
    modified_at: datetime | None
    comparative_experiment_id: UUID | None
    feedback_group_id: UUID | None
    feedback_source: JsonObject | None
    feedback_config: FeedbackConfigIn | None
    extra: JsonObject | None
    error: bool | None


_runs = TypeAdapter(list[RunIn])
_feedback = TypeAdapter(list[FeedbackIn])
RUN_JSON_FIELDS = ("inputs", "outputs", "extra", "events", "serialized")
RUN_TIMES = ("start_time", "end_time", "first_token_time")
FEEDBACK_JSON_FIELDS = ("value", "correction", "feedback_source", "extra")
_NO_FEEDBACK: Row = dict.fromkeys(FeedbackIn.__annotations__)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raise_invalid(err: ValidationError, loc_prefix: list[str | int]) -> None:
    first = err.errors(include_url=False, include_input=False)[0]
    loc = [*loc_prefix, *first["loc"]]
    raise Invalid(f"{first['msg']} at {'.'.join(map(str, loc))}", loc=loc)


def _check_storable(rows: list[Row], names: tuple[str, ...], loc: list[str | int]) -> None:
    """422 now for JSON the store could not write (too deep, integers over 64 bits),
    rather than a failed batch in the writer.

    One ``orjson.dumps`` over every value of the batch answers for all of them; only if it
    fails are the values tried one by one, to name the culprit.
    """
    values = [[row.get(name) for name in names] for row in rows]
    try:
        orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS)
        return
    except orjson.JSONEncodeError:
        pass
    for index, row in enumerate(rows):
        for name in names:
            try:
                dump_json(row.get(name))
            except Invalid as err:
                where = [*loc, index, name]
                raise Invalid(f"{err.message} at {'.'.join(map(str, where))}", loc=where) from None


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
    for run in runs:
        fields: Row = {name: value for name, value in run.items() if value is not None}
        for name in RUN_TIMES:
            if name in fields:
                fields[name] = _utc(fields[name])
        if "id" not in fields:
            if kind == "patch":
                raise Invalid("a patched run needs an id", loc=[*loc, "id"])
            fields["id"] = uuid4()
        ops.append(RunOp(kind=kind, fields=fields))
    _check_storable([op.fields for op in ops], RUN_JSON_FIELDS, loc)
    return ops


def feedback_rows(raw: list[Any], *, loc: list[str | int]) -> list[Row]:
    """Validate feedback dicts into rows ready for the store (score as a number)."""
    try:
        items = _feedback.validate_python(raw)
    except ValidationError as err:
        _raise_invalid(err, loc)
    stamp = datetime.now(UTC)
    rows = []
    every = len(_NO_FEEDBACK)
    for index, item in enumerate(items):
        # Every column present, null when not sent (the SDK sends them all, nulls too).
        row: Row = item if len(item) == every else {**_NO_FEEDBACK, **item}  # type: ignore[assignment]
        score = row["score"]
        if score is not None and not math.isfinite(score):
            raise Invalid("score must be a finite number", loc=[*loc, index, "score"])
        row["score"] = None if score is None else float(score)
        row["score_is_bool"] = score.__class__ is bool
        if row["id"] is None:
            row["id"] = uuid4()
        # Inlined ``_utc``: this loop runs once per feedback row of every request.
        created, modified, started = row["created_at"], row["modified_at"], row["start_time"]
        if created is None:
            created = stamp
        elif created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        else:
            created = created.astimezone(UTC)
        row["created_at"] = created
        row["modified_at"] = created if modified is None else _utc(modified)
        if started is not None:
            row["start_time"] = _utc(started)
        config = row["feedback_config"]
        if config is not None:  # stored with every field, as the config model dumps it
            row["feedback_config"] = {"min": None, "max": None, "categories": None, **config}
        rows.append(row)
    _check_storable(rows, FEEDBACK_JSON_FIELDS, loc)
    return rows


def score_columns(score: bool | float | None) -> Row:
    """The stored form of a score: a finite number, remembering whether it was a boolean."""
    if score is not None and not math.isfinite(score):
        raise Invalid("score must be a finite number", loc=["body", "score"])
    return {
        "score": None if score is None else float(score),
        "score_is_bool": isinstance(score, bool),
    }
