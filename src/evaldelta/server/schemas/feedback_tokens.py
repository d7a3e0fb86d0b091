"""Presigned feedback tokens, in LangSmith's shapes (``FeedbackIngestTokenCreateSchema``,
``FeedbackIngestTokenSchema``, ``FeedbackCreateWithTokenExtendedSchema``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from evaldelta.ingest.records import JsonObject, Score
from evaldelta.server.models import FeedbackConfig, Request, Response


class TimedeltaInput(Request):
    """How long a token lasts, as the SDK sends a ``timedelta``."""

    days: int = Field(default=0, ge=0, le=3650)
    hours: int = Field(default=0, ge=0, le=24 * 3650)
    minutes: int = Field(default=0, ge=0, le=60 * 24 * 3650)


class FeedbackTokenCreate(Request):
    run_id: UUID
    feedback_key: str = Field(min_length=1, max_length=180)
    feedback_config: FeedbackConfig | None = None
    expires_in: TimedeltaInput | None = None
    expires_at: datetime | None = None
    id: UUID | None = Field(
        default=None,
        description="The id the feedback made with the token gets (the SDK's feedback_id):"
        " each use of the token then replaces that one feedback",
    )


class FeedbackIngestToken(Response):
    id: UUID
    url: str
    expires_at: datetime
    feedback_key: str
    # Beyond LangSmith's shape: what else the token carries.
    run_id: UUID | None = None
    feedback_config: JsonObject | None = None
    feedback_id: UUID | None = None


class FeedbackWithToken(Request):
    score: Score | None = None
    value: Score | str | None = None
    comment: str | None = None
    correction: JsonObject | str | None = None
    metadata: JsonObject | None = None


class FeedbackTokenUsed(Response):
    message: str
    feedback_id: UUID
