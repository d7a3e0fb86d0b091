"""Turning delta-stream chunks with statistics into rows, verdicts, tables and gate checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from evaldelta.delta.stats import holm

MARKERS = {"improved": "▲ better", "regressed": "▼ worse", "unclear": "· no clear change"}


@dataclass
class Row:
    """One feedback key × one comparison experiment."""

    key: str
    comparison: str
    comparison_id: str
    n_improved: int
    n_regressed: int
    n_unchanged: int
    n_missing: int
    n_paired: int
    mean_delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_holm: float | None
    wilcoxon_p: float | None
    lower_is_better: bool
    verdict: str = "unclear"
    # In a pairwise experiment: the comparison's win rate over decided examples (ties left
    # out), with its exact 95% interval; wins, ties, losses are n_improved, n_unchanged,
    # n_regressed.
    pairwise: bool = False
    win_rate: float | None = None
    win_rate_ci_low: float | None = None
    win_rate_ci_high: float | None = None

    @property
    def better_delta(self) -> float | None:
        """The mean delta with its sign turned so that positive is always better."""
        if self.mean_delta is None:
            return None
        return -self.mean_delta if self.lower_is_better else self.mean_delta


@dataclass
class Comparison:
    """Everything a compare or gate run found."""

    dataset: str
    baseline: str
    rows: list[Row] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    pairwise: str | None = None  # the pairwise experiment's name, when one was compared
    dataset_id: str = ""
    baseline_id: str = ""
    # Per compared experiment, the examples that regressed on any key, in stream order.
    regressed: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "baseline": self.baseline,
            "pairwise": self.pairwise,
            "rows": [{**asdict(r), "better_delta": r.better_delta} for r in self.rows],
            "errors": self.errors,
        }


def add_regressed(result: Comparison, chunk: dict[str, Any]) -> None:
    """Note the examples of a stream chunk that regressed, per compared experiment."""
    for per_session in (chunk.get("feedback_deltas") or {}).values():
        for session_id, delta in per_session.items():
            seen = result.regressed.setdefault(session_id, [])
            known = set(seen)
            seen += [e for e in delta.get("regressed_examples") or [] if e not in known]


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

    def _get(self, table: dict[str | None, Any], key: str) -> Any:
        return table.get(key, table.get(None))


def gate_failures(result: Comparison, limits: Thresholds) -> list[str]:
    """Why the comparison fails the gate, one line per reason (empty: it passes)."""
    reasons = [
        f"{', '.join(e['feedback_keys'])}: could not be computed ({e['error']})"
        for e in result.errors
    ]
    for row in result.rows:
        where = f"{row.key} in {row.comparison}"
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
            reasons.append(
                f"{where}: {row.n_regressed} examples regressed (allowed: {max_regressed})"
            )
        floor = limits._get(limits.min_mean_delta, row.key)
        better = row.better_delta
        if floor is not None and better is not None and better < floor:
            reasons.append(
                f"{where}: mean change {better:+.4f} in the better direction is below {floor:+.4f}"
            )
    return reasons
