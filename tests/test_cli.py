"""The ``evaldelta`` command as a user runs it: in a subprocess, on a fresh data dir."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli_process import evaldelta, free_port, serving
from tests.support.ingest import multipart_body, new_run, patch_of, run_parts, unique


def works(url: str, key: str) -> bool:
    response = httpx.get(url + "/api/v1/datasets", headers={"x-api-key": key}, timeout=10)
    return response.status_code == 200


def test_keys_create_prints_a_key_that_a_later_server_accepts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = evaldelta(
        "keys", "create", "--tenant", "team-a", "--data-dir", str(data_dir), cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("evd_") and " " not in key
    again = evaldelta(
        "keys", "create", "--tenant", "team-a", "--data-dir", str(data_dir), cwd=tmp_path
    )
    second_key = again.stdout.strip().splitlines()[-1]
    assert second_key != key

    with serving(data_dir) as served:
        assert works(served.url, key) and works(served.url, second_key)
        assert not works(served.url, key + "x")
        # Both keys are the same tenant's.
        httpx.post(
            served.url + "/datasets", json={"name": "shared"}, headers={"x-api-key": key}
        ).raise_for_status()
        listed = httpx.get(served.url + "/datasets", headers={"x-api-key": second_key}).json()
        assert [d["name"] for d in listed] == ["shared"]

        # The running server owns the store: keys create says so instead of hanging.
        locked = evaldelta(
            "keys", "create", "--tenant", "b", "--data-dir", str(data_dir), cwd=tmp_path
        )
        assert locked.returncode != 0
        assert "stop it first" in locked.stderr
    # An existing tenant skips the first-start bootstrap.
    assert "LANGSMITH_API_KEY" not in served.stdout
    assert not (data_dir / "default-api-key").exists()


def test_first_start_prints_a_key_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir) as first:
        printed = first.printed_exports()
        assert printed["LANGSMITH_ENDPOINT"] == first.url
        key = printed["LANGSMITH_API_KEY"]
        key_file = data_dir / "default-api-key"
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert works(first.url, key)

        from langsmith import Client

        client = Client(api_url=printed["LANGSMITH_ENDPOINT"], api_key=key)
        dataset = client.create_dataset(unique("cli"))
        assert client.read_dataset(dataset_name=dataset.name).id == dataset.id
    assert first.stdout.count("LANGSMITH_API_KEY") == 1

    with serving(data_dir) as second:
        assert works(second.url, key)
    assert "LANGSMITH_API_KEY" not in second.stdout
    assert key_file.read_text().strip() == key


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_serve_refuses_a_non_loopback_address(tmp_path: Path, host: str) -> None:
    result = evaldelta(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--host",
        host,
        "--port",
        str(free_port()),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "--allow-remote" in result.stderr
    assert "LANGSMITH_API_KEY" not in result.stdout
    assert not (tmp_path / "data" / "default-api-key").exists()


def test_acknowledged_ingest_survives_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    project = unique("crash")
    runs = [new_run(project) for _ in range(30)]
    with serving(data_dir) as served:
        key = served.printed_exports()["LANGSMITH_API_KEY"]
        headers = {"x-api-key": key}
        for run in runs:  # one acknowledged request per run, as the SDK's sender does
            parts: list[tuple[str, Any]] = run_parts("post", run)
            parts += run_parts("patch", patch_of(run, outputs={"n": 1}))
            parts.append(
                (
                    f"feedback.{run['id']}",
                    {
                        "id": run["id"],
                        "run_id": run["id"],
                        "trace_id": run["id"],
                        "key": "kept",
                        "score": 1,
                    },
                )
            )
            body, mp_headers = multipart_body(parts)
            response = httpx.post(
                served.url + "/runs/multipart", content=body, headers={**headers, **mp_headers}
            )
            assert response.status_code == 202
        served.kill_hard()

    with serving(data_dir) as reopened:
        from langsmith import Client

        client = Client(api_url=reopened.url, api_key=key)
        stored = list(client.list_runs(project_name=project))
        assert {str(r.id) for r in stored} == {r["id"] for r in runs}
        assert all(r.outputs == {"n": 1} for r in stored)
        feedback = list(client.list_feedback(run_ids=[r["id"] for r in runs]))
        assert len(feedback) == len(runs)
