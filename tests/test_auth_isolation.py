"""API keys and tenants: no key or a wrong key is a 401, a foreign ``X-Tenant-Id`` a 403,
and one tenant never sees, changes or deletes another's data. Keys are stored hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import duckdb
import httpx
import pytest
from langsmith import Client
from langsmith.utils import LangSmithAuthError, LangSmithError

from tests.conftest import Server, run_server
from tests.support.ingest import (
    multipart_body,
    new_run,
    patch_of,
    post_multipart,
    run_parts,
    unique,
)


@dataclass
class AlphaData:
    """One of everything, owned by tenant alpha."""

    dataset: dict[str, Any]
    example: dict[str, Any]
    session: dict[str, Any]
    run: dict[str, Any]
    feedback: dict[str, Any]


@pytest.fixture(scope="module")
def alpha(shared_server: Server) -> AlphaData:
    with shared_server.http("alpha") as http:
        dataset = http.post("/datasets", json={"name": unique("secret-ds")}).json()
        example = http.post(
            "/examples", json={"dataset_id": dataset["id"], "inputs": {"secret": 1}}
        ).json()
        session = http.post(
            "/sessions", json={"name": unique("secret-exp"), "reference_dataset_id": dataset["id"]}
        ).json()
        run = new_run(session["name"], reference_example_id=example["id"])
        post_multipart(http, run_parts("post", run) + run_parts("patch", patch_of(run)))
        feedback = http.post(
            "/feedback", json={"run_id": run["id"], "key": "secret", "score": 1.0}
        ).json()
        config = {"feedback_key": "secret", "feedback_config": {"type": "continuous"}}
        assert http.post("/feedback-configs", json=config).status_code == 200
    return AlphaData(dataset, example, session, run, feedback)


# --- authentication -----------------------------------------------------------------------

PROTECTED = [
    ("GET", "/datasets"),
    ("GET", "/sessions?limit=1"),
    ("GET", "/examples"),
    ("GET", "/feedback"),
    ("POST", "/runs/query"),
    ("POST", "/runs/multipart"),
    ("POST", "/runs/batch"),
    ("POST", "/feedback"),
]


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_key_is_401(shared_server: Server, prefix: str, method: str, path: str) -> None:
    response = httpx.request(method, shared_server.url + prefix + path, json={})
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "evd_not-a-real-key"},
        {"x-api-key": ""},
        {"authorization": "Bearer evd_not-a-real-key"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["wrong-key", "empty-key", "wrong-bearer", "basic"],
)
def test_a_wrong_key_is_401(shared_server: Server, headers: dict[str, str]) -> None:
    for prefix in ("", "/api/v1"):
        response = httpx.get(shared_server.url + prefix + "/datasets", headers=headers)
        assert response.status_code == 401, headers


def test_the_sdk_reports_a_wrong_key(shared_server: Server) -> None:
    client = Client(api_url=shared_server.url, api_key="evd_not-a-real-key")
    with pytest.raises(LangSmithAuthError):
        client.create_dataset(unique("nope"))
    with pytest.raises(LangSmithAuthError):
        list(client.list_datasets())


def test_a_bearer_token_works(shared_server: Server, alpha: AlphaData) -> None:
    headers = {"authorization": f"Bearer {shared_server.keys['alpha']}"}
    response = httpx.get(
        f"{shared_server.url}/api/v1/datasets/{alpha.dataset['id']}", headers=headers
    )
    assert response.status_code == 200
    assert response.json()["name"] == alpha.dataset["name"]


def test_x_tenant_id_must_be_the_keys_tenant(shared_server: Server, alpha: AlphaData) -> None:
    key = shared_server.keys["alpha"]
    own, other = shared_server.tenant_ids["alpha"], shared_server.tenant_ids["beta"]
    url = f"{shared_server.url}/datasets/{alpha.dataset['id']}"
    assert httpx.get(url, headers={"x-api-key": key, "x-tenant-id": str(own)}).status_code == 200
    assert httpx.get(url, headers={"x-api-key": key, "x-tenant-id": str(other)}).status_code == 403
    upper = {"x-api-key": key, "x-tenant-id": str(own).upper()}
    assert httpx.get(url, headers=upper).status_code == 200

    # The SDK sends X-Tenant-Id on every request when a workspace is configured.
    mine = Client(api_url=shared_server.url, api_key=key, workspace_id=str(own))
    assert mine.read_dataset(dataset_id=alpha.dataset["id"]).name == alpha.dataset["name"]
    theirs = Client(api_url=shared_server.url, api_key=key, workspace_id=str(other))
    with pytest.raises(LangSmithError):
        theirs.read_dataset(dataset_id=alpha.dataset["id"])


# --- isolation ----------------------------------------------------------------------------


@pytest.fixture
def beta(shared_server: Server) -> Iterator[httpx.Client]:
    with shared_server.http("beta") as client:
        yield client


def test_another_tenant_gets_404_for_every_object(alpha: AlphaData, beta: httpx.Client) -> None:
    objects = {
        "datasets": alpha.dataset["id"],
        "examples": alpha.example["id"],
        "sessions": alpha.session["id"],
        "feedback": alpha.feedback["id"],
    }
    for resource, object_id in objects.items():
        assert beta.get(f"/{resource}/{object_id}").status_code == 404, resource
        patched = beta.patch(f"/{resource}/{object_id}", json={"description": "mine now"})
        assert patched.status_code == 404, resource
        assert beta.delete(f"/{resource}/{object_id}").status_code == 404, resource
    assert beta.get(f"/runs/{alpha.run['id']}").status_code == 404
    assert beta.delete("/examples", params={"example_ids": alpha.example["id"]}).status_code == 404
    body = [{"dataset_id": alpha.dataset["id"], "inputs": {"x": 1}}]
    assert beta.post("/examples/bulk", json=body).status_code == 404
    parts, headers = multipart_body([(str(uuid4()), {}), (f"{uuid4()}.inputs", {"x": 1})])
    upload = beta.post(
        f"/platform/datasets/{alpha.dataset['id']}/examples", content=parts, headers=headers
    )
    assert upload.status_code == 404
    parts, headers = multipart_body([(alpha.example["id"], {"metadata": {"mine": True}})])
    update = beta.patch(
        f"/platform/datasets/{alpha.dataset['id']}/examples", content=parts, headers=headers
    )
    assert update.status_code == 404


def test_another_tenant_gets_404_for_every_annotation_queue_route(
    shared_server: Server, alpha: AlphaData, beta: httpx.Client
) -> None:
    with shared_server.http("alpha") as http:
        queue = http.post("/annotation-queues", json={"name": unique("secret-queue")}).json()
        base = f"/annotation-queues/{queue['id']}"
        (item,) = http.post(f"{base}/runs", json=[alpha.run["id"]]).json()
    reads = [base, f"{base}/runs", f"{base}/run/0", f"{base}/size", f"{base}/reviews"]
    for path in reads:
        assert beta.get(path).status_code == 404, path
    writes = [
        ("PATCH", base, {"name": "mine now"}),
        ("POST", f"{base}/runs", [alpha.run["id"]]),
        ("PATCH", f"{base}/runs/{item['id']}", {"last_reviewed_time": "2026-01-01T00:00:00Z"}),
        ("POST", f"/annotation-queues/status/{item['id']}", {"status": "completed"}),
    ]
    for method, path, body in writes:
        assert beta.request(method, path, json=body).status_code == 404, (method, path)
    assert beta.delete(f"{base}/runs/{item['id']}").status_code == 404
    assert beta.delete(base).status_code == 404
    assert beta.delete("/annotation-queues", params={"queue_ids": queue["id"]}).status_code == 404
    assert queue["id"] not in {q["id"] for q in beta.get("/annotation-queues").json()}
    # Beta may reuse alpha's queue id: it makes beta's own queue, which cannot take
    # alpha's run.
    mine = beta.post("/annotation-queues", json={"id": queue["id"], "name": "beta's"})
    assert mine.status_code == 200 and mine.json()["tenant_id"] != queue["tenant_id"]
    assert beta.post(f"{base}/runs", json=[alpha.run["id"]]).status_code == 404
    with shared_server.http("alpha") as http:
        assert http.get(base).json()["name"] == queue["name"]
        queued = http.get(f"{base}/runs").json()
        assert [(r["id"], r["last_reviewed_time"]) for r in queued] == [(alpha.run["id"], None)]
        assert http.get(f"{base}/reviews").json() == []


def test_another_tenant_never_sees_anything_in_lists(
    shared_server: Server, alpha: AlphaData, beta: httpx.Client
) -> None:
    client = shared_server.sdk("beta")
    assert alpha.dataset["id"] not in {d["id"] for d in beta.get("/datasets").json()}
    assert beta.get("/datasets", params={"name": alpha.dataset["name"]}).json() == []
    assert beta.get("/datasets", params={"id": alpha.dataset["id"]}).json() == []
    assert beta.get("/examples", params={"dataset": alpha.dataset["id"]}).json() == []
    assert beta.get("/examples", params={"id": alpha.example["id"]}).json() == []
    assert beta.get("/sessions", params={"name": alpha.session["name"]}).json() == []
    assert beta.get("/sessions", params={"id": alpha.session["id"]}).json() == []
    listed = beta.get("/sessions", params={"reference_dataset": alpha.dataset["id"]}).json()
    assert listed == []
    assert beta.get("/feedback", params={"run": alpha.run["id"]}).json() == []
    assert beta.get("/feedback", params={"session": alpha.session["id"]}).json() == []
    assert beta.get("/feedback", params={"key": "secret"}).json() == []
    assert beta.get("/feedback-configs", params={"key": "secret"}).json() == []
    page = beta.post("/runs/query", json={"session": [alpha.session["id"]]}).json()
    assert page["runs"] == []
    assert beta.post("/runs/query", json={"id": [alpha.run["id"]]}).json()["runs"] == []
    assert beta.post("/runs/query", json={"trace": alpha.run["id"]}).json()["runs"] == []
    # Tenant discovery gives beta its own tenant id.
    projects = beta.get("/sessions", params={"limit": 1}).json()
    assert [p["tenant_id"] for p in projects] == [str(shared_server.tenant_ids["beta"])]
    assert alpha.session["name"] not in {p.name for p in client.list_projects()}


def test_another_tenant_cannot_touch_data_by_reusing_ids(
    shared_server: Server, alpha: AlphaData, beta: httpx.Client
) -> None:
    """Ids are client-chosen, so beta may send alpha's ids: that must only ever write beta's
    own rows."""
    run = alpha.run
    hijack = patch_of(run, outputs={"hijacked": True}, session_name=alpha.session["name"])
    post_multipart(beta, run_parts("patch", hijack))
    patched = beta.patch(f"/runs/{run['id']}", json={"outputs": {"hijacked": 2}})
    assert patched.status_code == 202, patched.text
    feedback = {"id": alpha.feedback["id"], "run_id": run["id"], "key": "secret", "score": 0.0}
    assert beta.post("/feedback", json=feedback).status_code == 200
    extra = {"run_id": run["id"], "trace_id": run["id"], "key": "secret", "score": 0.0}
    assert beta.post("/feedback", json=extra).status_code == 200
    # The hijacking patch above made beta a session of that name, so the name is taken.
    session = {"id": alpha.session["id"], "name": alpha.session["name"]}
    refused = beta.post("/sessions", json=session)
    assert refused.status_code == 409, refused.text
    assert refused.json() == {"detail": f"Session with name '{session['name']}' already exists"}
    dataset = {"id": alpha.dataset["id"], "name": alpha.dataset["name"]}
    created = beta.post("/datasets", json=dataset)
    assert created.status_code == 200, created.text
    assert created.json()["tenant_id"] == str(shared_server.tenant_ids["beta"])

    with shared_server.http("alpha") as http:
        stored = http.get(f"/runs/{run['id']}").json()
        assert stored["outputs"] == {} and stored["session_id"] == alpha.session["id"]
        feedback_list = http.get("/feedback", params={"run": run["id"]}).json()
        assert [(f["id"], f["score"]) for f in feedback_list] == [(alpha.feedback["id"], 1.0)]
    stats = shared_server.sdk("alpha").read_project(
        project_id=alpha.session["id"], include_stats=True
    )
    assert stats.feedback_stats is not None
    assert stats.feedback_stats["secret"]["n"] == 1
    assert stats.feedback_stats["secret"]["avg"] == 1.0


def test_names_are_per_tenant(shared_server: Server, beta: httpx.Client) -> None:
    dataset, session = unique("shared-name"), unique("shared-name")
    with shared_server.http("alpha") as http:
        assert http.post("/datasets", json={"name": dataset}).status_code == 200
        theirs = http.post("/sessions", json={"name": session}).json()
    assert beta.post("/datasets", json={"name": dataset}).status_code == 200
    created = beta.post("/sessions", json={"name": session})
    assert created.status_code == 200
    assert created.json()["id"] != theirs["id"]


# --- keys at rest -------------------------------------------------------------------------


def test_keys_are_stored_hashed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with run_server(data_dir) as running:
        keys = dict(running.keys)
        tenant_ids = dict(running.tenant_ids)
        listed = httpx.get(running.url + "/datasets", headers={"x-api-key": keys["alpha"]})
        assert listed.status_code == 200, listed.text

    database = data_dir / "evaldelta.duckdb"
    con = duckdb.connect(str(database), read_only=True)
    try:
        columns = [c[0] for c in con.execute("SELECT * FROM api_keys LIMIT 0").description]
        rows = con.execute("SELECT * FROM api_keys").fetchall()
        hashes = {
            row[0]: row[1]
            for row in con.execute("SELECT key_hash, tenant_id FROM api_keys").fetchall()
        }
    finally:
        con.close()
    assert len(rows) == len(keys)
    for name, key in keys.items():
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                assert key not in str(value), column
                assert key[len("evd_") + 4 :] not in str(value), column
        assert hashes[hashlib.sha256(key.encode()).hexdigest()] == UUID(str(tenant_ids[name]))
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert all(key.encode() not in content for key in keys.values()), path
