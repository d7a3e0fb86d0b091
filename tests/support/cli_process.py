"""``evaldelta`` as a user runs it: the command in a subprocess, and ``evaldelta serve`` on a
free loopback port, waited for until ``/health`` answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 30
EXIT_TIMEOUT = 60  # a bound for a hung process, far above what a clean shutdown takes


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
    """Run the ``evaldelta`` command to its end, in ``cwd`` (also its home)."""
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", *args],
        cwd=cwd,
        env=command_env(cwd),
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    """A loopback TCP port no one listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def exports(stdout: str) -> dict[str, str]:
    """The ``export NAME=value`` lines of a command's output, by name."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value
    return found


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
def serving(data_dir: Path, *args: str, **settings: str) -> Iterator[Served]:
    """``evaldelta serve`` on ``data_dir`` with extra ``args`` and ``EVALDELTA_<NAME>``
    ``settings``, yielded once it answers ``/health``, stopped on the way out."""
    port = free_port()
    logs = data_dir.parent / f"serve-{port}"
    env = command_env(data_dir.parent)
    env.update({f"EVALDELTA_{name.upper()}": value for name, value in settings.items()})
    command = [sys.executable, "-m", "evaldelta.cli.main", "serve", "--data-dir", str(data_dir)]
    served_out, served_err = logs.with_suffix(".out"), logs.with_suffix(".err")
    with served_out.open("wb") as out, served_err.open("wb") as err:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=data_dir.parent,
            env=env,
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
