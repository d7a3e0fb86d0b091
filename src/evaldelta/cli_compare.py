"""``evaldelta compare``, ``gate`` and ``demo``: clients of a running server's HTTP API."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from evaldelta.client import ApiError, Client
from evaldelta.report import (
    Comparison,
    Thresholds,
    decide,
    gate_failures,
    markdown,
    rows_from_chunk,
    table,
)

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

Dataset = Annotated[str, typer.Option("--dataset", help="Dataset name or id.")]
Baseline = Annotated[str, typer.Option("--baseline", help="Baseline experiment, name or id.")]
Against = Annotated[
    list[str],
    typer.Option("--against", help="Experiment to compare, name or id (repeatable, up to 10)."),
]
Keys = Annotated[
    list[str] | None,
    typer.Option("--key", help="Feedback key (repeatable; default: every scored key)."),
]
Filters = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        help='Run filter for one experiment: EXPERIMENT=EXPR, e.g. base=eq(name, "Target").',
    ),
]
Endpoint = Annotated[
    str | None, typer.Option("--endpoint", help="Server URL [default: $LANGSMITH_ENDPOINT].")
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", help="API key [default: $LANGSMITH_API_KEY].")
]
Alpha = Annotated[
    float, typer.Option("--alpha", help="Significance level (Holm-adjusted across keys).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
AsMarkdown = Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")]


def _filters(
    client: Client, dataset_id: str, specs: list[str], known: dict[str, str]
) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, expr = spec.partition("=")
        if not sep or not expr.strip():
            raise typer.BadParameter(f"{spec!r}: expected EXPERIMENT=EXPR", param_hint="--filter")
        by_name = {v: k for k, v in known.items()}
        session_id = by_name.get(name) or (name if name in known else None)
        if session_id is None:
            session_id = str(client.experiment(dataset_id, name)["id"])
        filters.setdefault(session_id, []).append(expr.strip())
    return filters


def run_comparison(
    client: Client,
    dataset: str,
    baseline: str,
    against: list[str],
    keys: list[str] | None,
    filters: list[str] | None,
    alpha: float,
    live: bool,
) -> Comparison:
    """Resolve names, stream the deltas with statistics, and decide a verdict per row."""
    if not 1 <= len(against) <= 10:
        raise typer.BadParameter("give 1 to 10 experiments", param_hint="--against")
    ds = client.dataset(dataset)
    base = client.experiment(ds["id"], baseline)
    comps = [client.experiment(ds["id"], name) for name in against]
    names = {str(s["id"]): s["name"] for s in [base, *comps]}
    keys = keys or client.feedback_keys(list(names))
    if not keys:
        raise ApiError("these experiments have no scored feedback yet")
    body: dict[str, Any] = {
        "baseline_session_id": str(base["id"]),
        "comparison_session_ids": [str(c["id"]) for c in comps],
        "feedback_keys": keys,
        "include_stats": True,
        "filters": _filters(client, ds["id"], filters or [], names) or None,
    }
    result = Comparison(dataset=ds["name"], baseline=base["name"])
    done = 0

    def view() -> Group:
        decide(result.rows, alpha)
        status = Text(f"{done} of {len(keys)} keys", style="dim")
        return Group(status, table(result))

    with (
        Live(view(), console=out, refresh_per_second=8, transient=False)
        if live
        else _Quiet() as shown
    ):
        for event in client.stream_deltas(str(ds["id"]), body):
            if event.event != "data":
                continue
            result.rows += rows_from_chunk(event.data, names)
            result.errors += event.data.get("errors") or []
            done += len(event.data.get("feedback_deltas") or {}) + sum(
                len(e["feedback_keys"]) for e in event.data.get("errors") or []
            )
            if live:
                shown.update(view())
    decide(result.rows, alpha)
    return result


class _Quiet:
    """Stands in for ``Live`` when the output is not a terminal table."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: object) -> None:
        return None


def _client(endpoint: str | None, api_key: str | None) -> Client:
    try:
        return Client(endpoint, api_key)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc


def _emit(result: Comparison, as_json: bool, as_markdown: bool, live: bool) -> None:
    if as_json:
        print(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode())
    elif as_markdown:
        print(markdown(result), end="")
    elif not live:
        out.print(table(result))


def compare(
    dataset: Dataset,
    baseline: Baseline,
    against: Against,
    key: Keys = None,
    filter: Filters = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    alpha: Alpha = 0.05,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
) -> None:
    """Which examples got better, which got worse, and is it real? Streams a table."""
    client = _client(endpoint, api_key)
    live = out.is_terminal and not (as_json or as_markdown)
    try:
        result = run_comparison(client, dataset, baseline, against, key, filter, alpha, live)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        client.close()
    _emit(result, as_json, as_markdown, live)


def _per_key(values: list[str] | None, cast: type, option: str) -> dict[str | None, Any]:
    table_: dict[str | None, Any] = {}
    for value in values or []:
        key, sep, number = value.rpartition("=")
        try:
            table_[key if sep else None] = cast(number)
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r}: expected N or KEY=N", param_hint=option) from exc
    return table_


def gate(
    dataset: Dataset,
    baseline: Baseline,
    against: Against,
    key: Keys = None,
    filter: Filters = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    alpha: Alpha = 0.05,
    max_regressed: Annotated[
        list[str] | None,
        typer.Option("--max-regressed", help="Fail above N regressed examples (N or KEY=N)."),
    ] = None,
    min_mean_delta: Annotated[
        list[str] | None,
        typer.Option(
            "--min-mean-delta",
            help="Fail when the mean change, signed so positive is better, is below X "
            "(X or KEY=X; e.g. -0.02 tolerates a 0.02 drop).",
        ),
    ] = None,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
) -> None:
    """A CI gate: exit 0 when the comparison passes, 1 on a significant regression or a
    broken threshold, 2 on usage or connection errors."""
    limits = Thresholds(
        alpha=alpha,
        max_regressed=_per_key(max_regressed, int, "--max-regressed"),
        min_mean_delta=_per_key(min_mean_delta, float, "--min-mean-delta"),
    )
    client = _client(endpoint, api_key)
    try:
        result = run_comparison(client, dataset, baseline, against, key, filter, alpha, False)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        client.close()
    reasons = gate_failures(result, limits)
    _emit(result, as_json, as_markdown, live=False)
    if reasons:
        err.print("[bold red]GATE FAILED[/bold red]")
        for reason in reasons:
            err.print(f"  ✗ {reason}")
        raise typer.Exit(1)
    err.print(
        f"[bold green]GATE PASSED[/bold green]: no significant regression "
        f"(alpha {alpha}, Holm-adjusted across {len({r.key for r in result.rows})} keys)"
    )


def demo(
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    name: Annotated[
        str, typer.Option("--name", help="Name of the demo dataset.")
    ] = "evaldelta-demo",
) -> None:
    """Load a small demo dataset with three experiments into a running server."""
    client = _client(endpoint, api_key)
    try:
        loaded = load(client, name)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        client.close()
    base, *others = loaded["experiments"]
    against = " ".join(f"--against {o}" for o in others)
    names = ", ".join(loaded["experiments"])
    out.print(f"Loaded dataset [bold]{loaded['dataset']}[/bold] with experiments {names}.")
    out.print("Now try:")
    print(f"  evaldelta compare --dataset {loaded['dataset']} --baseline {base} {against}")


def load(client: Client, name: str) -> dict[str, Any]:
    from evaldelta.demo import load_demo

    with out.status("Loading the demo dataset…"):
        return load_demo(client, dataset_name=name)
