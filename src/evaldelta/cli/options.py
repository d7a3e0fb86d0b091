"""The options ``compare`` and ``gate`` take for coverage, export and CI (docs/ci.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from evaldelta.cli.common import err

# Help texts avoid square brackets: typer renders help as rich markup, which eats them.
ExportCsv = Annotated[
    Path | None,
    typer.Option(
        "--csv",
        metavar="FILE",
        help="Write one row per key, experiment and example (both means, the bucket) as CSV.",
    ),
]
ExportParquet = Annotated[
    Path | None,
    typer.Option("--parquet", metavar="FILE", help="The same rows as --csv, as Parquet."),
]
ExportJsonl = Annotated[
    Path | None,
    typer.Option("--jsonl", metavar="FILE", help="The same rows as --csv, as JSON lines."),
]
FailOnMissing = Annotated[
    bool,
    typer.Option(
        "--fail-on-missing",
        help="Fail when an example is scored in one experiment but not the other.",
    ),
]
FailOnErrors = Annotated[
    bool,
    typer.Option(
        "--fail-on-errors",
        help="Fail when an evaluation of a compared experiment errored or left no score.",
    ),
]
BaselineFrom = Annotated[
    str | None,
    typer.Option(
        "--baseline-from",
        metavar="BRANCH",
        help="Baseline: the newest experiment on the dataset whose metadata says it ran "
        "on BRANCH (instead of --baseline).",
    ),
]
JunitFile = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        metavar="FILE",
        help="Write a JUnit XML report: one test case per key and experiment.",
    ),
]


def cannot_write(exc: OSError) -> typer.Exit:
    """A report file that cannot be written is a broken setup (exit 2), never taken for a
    failed gate (exit 1)."""
    err.print(Text(f"cannot write {exc.filename or ''}: {exc.strerror or exc}", style="red"))
    return typer.Exit(2)
