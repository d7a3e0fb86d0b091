"""What both stores do alike, written once: a base class of ``DuckDBStore`` and
``ClickHouseStore``.

The reads go through :class:`~evaldelta.store.listing.Listing`; the rules of dataset names
and feedback configs are here, and each backend only says how it reads and writes one
stored row (a transaction's ``INSERT``/``UPDATE`` on DuckDB, a new version on ClickHouse).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.base import (
    DatasetWhere,
    ExampleWhere,
    FeedbackWhere,
    Page,
    ResultsQuery,
    Row,
    RunWhere,
    SessionWhere,
)
from evaldelta.store.listing import Listing
from evaldelta.store.results import experiment_results


def now() -> datetime:
    return datetime.now(UTC)


# --- the rules of session writes --------------------------------------------------------


def existing_session(
    name: str, session_id: UUID, by_name: Row | None, by_id: Row | None, *, upsert: bool
) -> Row | None:
    """The stored session a create answers with: the same create sent again (a client
    retry after a lost answer), or with ``upsert`` the session of that name or id.  A 409
    if another session has the name or the id; None if the session is new."""
    if by_id is not None and (by_id["name"] == name or upsert):
        return by_id
    if by_name is not None:
        if upsert:
            return by_name
        raise Conflict(f"Session with name {name!r} already exists")
    if by_id is not None:
        raise Conflict(f"Session with id {session_id} already exists")
    return None


def new_session(tenant_id: UUID, session_id: UUID, name: str, row: Row) -> Row:
    """The stored fields of a session created from an API row."""
    return {
        "tenant_id": tenant_id,
        "id": session_id,
        "name": name,
        "description": row.get("description"),
        "start_time": row.get("start_time") or now(),
        "end_time": row.get("end_time"),
        "extra": row.get("extra"),
        "reference_dataset_id": row.get("reference_dataset_id"),
        "default_dataset_id": row.get("default_dataset_id"),
        "trace_tier": row.get("trace_tier"),
    }


def session_changes(current: Row, changes: Row, name_taken: Callable[[str], bool]) -> Row:
    """The fields an update gives (a null means unchanged: the SDK sends nulls it does not
    mean); a 409 if it renames the session to a name another session has."""
    given = {k: v for k, v in changes.items() if v is not None}
    if "name" in given and given["name"] != current["name"] and name_taken(given["name"]):
        raise Conflict(f"Session with name {given['name']!r} already exists")
    return given


def require_examples(example_ids: list[UUID], found: Iterable[Any]) -> None:
    """A 404 naming the first (by text) of ``example_ids`` that was not ``found``."""
    missing = set(example_ids) - set(found)
    if missing:
        raise NotFound(f"Example {sorted(map(str, missing))[0]} not found")


class CommonStore:
    """The reads and rules the two backends share; ``_list`` is set by the backend."""

    _list: Listing

    def _dataset_query(self, tenant_id: UUID, dataset_id: UUID | None) -> tuple[str, list[Any]]:
        """The backend's dataset query (``datasets`` aliased ``d``, with their counts) of
        the tenant, or of one of its datasets, ending in a WHERE clause."""
        raise NotImplementedError

    def _feedback_config_row(self, tenant_id: UUID, key: str) -> Row | None:
        """The stored config of ``key``, as the writer thread sees it."""
        raise NotImplementedError

    def _put_feedback_config(self, new: Row, current: Row | None) -> None:
        """Store ``new`` in place of ``current``."""
        raise NotImplementedError

    # --- datasets -------------------------------------------------------------------

    def get_dataset(self, tenant_id: UUID, dataset_id: UUID) -> Row | None:
        rows = self._list.rows(*self._dataset_query(tenant_id, dataset_id))
        return rows[0] if rows else None

    def _require_dataset(self, tenant_id: UUID, dataset_id: UUID) -> Row:
        found = self.get_dataset(tenant_id, dataset_id)
        if found is None:
            raise NotFound(f"Dataset {dataset_id} not found")
        return found

    def _check_dataset_name(self, tenant_id: UUID, name: str) -> None:
        """A 409 if the tenant has a dataset of this name."""
        if self._list.rows(
            "SELECT 1 FROM datasets WHERE tenant_id = ? AND name = ?", [tenant_id, name]
        ):
            raise Conflict(f"Dataset with name {name!r} already exists")

    def _check_dataset_rename(self, tenant_id: UUID, current: Row, changes: Row) -> None:
        """A 409 if ``changes`` renames the dataset to another dataset's name."""
        name = changes.get("name")
        if name and name != current["name"]:
            self._check_dataset_name(tenant_id, name)

    def list_datasets(self, tenant_id: UUID, where: DatasetWhere, page: Page) -> list[Row]:
        sql, params = self._dataset_query(tenant_id, None)
        return self._list.datasets(sql, params, where, page)

    # --- examples -------------------------------------------------------------------

    def _examples_by_id(self, tenant_id: UUID, ids: list[UUID]) -> list[Row]:
        return self.list_examples(tenant_id, ExampleWhere(ids=ids), Page(0, max(len(ids), 1)))

    def get_example(self, tenant_id: UUID, example_id: UUID) -> Row | None:
        rows = self._examples_by_id(tenant_id, [example_id])
        return rows[0] if rows else None

    def list_examples(self, tenant_id: UUID, where: ExampleWhere, page: Page) -> list[Row]:
        return self._list.examples(tenant_id, where, page)

    # --- sessions -------------------------------------------------------------------

    def get_session(self, tenant_id: UUID, session_id: UUID, *, stats: bool) -> Row | None:
        where = SessionWhere(ids=[session_id])
        rows = self._list.sessions(tenant_id, where, Page(0, 1), stats=stats)
        return rows[0] if rows else None

    def list_sessions(
        self, tenant_id: UUID, where: SessionWhere, page: Page, *, stats: bool
    ) -> list[Row]:
        return self._list.sessions(tenant_id, where, page, stats=stats)

    # --- runs and feedback ----------------------------------------------------------

    def get_run(self, tenant_id: UUID, run_id: UUID) -> Row | None:
        rows, _ = self._list.runs(tenant_id, RunWhere(ids=[run_id]), None, None, 1, "desc")
        return rows[0] if rows else None

    def query_runs(
        self,
        tenant_id: UUID,
        where: RunWhere,
        filter_sql: tuple[str, list[Any]] | None,
        cursor: str | None,
        limit: int,
        order: str,
    ) -> tuple[list[Row], str | None]:
        return self._list.runs(tenant_id, where, filter_sql, cursor, limit, order)

    def get_feedback(self, tenant_id: UUID, feedback_id: UUID) -> Row | None:
        rows = self._list.feedback(tenant_id, FeedbackWhere(ids=[feedback_id]), Page(0, 1))
        return rows[0] if rows else None

    def list_feedback(self, tenant_id: UUID, where: FeedbackWhere, page: Page) -> list[Row]:
        return self._list.feedback(tenant_id, where, page)

    # --- experiment results --------------------------------------------------------

    def experiment_results(self, tenant_id: UUID, query: ResultsQuery) -> list[Row]:
        return experiment_results(self._list, tenant_id, query)

    # --- feedback configs -----------------------------------------------------------

    def write_feedback_config(self, tenant_id: UUID, row: Row) -> Row:
        """Create or change a key's config; a change may leave out what stays the same."""
        key = row["feedback_key"]
        current = self._feedback_config_row(tenant_id, key)
        config = row.get("feedback_config") or (current or {}).get("feedback_config")
        if config is None:
            raise NotFound(f"Feedback config {key!r} not found")
        lower = row.get("is_lower_score_better")
        if lower is None:
            lower = bool((current or {}).get("is_lower_score_better", False))
        new = {
            "tenant_id": tenant_id,
            "feedback_key": key,
            "feedback_config": config,
            "is_lower_score_better": lower,
            "modified_at": now(),
        }
        self._put_feedback_config(new, current)
        return self.list_feedback_configs(tenant_id, [key], Page(0, 1))[0]

    def list_feedback_configs(
        self, tenant_id: UUID, keys: list[str] | None, page: Page
    ) -> list[Row]:
        return self._list.feedback_configs(tenant_id, keys, page)

    def lower_is_better(self, tenant_id: UUID, keys: Sequence[str]) -> set[str]:
        return self._list.lower_is_better(tenant_id, keys)
