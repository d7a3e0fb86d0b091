"""API keys and share tokens never reach the server's output: ``evaldelta serve`` at its
most verbose log level (access log and ASGI message tracing included) is sent valid and
invalid keys in every way it accepts them, with requests that succeed and that fail in
every way, and not a fragment of any key appears in what it prints; share and feedback
tokens in paths are printed as ``***``."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import pytest

from evaldelta.cli.serve import _redacted
from tests.support.api_keys import assert_refused_like_a_wrong_key
from tests.support.cli_process import EXIT_TIMEOUT, command_env, evaldelta, free_port, serving
from tests.support.ingest import unique

FRAGMENT = 8  # no run of this many characters of a key's secret part may appear


def leaked(output: str, key: str) -> list[str]:
    """The fragments of ``key`` found in ``output``."""
    secret = key.removeprefix("evd_")
    windows = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    return sorted(w for w in windows if w in output)


def raw_request(url: str, header_lines: bytes) -> bytes:
    """A GET with the given header lines, over a bare socket: headers httpx will not send."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            b"GET /api/v1/datasets HTTP/1.1\r\nHost: "
            + parts.netloc.encode()
            + b"\r\n"
            + header_lines
            + b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def create_key(data_dir: Path, tenant: str) -> str:
    created = evaldelta(
        "keys", "create", "--tenant", tenant, "--data-dir", str(data_dir), cwd=data_dir.parent
    )
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_no_key_appears_in_the_output_of_a_tracing_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key, other_key = create_key(data_dir, "team-a"), create_key(data_dir, "team-b")
    wrong = "evd_" + secrets.token_urlsafe(32)  # well-formed, but no tenant's
    odd = "evd_" + secrets.token_urlsafe(24)  # sent with bytes no header may hold
    huge = "evd_" + secrets.token_urlsafe(48_000)  # 64 KB in one header
    sent = [key, other_key, wrong, odd, huge]
    with serving(data_dir, log_level="trace", max_body_bytes="20000") as served:
        url = served.url
        with httpx.Client(base_url=url + "/api/v1", timeout=30) as http:
            ok = {"x-api-key": key}
            statuses = [
                http.get("/datasets", headers=ok).status_code,
                http.get("/datasets", headers={"authorization": f"Bearer {key}"}).status_code,
                http.get("/datasets", headers={"x-api-key": wrong}).status_code,
                http.get("/datasets", headers={"authorization": f"Bearer {wrong}"}).status_code,
                http.get("/datasets", headers={"authorization": f"bearer  {wrong}"}).status_code,
                http.get(
                    "/datasets", headers={"x-api-key": key, "x-tenant-id": str(uuid4())}
                ).status_code,
                http.get(f"/datasets/{uuid4()}", headers=ok).status_code,
                http.post("/datasets", headers=ok, json={"name": 5}).status_code,
                http.post("/datasets", headers=ok, content=b"{not json").status_code,
                http.post(
                    "/runs/multipart",
                    headers={**ok, "content-type": "multipart/form-data; boundary=x"},
                    content=b"--x\r\nbroken",
                ).status_code,
                http.post("/datasets", headers=ok, json={"name": "x" * 30_000}).status_code,
                http.post(
                    f"/datasets/{uuid4()}/runs/delta/stream",
                    headers={"x-api-key": wrong},
                    json={"baseline_session_id": str(uuid4())},
                ).status_code,
                http.post(
                    f"/datasets/{uuid4()}/runs/delta/stream",
                    headers=ok,
                    json={
                        "baseline_session_id": str(uuid4()),
                        "comparison_session_ids": [str(uuid4())],
                        "feedback_keys": ["correct"],
                    },
                ).status_code,
                http.post(
                    f"/datasets/{uuid4()}/runs", headers=ok, json={"session_ids": [str(uuid4())]}
                ).status_code,
                http.post(
                    f"{url}/api/v2/datasets/{uuid4()}/experiment-runs",
                    headers={"x-api-key": wrong},
                    json={"experiment_ids": [str(uuid4())]},
                ).status_code,
            ]
            # 64 KB in one header: refused as a wrong key, or as too big a head.
            huge_answer = http.get("/datasets", headers={"x-api-key": huge})
        assert statuses == [
            *(200, 200, 401, 401, 401, 403, 404, 422, 422, 400, 413, 401, 404, 404, 401)
        ]
        assert_refused_like_a_wrong_key(huge_answer, len(huge))
        odd_bytes = odd.encode() + b"\xff\xfe"
        assert b" 401 " in raw_request(url, b"X-Api-Key: " + odd_bytes + b"\r\n")
        assert b" 400 " in raw_request(url, b"X-Api-Key: " + odd.encode() + b"\x00\r\n")
        assert b" 400 " in raw_request(url, b"X-Api-Key: " + odd.encode() + b"\r \r\n")

        from langsmith import Client

        client = Client(api_url=url, api_key=other_key)
        dataset = client.create_dataset(unique("logged"))
        client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
        assert [d.id for d in client.list_datasets()] == [dataset.id]
        sides = [client.create_project(unique(s), reference_dataset_id=dataset.id) for s in "ab"]
        pair = client.create_comparative_experiment("pair", experiments=[p.id for p in sides])
        with httpx.Client(base_url=url + "/api/v1", headers={"x-api-key": other_key}) as http:
            listed = http.get(f"/datasets/{dataset.id}/comparative").json()
            assert [c["id"] for c in listed] == [str(pair.id)]
            assert http.delete(f"/datasets/comparative/{pair.id}").status_code == 200
        # The routes of splits, example filters and dataset versions log like the rest.
        examples = list(
            client.list_examples(dataset_id=dataset.id, filter='exists(metadata, "dataset_split")')
        )
        client.update_dataset_splits(
            dataset_id=dataset.id, split_name="ci", example_ids=[e.id for e in examples]
        )
        version = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
        client.update_dataset_tag(dataset_id=dataset.id, as_of=version.as_of, tag="logged")
        assert client.list_dataset_splits(dataset_id=dataset.id, as_of="logged") == ["base", "ci"]
        assert len(list(client.list_dataset_versions(dataset_id=dataset.id))) == 2
        client.diff_dataset_versions(
            dataset_id=dataset.id, from_version="logged", to_version="latest"
        )
        # A key made, used, listed and revoked while serving: the answer that holds it is
        # the only place it appears.
        with httpx.Client(base_url=url + "/api/v1", headers={"x-api-key": key}) as http:
            made = http.post("/api-key", json={"description": "made while serving"}).json()
            sent.append(made["key"])
            assert http.get("/datasets", headers={"x-api-key": made["key"]}).status_code == 200
            assert http.get("/api-key").status_code == 200
            assert http.delete(f"/api-key/{made['id']}").status_code == 200
            assert http.get("/datasets", headers={"x-api-key": made["key"]}).status_code == 401
        # The routes of annotation queues (a reviewer is named by a key prefix) too.
        queue = client.create_annotation_queue(name=unique("logged-queue"))
        client.update_annotation_queue(queue.id, name=queue.name, description="reviewed")
        assert [q.id for q in client.list_annotation_queues(queue_ids=[queue.id])] == [queue.id]
        with httpx.Client(base_url=url + "/api/v1", headers={"x-api-key": other_key}) as http:
            assert http.get(f"/annotation-queues/{queue.id}/reviews").json() == []
        client.delete_annotation_queue(queue.id)
        # Threads and uploaded experiments log like the rest.
        assert client.list_threads(project_id=sides[0].id) == []
        stamp = "2026-01-01T00:00:00+00:00"
        upload = {
            "experiment_name": unique("uploaded"),
            "experiment_start_time": stamp,
            "experiment_end_time": stamp,
            "dataset_id": str(dataset.id),
            "results": [
                {
                    "row_id": str(examples[0].id),
                    "inputs": {},
                    "start_time": stamp,
                    "end_time": stamp,
                }
            ],
        }
        with httpx.Client(base_url=url + "/api/v1", timeout=30) as http:
            uploaded = http.post(
                "/datasets/upload-experiment", headers={"x-api-key": other_key}, json=upload
            )
            assert uploaded.status_code == 200, uploaded.text
            refused = http.post(
                "/datasets/upload-experiment", headers={"x-api-key": wrong}, json=upload
            )
            assert refused.status_code == 401
        # Attachment download links are credentials too: fetched (by the SDK, keyless).
        attached = client.create_examples(
            dataset_id=client.create_dataset(unique("logged-att")).id,
            examples=[{"inputs": {"q": 2}, "attachments": {"f": ("text/plain", b"logged")}}],
        )["example_ids"][0]
        read = client.read_example(attached)
        assert read.attachments["f"]["reader"].read() == b"logged"
        link = read.attachments["f"]["presigned_url"]
        signature = link.rsplit(".", 1)[-1]
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=EXIT_TIMEOUT) == 0

    output = served.stdout + served.stderr
    # The server did log, at length: every request, and the ASGI messages of each.
    assert '"GET /api/v1/datasets HTTP/1.1" 401' in output
    assert '"POST /api/v1/datasets HTTP/1.1" 413' in output
    assert '"POST /datasets/comparative HTTP/1.1" 200' in output
    assert '"POST /api/v1/api-key HTTP/1.1" 200' in output
    assert '"POST /annotation-queues HTTP/1.1" 200' in output
    assert '"POST /api/v1/datasets/upload-experiment HTTP/1.1" 200' in output
    assert "ASGI [" in output and "Invalid HTTP request received" in output
    for sent_key in sent:
        assert not leaked(output, sent_key), f"key fragments in the server's output: {output}"
    assert "/attachments/f?signed=[redacted]" in output
    assert signature[:FRAGMENT] not in output and signature[-FRAGMENT:] not in output


def token_leaks(output: str, token: str) -> list[str]:
    """The fragments of a token (as written, and as bare hex) found in ``output``."""
    found = []
    for form in (token, token.replace("-", "")):
        windows = {form[i : i + FRAGMENT] for i in range(len(form) - FRAGMENT + 1)}
        found += sorted(w for w in windows if w in output)
    return found


def test_no_share_or_feedback_token_appears_in_the_output(tmp_path: Path) -> None:
    """Share tokens (and the presigned feedback tokens of ``/feedback/tokens/{token}``)
    are secrets in a path: the access log and the ASGI trace print ``***`` instead, for
    tokens that read something, that read nothing, and that are no token at all."""
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "team-a")
    feedback_token = str(uuid4())  # made up: any path of that shape hides its token
    garbage = "not-a-token-" + secrets.token_hex(12)
    with serving(data_dir, log_level="trace") as served:
        from langsmith import Client

        client = Client(api_url=served.url, api_key=key)
        dataset = client.create_dataset(unique("shared-logged"))
        client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
        sides = [client.create_project(unique(s), reference_dataset_id=dataset.id) for s in "ab"]
        token = str(client.share_dataset(dataset.id)["share_token"])
        with httpx.Client(base_url=served.url, headers={"x-api-key": key}, timeout=30) as http:
            run_id = str(uuid4())
            posted = http.post(
                "/runs",
                json={
                    "id": run_id,
                    "name": "shared",
                    "run_type": "chain",
                    "session_name": sides[0].name,
                    "start_time": "2026-01-01T00:00:00Z",
                },
            )
            assert posted.status_code == 202
            run_token = http.put(
                f"/api/v1/runs/{run_id}/share", json={"share_token": str(uuid4())}
            ).json()["share_token"]
            projects = http.put(
                f"/api/v1/datasets/{dataset.id}/share", params={"share_projects": "true"}
            )
            assert projects.json()["share_token"] == token
        reader = Client(api_url=served.url, api_key=None)
        assert reader.read_shared_dataset(token).id == dataset.id
        assert len(list(reader.list_shared_examples(token))) == 1
        assert len(list(reader.list_shared_projects(dataset_share_token=token))) == 2
        assert str(reader.read_shared_run(run_token).id) == run_id
        delta = {
            "baseline_session_id": str(sides[0].id),
            "comparison_session_ids": [str(sides[1].id)],
            "feedback_keys": ["correct"],
        }
        with httpx.Client(base_url=served.url, timeout=30) as anon:
            statuses = [
                anon.post(f"/api/v1/public/{token}/datasets/runs/delta/stream", json=delta),
                anon.get(f"/public/{token}/examples", params={"limit": 1}),
                anon.get(f"/public/{uuid4()}/datasets"),
                anon.get(f"/api/v1/public/{garbage}/datasets"),
                anon.get(f"/api/v1/feedback/tokens/{feedback_token}"),
                anon.post(f"/feedback/tokens/{feedback_token}?score=1", json={}),
            ]
            assert [r.status_code for r in statuses[:4]] == [200, 200, 404, 422]
            # The page's read-only view: its own address, and the reads of its example panel.
            page_reads = [
                anon.get(f"/public/{token}/d"),
                anon.post(f"/api/v1/public/{token}/datasets/runs/query", json={}),
                anon.get(f"/public/{token}/datasets/feedback", params={"limit": 1}),
            ]
            assert [r.status_code for r in page_reads] == [200, 200, 200]
            assert all(r.status_code < 500 for r in statuses)
        # A real presigned feedback token, made through the SDK and used without a key.
        presigned = client.create_presigned_feedback_token(run_id, "thumbs")
        with httpx.Client(timeout=30) as anon:
            assert anon.get(presigned.url, params={"score": 1}).status_code == 200
            assert anon.post(presigned.url, json={"score": 0}).status_code == 200
        client.unshare_dataset(dataset.id)
        with httpx.Client(base_url=served.url, timeout=30) as anon:
            assert anon.get(f"/api/v1/public/{token}/datasets").status_code == 404
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=EXIT_TIMEOUT) == 0

    output = served.stdout + served.stderr
    # It did log those requests, and their ASGI scopes (path and raw_path), token hidden.
    assert '"GET /public/***/examples?limit=1 HTTP/1.1" 200' in output
    assert '"GET /api/v1/public/***/datasets HTTP/1.1" 422' in output
    assert '"GET /api/v1/feedback/tokens/*** HTTP/1.1"' in output
    assert '"GET /public/***/d HTTP/1.1" 200' in output
    assert '"GET /public/***/datasets/feedback?limit=1 HTTP/1.1" 200' in output
    assert "'raw_path': b'/api/v1/public/***/datasets/runs/delta/stream'" in output
    assert '"GET /feedback/tokens/***?score=1 HTTP/1.1" 200' in output
    for secret in (token, run_token, feedback_token, garbage, str(presigned.id)):
        assert not token_leaks(output, secret), f"token fragments in the output: {output}"


def test_the_store_password_is_not_printed(tmp_path: Path) -> None:
    """A store that cannot be reached is reported without its URL's password."""
    store = f"clickhouse://evd:s3cr3t-pw@127.0.0.1:{free_port()}/db"
    result = evaldelta(
        "serve", "--data-dir", str(tmp_path / "data"), "--store", store, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Cannot open the store" in result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "clickhouse://evd:s3cr3t@db.example:8123/evals",
            "clickhouse://evd:***@db.example:8123/evals",
        ),
        (
            "clickhouses://:tok@db.example/evals?secure=1",
            "clickhouses://:***@db.example/evals?secure=1",
        ),
        ("clickhouse://evd@db.example:8123/evals", "clickhouse://evd@db.example:8123/evals"),
        ("duckdb:///srv/evaldelta.duckdb", "duckdb:///srv/evaldelta.duckdb"),
    ],
)
def test_store_urls_are_printed_without_their_password(url: str, shown: str) -> None:
    assert _redacted(url) == shown


def test_an_unknown_log_level_is_refused_plainly(tmp_path: Path) -> None:
    """From the option and from the environment: a clear message and exit 2."""
    result = evaldelta(
        "serve", "--data-dir", str(tmp_path / "data"), "--log-level", "loud", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Invalid value for '--log-level'" in result.stderr
    from_env = subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", "serve", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path,
        env={**command_env(tmp_path), "EVALDELTA_LOG_LEVEL": "loud"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert from_env.returncode == 2
    assert "Invalid setting" in from_env.stderr and "log_level" in from_env.stderr
    assert "Traceback" not in result.stderr + from_env.stderr
