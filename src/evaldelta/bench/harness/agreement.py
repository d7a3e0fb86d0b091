"""Does the server say what the NumPy floor says?  A benchmark of a wrong answer is
worthless, so every timed answer is checked: same examples, same order, per key and
comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evaldelta.bench.harness.deltas import Answer
from evaldelta.bench.harness.floor import Ints
from evaldelta.bench.workload.ids import index_of

MAX_REPORTED = 10


@dataclass
class Agreement:
    """How many (key, comparison) lists were compared, and the first mismatches."""

    lists_checked: int = 0
    mismatches: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lists_checked > 0 and self.mismatches == 0

    def _miss(self, what: str) -> None:
        self.mismatches += 1
        if len(self.examples) < MAX_REPORTED:
            self.examples.append(what)

    def merge(self, other: Agreement) -> None:
        self.lists_checked += other.lists_checked
        self.mismatches += other.mismatches
        self.examples += other.examples[: MAX_REPORTED - len(self.examples)]


def _indices(ids: list[str]) -> Ints:
    return np.fromiter((index_of(x) for x in ids), dtype=np.int64, count=len(ids))


def compare_key(
    key: str,
    server: dict[str, tuple[list[str], list[str]]] | None,
    floor: list[tuple[Ints, Ints]],
    comparison_ids: Sequence[str],
) -> Agreement:
    """One key: each comparison's improved and regressed lists, element by element."""
    result = Agreement()
    for session_id, (want_up, want_down) in zip(comparison_ids, floor, strict=True):
        got = (server or {}).get(session_id)
        for label, want, index in (("improved", want_up, 0), ("regressed", want_down, 1)):
            result.lists_checked += 1
            if got is None:
                result._miss(f"{key}/{session_id}: missing from the server's answer")
                continue
            have = _indices(got[index])
            if not np.array_equal(have, want):
                result._miss(
                    f"{key}/{session_id} {label}: server {len(have)} examples, numpy {len(want)}"
                )
    return result


def compare(
    server: Answer, floor: dict[str, list[tuple[Ints, Ints]]], comparison_ids: Sequence[str]
) -> Agreement:
    """Every key the floor computed."""
    total = Agreement()
    for key, lists in floor.items():
        total.merge(compare_key(key, server.get(key), lists, comparison_ids))
    return total
