"""An over-long API key, in ``x-api-key`` or ``Authorization: Bearer``, is answered exactly
like a wrong key (401, the same body), and a request head too large for the HTTP parser is
a 400, never a hang or a 500; the server goes on serving valid keys."""

from __future__ import annotations

import secrets
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from evaldelta.server.auth import MAX_KEY_CHARS, new_api_key
from tests.conftest import Server
from tests.support.api_keys import H11_HEAD_LIMIT, WRONG_KEY, assert_refused_like_a_wrong_key


def oversized(length: int) -> str:
    """A key-shaped value of ``length`` characters."""
    return (new_api_key() + secrets.token_urlsafe(length))[:length]


@pytest.mark.parametrize("length", [MAX_KEY_CHARS + 1, 8 * 1024, 64 * 1024])
@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_an_over_long_key_is_answered_as_a_wrong_key(
    shared_server: Server, header: str, length: int
) -> None:
    def sent(key: str) -> dict[str, str]:
        return {header: key if header == "x-api-key" else f"Bearer {key}"}

    with httpx.Client(base_url=shared_server.url + "/api/v1", timeout=30) as http:
        response = http.get("/datasets", headers=sent(oversized(length)))
        # Over h11's limit, the HTTP layer may refuse the head first (see the next test).
        assert_refused_like_a_wrong_key(response, length)
        # The same answer as a wrong key of a real key's length: the length tells nothing.
        short = http.get("/datasets", headers=sent(oversized(len(shared_server.key))))
        assert (short.status_code, short.json()) == (401, WRONG_KEY)
        valid = http.get("/datasets", headers={"x-api-key": shared_server.key})
        assert valid.status_code == 200, valid.text


def test_a_request_head_over_the_parser_limit_is_a_400(shared_server: Server) -> None:
    """A head still incomplete past h11's limit is refused by the HTTP layer (plain 400,
    connection closed) before the app sees it."""
    parts = urlsplit(shared_server.url)
    # Just over the limit and never finished: the parser must give up on what it has, and
    # has read every byte sent (so the close is a clean FIN, not a reset losing the answer).
    head = b"GET /api/v1/datasets HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\nX-Api-Key: "
    head += b"k" * (H11_HEAD_LIMIT + 1 - len(head))
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"Invalid HTTP request received." in answer
    after = httpx.get(
        shared_server.url + "/api/v1/datasets",
        headers={"x-api-key": shared_server.key},
        timeout=30,
    )
    assert after.status_code == 200, after.text
