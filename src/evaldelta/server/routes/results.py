"""Experiment results: a dataset's examples with the runs of some experiments and their
feedback.  ``POST /datasets/{id}/runs`` (the SDK's ``get_experiment_results``) and its
successor ``POST /api/v2/datasets/{id}/experiment-runs`` (``datasets.experiment_runs``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from evaldelta.errors import Invalid
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep
from evaldelta.server.example_attachments import presented
from evaldelta.server.experiment_runs import (
    decode_offset,
    encode_offset,
    results_query,
    v2_items,
    with_previews,
)
from evaldelta.server.models import (
    ExamplesWithRunsQuery,
    ExampleWithRuns,
    ExperimentRunsPage,
    ExperimentRunsQuery,
)
from evaldelta.store.base import Page

router = APIRouter(tags=["datasets"])
v2 = APIRouter(tags=["datasets"])

DEFAULT_LIMIT = 100
CsvFormat = Annotated[
    Literal["csv"] | None, Query(description="Not supported: csv is refused with a 422")
]


@router.post("/datasets/{dataset_id}/runs", response_model=list[ExampleWithRuns])
def read_examples_with_runs(
    dataset_id: UUID,
    body: ExamplesWithRunsQuery,
    request: Request,
    tenant: Tenant,
    store: StoreDep,
    format: CsvFormat = None,
) -> Any:
    """The examples with a run in ``session_ids`` (after ``filters``), in creation order or
    by a feedback key's mean score (``sort_params``), each with its root runs in those
    sessions and their ``feedbacks``/``feedback_stats``."""
    if format is not None:
        raise Invalid("format=csv is not supported; ask for JSON", loc=["query", "format"])
    if body.include_annotator_detail:
        raise Invalid(
            "include_annotator_detail is not supported", loc=["body", "include_annotator_detail"]
        )
    sort = body.sort_params
    query = results_query(
        store,
        tenant,
        dataset_id,
        body.session_ids,
        filters=body.filters,
        example_ids=body.example_ids,
        comparative_experiment_id=body.comparative_experiment_id,
        sort=None if sort is None else ("sort_params", sort.sort_by, sort.sort_order),
        page=Page(body.offset, body.limit or DEFAULT_LIMIT),
    )
    examples = [presented(request, tenant, e) for e in store.experiment_results(tenant, query)]
    return with_previews(examples) if body.preview else examples


@v2.post(
    "/datasets/{dataset_id}/experiment-runs",
    response_model=ExperimentRunsPage,
    response_model_exclude_unset=True,  # a run carries the fields selected, no others
)
def query_experiment_runs(
    dataset_id: UUID, body: ExperimentRunsQuery, tenant: Tenant, store: StoreDep
) -> Any:
    """One page of examples with the runs of ``experiment_ids``: ``next_cursor`` until the
    last page; each run has its ``id`` and the ``selects`` fields."""
    offset = decode_offset(body.cursor)
    sort = body.sort
    query = results_query(
        store,
        tenant,
        dataset_id,
        body.experiment_ids,
        filters=body.filters,
        example_ids=body.example_ids,
        comparative_experiment_id=body.comparative_experiment_id,
        sort=None if sort is None else ("sort", sort.by, sort.order),
        page=Page(offset, body.page_size + 1),
    )
    examples = store.experiment_results(tenant, query)
    more = len(examples) > body.page_size
    items = v2_items(examples[: body.page_size], body.selects)
    return {"items": items, "next_cursor": encode_offset(offset + body.page_size) if more else None}
