"""A shared dataset's experiment runs and their feedback, read through its share token.

LangSmith's ``POST /public/{share_token}/datasets/runs/query`` and
``GET /public/{share_token}/datasets/feedback``: what the comparison page's read-only view
shows of one example (each experiment's runs, their scores). They read only the
experiments on the shared dataset, and only when it was shared with ``share_projects``;
an experiment outside it is the share routes' one 404 (``server/share_tokens.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from evaldelta.server.deps import StoreDep
from evaldelta.server.models import Feedback, RunsPage, RunsQuery
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes import feedback, runs
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.share_tokens import SharedDataset, SharedDatasetDep, not_shared
from evaldelta.store.base import Page, SessionWhere, Store

router = APIRouter(tags=["public"], dependencies=[Depends(declared_query_only)])

SESSIONS_PAGE = 1000


def shared_experiments(
    shared: SharedDataset, store: Store, wanted: list[UUID] | None
) -> list[UUID]:
    """The experiments asked for (all on the dataset when none are): each must be on the
    shared dataset, and the dataset shared with its experiments; else the one 404."""
    if not shared.share_projects:
        raise not_shared()
    if wanted:
        for session_id in wanted:
            found = store.get_session(shared.tenant_id, session_id, stats=False)
            if found is None or found.get("reference_dataset_id") != shared.dataset_id:
                raise not_shared()
        return list(wanted)
    where = SessionWhere(reference_dataset=[shared.dataset_id])
    ids: list[UUID] = []
    while True:
        page = store.list_sessions(
            shared.tenant_id, where, Page(len(ids), SESSIONS_PAGE), stats=False
        )
        ids.extend(row["id"] for row in page)
        if len(page) < SESSIONS_PAGE:
            return ids


@router.post("/public/{share_token}/datasets/runs/query", response_model=RunsPage)
def query_shared_dataset_runs(shared: SharedDatasetDep, body: RunsQuery, store: StoreDep) -> Any:
    """``/runs/query`` over the shared dataset's experiments (its ``session`` narrows them)."""
    sessions = shared_experiments(shared, store, body.session)
    if not sessions:  # no experiment: nothing to read (an empty list would not filter)
        return {"runs": [], "cursors": {"next": None}}
    return runs.query_runs(body.model_copy(update={"session": sessions}), shared.tenant_id, store)


@router.get("/public/{share_token}/datasets/feedback", response_model=list[Feedback])
def read_shared_dataset_feedback(
    shared: SharedDatasetDep,
    store: StoreDep,
    run: Annotated[list[UUID] | None, Query()] = None,
    key: Annotated[list[str] | None, Query()] = None,
    session: Annotated[list[UUID] | None, Query()] = None,
    source: Annotated[list[Literal["api", "model", "app", "auto_eval"]] | None, Query()] = None,
    has_comment: bool | None = None,
    has_score: bool | None = None,
    level: Literal["run", "session"] | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """``/feedback`` over the shared dataset's experiments: feedback on their runs and
    on themselves, filtered and paged as there."""
    sessions = shared_experiments(shared, store, session)
    if not sessions:
        return []
    return feedback.list_feedback(
        shared.tenant_id,
        store,
        run=run,
        key=key,
        session=sessions,
        source=source,
        has_comment=has_comment,
        has_score=has_score,
        level=level,
        offset=offset,
        limit=limit,
    )
