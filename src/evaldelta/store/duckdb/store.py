"""The embedded default store: one DuckDB file owned by the server process.

DuckDB allows one process per file; inside it, each thread reads through its own cursor and
the single writer thread does every write (see ``ingest/writer.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import duckdb

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.annotation_queues import AnnotationQueueStore
from evaldelta.store.base import DeltaQuery, IngestBatch, Page, Row
from evaldelta.store.common import CommonStore, now, require_examples
from evaldelta.store.dialect import Dialect
from evaldelta.store.duckdb import delta as duckdb_delta
from evaldelta.store.duckdb import feedback as duckdb_feedback
from evaldelta.store.duckdb import history
from evaldelta.store.duckdb import ingest as duckdb_ingest
from evaldelta.store.duckdb import sessions as duckdb_sessions
from evaldelta.store.duckdb.datasets import (
    DATASET_SELECT,
    example_rows,
    insert_dataset,
    update_dataset,
    update_example,
)
from evaldelta.store.duckdb.delta import DeltaLists
from evaldelta.store.duckdb.dialect import DUCKDB
from evaldelta.store.duckdb.example_order import ExampleOrder
from evaldelta.store.duckdb.ingest import insert_rows
from evaldelta.store.duckdb.means_cache import DEFAULT_MAX_BYTES, MeansCache
from evaldelta.store.duckdb.schema import migrate
from evaldelta.store.duckdb.seqlock import WriteSequence
from evaldelta.store.duckdb.snapshot import Snapshot
from evaldelta.store.listing import EXAMPLE_COLUMNS, Listing
from evaldelta.store.sharing import ShareKind, ShareTokens
from evaldelta.store.splits import created_splits, updated_splits
from evaldelta.store.sqlrows import JSON_COLUMNS, dump_json, fetch_rows

T = TypeVar("T")

# DuckDB's own default buffer pool is 80 % of the machine's memory: a server sharing its
# machine should not grow to that, and the delta reads one key's feedback at a time, which
# a smaller pool (with the OS's page cache behind it) serves as well.
DEFAULT_MEMORY_LIMIT = "1GB"


def open_duckdb(path: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB file and bring its schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    return con


class DuckDBStore(CommonStore, ShareTokens, AnnotationQueueStore):
    """The ``Store`` implementation on a DuckDB file."""

    filter_dialect: Dialect = DUCKDB

    def __init__(
        self,
        path: Path,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        means_cache_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.path = path
        self._con = open_duckdb(path, memory_limit)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._examples = ExampleOrder()
        self._writes = WriteSequence()
        self.means = MeansCache(means_cache_bytes)
        self._list = Listing(self._rows, DUCKDB)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur = cur
        return cur

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return fetch_rows(self._cur(), sql, params)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def run_in_transaction(self, fn: Callable[[], T]) -> T:
        cur = self._cur()
        self._writes.begin_write()  # before the snapshot: kept means stop being used
        try:
            cur.execute("BEGIN")
            self._local.in_transaction = True
            try:
                result = fn()
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        finally:
            self._local.in_transaction = False
            self._examples.settled()
            self._writes.end_write()
        return result

    @contextmanager
    def _writing_examples(self) -> Iterator[None]:
        """Around every write to examples: cached example orders must not outlive it."""
        own = not getattr(self._local, "in_transaction", False)
        if own:
            self._writes.begin_write()
        self._examples.writing()
        try:
            yield
        finally:
            if own:  # autocommit: already committed
                self._examples.settled()
                self._writes.end_write()

    # --- tenants and keys ---------------------------------------------------------------

    def write_tenant(self, name: str) -> UUID:
        found = self._one("SELECT id FROM tenants WHERE name = ?", [name])
        if found:
            return UUID(str(found["id"]))
        tenant_id = uuid4()
        self._cur().execute("INSERT INTO tenants VALUES (?, ?, ?)", [tenant_id, name, now()])
        # The SDK discovers its tenant id from the first project: keep one from the start.
        self.write_session(tenant_id, {"name": "default"}, upsert=True)
        return tenant_id

    def write_api_key(self, tenant_id: UUID, key_hash: str, key_prefix: str) -> None:
        self._cur().execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?)", [key_hash, tenant_id, key_prefix, now()]
        )

    def tenant_for_key_hash(self, key_hash: str) -> UUID | None:
        found = self._one("SELECT tenant_id FROM api_keys WHERE key_hash = ?", [key_hash])
        return UUID(str(found["tenant_id"])) if found else None

    def tenant_count(self) -> int:
        found = self._one("SELECT count(*) AS n FROM tenants")
        return int(found["n"]) if found else 0

    # --- datasets -----------------------------------------------------------------------

    def _dataset_query(self, tenant_id: UUID, dataset_id: UUID | None) -> tuple[str, list[Any]]:
        if dataset_id is None:
            return DATASET_SELECT + " WHERE d.tenant_id = ?", [tenant_id]
        return DATASET_SELECT + " WHERE d.tenant_id = ? AND d.id = ?", [tenant_id, dataset_id]

    def write_dataset(self, tenant_id: UUID, row: Row) -> Row:
        self._check_dataset_name(tenant_id, row["name"])
        dataset_id = row.get("id") or uuid4()
        if self._one(
            "SELECT 1 FROM datasets WHERE tenant_id = ? AND id = ?", [tenant_id, dataset_id]
        ):
            raise Conflict(f"Dataset with id {dataset_id} already exists")
        insert_dataset(self._cur(), tenant_id, dataset_id, row)
        return self._require_dataset(tenant_id, dataset_id)

    def write_dataset_update(self, tenant_id: UUID, dataset_id: UUID, changes: Row) -> Row:
        current = self._require_dataset(tenant_id, dataset_id)
        self._check_dataset_rename(tenant_id, current, changes)
        merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
        update_dataset(self._cur(), tenant_id, dataset_id, merged)
        return self._require_dataset(tenant_id, dataset_id)

    def write_dataset_delete(self, tenant_id: UUID, dataset_id: UUID) -> None:
        self._require_dataset(tenant_id, dataset_id)
        cur = self._cur()
        with self._writing_examples():
            cur.execute(
                "DELETE FROM examples WHERE tenant_id = ? AND dataset_id = ?",
                [tenant_id, dataset_id],
            )
        history.forget_dataset(cur, tenant_id, dataset_id)
        self._forget_comparatives(tenant_id, dataset_id)
        self._drop_shares(tenant_id, "dataset", dataset_id)
        cur.execute("DELETE FROM datasets WHERE tenant_id = ? AND id = ?", [tenant_id, dataset_id])

    def has_dataset(self, tenant_id: UUID, dataset_id: UUID) -> bool:
        found = self._cur().execute(
            "SELECT 1 FROM datasets WHERE tenant_id = ? AND id = ?", [tenant_id, dataset_id]
        )
        return found.fetchone() is not None

    # --- examples -----------------------------------------------------------------------

    def write_examples(self, tenant_id: UUID, rows: list[Row]) -> list[Row]:
        for dataset_id in {r["dataset_id"] for r in rows}:
            self._require_dataset(tenant_id, dataset_id)
        by_id = example_rows(tenant_id, [created_splits(r) for r in rows])
        # One Arrow append, not one insert per example.
        with self._writing_examples():
            insert_rows(self._cur(), "examples", list(EXAMPLE_COLUMNS), list(by_id.values()))
            history.record(self._cur(), tenant_id, list(by_id))
        ids = list(by_id)
        found = {r["id"]: r for r in self._examples_by_id(tenant_id, ids)}
        return [found[i] for i in ids]

    def write_example_update(
        self, tenant_id: UUID, example_id: UUID, changes: Row, stamp: datetime | None = None
    ) -> Row:
        current = self.get_example(tenant_id, example_id)
        if current is None:
            raise NotFound(f"Example {example_id} not found")
        if changes.get("dataset_id"):
            self._require_dataset(tenant_id, changes["dataset_id"])
        changes = updated_splits(current, changes)
        merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
        with self._writing_examples():
            update_example(self._cur(), tenant_id, example_id, merged, stamp or now())
            history.record(self._cur(), tenant_id, [example_id])
        updated = self.get_example(tenant_id, example_id)
        assert updated is not None
        return updated

    def write_example_delete(self, tenant_id: UUID, example_ids: list[UUID]) -> None:
        require_examples(
            example_ids, (r["id"] for r in self._examples_by_id(tenant_id, example_ids))
        )
        with self._writing_examples():
            history.record_deletes(self._cur(), tenant_id, example_ids, now())
            self._cur().execute(
                "DELETE FROM examples WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))",
                [tenant_id, [str(i) for i in example_ids]],
            )

    def _put_tag(self, tenant_id: UUID, dataset_id: UUID, tag: str, as_of: datetime) -> None:
        history.put_tag(self._cur(), tenant_id, dataset_id, tag, as_of)

    # --- sessions -----------------------------------------------------------------------

    def write_session(self, tenant_id: UUID, row: Row, *, upsert: bool) -> Row:
        return duckdb_sessions.write_session(self._cur(), tenant_id, row, upsert=upsert)

    def write_session_update(self, tenant_id: UUID, session_id: UUID, changes: Row) -> Row:
        return duckdb_sessions.write_session_update(self._cur(), tenant_id, session_id, changes)

    def write_session_delete(self, tenant_id: UUID, session_id: UUID) -> None:
        duckdb_sessions.write_session_delete(self._cur(), tenant_id, session_id)

    # --- runs and feedback --------------------------------------------------------------

    def apply_ingest(self, batches: list[IngestBatch]) -> None:
        duckdb_ingest.apply_ingest(self._cur(), batches)
        self.adopt_feedback_configs(batches)

    def write_feedback_update(self, tenant_id: UUID, feedback_id: UUID, changes: Row) -> Row:
        duckdb_feedback.write_feedback_update(self._cur(), tenant_id, feedback_id, changes)
        found = self.get_feedback(tenant_id, feedback_id)
        assert found is not None
        return found

    def write_feedback_delete(self, tenant_id: UUID, feedback_id: UUID) -> None:
        if self.get_feedback(tenant_id, feedback_id) is None:
            raise NotFound(f"Feedback {feedback_id} not found")
        self._cur().execute(
            "DELETE FROM feedback WHERE tenant_id = ? AND id = ?", [tenant_id, feedback_id]
        )

    # --- feedback configs ---------------------------------------------------------------

    def _feedback_config_row(self, tenant_id: UUID, key: str) -> Row | None:
        return self._one(
            "SELECT * FROM feedback_configs WHERE tenant_id = ? AND feedback_key = ?",
            [tenant_id, key],
        )

    def _put_feedback_config(self, new: Row, current: Row | None) -> None:
        self._cur().execute(
            "INSERT OR REPLACE INTO feedback_configs VALUES (?, ?, ?, ?, ?)",
            [
                new["tenant_id"],
                new["feedback_key"],
                dump_json(new["feedback_config"]),
                new["is_lower_score_better"],
                new["modified_at"],
            ],
        )

    def write_feedback_config_delete(self, tenant_id: UUID, key: str) -> None:
        self._cur().execute(
            "DELETE FROM feedback_configs WHERE tenant_id = ? AND feedback_key = ?",
            [tenant_id, key],
        )

    # --- comparative experiments -------------------------------------------------------

    def _put_comparative(self, row: Row) -> None:
        columns = list(row)
        self._cur().execute(
            f"INSERT INTO comparative_experiments ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            [dump_json(v) if k in ("experiment_ids", "extra") else v for k, v in row.items()],
        )

    def _drop_comparative(self, tenant_id: UUID, cid: UUID) -> None:
        self._cur().execute(
            "DELETE FROM comparative_experiments WHERE tenant_id = ? AND id = ?", [tenant_id, cid]
        )

    # --- sharing: share tokens (store/sharing.py) ---------------------------------------

    def _put_share(self, row: Row) -> None:
        columns = list(row)
        self._cur().execute(
            f"INSERT OR REPLACE INTO share_tokens ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            list(row.values()),
        )

    def _drop_shares(self, tenant_id: UUID, kind: ShareKind, target_id: UUID) -> None:
        self._cur().execute(
            "DELETE FROM share_tokens WHERE tenant_id = ? AND kind = ? AND target_id = ?",
            [tenant_id, kind, target_id],
        )

    # --- annotation queues ---------------------------------------------------------------

    def _put_queue_rows(self, table: str, rows: Sequence[Row]) -> None:
        columns = list(rows[0])
        self._cur().executemany(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            [[dump_json(r[c]) if c in JSON_COLUMNS else r[c] for c in columns] for r in rows],
        )

    def _delete_queue_rows(self, table: str, tenant_id: UUID, column: str, ids: list[Any]) -> None:
        self._cur().execute(
            f"DELETE FROM {table} WHERE tenant_id = ? AND {DUCKDB.in_ids(column)}",
            [tenant_id, DUCKDB.uuid_params(ids)],
        )

    # --- deltas -------------------------------------------------------------------------

    def _read_delta(self, query: DeltaQuery, read: Callable[[Snapshot], T]) -> T:
        """Run ``read`` with what it needs at hand: kept example ids and means where they
        are exact, one snapshot (inside a caller's transaction, its own) for the rest."""
        in_transaction = getattr(self._local, "in_transaction", False)
        snap = Snapshot(
            self._cur(),
            query.tenant_id,
            query.dataset_id,
            own_transaction=not in_transaction,
            writes=None if in_transaction else self._writes,
            examples=None if in_transaction else self._examples,
            cache=None if in_transaction else self.means,
        )
        try:
            return read(snap)
        finally:
            snap.close()

    def delta(
        self, query: DeltaQuery, key: str, *, lower_is_better: bool, window: Page | None
    ) -> DeltaLists:
        return self._read_delta(
            query, lambda snap: duckdb_delta.delta(snap, query, key, lower_is_better, window)
        )

    def example_means(self, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
        return self._read_delta(query, lambda snap: duckdb_delta.example_means(snap, query, key))
