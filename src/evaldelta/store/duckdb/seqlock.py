"""The version counter of the DuckDB store's writes, moved like a sequence lock.

Every write transaction makes it odd from before it begins until after it commits or rolls
back, and even otherwise.  A reader reads the counter, takes its snapshot, and reads it
again: an even value that did not move means the snapshot holds exactly that version's
data, so what was kept at that version (means, example ids) may be used with it.
"""

from __future__ import annotations

import threading


class WriteSequence:
    """The version counter the writer moves around each write transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def begin_write(self) -> None:
        """A write is about to begin (before its transaction starts)."""
        with self._lock:
            if self._value % 2 == 0:
                self._value += 1

    def end_write(self) -> bool:
        """Every write so far is committed or rolled back; whether the counter moved."""
        with self._lock:
            if self._value % 2 == 0:
                return False
            self._value += 1
            return True

    def read(self) -> int:
        with self._lock:
            return self._value
