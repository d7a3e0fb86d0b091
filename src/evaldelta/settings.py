"""One typed settings object, read once and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
    max_body_bytes: int = 64 * 1024 * 1024
    max_decoded_bytes: int = 512 * 1024 * 1024
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

    def store_url(self) -> str:
        """The store URL, defaulting to a DuckDB file in the data dir."""
        if self.store:
            return self.store
        return f"duckdb:///{(self.data_dir / 'evaldelta.duckdb').resolve()}"
