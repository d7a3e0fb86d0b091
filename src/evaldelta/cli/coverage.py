"""Coverage in ``compare`` and ``gate``: which examples each side scored, every example's
scores (for exports), the warnings worth a line, and the gate's coverage checks."""

from __future__ import annotations

from typing import Any

from evaldelta.cli.comparison import Comparison, ExampleRow, Row


def coverage_fields(coverage: dict[str, Any] | None) -> dict[str, Any]:
    """A row's coverage fields from a delta's ``coverage`` object (none: all zero)."""
    if not coverage:
        return {}
    return {
        "n_baseline_only": coverage["n_baseline_only"],
        "n_comparison_only": coverage["n_comparison_only"],
        "n_errored_baseline": coverage["n_errored_baseline"],
        "n_errored_comparison": coverage["n_errored_comparison"],
        "warnings": list(coverage["warnings"]),
    }


def example_rows(chunk: dict[str, Any], names: dict[str, str]) -> list[ExampleRow]:
    """The listed examples of one stream chunk (``include_examples``)."""
    rows = []
    for key, per_session in (chunk.get("feedback_deltas") or {}).items():
        for session_id, delta in per_session.items():
            lower = bool((delta.get("stats") or {}).get("lower_is_better", False))
            rows += [
                ExampleRow(
                    key=key,
                    comparison=names.get(session_id, session_id),
                    comparison_id=session_id,
                    example_id=str(e["example_id"]),
                    baseline_mean=e["baseline_score"],
                    comparison_mean=e["comparison_score"],
                    bucket=e["bucket"],
                    baseline_errored=e["baseline_errored"],
                    comparison_errored=e["comparison_errored"],
                    lower_is_better=lower,
                )
                for e in delta.get("examples") or []
            ]
    return rows


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def notes(result: Comparison) -> list[str]:
    """What a reader should know before trusting the numbers: the experiments ran on
    different dataset versions or splits, examples scored on one side only, evaluations
    that errored.  Each warning once, however many keys share it."""
    seen: dict[str, None] = {}
    for row in result.rows:
        for warning in row.warnings:
            seen.setdefault(f"{row.comparison}: {warning}")
        where = f"{row.key} in {row.comparison}"
        if row.n_baseline_only:
            seen.setdefault(
                f"{where}: {_plural(row.n_baseline_only, 'example')} scored in the baseline only"
            )
        if row.n_comparison_only:
            seen.setdefault(
                f"{where}: {_plural(row.n_comparison_only, 'example')} scored in "
                "the comparison only"
            )
        if row.n_errored_baseline:
            seen.setdefault(
                f"{where}: {_plural(row.n_errored_baseline, 'example')} with an "
                "errored evaluation in the baseline"
            )
        if row.n_errored_comparison:
            seen.setdefault(
                f"{where}: {_plural(row.n_errored_comparison, 'example')} with an "
                "errored evaluation in the comparison"
            )
    return list(seen)


def coverage_failures(row: Row, *, fail_on_missing: bool, fail_on_errors: bool) -> list[str]:
    """Why one row fails the gate's coverage checks: ``--fail-on-missing`` (an example
    scored on one side only) and ``--fail-on-errors`` (an errored evaluation in the
    comparison experiment, the one under test)."""
    where = f"{row.key} in {row.comparison}"
    reasons = []
    if fail_on_missing and (row.n_baseline_only or row.n_comparison_only):
        reasons.append(
            f"{where}: {row.n_baseline_only} examples scored in the baseline only, "
            f"{row.n_comparison_only} in the comparison only (--fail-on-missing)"
        )
    if fail_on_errors and row.n_errored_comparison:
        reasons.append(
            f"{where}: {_plural(row.n_errored_comparison, 'example')} with an errored "
            "evaluation (--fail-on-errors)"
        )
    return reasons
