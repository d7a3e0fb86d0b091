"""Public reads through a share token, without an API key: ``/public/{share_token}/…``.

A dataset's token reads the dataset (``read_shared_dataset``), its examples
(``list_shared_examples``) and, when shared with ``share_projects``, its experiments
(``list_shared_projects``) and the feedback deltas between them (the public twins of
``/datasets/{id}/runs/delta`` and its stream, answering byte for byte as they do).  A
run's token reads the run and the runs below it (``read_shared_run``,
``list_shared_runs``).  Every read looks the token up again, so an unshared token stops
at once; every failure is the same 404 (``server/share_tokens.py``).  An API key sent
along is ignored: these routes neither read nor check it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from evaldelta.delta.filters.parser import MAX_FILTER_LENGTH
from evaldelta.errors import NotFound
from evaldelta.server.deps import StoreDep
from evaldelta.server.models import (
    DeltaQueryBody,
    DeltaStreamQuery,
    Example,
    Session,
    SessionFeedbackDelta,
)
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes import examples, sessions
from evaldelta.server.routes.deltas import TOO_MANY_STREAMS, delta_page, delta_stream
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.schemas.sharing import (
    DatasetPublic,
    PublicRunsPage,
    PublicRunsQuery,
    RunPublic,
    only,
)
from evaldelta.server.share_tokens import (
    SharedDataset,
    SharedDatasetDep,
    SharedRunDep,
    in_shared_trace,
    not_shared,
)
from evaldelta.server.stream_limits import StreamsDep
from evaldelta.store.base import RunWhere

router = APIRouter(tags=["public"], dependencies=[Depends(declared_query_only)])

# A page of a shared trace's runs (the SDK pages on with ``cursors.next``).
RUNS_PAGE = 100


def _with_projects(shared: SharedDataset) -> SharedDataset:
    """The dataset's experiments are read only through a token shared with them."""
    if not shared.share_projects:
        raise not_shared()
    return shared


# --- a shared dataset ---------------------------------------------------------------------


@router.get("/public/{share_token}/datasets", response_model=DatasetPublic)
def read_shared_dataset(shared: SharedDatasetDep, store: StoreDep) -> Any:
    """The shared dataset (no tenant, no statistics of its experiments)."""
    found = store.get_dataset(shared.tenant_id, shared.dataset_id)
    if found is None:
        raise not_shared()
    return only(DatasetPublic, {**found, "example_count": found.get("example_count") or 0})


@router.get(
    "/public/{share_token}/examples",
    response_model=list[Example],
    response_model_exclude_unset=True,  # attachment_urls only when selected
)
def read_shared_examples(
    request: Request,
    shared: SharedDatasetDep,
    store: StoreDep,
    id: Annotated[list[UUID] | None, Query()] = None,
    as_of: str | None = None,
    metadata: str | None = None,
    filter: Annotated[str | None, Query(max_length=MAX_FILTER_LENGTH)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
    select: Annotated[list[examples.ExampleSelect] | None, Query()] = None,
) -> Any:
    """The shared dataset's examples, filtered and paged as ``GET /examples`` does."""
    return examples.list_examples(
        request,
        shared.tenant_id,
        store,
        dataset=shared.dataset_id,
        id=id,
        as_of=as_of,
        metadata=metadata,
        filter=filter,
        offset=offset,
        limit=limit,
        select=select,
    )


@router.get("/public/{share_token}/datasets/sessions", response_model=list[Session])
def read_shared_sessions(
    shared: SharedDatasetDep,
    store: StoreDep,
    id: Annotated[list[UUID] | None, Query()] = None,
    name: str | None = None,
    name_contains: str | None = None,
    sort_by: Literal["name", "start_time"] = "start_time",
    sort_by_desc: bool = True,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """The experiments on the shared dataset, with their statistics, when it was shared
    with ``share_projects`` (404 otherwise)."""
    shared = _with_projects(shared)
    return sessions.list_sessions(
        shared.tenant_id,
        store,
        id=id,
        name=name,
        name_contains=name_contains,
        reference_dataset=[shared.dataset_id],
        sort_by=sort_by,
        sort_by_desc=sort_by_desc,
        include_stats=True,
        offset=offset,
        limit=limit,
    )


@router.post(
    "/public/{share_token}/datasets/runs/delta",
    response_model=SessionFeedbackDelta,
    response_model_exclude_unset=True,
)
def read_shared_delta(shared: SharedDatasetDep, body: DeltaQueryBody, store: StoreDep) -> Any:
    """``/datasets/{id}/runs/delta`` on the shared dataset: the same body, the same
    answer.  Only with a token shared with ``share_projects``; any session or comparative
    experiment outside the dataset is the one 404."""
    shared = _with_projects(shared)
    try:
        return delta_page(store, shared.tenant_id, shared.dataset_id, body)
    except NotFound as err:
        raise not_shared() from err


@router.post(
    "/public/{share_token}/datasets/runs/delta/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 429: TOO_MANY_STREAMS},
)
async def read_shared_delta_stream(
    shared: SharedDatasetDep, body: DeltaStreamQuery, store: StoreDep, streams: StreamsDep
) -> StreamingResponse:
    """``/datasets/{id}/runs/delta/stream`` on the shared dataset: the same body, the
    same events, counted against the sharing tenant's limit of open streams."""
    shared = _with_projects(shared)
    try:
        return await delta_stream(store, streams, shared.tenant_id, shared.dataset_id, body)
    except NotFound as err:
        raise not_shared() from err


# --- a shared run -------------------------------------------------------------------------


@router.get("/public/{share_token}/run", response_model=RunPublic)
def read_shared_run(shared: SharedRunDep) -> Any:
    """The shared run."""
    return only(RunPublic, shared.run)


@router.get("/public/{share_token}/run/{id}", response_model=RunPublic)
def read_shared_run_by_id(id: UUID, shared: SharedRunDep, store: StoreDep) -> Any:
    """A run of the shared run's subtree (the shared run or one below it)."""
    found = store.get_run(shared.tenant_id, id)
    if found is None or not in_shared_trace(shared.run, found):
        raise not_shared()
    return only(RunPublic, found)


@router.post("/public/{share_token}/runs/query", response_model=PublicRunsPage)
def query_shared_runs(shared: SharedRunDep, body: PublicRunsQuery, store: StoreDep) -> Any:
    """The runs of the shared subtree (those of ``id``, if given), in start order, a page
    at a time."""
    prefix = str(shared.run["dotted_order"])
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = store.filter_dialect.like("r.dotted_order")
    subtree = (f"(r.dotted_order = ? OR {like})", [prefix, escaped + ".%"])
    where = RunWhere(ids=body.id, trace=shared.run["trace_id"])
    runs, next_cursor = store.query_runs(
        shared.tenant_id, where, subtree, body.cursor, RUNS_PAGE, "asc"
    )
    return {"runs": [only(RunPublic, r) for r in runs], "cursors": {"next": next_cursor}}
