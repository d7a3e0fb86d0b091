"""The rules of comparative (pairwise) experiments, the same on both stores.

A comparative experiment names two or more experiments (sessions) of one dataset; a
pairwise evaluator then writes feedback on each side's runs with the comparative
experiment's id in ``comparative_experiment_id``.  Every experiment must be the tenant's
and run on that dataset: anything else is a 404, as for the delta endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import UUID, uuid4

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.base import Row


def reference_dataset(row: Row, sessions: Mapping[UUID, Row]) -> UUID:
    """The dataset a new comparative experiment is over: the one given, else its first
    experiment's (as the SDK reads it when it sends none)."""
    given = row.get("reference_dataset_id")
    if given is not None:
        return UUID(str(given))
    first = row["experiment_ids"][0]
    found = sessions.get(first)
    if found is None or found.get("reference_dataset_id") is None:
        raise NotFound(f"Session {first} not found")
    return UUID(str(found["reference_dataset_id"]))


def check_experiments(ids: list[UUID], sessions: Mapping[UUID, Row], dataset_id: UUID) -> None:
    """A 404 naming the first experiment that is not the tenant's or not on the dataset."""
    for session_id in ids:
        found = sessions.get(session_id)
        if found is None or found.get("reference_dataset_id") != dataset_id:
            raise NotFound(f"Session {session_id} not found in dataset {dataset_id}")


def new_comparative(tenant_id: UUID, dataset_id: UUID, ids: list[UUID], row: Row) -> Row:
    """The stored fields of a new comparative experiment."""
    stamp = datetime.now(UTC)
    created = row.get("created_at") or stamp
    return {
        "tenant_id": tenant_id,
        "id": row.get("id") or uuid4(),
        "name": row.get("name"),
        "description": row.get("description"),
        "created_at": created,
        "modified_at": row.get("modified_at") or created,
        "reference_dataset_id": dataset_id,
        "experiment_ids": [str(i) for i in ids],
        "extra": row.get("extra"),
    }


def same_create(existing: Row, new: Row) -> Row:
    """The stored experiment a create with an id already taken answers with: itself when
    the create is the same one sent again (a retry after a lost answer), else a 409."""
    same = ("name", "reference_dataset_id")
    if (
        all(existing.get(k) == new.get(k) for k in same)
        and [str(i) for i in existing["experiment_ids"]] == new["experiment_ids"]
    ):
        return existing
    raise Conflict(f"Comparative experiment with id {new['id']} already exists")


def public(row: Row) -> Row:
    """A stored row as the API shows it (the experiment ids are in ``experiments_info``)."""
    return {k: v for k, v in row.items() if k != "experiment_ids"}
