"""Each dataset's example ids in delta order, kept in memory between delta queries.

A delta lists example ids by their position in the dataset: the ids of a dataset in
creation order (then id) are read once (``id_table.IdTable``) and kept until the next
write to examples.

The cache is exact, not eventually right.  Writes to examples (only ever made by the single
writer thread) move a version counter like a sequence lock: odd from before the write until
after its commit or rollback, even otherwise.  A reader takes its snapshot between two reads
of the counter; an even counter that did not move means no example write was in flight or
began meanwhile, so the snapshot holds exactly the examples of that version.  Only then is
a list kept, or a kept one used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

import duckdb

from evaldelta.store.duckdb.seqlock import WriteSequence
from evaldelta.store.id_table import IdTable

# Datasets kept: each costs up to about 20 MB per 100,000 examples.
MAX_DATASETS = 4


def read_example_ids(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, dataset_id: UUID) -> IdTable:
    """The dataset's example ids by position (creation time, then id), read from the store
    as two 64-bit halves each (no Python object per example)."""
    found = cur.execute(
        """SELECT (id::UHUGEINT >> 64)::UBIGINT AS hi,
                  (id::UHUGEINT & 18446744073709551615::UHUGEINT)::UBIGINT AS lo
           FROM examples WHERE tenant_id = ? AND dataset_id = ? ORDER BY created_at, id""",
        [tenant_id, dataset_id],
    ).fetchnumpy()
    return IdTable.from_halves(found["hi"], found["lo"])


class ExampleOrder:
    """The cache, shared by every thread of one store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes = WriteSequence()
        self._entries: OrderedDict[tuple[UUID, UUID], tuple[int, IdTable]] = OrderedDict()

    def writing(self) -> None:
        """An example write is about to happen (writer thread; before the statement)."""
        self._writes.begin_write()

    def settled(self) -> None:
        """Every example write so far is committed or rolled back."""
        if self._writes.end_write():
            with self._lock:
                self._entries.clear()

    def version(self) -> int:
        return self._writes.read()

    def get(self, tenant_id: UUID, dataset_id: UUID, version: int) -> IdTable | None:
        """The kept ids if they were read at ``version`` (even), else None."""
        with self._lock:
            entry = self._entries.get((tenant_id, dataset_id))
            if entry is None or entry[0] != version or version % 2:
                return None
            self._entries.move_to_end((tenant_id, dataset_id))
            return entry[1]

    def keep(self, tenant_id: UUID, dataset_id: UUID, version: int, ids: IdTable) -> None:
        """Keep ids read in a snapshot taken between two reads of ``version`` (the caller
        checked both); ignored if the version has moved since."""
        with self._lock:
            if version % 2 or version != self._writes.read():
                return
            self._entries[(tenant_id, dataset_id)] = (version, ids)
            self._entries.move_to_end((tenant_id, dataset_id))
            while len(self._entries) > MAX_DATASETS:
                self._entries.popitem(last=False)
