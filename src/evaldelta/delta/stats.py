"""Is the difference real? Paired statistics for one key and one comparison experiment.

Pairs are the examples scored in both experiments (per-example means, repetitions
averaged). The numbers, in plain words, are documented in docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evaldelta.store.compare import TIE_TOLERANCE

# SciPy is imported inside the functions that need it: it takes seconds to import, and the
# CLI, which imports this module for holm() alone, should start at once.

# Bootstrap below this many pairs; above it the t interval is as good and far cheaper.
BOOTSTRAP_MAX_PAIRS = 5_000
BOOTSTRAP_RESAMPLES = 2_000
BOOTSTRAP_SEED = 0


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def confidence_interval(
    diffs: np.ndarray[Any, Any], level: float = 0.95
) -> tuple[float, float] | None:
    """A 95% interval for the mean paired difference: a percentile bootstrap with a fixed
    seed (same data, same interval) for up to 5,000 pairs, a Student-t interval above."""
    n = len(diffs)
    if n == 0:
        return None
    if n == 1 or np.all(diffs == diffs[0]):
        return float(diffs[0]), float(diffs[0])
    alpha = (1 - level) / 2
    if n <= BOOTSTRAP_MAX_PAIRS:
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        means = np.empty(BOOTSTRAP_RESAMPLES)
        # Resample in blocks so memory stays bounded (B x n indices at most ~10M at once).
        block = max(1, 10_000_000 // n)
        for start in range(0, BOOTSTRAP_RESAMPLES, block):
            stop = min(start + block, BOOTSTRAP_RESAMPLES)
            idx = rng.integers(0, n, size=(stop - start, n))
            means[start:stop] = diffs[idx].mean(axis=1)
        low, high = np.quantile(means, [alpha, 1 - alpha])
        return float(low), float(high)
    from scipy import stats as sps

    mean = float(diffs.mean())
    sem = float(diffs.std(ddof=1)) / math.sqrt(n)
    t = float(sps.t.ppf(1 - alpha, n - 1))
    return mean - t * sem, mean + t * sem


def sign_test(n_improved: int, n_regressed: int) -> float | None:
    """Two-sided sign test: how surprising is this split of wins and losses if the change
    did nothing (each changed example equally likely to go either way)?"""
    n = n_improved + n_regressed
    if n == 0:
        return None
    from scipy import stats as sps

    return float(sps.binomtest(n_improved, n, 0.5).pvalue)


def win_rate_test(wins: int, ties: int, losses: int, level: float = 0.95) -> dict[str, Any]:
    """A pairwise experiment's verdict for one side: its wins, ties and losses over the
    examples both sides were judged on, the win rate over the decided ones (ties left
    out), its exact (Clopper-Pearson) interval, and the two-sided exact binomial test of
    a 50 % win rate."""
    decided = wins + losses
    low = high = None
    if decided:
        from scipy import stats as sps

        interval = sps.binomtest(wins, decided, 0.5).proportion_ci(level, method="exact")
        low, high = float(interval.low), float(interval.high)
    return {
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "win_rate": wins / decided if decided else None,
        "win_rate_ci_low": low,
        "win_rate_ci_high": high,
        "p_value": sign_test(wins, losses),
    }


def wilcoxon(diffs: np.ndarray[Any, Any]) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value over the non-zero differences; None when
    there are none."""
    nonzero = diffs[np.abs(diffs) > TIE_TOLERANCE]
    if len(nonzero) == 0:
        return None
    from scipy import stats as sps

    return _finite(float(sps.wilcoxon(nonzero).pvalue))


def changed_and_better(base: float, comp: float, lower_is_better: bool) -> tuple[bool, bool]:
    """One pair by the rule ``paired_stats`` counts with: whether it changed (beyond the
    tie tolerance, relative to the scores' size), and whether the change is better."""
    diff = comp - base
    changed = abs(diff) > TIE_TOLERANCE * max(1.0, abs(base), abs(comp))
    return changed, (diff < 0) if lower_is_better else (diff > 0)


def paired_stats(
    baseline: Mapping[Any, float], comparison: Mapping[Any, float], *, lower_is_better: bool
) -> dict[str, Any]:
    """Statistics of one comparison against the baseline, from per-example mean scores."""
    # Pairs in example-id order: the bootstrap's fixed seed gives the same interval for the
    # same data only if the pairs come in the same order, whatever order the store used.
    paired = sorted((e for e in comparison if e in baseline), key=str)
    b = np.array([baseline[e] for e in paired], dtype=float)
    c = np.array([comparison[e] for e in paired], dtype=float)
    diffs = c - b
    scale = np.maximum(1.0, np.maximum(np.abs(b), np.abs(c)))
    changed = np.abs(diffs) > TIE_TOLERANCE * scale
    better = (diffs < 0) if lower_is_better else (diffs > 0)
    n_improved = int(np.sum(changed & better))
    n_regressed = int(np.sum(changed & ~better))
    interval = confidence_interval(diffs)
    return {
        "n_paired": len(paired),
        "n_improved": n_improved,
        "n_regressed": n_regressed,
        "n_unchanged": len(paired) - n_improved - n_regressed,
        "n_missing_baseline": sum(1 for e in comparison if e not in baseline),
        "n_missing_comparison": sum(1 for e in baseline if e not in comparison),
        "baseline_mean": float(b.mean()) if len(b) else None,
        "comparison_mean": float(c.mean()) if len(c) else None,
        "mean_delta": float(diffs.mean()) if len(diffs) else None,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "ci_method": "bootstrap" if len(paired) <= BOOTSTRAP_MAX_PAIRS else "t",
        "sign_test_p": sign_test(n_improved, n_regressed),
        "wilcoxon_p": wilcoxon(diffs[changed]),  # ties by the same rule as the counts
        "lower_is_better": lower_is_better,
    }


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (None stays None and does not count as a test)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
