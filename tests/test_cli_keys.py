"""``evaldelta keys`` as a user runs it: on a stopped store, and against a running server
(whose store it cannot open), where a key it makes works at once and a key it revokes is
refused at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.cli_process import command_env, evaldelta, serving


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def _works(url: str, key: str) -> int:
    return httpx.get(url + "/api/v1/datasets", headers={"x-api-key": key}, timeout=30).status_code


def _key_ids(listing: str) -> list[str]:
    """The key ids of a ``keys list`` table, in its order."""
    ids = []
    for line in listing.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│") if c.strip()]
        if cells and len(cells[0]) == 36 and cells[0].count("-") == 4:
            ids.append(cells[0])
    return ids


def test_keys_on_a_stopped_store(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    first = _ok(evaldelta("keys", "create", "--tenant", "team", *data, cwd=tmp_path))
    first_key = first.strip().splitlines()[-1]
    second = evaldelta(
        "keys", "create", "--tenant", "team", "--description", "nightly", *data, cwd=tmp_path
    )
    second_key = _ok(second).strip().splitlines()[-1]
    listing = _ok(evaldelta("keys", "list", "--tenant", "team", *data, cwd=tmp_path))
    assert "nightly" in listing and first_key[:8] in listing and second_key[:8] in listing
    assert first_key[8:] not in listing and second_key[8:] not in listing
    first_id, second_id = _key_ids(listing)
    _ok(evaldelta("keys", "revoke", first_id, "--tenant", "team", *data, cwd=tmp_path))
    assert _key_ids(_ok(evaldelta("keys", "list", "--tenant", "team", *data, cwd=tmp_path))) == [
        second_id
    ]
    last = evaldelta("keys", "revoke", second_id, "--tenant", "team", *data, cwd=tmp_path)
    assert last.returncode == 2
    assert "last API key" in last.stderr
    unknown = evaldelta("keys", "list", "--tenant", "nobody", *data, cwd=tmp_path)
    assert unknown.returncode == 2 and "No tenant named 'nobody'" in unknown.stderr


def test_keys_through_a_running_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir) as served:
        admin = served.printed_exports()["LANGSMITH_API_KEY"]
        # The store is the server's: the command says what to pass instead.
        locked = evaldelta(
            "keys", "create", "--tenant", "x", "--data-dir", str(data_dir), cwd=tmp_path
        )
        assert locked.returncode == 2
        assert "--endpoint URL --api-key KEY" in locked.stderr
        assert "EVALDELTA_ENDPOINT" in locked.stderr

        remote = ["--endpoint", served.url, "--api-key", admin]
        made = evaldelta("keys", "create", "--description", "from ci", *remote, cwd=tmp_path)
        new_key = _ok(made).strip().splitlines()[-1]
        assert _works(served.url, new_key) == 200  # at once, no restart

        listing = _ok(evaldelta("keys", "list", *remote, cwd=tmp_path))
        assert "from ci" in listing and new_key[8:] not in listing
        new_id = next(i for i in _key_ids(listing) if i in made.stderr)

        # The environment names the server as well as the flags do.
        env = command_env(tmp_path)
        env.update({"EVALDELTA_ENDPOINT": served.url, "EVALDELTA_API_KEY": admin})
        revoked = subprocess.run(
            [sys.executable, "-m", "evaldelta.cli.main", "keys", "revoke", new_id],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoked.returncode == 0, revoked.stderr
        assert _works(served.url, new_key) == 401  # at once
        assert _works(served.url, admin) == 200

        wrong = evaldelta(
            "keys", "list", "--endpoint", served.url, "--api-key", new_key, cwd=tmp_path
        )
        assert wrong.returncode == 2 and "401" in wrong.stderr
        mixed = evaldelta("keys", "create", "--tenant", "x", *remote, cwd=tmp_path)
        assert mixed.returncode == 2 and "--tenant is for a stopped store" in mixed.stderr
