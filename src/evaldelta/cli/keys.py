"""``evaldelta keys``: API keys made straight in a store that no server holds open."""

from __future__ import annotations

from typing import Annotated

import typer

from evaldelta.cli.common import DataDir, err, settings_for

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created if it does not exist.")],
    data_dir: DataDir = None,
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Create an API key for a tenant. The key is printed alone on the last line."""
    from evaldelta.server.auth import create_key
    from evaldelta.store import open_store

    settings = settings_for(data_dir, store)
    try:
        opened = open_store(settings.store_url())
    except Exception as exc:
        err.print(
            f"[red]Cannot open the store: {exc}[/red]\n"
            "If the server is running on this data dir, stop it first."
        )
        raise typer.Exit(2) from exc
    try:
        tenant_id, key = create_key(opened, tenant)
    finally:
        opened.close()
    err.print(f"Created a key for tenant {tenant!r} ({tenant_id}).")
    print(key)
