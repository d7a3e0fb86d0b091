"""The load test: many concurrent delta streams and SDK-shaped ingest against one server,
for a fixed time, on loopback.

It reports throughput, latency percentiles and the server's memory over the run, and
counts as an error anything a user would notice: a failed or hung request, a stream that
misses a key or its ``end``, a streamed answer that differs from the NumPy floor, or an
acknowledged write that is not stored exactly once afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from evaldelta.bench.benchmark import machine, report
from evaldelta.bench.harness.floor import floor_data, floor_deltas
from evaldelta.bench.harness.server import ServerProcess, start_server
from evaldelta.bench.load import report as load_report
from evaldelta.bench.load.clients import (
    IngestJob,
    IngestOutcome,
    StreamSample,
    StreamTarget,
    ingest_client,
    stream_client,
)
from evaldelta.bench.load.data import Loaded, load_data, read_manifest, write_manifest
from evaldelta.bench.load.server import RssSampler, server_environment, verify_stored
from evaldelta.bench.workload.data import generate
from evaldelta.bench.workload.scales import Scale


@dataclass(frozen=True)
class LoadOptions:
    """One load test: the data's scale, how long, how many streams and ingest clients."""

    scale: Scale
    seconds: float
    out: Path
    streams: int = 20
    ingest_clients: int = 2
    store: str | None = None
    data_dir: Path | None = None
    seed: int = 20260105
    runs_per_request: int = 50
    zstd_level: int | None = 3
    # The server's per-tenant limit of open delta streams; None: as many as ``streams``.
    max_streams_per_tenant: int | None = None


def _ready() -> int:
    time.sleep(0.3)  # keep this worker busy so the next one starts too
    return os.getpid()


def _prepare(options: LoadOptions, data_dir: Path, console: Console) -> Loaded:
    found = read_manifest(data_dir, options.scale, options.seed)
    if found is not None:
        console.log(f"reusing the {found.scale} data in {data_dir}")
        return found
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"{data_dir} holds other data; give an empty dir or a load test's")
    return load_data(
        data_dir, options.store, options.scale, options.seed, secrets.randbits(32), console
    )


def _phase(
    options: LoadOptions, server: ServerProcess, loaded: Loaded
) -> tuple[list[StreamSample], list[IngestOutcome], RssSampler, float]:
    """Run the streams and the ingest clients for ``options.seconds``; wait for them all."""
    scale = options.scale
    workload = generate(scale, options.seed)
    floor = floor_deltas(floor_data(workload))
    target = StreamTarget(
        server.url,
        server.api_key,
        loaded.dataset_id,
        loaded.session_ids[0],
        loaded.session_ids[1:],
        [k.name for k in workload.keys],
    )
    context = multiprocessing.get_context("spawn")
    clients = options.ingest_clients
    with ProcessPoolExecutor(clients, mp_context=context) as pool:
        pids: set[int] = set()
        for _ in range(10):  # start (spawn, import) every client before the clock starts
            pids |= {f.result() for f in [pool.submit(_ready) for _ in range(clients)]}
            if len(pids) >= clients:
                break
        t0 = time.monotonic()
        sampler = RssSampler(server, t0)
        sampler.start()
        deadline_epoch = time.time() + options.seconds
        futures = [
            pool.submit(
                ingest_client,
                IngestJob(
                    server.url,
                    server.api_key,
                    scale,
                    options.seed,
                    loaded.ids,
                    loaded.dataset_id,
                    f"{loaded.nonce:08x}",
                    loaded.next_experiment,
                    c,
                    clients,
                    deadline_epoch,
                    options.runs_per_request,
                    options.zstd_level,
                ),
            )
            for c in range(clients)
        ]
        samples: list[StreamSample] = []
        deadline = t0 + options.seconds
        threads = [
            threading.Thread(target=stream_client, args=(target, floor, t0, deadline, samples))
            for _ in range(options.streams)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = [f.result() for f in futures]
    elapsed = time.monotonic() - t0
    sampler.halt.set()
    sampler.join()
    return samples, outcomes, sampler, elapsed


def run_load(options: LoadOptions, console: Console) -> dict[str, Any]:
    """Prepare (or reuse) the data, run the load, verify, write JSON and Markdown."""
    scale = options.scale
    work = Path(tempfile.mkdtemp(prefix="evaldelta-load-"))
    data_dir = options.data_dir or work / "data"
    try:
        loaded = _prepare(options, data_dir, console)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    result: dict[str, Any] = {
        "scale": scale.name,
        "examples": scale.examples,
        "experiments": scale.experiments,
        "keys": scale.keys,
        "comparisons": scale.comparisons,
        "feedback_rows": scale.feedback_rows,
        "seconds": options.seconds,
        "streams": options.streams,
        "ingest_clients": options.ingest_clients,
        "runs_per_request": options.runs_per_request,
        "zstd": options.zstd_level is not None,
        "store_kind": (options.store or "duckdb").partition(":")[0],
        "load_path": loaded.load_path,
        "load_s": loaded.load_s,
        "machine": machine.describe(),
        "load_average_start": machine.load_average(),
    }
    # All streams are one tenant's: by default its limit is raised so they all run at once.
    limit = options.max_streams_per_tenant or options.streams
    result["max_streams_per_tenant"] = limit
    with server_environment(limit):
        server = start_server(data_dir, options.store, work / "server.log")
    try:
        before = server.rss_mib()
        console.log(
            f"{options.streams} streams and {options.ingest_clients} ingest clients "
            f"for {options.seconds:g} s"
        )
        samples, outcomes, sampler, elapsed = _phase(options, server, loaded)
        console.log("checking that every acknowledged write is stored once")
        problems = verify_stored(server, outcomes)
    finally:
        server.stop()
    # The next run on this data dir writes new experiments, so its counts start from zero.
    loaded.next_experiment = 1 + max(o.last_experiment for o in outcomes)
    write_manifest(data_dir, loaded)
    result["wall_s"] = elapsed
    # Streams open at the deadline run to their end, so their rate is over the whole wall.
    result |= load_report.stream_figures(samples, elapsed)
    result |= load_report.ingest_figures(outcomes, options.seconds)
    result |= load_report.rss_figures(sampler.samples, before)
    result["ingest_missing_or_extra"] = len(problems)
    result["ingest_problems"] = problems[:10]
    result["load_average_end"] = machine.load_average()
    result["ok"] = (
        result["stream_errors"] == 0
        and result["ingest_errors"] == 0
        and not problems
        and result["streams_complete"] >= options.streams
    )
    md = report.write(result, options.out, load_report.markdown)
    if result["ok"]:
        shutil.rmtree(work, ignore_errors=True)  # the data too, unless --data-dir
    else:
        console.print(f"[red]Errors; the server's log is in {work / 'server.log'}[/red]")
    console.print(f"Wrote {options.out} and {md}")
    return result
