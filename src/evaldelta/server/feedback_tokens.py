"""Presigned feedback tokens: made for a run and a key, used without an API key.

A token's secret is a random UUID (122 random bits) that appears only in its URL, once, in
the answer that creates it; the store keeps its SHA-256.  Whoever holds the URL may leave
feedback of its key on its run until it expires; each use with the same token replaces
the feedback it left before when the token names a feedback id (the SDK always does).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from fastapi.concurrency import run_in_threadpool

from evaldelta.errors import Gone, Invalid, NotFound
from evaldelta.ingest.records import feedback_rows
from evaldelta.ingest.writer import Writer
from evaldelta.server.schemas.feedback_tokens import FeedbackTokenCreate
from evaldelta.store.base import IngestBatch, Row, Store

# LangSmith's default lifetime of a token, which the SDK also sends when given none.
DEFAULT_LIFETIME = timedelta(hours=3)
ROUTE = "/feedback/tokens"


def token_hash(secret: UUID) -> str:
    """What the store keeps of a token: SHA-256 of its canonical text."""
    return hashlib.sha256(str(secret).encode()).hexdigest()


def api_root(request_url: str) -> str:
    """The API's root URL (with ``/api/v1`` when the request came that way), from the
    URL of a request to ``/feedback/tokens``."""
    base = request_url.split("?", 1)[0].rstrip("/")
    return base.removesuffix(ROUTE)


def expiry(body: FeedbackTokenCreate, loc: list[str | int], now: datetime) -> datetime:
    """When a token made from ``body`` expires: ``expires_at`` or now + ``expires_in``."""
    if body.expires_at is not None and body.expires_in is not None:
        raise Invalid("send expires_at or expires_in, not both", loc=[*loc, "expires_at"])
    if body.expires_at is not None:
        at = body.expires_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        name = "expires_at"
    elif body.expires_in is not None:
        span = body.expires_in
        at = now + timedelta(days=span.days, hours=span.hours, minutes=span.minutes)
        name = "expires_in"
    else:
        return now + DEFAULT_LIFETIME
    if at <= now:
        raise Invalid("the token would expire before it is made", loc=[*loc, name])
    return at


def new_tokens(bodies: list[FeedbackTokenCreate], *, many: bool) -> list[tuple[UUID, Row]]:
    """A fresh secret and the row to store for each token asked for (``many``: the body
    was an array, so an error's ``loc`` names the item)."""
    now = datetime.now(UTC)
    made = []
    for index, body in enumerate(bodies):
        at = expiry(body, ["body", index] if many else ["body"], now)
        secret = uuid4()
        config = body.feedback_config.model_dump() if body.feedback_config else None
        row = {
            "token_hash": token_hash(secret),
            "run_id": body.run_id,
            "feedback_key": body.feedback_key,
            "feedback_config": config,
            "feedback_id": body.id,
            "expires_at": at,
        }
        made.append((secret, row))
    return made


def check_score(config: Row | None, score: float | bool | None) -> None:
    """A 422 when the token's feedback config does not allow ``score``: out of a
    continuous config's bounds, or no category of a categorical one."""
    if config is None or score is None:
        return
    value = float(score)
    kind = config.get("type")
    if kind == "continuous":
        low, high = config.get("min"), config.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise Invalid(
                f"score must be between {low} and {high} for this key", loc=["body", "score"]
            )
    elif kind == "categorical":
        allowed = {c.get("value") for c in config.get("categories") or []}
        if value not in allowed:
            raise Invalid("score is not one of this key's categories", loc=["body", "score"])


async def use_token(store: Store, writer: Writer, secret: UUID, fields: dict[str, Any]) -> Row:
    """Leave the feedback ``fields`` (score, value, comment, correction, metadata) with a
    token; 404 for a token no one made, 410 once it has expired."""
    found = await run_in_threadpool(store.feedback_token_for_hash, token_hash(secret))
    if found is None:
        raise NotFound("Feedback token not found")
    if found["expires_at"] <= datetime.now(UTC):
        raise Gone("This feedback token has expired")
    check_score(found["feedback_config"], fields.get("score"))
    metadata = fields.pop("metadata", None)
    raw = {
        **fields,
        "id": found["feedback_id"],
        "key": found["feedback_key"],
        "run_id": found["run_id"],
        "feedback_config": found["feedback_config"],
        # As LangSmith records it: API feedback, with no user behind it.
        "feedback_source": {"type": "api", "metadata": metadata or {}, "user_id": None},
    }
    row = feedback_rows([raw], loc=["body"])[0]
    await writer.ingest(IngestBatch(found["tenant_id"], feedback=[row]))
    return {"message": "Feedback created", "feedback_id": row["id"]}
