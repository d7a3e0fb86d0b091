"""The application factory: routes, error handling, and the store and writer lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evaldelta import __version__
from evaldelta.ingest.writer import Writer
from evaldelta.server.attachment_links import AttachmentLinks
from evaldelta.server.auth import KeyCache
from evaldelta.server.body_budget import DecodedBytesBudget
from evaldelta.server.body_limit import BodyLimit
from evaldelta.server.error_handlers import install_error_handlers
from evaldelta.server.openapi import document_errors
from evaldelta.server.routes import (
    annotation_queue_runs,
    annotation_queues,
    api_keys,
    attachments,
    comparative,
    datasets,
    deltas,
    examples,
    feedback,
    feedback_tokens,
    info,
    public,
    public_runs,
    results,
    runs,
    sessions,
    sharing,
    splits,
    upload_experiment,
    versions,
)
from evaldelta.server.stream_limits import StreamLimits, StreamRegistry
from evaldelta.server.web import router as web_router
from evaldelta.settings import Settings
from evaldelta.store import open_store

# At shutdown, how long the store queries of streams that were cut short may still run
# before the store closes anyway (a query of one key takes well under a second).
SETTLE_SECONDS = 5.0


def create_app(settings: Settings) -> FastAPI:
    """Build the API. The store opens and the writer starts when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.store_url())
        writer = Writer(
            store, max_batch_ops=settings.writer_batch_max_ops, queue_max=settings.writer_queue_max
        )
        writer.start()
        app.state.store = store
        app.state.writer = writer
        app.state.key_cache = KeyCache()
        try:
            yield
        finally:
            # Servers that do not announce their shutdown (see serving.py) still end
            # their streams; the queries of streams cut short return before the store
            # closes, and the writer commits everything queued before it stops.
            streams.begin_drain()
            await streams.settle(timeout=SETTLE_SECONDS)
            writer.stop()
            store.close()

    # No redirects: a slash-redirect's Location would be built from the Host header.
    app = FastAPI(title="evaldelta", version=__version__, lifespan=lifespan, redirect_slashes=False)
    app.state.settings = settings
    secret = settings.attachment_url_secret
    app.state.attachment_links = AttachmentLinks.from_secret(
        secret.get_secret_value() if secret else None, settings.attachment_url_seconds
    )
    streams = StreamRegistry(
        StreamLimits(
            max_streams_per_tenant=settings.max_streams_per_tenant,
            stream_max_seconds=settings.stream_max_seconds,
            stream_stall_seconds=settings.stream_stall_seconds,
            shutdown_grace_seconds=settings.shutdown_grace_seconds,
        )
    )
    app.state.streams = streams
    install_error_handlers(app)
    document_errors(app)

    async def too_deep(_: Request, __: Exception) -> JSONResponse:
        detail = [{"loc": ["body"], "msg": "JSON nested too deeply", "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_exception_handler(RecursionError, too_deep)
    for prefix in ("", "/api/v1"):
        # comparative and upload_experiment before datasets: neither path is a dataset id.
        for module in (
            info,
            comparative,
            upload_experiment,
            datasets,
            examples,
            attachments,
            splits,
            versions,
            sessions,
            runs,
            feedback_tokens,  # before feedback: ``/feedback/tokens`` is no feedback id
            feedback,
            api_keys,
            deltas,
            sharing,
            public,
            public_runs,
            annotation_queues,
            annotation_queue_runs,
        ):
            app.include_router(module.router, prefix=prefix)
    for prefix in ("/v1", "/api/v1"):
        app.include_router(examples.platform, prefix=prefix)
        app.include_router(splits.platform, prefix=prefix)
    app.include_router(results.router, prefix="")
    app.include_router(results.router, prefix="/api/v1")
    app.include_router(results.v2, prefix="/api/v2")
    app.include_router(web_router)  # the comparison page at / and /ui
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        max_decoded_bytes=settings.max_decoded_bytes,
        budget=DecodedBytesBudget(settings.decoded_bytes_in_flight, settings.small_body_bytes),
    )
    return app
