"""One target run and its feedback as the SDK describes them, as plain JSON-ready dicts.

``main`` is what the SDK puts in the ``post.<id>`` part (a merged post: ``session_name``,
``reference_example_id``, ``trace_id``, ``dotted_order``, ``start_time`` and ``end_time``),
``fields`` the big fields it sends as ``post.<id>.<field>`` parts, ``feedback`` the full
feedback dumps (nulls kept) it sends as ``feedback.<id>`` parts.  Ids follow
:mod:`evaldelta.bench.workload.ids`; timestamps are ISO 8601 with ``+00:00``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evaldelta.bench.workload.data import CATEGORIES, ExperimentData, KeySpec
from evaldelta.bench.workload.ids import IdSpace, Kind

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FEEDBACK_PER_RUN = 1_000  # feedback index = run index * 1000 + key index

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """What a client needs to know about one experiment to send its runs."""

    index: int
    name: str
    session_id: str


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    main: JsonDict
    fields: JsonDict
    feedback: list[JsonDict]


def _iso(t: datetime) -> str:
    return t.isoformat()


def _score(spec: KeySpec, value: float) -> float | int | bool | None:
    if value != value:  # NaN: no score
        return None
    match spec.kind:
        case "boolean":
            return bool(value)
        case "binary" | "likert":
            return int(value)
        case _:
            return float(value)


def _feedback(
    ids: IdSpace,
    spec: KeySpec,
    index: int,
    run_id: str,
    session_id: str,
    score: float,
    category: int,
    start: str,
    end: str,
) -> JsonDict:
    value = _score(spec, score)
    failed = value is None and spec.kind != "categorical"
    return {
        "id": ids.make(Kind.FEEDBACK, index),
        "created_at": end,
        "modified_at": end,
        "run_id": run_id,
        "trace_id": run_id,
        "key": spec.name,
        "score": value,
        "value": CATEGORIES[category] if spec.kind == "categorical" else None,
        "comment": "TimeoutError('evaluator timed out')" if failed else None,
        "correction": None,
        "feedback_source": {
            "type": "model",
            "metadata": {"__run": {"run_id": ids.make(Kind.EVALUATOR_RUN, index)}},
            "user_id": None,
            "user_name": None,
        },
        "session_id": session_id,
        "start_time": start,
        "comparative_experiment_id": None,
        "feedback_group_id": None,
        "extra": {"error": True} if failed else None,
        "feedback_config": None,
        "error": True if failed else None,
    }


def run_record(
    ids: IdSpace,
    keys: tuple[KeySpec, ...],
    experiment: Experiment,
    data: ExperimentData,
    example: int,
    repetition: int,
) -> RunRecord:
    """One target run (one repetition of one example) and its feedback."""
    examples, reps = data.latency_ms.shape
    run_index = (experiment.index * examples + example) * reps + repetition
    run_id = ids.make(Kind.RUN, run_index)
    offset = timedelta(hours=experiment.index, milliseconds=50 * (example * reps + repetition))
    start_t = EPOCH + offset
    end_t = start_t + timedelta(milliseconds=int(data.latency_ms[example, repetition]))
    start, end = _iso(start_t), _iso(end_t)
    main = {
        "id": run_id,
        "start_time": start,
        "end_time": end,
        "reference_example_id": ids.make(Kind.EXAMPLE, example),
        "tags": [],
        "dotted_order": f"{start_t:%Y%m%dT%H%M%S%f}Z{run_id}",
        "trace_id": run_id,
        "session_name": experiment.name,
        "name": "Target",
        "run_type": "chain",
    }
    fields = {
        "inputs": {"question": f"q{example}"},
        "outputs": {"answer": f"a{example}-{experiment.index}"},
        "events": [],
        "extra": {
            "metadata": {
                "__ls_runner": "py_sdk_evaluate",
                "num_repetitions": reps,
                "ls_method": "traceable",
                "example_version": _iso(EPOCH),
            },
            "runtime": {"sdk": "langsmith-py", "sdk_version": "0.15.0", "runtime": "python"},
        },
    }
    category = int(data.categories[example, repetition])
    feedback = [
        _feedback(
            ids,
            spec,
            run_index * FEEDBACK_PER_RUN + k,
            run_id,
            experiment.session_id,
            float(data.scores[k, example, repetition]),
            category,
            start,
            end,
        )
        for k, spec in enumerate(keys)
    ]
    return RunRecord(run_id, main, fields, feedback)


def records(
    ids: IdSpace,
    keys: tuple[KeySpec, ...],
    experiment: Experiment,
    data: ExperimentData,
    examples: range,
) -> Iterator[RunRecord]:
    """Every repetition of the given examples of one experiment."""
    for example in examples:
        for repetition in range(data.latency_ms.shape[1]):
            yield run_record(ids, keys, experiment, data, example, repetition)
