"""Every operation the app serves, read from its own OpenAPI schema (so new routes are
covered without editing this file), refuses requests without a valid key, and no
id-addressed read or delete reaches another tenant's object."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import Server
from tests.support.attachments import attached_example

PUBLIC = {"/info", "/api/v1/info", "/health", "/api/v1/health", "/", "/ui"}
# Routes whose path holds a secret that takes the place of the key (presigned feedback
# tokens): anyone with the secret may use them, and no one without it.
BY_SECRET = re.compile(r"/feedback/tokens/\{token\}$")
# Reads through a share token (the token is the capability): docs/sharing.md.
SHARE_TOKEN_ROUTES = re.compile(r"^(/api/v1)?/public/\{share_token\}/")


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/ui/") or bool(SHARE_TOKEN_ROUTES.match(path))


def operations(server: Server) -> list[tuple[str, str]]:
    schema = server.app.openapi()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if not is_public(path) and not BY_SECRET.search(path)
    ]


def test_only_share_token_routes_go_without_a_key(server: Server) -> None:
    """Every route under ``/public/`` takes a share token instead of a key, documents no
    key, and answers an unknown token (with or without any key) with a 404, never a 401
    and never data; nothing else is keyless but the presigned feedback-token routes and the
    info, health and page routes."""
    schema = server.app.openapi()
    keyless = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "security" not in operation
    }
    shared = {(m, p) for m, p in keyless if SHARE_TOKEN_ROUTES.match(p)}
    by_secret = {(m, p) for m, p in keyless if BY_SECRET.search(p)}
    assert keyless - shared - by_secret == {
        (m, p) for m, p in keyless if p in PUBLIC or p.startswith("/ui")
    }
    reads = {  # the API's reads through a token (tagged "public"; a page may share the prefix)
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "public" in operation.get("tags", [])
    }
    assert len(reads) == 2 * 10 and reads <= shared  # ten, at the root and under /api/v1
    for headers in ({}, {"x-api-key": server.keys["beta"]}, {"x-api-key": "evd_wrong"}):
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            for method, path in sorted(reads):
                response = http.request(method, fill(path, {}), json={})
                assert response.status_code == 404, (method, path, headers, response.text)


def required_query(server: Server, method: str, path: str) -> dict[str, str]:
    """A valid value of each required query parameter: the first example it documents."""
    operation = server.app.openapi()["paths"][path][method.lower()]
    params = {}
    for param in operation.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            examples = list(param.get("examples", {}).values())
            assert examples, f"{method} {path}: no example for {param['name']}"
            params[param["name"]] = examples[0]["value"]
    return params


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


def test_every_operation_needs_a_valid_key(server: Server) -> None:
    ops = operations(server)
    assert len(ops) > 40  # the table really was read
    for headers in ({}, {"x-api-key": "evd_not-a-key"}, {"authorization": "Bearer nope"}):
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            for method, path in ops:
                response = http.request(method, fill(path, {}), json={})
                assert response.status_code == 401, (method, path, headers, response.text)
                assert "detail" in response.json()


def test_routes_by_secret_answer_404_to_any_other_value_key_or_not(server: Server) -> None:
    schema = server.app.openapi()
    found = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if BY_SECRET.search(path)
    ]
    assert len(found) == 4  # GET and POST, at the root and under /api/v1
    for headers in ({}, {"x-api-key": server.key}):
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            for method, path in found:
                response = http.request(method, fill(path, {}), json={"score": 1})
                assert response.status_code == 404, (method, path, response.text)


@pytest.fixture
def alpha_ids(server: Server) -> dict[str, str]:
    """One object of each kind that an id path parameter can name, owned by alpha."""
    with server.http("alpha") as http:
        dataset = http.post("/datasets", json={"name": "owned-by-alpha"}).json()
        example = attached_example(http, dataset["id"], name="pic")
        session = http.post(
            "/sessions", json={"name": "alpha-exp", "reference_dataset_id": dataset["id"]}
        ).json()
        run_id, feedback_id = str(uuid.uuid4()), str(uuid.uuid4())
        assert (
            http.post(
                "/runs",
                json={
                    "id": run_id,
                    "name": "t",
                    "run_type": "chain",
                    "session_id": session["id"],
                    "start_time": "2026-01-01T00:00:00Z",
                    "reference_example_id": example["id"],
                },
            ).status_code
            == 202
        )
        assert (
            http.post(
                "/feedback", json={"id": feedback_id, "run_id": run_id, "key": "k", "score": 1}
            ).status_code
            == 200
        )
        pairwise = http.post(
            "/datasets/comparative", json={"experiment_ids": [session["id"]], "name": "pair"}
        ).json()
        api_key = http.post("/api-key", json={"description": "alpha's second"}).json()
        queue = http.post("/annotation-queues", json={"name": "alpha-queue"}).json()
        (item,) = http.post(f"/annotation-queues/{queue['id']}/runs", json=[run_id]).json()
    return {
        "api_key_id": api_key["id"],
        "dataset_id": dataset["id"],
        "example_id": example["id"],
        "session_id": session["id"],
        "run_id": run_id,
        "feedback_id": feedback_id,
        "comparative_experiment_id": pairwise["id"],
        "queue_id": queue["id"],
        "queue_run_id": item["id"],
        "annotation_queue_run_id": item["id"],
        "index": "0",
        "name": "pic",  # the example's attachment
    }


def test_id_addressed_reads_and_deletes_are_404_across_tenants(
    server: Server, alpha_ids: dict[str, str]
) -> None:
    checked = 0
    with httpx.Client(
        base_url=server.url, headers={"x-api-key": server.keys["beta"]}, timeout=30
    ) as beta:
        for method, path in operations(server):
            names = re.findall(r"\{(\w+)\}", path)
            if method not in ("GET", "DELETE") or not names:
                continue
            assert set(names) <= set(alpha_ids), f"no object to try for {path}"
            params = required_query(server, method, path)
            response = beta.request(method, fill(path, alpha_ids), params=params)
            assert response.status_code == 404, (method, path, response.text)
            checked += 1
    assert checked >= 8
    with server.http("alpha") as alpha:  # nothing was deleted by beta's attempts
        assert alpha.get(f"/datasets/{alpha_ids['dataset_id']}").status_code == 200
        assert alpha.get(f"/feedback/{alpha_ids['feedback_id']}").status_code == 200
        assert alpha.get(f"/runs/{alpha_ids['run_id']}").status_code == 200
        assert alpha_ids["api_key_id"] in {k["id"] for k in alpha.get("/api-key").json()}
        attachment = f"/examples/{alpha_ids['example_id']}/attachments/{alpha_ids['name']}"
        assert alpha.get(attachment).status_code == 200
        listed = alpha.get(f"/datasets/{alpha_ids['dataset_id']}/comparative").json()
        assert [c["id"] for c in listed] == [alpha_ids["comparative_experiment_id"]]
        queued = alpha.get(f"/annotation-queues/{alpha_ids['queue_id']}/runs").json()
        assert [r["queue_run_id"] for r in queued] == [alpha_ids["queue_run_id"]]
