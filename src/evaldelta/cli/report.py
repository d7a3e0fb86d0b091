"""Turning delta-stream chunks with statistics into rows, verdicts, tables and gate checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

# Re-exported: the rows and the result were defined here first.
from evaldelta.cli.comparison import Comparison as Comparison
from evaldelta.cli.comparison import Row as Row
from evaldelta.cli.coverage import coverage_failures, coverage_fields, notes
from evaldelta.cli.regressed import regressed_markdown
from evaldelta.delta.stats import holm

MARKERS = {"improved": "▲ better", "regressed": "▼ worse", "unclear": "· no clear change"}


def rows_from_chunk(chunk: dict[str, Any], names: dict[str, str]) -> list[Row]:
    """Rows of one stream chunk whose per-comparison objects carry ``stats``."""
    rows = []
    for key, per_session in (chunk.get("feedback_deltas") or {}).items():
        for session_id, delta in per_session.items():
            stats = delta.get("stats") or {}
            pairwise = stats.get("pairwise") or {}
            rows.append(
                Row(
                    key=key,
                    comparison=names.get(session_id, session_id),
                    comparison_id=session_id,
                    n_improved=stats.get("n_improved", len(delta["improved_examples"])),
                    n_regressed=stats.get("n_regressed", len(delta["regressed_examples"])),
                    n_unchanged=stats.get("n_unchanged", 0),
                    n_missing=stats.get("n_missing_baseline", 0)
                    + stats.get("n_missing_comparison", 0),
                    n_paired=stats.get("n_paired", 0),
                    mean_delta=stats.get("mean_delta"),
                    ci_low=stats.get("ci_low"),
                    ci_high=stats.get("ci_high"),
                    p_value=stats.get("sign_test_p"),
                    p_holm=None,
                    wilcoxon_p=stats.get("wilcoxon_p"),
                    lower_is_better=bool(stats.get("lower_is_better", False)),
                    pairwise=bool(pairwise),
                    win_rate=pairwise.get("win_rate"),
                    win_rate_ci_low=pairwise.get("win_rate_ci_low"),
                    win_rate_ci_high=pairwise.get("win_rate_ci_high"),
                    **coverage_fields(delta.get("coverage")),
                )
            )
    return rows


def decide(rows: list[Row], alpha: float) -> None:
    """Holm-adjust each comparison's p-values across its keys, then give each row a verdict:
    a significant difference in either direction, or no clear change."""
    for comparison in {r.comparison_id for r in rows}:
        mine = [r for r in rows if r.comparison_id == comparison]
        for row, adjusted in zip(mine, holm([r.p_value for r in mine]), strict=True):
            row.p_holm = adjusted
    for row in rows:
        if row.p_holm is not None and row.p_holm < alpha and row.n_improved != row.n_regressed:
            row.verdict = "improved" if row.n_improved > row.n_regressed else "regressed"
        else:
            row.verdict = "unclear"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_phrase(value: float | None) -> str:
    """``p < 0.001`` or ``p = 0.012``, for sentences."""
    text = _p(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _delta_text(row: Row) -> str:
    if row.mean_delta is None:
        return "–"
    return f"{_num(row.mean_delta)} [{_num(row.ci_low)}, {_num(row.ci_high)}]"


HEADERS = [
    "key",
    "experiment",
    "better",
    "worse",
    "same",
    "missing",
    "mean Δ [95% CI]",
    "p (Holm)",
    "verdict",
]


PAIRWISE_HEADERS = [
    "key",
    "experiment",
    "wins",
    "ties",
    "losses",
    "missing",
    "win rate [95% CI]",
    "p (Holm)",
    "verdict",
]


def _rate(row: Row) -> str:
    if row.win_rate is None:
        return "–"
    low, high = row.win_rate_ci_low or 0.0, row.win_rate_ci_high or 0.0
    return f"{row.win_rate:.0%} [{low:.0%}, {high:.0%}]"


def _headers(result: Comparison) -> list[str]:
    return PAIRWISE_HEADERS if result.pairwise else HEADERS


def _cells(row: Row) -> list[str]:
    if row.pairwise:
        return [
            row.key,
            row.comparison,
            str(row.n_improved),
            str(row.n_unchanged),
            str(row.n_regressed),
            str(row.n_missing),
            _rate(row),
            _p(row.p_holm),
            MARKERS[row.verdict],
        ]
    key = row.key + (" (lower is better)" if row.lower_is_better else "")
    return [
        key,
        row.comparison,
        str(row.n_improved),
        str(row.n_regressed),
        str(row.n_unchanged),
        str(row.n_missing),
        _delta_text(row),
        _p(row.p_holm),
        MARKERS[row.verdict],
    ]


def table(result: Comparison, title: str | None = None) -> Table:
    """A rich table, one line per key × experiment."""
    against = f"pairwise {result.pairwise!r}, against" if result.pairwise else "against"
    out = Table(title=title or f"{result.dataset}: {against} {result.baseline}")
    headers = _headers(result)
    for header in headers:
        out.add_column(header, justify="right" if header in headers[2:6] else "left")
    styles = {"improved": "green", "regressed": "bold red", "unclear": ""}
    # Cells are Text, not strings: names and server messages are never rich markup.
    for row in result.rows:
        out.add_row(*map(Text, _cells(row)), style=styles[row.verdict])
    for err in result.errors:
        cells = [", ".join(err["feedback_keys"]), *[""] * 7, f"error: {err['error']}"]
        out.add_row(*map(Text, cells), style="red")
    return out


def _md_row(cells: list[str]) -> str:
    # A "|" or a line break inside a cell (a name, an error message) would break the row.
    return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def _md_text(text: str) -> str:
    return " ".join(text.split())


def markdown(result: Comparison, gate: list[str] | None = None) -> str:
    """A Markdown table for a pull-request comment; with ``gate`` (the reasons it failed,
    empty when it passed), the gate's outcome below it."""
    lines = [
        f"**{result.dataset}**: experiments against `{result.baseline}`"
        + (f" (pairwise `{result.pairwise}`)" if result.pairwise else ""),
        "",
        _md_row(_headers(result)),
        "|" + "---|" * len(HEADERS),
    ]
    lines += [_md_row(_cells(row)) for row in result.rows]
    lines += [
        _md_row([", ".join(e["feedback_keys"]), "", *[""] * 6, f"error: {e['error']}"])
        for e in result.errors
    ]
    warnings = notes(result)
    if warnings:
        lines += ["", *[f"- ⚠ {_md_text(note)}" for note in warnings]]
    lines += regressed_markdown(result)
    if gate is not None:
        lines += ["", "**Gate: failed**" if gate else "**Gate: passed**"]
        lines += [f"- {reason}" for reason in gate]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Thresholds:
    """When a gate fails. Per-key values override the default (key ``None``)."""

    alpha: float = 0.05
    max_regressed: dict[str | None, int] = field(default_factory=dict)
    min_mean_delta: dict[str | None, float] = field(default_factory=dict)
    fail_on_missing: bool = False
    fail_on_errors: bool = False

    def _get(self, table: dict[str | None, Any], key: str) -> Any:
        return table.get(key, table.get(None))


def row_failures(row: Row, limits: Thresholds) -> list[str]:
    """Why one key × comparison fails the gate (empty: it passes)."""
    where = f"{row.key} in {row.comparison}"
    reasons = []
    if row.n_paired == 0:
        # Nothing to compare is not a pass: the experiment may have failed to score.
        reasons.append(f"{where}: no example is scored in both experiments")
    if row.verdict == "regressed":
        reasons.append(
            f"{where}: significant regression ({row.n_regressed} regressed vs "
            f"{row.n_improved} improved, Holm-adjusted {_p_phrase(row.p_holm)}, "
            f"alpha {limits.alpha})"
        )
    max_regressed = limits._get(limits.max_regressed, row.key)
    if max_regressed is not None and row.n_regressed > max_regressed:
        reasons.append(f"{where}: {row.n_regressed} examples regressed (allowed: {max_regressed})")
    floor = limits._get(limits.min_mean_delta, row.key)
    better = row.better_delta
    if floor is not None and better is not None and better < floor:
        reasons.append(
            f"{where}: mean change {better:+.4f} in the better direction is below {floor:+.4f}"
        )
    return reasons + coverage_failures(
        row, fail_on_missing=limits.fail_on_missing, fail_on_errors=limits.fail_on_errors
    )


def error_failures(result: Comparison) -> list[str]:
    """Keys the server could not compute: a gate never passes them."""
    return [
        f"{', '.join(e['feedback_keys'])}: could not be computed ({e['error']})"
        for e in result.errors
    ]


def gate_failures(result: Comparison, limits: Thresholds) -> list[str]:
    """Why the comparison fails the gate, one line per reason (empty: it passes)."""
    reasons = error_failures(result)
    for row in result.rows:
        reasons += row_failures(row, limits)
    return reasons
