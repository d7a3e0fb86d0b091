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

from evaldelta.errors import Conflict, Invalid, NotFound
from evaldelta.store import comparative
from evaldelta.store.attachments import referenced
from evaldelta.store.base import (
    ComparativeWhere,
    DatasetWhere,
    DeltaQuery,
    ExampleWhere,
    FeedbackWhere,
    IngestBatch,
    Page,
    ResultsQuery,
    Row,
    RunWhere,
    SessionWhere,
)
from evaldelta.store.coverage import errored_examples
from evaldelta.store.credentials import Credentials
from evaldelta.store.dataset_versions import LATEST, DatasetVersions, version_at
from evaldelta.store.dataset_versions import diff as version_diff
from evaldelta.store.dataset_versions import resolve as resolve_version
from evaldelta.store.listing import Listing
from evaldelta.store.results import experiment_results
from evaldelta.store.splits import apply_metadata_operations


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


class CommonStore(Credentials):
    """The reads and rules the two backends share; ``_list`` is set by the backend."""

    _list: Listing

    def has_dataset(self, tenant_id: UUID, dataset_id: UUID) -> bool:
        raise NotImplementedError

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

    def _put_comparative(self, row: Row) -> None:
        """Store a new comparative experiment."""
        raise NotImplementedError

    def _drop_comparative(self, tenant_id: UUID, cid: UUID) -> None:
        """Delete a stored comparative experiment."""
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

    def write_example_update(
        self, tenant_id: UUID, example_id: UUID, changes: Row, stamp: datetime | None = None
    ) -> Row:
        raise NotImplementedError

    # --- example attachments (feature: attachments) -----------------------------------

    def _named_digests(self) -> set[str]:
        """Every blob some version of some example names (history holds every state)."""
        rows = self._list.rows(
            "SELECT attachments FROM example_history WHERE attachments IS NOT NULL", []
        )
        return referenced(r["attachments"] for r in rows)

    def find_attachment(
        self, tenant_id: UUID, example_id: UUID, name: str, digest: str | None
    ) -> Row | None:
        if digest is None:
            current = self.get_example(tenant_id, example_id)
            found: Row | None = ((current or {}).get("attachments") or {}).get(name)
            return found
        rows = self._list.rows(
            """SELECT attachments FROM example_history
               WHERE tenant_id = ? AND id = ? AND attachments IS NOT NULL""",
            [tenant_id, example_id],
        )
        for row in rows:
            meta = row["attachments"].get(name)
            if meta is not None and meta["digest"] == digest:
                return dict(meta)
        return None

    def write_examples_metadata(
        self, tenant_id: UUID, dataset_id: UUID, example_ids: list[UUID], operations: list[Row]
    ) -> list[UUID]:
        """Apply metadata ``operations`` (see ``apply_metadata_operations``) to examples of
        one dataset; a 404 if the dataset or any example of it is missing."""
        if not self.has_dataset(tenant_id, dataset_id):
            # The SDK tells a missing dataset from a missing route by these words.
            raise NotFound(f"Dataset not found: {dataset_id}")
        ids = list(dict.fromkeys(example_ids))
        where = ExampleWhere(dataset_id=dataset_id, ids=ids)
        found = self.list_examples(tenant_id, where, Page(0, len(ids)))
        require_examples(ids, (r["id"] for r in found))
        stamp = now()  # one version for the request
        for row in found:
            metadata = apply_metadata_operations(row["metadata"], operations)
            self.write_example_update(tenant_id, row["id"], {"metadata": metadata}, stamp)
        return ids

    def list_splits(self, tenant_id: UUID, dataset_id: UUID, as_of: str | None) -> list[str]:
        """The names of the dataset's splits (as of a version), sorted."""
        at = self.resolve_as_of(tenant_id, dataset_id, as_of, ["query", "as_of"])
        return self._list.splits(tenant_id, dataset_id, at)

    # --- dataset versions (see dataset_versions.py) -----------------------------------

    def _put_tag(self, tenant_id: UUID, dataset_id: UUID, tag: str, as_of: datetime) -> None:
        raise NotImplementedError

    @property
    def _versions(self) -> DatasetVersions:
        return DatasetVersions(self._list)

    def resolve_as_of(
        self, tenant_id: UUID, dataset_id: UUID, as_of: str | None, loc: list[str | int]
    ) -> datetime | None:
        """The time an ``as_of`` (a time, a tag, ``"latest"``) names; None for today."""
        dataset = self._require_dataset(tenant_id, dataset_id)
        return resolve_version(self._versions, tenant_id, dataset, as_of, loc)

    def example_dataset(self, tenant_id: UUID, example_id: UUID) -> UUID | None:
        """The dataset an example is, or was last, in."""
        return self._versions.dataset_of(tenant_id, example_id)

    def read_dataset_version(
        self, tenant_id: UUID, dataset_id: UUID, as_of: str | None, tag: str | None
    ) -> Row:
        """The version in force at ``as_of``, or the one ``tag`` names."""
        dataset = self._require_dataset(tenant_id, dataset_id)
        if tag is not None and tag != LATEST:
            at = self._versions.tag_at(tenant_id, dataset_id, tag)
            if at is None:
                raise NotFound(f"Tag {tag!r} not found on dataset {dataset_id}")
        else:
            at = resolve_version(self._versions, tenant_id, dataset, as_of, ["query", "as_of"])
        version = version_at(self._versions, tenant_id, dataset, at)
        return {
            "as_of": version,
            "tags": self._versions.tags(tenant_id, dataset_id).get(version, []),
        }

    def list_dataset_versions(
        self, tenant_id: UUID, dataset_id: UUID, search: str | None, page: Page
    ) -> list[Row]:
        self._require_dataset(tenant_id, dataset_id)
        return self._versions.versions(tenant_id, dataset_id, search, page)

    def write_dataset_tag(
        self, tenant_id: UUID, dataset_id: UUID, as_of: datetime, tag: str
    ) -> Row:
        """Point ``tag`` at the version in force at ``as_of``."""
        dataset = self._require_dataset(tenant_id, dataset_id)
        if tag == LATEST:
            raise Invalid(f"{LATEST!r} always names today's version", loc=["body", "tag"])
        at = resolve_version(self._versions, tenant_id, dataset, as_of, ["body", "as_of"])
        version = version_at(self._versions, tenant_id, dataset, at)
        self._put_tag(tenant_id, dataset_id, tag, version)
        return {
            "as_of": version,
            "tags": self._versions.tags(tenant_id, dataset_id).get(version, []),
        }

    def diff_dataset_versions(
        self, tenant_id: UUID, dataset_id: UUID, from_version: str, to_version: str
    ) -> Row:
        """The examples added, removed and modified from one version to another."""
        stamps = []
        for name, text in (("from_version", from_version), ("to_version", to_version)):
            at = self.resolve_as_of(tenant_id, dataset_id, text, ["query", name])
            stamps.append(self._list.example_stamps(tenant_id, dataset_id, at))
        return version_diff(stamps[0], stamps[1])

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

    # --- coverage -------------------------------------------------------------------

    def errored_examples(self, query: DeltaQuery, key: str) -> dict[UUID, set[UUID]]:
        return errored_examples(self._list, query, key)

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

    def adopt_feedback_configs(self, batches: Sequence[IngestBatch]) -> None:
        """A key's first feedback that carries a ``feedback_config`` makes it the key's
        config; a key that has a config keeps it (a later, different config stays on its
        own feedback row only).  Called by the writer after it stores a batch."""
        by_tenant: dict[UUID, dict[str, Row]] = {}
        for batch in batches:  # in order of arrival: the first config of a key wins
            for row in batch.feedback:
                config = row.get("feedback_config")
                if config:
                    by_tenant.setdefault(batch.tenant_id, {}).setdefault(row["key"], config)
        for tenant_id, first in by_tenant.items():
            keys = list(first)
            have = self._list.feedback_configs(tenant_id, keys, Page(0, len(keys)))
            for key in set(keys) - {r["feedback_key"] for r in have}:
                self._put_feedback_config(
                    {
                        "tenant_id": tenant_id,
                        "feedback_key": key,
                        "feedback_config": first[key],
                        "is_lower_score_better": False,
                        "modified_at": now(),
                    },
                    None,
                )

    # --- comparative (pairwise) experiments -----------------------------------------

    def write_comparative_experiment(self, tenant_id: UUID, row: Row) -> Row:
        ids = list(dict.fromkeys(UUID(str(i)) for i in row["experiment_ids"]))
        sessions = {
            s["id"]: s
            for s in self.list_sessions(
                tenant_id, SessionWhere(ids=ids), Page(0, len(ids)), stats=False
            )
        }
        dataset_id = comparative.reference_dataset(row, sessions)
        if not self._list.rows(
            "SELECT 1 FROM datasets WHERE tenant_id = ? AND id = ?", [tenant_id, dataset_id]
        ):
            raise NotFound(f"Dataset {dataset_id} not found")
        comparative.check_experiments(ids, sessions, dataset_id)
        new = comparative.new_comparative(tenant_id, dataset_id, ids, row)
        existing = self.get_comparative_experiment(tenant_id, new["id"])
        if existing is not None:
            return comparative.same_create(existing, new)
        self._put_comparative(new)
        found = self.get_comparative_experiment(tenant_id, new["id"])
        assert found is not None
        return found

    def write_comparative_experiment_delete(self, tenant_id: UUID, cid: UUID) -> None:
        """Delete a comparative experiment; the feedback that names it stays (listed by
        ``comparative_experiment_id`` as before)."""
        if self.get_comparative_experiment(tenant_id, cid) is None:
            raise NotFound(f"Comparative experiment {cid} not found")
        self._drop_comparative(tenant_id, cid)

    def _forget_comparatives(self, tenant_id: UUID, dataset_id: UUID) -> None:
        """Delete the comparative experiments of a dataset being deleted: a dataset made
        again with its id starts without them."""
        where = ComparativeWhere(dataset_id=dataset_id)
        found: list[Row] = []
        while page := self._list.comparative_experiments(
            tenant_id, where, Page(len(found), 1000), details=False
        ):
            found += page
        for row in found:
            self._drop_comparative(tenant_id, row["id"])

    def get_comparative_experiment(self, tenant_id: UUID, cid: UUID) -> Row | None:
        """The stored row (``experiment_ids``, no names or statistics): a cheap check."""
        where = ComparativeWhere(ids=[cid])
        rows = self._list.comparative_experiments(tenant_id, where, Page(0, 1), details=False)
        return rows[0] if rows else None

    def list_comparative_experiments(
        self, tenant_id: UUID, where: ComparativeWhere, page: Page
    ) -> list[Row]:
        return self._list.comparative_experiments(tenant_id, where, page)
