"""Run and feedback ingestion: every order and shape the SDK is known to send.

Runs arrive as post + patch in one request, as one merged post, as a patch in a later
request, as a patch *before* its post, twice, as JSON batches and as single-run calls.
Feedback may arrive before its run. Whatever the order, what a user reads back is the
run as the patch left it, with its feedback counted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.conftest import Server, run_server
from tests.support.ingest import (
    multipart_body,
    new_run,
    patch_of,
    post_multipart,
    read_run,
    run_parts,
    runs_in,
    session_id_of,
    stamp,
    unique,
)

pytestmark = pytest.mark.sdk

# --- run upserts ------------------------------------------------------------------------


def test_post_and_patch_in_one_request(http: httpx.Client) -> None:
    project = unique("one-request")
    run = new_run(project)
    patch = patch_of(run, outputs={"answer": 42})
    post_multipart(http, run_parts("patch", patch) + run_parts("post", run))

    stored = read_run(http, run["id"])
    assert stored["outputs"] == {"answer": 42}
    assert stored["inputs"] == {"question": "q"}
    assert stored["end_time"] is not None and stored["status"] == "success"
    assert stored["session_id"] == session_id_of(http, project)
    assert stored["extra"]["metadata"]["ls_method"] == "traceable"


def test_merged_post(http: httpx.Client) -> None:
    project = unique("merged")
    run = new_run(project, outputs={"answer": 7}, end_time=stamp(datetime.now(UTC)))
    post_multipart(http, run_parts("post", run))

    stored = read_run(http, run["id"])
    assert stored["outputs"] == {"answer": 7}
    assert stored["status"] == "success"


def test_patch_in_a_later_request(http: httpx.Client) -> None:
    project = unique("later")
    run = new_run(project)
    post_multipart(http, run_parts("post", run))
    assert read_run(http, run["id"])["status"] == "pending"

    post_multipart(http, run_parts("patch", patch_of(run, outputs={"answer": 1})))
    stored = read_run(http, run["id"])
    assert stored["outputs"] == {"answer": 1}
    assert stored["inputs"] == {"question": "q"}
    assert stored["status"] == "success"


def test_patch_before_post_keeps_the_patch(http: httpx.Client) -> None:
    """Parallel frames can deliver the patch first; the late ``outputs: {}`` must not win."""
    project = unique("patch-first")
    run = new_run(project)
    patch = patch_of(run, outputs={"answer": "from patch"}, error="boom")
    post_multipart(http, run_parts("patch", patch))
    post_multipart(http, run_parts("post", run))

    stored = read_run(http, run["id"])
    assert stored["outputs"] == {"answer": "from patch"}
    assert stored["inputs"] == {"question": "q"}
    assert stored["error"] == "boom" and stored["status"] == "error"
    assert stored["end_time"] is not None
    assert stored["session_id"] == session_id_of(http, project)


def test_patch_before_post_without_a_project_in_the_patch(http: httpx.Client) -> None:
    project = unique("patch-first-anon")
    run = new_run(project)
    post_multipart(http, run_parts("patch", patch_of(run, session_name=None, outputs={"a": 1})))
    post_multipart(http, run_parts("post", run))

    stored = read_run(http, run["id"])
    assert stored["session_id"] == session_id_of(http, project)
    assert stored["outputs"] == {"a": 1}


def test_same_post_twice_and_a_resent_post_after_the_patch(http: httpx.Client) -> None:
    project = unique("twice")
    run = new_run(project)
    post_multipart(http, run_parts("post", run))
    post_multipart(http, run_parts("post", run))
    post_multipart(http, run_parts("patch", patch_of(run, outputs={"answer": 2})))
    # A whole body re-sent after a read timeout: the original post arrives a third time.
    post_multipart(http, run_parts("post", run))

    runs = runs_in(http, project)
    assert [r["id"] for r in runs] == [run["id"]]
    assert runs[0]["outputs"] == {"answer": 2}
    assert runs[0]["status"] == "success"


def test_runs_batch_json(http: httpx.Client) -> None:
    project = unique("batch")
    first, second = new_run(project), new_run(project)
    merged = {**first, "end_time": stamp(datetime.now(UTC)), "outputs": {"answer": "a"}}
    response = http.post(
        "/runs/batch",
        json={"post": [merged, second], "patch": [patch_of(second, error="plain string")]},
    )
    assert response.status_code == 202, response.text

    assert read_run(http, first["id"])["outputs"] == {"answer": "a"}
    failed = read_run(http, second["id"])
    assert failed["error"] == "plain string" and failed["status"] == "error"
    assert {r["id"] for r in runs_in(http, project)} == {first["id"], second["id"]}


def test_single_run_endpoints_through_the_sdk(shared_server: Server) -> None:
    """``Client(auto_batch_tracing=False)`` uses ``POST /runs`` and ``PATCH /runs/{id}``."""
    from langsmith import Client

    client = Client(api_url=shared_server.url, api_key=shared_server.key, auto_batch_tracing=False)
    project = unique("single")
    run_id = uuid4()
    client.create_run(
        "Single",
        {"x": 1},
        "llm",
        project_name=project,
        id=run_id,
        start_time=datetime.now(UTC),
    )
    client.update_run(run_id, outputs={"y": 2}, end_time=datetime.now(UTC))

    run = client.read_run(run_id)
    assert run.name == "Single" and run.run_type == "llm"
    assert run.inputs == {"x": 1} and run.outputs == {"y": 2}
    assert run.end_time is not None
    assert client.read_project(project_name=project).id == run.session_id


def test_single_run_endpoints_under_the_api_prefix(http: httpx.Client) -> None:
    run = new_run(unique("single-api"))
    assert http.post("/runs", json=run).status_code == 202
    response = http.patch(f"/runs/{run['id']}", json={"outputs": {"done": True}})
    assert response.status_code == 202
    assert read_run(http, run["id"])["outputs"] == {"done": True}


def test_an_unknown_project_name_creates_the_project(
    shared_server: Server, http: httpx.Client
) -> None:
    project = unique("new-project")
    post_multipart(http, run_parts("post", new_run(project)))

    created = shared_server.sdk().read_project(project_name=project, include_stats=True)
    assert created.name == project
    assert created.run_count == 1
    assert created.tenant_id == shared_server.tenant_ids["alpha"]


def test_a_run_without_a_project_goes_to_default(http: httpx.Client) -> None:
    run = new_run(None)
    post_multipart(http, run_parts("post", run))
    assert read_run(http, run["id"])["session_id"] == session_id_of(http, "default")


@pytest.mark.parametrize("zstd", [True, False], ids=["zstd", "uncompressed"])
def test_sdk_tracing_round_trip(tmp_path: Path, zstd: bool) -> None:
    """The SDK's own background sender: separate post/patch parts in a zstd frame, or one
    merged post when uncompressed."""
    with run_server(tmp_path / "data", zstd_compression=zstd) as running:
        client = running.sdk()
        project = unique("traced")
        ids = []
        for i in range(5):
            run_id = uuid4()
            start = datetime.now(UTC)
            dotted = f"{start:%Y%m%dT%H%M%S%fZ}{run_id}"
            client.create_run(
                "Target",
                {"i": i},
                "chain",
                project_name=project,
                id=run_id,
                trace_id=run_id,
                dotted_order=dotted,
                start_time=start,
            )
            client.update_run(
                run_id,
                outputs={"double": 2 * i},
                end_time=datetime.now(UTC),
                trace_id=run_id,
                dotted_order=dotted,
            )
            ids.append(run_id)
        client.flush()

        runs = {r.id: r for r in client.list_runs(project_name=project)}
        assert set(runs) == set(ids)
        for run in runs.values():
            assert run.outputs == {"double": 2 * run.inputs["i"]}
            assert run.end_time is not None and run.status == "success"


def test_sdk_multipart_ingest_with_a_child_run(shared_server: Server) -> None:
    client = shared_server.sdk()
    project = unique("mp-ingest")
    root, child = uuid4(), uuid4()
    start = datetime.now(UTC)
    root_order = f"{start:%Y%m%dT%H%M%S%fZ}{root}"
    child_order = f"{root_order}.{start:%Y%m%dT%H%M%S%fZ}{child}"
    client.multipart_ingest(
        create=[
            {
                "id": root,
                "session_name": project,
                "name": "root",
                "run_type": "chain",
                "trace_id": root,
                "dotted_order": root_order,
                "inputs": {"a": 1},
                "start_time": start,
            },
            {
                "id": child,
                "session_name": project,
                "name": "child",
                "run_type": "tool",
                "trace_id": root,
                "parent_run_id": root,
                "dotted_order": child_order,
                "inputs": {"b": 2},
                "start_time": start,
            },
        ],
        update=[
            {
                "id": child,
                "trace_id": root,
                "parent_run_id": root,
                "dotted_order": child_order,
                "outputs": {"c": 3},
                "end_time": datetime.now(UTC),
            },
        ],
    )
    runs = {r.id: r for r in client.list_runs(project_name=project)}
    assert set(runs) == {root, child}
    assert runs[child].outputs == {"c": 3} and runs[child].parent_run_id == root
    assert runs[child].trace_id == root
    assert [r.id for r in client.list_runs(project_name=project, is_root=True)] == [root]


# --- feedback before its run, and retried ids --------------------------------------------


def test_feedback_posted_before_its_run(shared_server: Server, http: httpx.Client) -> None:
    client = shared_server.sdk()
    project = unique("fb-first")
    run = new_run(project)
    # Accepted at once: a 404 would make the SDK retry for minutes, then raise.
    client.create_feedback(run["id"], "correct", score=1.0, feedback_id=uuid4())
    client.create_feedback(run["id"], "correct", score=0.5)

    post_multipart(http, run_parts("post", run))
    stored = list(client.list_feedback(run_ids=[run["id"]]))
    assert sorted(f.score for f in stored) == [0.5, 1.0]
    stats = client.read_project(project_name=project, include_stats=True).feedback_stats
    assert stats is not None
    assert stats["correct"]["n"] == 2
    assert stats["correct"]["avg"] == pytest.approx(0.75)


def test_feedback_part_before_its_run(shared_server: Server, http: httpx.Client) -> None:
    client = shared_server.sdk()
    project = unique("fb-part-first")
    run = new_run(project)
    feedback_id = str(uuid4())
    feedback = {
        "id": feedback_id,
        "run_id": run["id"],
        "trace_id": run["id"],
        "key": "helpful",
        "score": True,
        "value": None,
        "comment": None,
        "feedback_source": {"type": "model"},
    }
    post_multipart(http, [(f"feedback.{feedback_id}", feedback)])
    # The SDK's own channel: with a trace id, feedback rides the multipart stream.
    client.create_feedback(run["id"], "helpful", score=False, trace_id=run["id"])
    client.flush()

    post_multipart(http, run_parts("post", run) + run_parts("patch", patch_of(run)))
    stored = {str(f.id): f for f in client.list_feedback(run_ids=[run["id"]])}
    assert len(stored) == 2
    assert stored[feedback_id].score is True and stored[feedback_id].trace_id == UUID(run["id"])
    stats = client.read_project(project_name=project, include_stats=True).feedback_stats
    assert stats is not None and stats["helpful"]["n"] == 2
    assert stats["helpful"]["avg"] == pytest.approx(0.5)


def test_a_retried_feedback_id_is_stored_once(shared_server: Server, http: httpx.Client) -> None:
    client = shared_server.sdk()
    run = new_run(unique("fb-retry"))
    post_multipart(http, run_parts("post", run))
    feedback_id = uuid4()
    body = {"id": str(feedback_id), "run_id": run["id"], "key": "k", "score": 0.25}
    assert http.post("/feedback", json=body).status_code == 200
    assert http.post("/feedback", json=body).status_code == 200
    part = (f"feedback.{feedback_id}", {**body, "trace_id": run["id"]})
    post_multipart(http, [part])
    post_multipart(http, [part, part])

    stored = list(client.list_feedback(run_ids=[run["id"]]))
    assert [f.id for f in stored] == [feedback_id]
    assert stored[0].score == 0.25


def test_a_retried_example_id_is_stored_once(shared_server: Server, http: httpx.Client) -> None:
    dataset = http.post("/datasets", json={"name": unique("ex-retry")}).json()
    examples = [
        {"id": str(uuid4()), "dataset_id": dataset["id"], "inputs": {"i": i}} for i in range(3)
    ]
    for _ in range(2):
        response = http.post("/examples/bulk", json=examples)
        assert response.status_code == 200, response.text
    listed = list(shared_server.sdk().list_examples(dataset_id=dataset["id"]))
    assert sorted(str(e.id) for e in listed) == sorted(e["id"] for e in examples)


def test_a_retried_session_create_is_stored_once(http: httpx.Client) -> None:
    body = {"id": str(uuid4()), "name": unique("sess-retry")}
    first = http.post("/sessions", json=body)
    second = http.post("/sessions", json=body)
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["id"] == second.json()["id"] == body["id"]
    assert len(http.get("/sessions", params={"name": body["name"]}).json()) == 1


# --- reading runs back ------------------------------------------------------------------


def test_list_runs_pages_through_every_run_once(shared_server: Server, http: httpx.Client) -> None:
    project = unique("paged-runs")
    same_start = stamp(datetime.now(UTC))
    # 60 runs share one start time: the cursor must break ties, not skip or repeat them.
    runs = [new_run(project, start_time=same_start) for _ in range(60)]
    runs += [new_run(project) for _ in range(170)]
    assert http.post("/runs/batch", json={"post": runs}).status_code == 202

    listed = [r.id for r in shared_server.sdk().list_runs(project_name=project)]
    assert len(listed) == len(runs) == 230
    assert {str(i) for i in listed} == {r["id"] for r in runs}

    body: dict[str, Any] = {"session": [session_id_of(http, project)], "limit": 100}
    sizes = []
    while True:
        page = http.post("/runs/query", json=body).json()
        sizes.append(len(page["runs"]))
        if not page["cursors"]["next"]:
            break
        body["cursor"] = page["cursors"]["next"]
    assert sizes == [100, 100, 30]


def test_runs_carry_the_fields_the_sdk_requires(http: httpx.Client) -> None:
    run = new_run(unique("fields"))
    post_multipart(http, run_parts("post", run))
    page = http.post("/runs/query", json={"id": [run["id"]]}).json()
    assert set(page) >= {"runs", "cursors"} and page["cursors"]["next"] is None
    (stored,) = page["runs"]
    for key in ("id", "name", "start_time", "run_type", "trace_id", "session_id", "app_path"):
        assert stored[key] is not None, key


def test_a_large_compressed_request_is_stored_whole(http: httpx.Client) -> None:
    """1,000 runs posted and patched in one zstd body (the SDK's batch size; how fast it is
    answered, which matters because the SDK re-sends after 10 s, is for the benchmarks)."""
    import zstandard

    project = unique("fast-ack")
    runs = [new_run(project) for _ in range(1000)]
    parts = [
        part
        for run in runs
        for part in run_parts("post", run) + run_parts("patch", patch_of(run, outputs={"a": 1}))
    ]
    body, headers = multipart_body(parts)
    packed = zstandard.ZstdCompressor().compress(body)
    response = http.post(
        "/runs/multipart", content=packed, headers={**headers, "content-encoding": "zstd"}
    )
    assert response.status_code == 202, response.text
    stored = runs_in(http, project)
    assert len(stored) == 1000 and all(r["outputs"] == {"a": 1} for r in stored)


# --- durability -------------------------------------------------------------------------


def test_acknowledged_ingest_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    project = unique("durable")
    runs = [new_run(project) for _ in range(40)]
    feedback_ids = [str(uuid4()) for _ in runs]
    with run_server(data_dir) as first, first.http() as http:
        parts: list[tuple[str, Any]] = []
        for run, feedback_id in zip(runs, feedback_ids, strict=True):
            parts += run_parts("post", run)
            parts += run_parts("patch", patch_of(run, outputs={"ok": True}))
            parts.append(
                (
                    f"feedback.{feedback_id}",
                    {
                        "id": feedback_id,
                        "run_id": run["id"],
                        "trace_id": run["id"],
                        "key": "ok",
                        "score": 1,
                    },
                )
            )
        post_multipart(http, parts)

    with run_server(data_dir) as second, second.http() as http:
        stored = runs_in(http, project)
        assert {r["id"] for r in stored} == {r["id"] for r in runs}
        assert all(r["outputs"] == {"ok": True} for r in stored)
        found = second.sdk().list_feedback(run_ids=[r["id"] for r in runs])
        assert {str(f.id) for f in found} == set(feedback_ids)


# --- many clients at once ---------------------------------------------------------------


def feedback_part(run: dict[str, Any], key: str, score: Any) -> tuple[str, Any]:
    feedback_id = str(uuid4())
    body = {"id": feedback_id, "run_id": run["id"], "trace_id": run["id"], "key": key}
    return f"feedback.{feedback_id}", {**body, "score": score}


def test_concurrent_clients_each_get_their_own_runs_and_feedback(shared_server: Server) -> None:
    """Requests committed together (the writer groups what arrives while it works) keep
    every run, patch and feedback, and a bad request among them fails alone."""
    from concurrent.futures import ThreadPoolExecutor

    project = unique("concurrent")
    clients, requests, runs_per_request = 6, 4, 5
    runs = [[new_run(project) for _ in range(runs_per_request)] for _ in range(clients * requests)]

    def send(index: int) -> list[int]:
        statuses = []
        with shared_server.http() as http:
            for batch in runs[index * requests : (index + 1) * requests]:
                parts = [
                    part
                    for run in batch
                    for part in run_parts("post", run)
                    + run_parts("patch", patch_of(run, outputs={"answer": run["id"]}))
                    + [feedback_part(run, "correct", 1.0), feedback_part(run, "kind", True)]
                ]
                body, headers = multipart_body(parts)
                statuses.append(http.post("/runs/multipart", content=body, headers=headers))
                bad, headers = multipart_body([feedback_part(batch[0], "", 0.5)])  # empty key
                statuses.append(http.post("/runs/multipart", content=bad, headers=headers))
        return [response.status_code for response in statuses]

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(send, range(clients)))
    assert answers == [[202, 422] * requests] * clients

    with shared_server.http() as http:
        stored = runs_in(http, project)
    assert len(stored) == clients * requests * runs_per_request
    assert all(r["outputs"] == {"answer": r["id"]} and r["status"] == "success" for r in stored)
    stats = (
        shared_server.sdk().read_project(project_name=project, include_stats=True).feedback_stats
    )
    assert stats is not None
    assert stats["correct"]["n"] == stats["kind"]["n"] == len(stored)
    assert stats["kind"]["avg"] == pytest.approx(1.0)


def test_one_invalid_feedback_refuses_the_whole_request_naming_it(http: httpx.Client) -> None:
    project = unique("bad-feedback")
    run = new_run(project)
    good = [feedback_part(run, f"k{i}", i / 10) for i in range(5)]
    bad = feedback_part(run, "k5", {"not": "a score"})
    body, headers = multipart_body(run_parts("post", run) + good[:3] + [bad] + good[3:])
    response = http.post("/runs/multipart", content=body, headers=headers)

    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"][:4] == ["body", "feedback", 3, "score"]
    assert http.get(f"/runs/{run['id']}").status_code == 404
    assert http.get(f"/feedback/{good[0][1]['id']}").status_code == 404
