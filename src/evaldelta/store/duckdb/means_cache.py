"""Per-example means kept in memory between delta requests, exact after every write.

A key's delta needs, for each session, the mean score of every example of the dataset.
Computing those from the store means reading the key's feedback (about 0.2 s per key at
22 M feedback rows); comparing kept means takes milliseconds.  So each (tenant, dataset,
key, session)'s row of means is kept once read, bounded in bytes, least recently used
first out.  A row read under a filter (or counting a comparative experiment's feedback)
is kept under that filter's text.

Kept rows are never stale.  Every write transaction moves the store's version counter (a
sequence lock, ``seqlock.WriteSequence``): a snapshot taken between two equal even reads of
it holds exactly that version's data, and rows read at that version may be used with it,
or kept for it.  Rows of an older version are dropped as soon as a newer one is seen.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
# tenant, dataset, key, session, and the session's filter and comparative experiment
RowKey = tuple[UUID, UUID, str, UUID, str]

# Default bound: 20 keys × 11 sessions × 100,000 examples of float64 is 176 MB.
DEFAULT_MAX_BYTES = 256 * 2**20


class MeansCache:
    """Rows of means by (tenant, dataset, key, session, condition), all of one even
    version."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._version = -1
        self._rows: OrderedDict[RowKey, Floats] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        # Reads of several keys at once take turns: their memory is bounded to one at a
        # time, and streams waiting behind one find the rows it kept.
        self.read_ahead_lock = threading.Lock()
        self._began: dict[int, int] = {}  # id(request) -> version of its first read

    def began_at(self, request: object, version: int) -> int:
        """The write version ``request`` first read at (``version``, if this is its first
        read); forgotten with the request."""
        with self._lock:
            began = self._began.get(id(request))
            if began is None:
                began = self._began[id(request)] = version
                weakref.finalize(request, self._forget, id(request))
            return began

    def _forget(self, request_id: int) -> None:
        # No lock: this runs whenever the request is collected, which may be inside a
        # locked section of this very thread (a garbage collection); one pop is atomic.
        self._began.pop(request_id, None)

    def get(self, version: int, keys: Iterable[RowKey]) -> dict[RowKey, Floats]:
        """The kept rows among ``keys``, if they were read at ``version``."""
        found: dict[RowKey, Floats] = {}
        with self._lock:
            self._advance(version)
            if version != self._version:
                return found
            for key in keys:
                row = self._rows.get(key)
                if row is None:
                    self.misses += 1
                else:
                    self.hits += 1
                    self._rows.move_to_end(key)
                    found[key] = row
        return found

    def has(self, version: int, keys: Iterable[RowKey]) -> bool:
        """Whether every one of ``keys`` is kept for ``version``; a probe, so neither a
        hit nor a use (the rows keep their place in line)."""
        with self._lock:
            return version == self._version and all(k in self._rows for k in keys)

    def keep(self, version: int, rows: dict[RowKey, Floats]) -> None:
        """Keep rows read in a snapshot of ``version`` (even, checked by the caller);
        ignored once a newer version has been seen."""
        with self._lock:
            self._advance(version)
            if version != self._version or self.max_bytes <= 0:
                return
            for key, row in rows.items():
                old = self._rows.pop(key, None)
                if old is not None:
                    self._bytes -= old.nbytes
                kept = row.copy()  # its own memory, not a view keeping a matrix alive
                kept.setflags(write=False)  # shared between requests: nobody may change it
                self._rows[key] = kept
                self._bytes += kept.nbytes
            while self._bytes > self.max_bytes and self._rows:
                _, dropped = self._rows.popitem(last=False)
                self._bytes -= dropped.nbytes

    def _advance(self, version: int) -> None:
        if version % 2 == 0 and version > self._version:
            self._rows.clear()
            self._bytes = 0
            self._version = version

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes
