"""What the commands share: their consoles, the options several of them take, the settings
of a local data dir, and the client of a running server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from evaldelta.client.http import ApiError, Client
from evaldelta.settings import Settings

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 200)
# Messages are not wrapped: a CI log keeps each reason, id or URL on one greppable line.
err = Console(stderr=True, soft_wrap=True)

# Help texts avoid square brackets: typer renders help as rich markup, which eats them.
Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint", metavar="URL", help="Server URL (default: $LANGSMITH_ENDPOINT)."),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", metavar="KEY", help="API key (default: $LANGSMITH_API_KEY)."),
]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the data lives (default ./evaldelta-data).")
]


def settings_for(data_dir: Path | None, store: str | None = None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if store is not None:
        settings.store = store
    return settings


def fail(exc: ApiError) -> typer.Exit:
    """Say what went wrong (server text is not rich markup) and exit 2."""
    err.print(Text(exc.message, style="red"))
    return typer.Exit(2)


def client_for(endpoint: str | None, api_key: str | None) -> Client:
    try:
        return Client(endpoint, api_key, on_busy=lambda said: err.print(Text(said, style="dim")))
    except ApiError as exc:
        raise fail(exc) from exc
