"""Odd request targets: every path answers 2xx or a 4xx in the JSON error shape, never a
500 or a redirect, and no response carries a URL built from the ``Host`` header (issue 15).

Requests go over a raw socket, so the target reaches the server exactly as written (an
HTTP client would normalise ``..`` or re-encode the path).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server

PREFIXES = ("", "/api/v1", "/v1")
RESOURCES = ("datasets", "sessions", "runs", "examples", "feedback")
# Path segments a client or an attacker may send: an encoded slash, NUL and backslash,
# invalid UTF-8, an encoded lone surrogate, dot segments, spaces, and long names.
ODD_SEGMENTS = (
    "%2F",
    "%2f%2F",
    "%00",
    "%5C",
    "%FF%FE",
    "%ED%A0%80",
    "%E2%98%83",
    "..",
    "%2e%2e",
    "%20",
    "a%0D%0Ab",
    "x" * 255,
    "x" * 256 + ".js",
    "%41" * 1000,
    "y" * 6000,
)
METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT")
# The page's own routes with ids in their paths (not in the OpenAPI schema).
PAGE_PATHS = (
    "/o/{tenant_id}/datasets/{dataset_id}/compare",
    "/o/{tenant_id}/datasets/{dataset_id}",
    "/public/{share_token}/d",
    "/ui/review/{queue_id}",
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(server: Server, method: str, target: str, host: str = "evil.example") -> Answer:
    """One HTTP/1.1 request with this exact target and ``Host``; the whole answer."""
    address = urlsplit(server.url)
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {server.key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return Answer(int(status_line.split()[1]), headers, body)


def _unchunk(data: bytes) -> bytes:
    out, pos = [], 0
    while True:
        line_end = data.index(b"\r\n", pos)
        size = int(data[pos:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[line_end + 2 : line_end + 2 + size])
        pos = line_end + 2 + size + 2


def assert_well_answered(answer: Answer, what: str) -> None:
    """Not a 5xx, not a redirect, no Host-built URL; a 4xx is JSON with ``detail``."""
    assert answer.status < 500, f"{what}: {answer.status} {answer.body[:200]!r}"
    assert not 300 <= answer.status < 400, f"{what}: redirect {answer.headers}"
    assert "location" not in answer.headers, what
    assert b"evil.example" not in answer.body, what
    if answer.status >= 400:
        assert answer.headers.get("content-type", "").startswith("application/json"), what
        detail = json.loads(answer.body)["detail"]
        if answer.status == 422 and isinstance(detail, list):
            assert all({"loc", "msg", "type"} <= set(error) for error in detail), what


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("method", ("GET", "PATCH", "DELETE"))
def test_an_encoded_slash_as_the_id_does_not_redirect(
    shared_server: Server, prefix: str, resource: str, method: str
) -> None:
    """Issue 15: ``/api/v1/datasets/%2F`` answered 307 to the list route, its Location
    built from ``Host: evil.example``."""
    answer = send(shared_server, method, f"{prefix}/{resource}/%2F")
    assert_well_answered(answer, f"{method} {prefix}/{resource}/%2F")
    assert answer.status in (404, 405, 422)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_trailing_slash_is_not_found_not_redirected(shared_server: Server, prefix: str) -> None:
    for resource in RESOURCES:
        answer = send(shared_server, "GET", f"{prefix}/{resource}/")
        assert_well_answered(answer, f"GET {prefix}/{resource}/")
        assert answer.status == 404


@pytest.mark.parametrize("length", [255, 256, 1000, 4096, 8000])
def test_long_asset_names_are_404_in_json(shared_server: Server, length: int) -> None:
    """Issue 15: a name of 256 characters or more answered a plain-text 500 (the OS
    refuses the file name)."""
    for suffix in (".js", ".css", ".svg", ""):
        answer = send(shared_server, "GET", f"/ui/static/{'a' * length}{suffix}")
        assert_well_answered(answer, f"/ui/static/<{length}>{suffix}")
        assert answer.status == 404


def test_odd_paths_under_every_prefix_and_the_page(shared_server: Server) -> None:
    """Every operation's path and page route with each odd segment in place of its ids,
    and each odd segment appended to every prefix and to ``/ui`` and ``/ui/static``."""
    schema = httpx.get(shared_server.url + "/openapi.json").json()
    targets = set()
    for path in (*schema["paths"], *PAGE_PATHS):
        for segment in ODD_SEGMENTS:
            filled = "/".join(segment if part.startswith("{") else part for part in path.split("/"))
            targets.add(filled)
    for base in (*PREFIXES, "/ui", "/ui/static"):
        for segment in ODD_SEGMENTS:
            targets.add(f"{base}/{segment}")
            targets.add(f"{base}/{segment}/")
    for target in sorted(targets):
        for method in METHODS:
            assert_well_answered(send(shared_server, method, target), f"{method} {target}")
