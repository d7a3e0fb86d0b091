"""Which session ingested runs land in, while sessions are renamed and deleted.

The writer keeps the sessions that ingest looked up between requests; these tests pin that
a rename or a delete is seen by the very next request, exactly as without that memory.
"""

from __future__ import annotations

import httpx

from tests.conftest import run_server
from tests.support.ingest import (
    new_run,
    post_multipart,
    read_run,
    run_parts,
    runs_in,
    session_id_of,
    unique,
)


def _send(http: httpx.Client, project: str) -> str:
    run = new_run(project)
    post_multipart(http, run_parts("post", run))
    return str(run["id"])


def test_runs_by_name_follow_a_rename_at_once(http: httpx.Client) -> None:
    project = unique("before")
    first = _send(http, project)
    _send(http, project)  # looked up again: the kept answer
    session = session_id_of(http, project)
    renamed = unique("after")
    assert http.patch(f"/sessions/{session}", json={"name": renamed}).status_code == 200

    later = _send(http, project)  # the old name now names no session: a new one
    assert read_run(http, later)["session_id"] != session
    assert {r["id"] for r in runs_in(http, renamed)} >= {first}
    assert [r["id"] for r in runs_in(http, project)] == [later]

    # Sending by the new name lands in the renamed session.
    moved = _send(http, renamed)
    assert read_run(http, moved)["session_id"] == session


def test_runs_by_name_after_a_delete_land_in_a_new_session(http: httpx.Client) -> None:
    project = unique("deleted")
    _send(http, project)
    _send(http, project)
    old = session_id_of(http, project)
    deleted = http.delete(f"/sessions/{old}")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "deleted"})

    again = _send(http, project)
    new = session_id_of(http, project)
    assert new != old
    assert read_run(http, again)["session_id"] == new
    assert http.get(f"/sessions/{old}").status_code == 404


def test_runs_by_session_id_after_a_delete_recreate_that_id(http: httpx.Client) -> None:
    project = unique("by-id")
    session = http.post("/sessions", json={"name": project}).json()["id"]
    run = new_run(None, session_id=session)
    post_multipart(http, run_parts("post", run))
    assert read_run(http, run["id"])["session_id"] == session
    deleted = http.delete(f"/sessions/{session}")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "deleted"})

    again = new_run(None, session_id=session)
    post_multipart(http, run_parts("post", again))
    # Named by id only, the session is made again under that id (and the id as its name).
    assert read_run(http, again["id"])["session_id"] == session
    assert http.get(f"/sessions/{session}").json()["name"] == session


def test_a_restarted_server_finds_sessions_by_name(tmp_path: object) -> None:
    """Nothing kept outlives the process: a new server looks sessions up in the store."""
    from pathlib import Path

    data = Path(str(tmp_path)) / "data"
    project = unique("restart")
    with run_server(data, tenants=("alpha",)) as first, first.http() as http:
        _send(http, project)
        session = session_id_of(http, project)
    with run_server(data, tenants=("alpha",)) as second, second.http() as http:
        later = _send(http, project)
        assert read_run(http, later)["session_id"] == session
