"""A dataset's example ids by position, and the lists of them a delta answers with.

At scale a stream's answer is mostly example ids (73 MiB of them for 20 keys × 10
experiments over 100,000 examples).  Making each a ``UUID`` object and having the JSON
encoder format it again costs more than finding which examples changed, so the ids are
held as one array of 16-byte rows and formatted as JSON text once per dataset, as
fixed-width rows ``"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",``; a list of positions becomes
its JSON array by copying those rows.  ``UUID`` objects are made only when a caller asks
for them (the paged endpoint, the statistics).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import numpy as np
import numpy.typing as npt

Positions = npt.NDArray[np.int64]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits go in a 39-byte row: '"' 8 '-' 4 '-' 4 '-' 4 '-' 12 '"' ','.
_DIGIT_AT = np.array([*range(1, 9), *range(10, 14), *range(15, 19), *range(20, 24), *range(25, 37)])
ROW_WIDTH = 39


class IdTable:
    """Example ids by position, from their 16 big-endian bytes each (``[n, 16]`` uint8)."""

    def __init__(self, raw: npt.NDArray[np.uint8]) -> None:
        self._raw = raw
        self._made: list[UUID | None] = [None] * len(raw)
        self._json: npt.NDArray[np.uint8] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_halves(cls, hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> IdTable:
        """From each id's high and low 64 bits."""
        raw = np.empty((len(hi), 16), dtype=np.uint8)
        raw[:, :8] = hi.astype(">u8").view(np.uint8).reshape(-1, 8)
        raw[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(-1, 8)
        return cls(raw)

    @classmethod
    def from_bytes(cls, ids: list[bytes]) -> IdTable:
        """From each id's 16 bytes."""
        joined = np.frombuffer(b"".join(ids), dtype=np.uint8)
        return cls(joined.reshape(len(ids), 16))

    def __len__(self) -> int:
        return len(self._made)

    def at(self, positions: list[int]) -> list[UUID]:
        """The ids at ``positions`` as ``UUID`` objects, each made once."""
        made, raw = self._made, self._raw
        out: list[UUID] = []
        for p in positions:
            found = made[p]
            if found is None:  # two threads filling one slot store equal values
                found = made[p] = UUID(bytes=raw[p].tobytes())
            out.append(found)
        return out

    def json(self, positions: Positions) -> bytes:
        """The JSON array of the ids at ``positions`` (strings, canonical form)."""
        if len(positions) == 0:
            return b"[]"
        rows = self._json_rows()[positions].tobytes()
        return b"[" + rows[:-1] + b"]"  # drop the last row's comma

    def _json_rows(self) -> npt.NDArray[np.uint8]:
        with self._lock:
            if self._json is None:
                digits = np.empty((len(self._raw), 32), dtype=np.uint8)
                digits[:, 0::2] = _HEX[self._raw >> 4]
                digits[:, 1::2] = _HEX[self._raw & 15]
                rows = np.full((len(self._raw), ROW_WIDTH), ord("-"), dtype=np.uint8)
                rows[:, 0] = rows[:, 37] = ord('"')
                rows[:, 38] = ord(",")
                rows[:, _DIGIT_AT] = digits
                self._json = rows
            return self._json


class ExampleIdList:
    """Some of a dataset's example ids, in order: as ``UUID`` objects when iterated, as a
    JSON array from ``json()`` without making any object."""

    __slots__ = ("_positions", "_table")

    def __init__(self, table: IdTable, positions: Positions) -> None:
        self._table = table
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self) -> Iterator[UUID]:
        return iter(self._table.at(self._positions.tolist()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExampleIdList):
            return list(self) == list(other)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-list semantics: not hashable

    def __repr__(self) -> str:
        return f"ExampleIdList({list(self)!r})"

    def json(self) -> bytes:
        return self._table.json(self._positions)
