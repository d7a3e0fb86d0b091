"""Domain errors that carry their HTTP status, and the handlers that render them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse


class DomainError(Exception):
    """An error a client can act on; ``status_code`` is what the API answers."""

    status_code = 400

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


class PayloadTooLarge(DomainError):
    status_code = 413


class Invalid(DomainError):
    """A request that is well-formed JSON but says something impossible."""

    status_code = 422


def error_body(err: DomainError) -> dict[str, object]:
    """One error shape: FastAPI's ``detail``; a list of ``{loc, msg, type}`` for 422."""
    if err.status_code == 422:
        return {"detail": [{"loc": err.loc or ["body"], "msg": err.message, "type": "value_error"}]}
    return {"detail": err.message}


def install_error_handlers(app: FastAPI) -> None:
    """Render every ``DomainError`` in the one error shape."""

    async def handle(_: Request, exc: Exception) -> ORJSONResponse:
        assert isinstance(exc, DomainError)
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status_code == 401 else None
        return ORJSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)

    app.add_exception_handler(DomainError, handle)
