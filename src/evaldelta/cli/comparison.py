"""What a ``compare`` or ``gate`` run found: its rows (one per key × comparison), every
example's scores when asked for, and what links to the page need."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExampleRow:
    """One key × one comparison × one example, as the server listed it."""

    key: str
    comparison: str
    comparison_id: str
    example_id: str
    baseline_mean: float | None
    comparison_mean: float | None
    bucket: str
    baseline_errored: bool
    comparison_errored: bool
    lower_is_better: bool

    @property
    def delta(self) -> float | None:
        """Comparison minus baseline, when both sides have a mean."""
        if self.baseline_mean is None or self.comparison_mean is None:
            return None
        return self.comparison_mean - self.baseline_mean

    @property
    def better_delta(self) -> float | None:
        """The delta signed so that positive is better."""
        delta = self.delta
        return None if delta is None else (-delta if self.lower_is_better else delta)


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
    # Coverage (docs/statistics.md): examples scored on one side only, examples with an
    # errored evaluation on each side, and warnings (different dataset versions or splits).
    n_baseline_only: int = 0
    n_comparison_only: int = 0
    n_errored_baseline: int = 0
    n_errored_comparison: int = 0
    warnings: list[str] = field(default_factory=list)

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
    # Every example's scores, when asked for (exports and the pull-request Markdown).
    examples: list[ExampleRow] = field(default_factory=list)
    # Where the page is, for links to its drill-down; the selection's session ids.
    page_url: str | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    excerpts: dict[str, str] = field(default_factory=dict)  # example id -> inputs excerpt
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
