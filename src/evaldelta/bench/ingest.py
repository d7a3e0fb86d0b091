"""Concurrent ingest through ``POST /runs/multipart``, from several client processes.

Each process regenerates the experiments it sends (see ``workload``), encodes SDK-shaped
bodies (see ``payload``) and posts them one after another on its own connection; the
server answers once a request's batch is committed, so the wall time from the first body
to the last answer is the ingest time.  A 429 (the writer's queue is full) is retried after
a short pause and counted.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import httpx

from evaldelta.bench.ids import IdSpace
from evaldelta.bench.payload import encode_runs
from evaldelta.bench.records import Experiment
from evaldelta.bench.scales import Scale
from evaldelta.bench.workload import ExperimentData, generate_experiment, keys_for

REQUESTS_PER_TASK = 8


@dataclass(frozen=True)
class IngestPlan:
    """Everything a client process needs (picklable)."""

    url: str
    api_key: str
    scale: Scale
    seed: int
    ids: IdSpace
    experiments: list[Experiment]
    runs_per_request: int
    zstd_level: int | None


@dataclass(frozen=True)
class Task:
    experiment: int
    first_example: int
    stop_example: int


@dataclass
class TaskResult:
    runs: int = 0
    feedback: int = 0
    requests: int = 0
    body_bytes: int = 0
    retries: int = 0
    encode_s: float = 0.0
    post_s: float = 0.0
    request_s: list[float] = field(default_factory=list)

    def add(self, other: TaskResult) -> None:
        self.runs += other.runs
        self.feedback += other.feedback
        self.requests += other.requests
        self.body_bytes += other.body_bytes
        self.retries += other.retries
        self.encode_s += other.encode_s
        self.post_s += other.post_s
        self.request_s += other.request_s

    def request_percentile(self, q: float) -> float:
        """Seconds of the request at quantile ``q`` (0..1) of all answered requests."""
        ordered = sorted(self.request_s)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass(frozen=True)
class IngestResult:
    wall_s: float
    clients: int
    totals: TaskResult

    @property
    def feedback_rows_per_s(self) -> float:
        return self.totals.feedback / self.wall_s

    @property
    def runs_per_s(self) -> float:
        return self.totals.runs / self.wall_s


def examples_per_request(scale: Scale, runs_per_request: int) -> int:
    return max(1, runs_per_request // scale.repetitions)


def plan_tasks(scale: Scale, runs_per_request: int) -> list[Task]:
    """Work units of a few requests each, experiment by experiment (as evaluate() sends)."""
    step = examples_per_request(scale, runs_per_request) * REQUESTS_PER_TASK
    return [
        Task(s, first, min(first + step, scale.examples))
        for s in range(scale.experiments)
        for first in range(0, scale.examples, step)
    ]


# --- inside a client process -------------------------------------------------------------

_plan: IngestPlan | None = None
_client: httpx.Client | None = None
_cache: dict[int, ExperimentData] = {}


def _init(plan: IngestPlan) -> None:
    global _plan, _client
    _plan = plan
    _client = httpx.Client(
        base_url=plan.url, headers={"x-api-key": plan.api_key}, timeout=httpx.Timeout(300.0)
    )
    _experiment(0)  # the baseline, which every comparison is derived from


def _experiment(index: int) -> ExperimentData:
    assert _plan is not None
    if index not in _cache:
        if index != 0:  # keep the baseline and the experiment being sent, nothing more
            for old in [k for k in _cache if k != 0]:
                del _cache[old]
        baseline = _cache.get(0)
        _cache[index] = generate_experiment(_plan.scale, _plan.seed, index, baseline)
    return _cache[index]


def _warm() -> int:
    """Keep this worker busy for a moment, so that the next warm-up lands on another."""
    time.sleep(0.3)
    return os.getpid()


def _post(body_content: bytes, headers: dict[str, str], result: TaskResult) -> None:
    assert _client is not None
    while True:
        started = time.perf_counter()
        response = _client.post("/runs/multipart", content=body_content, headers=headers)
        elapsed = time.perf_counter() - started
        result.post_s += elapsed
        result.request_s.append(elapsed)
        if response.status_code == 429:
            result.retries += 1
            time.sleep(0.05)
            continue
        if response.status_code >= 300:
            raise RuntimeError(
                f"/runs/multipart answered {response.status_code}: {response.text[:500]}"
            )
        return


def run_task(task: Task) -> TaskResult:
    """Send the runs of one task's examples, one request per ``runs_per_request`` runs."""
    assert _plan is not None
    plan = _plan
    keys = keys_for(plan.scale)
    data = _experiment(task.experiment)
    experiment = plan.experiments[task.experiment]
    step = examples_per_request(plan.scale, plan.runs_per_request)
    result = TaskResult()
    for first in range(task.first_example, task.stop_example, step):
        started = time.perf_counter()
        examples = range(first, min(first + step, task.stop_example))
        body = encode_runs(plan.ids, keys, experiment, data, examples, zstd_level=plan.zstd_level)
        result.encode_s += time.perf_counter() - started
        _post(body.content, body.headers, result)
        result.runs += body.runs
        result.feedback += body.feedback
        result.requests += 1
        result.body_bytes += len(body.content)
    return result


# --- the driver ----------------------------------------------------------------------------


def _completed(futures: list[Future[TaskResult]]) -> Iterator[TaskResult]:
    for future in as_completed(futures):
        yield future.result()


def run_ingest(
    plan: IngestPlan,
    clients: int,
    on_progress: Callable[[TaskResult], None],
    max_feedback: int | None = None,
) -> IngestResult:
    """Send every run and its feedback (or the first tasks' up to ``max_feedback`` rows)
    from ``clients`` processes; time the whole of it.

    The processes start, import and generate the baseline before the clock starts.
    """
    tasks = plan_tasks(plan.scale, plan.runs_per_request)
    if max_feedback is not None:
        per_task = [(t.stop_example - t.first_example) * plan.scale.repetitions for t in tasks]
        rows, keep = 0, 0
        while keep < len(tasks) and rows < max_feedback:
            rows += per_task[keep] * plan.scale.keys
            keep += 1
        tasks = tasks[:keep]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        clients, mp_context=context, initializer=_init, initargs=(plan,)
    ) as pool:
        # Start every worker before timing: each runs _init once, on its first task.
        pids: set[int] = set()
        for _ in range(10):
            pids |= {f.result() for f in [pool.submit(_warm) for _ in range(clients)]}
            if len(pids) >= clients:
                break
        totals = TaskResult()
        started = time.perf_counter()
        futures = [pool.submit(run_task, task) for task in tasks]
        for result in _completed(futures):
            totals.add(result)
            on_progress(result)
        wall = time.perf_counter() - started
    return IngestResult(wall, clients, totals)
