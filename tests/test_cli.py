"""The ``evaldelta`` command as a user runs it: in a subprocess, on a fresh data dir."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_ingest_runs import multipart_body, new_run, patch_of, run_parts, unique

START_TIMEOUT = 30


def command_env(home: Path) -> dict[str, str]:
    """The user's environment without evaldelta or LangSmith settings of our own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EVALDELTA_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env["HOME"] = str(home)
    return env


def evaldelta(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli", *args],
        cwd=cwd,
        env=command_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A running ``evaldelta serve`` whose output goes to files (no pipe to fill or block on)."""

    process: subprocess.Popen[bytes]
    url: str
    out_path: Path
    err_path: Path

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def printed_exports(self, timeout: float = 10) -> dict[str, str]:
        """The ``export NAME=value`` lines of the first start, once both are out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = exports(self.stdout)
            if {"LANGSMITH_ENDPOINT", "LANGSMITH_API_KEY"} <= set(found):
                return found
            time.sleep(0.05)
        pytest.fail(f"no export lines printed; stdout: {self.stdout!r}")

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill if it does not go within a few seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def serving(data_dir: Path, *args: str) -> Iterator[Served]:
    port = free_port()
    logs = data_dir.parent / f"serve-{port}"
    served_out, served_err = logs.with_suffix(".out"), logs.with_suffix(".err")
    with served_out.open("wb") as out, served_err.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evaldelta.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                *args,
            ],
            cwd=data_dir.parent,
            env=command_env(data_dir.parent),
            stdout=out,
            stderr=err,
        )
    served = Served(process, f"http://127.0.0.1:{port}", served_out, served_err)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"evaldelta serve exited early: {served.stderr}")
            try:
                if httpx.get(served.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("evaldelta serve did not answer /health")
            time.sleep(0.1)
        yield served
    finally:
        stop(process)


def works(url: str, key: str) -> bool:
    response = httpx.get(url + "/api/v1/datasets", headers={"x-api-key": key}, timeout=10)
    return response.status_code == 200


def exports(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value
    return found


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
