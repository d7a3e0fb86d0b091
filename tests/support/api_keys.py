"""How the server refuses an API key that is too long: like a wrong key, unless the HTTP
layer refuses the request head first."""

from __future__ import annotations

import httpx

WRONG_KEY = {"detail": "Invalid API key"}  # the body of a 401 for a key no tenant holds
H11_HEAD_LIMIT = 16 * 1024  # h11's default bound on a request head still being received


def assert_refused_like_a_wrong_key(response: httpx.Response, key_length: int) -> None:
    """A key of ``key_length`` characters is answered as a wrong key (401, the same body).

    A head over h11's limit may instead be refused by the HTTP layer with a plain 400: that
    happens when the head arrives in more than one read, which the test cannot choose; in
    one read it reaches the key check.
    """
    if key_length > H11_HEAD_LIMIT and response.status_code == 400:
        assert b"Invalid HTTP request received." in response.content
    else:
        assert response.status_code == 401, response.text
        assert response.json() == WRONG_KEY
