"""Did both experiments see the same examples?  Coverage of one comparison, for one key.

Opt-in on the delta endpoints (``include_coverage``, ``include_examples``; see
docs/statistics.md): counts of the examples scored on both sides, on one side only, and
with an errored evaluation, a warning when the experiments ran on different dataset
versions or splits (as the SDK records them in an experiment's metadata), and on request
every example with both sides' mean scores and its bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime
from typing import Any
from uuid import UUID

from evaldelta.delta.stats import changed_and_better

# The buckets of an example, in the order they are documented.
BUCKETS = ("improved", "regressed", "unchanged", "baseline_only", "comparison_only", "errored")


def coverage_counts(
    baseline: Mapping[UUID, float],
    comparison: Mapping[UUID, float],
    errored_baseline: Set[UUID],
    errored_comparison: Set[UUID],
) -> dict[str, int]:
    """How many examples are scored on both sides, on one side only, and how many have an
    errored (or unscored) evaluation on each side.  The errored counts overlap the others:
    an example with one failed repetition may still have a mean score."""
    both = sum(1 for e in comparison if e in baseline)
    return {
        "n_both": both,
        "n_baseline_only": len(baseline) - both,
        "n_comparison_only": len(comparison) - both,
        "n_errored_baseline": len(errored_baseline),
        "n_errored_comparison": len(errored_comparison),
    }


def bucket(base: float | None, comp: float | None, lower_is_better: bool) -> str:
    """Where one listed example falls: by the paired rule when both sides have a score,
    else which side has one; ``errored`` when neither has (an evaluation failed)."""
    if base is not None and comp is not None:
        changed, better = changed_and_better(base, comp, lower_is_better)
        if not changed:
            return "unchanged"
        return "improved" if better else "regressed"
    if base is not None:
        return "baseline_only"
    if comp is not None:
        return "comparison_only"
    return "errored"


def example_scores(
    baseline: Mapping[UUID, float],
    comparison: Mapping[UUID, float],
    errored_baseline: Set[UUID],
    errored_comparison: Set[UUID],
    *,
    lower_is_better: bool,
) -> list[dict[str, Any]]:
    """Every example scored or errored on either side, in example-id order, with both
    sides' means and its bucket."""
    ids = set(baseline) | set(comparison) | set(errored_baseline) | set(errored_comparison)
    rows = []
    for example_id in sorted(ids, key=str):
        base, comp = baseline.get(example_id), comparison.get(example_id)
        b_err, c_err = example_id in errored_baseline, example_id in errored_comparison
        rows.append(
            {
                "example_id": example_id,
                "baseline_score": base,
                "comparison_score": comp,
                "bucket": bucket(base, comp, lower_is_better),
                "baseline_errored": b_err,
                "comparison_errored": c_err,
            }
        )
    return rows


def _version(value: Any) -> Any:
    """A recorded dataset version, comparable whatever ISO spelling it came in."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _splits(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return sorted(set(value))
    return None


def recorded(session: Mapping[str, Any]) -> tuple[Any, list[str] | None]:
    """The dataset version and splits an experiment's metadata says it ran on."""
    metadata = (session.get("extra") or {}).get("metadata") or {}
    if not isinstance(metadata, dict):
        return None, None
    version = metadata.get("dataset_version")
    return (version if isinstance(version, str) else None), _splits(metadata.get("dataset_splits"))


def version_fields(baseline: Mapping[str, Any], comparison: Mapping[str, Any]) -> dict[str, Any]:
    """Both experiments' recorded dataset versions and splits, and a warning for each that
    differs (nothing is said when either side did not record it)."""
    b_version, b_splits = recorded(baseline)
    c_version, c_splits = recorded(comparison)
    warnings = []
    if b_version and c_version and _version(b_version) != _version(c_version):
        warnings.append(
            f"the experiments ran on different dataset versions "
            f"(baseline {b_version}, comparison {c_version})"
        )
    if b_splits is not None and c_splits is not None and b_splits != c_splits:
        warnings.append(
            f"the experiments ran on different dataset splits "
            f"(baseline {', '.join(b_splits) or 'none'}, "
            f"comparison {', '.join(c_splits) or 'none'})"
        )
    return {
        "baseline_dataset_version": b_version,
        "comparison_dataset_version": c_version,
        "baseline_dataset_splits": b_splits,
        "comparison_dataset_splits": c_splits,
        "warnings": warnings,
    }
