"""``evaldelta compare`` and ``evaldelta gate``: clients of a running server's delta stream."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from evaldelta.cli.common import ApiKey, Endpoint, client_for, err, fail, out
from evaldelta.cli.report import (
    Comparison,
    Thresholds,
    add_regressed,
    decide,
    gate_failures,
    markdown,
    rows_from_chunk,
    table,
)
from evaldelta.cli.to_queue import send_to_queue
from evaldelta.client.http import ApiError, Client

# Help texts avoid square brackets: typer renders help as rich markup, which eats them.
Dataset = Annotated[
    str, typer.Option("--dataset", metavar="NAME_OR_ID", help="Dataset name or id.")
]
Baseline = Annotated[
    str | None,
    typer.Option(
        "--baseline",
        metavar="EXPERIMENT",
        help="Baseline experiment, name or id (with --pairwise, its first by default).",
    ),
]
Against = Annotated[
    list[str] | None,
    typer.Option(
        "--against",
        metavar="EXPERIMENT",
        help="Experiment to compare, name or id (repeatable, up to 10; with --pairwise, "
        "its other experiments by default).",
    ),
]
Keys = Annotated[
    list[str] | None,
    typer.Option(
        "--key", metavar="KEY", help="Feedback key (repeatable; default: every scored key)."
    ),
]
Filters = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="EXPERIMENT=EXPR",
        help='Run filter for one experiment, e.g. base=eq(name, "Target") (repeatable).',
    ),
]
Alpha = Annotated[
    float,
    typer.Option(
        "--alpha", min=0.0, max=1.0, help="Significance level (Holm-adjusted across keys)."
    ),
]
Pairwise = Annotated[
    str | None,
    typer.Option(
        "--pairwise",
        metavar="NAME_OR_ID",
        help="Compare by a pairwise experiment's preferences (wins, ties, losses); "
        "its first experiment is the default baseline, the others the default --against.",
    ),
]
ToQueue = Annotated[
    str | None,
    typer.Option(
        "--to-queue",
        metavar="NAME",
        help="Send the runs of the regressed examples, baseline and compared side by side, "
        "to annotation queue NAME (made if missing, with the compared keys as its rubric).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
AsMarkdown = Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")]


class MissingOption(typer.BadParameter):
    """An option that is required unless --pairwise supplies it, said as typer says a
    missing required option."""

    def format_message(self) -> str:
        return f"Missing option {self.param_hint}."


def _filter_specs(specs: list[str]) -> list[tuple[str, str]]:
    """``EXPERIMENT=EXPR`` pairs, checked before anything goes over the network."""
    pairs = []
    for spec in specs:
        name, sep, expr = spec.partition("=")
        if not sep or not name.strip() or not expr.strip():
            raise typer.BadParameter(f"{spec!r}: expected EXPERIMENT=EXPR", param_hint="--filter")
        pairs.append((name.strip(), expr.strip()))
    return pairs


def _filters(
    client: Client, dataset_id: str, pairs: list[tuple[str, str]], known: dict[str, str]
) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    by_name = {v: k for k, v in known.items()}
    for name, expr in pairs:
        session_id = by_name.get(name) or (name if name in known else None)
        if session_id is None:
            session_id = str(client.experiment(dataset_id, name)["id"])
        filters.setdefault(session_id, []).append(expr)
    return filters


def _named(message: str, names: dict[str, str]) -> str:
    """The server names sessions by id; the user named them by name."""
    for session_id, name in names.items():
        message = message.replace(session_id, name)
    return message


def _pairwise_sides(
    found: dict[str, Any], baseline: str | None, against: list[str] | None
) -> tuple[str, list[str]]:
    """The baseline and the experiments to compare of a pairwise experiment: those given,
    else its first experiment against the others."""
    sides = [str(e["id"]) for e in found["experiments_info"]]
    if baseline is None:
        if not sides:
            raise ApiError(f"pairwise experiment {found['name']!r} has no experiments left")
        baseline = sides[0]
    if not against:
        against = [s for s in sides if s != baseline]
    return baseline, against


def run_comparison(
    client: Client,
    dataset: str,
    baseline: str | None,
    against: list[str] | None,
    keys: list[str] | None,
    filters: list[str] | None,
    alpha: float,
    live: bool,
    *,
    pairwise: str | None = None,
) -> Comparison:
    """Resolve names, stream the deltas with statistics, and decide a verdict per row.
    With ``pairwise``, only that pairwise experiment's feedback counts (docs/pairwise.md)."""
    ds = client.dataset(dataset)
    found = client.comparative(ds["id"], pairwise) if pairwise else None
    if found is not None:
        baseline, against = _pairwise_sides(found, baseline, against)
    if baseline is None:
        raise MissingOption("", param_hint="'--baseline'")
    if not against:
        raise MissingOption("", param_hint="'--against'")
    if not 1 <= len(against) <= 10:
        raise typer.BadParameter("give 1 to 10 experiments", param_hint="--against")
    filter_pairs = _filter_specs(filters or [])
    base = client.experiment(ds["id"], baseline)
    comps = [client.experiment(ds["id"], name) for name in against]
    names = {str(s["id"]): s["name"] for s in [base, *comps]}
    if found is not None:
        stats = found.get("feedback_stats") or {}
        keys = keys or sorted(k for k, v in stats.items() if v.get("avg") is not None)
        if not keys:
            raise ApiError(f"pairwise experiment {found['name']!r} has no scored feedback yet")
    keys = keys or client.feedback_keys(list(names))
    if not keys:
        raise ApiError("these experiments have no scored feedback yet")
    body: dict[str, Any] = {
        "baseline_session_id": str(base["id"]),
        "comparison_session_ids": [str(c["id"]) for c in comps],
        "feedback_keys": keys,
        "include_stats": True,
        "filters": _filters(client, ds["id"], filter_pairs, names) or None,
    }
    result = Comparison(
        dataset=ds["name"],
        baseline=base["name"],
        dataset_id=str(ds["id"]),
        baseline_id=str(base["id"]),
    )
    if found is not None:
        body["comparative_experiment_id"] = str(found["id"])
        result.pairwise = found["name"] or str(found["id"])
    done, ended = 0, False

    def view(final: bool = False) -> RenderableType:
        decide(result.rows, alpha)
        if final:
            return table(result)
        status = Spinner("dots", f"{done} of {len(keys)} keys compared…", style="dim")
        return Group(status, table(result))

    with (
        Live(view(), console=out, refresh_per_second=8, transient=False)
        if live
        else _Quiet() as shown
    ):
        try:
            for event in client.stream_deltas(str(ds["id"]), body):
                if event.event == "end":
                    ended = True
                if event.event != "data":
                    continue
                result.rows += rows_from_chunk(event.data, names)
                add_regressed(result, event.data)
                result.errors += event.data.get("errors") or []
                done += len(event.data.get("feedback_deltas") or {}) + sum(
                    len(e["feedback_keys"]) for e in event.data.get("errors") or []
                )
                if live:
                    shown.update(view(), refresh=True)  # each key's rows show as they arrive
        except ApiError as exc:
            raise ApiError(_named(exc.message, names), exc.status_code) from exc
        if not ended:
            # A cut connection must not pass for a complete answer (a gate would pass).
            raise ApiError(
                f"the delta stream ended early ({done} of {len(keys)} keys, no end event); "
                "the answer may be incomplete"
            )
        if live:
            shown.update(view(final=True), refresh=True)
    decide(result.rows, alpha)
    return result


class _Quiet:
    """Stands in for ``Live`` when the output is not a terminal table."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: object, *, refresh: bool = False) -> None:
        return None


def _emit(
    result: Comparison,
    as_json: bool,
    as_markdown: bool,
    live: bool,
    gate: list[str] | None = None,
) -> None:
    """Print the result; ``gate`` (the reasons a gate failed, empty if it passed) adds the
    gate's outcome to the JSON and the Markdown."""
    if as_json:
        data = result.to_json()
        if gate is not None:
            data["gate"] = {"passed": not gate, "reasons": gate}
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    elif as_markdown:
        print(markdown(result, gate), end="")
    elif not live:
        out.print(table(result))


def compare(
    dataset: Dataset,
    baseline: Baseline = None,
    against: Against = None,
    key: Keys = None,
    filter: Filters = None,
    pairwise: Pairwise = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    alpha: Alpha = 0.05,
    to_queue: ToQueue = None,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
) -> None:
    """Which examples got better, which got worse, and is it real? Streams a table.
    With --pairwise: which experiment the pairwise evaluator preferred, and is it real?
    With --to-queue: the regressed examples' runs, both sides, go to a review queue."""
    client = client_for(endpoint, api_key)
    live = out.is_terminal and not (as_json or as_markdown)
    try:
        result = run_comparison(
            client, dataset, baseline, against, key, filter, alpha, live, pairwise=pairwise
        )
        _emit(result, as_json, as_markdown, live)
        if to_queue is not None:
            sent = send_to_queue(client, to_queue, result, result.dataset_id, result.baseline_id)
            said = (
                f"Added {sent.added} runs to annotation queue {sent.queue!r} "
                f"({sent.runs} runs of {sent.examples} regressed examples, both sides; "
                f"{sent.runs - sent.added} were there already)"
                if sent.examples
                else f"No example regressed: nothing sent to annotation queue {sent.queue!r}"
            )
            err.print(said, markup=False, highlight=False)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        client.close()


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
    baseline: Baseline = None,
    against: Against = None,
    key: Keys = None,
    filter: Filters = None,
    pairwise: Pairwise = None,
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    alpha: Alpha = 0.05,
    max_regressed: Annotated[
        list[str] | None,
        typer.Option(
            "--max-regressed",
            metavar="N|KEY=N",
            help="Fail above N regressed examples (for every key, or for KEY).",
        ),
    ] = None,
    min_mean_delta: Annotated[
        list[str] | None,
        typer.Option(
            "--min-mean-delta",
            metavar="X|KEY=X",
            help="Fail when the mean change, signed so positive is better, is below X "
            "(for every key, or for KEY; e.g. -0.02 tolerates a 0.02 drop).",
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
    client = client_for(endpoint, api_key)
    try:
        result = run_comparison(
            client, dataset, baseline, against, key, filter, alpha, False, pairwise=pairwise
        )
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        client.close()
    compared = {r.key for r in result.rows} | {k for e in result.errors for k in e["feedback_keys"]}
    for option, per_key in (
        ("--max-regressed", limits.max_regressed),
        ("--min-mean-delta", limits.min_mean_delta),
    ):
        unknown = sorted(k for k in per_key if k is not None and k not in compared)
        if unknown:  # a typo must not silently switch a threshold off
            raise typer.BadParameter(
                f"no key {', '.join(map(repr, unknown))} among the compared keys "
                f"({', '.join(sorted(compared))})",
                param_hint=option,
            )
    reasons = gate_failures(result, limits)
    _emit(result, as_json, as_markdown, live=False, gate=reasons)
    if reasons:
        err.print("[bold red]GATE FAILED[/bold red]")
        for reason in reasons:
            err.print(Text(f"  ✗ {reason}"))
        raise typer.Exit(1)
    err.print(
        f"[bold green]GATE PASSED[/bold green]: no significant regression "
        f"(alpha {alpha}, Holm-adjusted across {len({r.key for r in result.rows})} keys)"
    )
