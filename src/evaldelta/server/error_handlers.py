"""How errors are answered over HTTP: one JSON shape for every ``DomainError``, and
validation errors in FastAPI's ``{"detail": [{loc, msg, type}]}`` without echoing input."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from evaldelta.errors import DomainError


def error_body(err: DomainError) -> dict[str, object]:
    """One error shape: FastAPI's ``detail``; a list of ``{loc, msg, type}`` for 422."""
    if err.status_code == 422:
        return {"detail": [{"loc": err.loc or ["body"], "msg": err.message, "type": "value_error"}]}
    return {"detail": err.message}


class _AsciiJSON(Response):
    """JSON with non-ASCII escaped: renders any text, even invalid Unicode, safely."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, default=str).encode()


async def _validation_error(_: Request, exc: Exception) -> Response:
    # FastAPI's default handler echoes the offending input back; it need not, and
    # input it cannot encode (a lone surrogate) would turn a 422 into a 500.
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return _AsciiJSON({"detail": detail}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Render every ``DomainError`` in the one error shape, and validation errors without
    echoing their input."""
    app.add_exception_handler(RequestValidationError, _validation_error)

    async def handle(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status_code == 401 else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return _AsciiJSON(error_body(exc), status_code=exc.status_code, headers=headers)

    app.add_exception_handler(DomainError, handle)
