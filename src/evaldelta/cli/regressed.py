"""The top regressed examples of a comparison, for the pull-request Markdown: an excerpt of
each example's inputs and a link that opens it in the page's drill-down."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson

from evaldelta.cli.comparison import Comparison, ExampleRow
from evaldelta.client.http import Client

# Per key × comparison: how many regressed examples the Markdown lists.
TOP_REGRESSED = 3
# In all: a pull-request comment stays readable.
TOP_TOTAL = 12
EXCERPT_CHARS = 80


def top_regressed(
    result: Comparison, top: int = TOP_REGRESSED, limit: int = TOP_TOTAL
) -> list[ExampleRow]:
    """Per key × comparison, the regressed examples that lost most, worst first; the
    key × comparison pairs judged regressed come first, then those with most regressed
    examples, and at most ``limit`` examples in all."""
    groups: dict[tuple[str, str], list[ExampleRow]] = {}
    for row in result.examples:
        if row.bucket == "regressed":
            groups.setdefault((row.key, row.comparison_id), []).append(row)
    verdicts = {(r.key, r.comparison_id): r.verdict for r in result.rows}
    order = sorted(
        groups,
        key=lambda g: (verdicts.get(g) != "regressed", -len(groups[g]), g),
    )
    picked: list[ExampleRow] = []
    for group in order:
        worst = sorted(groups[group], key=lambda r: (r.better_delta or 0.0, r.example_id))
        picked += worst[:top]
    return picked[:limit]


def excerpt(inputs: object, limit: int = EXCERPT_CHARS) -> str:
    """The inputs as compact JSON, cut to ``limit`` characters."""
    text = orjson.dumps(inputs).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_excerpts(client: Client, result: Comparison) -> None:
    """Fetch the inputs of the examples the Markdown will list."""
    ids = sorted({r.example_id for r in top_regressed(result)})
    found = client.examples(ids) if ids else {}
    result.excerpts = {i: excerpt(e.get("inputs")) for i, e in found.items()}


def page_link(result: Comparison, row: ExampleRow) -> str | None:
    """A link to the page (``/ui``) with this example open in the regressed drill-down of
    its key and comparison, in the page's own URL state (``urlstate.js``)."""
    if not result.page_url or not result.selection:
        return None
    sel = result.selection
    params: list[tuple[str, str]] = [("dataset", sel["dataset"]), ("baseline", sel["baseline"])]
    params += [("compare", c) for c in sel["comparisons"]]
    if sel.get("pairwise"):
        params.append(("pairwise", sel["pairwise"]))
    params += [("key", k) for k in sel["keys"]]
    for session_id, exprs in (sel.get("filters") or {}).items():
        text = exprs[0] if len(exprs) == 1 else f"and({', '.join(exprs)})"
        params.append(("filter", f"{session_id}:{text}"))
    params += [("open", f"regressed:{row.comparison_id}:{row.key}"), ("example", row.example_id)]
    return f"{result.page_url.rstrip('/')}/ui?{urlencode(params)}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("`", "'")


def _mean(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def regressed_markdown(result: Comparison) -> list[str]:
    """The Markdown lines of the top regressed examples (none: no lines)."""
    rows = top_regressed(result)
    if not rows:
        return []
    lines = [
        "",
        f"**Top regressed examples** (up to {TOP_REGRESSED} per key and experiment, "
        "significant regressions first)",
        "",
        "| key | experiment | example | baseline | comparison |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        text = result.excerpts.get(row.example_id) or row.example_id
        link = page_link(result, row)
        example = f"[`{_cell(text)}`]({link})" if link else f"`{_cell(text)}`"
        lines.append(
            f"| {_cell(row.key)} | {_cell(row.comparison)} | {example} | "
            f"{_mean(row.baseline_mean)} | {_mean(row.comparison_mean)} |"
        )
    return lines
