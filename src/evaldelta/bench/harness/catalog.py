"""What exists before any run arrives: the dataset, its examples, the experiments (one
session per experiment, linked to the dataset) and the feedback configs, all over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx

from evaldelta.bench.workload.data import CATEGORIES, KeySpec
from evaldelta.bench.workload.ids import IdSpace, Kind
from evaldelta.bench.workload.records import EPOCH, Experiment
from evaldelta.bench.workload.scales import Scale

EXAMPLES_PER_REQUEST = 1_000


@dataclass(frozen=True)
class Catalog:
    dataset_id: str
    experiments: list[Experiment]
    examples_upload_s: float

    @property
    def baseline(self) -> Experiment:
        return self.experiments[0]

    @property
    def comparisons(self) -> list[Experiment]:
        return self.experiments[1:]


def _check(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )


def _feedback_config(spec: KeySpec) -> dict[str, object]:
    if spec.kind == "categorical":
        cats = [{"value": i, "label": label} for i, label in enumerate(CATEGORIES)]
        return {"type": "categorical", "categories": cats}
    if spec.kind == "likert":
        return {"type": "continuous", "min": 1, "max": 5}
    return {"type": "continuous", "min": 0, "max": 1 if spec.kind != "cost" else None}


def create_catalog(
    client: httpx.Client,
    scale: Scale,
    keys: tuple[KeySpec, ...],
    ids: IdSpace,
    on_examples: Callable[[int], None] = lambda n: None,
) -> Catalog:
    """Create everything the runs will refer to; ``on_examples`` hears upload progress."""
    dataset_id = ids.make(Kind.DATASET, 0)
    tag = f"{ids.nonce:08x}"
    _check(client.post("/datasets", json={"id": dataset_id, "name": f"bench-{scale.name}-{tag}"}))
    started = time.perf_counter()
    for first in range(0, scale.examples, EXAMPLES_PER_REQUEST):
        batch = range(first, min(first + EXAMPLES_PER_REQUEST, scale.examples))
        body = [
            {
                "dataset_id": dataset_id,
                "id": ids.make(Kind.EXAMPLE, i),
                "inputs": {"question": f"q{i}"},
                "outputs": {"answer": f"a{i}"},
                # Explicit, increasing creation times: the dataset's order is the index order.
                "created_at": (EPOCH + timedelta(microseconds=i)).isoformat(),
            }
            for i in batch
        ]
        _check(client.post("/examples/bulk", json=body))
        on_examples(len(batch))
    upload_s = time.perf_counter() - started
    experiments = []
    for s in range(scale.experiments):
        session_id = ids.make(Kind.SESSION, s)
        name = f"bench-{tag}-{'baseline' if s == 0 else f'candidate-{s:02d}'}"
        _check(
            client.post(
                "/sessions",
                json={
                    "id": session_id,
                    "name": name,
                    "reference_dataset_id": dataset_id,
                    "start_time": (EPOCH + timedelta(hours=s)).isoformat(),
                    "extra": {"metadata": {"num_repetitions": scale.repetitions}},
                },
            )
        )
        experiments.append(Experiment(s, name, session_id))
    for spec in keys:
        config = {
            "feedback_key": spec.name,
            "feedback_config": _feedback_config(spec),
            "is_lower_score_better": spec.lower_is_better,
        }
        _check(client.post("/feedback-configs", json=config))
    return Catalog(dataset_id, experiments, upload_s)
