"""The error of a request body that cannot be ingested."""

from __future__ import annotations

from evaldelta.errors import DomainError


class IngestError(DomainError):
    """A body that cannot be ingested; ``status_code`` is the HTTP answer.

    400: malformed transport (encoding, multipart framing); 413: too large;
    415: unknown ``Content-Encoding``; 422: a part whose name or content is invalid
    (``loc`` is then ``["body", <part name>]``).
    """

    def __init__(self, status_code: int, message: str, *, part: str | None = None) -> None:
        super().__init__(message, loc=None if part is None else ["body", part])
        self.status_code = status_code
