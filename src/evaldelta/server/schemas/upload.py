"""Wire shapes of ``POST /datasets/upload-experiment`` (LangSmith's ``ExperimentResultsUpload``
and ``ExperimentResultsUploadResult``).

Unlike most request models these refuse fields they do not know (a 422 naming the field):
an upload is written in one go, and a misspelt field would otherwise vanish from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BeforeValidator, ConfigDict, Field

from evaldelta.ingest.records import JsonObject, Score
from evaldelta.server.models import Dataset, Request, Response, Session

# One upload is one transaction: large enough for any evaluation run by hand, small enough
# that the writer is not held for long.
MAX_RESULTS = 10_000
MAX_SCORES = 1_000


class Strict(Request):
    model_config = ConfigDict(extra="forbid")


# Inside the lists of an upload, values keep the JSON type their schema names: lax mode
# would read a number as a time or ``false`` as 0, and in a list of thousands of rows such a
# slip is a typo, not a convenience.
def _time_text(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("expected an ISO-8601 date-time string")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return value


Time = Annotated[datetime, BeforeValidator(_time_text)]
Number = Annotated[float, BeforeValidator(_number)]


class UploadFeedbackConfig(Strict):
    type: Literal["continuous", "categorical", "freeform"]
    min: Number | None = None
    max: Number | None = None
    categories: list[JsonObject] | None = None


class UploadScore(Strict):
    """LangSmith's ``FeedbackCreateCoreSchema``: feedback without its run or project, which
    the upload supplies."""

    key: str = Field(min_length=1, max_length=180)
    score: Score | None = None
    value: Score | str | JsonObject | None = None
    comment: str | None = None
    correction: JsonObject | str | None = None
    id: UUID | None = None
    created_at: Time | None = None
    modified_at: Time | None = None
    feedback_source: JsonObject | None = None
    feedback_config: UploadFeedbackConfig | None = None
    feedback_group_id: UUID | None = None
    extra: JsonObject | None = None
    comparative_experiment_id: None = Field(
        default=None,
        description="Not supported (a new experiment is in no comparative experiment yet):"
        " anything but null is refused with a 422",
    )


class UploadRow(Strict):
    """LangSmith's ``ExperimentResultRow``: one example with the run made of it."""

    row_id: UUID | None = Field(
        default=None,
        description="The example's id.  Without it, the example is the dataset's example"
        " with these inputs (an id derived from the dataset and the inputs).",
    )
    inputs: JsonObject
    expected_outputs: JsonObject | None = None
    actual_outputs: JsonObject | None = None
    evaluation_scores: Annotated[list[UploadScore], Field(max_length=MAX_SCORES)] | None = None
    start_time: Time
    end_time: Time
    run_name: str | None = Field(default=None, min_length=1, max_length=10_000)
    error: str | None = None
    run_metadata: JsonObject | None = None


class ExperimentUpload(Strict):
    """LangSmith's ``ExperimentResultsUpload``."""

    experiment_name: str = Field(min_length=1, max_length=1000)
    experiment_description: str | None = None
    experiment_start_time: datetime
    experiment_end_time: datetime
    experiment_metadata: JsonObject | None = None
    dataset_id: UUID | None = None
    dataset_name: str | None = Field(default=None, min_length=1, max_length=1000)
    dataset_description: str | None = None
    summary_experiment_scores: Annotated[list[UploadScore], Field(max_length=MAX_SCORES)] | None = (
        None
    )
    results: list[UploadRow] = Field(max_length=MAX_RESULTS)


class UploadResult(Response):
    """LangSmith's ``ExperimentResultsUploadResult``."""

    dataset: Dataset
    experiment: Session
