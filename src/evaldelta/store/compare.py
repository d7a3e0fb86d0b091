"""The comparison rule of a delta, on per-example means (docs/deltas.md).

A comparison's example improved when its mean beats the baseline's (higher, or lower for a
lower-is-better key), regressed when it loses; equal means, or a mean missing on either
side (NaN), put it in neither list.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Means closer than this (relative, at least absolute) are a tie: averaging the same scores
# in another order must never turn a tie into an improvement.
TIE_TOLERANCE = 1e-9

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def compare(base: Floats, other: Floats, lower_is_better: bool) -> tuple[Mask, Mask]:
    """Masks of improved and regressed entries: ``other`` against ``base``."""
    diff = other - base
    with np.errstate(invalid="ignore"):
        tolerance = TIE_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(base), np.abs(other)))
        changed = np.abs(diff) > tolerance  # NaN on either side compares False
        better = diff < 0 if lower_is_better else diff > 0
    return changed & better, changed & ~better
