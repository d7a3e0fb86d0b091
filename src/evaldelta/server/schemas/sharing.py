"""Wire shapes of sharing: the share states of datasets and runs, and what public
(share-token) reads answer, in LangSmith's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from evaldelta.ingest.records import JsonObject
from evaldelta.server.models import Request, Response


class DatasetShareRequest(Request):
    """What the SDK's ``share_dataset`` sends: the dataset's own id."""

    dataset_id: UUID | None = Field(
        default=None, description="If given, must be the dataset of the path"
    )


class RunShareRequest(Request):
    """What the SDK's ``share_run`` sends: the run's own id and the token to use."""

    run_id: UUID | None = Field(default=None, description="If given, must be the run of the path")
    share_token: UUID | None = Field(
        default=None,
        description="The token to share a run that is not shared yet with: a random (version"
        " 4) UUID; without one the server makes it.  A run already shared keeps its token.",
    )


class DatasetShareSchema(Response):
    dataset_id: UUID
    share_token: UUID


class RunShareSchema(Response):
    run_id: UUID
    share_token: UUID


class DatasetPublic(Response):
    """A shared dataset (LangSmith's DatasetPublicSchema): no tenant, no statistics."""

    id: UUID
    name: str
    description: str | None = None
    created_at: datetime
    inputs_schema_definition: JsonObject | None = None
    outputs_schema_definition: JsonObject | None = None
    externally_managed: bool | None = False
    transformations: list[JsonObject] | None = None
    data_type: str | None = "kv"
    example_count: int


class RunPublic(Response):
    """A run of a shared trace (LangSmith's RunPublicSchema): no session, no tenant."""

    id: UUID
    name: str
    run_type: str
    start_time: datetime
    end_time: datetime | None = None
    status: str
    trace_id: UUID
    dotted_order: str
    parent_run_id: UUID | None = None
    reference_example_id: UUID | None = None
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    extra: JsonObject | None = None
    error: str | None = None
    events: list[JsonObject] | None = None
    tags: list[str] | None = None
    serialized: JsonObject | None = None
    total_tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_cost: str | None = None
    prompt_cost: str | None = None
    completion_cost: str | None = None
    first_token_time: datetime | None = None
    feedback_stats: JsonObject | None = None
    execution_order: int = 1


class PublicRunsQuery(Request):
    """Body of ``/public/{token}/runs/query``: runs of the shared trace, by id, a page at
    a time (the SDK sends back ``cursors.next`` as ``cursor``)."""

    id: list[UUID] | None = None
    cursor: str | None = Field(default=None, max_length=100)


class PublicRunsPage(Response):
    runs: list[RunPublic]
    cursors: dict[str, str | None]


def only(model: type[Response], row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with only the fields of ``model``: response models keep extra keys, and a
    public answer must not carry what the model leaves out (tenant, session)."""
    return {name: row[name] for name in model.model_fields if name in row}
