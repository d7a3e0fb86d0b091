"""The generated scores: what 20 evaluators say about every run of every experiment.

Everything is a pure function of ``(scale, seed, experiment)``, so client processes can
regenerate the slice they send instead of receiving it.  Experiment 0 is the baseline;
each other experiment re-draws a small share of its scores (3-25 %) around quality shifted
by a small effect, so its improved and regressed lists are neither empty nor everything.

Scores are kept as ``float64`` with NaN for "no score" (evaluator errors, and the
categorical key, which only has values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from evaldelta.bench.workload.scales import Scale

KeyKind = Literal["binary", "boolean", "likert", "continuous", "categorical", "cost"]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.int8]

CATEGORIES = ("formal", "neutral", "casual")


@dataclass(frozen=True)
class KeySpec:
    """One evaluator's feedback key and the kind of score it gives."""

    name: str
    kind: KeyKind
    null_rate: float = 0.0

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "cost"


# The first six cover every kind, so small scales still exercise all of them.
KEYS: tuple[KeySpec, ...] = (
    KeySpec("correctness", "binary"),
    KeySpec("helpfulness", "likert"),
    KeySpec("relevance", "continuous", null_rate=0.02),
    KeySpec("tone", "categorical"),
    KeySpec("cost_usd", "cost"),
    KeySpec("is_concise", "boolean"),
    KeySpec("exact_match", "binary"),
    KeySpec("faithfulness", "continuous"),
    KeySpec("coherence", "likert"),
    KeySpec("has_citation", "boolean"),
    KeySpec("groundedness", "continuous", null_rate=0.01),
    KeySpec("toxicity_free", "binary"),
    KeySpec("fluency", "likert"),
    KeySpec("answer_similarity", "continuous"),
    KeySpec("format_ok", "boolean"),
    KeySpec("tool_use_correct", "binary", null_rate=0.005),
    KeySpec("completeness", "likert"),
    KeySpec("context_recall", "continuous", null_rate=0.03),
    KeySpec("safety", "binary"),
    KeySpec("conciseness_score", "continuous"),
)


def keys_for(scale: Scale) -> tuple[KeySpec, ...]:
    if scale.keys > len(KEYS):
        raise ValueError(f"at most {len(KEYS)} keys are defined, scale asks for {scale.keys}")
    return KEYS[: scale.keys]


@dataclass(frozen=True)
class ExperimentData:
    """One experiment's feedback: ``scores[key, example, repetition]`` (NaN = no score),
    ``categories[example, repetition]`` (index into CATEGORIES, for categorical keys) and
    ``latency_ms[example, repetition]`` of the target runs."""

    scores: Floats
    categories: Bytes
    latency_ms: Ints


def _rng(seed: int, *path: int) -> np.random.Generator:
    return np.random.default_rng([seed, *path])


def _quality(scale: Scale, seed: int) -> Floats:
    """Per key and example, how good the baseline's answers tend to be (in [0.15, 0.95])."""
    return _rng(seed, 0xA11).uniform(0.15, 0.95, size=(scale.keys, scale.examples))


def _draw(kind: KeyKind, p: Floats, rng: np.random.Generator) -> Floats:
    """Scores of one kind around target quality ``p`` (shape (examples, repetitions))."""
    match kind:
        case "binary" | "boolean":
            return (rng.random(p.shape) < p).astype(np.float64)
        case "likert":
            return np.clip(np.rint(1.0 + 4.0 * p + rng.normal(0.0, 0.6, p.shape)), 1.0, 5.0)
        case "continuous":
            noisy: Floats = np.clip(p + rng.normal(0.0, 0.08, p.shape), 0.0, 1.0)
            return np.round(noisy, 4)
        case "cost":  # dollars: better answers here are cheaper ones
            base = 0.002 + 0.02 * (1.0 - p)
            return np.round(base * np.exp(rng.normal(0.0, 0.3, p.shape)), 6)
        case "categorical":
            return np.full(p.shape, np.nan, dtype=np.float64)


def generate_experiment(
    scale: Scale, seed: int, experiment: int, baseline: ExperimentData | None = None
) -> ExperimentData:
    """Experiment ``experiment``'s feedback; comparisons need the baseline's (experiment 0)."""
    keys = keys_for(scale)
    shape = (scale.examples, scale.repetitions)
    quality = _quality(scale, seed)
    params = _rng(seed, experiment, 10_000)
    effect = params.uniform(-0.04, 0.06, size=len(keys))
    change_rate = params.uniform(0.03, 0.25)
    latency_factor = params.uniform(0.8, 1.25)
    scores = np.empty((len(keys), *shape))
    for k, spec in enumerate(keys):
        rng = _rng(seed, experiment, k)
        p = np.broadcast_to(quality[k][:, None], shape)
        if experiment == 0 or baseline is None:
            drawn = _draw(spec.kind, p, rng)
        else:
            changed = rng.random(shape) < change_rate
            shifted = np.clip(p + effect[k], 0.01, 0.99)
            drawn = np.where(changed, _draw(spec.kind, shifted, rng), baseline.scores[k])
        if spec.null_rate:
            drawn[rng.random(shape) < spec.null_rate] = np.nan
        scores[k] = drawn
    rng = _rng(seed, experiment, 20_000)
    categories = rng.integers(0, len(CATEGORIES), size=shape, dtype=np.int8)
    median = 1200.0 * (1.0 if experiment == 0 else latency_factor)
    latency = np.rint(np.exp(rng.normal(np.log(median), 0.45, shape)))
    latency_ms = np.clip(latency, 50, 60_000).astype(np.int64)
    return ExperimentData(scores, categories, latency_ms)


@dataclass(frozen=True)
class Workload:
    """All experiments of one scale in memory: ``scores[key, experiment, example, rep]``."""

    scale: Scale
    seed: int
    keys: tuple[KeySpec, ...]
    scores: Floats
    latency_ms: Ints  # [experiment, example, rep]


def generate(scale: Scale, seed: int) -> Workload:
    """Every experiment's feedback, for the NumPy floor and the agreement check."""
    keys = keys_for(scale)
    shape = (scale.examples, scale.repetitions)
    scores = np.empty((len(keys), scale.experiments, *shape))
    latency = np.empty((scale.experiments, *shape), dtype=np.int64)
    baseline = generate_experiment(scale, seed, 0)
    for s in range(scale.experiments):
        data = baseline if s == 0 else generate_experiment(scale, seed, s, baseline)
        scores[:, s] = data.scores
        latency[s] = data.latency_ms
    return Workload(scale, seed, keys, scores, latency)
