"""``evaldelta serve``: the API on a local store, with a first key made on first start."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import ValidationError

from evaldelta.cli.common import DataDir, err, settings_for
from evaldelta.settings import Settings

BOOTSTRAP_KEY_FILE = "default-api-key"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bootstrap(settings: Settings, endpoint: str) -> None:
    """On the first start of an empty store, make tenant ``default`` and print its key once.

    The key is also kept in the data dir, readable by the owner only, so a newcomer can
    find it again.
    """
    from evaldelta.server.auth import create_key
    from evaldelta.store import open_store

    store = open_store(settings.store_url())
    try:
        if store.tenant_count() > 0:
            return
        _, key = create_key(store, "default")
    finally:
        store.close()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / BOOTSTRAP_KEY_FILE
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    err.print("[bold]Created tenant 'default' and its first API key.[/bold] Use it with:")
    print(f"export LANGSMITH_ENDPOINT={endpoint}")
    print(f"export LANGSMITH_API_KEY={key}", flush=True)
    err.print(f"(kept, readable by you only, in {key_file})")


LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


def _redacted(url: str) -> str:
    """The store URL as printed: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: 1984).")] = None,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: duckdb:///<data-dir>/evaldelta.duckdb).")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow binding a non-loopback address.")
    ] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(help="Log level (default: warning); info and below log every request."),
    ] = None,
) -> None:
    """Serve the LangSmith-compatible API (and the delta endpoints)."""
    from evaldelta.server.app import create_app
    from evaldelta.server.serving import server_for

    try:
        settings = settings_for(data_dir, store)
    except ValidationError as exc:  # a bad EVALDELTA_* variable: say which, plainly
        err.print(f"[red]Invalid setting:[/red] {exc}")
        raise typer.Exit(2) from exc
    if log_level is not None:
        settings.log_level = log_level
    host = host or settings.host
    port = port or settings.port
    if not _is_loopback(host) and not (allow_remote or settings.allow_remote):
        err.print(
            f"[red]Refusing to bind {host}: not a loopback address.[/red] "
            "Pass --allow-remote if you mean to expose evaldelta to your network."
        )
        raise typer.Exit(2)
    endpoint = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        _bootstrap(settings, endpoint)
    except Exception as exc:  # a locked or unreadable store: say so plainly
        message = str(exc).replace(settings.store_url(), _redacted(settings.store_url()))
        err.print(f"[red]Cannot open the store: {message}[/red]")
        raise typer.Exit(2) from exc
    err.print(f"evaldelta serving on {endpoint} (store: {_redacted(settings.store_url())})")
    server_for(create_app(settings), settings, host, port).run()
