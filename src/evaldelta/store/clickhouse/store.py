"""The scale-out store: ClickHouse, a server or cluster, or embedded through chDB.

The same API answers as ``DuckDBStore``.  ClickHouse has no transactions: every write
inserts whole new versions of rows (see ``versions.py``) and is safe to repeat, so
the writer's retry of a failed batch, a client's retry of a request, and several server
processes writing at once all end in the same rows.  Reads see the latest version of every
row through the ``FINAL`` views.  See docs/clickhouse.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.annotation_queues import AnnotationQueueStore
from evaldelta.store.base import DeltaQuery, IdList, IngestBatch, Page, Row
from evaldelta.store.clickhouse import delta as clickhouse_delta
from evaldelta.store.clickhouse import feedback as clickhouse_feedback
from evaldelta.store.clickhouse import history
from evaldelta.store.clickhouse import ingest as clickhouse_ingest
from evaldelta.store.clickhouse import sessions as clickhouse_sessions
from evaldelta.store.clickhouse.connection import connect
from evaldelta.store.clickhouse.datasets import (
    DATASET_SELECT,
    example_rows,
    new_dataset,
    new_examples,
    settle_examples,
)
from evaldelta.store.clickhouse.dialect import CLICKHOUSE
from evaldelta.store.clickhouse.schema import migrate
from evaldelta.store.clickhouse.versions import (
    name_id,
    put,
    tombstone,
    tombstone_where,
)
from evaldelta.store.common import CommonStore, now, require_examples
from evaldelta.store.dialect import Dialect
from evaldelta.store.listing import Listing
from evaldelta.store.sharing import ShareKind, ShareTokens
from evaldelta.store.splits import updated_splits

T = TypeVar("T")


class ClickHouseStore(CommonStore, ShareTokens, AnnotationQueueStore):
    """The ``Store`` implementation on ClickHouse (``clickhouse://`` or ``chdb://``)."""

    filter_dialect: Dialect = CLICKHOUSE

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = connect(url)
        try:
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._list = Listing(self._conn.rows, CLICKHOUSE)

    def close(self) -> None:
        self._conn.close()

    def run_in_transaction(self, fn: Callable[[], T]) -> T:
        # No transactions: every write is idempotent, so a failed batch is retried whole.
        return fn()

    # --- tenants and keys ---------------------------------------------------------------

    def write_tenant(self, name: str) -> UUID:
        found = self._conn.one("SELECT id FROM tenants WHERE name = ? LIMIT 1", [name])
        if found:
            return UUID(str(found["id"]))
        tenant_id = name_id("tenant", name)
        put(
            self._conn,
            "tenants_versions",
            [{"id": tenant_id, "name": name, "created_at": now()}],
        )
        # The SDK discovers its tenant id from the first project: keep one from the start.
        self.write_session(tenant_id, {"name": "default"}, upsert=True)
        return tenant_id

    def write_api_key(self, tenant_id: UUID, key_hash: str, key_prefix: str) -> None:
        row = {
            "key_hash": key_hash,
            "tenant_id": tenant_id,
            "key_prefix": key_prefix,
            "created_at": now(),
        }
        put(self._conn, "api_keys_versions", [row], id_column="key_hash")

    def tenant_for_key_hash(self, key_hash: str) -> UUID | None:
        found = self._conn.one("SELECT tenant_id FROM api_keys WHERE key_hash = ?", [key_hash])
        return UUID(str(found["tenant_id"])) if found else None

    def tenant_count(self) -> int:
        found = self._conn.one("SELECT count() AS n FROM tenants")
        return int(found["n"]) if found else 0

    # --- datasets -----------------------------------------------------------------------

    def _dataset_row(self, tenant_id: UUID, dataset_id: UUID) -> Row | None:
        return self._conn.one(
            "SELECT * FROM datasets WHERE tenant_id = ? AND id = ?",
            [tenant_id, dataset_id],
            versions=True,
        )

    def _dataset_query(self, tenant_id: UUID, dataset_id: UUID | None) -> tuple[str, list[Any]]:
        if dataset_id is None:
            return DATASET_SELECT.format(examples=""), [tenant_id, tenant_id, tenant_id]
        # One dataset: count only its examples (a range of the examples' sort key), not
        # every dataset's; this runs before the first byte of every delta request.
        sql = DATASET_SELECT.format(examples="AND dataset_id = ?") + " AND d.id = ?"
        return sql, [tenant_id, dataset_id, tenant_id, tenant_id, dataset_id]

    def write_dataset(self, tenant_id: UUID, row: Row) -> Row:
        self._check_dataset_name(tenant_id, row["name"])
        dataset_id = row.get("id") or uuid4()
        if self._dataset_row(tenant_id, dataset_id):
            raise Conflict(f"Dataset with id {dataset_id} already exists")
        new = new_dataset(tenant_id, dataset_id, row)
        put(self._conn, "datasets_versions", [new])
        return self._require_dataset(tenant_id, dataset_id)

    def write_dataset_update(self, tenant_id: UUID, dataset_id: UUID, changes: Row) -> Row:
        current = self._dataset_row(tenant_id, dataset_id)
        if current is None:
            raise NotFound(f"Dataset {dataset_id} not found")
        self._check_dataset_rename(tenant_id, current, changes)
        keep = (
            "name",
            "description",
            "inputs_schema_definition",
            "outputs_schema_definition",
            "metadata",
        )
        merged = {**current, **{k: v for k, v in changes.items() if v is not None and k in keep}}
        merged["modified_at"] = now()
        put(self._conn, "datasets_versions", [merged], {dataset_id: current})
        return self._require_dataset(tenant_id, dataset_id)

    def write_dataset_delete(self, tenant_id: UUID, dataset_id: UUID) -> None:
        current = self._dataset_row(tenant_id, dataset_id)
        if current is None:
            raise NotFound(f"Dataset {dataset_id} not found")
        tombstone_where(
            self._conn,
            "examples_versions",
            "tenant_id = ? AND dataset_id = ?",
            [tenant_id, dataset_id],
        )
        history.forget_dataset(self._conn, tenant_id, dataset_id)
        self._forget_comparatives(tenant_id, dataset_id)
        self._drop_shares(tenant_id, "dataset", dataset_id)
        tombstone_where(
            self._conn,
            "dataset_tags_versions",
            "tenant_id = ? AND dataset_id = ?",
            [tenant_id, dataset_id],
        )
        tombstone(self._conn, "datasets_versions", [current])

    def has_dataset(self, tenant_id: UUID, dataset_id: UUID) -> bool:
        return self.get_dataset(tenant_id, dataset_id) is not None

    # --- examples -----------------------------------------------------------------------

    def write_examples(self, tenant_id: UUID, rows: list[Row]) -> list[Row]:
        for dataset_id in {r["dataset_id"] for r in rows}:
            if self._dataset_row(tenant_id, dataset_id) is None:
                raise NotFound(f"Dataset {dataset_id} not found")
        new = new_examples(tenant_id, rows)
        ids = [v["id"] for v in new]
        if new:
            # Re-sending an example id (a client retry) replaces it, it never duplicates.
            latest = {str(v["id"]): v for v in new}
            put(
                self._conn,
                "examples_versions",
                list(latest.values()),
                example_rows(self._conn, tenant_id, ids),
            )
            settle_examples(self._conn, tenant_id, ids)
            history.record(self._conn, list(latest.values()))
        found = {r["id"]: r for r in self._examples_by_id(tenant_id, ids)}
        return [found[i] for i in ids]

    def write_example_update(
        self, tenant_id: UUID, example_id: UUID, changes: Row, stamp: datetime | None = None
    ) -> Row:
        current = example_rows(self._conn, tenant_id, [example_id]).get(example_id)
        if current is None:
            raise NotFound(f"Example {example_id} not found")
        if changes.get("dataset_id"):
            self._require_dataset(tenant_id, changes["dataset_id"])
        changes = updated_splits(current, changes)
        keep = ("dataset_id", "inputs", "outputs", "metadata", "split")
        merged = {**current, **{k: v for k, v in changes.items() if v is not None and k in keep}}
        merged["modified_at"] = stamp or now()
        put(self._conn, "examples_versions", [merged], {example_id: current})
        settle_examples(self._conn, tenant_id, [example_id])
        history.record(self._conn, [merged])
        updated = self.get_example(tenant_id, example_id)
        assert updated is not None
        return updated

    def write_example_delete(self, tenant_id: UUID, example_ids: list[UUID]) -> None:
        found = example_rows(self._conn, tenant_id, example_ids)
        require_examples(example_ids, found)
        history.record(self._conn, list(found.values()), deleted_at=now())
        tombstone(self._conn, "examples_versions", list(found.values()))

    def _put_tag(self, tenant_id: UUID, dataset_id: UUID, tag: str, as_of: datetime) -> None:
        history.put_tag(self._conn, tenant_id, dataset_id, tag, as_of)

    # --- sessions -----------------------------------------------------------------------

    def write_session(self, tenant_id: UUID, row: Row, *, upsert: bool) -> Row:
        return clickhouse_sessions.write_session(self._conn, tenant_id, row, upsert=upsert)

    def write_session_update(self, tenant_id: UUID, session_id: UUID, changes: Row) -> Row:
        return clickhouse_sessions.write_session_update(self._conn, tenant_id, session_id, changes)

    def write_session_delete(self, tenant_id: UUID, session_id: UUID) -> None:
        clickhouse_sessions.write_session_delete(self._conn, tenant_id, session_id)

    # --- runs and feedback --------------------------------------------------------------

    def apply_ingest(self, batches: list[IngestBatch]) -> None:
        clickhouse_ingest.apply_ingest(self._conn, batches)
        self.adopt_feedback_configs(batches)

    def write_feedback_update(self, tenant_id: UUID, feedback_id: UUID, changes: Row) -> Row:
        clickhouse_feedback.write_feedback_update(self._conn, tenant_id, feedback_id, changes)
        found = self.get_feedback(tenant_id, feedback_id)
        assert found is not None
        return found

    def write_feedback_delete(self, tenant_id: UUID, feedback_id: UUID) -> None:
        clickhouse_feedback.write_feedback_delete(self._conn, tenant_id, feedback_id)

    # --- feedback configs ---------------------------------------------------------------

    def _feedback_config_row(self, tenant_id: UUID, key: str) -> Row | None:
        return self._conn.one(
            "SELECT * FROM feedback_configs WHERE tenant_id = ? AND feedback_key = ?",
            [tenant_id, key],
            versions=True,
        )

    def _put_feedback_config(self, new: Row, current: Row | None) -> None:
        old = {new["feedback_key"]: current} if current else None
        put(self._conn, "feedback_configs_versions", [new], old, id_column="feedback_key")

    def write_feedback_config_delete(self, tenant_id: UUID, key: str) -> None:
        current = self._feedback_config_row(tenant_id, key)
        if current is not None:
            tombstone(self._conn, "feedback_configs_versions", [current])

    # --- comparative experiments -------------------------------------------------------

    def _put_comparative(self, row: Row) -> None:
        put(self._conn, "comparative_experiments_versions", [row])

    def _drop_comparative(self, tenant_id: UUID, cid: UUID) -> None:
        found = self._conn.rows(
            "SELECT * FROM comparative_experiments WHERE tenant_id = ? AND id = ?",
            [tenant_id, cid],
            versions=True,
        )
        tombstone(self._conn, "comparative_experiments_versions", found)

    # --- sharing: share tokens (store/sharing.py) ---------------------------------------

    def _put_share(self, row: Row) -> None:
        old = self._conn.rows(
            "SELECT * FROM share_tokens WHERE share_token = ?", [row["share_token"]], versions=True
        )
        put(
            self._conn,
            "share_tokens_versions",
            [row],
            {o["share_token"]: o for o in old},
            id_column="share_token",
        )

    def _drop_shares(self, tenant_id: UUID, kind: ShareKind, target_id: UUID) -> None:
        found = self._conn.rows(
            "SELECT * FROM share_tokens WHERE tenant_id = ? AND kind = ? AND target_id = ?",
            [tenant_id, kind, target_id],
            versions=True,
        )
        if found:
            tombstone(self._conn, "share_tokens_versions", found)

    # --- annotation queues ---------------------------------------------------------------

    def _put_queue_rows(self, table: str, rows: Sequence[Row]) -> None:
        found = self._conn.rows(
            f"SELECT * FROM {table} WHERE tenant_id = ? AND {CLICKHOUSE.in_ids('id')}",
            [rows[0]["tenant_id"], CLICKHOUSE.uuid_params(r["id"] for r in rows)],
            versions=True,
        )
        old = {UUID(str(r["id"])): r for r in found}
        put(self._conn, f"{table}_versions", [{**r, "id": UUID(str(r["id"]))} for r in rows], old)

    def _delete_queue_rows(self, table: str, tenant_id: UUID, column: str, ids: list[Any]) -> None:
        tombstone_where(
            self._conn,
            f"{table}_versions",
            f"tenant_id = ? AND {CLICKHOUSE.in_ids(column)}",
            [tenant_id, CLICKHOUSE.uuid_params(ids)],
        )

    # --- deltas -------------------------------------------------------------------------

    def delta(
        self, query: DeltaQuery, key: str, *, lower_is_better: bool, window: Page | None
    ) -> Mapping[UUID, tuple[IdList, IdList]]:
        return clickhouse_delta.delta(self._conn, query, key, lower_is_better, window)

    def example_means(self, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
        return clickhouse_delta.example_means(self._conn, query, key)
