"""Named workload sizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """How much data a benchmark run generates.

    ``experiments`` counts the baseline: 11 experiments are one baseline and the 10
    comparisons a delta request may name.
    """

    name: str
    examples: int
    experiments: int
    keys: int
    repetitions: int = 1

    @property
    def comparisons(self) -> int:
        return self.experiments - 1

    @property
    def runs(self) -> int:
        return self.examples * self.experiments * self.repetitions

    @property
    def feedback_rows(self) -> int:
        return self.runs * self.keys


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("XS", examples=50, experiments=4, keys=6),
        Scale("S", examples=1_000, experiments=11, keys=20),
        Scale("M", examples=10_000, experiments=11, keys=20),
        Scale("L", examples=100_000, experiments=11, keys=20),
        Scale("L3", examples=100_000, experiments=11, keys=20, repetitions=3),
    )
}


def get_scale(name: str) -> Scale:
    """The scale called ``name`` (case-insensitive); ValueError naming the choices."""
    try:
        return SCALES[name.upper()]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; choose one of {', '.join(SCALES)}") from None
