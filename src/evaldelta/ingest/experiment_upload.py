"""An experiment run elsewhere, uploaded whole (``POST /datasets/upload-experiment``).

An upload names a dataset (by id, by name, or both), and brings one result per example:
the example's inputs and expected outputs, the run's outputs, times and error, and its
evaluation scores.  It becomes what an SDK evaluation would have left: an experiment
(a session with the dataset as its reference), one root run per result linked to its
example, and the scores as the runs' feedback (the summary scores as the experiment's).

Which dataset, which examples (LangSmith's rules, with evaldelta's additions marked):

* A dataset id or name that the tenant does not have creates the dataset, marked
  ``externally_managed`` (with only an id, it is named ``upload-<id>``).  Both given must
  name the same dataset.  evaldelta also accepts a dataset made otherwise (LangSmith
  refuses them), so an uploaded experiment can be compared with evaluations run by the SDK.
* A result's ``row_id`` is its example's id; without one, the example is the one whose id
  is derived from the dataset and the inputs (evaldelta's rule), so that uploads of the same
  rows line up.  In a dataset made by an upload, an example that does not exist yet is
  created from the result's inputs and expected outputs; an existing example is left as it
  is.  Any other dataset's examples must exist (a 404 otherwise, as for another tenant's
  example), and there a result needs its ``row_id``.

:func:`plan_upload` checks everything that needs no store (a 422 names the field);
:func:`apply_upload` runs in the writer, in one transaction: it reads and checks all it
needs first, then writes, so a refused upload writes nothing (on ClickHouse, which has no
transactions, only a failure of the database itself can leave part of one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4, uuid5

import orjson

from evaldelta.errors import Conflict, Invalid, NotFound
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.store.base import (
    DatasetWhere,
    ExampleWhere,
    IngestBatch,
    Page,
    Row,
    RunOp,
    SessionWhere,
    Store,
)

# What a result's run is called when the upload does not name it (the SDK's name for an
# evaluation's target).
DEFAULT_RUN_NAME = "Target"


@dataclass(frozen=True)
class Upload:
    """An upload checked against everything but the store."""

    tenant_id: UUID
    experiment: Row  # the session to create
    dataset_id: UUID | None
    dataset_name: str | None
    dataset_description: str | None
    results: list[Row]  # as sent; index = position in ``results``
    runs: list[RunOp]  # one per result, without its example (known once the dataset is)
    feedback: list[Row]


def _loc(*parts: str | int) -> list[str | int]:
    return ["body", *parts]


def _utc(value: datetime) -> datetime:
    """A time without a zone is UTC, as everywhere in the API."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_times(body: Row) -> None:
    """Times in UTC; the experiment's runs within it, each ending after it starts."""
    for name in ("experiment_start_time", "experiment_end_time"):
        body[name] = _utc(body[name])
    for result in body["results"]:
        for name in ("start_time", "end_time"):
            result[name] = _utc(result[name])
    start, end = body["experiment_start_time"], body["experiment_end_time"]
    if end < start:
        raise Invalid(
            "experiment_end_time is before experiment_start_time", loc=_loc("experiment_end_time")
        )
    for index, result in enumerate(body["results"]):
        if result["end_time"] < result["start_time"]:
            raise Invalid("end_time is before start_time", loc=_loc("results", index, "end_time"))
        if result["start_time"] < start:
            raise Invalid(
                "the run starts before the experiment", loc=_loc("results", index, "start_time")
            )
        if result["end_time"] > end:
            raise Invalid(
                "the run ends after the experiment", loc=_loc("results", index, "end_time")
            )


def _dotted_order(start: datetime, run_id: UUID) -> str:
    return f"{start:%Y%m%dT%H%M%S%fZ}{run_id}"


def plan_upload(tenant_id: UUID, body: Row) -> Upload:
    """Check an upload (the fields of ``ExperimentUpload``) and make its runs and feedback."""
    if body.get("dataset_id") is None and body.get("dataset_name") is None:
        raise Invalid("either dataset_id or dataset_name is required", loc=_loc("dataset_id"))
    _check_times(body)
    experiment_id = uuid4()
    metadata = body.get("experiment_metadata")
    experiment = {
        "id": experiment_id,
        "name": body["experiment_name"],
        "description": body.get("experiment_description"),
        "start_time": body["experiment_start_time"],
        "end_time": body["experiment_end_time"],
        "extra": None if metadata is None else {"metadata": metadata},
    }
    posts: list[Row] = []
    feedback: list[Row] = []
    for index, result in enumerate(body["results"]):
        run_id = uuid4()
        run_metadata = result.get("run_metadata")
        posts.append(
            {
                "id": run_id,
                "name": result.get("run_name") or DEFAULT_RUN_NAME,
                "run_type": "chain",
                "start_time": result["start_time"],
                "end_time": result["end_time"],
                "inputs": result["inputs"],
                "outputs": result.get("actual_outputs"),
                "error": result.get("error"),
                "extra": None if run_metadata is None else {"metadata": run_metadata},
                "session_id": experiment_id,
                "trace_id": run_id,
                "dotted_order": _dotted_order(result["start_time"], run_id),
            }
        )
        scores = [
            {**score, "run_id": run_id, "trace_id": run_id}
            for score in result.get("evaluation_scores") or []
        ]
        if scores:
            feedback += feedback_rows(scores, loc=_loc("results", index, "evaluation_scores"))
    summary = [
        {**score, "session_id": experiment_id}
        for score in body.get("summary_experiment_scores") or []
    ]
    if summary:
        feedback += feedback_rows(summary, loc=_loc("summary_experiment_scores"))
    return Upload(
        tenant_id=tenant_id,
        experiment=experiment,
        dataset_id=body.get("dataset_id"),
        dataset_name=body.get("dataset_name"),
        dataset_description=body.get("dataset_description"),
        results=body["results"],
        runs=run_ops("post", posts, loc=_loc("results")),
        feedback=feedback,
    )


# --- in the writer ----------------------------------------------------------------------------


def _dataset(store: Store, up: Upload) -> tuple[Row | None, Row]:
    """The stored dataset the upload names (None: to be created), and the fields of the one
    to create."""
    t = up.tenant_id
    by_name = None
    if up.dataset_name is not None:
        found = store.list_datasets(t, DatasetWhere(name=up.dataset_name), Page(0, 1))
        by_name = found[0] if found else None
    if up.dataset_id is not None:
        by_id = store.get_dataset(t, up.dataset_id)
        if by_id is not None:
            if up.dataset_name is not None and by_id["name"] != up.dataset_name:
                raise Conflict(
                    f"Dataset {up.dataset_id} is named {by_id['name']!r}, not {up.dataset_name!r}",
                    loc=_loc("dataset_name"),
                )
            return by_id, {}
        if by_name is not None:
            raise Conflict(
                f"Dataset with name {up.dataset_name!r} already exists with another id",
                loc=_loc("dataset_name"),
            )
    elif by_name is not None:
        return by_name, {}
    name = up.dataset_name or f"upload-{up.dataset_id}"
    return None, {
        "id": up.dataset_id or uuid4(),
        "name": name,
        "description": up.dataset_description,
        "externally_managed": True,
        "data_type": "kv",
    }


def _example_id(dataset_id: UUID, result: Row) -> UUID:
    if result.get("row_id") is not None:
        row_id: UUID = result["row_id"]
        return row_id
    inputs = orjson.dumps(result["inputs"], option=orjson.OPT_SORT_KEYS).decode()
    return uuid5(dataset_id, inputs)


def _examples(
    store: Store, up: Upload, dataset_id: UUID, open_: bool
) -> tuple[list[UUID], list[Row]]:
    """Each result's example id, and the examples to create (``open_``: the dataset takes
    new examples)."""
    ids: list[UUID] = []
    for index, result in enumerate(up.results):
        if result.get("row_id") is None and not open_:
            raise Invalid(
                "row_id is required: the dataset was not made by an upload",
                loc=_loc("results", index, "row_id"),
            )
        ids.append(_example_id(dataset_id, result))
    unique = list(dict.fromkeys(ids))
    stored = (
        store.list_examples(up.tenant_id, ExampleWhere(ids=unique), Page(0, len(unique)))
        if unique
        else []
    )
    in_dataset = {e["id"]: e["dataset_id"] for e in stored}
    create: dict[UUID, Row] = {}
    for index, (example_id, result) in enumerate(zip(ids, up.results, strict=True)):
        where = in_dataset.get(example_id)
        if where is not None:
            if where != dataset_id:
                raise Conflict(
                    f"Example {example_id} is in another dataset",
                    loc=_loc("results", index, "row_id"),
                )
            continue
        if not open_:
            raise NotFound(f"Example {example_id} not found", loc=_loc("results", index, "row_id"))
        create.setdefault(
            example_id,
            {
                "id": example_id,
                "dataset_id": dataset_id,
                "inputs": result["inputs"],
                "outputs": result.get("expected_outputs"),
                "metadata": None,
                "split": None,
                "source_run_id": None,
                "created_at": None,
            },
        )
    return ids, list(create.values())


def apply_upload(store: Store, up: Upload) -> tuple[Row, Row]:
    """Write the upload (in the writer thread); the dataset and the experiment as stored."""
    t = up.tenant_id
    # Everything that can refuse the upload, before anything is written.
    dataset, new_dataset = _dataset(store, up)
    dataset_id: UUID = dataset["id"] if dataset is not None else new_dataset["id"]
    open_ = dataset is None or bool(dataset.get("externally_managed"))
    example_ids, new_examples = _examples(store, up, dataset_id, open_)
    name = up.experiment["name"]
    if store.list_sessions(t, SessionWhere(name=name), Page(0, 1), stats=False):
        raise Conflict(f"Session with name {name!r} already exists", loc=_loc("experiment_name"))

    if dataset is None:
        store.write_dataset(t, new_dataset)
    elif up.dataset_description is not None and up.dataset_description != dataset.get(
        "description"
    ):
        store.write_dataset_update(t, dataset_id, {"description": up.dataset_description})
    if new_examples:
        store.write_examples(t, new_examples)
    store.write_session(t, {**up.experiment, "reference_dataset_id": dataset_id}, upsert=False)
    runs = [
        RunOp(op.kind, {**op.fields, "reference_example_id": example_id})
        for op, example_id in zip(up.runs, example_ids, strict=True)
    ]
    store.apply_ingest([IngestBatch(t, run_ops=runs, feedback=up.feedback)])
    stored_dataset = store.get_dataset(t, dataset_id)
    experiment = store.get_session(t, up.experiment["id"], stats=True)
    assert stored_dataset is not None and experiment is not None
    return stored_dataset, experiment
