"""Server CPU per ingested row, parse and store apart, in one process (no HTTP).

``python -m evaldelta.bench.benchmark.ingest_cpu`` encodes SDK-shaped ``/runs/multipart`` bodies
once (``payload``), then times, with ``time.process_time`` (DuckDB's threads included),
what the server does with them: decoding, splitting and validating each body
(``routes.runs.multipart_batch``), then applying them to a fresh DuckDB store four
requests per transaction, as the writer groups four concurrent clients.  ``--traces``
sends runs without feedback (see ``traces``) instead; ``--profile FILE`` writes a cProfile
of one phase.  To compare two versions of the code, run it on each in turn, alternating,
on the same machine: absolute figures move with the machine's load.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from evaldelta.bench.workload.data import generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace, Kind
from evaldelta.bench.workload.payload import Body, encode_runs, encode_traces
from evaldelta.bench.workload.records import Experiment
from evaldelta.bench.workload.scales import SCALES
from evaldelta.ingest.multipart import decode_body
from evaldelta.ingest.writer import GC_THRESHOLDS
from evaldelta.server.routes.runs import multipart_batch
from evaldelta.store import open_store
from evaldelta.store.base import IngestBatch

T = TypeVar("T")
RUNS_PER_REQUEST = 50
REQUESTS_PER_TRANSACTION = 4


def feedback_bodies(count: int) -> list[Body]:
    """``count`` bodies of 50 target runs with 20 feedback rows each (scale M's keys)."""
    scale, ids = SCALES["M"], IdSpace(0x1D5)
    keys = keys_for(scale)
    baseline = generate_experiment(scale, 7, 0)
    bodies: list[Body] = []
    for index in range(1, scale.experiments):
        data = generate_experiment(scale, 7, index, baseline)
        experiment = Experiment(index, f"cpu-{index}", ids.make(Kind.SESSION, index))
        for first in range(0, scale.examples, RUNS_PER_REQUEST):
            if len(bodies) == count:
                return bodies
            examples = range(first, first + RUNS_PER_REQUEST)
            bodies.append(encode_runs(ids, keys, experiment, data, examples, zstd_level=3))
    return bodies


def trace_bodies(count: int) -> list[Body]:
    """``count`` bodies of runs only: each 25 traces' posts, then their patches."""
    ids, step = IdSpace(0x7AC), RUNS_PER_REQUEST // 2
    bodies: list[Body] = []
    for first in range(0, count // 2 * step, step):
        bodies += encode_traces(ids, "cpu-traces", first, first + step, 10_000, zstd_level=3)
    return bodies


def _timed(fn: Callable[[], T], profile: cProfile.Profile | None) -> tuple[T, float]:
    started = time.process_time()
    if profile is not None:
        profile.enable()
    try:
        return fn(), time.process_time() - started
    finally:
        if profile is not None:
            profile.disable()


def measure(bodies: list[Body], profile_phase: str | None = None, out: Path | None = None) -> str:
    """Parse and apply ``bodies``; a line of CPU per feedback row and per run."""
    gc.set_threshold(*GC_THRESHOLDS)  # as the server sets them
    profile = cProfile.Profile() if profile_phase else None
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"duckdb:///{tmp}/cpu.duckdb")
        try:
            tenant = store.run_in_transaction(lambda: store.write_tenant("cpu"))

            def parse() -> list[IngestBatch]:
                return [
                    multipart_batch(
                        tenant,
                        decode_body(
                            b.content, b.headers.get("Content-Encoding"), max_decoded_bytes=2**30
                        ),
                        b.headers["Content-Type"],
                    )
                    for b in bodies
                ]

            def apply() -> None:
                for i in range(0, len(batches), REQUESTS_PER_TRANSACTION):
                    group = batches[i : i + REQUESTS_PER_TRANSACTION]
                    store.run_in_transaction(partial(store.apply_ingest, group))

            batches, parse_s = _timed(parse, profile if profile_phase == "parse" else None)
            _, store_s = _timed(apply, profile if profile_phase == "store" else None)
        finally:
            store.close()
    if profile is not None and out is not None:
        profile.dump_stats(out)
    rows = sum(b.feedback for b in bodies)
    runs = sum(b.runs for b in bodies)
    line = f"{len(bodies)} bodies, {runs:,} runs, {rows:,} feedback rows: "
    line += f"parse {parse_s:.2f} s, store {store_s:.2f} s CPU"
    if rows:
        line += f"; per feedback row parse {1e6 * parse_s / rows:.1f} µs"
        line += f", store {1e6 * store_s / rows:.1f} µs"
    return line + f"; {runs / (parse_s + store_s):,.0f} runs per CPU second"


def main() -> None:
    """The command line: see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=120)
    parser.add_argument("--traces", action="store_true", help="runs only, no feedback")
    parser.add_argument("--profile", type=Path, help="write a cProfile of --phase here")
    parser.add_argument("--phase", choices=("parse", "store"), default="store")
    args = parser.parse_args()
    bodies = (trace_bodies if args.traces else feedback_bodies)(args.bodies)
    print(measure(bodies, args.phase if args.profile else None, args.profile))


if __name__ == "__main__":
    main()
