"""The ``evaldelta bench`` command.  Cheap to import: the benchmark loads when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evaldelta.bench.options import DEFAULT_SEED, Out, RunsPerRequest, Scale, Seed, StoreUrl


def bench_command(
    scale: Scale = "S",
    out: Out = Path("results.json"),
    store: StoreUrl = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Keep the server's data here (default: a temp dir)."),
    ] = None,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent ingest client processes.")] = 4,
    repeat: Annotated[int, typer.Option(min=1, help="Timed repeats of each delta read.")] = 3,
    seed: Seed = DEFAULT_SEED,
    runs_per_request: RunsPerRequest = 50,
    zstd: Annotated[bool, typer.Option(help="Compress bodies with zstd, as the SDK does.")] = True,
    profile: Annotated[
        bool, typer.Option(help="Profile the delta query on the store file afterwards.")
    ] = True,
    ingest: Annotated[
        str,
        typer.Option(
            help="http: all runs through /runs/multipart. store: an HTTP sample, then the "
            "bulk path into the store file (for L, where HTTP alone takes too long)."
        ),
    ] = "http",
    http_sample_rows: Annotated[
        int, typer.Option(min=1, help="With --ingest store: feedback rows sent over HTTP.")
    ] = 1_000_000,
) -> None:
    """Benchmark ingest and deltas against a NumPy floor; write JSON and Markdown."""
    from rich.console import Console

    from evaldelta.bench.benchmark.runner import Options, run
    from evaldelta.bench.workload.scales import get_scale

    try:
        chosen = get_scale(scale)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--scale") from err
    if ingest not in ("http", "store"):
        raise typer.BadParameter("choose http or store", param_hint="--ingest")
    options = Options(
        scale=chosen,
        out=out,
        store=store,
        data_dir=data_dir,
        clients=clients,
        repeat=repeat,
        seed=seed,
        runs_per_request=runs_per_request,
        zstd_level=3 if zstd else None,
        profile=profile,
        ingest="store" if ingest == "store" else "http",
        http_sample_rows=http_sample_rows,
    )
    result = run(options, Console(stderr=True))
    if not result.get("answers_agree"):
        Console(stderr=True).print("[red]The server's deltas differ from the NumPy floor's.[/red]")
        raise typer.Exit(1)
