"""Request bodies built the way the SDK builds them, and the reads that check what was
stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import orjson

BOUNDARY = "5f1d3a0c9b2e4f6a8c7d1e0f2a3b4c5d"
RUN_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")


# --- building bodies the way the SDK does ---------------------------------------------------


def unique(prefix: str) -> str:
    """A name no other test uses (projects, datasets)."""
    return f"{prefix}-{uuid4().hex[:12]}"


def multipart_body(
    parts: list[tuple[str, Any]], boundary: str = BOUNDARY
) -> tuple[bytes, dict[str, str]]:
    """A ``multipart/form-data`` body of JSON parts (bytes are sent as they are)."""
    chunks = []
    for name, value in parts:
        data = value if isinstance(value, bytes) else orjson.dumps(value)
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        chunks.append(head.encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), {"content-type": f"multipart/form-data; boundary={boundary}"}


def run_parts(kind: str, run: dict[str, Any]) -> list[tuple[str, Any]]:
    """One run as the SDK splits it: the main object, then one part per big field."""
    run_id = str(run["id"])
    main = {k: v for k, v in run.items() if k not in RUN_FIELDS}
    parts: list[tuple[str, Any]] = [(f"{kind}.{run_id}", main)]
    parts += [(f"{kind}.{run_id}.{k}", run[k]) for k in RUN_FIELDS if k in run]
    return parts


def stamp(moment: datetime) -> str:
    """A time as the SDK writes it."""
    return moment.isoformat()


def new_run(project: str | None, *, name: str = "Target", **fields: Any) -> dict[str, Any]:
    """A root run's post, shaped like the SDK's (``outputs: {}`` at creation)."""
    run_id = uuid4()
    start = datetime.now(UTC)
    run: dict[str, Any] = {
        "id": str(run_id),
        "name": name,
        "run_type": "chain",
        "start_time": stamp(start),
        "trace_id": str(run_id),
        "dotted_order": f"{start:%Y%m%dT%H%M%S%fZ}{run_id}",
        "tags": [],
        "inputs": {"question": "q"},
        "outputs": {},
        "events": [],
        "extra": {"metadata": {"ls_method": "traceable"}},
    }
    if project is not None:
        run["session_name"] = project
    run.update(fields)
    return run


def patch_of(run: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The SDK's patch of a run: nulls it does not mean, the end time and outputs."""
    end = datetime.fromisoformat(run["start_time"]) + timedelta(milliseconds=5)
    patch = {
        "id": run["id"],
        "name": run["name"],
        "run_type": run["run_type"],
        "trace_id": run["trace_id"],
        "parent_run_id": None,
        "dotted_order": run["dotted_order"],
        "tags": [],
        "session_id": None,
        "session_name": run.get("session_name"),
        "start_time": run["start_time"],
        "end_time": stamp(end),
    }
    patch.update(fields)
    return patch


# --- sending and reading back ---------------------------------------------------------------


def post_multipart(http: httpx.Client, parts: list[tuple[str, Any]]) -> httpx.Response:
    """``POST /runs/multipart`` of ``parts``, which must be accepted (202)."""
    body, headers = multipart_body(parts)
    response = http.post("/runs/multipart", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return response


def read_run(http: httpx.Client, run_id: Any) -> dict[str, Any]:
    """The stored run, which must exist."""
    response = http.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def session_id_of(http: httpx.Client, name: str) -> str:
    """The id of the one project called ``name``."""
    found = http.get("/sessions", params={"name": name}).json()
    assert len(found) == 1, found
    return str(found[0]["id"])


def runs_in(http: httpx.Client, project: str) -> list[dict[str, Any]]:
    """Every run of a project, following ``cursors.next`` to the end."""
    body: dict[str, Any] = {"session": [session_id_of(http, project)], "limit": 100}
    runs: list[dict[str, Any]] = []
    while True:
        page = http.post("/runs/query", json=body).json()
        runs += page["runs"]
        if not page["cursors"]["next"]:
            return runs
        body["cursor"] = page["cursors"]["next"]
