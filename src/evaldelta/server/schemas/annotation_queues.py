"""Wire shapes of annotation queues, as LangSmith's API and the SDK's schemas have them
(``AnnotationQueue``, ``AnnotationQueueWithDetails``, ``RunWithAnnotationQueueInfo``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from evaldelta.ingest.records import JsonObject
from evaldelta.server.models import Request, Response, Run

# --- the rubric -------------------------------------------------------------------------


class RubricRule(Request):
    """One rule of ``required_if`` or ``visible_if``: a test of an earlier item's feedback."""

    key: str = Field(min_length=1, max_length=180)
    op: Literal["is", "is_one_of", "is_empty", "is_not_empty"]
    values: list[float] | None = Field(default=None, max_length=1000)


class RubricConditions(Request):
    join: Literal["all", "any"]
    rules: list[RubricRule] = Field(min_length=1, max_length=100)


class RubricItem(Request):
    """A feedback key a reviewer scores, with how to score it."""

    feedback_key: str = Field(min_length=1, max_length=180)
    description: str | None = None
    value_descriptions: dict[str, str] | None = None
    score_descriptions: dict[str, str] | None = None
    is_required: bool | None = None
    required_if: RubricConditions | None = None
    visible_if: RubricConditions | None = None
    is_assertion: bool | None = None
    regex_validator: str | None = Field(default=None, max_length=500)
    feedback_config_id: UUID | None = Field(
        default=None, description="Not supported (a key has one config): refused with a 422"
    )
    feedback_config: JsonObject | None = Field(
        default=None, description="Read-only: the key's config is filled in on reads"
    )


Rubric = list[RubricItem]


def check_rubric(items: Rubric | None) -> Rubric | None:
    """Each key once; conditions only on earlier items' keys."""
    seen: set[str] = set()
    for item in items or []:
        if item.feedback_key in seen:
            raise ValueError(f"feedback_key {item.feedback_key!r} is in the rubric twice")
        for conditions in (item.required_if, item.visible_if):
            for rule in conditions.rules if conditions else []:
                if rule.key not in seen:
                    raise ValueError(f"a condition names {rule.key!r}, not an earlier item's key")
        seen.add(item.feedback_key)
    return items


def stored_rubric(items: Rubric | None) -> list[JsonObject] | None:
    """The rubric as stored: the fields given (an update that leaves out an item's
    conditions keeps them), without the read-only config."""
    if items is None:
        return None
    return [
        item.model_dump(mode="json", exclude_unset=True, exclude={"feedback_config"})
        for item in items
    ]


# --- queues -----------------------------------------------------------------------------


class QueueFields(Request):
    """What a create and an update both may set."""

    description: str | None = None
    default_dataset: UUID | None = None
    num_reviewers_per_item: int | None = Field(default=None, ge=1, le=100)
    enable_reservations: bool | None = Field(
        default=None, description="Not supported: true is refused with a 422"
    )
    reservation_minutes: int | None = Field(
        default=None, description="Not supported (no reservations): refused with a 422"
    )
    reviewer_access_mode: Literal["any", "assigned"] | None = Field(
        default=None, description='Only "any": "assigned" is refused with a 422'
    )
    rubric_instructions: str | None = None
    rubric_items: Rubric | None = Field(default=None, max_length=100)
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _rubric(self) -> QueueFields:
        check_rubric(self.rubric_items)
        return self


class QueueCreate(QueueFields):
    """Body of ``POST /annotation-queues``."""

    name: str = Field(min_length=1, max_length=1000)
    id: UUID | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    session_ids: list[UUID] | None = Field(
        default=None, description="Not supported: a non-empty list is refused with a 422"
    )


class QueueUpdate(QueueFields):
    """Body of ``PATCH /annotation-queues/{queue_id}``: a null leaves a field unchanged."""

    name: str | None = Field(default=None, min_length=1, max_length=1000)


class AnnotationQueue(Response):
    id: UUID
    name: str
    description: str | None = None
    created_at: datetime
    updated_at: datetime
    tenant_id: UUID
    queue_type: Literal["single", "pairwise"] = "single"
    default_dataset: UUID | None = None
    num_reviewers_per_item: int | None = 1
    enable_reservations: bool | None = False
    reservation_minutes: int | None = None
    reviewer_access_mode: str = "any"
    metadata: JsonObject | None = None
    source_rule_id: UUID | None = None
    run_rule_id: UUID | None = None
    assigned_reviewers: list[JsonObject] = Field(default_factory=list)


class AnnotationQueueWithSize(AnnotationQueue):
    total_runs: int


class RubricItemOut(Response):
    feedback_key: str
    feedback_config: JsonObject | None = None


class AnnotationQueueWithRubric(AnnotationQueue):
    rubric_instructions: str | None = None
    rubric_items: list[RubricItemOut] | None = None


# --- items ------------------------------------------------------------------------------


class AddRun(Request):
    """A run to add, by id (``session_id`` and ``start_time``, when given, must be the
    run's: the by-key form requires them)."""

    run_id: UUID
    session_id: UUID | None = None
    start_time: datetime | None = None
    source_proposed_example_id: UUID | None = None


class AddRunByKey(AddRun):
    session_id: UUID
    start_time: datetime


class QueueRun(Response):
    """An item of a queue (``queue_run_id`` elsewhere)."""

    id: UUID
    queue_id: UUID
    run_id: UUID
    added_at: datetime
    last_reviewed_time: datetime | None = None
    source_proposed_example_id: UUID | None = None


class RunWithQueueInfo(Run):
    queue_run_id: UUID
    added_at: datetime | None = None
    effective_added_at: datetime | None = None
    last_reviewed_time: datetime | None = None
    source_proposed_example_id: UUID | None = None


class QueueRunUpdate(Request):
    """``PATCH .../runs/{queue_run_id}``: a review time marks the item reviewed by the
    caller; ``added_at`` moves it in the queue's order."""

    last_reviewed_time: datetime | None = None
    added_at: datetime | None = None


class QueueRunStatus(Request):
    """``POST /annotation-queues/status/{queue_run_id}``: the caller's status on an item;
    ``completed`` marks it reviewed by them."""

    status: str | None = Field(default=None, min_length=1, max_length=100)
    override_added_at: datetime | None = None


class QueueSize(Response):
    size: int


class QueueReview(Response):
    """Who reviewed an item, and the feedback its run has on the rubric's keys."""

    queue_run_id: UUID
    run_id: UUID
    reviewer: str
    status: str
    reviewed_at: datetime
    feedback: list[JsonObject]
