"""What one delta read of the DuckDB store has at hand, opened only as far as it needs.

A read whose means are all kept (``means_cache``) and whose dataset's example ids are kept
(``duckdb_example_order``) touches no table at all.  Otherwise it opens one snapshot, on
first need, and reads there what it is missing.  Kept things were exact at the version of
the writes read when the request began: they may be combined with the snapshot only if no
write began before the snapshot was taken (``exact``); if one did, the read takes
everything from the snapshot instead.
"""

from __future__ import annotations

from uuid import UUID

import duckdb

from evaldelta.store.duckdb.example_order import ExampleOrder, read_example_ids
from evaldelta.store.duckdb.means_cache import MeansCache
from evaldelta.store.duckdb.seqlock import WriteSequence
from evaldelta.store.id_table import IdTable


class Snapshot:
    """One delta read of one dataset; ``cache`` is None when kept means may not be used."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        tenant_id: UUID,
        dataset_id: UUID,
        *,
        own_transaction: bool = False,
        writes: WriteSequence | None = None,
        examples: ExampleOrder | None = None,
        cache: MeansCache | None = None,
    ) -> None:
        self._cur = cur
        self._tenant_id = tenant_id
        self._dataset_id = dataset_id
        self._own = own_transaction
        self._writes = writes
        self._examples = examples
        self.version = writes.read() if writes is not None else 0
        self._examples_seen = examples.version() if examples is not None else 0
        usable = cache is not None and writes is not None and self.version % 2 == 0
        self.cache = cache if usable else None
        self._opened = False
        self._exact = True
        self._ids: IdTable | None = None
        self._ids_from_snapshot = False

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The cursor, inside the read's snapshot (taken now if not yet)."""
        if not self._opened:
            self._opened = True
            if self._own:
                self._cur.execute("BEGIN")
                # DuckDB takes the snapshot at the transaction's first read, not at BEGIN.
                self._cur.execute("SELECT count(*) FROM tenants").fetchall()
            if self._writes is not None:
                self._exact = self.version % 2 == 0 and self._writes.read() == self.version
        return self._cur

    def exact(self) -> bool:
        """Whether kept things may be combined with what the snapshot reads."""
        return self._exact

    def example_ids(self) -> IdTable:
        """The dataset's example ids by position: the kept ones while they are exact, else
        read in the snapshot."""
        if self._ids is not None and (self._exact or self._ids_from_snapshot):
            return self._ids
        kept = None
        if self._examples is not None and self._exact:
            kept = self._examples.get(self._tenant_id, self._dataset_id, self._examples_seen)
            if kept is not None and self._examples.version() != self._examples_seen:
                kept = None
        if kept is None:
            cur = self.cursor()
            self._ids = read_example_ids(cur, self._tenant_id, self._dataset_id)
            self._ids_from_snapshot = True
        else:
            self._ids = kept
        return self._ids

    def close(self) -> None:
        """End the snapshot, and keep example ids read in it if still current."""
        if self._opened and self._own:
            self._cur.execute("ROLLBACK")  # read only: nothing to commit
        examples = self._examples
        if (
            examples is not None
            and self._ids is not None
            and self._ids_from_snapshot
            and examples.version() == self._examples_seen
        ):
            examples.keep(self._tenant_id, self._dataset_id, self._examples_seen, self._ids)
