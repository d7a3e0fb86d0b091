"""Paired statistics against SciPy and against small cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from evaldelta.delta.stats import (
    confidence_interval,
    holm,
    paired_stats,
    sign_test,
    wilcoxon,
    win_rate_test,
)


def test_sign_test_matches_hand_computation() -> None:
    # 7 wins, 5 losses: P(X <= 5 or X >= 7) for X ~ Bin(12, 1/2) = 1 - P(X = 6).
    assert sign_test(7, 5) == pytest.approx(1 - 924 / 4096)
    # 10 wins, 0 losses: 2 * (1/2)^10.
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    assert sign_test(0, 0) is None


def test_wilcoxon_matches_scipy_and_ignores_ties() -> None:
    diffs = np.array([0.5, -0.25, 1.0, 0.75, 0.0, 0.3, 0.0, 1.2])
    assert wilcoxon(diffs) == pytest.approx(sps.wilcoxon(diffs[diffs != 0]).pvalue)
    assert wilcoxon(np.zeros(5)) is None


def test_interval_contains_mean_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    diffs = rng.normal(0.2, 1.0, 200)
    low, high = confidence_interval(diffs)  # type: ignore[misc]
    assert low < diffs.mean() < high
    assert confidence_interval(diffs) == (low, high)  # fixed seed: same answer twice
    # A large sample uses the t interval, which SciPy computes the same way.
    big = rng.normal(0.1, 1.0, 20_000)
    t_low, t_high = sps.t.interval(0.95, len(big) - 1, loc=big.mean(), scale=sps.sem(big))
    assert confidence_interval(big) == pytest.approx((t_low, t_high))


def test_bootstrap_agrees_with_t_interval_on_normal_data() -> None:
    diffs = np.random.default_rng(2).normal(0.5, 1.0, 2_000)
    boot = confidence_interval(diffs)
    t = sps.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=sps.sem(diffs))
    assert boot == pytest.approx(t, abs=0.01)


def test_paired_stats_hand_case_with_missing_sides_and_ties() -> None:
    baseline = {"a": 0.0, "b": 1.0, "c": 0.5, "d": 1.0}
    comparison = {"a": 1.0, "b": 0.0, "c": 0.5, "e": 1.0, "f": 0.25}
    got = paired_stats(baseline, comparison, lower_is_better=False)
    assert got["n_paired"] == 3  # a, b, c
    assert (got["n_improved"], got["n_regressed"], got["n_unchanged"]) == (1, 1, 1)
    assert got["n_missing_baseline"] == 2  # e, f
    assert got["n_missing_comparison"] == 1  # d
    assert got["baseline_mean"] == pytest.approx(0.5)
    assert got["comparison_mean"] == pytest.approx(0.5)
    assert got["mean_delta"] == pytest.approx(0.0)
    assert got["sign_test_p"] == pytest.approx(1.0)


def test_lower_is_better_flips_the_counts_not_the_delta() -> None:
    baseline = {"a": 2.0, "b": 3.0, "c": 4.0}
    comparison = {"a": 1.0, "b": 2.0, "c": 5.0}
    up = paired_stats(baseline, comparison, lower_is_better=False)
    down = paired_stats(baseline, comparison, lower_is_better=True)
    assert (up["n_improved"], up["n_regressed"]) == (1, 2)
    assert (down["n_improved"], down["n_regressed"]) == (2, 1)
    assert up["mean_delta"] == down["mean_delta"] == pytest.approx(-1 / 3)


def test_all_equal_and_single_pair_and_empty() -> None:
    same = paired_stats({"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 1.0}, lower_is_better=False)
    assert same["n_unchanged"] == 2 and same["sign_test_p"] is None and same["wilcoxon_p"] is None
    assert (same["ci_low"], same["ci_high"]) == (0.0, 0.0)
    one = paired_stats({"a": 0.0}, {"a": 1.0}, lower_is_better=False)
    assert one["n_improved"] == 1 and one["sign_test_p"] == pytest.approx(1.0)
    assert (one["ci_low"], one["ci_high"]) == (1.0, 1.0)
    empty = paired_stats({}, {"x": 1.0}, lower_is_better=False)
    assert empty["n_paired"] == 0 and empty["mean_delta"] is None and empty["ci_low"] is None


def test_holm_matches_hand_computation() -> None:
    # Sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04); None is not a test.
    assert holm([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.04])
    assert holm([0.5, 0.6]) == [1.0, 1.0]


def test_win_rate_test_leaves_ties_out() -> None:
    # 10 wins, 0 losses: 2 * 0.5**10 (two-sided), whatever the number of ties.
    for ties in (0, 25):
        got = win_rate_test(10, ties, 0)
        assert got["p_value"] == pytest.approx(2 * 0.5**10)
        assert (got["wins"], got["ties"], got["losses"], got["win_rate"]) == (10, ties, 0, 1.0)
        # Clopper-Pearson for 10 of 10: the lower end solves p**10 = 0.025.
        assert got["win_rate_ci_low"] == pytest.approx(0.025 ** (1 / 10))
        assert got["win_rate_ci_high"] == pytest.approx(1.0)
    even = win_rate_test(3, 4, 3)
    assert even["win_rate"] == 0.5 and even["p_value"] == pytest.approx(1.0)
    assert even["win_rate_ci_low"] < 0.5 < even["win_rate_ci_high"]


def test_win_rate_test_with_nothing_decided() -> None:
    assert win_rate_test(0, 6, 0) == {
        "wins": 0,
        "ties": 6,
        "losses": 0,
        "win_rate": None,
        "win_rate_ci_low": None,
        "win_rate_ci_high": None,
        "p_value": None,
    }
