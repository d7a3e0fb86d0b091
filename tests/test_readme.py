"""The README's two commands are the front door: they must stay true.

The fresh-clone run installs from the package registry, so it runs in CI (``CI=true``) or
when ``EVALDELTA_README_TEST=1``; the consistency checks always run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import free_port

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The bash blocks of the README's "Start here" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Start here", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_has_run_and_test_commands() -> None:
    run, test = readme_commands()[:2]
    assert run.endswith("evaldelta serve")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci, ".ci/run must call the README's test command verbatim"


def test_ci_runs_the_readme_lint_command() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Development", 1)[1].split("\n## ", 1)[0]
    (lint,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert "mypy --strict src" in lint and "ruff format --check" in lint
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lint.strip() in ci, ".ci/run must call the README's lint command verbatim"


@pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("EVALDELTA_README_TEST")),
    reason="installs from the registry: runs in CI or with EVALDELTA_README_TEST=1",
)
@pytest.mark.timeout(900)
def test_fresh_clone_run_command_serves(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {**os.environ, "EVALDELTA_DATA_DIR": str(tmp_path / "data"), "EVALDELTA_PORT": str(port)}
    env.pop("VIRTUAL_ENV", None)
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        ["bash", "-c", readme_commands()[0]],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        key = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"export LANGSMITH_API_KEY=(\S+)", Path(log.name).read_text())
            if found:
                key = found.group(1)
                try:
                    info = httpx.get(f"http://127.0.0.1:{port}/info", timeout=2)
                    if info.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(1)
        assert key, f"no key printed:\n{Path(log.name).read_text()[-3000:]}"
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/datasets", headers={"x-api-key": key}, timeout=10
        )
        assert answer.status_code == 200 and answer.json() == []
        assert (tmp_path / "data" / "default-api-key").stat().st_mode & 0o777 == 0o600
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        log.close()
