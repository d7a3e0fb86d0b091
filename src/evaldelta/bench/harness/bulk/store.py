"""The bulk path: the same runs and feedback written straight into the store file, while
the server is stopped, through the store seam (``open_store`` → ``apply_ingest``).

It goes through the same validation as ``POST /runs/multipart`` (``ingest.records``) and the
same batched writer code, minus HTTP, multipart framing and the event loop, so its rate set
against the HTTP rate shows what those cost.  It exists for scales whose HTTP ingest would
take too long here (L), and is reported under its own names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from evaldelta.bench.workload.data import ExperimentData, generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace
from evaldelta.bench.workload.records import Experiment, records
from evaldelta.bench.workload.scales import Scale
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.store import open_store
from evaldelta.store.base import IngestBatch, Store

RUNS_PER_TRANSACTION = 2_000


@dataclass
class BulkResult:
    wall_s: float = 0.0
    generate_s: float = 0.0
    validate_s: float = 0.0
    store_s: float = 0.0
    runs: int = 0
    feedback: int = 0

    @property
    def feedback_rows_per_s(self) -> float:
        return self.feedback / self.wall_s

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.wall_s


def _apply(store: Store, batch: IngestBatch) -> None:
    store.run_in_transaction(lambda: store.apply_ingest([batch]))


def load(
    store_url: str,
    tenant_id: UUID,
    scale: Scale,
    seed: int,
    ids: IdSpace,
    experiments: list[Experiment],
    on_progress: Callable[[int], None],
) -> BulkResult:
    """Write every experiment's runs and feedback, ``RUNS_PER_TRANSACTION`` at a time."""
    keys = keys_for(scale)
    step = max(1, RUNS_PER_TRANSACTION // scale.repetitions)
    result = BulkResult()
    store = open_store(store_url)
    started = time.perf_counter()
    try:
        baseline: ExperimentData | None = None
        for experiment in experiments:
            mark = time.perf_counter()
            data = generate_experiment(scale, seed, experiment.index, baseline)
            baseline = baseline or data
            result.generate_s += time.perf_counter() - mark
            for first in range(0, scale.examples, step):
                mark = time.perf_counter()
                chunk = list(
                    records(
                        ids, keys, experiment, data, range(first, min(first + step, scale.examples))
                    )
                )
                posts = [{**r.main, **r.fields} for r in chunk]
                raw_feedback = [f for r in chunk for f in r.feedback]
                result.generate_s += time.perf_counter() - mark
                mark = time.perf_counter()
                batch = IngestBatch(
                    tenant_id,
                    run_ops=run_ops("post", posts, loc=["body", "post"]),
                    feedback=feedback_rows(raw_feedback, loc=["body", "feedback"]),
                )
                result.validate_s += time.perf_counter() - mark
                mark = time.perf_counter()
                _apply(store, batch)
                result.store_s += time.perf_counter() - mark
                result.runs += len(posts)
                result.feedback += len(raw_feedback)
                on_progress(len(raw_feedback))
    finally:
        store.close()
    result.wall_s = time.perf_counter() - started
    return result
