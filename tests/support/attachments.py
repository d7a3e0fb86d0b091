"""Multipart example uploads with attachments, as the SDK sends them, over raw httpx
(for the tests that need bodies the SDK would never build)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

BOUNDARY = "attachments-test-boundary"


def example_parts(
    example_id: str,
    inputs: dict[str, Any] | None = None,
    attachments: dict[str, tuple[str, bytes]] | None = None,
    **main: Any,
) -> list[tuple[str, str, bytes]]:
    """The parts of one example: (part name, content type, bytes)."""
    parts = [(example_id, "application/json", orjson.dumps(main))]
    if inputs is not None:
        parts.append((f"{example_id}.inputs", "application/json", orjson.dumps(inputs)))
    for name, (mime_type, data) in (attachments or {}).items():
        parts.append((f"{example_id}.attachment.{name}", f"{mime_type}; length={len(data)}", data))
    return parts


def body_of(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    chunks = []
    for name, content_type, data in parts:
        head = (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        chunks.append(head.encode() + data + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks), {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def upload(
    http: httpx.Client,
    dataset_id: str,
    parts: list[tuple[str, str, bytes]],
    *,
    method: str = "POST",
) -> httpx.Response:
    """The multipart example upload (POST) or update (PATCH) of ``parts``; ``http`` is
    a client on ``/api/v1``."""
    body, headers = body_of(parts)
    return http.request(
        method, f"/platform/datasets/{dataset_id}/examples", content=body, headers=headers
    )


def attached_example(http: httpx.Client, dataset_id: str, name: str = "pic") -> dict[str, Any]:
    """A new example of ``dataset_id`` with one attachment ``name`` (read back)."""
    example_id = str(uuid.uuid4())
    parts = example_parts(
        example_id, {"q": example_id}, {name: ("image/png", b"\x89PNG" + example_id.encode())}
    )
    assert upload(http, dataset_id, parts).status_code == 201
    found: dict[str, Any] = http.get(f"/examples/{example_id}").json()
    return found
