"""The two kinds of client of a load test.

A *stream client* (a thread of the driver) reads ``/runs/delta/stream`` for every key and
comparison, again and again until the deadline, and checks each answer: every key in
exactly one ``data`` event, no in-band errors, an ``end`` event, and the same examples as
the NumPy floor (the streamed experiments do not change during the test).

An *ingest client* (a process of its own, so its encoding does not share the driver's
interpreter) writes new experiments of the same dataset through ``POST /runs/multipart``
the way ``evaluate()`` does: create the experiment, then send its runs and feedback in
SDK-shaped requests, example by example, until the deadline.  It records what the server
acknowledged, so the driver can check afterwards that exactly that is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from evaldelta.bench.harness.agreement import compare
from evaldelta.bench.harness.deltas import stream_deltas
from evaldelta.bench.harness.floor import FloorAnswer
from evaldelta.bench.harness.ingest import examples_per_request
from evaldelta.bench.workload.data import generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace, Kind
from evaldelta.bench.workload.payload import encode_runs
from evaldelta.bench.workload.records import EPOCH, Experiment
from evaldelta.bench.workload.scales import Scale

# Generous: a stream that takes longer than this is reported as a hang.
STREAM_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 120.0
MAX_ERRORS_KEPT = 20
TOO_MANY_STREAMS_WAIT_S = 1.0


@dataclass(frozen=True)
class StreamTarget:
    """What every stream client asks for."""

    url: str
    api_key: str
    dataset_id: str
    baseline: str
    comparisons: list[str]
    keys: list[str]


@dataclass(frozen=True)
class StreamSample:
    """One stream, as its client saw it; ``error`` is None for a complete, correct one."""

    started_s: float  # since the start of the load phase
    first_chunk_s: float | None
    end_s: float | None
    error: str | None = None
    refused: bool = False  # answered 429: the tenant had its limit of streams open


def _check_stream(
    target: StreamTarget, answer_keys: set[str], data_events: int, errors: list[object]
) -> str | None:
    if errors:
        return f"in-band errors: {str(errors)[:300]}"
    if data_events != len(target.keys) or answer_keys != set(target.keys):
        return f"{data_events} data events for {len(target.keys)} keys"
    return None


def stream_client(
    target: StreamTarget, floor: FloorAnswer, t0: float, deadline: float, out: list[StreamSample]
) -> None:
    """Read whole streams until ``deadline`` (``time.monotonic()``); append each to ``out``."""
    timeout = httpx.Timeout(STREAM_TIMEOUT_S, connect=30.0)
    with httpx.Client(
        base_url=target.url, headers={"x-api-key": target.api_key}, timeout=timeout
    ) as client:
        while time.monotonic() < deadline:
            started = time.monotonic() - t0
            try:
                run = stream_deltas(
                    client, target.dataset_id, target.baseline, target.comparisons, target.keys
                )
            except (httpx.HTTPError, RuntimeError) as err:
                if "answered 429" in str(err):  # the tenant's stream limit: back off, retry
                    out.append(StreamSample(started, None, None, None, refused=True))
                    time.sleep(TOO_MANY_STREAMS_WAIT_S)
                    continue
                out.append(StreamSample(started, None, None, f"{type(err).__name__}: {err}"))
                time.sleep(0.2)  # a dead server must not turn this into a busy loop
                continue
            problem = _check_stream(target, set(run.answer), run.data_events, run.errors)
            if problem is None:
                agreement = compare(run.answer, floor, target.comparisons)
                if not agreement.ok:
                    problem = f"answer differs from the floor: {agreement.examples[:3]}"
            out.append(StreamSample(started, run.first_chunk_s, run.end_s, problem))


@dataclass(frozen=True)
class IngestJob:
    """Everything an ingest client process needs (picklable)."""

    url: str
    api_key: str
    scale: Scale
    seed: int
    ids: IdSpace
    dataset_id: str
    tag: str
    first_experiment: int  # experiments first_experiment + client + k * clients are this one's
    client: int
    clients: int
    deadline_epoch_s: float  # time.time(): processes do not share a monotonic origin
    runs_per_request: int
    zstd_level: int | None


@dataclass
class IngestOutcome:
    """What one ingest client sent and what the server acknowledged."""

    requests: int = 0
    runs: int = 0
    feedback: int = 0
    retries_429: int = 0
    request_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    last_experiment: int = 0
    # session id -> (acknowledged runs, acknowledged feedback rows)
    acknowledged: dict[str, tuple[int, int]] = field(default_factory=dict)

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(text)


def _create_experiment(client: httpx.Client, job: IngestJob, experiment: Experiment) -> None:
    response = client.post(
        "/sessions",
        json={
            "id": experiment.session_id,
            "name": experiment.name,
            "reference_dataset_id": job.dataset_id,
            "start_time": (EPOCH + timedelta(hours=experiment.index)).isoformat(),
        },
    )
    response.raise_for_status()


def _post(
    client: httpx.Client, content: bytes, headers: dict[str, str], out: IngestOutcome
) -> bool:
    """Send one body until it is answered (429 means "later", as the SDK treats it)."""
    while True:
        started = time.perf_counter()
        try:
            response = client.post("/runs/multipart", content=content, headers=headers)
        except httpx.HTTPError as err:
            out.error(f"{type(err).__name__}: {err}")
            return False
        out.request_s.append(time.perf_counter() - started)
        if response.status_code == 429:
            out.retries_429 += 1
            time.sleep(0.05)
            continue
        if response.status_code >= 300:
            out.error(f"/runs/multipart answered {response.status_code}: {response.text[:300]}")
            return False
        return True


def ingest_client(job: IngestJob) -> IngestOutcome:
    """Write experiments ``first_experiment + client + k * clients`` until the deadline."""
    scale, keys = job.scale, keys_for(job.scale)
    baseline = generate_experiment(scale, job.seed, 0)
    step = examples_per_request(scale, job.runs_per_request)
    out = IngestOutcome()
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=30.0)
    with httpx.Client(base_url=job.url, headers={"x-api-key": job.api_key}, timeout=timeout) as c:
        round_ = 0
        while time.time() < job.deadline_epoch_s:
            index = job.first_experiment + job.client + round_ * job.clients
            round_ += 1
            out.last_experiment = index
            session_id = job.ids.make(Kind.SESSION, index)
            experiment = Experiment(index, f"load-{job.tag}-ingest-{index:04d}", session_id)
            try:
                _create_experiment(c, job, experiment)
            except httpx.HTTPError as err:
                out.error(f"creating {experiment.name}: {type(err).__name__}: {err}")
                time.sleep(0.2)
                continue
            data = generate_experiment(scale, job.seed, index, baseline)
            runs = feedback = 0
            for first in range(0, scale.examples, step):
                if time.time() >= job.deadline_epoch_s:
                    break
                examples = range(first, min(first + step, scale.examples))
                body = encode_runs(
                    job.ids, keys, experiment, data, examples, zstd_level=job.zstd_level
                )
                out.requests += 1
                if _post(c, body.content, body.headers, out):
                    runs += body.runs
                    feedback += body.feedback
            out.acknowledged[session_id] = (runs, feedback)
            out.runs += runs
            out.feedback += feedback
    return out
