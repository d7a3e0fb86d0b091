"""The floor: the same deltas computed by a plain vectorised NumPy program.

The data is what the server stores, as arrays already in memory: per key one score per
target run (NaN for no score), and per run its (experiment, example) group and latency.
Per key: two ``bincount``s give each (experiment, example)'s sum and count of scores, their
ratio the mean; each comparison's means are compared with the baseline's under the rule of
docs/deltas.md.  One thread, no tricks: what reading the data once costs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evaldelta.bench.workload.data import Workload

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

# docs/deltas.md: means closer than 1e-9 (relative, at least absolute) are equal.
TIE_TOLERANCE = 1e-9

# key -> per comparison (in experiment order): (improved example indices, regressed ones)
FloorAnswer = dict[str, list[tuple[Ints, Ints]]]


@dataclass(frozen=True)
class FloorData:
    experiments: int
    examples: int
    names: list[str]
    lower_is_better: list[bool]
    group: Ints  # per run: experiment * examples + example
    latency_us: Ints  # per run
    scores: list[Floats]  # per key, per run


def floor_data(workload: Workload) -> FloorData:
    """Lay the workload out as the floor reads it (views, no copies of the scores)."""
    keys, experiments, examples, reps = workload.scores.shape
    group = np.repeat(np.arange(experiments * examples, dtype=np.int64), reps)
    return FloorData(
        experiments=experiments,
        examples=examples,
        names=[k.name for k in workload.keys],
        lower_is_better=[k.lower_is_better for k in workload.keys],
        group=group,
        latency_us=workload.latency_ms.reshape(-1) * 1000,
        scores=[workload.scores[k].reshape(-1) for k in range(keys)],
    )


def floor_deltas(data: FloorData, max_latency_s: float | None = None) -> FloorAnswer:
    """Every key's improved and regressed examples for every comparison experiment.

    ``max_latency_s`` keeps only runs with ``latency < max_latency_s`` in every experiment
    (the filter ``lt(latency, x)``).
    """
    n = data.experiments * data.examples
    keep = None if max_latency_s is None else data.latency_us / 1e6 < max_latency_s
    out: FloorAnswer = {}
    for name, lower, scores in zip(data.names, data.lower_is_better, data.scores, strict=True):
        ok = ~np.isnan(scores)
        if keep is not None:
            ok &= keep
        group = data.group[ok]
        sums = np.bincount(group, weights=scores[ok], minlength=n)
        counts = np.bincount(group, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (sums / counts).reshape(data.experiments, data.examples)
        base, comp = means[0], means[1:]
        diff = comp - base
        tolerance = TIE_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(base), np.abs(comp)))
        changed = np.abs(diff) > tolerance  # NaN (missing on a side) compares False
        better = diff < 0 if lower else diff > 0
        improved, regressed = changed & better, changed & ~better
        out[name] = [
            (np.flatnonzero(improved[i]), np.flatnonzero(regressed[i]))
            for i in range(data.experiments - 1)
        ]
    return out


def time_floor(
    data: FloorData, repeat: int, max_latency_s: float | None = None
) -> tuple[list[float], FloorAnswer]:
    """Seconds of each of ``repeat`` computations of all keys, and the answer."""
    seconds: list[float] = []
    answer: FloorAnswer = {}
    for _ in range(repeat):
        started = time.perf_counter()
        answer = floor_deltas(data, max_latency_s)
        seconds.append(time.perf_counter() - started)
    return seconds, answer


def one_key(answer: FloorAnswer, key: str, below: int) -> list[tuple[Ints, Ints]]:
    """One key's lists restricted to examples with index < ``below`` (for paged reads)."""
    return [(i[i < below], r[r < below]) for i, r in answer[key]]


def counts(answer: FloorAnswer, keys: Sequence[str]) -> dict[str, list[list[int]]]:
    """Per key and comparison: [improved, regressed] sizes."""
    return {k: [[len(i), len(r)] for i, r in answer[k]] for k in keys}
