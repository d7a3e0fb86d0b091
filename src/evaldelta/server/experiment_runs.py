"""Experiment results as the two routes answer them: the checks before the read, run
previews, the v2 page's selected run fields and its opaque cursor."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from evaldelta.delta.engine import Filters, prepare
from evaldelta.errors import Invalid
from evaldelta.store.base import Page, ResultsQuery, Row, Store
from evaldelta.store.threads import thread_id_of

PREVIEW_CHARS = 200
MAX_OFFSET = 2**62


def results_query(
    store: Store,
    tenant_id: UUID,
    dataset_id: UUID,
    session_ids: Sequence[UUID],
    *,
    filters: Filters | None,
    example_ids: Sequence[UUID] | None,
    comparative_experiment_id: UUID | None,
    sort: tuple[str, str, str] | None,
    page: Page,
) -> ResultsQuery:
    """The store's query, after the same checks as a delta's: 404 for a dataset that is
    not the tenant's or a session that is not an experiment on it, 422 for a filter that
    does not parse or names another session.  ``sort`` is (field name, key, order)."""
    sessions = list(dict.fromkeys(session_ids))
    checked = prepare(store, tenant_id, dataset_id, sessions[0], sessions[1:], [], filters)
    sort_key = None
    if sort is not None:
        field, key, _ = sort
        if len(sessions) > 1:
            raise Invalid(f"{field} sorts the examples of one experiment only", loc=["body", field])
        sort_key = key.removeprefix("feedback.")
        if not sort_key:
            raise Invalid(f"{field} names no feedback key", loc=["body", field])
    return ResultsQuery(
        dataset_id=dataset_id,
        session_ids=sessions,
        filters=checked.filters,
        example_ids=example_ids,
        comparative_experiment_id=comparative_experiment_id,
        sort_key=sort_key,
        sort_desc=sort is None or sort[2] == "DESC",
        page=page,
    )


def preview(value: Any) -> str | None:
    """A short plain-text view of a run's inputs, outputs or error."""
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def with_previews(examples: list[Row]) -> list[Row]:
    """``preview``: each run's inputs and outputs as ``inputs_preview``/``outputs_preview``
    text in place of the documents."""
    for example in examples:
        for run in example["runs"]:
            run["inputs_preview"] = preview(run.pop("inputs", None))
            run["outputs_preview"] = preview(run.pop("outputs", None))
    return examples


# --- the v2 page ------------------------------------------------------------------------


def _metadata(run: Row) -> Any:
    return (run.get("extra") or {}).get("metadata")


def _latency(run: Row) -> float | None:
    start, end = run.get("start_time"), run.get("end_time")
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return None
    return (end - start).total_seconds()


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _never(_: Row) -> None:
    # Things evaldelta does not record (prices, sharing, annotation queues, users): the
    # field is there, and says that there is none.
    return None


Getter = Callable[[Row], Any]
SELECTS: dict[str, tuple[str, Getter]] = {
    "ID": ("id", lambda r: r["id"]),
    "NAME": ("name", lambda r: r["name"]),
    "RUN_TYPE": ("run_type", lambda r: r["run_type"]),
    "STATUS": ("status", lambda r: str(r["status"]).upper()),
    "START_TIME": ("start_time", lambda r: r["start_time"]),
    "END_TIME": ("end_time", lambda r: r.get("end_time")),
    "LATENCY_SECONDS": ("latency_seconds", _latency),
    "FIRST_TOKEN_TIME": ("first_token_time", lambda r: r.get("first_token_time")),
    "ERROR": ("error", lambda r: r.get("error")),
    "ERROR_PREVIEW": ("error_preview", lambda r: preview(r.get("error"))),
    "EXTRA": ("extra", lambda r: r.get("extra")),
    "METADATA": ("metadata", _metadata),
    "EVENTS": ("events", lambda r: r.get("events")),
    "INPUTS": ("inputs", lambda r: r.get("inputs")),
    "INPUTS_PREVIEW": ("inputs_preview", lambda r: preview(r.get("inputs"))),
    "OUTPUTS": ("outputs", lambda r: r.get("outputs")),
    "OUTPUTS_PREVIEW": ("outputs_preview", lambda r: preview(r.get("outputs"))),
    "MANIFEST": ("manifest", lambda r: r.get("serialized")),
    "PARENT_RUN_IDS": ("parent_run_ids", lambda r: []),  # every run listed is a root
    "PROJECT_ID": ("project_id", lambda r: r["session_id"]),
    "TRACE_ID": ("trace_id", lambda r: r["trace_id"]),
    "THREAD_ID": ("thread_id", lambda r: thread_id_of(r.get("extra"))),
    "DOTTED_ORDER": ("dotted_order", lambda r: r.get("dotted_order")),
    "IS_ROOT": ("is_root", lambda r: True),
    "REFERENCE_EXAMPLE_ID": ("reference_example_id", lambda r: r["reference_example_id"]),
    "REFERENCE_DATASET_ID": ("reference_dataset_id", lambda r: r["dataset_id"]),
    "TOTAL_TOKENS": ("total_tokens", lambda r: r.get("total_tokens")),
    "PROMPT_TOKENS": ("prompt_tokens", lambda r: r.get("prompt_tokens")),
    "COMPLETION_TOKENS": ("completion_tokens", lambda r: r.get("completion_tokens")),
    "TOTAL_COST": ("total_cost", lambda r: _number(r.get("total_cost"))),
    "PROMPT_COST": ("prompt_cost", lambda r: _number(r.get("prompt_cost"))),
    "COMPLETION_COST": ("completion_cost", lambda r: _number(r.get("completion_cost"))),
    "PROMPT_TOKEN_DETAILS": ("prompt_token_details", _never),
    "COMPLETION_TOKEN_DETAILS": ("completion_token_details", _never),
    "PROMPT_COST_DETAILS": ("prompt_cost_details", _never),
    "COMPLETION_COST_DETAILS": ("completion_cost_details", _never),
    "PRICE_MODEL_ID": ("price_model_id", _never),
    "TAGS": ("tags", lambda r: r.get("tags")),
    "APP_PATH": ("app_path", lambda r: r.get("app_path")),
    "ATTACHMENTS": ("attachments", _never),
    "THREAD_EVALUATION_TIME": ("thread_evaluation_time", _never),
    "IS_IN_DATASET": ("is_in_dataset", lambda r: True),  # every run listed has an example
    "LAST_QUEUED_AT": ("last_queued_at", _never),
    "SHARE_URL": ("share_url", _never),
    "FEEDBACK_STATS": ("feedback_stats", lambda r: r.get("feedback_stats")),
    "LS_USER_ID": ("ls_user_id", _never),
}
EXAMPLE_FIELDS = (
    "id",
    "dataset_id",
    "name",
    "inputs",
    "outputs",
    "metadata",
    "source_run_id",
    "created_at",
    "modified_at",
    "attachment_urls",
)


def v2_items(examples: list[Row], selects: Sequence[str] | None) -> list[Row]:
    """Examples in the v2 shape, each run with ``id`` and the selected fields only."""
    getters = [SELECTS[token] for token in dict.fromkeys(["ID", *(selects or [])])]
    items = []
    for example in examples:
        item = {name: example.get(name) for name in EXAMPLE_FIELDS}
        item["runs"] = [
            {name: get({**run, "dataset_id": example["dataset_id"]}) for name, get in getters}
            for run in example["runs"]
        ]
        items.append(item)
    return items


def encode_offset(offset: int) -> str:
    """The opaque cursor of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(f"examples:{offset}".encode()).decode()


def decode_offset(cursor: str | None) -> int:
    """The offset a cursor names (0 for none); a 422 for one this server did not make."""
    if cursor is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError) as err:
        raise Invalid("cursor is not one this server gave out", loc=["body", "cursor"]) from err
    if kind != "examples" or not 0 <= offset <= MAX_OFFSET:
        raise Invalid("cursor is not one this server gave out", loc=["body", "cursor"])
    return offset
