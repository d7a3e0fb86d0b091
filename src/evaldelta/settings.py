"""One typed settings object, read once and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the server, with defaults that work on a laptop.

    Each field can be set from the environment as ``EVALDELTA_<NAME>``.
    """

    model_config = SettingsConfigDict(env_prefix="EVALDELTA_", extra="ignore")

    data_dir: Path = Path("evaldelta-data")
    store: str | None = Field(
        default=None,
        description=(
            "Store URL: duckdb:///path/file.duckdb (default: a file in data_dir),"
            " clickhouse://user:password@host:8123/database, or chdb:///path/dir."
        ),
    )
    host: str = "127.0.0.1"
    port: int = 1984
    allow_remote: bool = False
    zstd_compression: bool = True
    # Request bodies (docs/reliability.md, "Hostile input"), sized for a 2 GiB server: a
    # body may be MAX_BODY_BYTES on the wire and MAX_DECODED_BYTES once its
    # Content-Encoding is undone (413 beyond either; the SDK sends at most 20 MiB a
    # batch). All requests together may hold DECODED_BYTES_IN_FLIGHT decoded bytes, not
    # counting each body's first SMALL_BODY_BYTES (so small requests never wait on large
    # ones); a body that finds it spent is answered 429 with Retry-After. Handling a body
    # of N decoded bytes peaks at about 7 N (one large string) to 11 N (SDK-shaped runs)
    # above the idle server, so two bodies of the largest size cost about 1.4 GiB at most.
    max_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_decoded_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    decoded_bytes_in_flight: int = Field(default=128 * 1024 * 1024, gt=0)
    small_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # Example attachments (docs/attachments.md): the largest one attachment may be, and all
    # of one request's attachments together (413 beyond either; the request body limits
    # above still hold).  Downloads go through signed URLs that expire after
    # ATTACHMENT_URL_SECONDS; ATTACHMENT_URL_SECRET signs them (random per process when
    # unset: set one secret on every server that shares a store, or URLs made by one
    # server are refused by the others, and all die on restart).
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    attachments_max_request_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    attachment_url_seconds: int = Field(default=3600, gt=0)
    attachment_url_secret: SecretStr | None = None
    writer_batch_max_ops: int = 50_000
    writer_queue_max: int = 10_000
    # Delta streams: how many one tenant may have open at once (more are answered 429),
    # how long one may run, and how long one may wait on a client that does not read.
    max_streams_per_tenant: int = Field(default=8, ge=1)
    stream_max_seconds: float = Field(default=300.0, gt=0)
    stream_stall_seconds: float = Field(default=30.0, gt=0)
    # On SIGTERM: how long open requests (delta streams included) get to finish before
    # streams are ended in band; the process is gone a couple of seconds after that.
    shutdown_grace_seconds: float = Field(default=5.0, ge=0)
    # The server's log level; "info" and below include one access-log line per request.
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "warning"

    @model_validator(mode="after")
    def _one_body_fits(self) -> Settings:
        if self.decoded_bytes_in_flight < self.max_decoded_bytes:
            raise ValueError(
                "decoded_bytes_in_flight must be at least max_decoded_bytes, or a body of "
                "the largest size allowed could never be read"
            )
        return self

    def store_url(self) -> str:
        """The store URL, defaulting to a DuckDB file in the data dir."""
        if self.store:
            return self.store
        return f"duckdb:///{(self.data_dir / 'evaldelta.duckdb').resolve()}"
