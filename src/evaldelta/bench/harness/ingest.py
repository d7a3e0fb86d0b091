"""Concurrent ingest through ``POST /runs/multipart``, from several client processes.

Each process takes a fixed share of the work, regenerates the experiments it sends (see
``workload``) and encodes its SDK-shaped bodies (see ``payload``) before the clock starts:
on a two-core machine the clients' encoding would otherwise take a third of the CPU the
server is being measured on (real clients run elsewhere).  Then, all at once, each posts
its bodies one after another on its own connection; the server answers once a request's
batch is committed, so the wall time from the first body to the last answer is the ingest
time.  A 429 (the writer's queue is full) is retried after a short pause and counted.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from evaldelta.bench.workload.data import ExperimentData, generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace
from evaldelta.bench.workload.payload import Body, encode_runs, encode_traces
from evaldelta.bench.workload.records import Experiment
from evaldelta.bench.workload.scales import Scale

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
    # Above 0: send that many traces without feedback (see ``traces``) into the
    # experiment ``traces_session`` instead of the scale's runs and feedback.
    traces: int = 0
    traces_session: str = ""


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
    finished: float = 0.0  # time.monotonic() of the last answer (one clock for all processes)

    def add(self, other: TaskResult) -> None:
        self.runs += other.runs
        self.feedback += other.feedback
        self.requests += other.requests
        self.body_bytes += other.body_bytes
        self.retries += other.retries
        self.encode_s += other.encode_s
        self.post_s += other.post_s
        self.request_s += other.request_s
        self.finished = max(self.finished, other.finished)

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


def plan_trace_tasks(plan: IngestPlan) -> list[Task]:
    """Work units of a few requests' traces each (``experiment`` is unused)."""
    step = _traces_per_request(plan) * REQUESTS_PER_TASK
    return [
        Task(-1, first, min(first + step, plan.traces)) for first in range(0, plan.traces, step)
    ]


def _traces_per_request(plan: IngestPlan) -> int:
    return max(1, plan.runs_per_request // 2)  # a trace is two runs


# --- inside a client process -------------------------------------------------------------

_cache: dict[int, ExperimentData] = {}


def _experiment(plan: IngestPlan, index: int) -> ExperimentData:
    if index not in _cache:
        if index != 0:  # keep the baseline and the experiment being encoded, nothing more
            for old in [k for k in _cache if k != 0]:
                del _cache[old]
        if index != 0 and 0 not in _cache:
            _cache[0] = generate_experiment(plan.scale, plan.seed, 0, None)
        _cache[index] = generate_experiment(plan.scale, plan.seed, index, _cache.get(0))
    return _cache[index]


def _encode(plan: IngestPlan, task: Task) -> list[Body]:
    """The bodies of one task's examples, one per ``runs_per_request`` runs (or its
    traces: a body of their posts, then one of their patches)."""
    if plan.traces:
        step = _traces_per_request(plan)
        return [
            body
            for first in range(task.first_example, task.stop_example, step)
            for body in encode_traces(
                plan.ids,
                plan.traces_session,
                first,
                min(first + step, task.stop_example),
                plan.scale.examples,
                zstd_level=plan.zstd_level,
            )
        ]
    keys = keys_for(plan.scale)
    data = _experiment(plan, task.experiment)
    experiment = plan.experiments[task.experiment]
    step = examples_per_request(plan.scale, plan.runs_per_request)
    return [
        encode_runs(
            plan.ids,
            keys,
            experiment,
            data,
            range(first, min(first + step, task.stop_example)),
            zstd_level=plan.zstd_level,
        )
        for first in range(task.first_example, task.stop_example, step)
    ]


def _post(client: httpx.Client, body: Body, result: TaskResult) -> None:
    while True:
        started = time.perf_counter()
        response = client.post("/runs/multipart", content=body.content, headers=body.headers)
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


def run_share(plan: IngestPlan, tasks: list[Task], start: Any, progress: Any) -> TaskResult:
    """One client process: encode every body of its tasks, wait at ``start`` (a barrier
    shared with the other clients and the driver), then post them all; each answered
    request goes to ``progress`` (a queue) as a ``TaskResult``."""
    encode = time.process_time()
    bodies = [body for task in tasks for body in _encode(plan, task)]
    encoded = time.process_time() - encode
    _cache.clear()
    progress.put(("encoded", sum(b.feedback for b in bodies)))
    start.wait()
    total = TaskResult(encode_s=encoded)
    with httpx.Client(
        base_url=plan.url, headers={"x-api-key": plan.api_key}, timeout=httpx.Timeout(300.0)
    ) as client:
        for body in bodies:
            one = TaskResult(runs=body.runs, feedback=body.feedback, requests=1)
            one.body_bytes = len(body.content)
            _post(client, body, one)
            progress.put(("sent", one))
            total.add(one)
    total.finished = time.monotonic()
    return total


# --- the driver ----------------------------------------------------------------------------


def run_ingest(
    plan: IngestPlan,
    clients: int,
    on_progress: Callable[[TaskResult], None],
    max_feedback: int | None = None,
    on_encoded: Callable[[int], None] | None = None,
) -> IngestResult:
    """Send every run and its feedback (or the first tasks' up to ``max_feedback`` rows)
    from ``clients`` processes; time the posting of it all.

    The processes start, import, generate and encode their bodies before the clock starts
    (``on_encoded`` hears of each client's rows once it is ready).
    """
    tasks = plan_trace_tasks(plan) if plan.traces else plan_tasks(plan.scale, plan.runs_per_request)
    if max_feedback is not None and not plan.traces:
        per_task = [(t.stop_example - t.first_example) * plan.scale.repetitions for t in tasks]
        rows, keep = 0, 0
        while keep < len(tasks) and rows < max_feedback:
            rows += per_task[keep] * plan.scale.keys
            keep += 1
        tasks = tasks[:keep]
    clients = max(1, min(clients, len(tasks)))
    shares = [tasks[i::clients] for i in range(clients)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(clients, mp_context=context) as pool:
        start = manager.Barrier(clients + 1)
        progress = manager.Queue()
        futures = [pool.submit(run_share, plan, share, start, progress) for share in shares]
        ready = 0
        while ready < clients:
            item = _next(progress, futures)
            if item is not None and item[0] == "encoded":
                ready += 1
                if on_encoded is not None:
                    on_encoded(item[1])
        start.wait()
        started = time.monotonic()
        while (item := _next(progress, futures)) is not None or not all(f.done() for f in futures):
            if item is not None:
                on_progress(item[1])
        totals = TaskResult()
        for future in futures:
            totals.add(future.result())
    return IngestResult(totals.finished - started, clients, totals)


def _next(progress: Any, futures: list[Future[TaskResult]]) -> tuple[str, Any] | None:
    """The next progress item, or None after a short wait; a client's failure is raised."""
    for future in futures:
        failure = future.exception() if future.done() else None
        if failure is not None:
            raise failure
    try:
        item: tuple[str, Any] = progress.get(timeout=0.2)
    except queue.Empty:
        return None
    return item
