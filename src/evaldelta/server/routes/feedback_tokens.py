"""Presigned feedback tokens: made and listed with an API key, used without one."""

from __future__ import annotations

import math
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request

from evaldelta.errors import Invalid
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.feedback_tokens import api_root, new_tokens, use_token
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.schemas.feedback_tokens import (
    FeedbackIngestToken,
    FeedbackTokenCreate,
    FeedbackTokenUsed,
    FeedbackWithToken,
)
from evaldelta.store.base import Page, Row

router = APIRouter(tags=["feedback"], dependencies=[Depends(declared_query_only)])

_MESSAGE = {"$ref": "#/components/schemas/ErrorMessage"}
# The token routes take no API key, so their errors are documented here rather than
# derived from the key dependency (server/openapi.py).
_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such token", "content": {"application/json": {"schema": _MESSAGE}}},
    410: {
        "description": "The token has expired",
        "content": {"application/json": {"schema": _MESSAGE}},
    },
    429: {
        "description": "Busy (the write queue is full): retry",
        "content": {"application/json": {"schema": _MESSAGE}},
    },
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"schema": _MESSAGE}}}
    for code, text in (
        (400, "Malformed body"),
        (413, "The body is larger than the server's limit"),
        (415, "Unsupported Content-Encoding"),
    )
}


def _answer(token_id: UUID, row: Row, url: str) -> Row:
    fields = ("expires_at", "feedback_key", "run_id", "feedback_config", "feedback_id")
    return {"id": token_id, "url": url, **{name: row[name] for name in fields}}


@router.post("/feedback/tokens", response_model=FeedbackIngestToken | list[FeedbackIngestToken])
async def create_feedback_tokens(
    request: Request,
    tenant: Tenant,
    writer: WriterDep,
    body: Annotated[FeedbackTokenCreate | list[FeedbackTokenCreate], Body()],
) -> Any:
    """One token (a body object) or several (an array); each URL is answered only here."""
    many = isinstance(body, list)
    bodies = body if isinstance(body, list) else [body]
    if len(bodies) > 100:
        raise Invalid("at most 100 tokens at once", loc=["body"])
    made = new_tokens(bodies, many=many)
    await writer.call(lambda s: [s.write_feedback_token(tenant, row) for _, row in made])
    root = api_root(str(request.url))
    answers = [_answer(secret, row, f"{root}/feedback/tokens/{secret}") for secret, row in made]
    return answers if many else answers[0]


@router.get("/feedback/tokens", response_model=list[FeedbackIngestToken])
def list_feedback_tokens(
    request: Request,
    run_id: Annotated[UUID, Query(examples=["00000000-0000-4000-8000-000000000000"])],
    tenant: Tenant,
    store: StoreDep,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """A run's tokens.  Their secrets are not kept, so each ``url`` ends in ``{token}``
    where the secret was (it is answered once, when the token is made); ``id`` is the
    token's own id."""
    root = api_root(str(request.url))
    rows = store.list_feedback_tokens(tenant, run_id, Page(offset, limit))
    return [_answer(r["id"], r, f"{root}/feedback/tokens/{{token}}") for r in rows]


def _finite(value: Any, name: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{name} must be a finite number", loc=["query", name])
    return value


@router.get("/feedback/tokens/{token}", response_model=FeedbackTokenUsed, responses=_TOKEN_ERRORS)
async def create_feedback_with_token_get(
    token: UUID,
    store: StoreDep,
    writer: WriterDep,
    score: float | bool | None = None,
    value: float | bool | str | None = None,
    comment: str | None = None,
    correction: str | None = None,
) -> Any:
    """Leave feedback with a token's URL, e.g. ``GET <url>?score=1``: no API key."""
    fields = {
        "score": _finite(score, "score"),
        "value": _finite(value, "value"),
        "comment": comment,
        "correction": correction,
    }
    return await use_token(store, writer, token, fields)


@router.post(
    "/feedback/tokens/{token}",
    response_model=FeedbackTokenUsed,
    responses={**_TOKEN_ERRORS, **_BODY_ERRORS},
)
async def create_feedback_with_token_post(
    token: UUID, body: FeedbackWithToken, store: StoreDep, writer: WriterDep
) -> Any:
    """Leave feedback with a token, as ``create_feedback_from_token`` sends it: no API key."""
    return await use_token(store, writer, token, body.model_dump())
