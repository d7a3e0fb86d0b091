"""The ``evaldelta`` command: one typer app with a module per command."""

from __future__ import annotations

import typer

from evaldelta.bench.command import bench_command
from evaldelta.bench.load.command import load_command
from evaldelta.cli import ci, compare, demo, keys, serve

app = typer.Typer(
    help="evaldelta: an evaluation store that speaks the LangSmith API.", no_args_is_help=True
)
app.command()(serve.serve)
app.add_typer(keys.app, name="keys")
app.command()(compare.compare)
app.command()(compare.gate)
app.command()(ci.ci)
app.command()(demo.demo)
# Both command modules import only typer: the benchmark and the load test load when run.
app.command("bench")(bench_command)
app.command("load")(load_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
