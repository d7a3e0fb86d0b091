"""Pydantic request and response models, named by role, in LangSmith's shapes.

Request models ignore unknown fields (the SDK sends more than we use); response models
always materialise the keys the SDK requires, null or not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evaldelta.delta.engine import Filters
from evaldelta.ingest.records import JsonObject, RunType, Score
from evaldelta.server.schemas.attachments import AttachmentsOperations, NoRunAttachments

DataType = Literal["kv", "llm", "chat"]


# What the stores' JSON writer can hold: 64-bit integers, signed or not.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _unstorable(value: Any) -> str | None:
    """Why ``value`` (parsed JSON) cannot be stored, or None when it can."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text contains a lone surrogate (invalid Unicode)"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return "integer is beyond 64 bits"
    if isinstance(value, dict):
        for key, item in value.items():
            reason = _unstorable(key) or _unstorable(item)
            if reason:
                return reason
    elif isinstance(value, list):
        for item in value:
            reason = _unstorable(item)
            if reason:
                return reason
    return None


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # JSON may escape a lone surrogate ("\ud800") or hold an integer of any size; no
        # store can keep either, in any known field at any depth (unknown ones are dropped).
        known = (
            {k: v for k, v in data.items() if k in cls.model_fields}
            if isinstance(data, dict)
            else data
        )
        reason = _unstorable(known)
        if reason:
            raise ValueError(reason)
        return data


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- datasets -------------------------------------------------------------------------


class DatasetCreate(Request):
    name: str = Field(min_length=1, max_length=1000)
    description: str | None = None
    created_at: datetime | None = None
    inputs_schema_definition: JsonObject | None = None
    outputs_schema_definition: JsonObject | None = None
    externally_managed: bool | None = False
    transformations: list[JsonObject] | None = None
    id: UUID | None = None
    extra: JsonObject | None = None
    data_type: DataType = "kv"


class DatasetUpdate(Request):
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    description: str | None = None
    inputs_schema_definition: JsonObject | None = None
    outputs_schema_definition: JsonObject | None = None
    metadata: JsonObject | None = None


class Dataset(Response):
    id: UUID
    tenant_id: UUID
    name: str
    description: str | None = None
    data_type: str | None = "kv"
    created_at: datetime
    modified_at: datetime
    inputs_schema_definition: JsonObject | None = None
    outputs_schema_definition: JsonObject | None = None
    externally_managed: bool | None = False
    transformations: list[JsonObject] | None = None
    metadata: JsonObject | None = None
    example_count: int | None = None
    session_count: int = 0
    last_session_start_time: datetime | None = None


# --- examples -------------------------------------------------------------------------


class ExampleCreate(Request):
    dataset_id: UUID
    id: UUID | None = None
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    # Unset (or null): ``metadata.dataset_split`` if given, else "base" (see store/splits.py).
    split: list[str] | str | None = None
    source_run_id: UUID | None = None
    created_at: datetime | None = None
    # Run attachments are not kept, so none can be copied: refused, never silently nothing.
    use_source_run_attachments: NoRunAttachments = None


class ExampleUpdate(Request):
    dataset_id: UUID | None = None
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    split: list[str] | str | None = None
    attachments_operations: AttachmentsOperations | None = None


class Example(Response):
    id: UUID
    dataset_id: UUID
    name: str
    inputs: JsonObject
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    source_run_id: UUID | None = None
    created_at: datetime
    modified_at: datetime | None = None
    attachment_urls: JsonObject | None = None


class ExamplesCreated(Response):
    example_ids: list[UUID]
    count: int
    as_of: datetime


# --- sessions (experiments / tracing projects) ------------------------------------------


class SessionCreate(Request):
    id: UUID | None = None
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    description: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    extra: JsonObject | None = None
    reference_dataset_id: UUID | None = None
    default_dataset_id: UUID | None = None
    trace_tier: Literal["longlived", "shortlived"] | None = None


class SessionUpdate(Request):
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    description: str | None = None
    end_time: datetime | None = None
    extra: JsonObject | None = None
    default_dataset_id: UUID | None = None
    trace_tier: Literal["longlived", "shortlived"] | None = None


class Session(Response):
    id: UUID
    tenant_id: UUID
    name: str
    description: str | None = None
    start_time: datetime
    end_time: datetime | None = None
    extra: JsonObject | None = None
    reference_dataset_id: UUID | None
    default_dataset_id: UUID | None = None
    trace_tier: str | None = None
    run_count: int | None = None
    latency_p50: float | None = None
    latency_p99: float | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_cost: str | None = None
    prompt_cost: str | None = None
    completion_cost: str | None = None
    error_rate: float | None = None
    last_run_start_time: datetime | None = None
    feedback_stats: JsonObject | None = None
    session_feedback_stats: JsonObject | None = None


# --- feedback -------------------------------------------------------------------------


class FeedbackConfig(Request):
    type: Literal["continuous", "categorical", "freeform"]
    min: float | None = None
    max: float | None = None
    categories: list[JsonObject] | None = None


class FeedbackCreate(Request):
    id: UUID | None = None
    key: str = Field(min_length=1, max_length=180)
    score: Score | None = None
    value: Score | str | JsonObject | None = None
    comment: str | None = None
    correction: JsonObject | str | None = None
    run_id: UUID | None = None
    trace_id: UUID | None = None
    session_id: UUID | None = None
    start_time: datetime | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    comparative_experiment_id: UUID | None = None
    feedback_group_id: UUID | None = None
    feedback_source: JsonObject | None = None
    feedback_config: FeedbackConfig | None = None
    extra: JsonObject | None = None
    error: bool | None = None


class FeedbackUpdate(Request):
    score: Score | None = None
    value: Score | str | JsonObject | None = None
    comment: str | None = None
    correction: JsonObject | str | None = None
    feedback_config: FeedbackConfig | None = None


class Feedback(Response):
    id: UUID
    key: str
    score: Score | None = None
    value: Score | str | JsonObject | list[Any] | None = None
    comment: str | None = None
    correction: JsonObject | str | None = None
    run_id: UUID | None
    trace_id: UUID | None
    session_id: UUID | None = None
    start_time: datetime | None = None
    created_at: datetime
    modified_at: datetime
    comparative_experiment_id: UUID | None = None
    feedback_group_id: UUID | None = None
    feedback_source: JsonObject | None = None
    extra: JsonObject | None = None
    is_root: bool = False


class FeedbackConfigCreate(Request):
    feedback_key: str = Field(min_length=1, max_length=180)
    feedback_config: FeedbackConfig
    is_lower_score_better: bool | None = False


class FeedbackCategory(Request):
    value: float
    label: str | None = Field(default=None, min_length=1)


class FeedbackConfigUpdate(Request):
    feedback_key: str = Field(min_length=1, max_length=180)
    feedback_config: FeedbackConfig | None = None
    is_lower_score_better: bool | None = None
    # What the SDK's add_feedback_categories / remove_feedback_categories send.
    add_categories: list[FeedbackCategory] | None = Field(default=None, max_length=1000)
    remove_categories: list[float] | None = Field(default=None, max_length=1000)
    id: UUID | None = Field(
        default=None, description="Not supported (a key has one config): refused with a 422"
    )


class FeedbackConfigOut(Response):
    feedback_key: str
    feedback_config: JsonObject
    tenant_id: UUID
    modified_at: datetime
    is_lower_score_better: bool | None = False


# --- runs -----------------------------------------------------------------------------


class RunsQuery(Request):
    id: list[UUID] | None = None
    trace: UUID | None = None
    parent_run: UUID | None = None
    run_type: RunType | None = None
    session: list[UUID] | None = None
    reference_example: list[UUID] | None = None
    execution_order: int | None = Field(default=None, ge=1, le=1)
    start_time: datetime | None = None
    end_time: datetime | None = None
    error: bool | None = None
    filter: str | None = Field(default=None, max_length=10_000)
    trace_filter: str | None = Field(default=None, max_length=10_000)
    tree_filter: str | None = Field(default=None, max_length=10_000)
    is_root: bool | None = None
    cursor: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=100)
    select: list[str] | None = None
    order: Literal["asc", "desc"] = "desc"


class Run(Response):
    id: UUID
    name: str
    run_type: str
    start_time: datetime
    end_time: datetime | None = None
    status: str
    trace_id: UUID
    dotted_order: str
    parent_run_id: UUID | None = None
    session_id: UUID
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
    app_path: str = ""
    execution_order: int = 1
    # The thread the run belongs to, from its metadata (``store/threads.py``).
    thread_id: str | None = None


class RunsPage(Response):
    runs: list[Run]
    cursors: dict[str, str | None]


class Accepted(Response):
    """What ingest endpoints answer (LangSmith answers 202 with a small object)."""

    message: str = "accepted"


# --- info -----------------------------------------------------------------------------


class BatchIngestConfig(Response):
    # All six keys are always sent: the SDK's tracing thread dies on a partial object.
    use_multipart_endpoint: bool = True
    scale_up_qsize_trigger: int = 1000
    scale_up_nthreads_limit: int = 16
    scale_down_nempty_trigger: int = 4
    size_limit: int = 100
    size_limit_bytes: int = 20_971_520


class Info(Response):
    version: str
    license_expiration_time: datetime | None = None
    batch_ingest_config: BatchIngestConfig
    instance_flags: JsonObject


# --- feedback deltas ------------------------------------------------------------------


EXAMPLES_HELP = (
    "evaldelta extension: list, per comparison, every example scored or errored on either"
    " side with both sides' mean scores and its bucket"
)
COVERAGE_HELP = (
    "evaldelta extension: count, per comparison, the examples scored on both sides, on one"
    " side only and with an errored evaluation, and warn when the experiments ran on"
    " different dataset versions or splits"
)


class DeltaStreamQuery(Request):
    """Body of ``/datasets/{id}/runs/delta/stream`` (LangSmith's QueryFeedbackDeltaBatch)."""

    baseline_session_id: UUID
    comparison_session_ids: list[UUID] = Field(min_length=1, max_length=10)
    feedback_keys: list[str] = Field(min_length=1, max_length=100)
    filters: Filters | None = None
    comparative_experiment_id: UUID | None = Field(
        default=None,
        description="evaldelta extension: count only this comparative (pairwise)"
        " experiment's feedback, as /runs/delta does",
    )
    include_stats: bool = Field(
        default=False, description="evaldelta extension: add paired statistics per comparison"
    )
    include_coverage: bool = Field(default=False, description=COVERAGE_HELP)
    include_examples: bool = Field(default=False, description=EXAMPLES_HELP)


class DeltaQueryBody(Request):
    """Body of ``/datasets/{id}/runs/delta`` (LangSmith's QueryFeedbackDelta)."""

    baseline_session_id: UUID
    comparison_session_ids: list[UUID] = Field(min_length=1, max_length=100)
    feedback_key: str = Field(min_length=1, max_length=180)
    filters: Filters | None = None
    offset: int = Field(default=0, ge=0, le=2**63 - 1)
    limit: int = Field(default=100, ge=1, le=100)
    comparative_experiment_id: UUID | None = None
    include_stats: bool = Field(
        default=False, description="evaldelta extension: add paired statistics per comparison"
    )
    include_coverage: bool = Field(default=False, description=COVERAGE_HELP)
    include_examples: bool = Field(
        default=False, description=EXAMPLES_HELP + " (those of the page's window)"
    )


class PairwiseStats(Response):
    """Wins, ties and losses of the comparison against the baseline in a pairwise
    experiment, and the test of a 50 % win rate (see docs/statistics.md)."""

    wins: int
    ties: int
    losses: int
    win_rate: float | None
    win_rate_ci_low: float | None
    win_rate_ci_high: float | None
    p_value: float | None


class DeltaStats(Response):
    """Paired statistics of one comparison against the baseline (see docs/statistics.md)."""

    n_paired: int
    n_improved: int
    n_regressed: int
    n_unchanged: int
    n_missing_baseline: int
    n_missing_comparison: int
    baseline_mean: float | None
    comparison_mean: float | None
    mean_delta: float | None
    ci_low: float | None
    ci_high: float | None
    ci_method: str
    sign_test_p: float | None
    wilcoxon_p: float | None
    lower_is_better: bool
    pairwise: PairwiseStats | None = None


class DeltaCoverage(Response):
    """Which examples each side scored (see docs/statistics.md, "Coverage")."""

    n_both: int
    n_baseline_only: int
    n_comparison_only: int
    n_errored_baseline: int
    n_errored_comparison: int
    baseline_dataset_version: str | None
    comparison_dataset_version: str | None
    baseline_dataset_splits: list[str] | None
    comparison_dataset_splits: list[str] | None
    warnings: list[str]


class ExampleScore(Response):
    """One example of a comparison with both sides' mean scores and its bucket."""

    example_id: UUID
    baseline_score: float | None
    comparison_score: float | None
    bucket: Literal[
        "improved", "regressed", "unchanged", "baseline_only", "comparison_only", "errored"
    ]
    baseline_errored: bool
    comparison_errored: bool


class FeedbackDelta(Response):
    improved_examples: list[UUID]
    regressed_examples: list[UUID]
    stats: DeltaStats | None = None
    coverage: DeltaCoverage | None = None
    examples: list[ExampleScore] | None = None


class SessionFeedbackDelta(Response):
    feedback_deltas: dict[UUID, FeedbackDelta]


# --- comparative (pairwise) experiments -----------------------------------------------


class ComparativeExperimentCreate(Request):
    """Body of ``POST /datasets/comparative`` (LangSmith's ComparativeExperimentCreate)."""

    id: UUID | None = None
    experiment_ids: list[UUID] = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=1000)
    description: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    reference_dataset_id: UUID | None = None
    extra: JsonObject | None = None


class ComparativeExperimentBase(Response):
    id: UUID
    name: str | None = None
    description: str | None = None
    tenant_id: UUID
    created_at: datetime
    modified_at: datetime
    reference_dataset_id: UUID
    extra: JsonObject | None = None


class ExperimentInfo(Response):
    id: UUID
    name: str


class ComparativeExperiment(ComparativeExperimentBase):
    """A listed comparative experiment: its experiments, and its feedback's statistics
    per key (as sessions carry them)."""

    experiments_info: list[ExperimentInfo]
    feedback_stats: JsonObject | None = None


# --- dataset splits ---------------------------------------------------------------------


class SplitsUpdate(Request):
    """``PUT /datasets/{id}/splits``: add examples to a split, or take them out of it."""

    split_name: str = Field(min_length=1, max_length=1000)
    examples: list[UUID] = Field(min_length=1, max_length=10_000)
    remove: bool = False


class MetadataOperation(Request):
    key: str = Field(min_length=1, max_length=1000)
    operation: Annotated[str, Field(pattern="(?i)^(array_add|array_remove)$")]
    values: list[Any] = Field(min_length=1)


class ExamplesMetadataUpdate(Request):
    """``PATCH /platform/datasets/{id}/examples/metadata``: the same operations on many
    examples' metadata (the SDK's ``update_dataset_splits`` sends ``dataset_split``)."""

    example_ids: list[UUID] = Field(min_length=1, max_length=10_000)
    operations: list[MetadataOperation] = Field(min_length=1, max_length=100)


class ExamplesUpdated(Response):
    example_ids: list[UUID]
    count: int


# --- dataset versions -------------------------------------------------------------------


class DatasetVersion(Response):
    """A version of a dataset: the time of a change to its examples, and its tags."""

    as_of: datetime
    tags: list[str] = []


class DatasetTagUpdate(Request):
    """``PUT /datasets/{id}/tags``: name the version in force at ``as_of``."""

    as_of: datetime
    tag: str = Field(min_length=1, max_length=1000)


class DatasetDiff(Response):
    examples_modified: list[UUID]
    examples_added: list[UUID]
    examples_removed: list[UUID]


# --- experiment results ---------------------------------------------------------------


class SortParams(Request):
    """LangSmith's SortParamsForRunsComparisonView: a feedback key (``feedback.`` prefix
    optional), its mean score per example ordering the examples."""

    sort_by: str = Field(min_length=1, max_length=200)
    sort_order: Literal["ASC", "DESC"] = "DESC"


class ExamplesWithRunsQuery(Request):
    """Body of ``POST /datasets/{id}/runs`` (LangSmith's QueryExampleSchemaWithRunsRequest)."""

    session_ids: list[UUID] = Field(min_length=1, max_length=100)
    offset: int = Field(default=0, ge=0, le=2**63 - 1)
    limit: int | None = Field(default=None, ge=1, le=100)
    preview: bool = False
    comparative_experiment_id: UUID | None = None
    sort_params: SortParams | None = None
    filters: Filters | None = None
    example_ids: list[UUID] | None = Field(default=None, max_length=1000)
    include_annotator_detail: bool = Field(
        default=False, description="Not supported: true is refused with a 422"
    )


class ComparisonRun(Run):
    """LangSmith's RunSchemaComparisonView: a run with its feedback."""

    dotted_order: str | None = None  # type: ignore[assignment]
    app_path: str | None = None  # type: ignore[assignment]
    inputs_preview: str | None = None
    outputs_preview: str | None = None
    feedbacks: list[Feedback] = []


class ExampleWithRuns(Example):
    runs: list[ComparisonRun]


RunSelect = Literal[
    "ID",
    "NAME",
    "RUN_TYPE",
    "STATUS",
    "START_TIME",
    "END_TIME",
    "LATENCY_SECONDS",
    "FIRST_TOKEN_TIME",
    "ERROR",
    "ERROR_PREVIEW",
    "EXTRA",
    "METADATA",
    "EVENTS",
    "INPUTS",
    "INPUTS_PREVIEW",
    "OUTPUTS",
    "OUTPUTS_PREVIEW",
    "MANIFEST",
    "PARENT_RUN_IDS",
    "PROJECT_ID",
    "TRACE_ID",
    "THREAD_ID",
    "DOTTED_ORDER",
    "IS_ROOT",
    "REFERENCE_EXAMPLE_ID",
    "REFERENCE_DATASET_ID",
    "TOTAL_TOKENS",
    "PROMPT_TOKENS",
    "COMPLETION_TOKENS",
    "TOTAL_COST",
    "PROMPT_COST",
    "COMPLETION_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "PRICE_MODEL_ID",
    "TAGS",
    "APP_PATH",
    "ATTACHMENTS",
    "THREAD_EVALUATION_TIME",
    "IS_IN_DATASET",
    "LAST_QUEUED_AT",
    "SHARE_URL",
    "FEEDBACK_STATS",
    "LS_USER_ID",
]


class ExperimentRunsSort(Request):
    by: str = Field(min_length=1, max_length=200)
    order: Literal["ASC", "DESC"] = "DESC"


class ExperimentRunsQuery(Request):
    """Body of ``POST /api/v2/datasets/{id}/experiment-runs``."""

    experiment_ids: list[UUID] = Field(min_length=1, max_length=100)
    cursor: str | None = Field(default=None, max_length=200)
    page_size: int = Field(default=20, ge=1, le=100)
    selects: list[RunSelect] | None = None
    sort: ExperimentRunsSort | None = None
    filters: Filters | None = None
    example_ids: list[UUID] | None = Field(default=None, max_length=1000)
    comparative_experiment_id: UUID | None = None


class ExperimentRun(Response):
    """A run of the v2 experiment-runs page: ``id`` and the selected fields only."""

    id: UUID
    name: str | None = None
    run_type: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    latency_seconds: float | None = None
    first_token_time: datetime | None = None
    error: str | None = None
    error_preview: str | None = None
    extra: JsonObject | None = None
    metadata: JsonObject | None = None
    events: list[JsonObject] | None = None
    inputs: JsonObject | None = None
    inputs_preview: str | None = None
    outputs: JsonObject | None = None
    outputs_preview: str | None = None
    manifest: JsonObject | None = None
    parent_run_ids: list[UUID] | None = None
    project_id: UUID | None = None
    trace_id: UUID | None = None
    thread_id: str | None = None
    dotted_order: str | None = None
    is_root: bool | None = None
    reference_example_id: UUID | None = None
    reference_dataset_id: UUID | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_cost: float | None = None
    prompt_cost: float | None = None
    completion_cost: float | None = None
    prompt_token_details: JsonObject | None = None
    completion_token_details: JsonObject | None = None
    prompt_cost_details: JsonObject | None = None
    completion_cost_details: JsonObject | None = None
    price_model_id: UUID | None = None
    tags: list[str] | None = None
    app_path: str | None = None
    attachments: JsonObject | None = None
    thread_evaluation_time: datetime | None = None
    is_in_dataset: bool | None = None
    last_queued_at: datetime | None = None
    share_url: str | None = None
    feedback_stats: JsonObject | None = None
    ls_user_id: str | None = None


class ExperimentRunsItem(Response):
    id: UUID
    dataset_id: UUID
    name: str | None = None
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    source_run_id: UUID | None = None
    created_at: datetime
    modified_at: datetime | None = None
    attachment_urls: JsonObject | None = None
    runs: list[ExperimentRun]


class ExperimentRunsPage(Response):
    items: list[ExperimentRunsItem]
    next_cursor: str | None = None
