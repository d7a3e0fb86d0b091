"""Domain errors: what a client can act on, each carrying the HTTP status it is answered with.

This module imports nothing of its own package nor any web framework: the store, the
ingest code and the delta engine raise these, and only the server (``server/error_handlers``)
turns them into responses.
"""

from __future__ import annotations


class DomainError(Exception):
    """An error a client can act on; ``status_code`` is what the API answers, and
    ``retry_after`` (seconds), when set, goes out as a ``Retry-After`` header."""

    status_code = 400
    retry_after: int | None = None

    def __init__(self, message: str, *, loc: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class Gone(DomainError):
    """Something that existed and no longer answers (an expired feedback token)."""

    status_code = 410


class PayloadTooLarge(DomainError):
    status_code = 413


class Invalid(DomainError):
    """A request that is well-formed JSON but says something impossible."""

    status_code = 422


class IngestError(DomainError):
    """A body that cannot be ingested; ``status_code`` is the HTTP answer.

    400: malformed transport (encoding, multipart framing); 413: too large;
    415: unknown ``Content-Encoding``; 422: a part whose name or content is invalid
    (``loc`` is then ``["body", <part name>]``).
    """

    def __init__(self, status_code: int, message: str, *, part: str | None = None) -> None:
        super().__init__(message, loc=None if part is None else ["body", part])
        self.status_code = status_code
