"""The rules of annotation queues: table names, ids, rubric updates, item shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid5

from evaldelta.store.base import Row

# Item and review ids are made from what they join (a queue and a run; an item and a
# reviewer), so that adding a run twice, or two servers adding it at once, is one item.
NAMESPACE = UUID("2f0c6a52-7a43-4f0e-8d8e-5b1f3c9a4e11")

QUEUES = "annotation_queues"
ITEMS = "annotation_queue_runs"
REVIEWS = "annotation_queue_reviews"

# The stored fields of a queue (``queue_type`` is always "single": pairwise queues are not
# served).
QUEUE_COLUMNS = (
    "tenant_id",
    "id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "queue_type",
    "default_dataset",
    "num_reviewers_per_item",
    "enable_reservations",
    "reservation_minutes",
    "reviewer_access_mode",
    "metadata",
    "rubric_instructions",
    "rubric_items",
)

Status = Literal["needs_my_review", "needs_others_review", "completed"]


def item_id(queue_id: UUID, run_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"item/{queue_id}/{run_id}")


def review_id(queue_run_id: UUID, reviewer: str) -> UUID:
    return uuid5(NAMESPACE, f"review/{queue_run_id}/{reviewer}")


def now() -> datetime:
    return datetime.now(UTC)


def merged_rubric(current: list[Row] | None, given: list[Row]) -> list[Row]:
    """A new rubric replacing ``current``: an item that leaves out ``required_if`` or
    ``visible_if`` keeps its key's current conditions (the SDK's documented update)."""
    before = {item["feedback_key"]: item for item in current or []}
    out = []
    for item in given:
        old: Row = before.get(item["feedback_key"], {})
        kept: Row = {k: old[k] for k in ("required_if", "visible_if") if k in old and k not in item}
        out.append({**item, **kept})
    return out


def same_key(run: Row, given: Row) -> bool:
    """Whether the by-key form's ``session_id`` and ``start_time`` are the run's."""
    if given.get("session_id") is not None and str(given["session_id"]) != str(run["session_id"]):
        return False
    start = given.get("start_time")
    if start is None:
        return True
    stored = run["start_time"]
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return bool(abs(stored - start) < timedelta(milliseconds=1))


def public_item(item: Row) -> Row:
    """An item as the add and update routes answer it."""
    keep = ("id", "queue_id", "run_id", "added_at", "last_reviewed_time")
    return {
        **{k: item.get(k) for k in keep},
        "source_proposed_example_id": item.get("source_proposed_example_id"),
    }


def queue_info(item: Row) -> Row:
    """The fields a listed run carries from its item."""
    return {
        "queue_run_id": item["id"],
        "added_at": item["added_at"],
        "effective_added_at": item["added_at"],
        "last_reviewed_time": item["last_reviewed_time"],
        "source_proposed_example_id": item.get("source_proposed_example_id"),
    }
