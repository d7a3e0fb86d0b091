"""``evaldelta demo``: load the demo dataset and experiments into a running server."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer
from rich.text import Text

from evaldelta.cli.common import ApiKey, Endpoint, client_for, fail, out
from evaldelta.cli.demo_data import load_demo
from evaldelta.client.http import ApiError, Client


def demo(
    endpoint: Endpoint = None,
    api_key: ApiKey = None,
    name: Annotated[
        str, typer.Option("--name", help="Name of the demo dataset (and experiments' prefix).")
    ] = "demo",
) -> None:
    """Load a small demo dataset with three experiments into a running server."""
    client = client_for(endpoint, api_key)
    try:
        loaded = load(client, name)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        client.close()
    experiments = loaded["experiments"]
    q = shlex.quote
    selection = f"--dataset {q(loaded['dataset'])} --baseline {q(experiments['baseline'])}"
    better, cheaper = q(experiments["better-prompt"]), q(experiments["cheaper-model"])
    out.print(
        Text.assemble(
            "Loaded dataset ",
            (loaded["dataset"], "bold"),
            f" ({loaded['examples']} examples) with experiments ",
            ", ".join(experiments.values()),
            ".",
        )
    )
    out.print("Now try:")
    print(f"  evaldelta compare {selection} --against {better} --against {cheaper}")
    print(f"  evaldelta gate {selection} --against {better}   # passes: exit code 0")
    print(f"  evaldelta gate {selection} --against {cheaper}   # fails: exit code 1")


def load(client: Client, name: str) -> dict[str, Any]:
    with out.status("Loading the demo dataset…"):
        return load_demo(client, dataset_name=name)
