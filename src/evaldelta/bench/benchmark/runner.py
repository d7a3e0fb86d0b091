"""One benchmark run, start to finish: generate, serve, load over HTTP (and optionally the
bulk path), time the deltas against the NumPy floor, measure memory and disk, profile,
write the results."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evaldelta.bench.benchmark import machine, report
from evaldelta.bench.benchmark.timing import measure_deltas
from evaldelta.bench.harness.catalog import Catalog, create_catalog
from evaldelta.bench.harness.floor import floor_data
from evaldelta.bench.harness.ingest import IngestPlan, TaskResult, run_ingest
from evaldelta.bench.harness.server import ServerProcess, start_server, store_bytes, store_path
from evaldelta.bench.workload.data import Workload, generate
from evaldelta.bench.workload.ids import IdSpace
from evaldelta.bench.workload.scales import Scale
from evaldelta.settings import Settings

# Traces (a root and a child run each) sent by the runs-only measurement, at most.
RUNS_ONLY_TRACES = 20_000


@dataclass(frozen=True)
class Options:
    scale: Scale
    out: Path
    store: str | None = None
    data_dir: Path | None = None
    clients: int = 4
    repeat: int = 3
    seed: int = 20260105
    runs_per_request: int = 50
    zstd_level: int | None = 3
    profile: bool = True
    # "http": everything through /runs/multipart; "store": an HTTP sample of
    # ``http_sample_rows`` feedback rows, then everything through the bulk path.
    ingest: Literal["http", "store"] = "http"
    http_sample_rows: int = 1_000_000


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key}, timeout=3600)


def _header(options: Options) -> dict[str, Any]:
    scale = options.scale
    return {
        "scale": scale.name,
        "examples": scale.examples,
        "experiments": scale.experiments,
        "keys": scale.keys,
        "repetitions": scale.repetitions,
        "runs": scale.runs,
        "feedback_rows": scale.feedback_rows,
        "seed": options.seed,
        "clients": options.clients,
        "runs_per_request": options.runs_per_request,
        "zstd": options.zstd_level is not None,
        "repeat": options.repeat,
        "ingest_path": options.ingest,
        "machine": machine.describe(),
        "load_average_start": machine.load_average(),
    }


class _Run:
    """The state of one benchmark run, phase by phase."""

    def __init__(self, options: Options, console: Console, progress: Progress) -> None:
        self.options = options
        self.console = console
        self.progress = progress
        self.work = Path(tempfile.mkdtemp(prefix="evaldelta-bench-"))
        self.data_dir = options.data_dir or self.work / "data"
        self.ids = IdSpace(secrets.randbits(32))
        self.result = _header(options)

    def start(self) -> ServerProcess:
        return start_server(self.data_dir, self.options.store, self.work / "server.log")

    def http_ingest(self, server: ServerProcess, catalog: Catalog) -> None:
        options, scale = self.options, self.options.scale
        limit = options.http_sample_rows if options.ingest == "store" else None
        total = min(limit or scale.feedback_rows, scale.feedback_rows)
        encoding = self.progress.add_task("encode bodies before timing (rows)", total=total)
        task = self.progress.add_task("ingest over HTTP (rows)", total=total)
        plan = IngestPlan(
            server.url,
            server.api_key,
            scale,
            options.seed,
            self.ids,
            catalog.experiments,
            options.runs_per_request,
            options.zstd_level,
        )
        sent = TaskResult()
        # When posting began (the last client to finish encoding), and the last log line.
        started, last_note = [time.perf_counter()], [time.perf_counter()]

        def encoded(rows: int) -> None:
            self.progress.advance(encoding, rows)
            started[0] = last_note[0] = time.perf_counter()

        def advance(done: TaskResult) -> None:
            self.progress.advance(task, done.feedback)
            sent.add(done)
            now = time.perf_counter()
            if not self.console.is_terminal and now - last_note[0] >= 30:  # logs, CI
                last_note[0] = now
                rate = sent.feedback / (now - started[0])
                self.console.log(f"ingest: {sent.feedback:,} feedback rows, {rate:,.0f}/s")

        ingested = run_ingest(plan, options.clients, advance, limit, encoded)
        totals = ingested.totals
        self.result |= {
            "ingest_s": ingested.wall_s,
            "ingest_feedback_rows": totals.feedback,
            "ingest_feedback_rows_per_s": ingested.feedback_rows_per_s,
            "ingest_runs_per_s": ingested.runs_per_s,
            "ingest_requests": totals.requests,
            "ingest_body_mib": totals.body_bytes / 2**20,
            "ingest_retries_429": totals.retries,
            "ingest_request_p50_s": totals.request_percentile(0.5),
            "ingest_request_p99_s": totals.request_percentile(0.99),
            "ingest_request_max_s": totals.request_percentile(1.0),
            "ingest_client_encode_cpu_s": totals.encode_s,
            "server_peak_rss_ingest_mib": server.peak_rss_mib(),
            "server_rss_after_ingest_mib": server.rss_mib(),
            "disk_bytes_after_ingest": store_bytes(self.data_dir, options.store),
            "load_average_after_ingest": machine.load_average(),
        }

    def runs_only_ingest(self) -> None:
        """Traces without feedback (root and child runs, posted then patched), timed on
        their own: the workload the runs/s target describes.  On a fresh server and store
        of their own, so they change none of the other measurements (disk, memory)."""
        store = self.options.store
        scheme = (store or "duckdb").partition("://")[0]
        if scheme == "duckdb":
            store = None if store is None else f"duckdb:///{self.work / 'runs-only.duckdb'}"
        elif scheme == "chdb":
            store = f"chdb://{self.work / 'runs-only-chdb'}"
        else:
            return  # a ClickHouse server: no second database to write into
        server = start_server(self.work / "runs-only-data", store, self.work / "runs-only.log")
        try:
            self._runs_only(server)
        finally:
            server.stop()

    def _runs_only(self, server: ServerProcess) -> None:
        options, scale = self.options, self.options.scale
        count = min(scale.runs, RUNS_ONLY_TRACES)
        task = self.progress.add_task("runs only over HTTP (runs)", total=2 * count)
        plan = IngestPlan(
            server.url,
            server.api_key,
            scale,
            options.seed,
            self.ids,
            [],
            options.runs_per_request,
            options.zstd_level,
            traces=count,
            traces_session=f"bench-runs-only-{self.ids.nonce & 0xFFFFFFFF:08x}",
        )
        done = run_ingest(plan, options.clients, lambda t: self.progress.advance(task, t.runs))
        self.result |= {
            "ingest_runs_only_s": done.wall_s,
            "ingest_runs_only_runs": done.totals.runs,
            "ingest_runs_only_runs_per_s": done.runs_per_s,
            "ingest_runs_only_requests": done.totals.requests,
            "ingest_runs_only_request_p50_s": done.totals.request_percentile(0.5),
            "ingest_runs_only_request_p99_s": done.totals.request_percentile(0.99),
        }

    def bulk_ingest(self, tenant_id: UUID, catalog: Catalog) -> None:
        options, scale = self.options, self.options.scale
        url = Settings(data_dir=self.data_dir, store=options.store).store_url()
        if url.partition("://")[0] in ("chdb", "clickhouse", "clickhouses"):
            from evaldelta.bench.harness.bulk.clickhouse import load
        else:
            from evaldelta.bench.harness.bulk.store import load
        task = self.progress.add_task("bulk path (rows)", total=scale.feedback_rows)
        done = load(
            url,
            tenant_id,
            scale,
            options.seed,
            self.ids,
            catalog.experiments,
            lambda n: self.progress.advance(task, n),
        )
        self.result |= {
            "bulk_ingest_s": done.wall_s,
            "bulk_feedback_rows_per_s": done.feedback_rows_per_s,
            "bulk_runs_per_s": done.runs_per_s,
            "bulk_generate_s": done.generate_s,
            "bulk_validate_s": done.validate_s,
            "bulk_store_s": done.store_s,
        }

    def profile(self, catalog: Catalog, workload: Workload) -> None:
        store = self.options.store or ""
        if self.options.profile and store.startswith("chdb://"):
            from evaldelta.bench.benchmark.profile.clickhouse import profile_bench

            task = self.progress.add_task("profiling the delta query", total=1)
            self.result["profile"] = profile_bench(store, catalog, workload, self.options.out)
            self.progress.update(task, completed=1)
            return
        path = store_path(self.data_dir, self.options.store)
        if not self.options.profile or path is None:
            return
        task = self.progress.add_task("profiling the delta query", total=1)
        self.result["profile"] = _profile(path, catalog, workload, self.options.out)
        self.progress.update(task, completed=1)


def run(options: Options, console: Console) -> dict[str, Any]:
    """Run the whole benchmark; return the result (also written to ``options.out``)."""
    scale = options.scale
    started = time.perf_counter()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with _progress(console) as progress:
        state = _Run(options, console, progress)
        result = state.result
        task = progress.add_task("generating the workload", total=1)
        workload = generate(scale, options.seed)
        floor = floor_data(workload)
        progress.update(task, completed=1)

        server = state.start()
        try:
            client = _client(server)
            task = progress.add_task("dataset and examples", total=scale.examples)
            catalog = create_catalog(
                client, scale, workload.keys, state.ids, lambda n: progress.advance(task, n)
            )
            result["examples_upload_s"] = catalog.examples_upload_s
            state.http_ingest(server, catalog)
            if options.ingest == "store":
                session = client.get(f"/sessions/{catalog.baseline.session_id}").json()
                client.close()
                server.stop()
                state.bulk_ingest(UUID(session["tenant_id"]), catalog)
                server = state.start()
                client = _client(server)
            result["server_peak_rss_reset"] = server.reset_peak()
            task = progress.add_task("deltas vs NumPy floor", total=2 * options.repeat + 3)
            result |= measure_deltas(
                client, catalog, floor, options.repeat, lambda: progress.advance(task)
            )
            result["server_peak_rss_deltas_mib"] = server.peak_rss_mib()
            client.close()
        finally:
            server.stop()
        result["load_average_end"] = machine.load_average()
        result["server_peak_rss_mib"] = max(
            result.get("server_peak_rss_ingest_mib", 0.0),
            result.get("server_peak_rss_deltas_mib", 0.0),
        )
        size = store_bytes(state.data_dir, options.store)
        result["disk_bytes"] = size
        if size is not None:
            per_million = size / 2**20 / (scale.feedback_rows / 1e6)
            result["disk_mib_per_million_feedback_rows"] = per_million
        state.runs_only_ingest()
        state.profile(catalog, workload)
    result["total_wall_s"] = time.perf_counter() - started
    md = report.write(result, options.out)
    shutil.rmtree(state.work, ignore_errors=True)  # the data too, unless --data-dir
    console.print(f"Wrote {options.out} and {md}")
    return result


def _profile(path: Path, catalog: Catalog, workload: Workload, out: Path) -> dict[str, Any]:
    from evaldelta.bench.benchmark.profile.duckdb import profile_store

    keys = [k.name for k in workload.keys]
    lower = [k.name for k in workload.keys if k.lower_is_better]
    try:
        found = profile_store(
            path,
            catalog.dataset_id,
            catalog.baseline.session_id,
            [e.session_id for e in catalog.comparisons],
            keys,
            lower,
            keys[0],
        )
    except Exception as err:  # the store's internals may move; the benchmark still reports
        return {"error": f"{type(err).__name__}: {err}"}
    plan = out.with_suffix(".explain.txt")
    plan.write_text(found.explain_analyze)
    return {
        "explained_key": found.key,
        "explain_analyze_file": plan.name,
        "sql_to_arrow_all_keys_s": found.sql_all_keys_s,
        "engine_delta_all_keys_s": found.engine_all_keys_s,
        "kept_means_delta_all_keys_s": found.kept_all_keys_s,
        "sql_to_arrow_s": found.sql_to_arrow_s,
        "engine_delta_s": found.engine_delta_s,
        "top_operators": [{"operator": n, "s": s} for n, s in found.top_operators],
    }
