"""``evaldelta keys``: API keys, made, listed and revoked either straight in a store that no
server holds open (``--tenant``), or through a running server (``--endpoint``/``--api-key``,
for the tenant of that key)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
from rich.table import Table
from rich.text import Text

from evaldelta.cli.common import DataDir, err, fail, out, settings_for
from evaldelta.client.http import ApiError, Client

if TYPE_CHECKING:
    from evaldelta.store.base import Store

app = typer.Typer(
    help="Manage API keys: in a stopped store (--tenant), or through a running server"
    " (--endpoint and --api-key).",
    no_args_is_help=True,
)

Tenant = Annotated[
    str | None,
    typer.Option(help="Tenant name, for a store no server holds (not with --endpoint)."),
]
StoreUrl = Annotated[str | None, typer.Option("--store", help="Store URL.")]
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        metavar="URL",
        envvar="EVALDELTA_ENDPOINT",
        help="A running server: the keys of the --api-key's tenant ($EVALDELTA_ENDPOINT).",
    ),
]
ServerKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        metavar="KEY",
        envvar="EVALDELTA_API_KEY",
        help="An API key of the tenant, for --endpoint ($EVALDELTA_API_KEY).",
    ),
]

THROUGH_THE_SERVER = (
    "pass --endpoint URL --api-key KEY (or set EVALDELTA_ENDPOINT and EVALDELTA_API_KEY)"
    " to manage the keys of that key's tenant through the running server"
)


def _remote(endpoint: str | None, api_key: str | None, tenant: str | None) -> Client | None:
    """The server's client when one is named; None to work on the store directly."""
    if endpoint is None and api_key is None:
        return None
    if tenant is not None:
        err.print("--tenant is for a stopped store: through a server, keys are the API key's")
        raise typer.Exit(2)
    if not api_key:
        err.print("--endpoint needs --api-key KEY (or EVALDELTA_API_KEY): a key of the tenant")
        raise typer.Exit(2)
    try:
        return Client(endpoint, api_key, timeout=60)
    except ApiError as exc:
        raise fail(exc) from exc


def _call(client: Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client.request(method, path, **kwargs)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        client.close()


def _open(data_dir: DataDir, store: str | None, tenant: str | None) -> Store:
    """The store, opened directly; says what to pass when a running server holds it."""
    from evaldelta.store import open_store

    if tenant is None:
        err.print(f"Pass --tenant NAME for a stopped store, or {THROUGH_THE_SERVER}.")
        raise typer.Exit(2)
    settings = settings_for(data_dir, store)
    try:
        return open_store(settings.store_url())
    except Exception as exc:
        err.print(Text(f"Cannot open the store: {exc}", style="red"))
        if "lock" in str(exc).lower():
            err.print(f"A running server holds this store: stop it first, or {THROUGH_THE_SERVER}.")
        else:
            err.print("If the server is running on this data dir, stop it first.")
        raise typer.Exit(2) from exc


def _tenant_id(opened: Store, tenant: str) -> UUID:
    found = opened.tenant_named(tenant)
    if found is None:
        err.print(f"No tenant named {tenant!r}.")
        raise typer.Exit(2)
    return found


@app.command("create")
def create(
    tenant: Tenant = None,
    description: Annotated[str, typer.Option(help="What the key is for.")] = "",
    data_dir: DataDir = None,
    store: StoreUrl = None,
    endpoint: ServerUrl = None,
    api_key: ServerKey = None,
) -> None:
    """Create an API key. The key is printed alone on the last line."""
    client = _remote(endpoint, api_key, tenant)
    if client is not None:
        made = _call(client, "POST", "/api-key", json={"description": description})
        err.print(f"Created key {made['id']} ({made['short_key']}…) for the API key's tenant.")
        print(made["key"])
        return
    from evaldelta.server.auth import create_key

    opened = _open(data_dir, store, tenant)
    try:
        tenant_id, key = create_key(opened, str(tenant), description)
    finally:
        opened.close()
    err.print(f"Created a key for tenant {tenant!r} ({tenant_id}).")
    print(key)


@app.command("list")
def list_keys(
    tenant: Tenant = None,
    data_dir: DataDir = None,
    store: StoreUrl = None,
    endpoint: ServerUrl = None,
    api_key: ServerKey = None,
) -> None:
    """List a tenant's keys: ids, prefixes and descriptions (never a key)."""
    client = _remote(endpoint, api_key, tenant)
    if client is not None:
        rows: list[dict[str, Any]] = []
        try:
            while page := client.request("GET", "/api-key", params={"offset": len(rows)}):
                rows += page
                if len(page) < 100:
                    break
        except ApiError as exc:
            raise fail(exc) from exc
        finally:
            client.close()
    else:
        from evaldelta.store.base import Page

        opened = _open(data_dir, store, tenant)
        try:
            rows = opened.list_api_keys(_tenant_id(opened, str(tenant)), Page(0, 10_000))
        finally:
            opened.close()
    table = Table("id", "prefix", "description", "created", "expires")
    for row in rows:
        table.add_row(
            *(str(row.get(name) or "") for name in ("id", "short_key", "description")),
            *(str(row.get(name) or "")[:19] for name in ("created_at", "expires_at")),
        )
    out.print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[UUID, typer.Argument(help="The id of the key (see keys list).")],
    tenant: Tenant = None,
    data_dir: DataDir = None,
    store: StoreUrl = None,
    endpoint: ServerUrl = None,
    api_key: ServerKey = None,
) -> None:
    """Revoke a key: refused from then on. A tenant's last key is kept."""
    client = _remote(endpoint, api_key, tenant)
    if client is not None:
        _call(client, "DELETE", f"/api-key/{key_id}")
    else:
        from evaldelta.errors import DomainError

        opened = _open(data_dir, store, tenant)
        try:
            tenant_id = _tenant_id(opened, str(tenant))
            opened.run_in_transaction(lambda: opened.write_api_key_revoke(tenant_id, key_id))
        except DomainError as exc:
            err.print(Text(exc.message, style="red"))
            raise typer.Exit(2) from exc
        finally:
            opened.close()
    err.print(f"Revoked key {key_id}.")
