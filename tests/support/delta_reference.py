"""A small, obviously-correct reference of the feedback-delta semantics, in plain Python.

It is deliberately naive: loops over every run and feedback row, no SQL, no cleverness.
The engine must give exactly its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass
class RefExample:
    id: UUID
    created_at: datetime


@dataclass
class RefRun:
    id: UUID
    session_id: UUID
    example_id: UUID | None
    is_root: bool
    fields: dict[str, Any] = field(default_factory=dict)  # what filters look at


@dataclass
class RefFeedback:
    run_id: UUID | None
    key: str
    score: float | bool | None
    comparative_experiment_id: UUID | None = None


def reference_delta(
    examples: list[RefExample],
    runs: list[RefRun],
    feedback: list[RefFeedback],
    baseline: UUID,
    comparisons: list[UUID],
    key: str,
    *,
    lower_is_better: bool = False,
    run_filters: dict[UUID, Callable[[RefRun], bool]] | None = None,
    comparative_experiment_id: UUID | None = None,
    window: tuple[int, int] | None = None,
) -> dict[UUID, tuple[list[UUID], list[UUID]]]:
    """Improved and regressed example ids per comparison session, in example order."""
    ordered = sorted(examples, key=lambda e: (e.created_at, e.id))
    if window is not None:
        offset, limit = window
        ordered = ordered[offset : offset + limit]
    in_scope = {e.id for e in ordered}
    filters = run_filters or {}

    def counts(run: RefRun) -> bool:
        return (
            run.is_root
            and run.example_id in in_scope
            and filters.get(run.session_id, lambda _: True)(run)
        )

    scores: dict[tuple[UUID, UUID], list[float]] = {}
    by_id = {r.id: r for r in runs}
    for fb in feedback:
        run = by_id.get(fb.run_id) if fb.run_id is not None else None
        if run is None or not counts(run) or fb.key != key or fb.score is None:
            continue
        # With a comparative experiment, its feedback alone counts; without, none of any.
        if fb.comparative_experiment_id != comparative_experiment_id:
            continue
        assert run.example_id is not None
        scores.setdefault((run.session_id, run.example_id), []).append(float(fb.score))

    def mean(session: UUID, example: UUID) -> float | None:
        values = scores.get((session, example))
        return sum(values) / len(values) if values else None

    out: dict[UUID, tuple[list[UUID], list[UUID]]] = {}
    for comparison in comparisons:
        improved: list[UUID] = []
        regressed: list[UUID] = []
        for example in ordered:
            b, c = mean(baseline, example.id), mean(comparison, example.id)
            if b is None or c is None or abs(c - b) <= 1e-9 * max(1.0, abs(b), abs(c)):
                continue
            better = c < b if lower_is_better else c > b
            (improved if better else regressed).append(example.id)
        out[comparison] = (improved, regressed)
    return out
