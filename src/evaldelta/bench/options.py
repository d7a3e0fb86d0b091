"""The options ``evaldelta bench`` and ``evaldelta load`` share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Scale = Annotated[str, typer.Option(help="XS, S, M, L or L3 (see docs/benchmarks.md).")]
Out = Annotated[Path, typer.Option(help="Results JSON; a Markdown table is written beside it.")]
StoreUrl = Annotated[
    str | None, typer.Option("--store", help="Store URL for the server (default: a DuckDB file).")
]
Seed = Annotated[int, typer.Option(help="Seed of the generated workload.")]
RunsPerRequest = Annotated[
    int, typer.Option(min=1, help="Target runs per /runs/multipart request.")
]
DEFAULT_SEED = 20260105
