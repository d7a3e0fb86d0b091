"""The ``evaldelta load`` command.  Cheap to import: the load test loads when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evaldelta.bench.options import DEFAULT_SEED, Out, RunsPerRequest, Scale, Seed, StoreUrl


def load_command(
    scale: Scale = "S",
    seconds: Annotated[float, typer.Option(min=1, help="How long the load lasts.")] = 60.0,
    streams: Annotated[int, typer.Option(min=1, help="Concurrent delta streams.")] = 20,
    ingest_clients: Annotated[
        int, typer.Option(min=1, help="Concurrent ingest client processes.")
    ] = 2,
    out: Out = Path("load.json"),
    store: StoreUrl = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Load the data here once and reuse it on later runs (default: a temp dir).",
        ),
    ] = None,
    seed: Seed = DEFAULT_SEED,
    runs_per_request: RunsPerRequest = 50,
    max_streams_per_tenant: Annotated[
        int | None,
        typer.Option(
            min=1, help="The server's limit of open streams per tenant (default: --streams)."
        ),
    ] = None,
) -> None:
    """Load-test a server: concurrent delta streams and ingest; exit 1 on any error."""
    from rich.console import Console

    from evaldelta.bench.load.run import LoadOptions, run_load
    from evaldelta.bench.workload.scales import get_scale

    try:
        chosen = get_scale(scale)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--scale") from err
    options = LoadOptions(
        scale=chosen,
        seconds=seconds,
        out=out,
        streams=streams,
        ingest_clients=ingest_clients,
        store=store,
        data_dir=data_dir,
        seed=seed,
        runs_per_request=runs_per_request,
        max_streams_per_tenant=max_streams_per_tenant,
    )
    console = Console(stderr=True)
    try:
        result = run_load(options, console)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--data-dir") from err
    if not result["ok"]:
        console.print("[red]The load test found errors; see the result file.[/red]")
        raise typer.Exit(1)
