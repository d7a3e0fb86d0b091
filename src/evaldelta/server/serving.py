"""Running the app under uvicorn: a bounded, graceful shutdown, and the log setup.

On SIGTERM (or SIGINT) uvicorn stops accepting connections and waits for the open ones;
this server also tells the app's stream registry at once, so open delta streams get the
grace period and then end in band, and it stops waiting for stragglers (a client that
does not read) a little after that.  The lifespan shutdown then commits everything the
writer has queued.  The process exits 0 after a signal it handled: the signal is not
raised again once the shutdown is done (uvicorn does that by default, which makes a
clean SIGTERM look like a crash to whoever started the process).

Share tokens and feedback tokens travel in request paths, which uvicorn logs: every
handler hides them (``RedactTokens``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import signal
import socket
import threading
from collections.abc import Callable, Generator
from copy import deepcopy
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG
from uvicorn.server import HANDLED_SIGNALS

from evaldelta.server.stream_limits import StreamRegistry
from evaldelta.settings import Settings

# After the streams' grace period: time for their last events to leave, and for
# requests that were waiting on the writer to be answered, before uvicorn gives up.
FLUSH_SECONDS = 2.0


class GracefulServer(uvicorn.Server):
    """uvicorn's server, telling the app as soon as a shutdown begins."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None:  # a signal handler: hand over to the loop safely
            self._loop.call_soon_threadsafe(self._on_shutdown)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()  # also when should_exit was set without a signal
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class QuietCancellation(logging.Filter):
    """Drop the traceback uvicorn logs for each request it cancels when the shutdown
    grace runs out: its one line "Cancel N running task(s)" already says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


# The path segment after these is a secret: a share token (``/public/{token}/…``) or a
# presigned feedback token (``/feedback/tokens/{token}``), with or without ``/api/v1``.
# Whatever stands there is hidden, a UUID or not (a mistyped token is still most of one).
_TOKEN_SEGMENT = r"(/public/|/feedback/tokens/)[^/?#\s\"'<>\\]+"
_TOKEN_TEXT = re.compile(_TOKEN_SEGMENT, re.IGNORECASE)
_TOKEN_BYTES = re.compile(_TOKEN_SEGMENT.encode(), re.IGNORECASE)


def redact_tokens(value: Any) -> Any:
    """``value`` (a log record's message or argument: text, bytes, or an ASGI scope or
    message, at any depth) with every token segment of a path replaced by ``***``.  New
    containers are made: a logged ASGI scope is never changed."""
    if isinstance(value, str):
        return _TOKEN_TEXT.sub(r"\1***", value)
    if isinstance(value, bytes | bytearray):
        return _TOKEN_BYTES.sub(rb"\1***", bytes(value))
    if isinstance(value, dict):
        return {key: redact_tokens(item) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:  # not a named tuple: kept as it is
        return type(value)(redact_tokens(item) for item in value)
    return value


class RedactTokens(logging.Filter):
    """Hide share and feedback tokens in every record a handler prints: uvicorn's access
    log and its ASGI trace print request paths (the scope's ``path`` and ``raw_path``).
    The record is changed in place, keeping the shape of its arguments (the access
    formatter unpacks them), and a traceback is formatted here, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple | dict):
            record.args = redact_tokens(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_tokens(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_tokens(record.exc_text)
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with evaldelta's own loggers at the same level on stderr, and
    tokens in paths hidden from every handler."""
    config = deepcopy(LOGGING_CONFIG)
    filters = config.setdefault("filters", {})
    filters["quiet_cancellation"] = {"()": QuietCancellation}
    filters["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["default"]["filters"] = ["quiet_cancellation", "redact_tokens"]
    config["handlers"]["access"]["filters"] = ["redact_tokens"]
    own = "DEBUG" if level == "trace" else level.upper()
    config["loggers"]["evaldelta"] = {"handlers": ["default"], "level": own, "propagate": False}
    return config


def server_for(app: FastAPI, settings: Settings, host: str, port: int) -> GracefulServer:
    """A server for ``app`` with the settings' log level and shutdown bounds."""
    streams: StreamRegistry = app.state.streams
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=True,  # shown from the "info" level on
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds + FLUSH_SECONDS),
    )
    return GracefulServer(config, on_shutdown=streams.begin_drain)
