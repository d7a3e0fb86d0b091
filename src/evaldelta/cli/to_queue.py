"""``evaldelta compare --to-queue NAME``: the runs of the examples that regressed, both
sides, into an annotation queue for a person to look at.

For each regressed example (in the order the comparison found them), the baseline's run
goes in first, then the run of each compared experiment in which the example regressed:
the two sides of a regression sit next to each other in the queue, and share their
``reference_example_id``.  A queue that does not exist yet is made, with the compared keys
as its rubric.  Sending again adds nothing twice (a run is in a queue at most once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaldelta.cli.report import Comparison
from evaldelta.client.http import Client


@dataclass(frozen=True)
class Sent:
    """What one send did."""

    queue: str
    examples: int  # regressed examples, in any compared experiment
    runs: int  # runs of both sides sent
    added: int  # of those, runs the queue did not have yet


def regressed_pairs(result: Comparison, baseline_id: str) -> list[tuple[str, list[str]]]:
    """(example, sessions) for each regressed example: the baseline, then each compared
    experiment (in the order compared) in which the example regressed."""
    order: dict[str, list[str]] = {}
    for session_id, examples in result.regressed.items():
        for example_id in examples:
            order.setdefault(example_id, [baseline_id])
            if session_id not in order[example_id]:
                order[example_id].append(session_id)
    return list(order.items())


def _instructions(result: Comparison, keys: list[str]) -> str:
    return (
        f"Examples of dataset {result.dataset} that regressed against {result.baseline} "
        f"on {', '.join(keys)}: each example's baseline run comes first, then its run in "
        "each experiment where it regressed. Score both sides."
    )


def send_to_queue(
    client: Client, name: str, result: Comparison, dataset_id: str, baseline_id: str
) -> Sent:
    """Add the runs of the comparison's regressed examples to queue ``name`` (nothing, and
    no queue made, when no example regressed)."""
    pairs = regressed_pairs(result, baseline_id)
    if not pairs:
        return Sent(queue=name, examples=0, runs=0, added=0)
    keys = sorted({row.key for row in result.rows})
    queue = client.annotation_queue(name)
    if queue is None:
        queue = client.create_annotation_queue(
            {
                "name": name,
                "description": f"Regressions of {result.dataset} against {result.baseline}",
                "default_dataset": dataset_id,
                "rubric_instructions": _instructions(result, keys),
                "rubric_items": [{"feedback_key": key} for key in keys],
            }
        )
    by_session: dict[str, list[str]] = {}
    for example_id, sessions in pairs:
        for session_id in sessions:
            by_session.setdefault(session_id, []).append(example_id)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for session_id, example_ids in by_session.items():
        for run in client.root_runs(session_id, example_ids):
            runs.setdefault((session_id, str(run["reference_example_id"])), []).append(run)
    keyed = [
        {"run_id": run["id"], "session_id": run["session_id"], "start_time": run["start_time"]}
        for example_id, sessions in pairs
        for session_id in sessions
        for run in sorted(runs.get((session_id, example_id), []), key=lambda r: r["start_time"])
    ]
    before = client.queue_size(str(queue["id"]))
    if keyed:
        client.add_runs_to_queue(str(queue["id"]), keyed)
    added = client.queue_size(str(queue["id"])) - before
    return Sent(queue=name, examples=len(pairs), runs=len(keyed), added=added)
