"""Traces without evaluator feedback, as the SDK sends ``evaluate()``'s target runs.

Each trace is a root run of one dataset example (``reference_example_id``, the
experiment's ``session_name``) with one child LLM run under it.  The SDK posts a run when
it starts (``post.<id>`` and its ``inputs``) and patches it when it ends (``patch.<id>``
with ``end_time`` and its ``outputs``), so a trace is two posts and two patches.  Ids come
from the run id space at an offset that the feedback workload's runs never reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from evaldelta.bench.workload.ids import IdSpace, Kind
from evaldelta.bench.workload.records import EPOCH, JsonDict

# Root run i is run index ROOTS + i, its child CHILDREN + i (indexes have 48 bits).
ROOTS = 1 << 44
CHILDREN = 1 << 45


@dataclass(frozen=True)
class RunParts:
    """One run's post (main object and field parts) or patch."""

    run_id: str
    main: JsonDict
    fields: JsonDict


@dataclass(frozen=True)
class Trace:
    posts: list[RunParts]
    patches: list[RunParts]


def _stamp(run_id: str, at: object) -> str:
    return f"{at:%Y%m%dT%H%M%S%f}Z{run_id}"


def trace(ids: IdSpace, session_name: str, index: int, example: int) -> Trace:
    """Trace ``index`` (a root and its child run) on dataset example ``example``."""
    root, child = ids.make(Kind.RUN, ROOTS + index), ids.make(Kind.RUN, CHILDREN + index)
    start = EPOCH + timedelta(milliseconds=20 * index)
    child_start, child_end = start + timedelta(milliseconds=5), start + timedelta(seconds=1)
    end = child_end + timedelta(milliseconds=5)
    root_order = _stamp(root, start)
    child_order = f"{root_order}.{_stamp(child, child_start)}"
    question = f"q{example}"
    posts = [
        RunParts(
            root,
            {
                "id": root,
                "name": "Target",
                "run_type": "chain",
                "start_time": start.isoformat(),
                "trace_id": root,
                "dotted_order": root_order,
                "session_name": session_name,
                "reference_example_id": ids.make(Kind.EXAMPLE, example),
                "tags": [],
            },
            {
                "inputs": {"question": question},
                "extra": {"metadata": {"ls_method": "traceable"}, "runtime": {"sdk": "bench"}},
            },
        ),
        RunParts(
            child,
            {
                "id": child,
                "name": "ChatModel",
                "run_type": "llm",
                "start_time": child_start.isoformat(),
                "trace_id": root,
                "parent_run_id": root,
                "dotted_order": child_order,
                "session_name": session_name,
                "tags": [],
            },
            {"inputs": {"messages": [{"role": "user", "content": question}]}},
        ),
    ]
    patches = [
        RunParts(
            child,
            {
                "id": child,
                "trace_id": root,
                "parent_run_id": root,
                "dotted_order": child_order,
                "end_time": child_end.isoformat(),
                "session_id": None,  # as the SDK sends it in patches
            },
            {"outputs": {"content": f"a{example}", "usage": {"total_tokens": 42}}},
        ),
        RunParts(
            root,
            {
                "id": root,
                "trace_id": root,
                "dotted_order": root_order,
                "end_time": end.isoformat(),
                "session_id": None,
            },
            {"outputs": {"answer": f"a{example}"}},
        ),
    ]
    return Trace(posts, patches)


def traces(
    ids: IdSpace, session_name: str, first: int, stop: int, examples: int
) -> Iterator[Trace]:
    """Traces ``first`` to ``stop - 1``, cycling over the dataset's examples."""
    for index in range(first, stop):
        yield trace(ids, session_name, index, index % examples)
