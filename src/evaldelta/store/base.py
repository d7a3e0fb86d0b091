"""The store seam: what the rest of evaldelta asks of a database.

Rows cross the seam as plain dicts whose keys are the API's field names, JSON columns
already decoded.  Methods named ``write_*`` or ``apply_*`` are only ever called from the
single writer thread (see ``ingest/writer.py``); everything else may be called from any
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from evaldelta.store.dialect import Dialect

Row = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class RunOp:
    """One ``post`` or ``patch`` of a run, as the client sent it (nulls already dropped)."""

    kind: str  # "post" | "patch"
    fields: Row


@dataclass
class IngestBatch:
    """Runs and feedback of one request, for one tenant."""

    tenant_id: UUID
    run_ops: list[RunOp] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.run_ops) + len(self.feedback)

    @staticmethod
    def by_tenant(batches: Sequence[IngestBatch]) -> dict[UUID, IngestBatch]:
        """Many requests' batches as one per tenant, in order of arrival."""
        merged: dict[UUID, IngestBatch] = {}
        for batch in batches:
            into = merged.setdefault(batch.tenant_id, IngestBatch(batch.tenant_id))
            into.run_ops.extend(batch.run_ops)
            into.feedback.extend(batch.feedback)
        return merged


@dataclass(frozen=True)
class Page:
    offset: int = 0
    limit: int = 100


# --- what a list asks for ---------------------------------------------------------------
#
# One frozen dataclass per listed resource.  A field left at None (or an empty list) does
# not filter; every field that is set must hold for a row to be listed.


@dataclass(frozen=True)
class DatasetWhere:
    ids: Sequence[UUID] | None = None
    name: str | None = None
    name_contains: str | None = None  # ignoring case
    data_type: Sequence[str] | None = None


@dataclass(frozen=True)
class ExampleWhere:
    dataset_id: UUID | None = None
    ids: Sequence[UUID] | None = None
    splits: Sequence[str] | None = None  # in any of them (no split is "base")
    metadata: Mapping[str, Any] | None = None  # every entry equal (as JSON)
    # An example filter (``delta/filters/examples.py``) over column ``metadata``.
    filter_sql: tuple[str, list[Any]] | None = None
    as_of: datetime | None = None  # the examples as they were then (None: today's)


@dataclass(frozen=True)
class SessionWhere:
    ids: Sequence[UUID] | None = None
    name: str | None = None
    name_contains: str | None = None  # ignoring case
    reference_dataset: Sequence[UUID] | None = None
    reference_free: bool | None = None  # without (True) or with (False) a dataset
    sort_by: Literal["name", "start_time"] = "start_time"
    sort_desc: bool = True


@dataclass(frozen=True)
class RunWhere:
    ids: Sequence[UUID] | None = None
    session: Sequence[UUID] | None = None
    reference_example: Sequence[UUID] | None = None
    trace: UUID | None = None
    parent_run: UUID | None = None
    run_type: str | None = None
    is_root: bool | None = None
    error: bool | None = None  # has an error (True) or has none (False)
    start_time: datetime | None = None  # started at or after
    end_time: datetime | None = None  # ended at or before


@dataclass(frozen=True)
class FeedbackWhere:
    ids: Sequence[UUID] | None = None
    run: Sequence[UUID] | None = None
    session: Sequence[UUID] | None = None  # the run's session, else the feedback's own
    comparative_experiment_id: UUID | None = None
    key: Sequence[str] | None = None
    source: Sequence[str] | None = None  # ``feedback_source.type``
    has_comment: bool | None = None
    has_score: bool | None = None
    level: Literal["run", "session"] | None = None


@dataclass(frozen=True)
class ComparativeWhere:
    dataset_id: UUID | None = None
    ids: Sequence[UUID] | None = None
    name: str | None = None
    name_contains: str | None = None  # ignoring case
    sort_by: Literal["name", "created_at"] = "created_at"
    sort_desc: bool = True


# annotation queues
@dataclass(frozen=True)
class QueueWhere:
    ids: Sequence[UUID] | None = None
    name: str | None = None
    name_contains: str | None = None  # ignoring case
    dataset_id: UUID | None = None  # the queue's ``default_dataset``
    queue_type: str | None = None
    sort_by: Literal["name", "created_at", "updated_at"] = "created_at"
    sort_desc: bool = True


@dataclass(frozen=True)
class DeltaQuery:
    """One key's delta request, already validated against the store."""

    tenant_id: UUID
    dataset_id: UUID
    baseline_session_id: UUID
    comparison_session_ids: Sequence[UUID]
    feedback_keys: Sequence[str]
    # session id -> (SQL fragment over runs aliased ``r``, params); AND-ed together
    filters: dict[UUID, tuple[str, list[Any]]]
    comparative_experiment_id: UUID | None = None

    @property
    def sessions(self) -> list[UUID]:
        """The baseline, then each comparison once (the baseline is not compared with
        itself)."""
        return list(dict.fromkeys([self.baseline_session_id, *self.comparison_session_ids]))


@dataclass(frozen=True)
class ResultsQuery:
    """Examples of one dataset with the root runs some experiments made of them (what
    LangSmith's comparison view reads), already validated against the store."""

    dataset_id: UUID
    session_ids: Sequence[UUID]
    # session id -> (SQL fragment over runs aliased ``r``, params); only passing runs count
    filters: Mapping[UUID, tuple[str, list[Any]]] = field(default_factory=dict)
    example_ids: Sequence[UUID] | None = None
    # None: feedback outside any comparative experiment; else only that one's feedback
    comparative_experiment_id: UUID | None = None
    sort_key: str | None = None  # order examples by this key's mean score
    sort_desc: bool = True
    page: Page = Page()


@runtime_checkable
class IdList(Protocol):
    """Example ids a delta answers with: ``UUID`` objects when iterated, or straight to
    their JSON array (strings) without making any."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[UUID]: ...
    def json(self) -> bytes: ...


class Store(Protocol):
    """Everything evaldelta stores. Implemented by ``DuckDBStore`` and ``ClickHouseStore``."""

    # The SQL dialect run filters are compiled to, for ``query_runs`` and ``DeltaQuery``.
    filter_dialect: Dialect

    def close(self) -> None: ...
    def run_in_transaction(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in one transaction of the calling (writer) thread."""
        ...

    # tenants and keys
    def write_tenant(self, name: str) -> UUID: ...
    def write_api_key(self, tenant_id: UUID, key_hash: str, key_prefix: str) -> None: ...
    def tenant_for_key_hash(self, key_hash: str) -> UUID | None: ...
    def tenant_count(self) -> int: ...

    # datasets
    def write_dataset(self, tenant_id: UUID, row: Row) -> Row: ...
    def write_dataset_update(self, tenant_id: UUID, dataset_id: UUID, changes: Row) -> Row: ...
    def write_dataset_delete(self, tenant_id: UUID, dataset_id: UUID) -> None: ...
    def get_dataset(self, tenant_id: UUID, dataset_id: UUID) -> Row | None: ...
    def has_dataset(self, tenant_id: UUID, dataset_id: UUID) -> bool:
        """Whether the tenant has this dataset (cheaper than ``get_dataset``)."""
        ...

    def list_datasets(self, tenant_id: UUID, where: DatasetWhere, page: Page) -> list[Row]: ...

    # examples
    def write_examples(self, tenant_id: UUID, rows: list[Row]) -> list[Row]: ...
    def write_example_update(
        self, tenant_id: UUID, example_id: UUID, changes: Row, stamp: datetime | None = None
    ) -> Row:
        """Change one example; ``stamp`` (default now) is the time of the change: one
        request changing many examples makes one dataset version."""
        ...

    def write_example_delete(self, tenant_id: UUID, example_ids: list[UUID]) -> None: ...
    def get_example(self, tenant_id: UUID, example_id: UUID) -> Row | None: ...
    def list_examples(self, tenant_id: UUID, where: ExampleWhere, page: Page) -> list[Row]: ...
    def write_examples_metadata(
        self, tenant_id: UUID, dataset_id: UUID, example_ids: list[UUID], operations: list[Row]
    ) -> list[UUID]: ...
    def list_splits(self, tenant_id: UUID, dataset_id: UUID, as_of: str | None) -> list[str]: ...

    # dataset versions (``store/dataset_versions.py``)
    def resolve_as_of(
        self, tenant_id: UUID, dataset_id: UUID, as_of: str | None, loc: list[str | int]
    ) -> datetime | None: ...
    def example_dataset(self, tenant_id: UUID, example_id: UUID) -> UUID | None: ...
    def read_dataset_version(
        self, tenant_id: UUID, dataset_id: UUID, as_of: str | None, tag: str | None
    ) -> Row: ...
    def list_dataset_versions(
        self, tenant_id: UUID, dataset_id: UUID, search: str | None, page: Page
    ) -> list[Row]: ...
    def write_dataset_tag(
        self, tenant_id: UUID, dataset_id: UUID, as_of: datetime, tag: str
    ) -> Row: ...
    def diff_dataset_versions(
        self, tenant_id: UUID, dataset_id: UUID, from_version: str, to_version: str
    ) -> Row: ...

    # sessions
    def write_session(self, tenant_id: UUID, row: Row, *, upsert: bool) -> Row: ...
    def write_session_update(self, tenant_id: UUID, session_id: UUID, changes: Row) -> Row: ...
    def write_session_delete(self, tenant_id: UUID, session_id: UUID) -> None: ...
    def get_session(self, tenant_id: UUID, session_id: UUID, *, stats: bool) -> Row | None: ...
    def list_sessions(
        self, tenant_id: UUID, where: SessionWhere, page: Page, *, stats: bool
    ) -> list[Row]: ...

    # runs and feedback
    def apply_ingest(self, batches: list[IngestBatch]) -> None: ...
    def get_run(self, tenant_id: UUID, run_id: UUID) -> Row | None: ...
    def query_runs(
        self,
        tenant_id: UUID,
        where: RunWhere,
        filter_sql: tuple[str, list[Any]] | None,
        cursor: str | None,
        limit: int,
        order: str,
    ) -> tuple[list[Row], str | None]: ...
    def write_feedback_update(self, tenant_id: UUID, feedback_id: UUID, changes: Row) -> Row: ...
    def write_feedback_delete(self, tenant_id: UUID, feedback_id: UUID) -> None: ...
    def get_feedback(self, tenant_id: UUID, feedback_id: UUID) -> Row | None: ...
    def list_feedback(self, tenant_id: UUID, where: FeedbackWhere, page: Page) -> list[Row]: ...

    # experiment results
    def experiment_results(self, tenant_id: UUID, query: ResultsQuery) -> list[Row]:
        """One page of the query's examples that have runs, each with ``runs``: its root
        runs in the sessions, each with ``feedbacks`` and ``feedback_stats``."""
        ...

    # feedback configs
    def write_feedback_config(self, tenant_id: UUID, row: Row) -> Row: ...
    def write_feedback_config_delete(self, tenant_id: UUID, key: str) -> None: ...
    def list_feedback_configs(
        self, tenant_id: UUID, keys: list[str] | None, page: Page
    ) -> list[Row]: ...

    # deltas
    def delta(
        self, query: DeltaQuery, key: str, *, lower_is_better: bool, window: Page | None
    ) -> Mapping[UUID, tuple[IdList, IdList]]:
        """Per comparison session: the improved and the regressed examples, in order."""
        ...

    def example_means(self, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
        """Per session of the query: example id -> mean score (what the statistics use)."""
        ...

    def lower_is_better(self, tenant_id: UUID, keys: Sequence[str]) -> set[str]: ...

    # comparative (pairwise) experiments
    def write_comparative_experiment(self, tenant_id: UUID, row: Row) -> Row: ...
    def write_comparative_experiment_delete(self, tenant_id: UUID, cid: UUID) -> None: ...
    def get_comparative_experiment(self, tenant_id: UUID, cid: UUID) -> Row | None: ...
    def list_comparative_experiments(
        self, tenant_id: UUID, where: ComparativeWhere, page: Page
    ) -> list[Row]: ...

    # sharing: share tokens (``store/sharing.py``); ``kind`` is "dataset" or "run"
    def write_share(
        self,
        tenant_id: UUID,
        kind: Literal["dataset", "run"],
        target_id: UUID,
        *,
        token: UUID,
        share_projects: bool,
    ) -> Row: ...
    def write_unshare(
        self, tenant_id: UUID, kind: Literal["dataset", "run"], target_id: UUID
    ) -> None: ...
    def get_share(
        self, tenant_id: UUID, kind: Literal["dataset", "run"], target_id: UUID
    ) -> Row | None: ...
    def share_by_token(self, token: UUID) -> Row | None: ...
    # annotation queues (store/annotation_queues.py)
    def write_annotation_queue(self, tenant_id: UUID, row: Row) -> Row: ...
    def write_annotation_queue_update(
        self, tenant_id: UUID, queue_id: UUID, changes: Row
    ) -> Row: ...
    def write_annotation_queue_delete(self, tenant_id: UUID, queue_id: UUID) -> None: ...
    def get_annotation_queue(self, tenant_id: UUID, queue_id: UUID) -> Row | None: ...
    def list_annotation_queues(
        self, tenant_id: UUID, where: QueueWhere, page: Page
    ) -> list[Row]: ...
    def annotation_queues_of_run(self, tenant_id: UUID, run_id: UUID) -> list[Row]: ...
    def write_annotation_queue_runs(
        self, tenant_id: UUID, queue_id: UUID, runs: list[Row]
    ) -> list[Row]: ...
    def list_annotation_queue_runs(
        self,
        tenant_id: UUID,
        queue_id: UUID,
        reviewer: str,
        status: Literal["needs_my_review", "needs_others_review", "completed"] | None,
        page: Page,
        *,
        include_extra: bool = True,
    ) -> list[Row]: ...
    def annotation_queue_size(
        self,
        tenant_id: UUID,
        queue_id: UUID,
        reviewer: str,
        status: Literal["needs_my_review", "needs_others_review", "completed"] | None,
    ) -> int: ...
    def write_annotation_queue_run_update(
        self, tenant_id: UUID, queue_id: UUID, ref: UUID, changes: Row, reviewer: str
    ) -> Row: ...
    def write_annotation_queue_run_delete(
        self, tenant_id: UUID, queue_id: UUID, ref: UUID
    ) -> None: ...
    def write_annotation_queue_status(
        self,
        tenant_id: UUID,
        queue_run_id: UUID,
        status: str | None,
        override_added_at: datetime | None,
        reviewer: str,
    ) -> Row: ...
    def list_annotation_queue_reviews(
        self, tenant_id: UUID, queue_id: UUID, page: Page
    ) -> list[Row]: ...
