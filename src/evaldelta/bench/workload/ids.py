"""Deterministic identifiers, so that every process agrees on them without talking.

An id is ``<nonce>-<kind>-4000-8000-<index>`` in hex: a well-formed UUID (version 4
layout) whose last 12 hex digits are the object's index.  The nonce differs per benchmark
run, so several runs can share one store; the index lets the NumPy side map the server's
answers back to array positions without a lookup table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    DATASET = 0
    EXAMPLE = 1
    SESSION = 2
    RUN = 3
    FEEDBACK = 4
    EVALUATOR_RUN = 5


@dataclass(frozen=True)
class IdSpace:
    """Ids of one benchmark run."""

    nonce: int

    def prefix(self, kind: Kind) -> str:
        return f"{self.nonce & 0xFFFFFFFF:08x}-{int(kind):04x}-4000-8000-"

    def make(self, kind: Kind, index: int) -> str:
        return f"{self.prefix(kind)}{index:012x}"


def index_of(uuid_text: str) -> int:
    """The index an id of this scheme carries (its last 12 hex digits)."""
    return int(uuid_text[-12:], 16)
