"""Schemathesis over the OpenAPI schema a real server serves: every operation, with generated
valid and invalid requests over real HTTP, must answer no 5xx, only statuses and media types
its schema documents, and bodies that match its response schemas.

Runs are bounded and repeatable: a fixed seed, derandomised Hypothesis, a few examples per
operation, and no example database. Schemathesis's stateful sequences are not run here: what
they can generate depends on what the live server answered before, which Hypothesis reports
as flaky generation once runs are derandomised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from evaldelta.server.app import create_app
from evaldelta.settings import Settings
from tests.conftest import Server, run_server, store_url

SEED = 20_261_127


def _sent(case: Any, location: ParameterLocation, path: tuple[Any, ...]) -> Any:
    container = case.body if location is ParameterLocation.BODY else case.query
    for step in path:
        try:
            container = container[step]
        except (KeyError, IndexError, TypeError):
            return None
    return container


def _mutated(case: Any) -> list[tuple[ParameterLocation | None, tuple[Any, ...]]] | None:
    """Where a negative case changed only a value's type: (location, path) pairs, or None
    when it changed anything else (a bound, an enum, a format, a required field)."""
    data = case.meta.phase.data if case.meta else None
    if data is None:
        return None
    if data.mutations:
        if any(not set(m.keywords) <= {"type", "anyOf"} for m in data.mutations):
            return None
        return [(m.parameter_location, tuple(m.path)) for m in data.mutations]
    if getattr(data, "scenario", None) is CoverageScenario.INCORRECT_TYPE:
        # The coverage phase names the schema it broke: the value's path is the names
        # that follow each "properties" (an array item cannot be told apart: not forgiven).
        steps = [p.replace("~1", "/").replace("~0", "~") for p in (data.location or "").split("/")]
        if "items" in steps:
            return None
        path = tuple(steps[i + 1] for i, step in enumerate(steps[:-1]) if step == "properties")
        return [(data.parameter_location, path)]
    return None


def _lax_coercion(case: Any) -> bool:
    """Whether a negative case that the server accepted only sent scalars of another type,
    which Pydantic's (and FastAPI's) lax mode converts on purpose: 0/1 and "true" to
    booleans, booleans and numeric strings to numbers, numbers to datetimes; or query
    values, which are strings on the wire whatever type their schema names."""
    mutated = _mutated(case)
    if not mutated:
        return False
    for location, path in mutated:
        if location is ParameterLocation.QUERY:
            continue
        if location is not ParameterLocation.BODY:
            return False
        if not isinstance(_sent(case, location, path), bool | int | float | str):
            return False
    return True


def rejects_invalid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """``negative_data_rejection``, except for the lax-mode conversions above: the SDK
    never sends them, and refusing them would break clients that rely on FastAPI's
    documented leniency."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if _lax_coercion(case):
            return None
        raise


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    rejects_invalid_data,
]


# The schema the tests are generated from is the app's own; the first test checks that it is
# exactly what a running server serves at /openapi.json.
APP_SCHEMA = create_app(Settings()).openapi()


def _schema(examples: int) -> Any:
    """The app's schema, generating ``examples`` cases per operation and mode, repeatably."""
    config = {
        "seed": SEED,
        "generation": {
            "max-examples": examples,
            "deterministic": True,
            "database": "none",
            "no-shrink": True,  # a failure prints its curl line; shrinking costs minutes
            "with-security-parameters": False,  # every request carries a valid key
        },
    }
    return schemathesis.openapi.from_dict(APP_SCHEMA, config=schemathesis.Config.from_dict(config))


# DuckDB: every operation, at the root and under /api/v1. chDB, slower per request: the
# same routes once (under /api/v1, the platform uploads and /api/v2), with fewer examples.
duckdb_schema = _schema(10)
chdb_schema = _schema(4).include(path_regex=r"^/(api/)?v[12]/")


# Per server: a live share token of each kind, so that the public routes are exercised
# past the token (a generated token is a random UUID: it reads nothing).
SHARE_TOKENS: dict[str, dict[str, str]] = {}


def _share(server: Server) -> None:
    with server.http() as http:
        dataset = http.post("/datasets", json={"name": "shared"}).json()
        http.post("/examples", json={"dataset_id": dataset["id"], "inputs": {"q": 1}})
        session = http.post(
            "/sessions", json={"name": "shared-exp", "reference_dataset_id": dataset["id"]}
        ).json()
        run_id = str(uuid.uuid4())
        http.post(
            "/runs",
            json={
                "id": run_id,
                "name": "shared",
                "run_type": "chain",
                "session_id": session["id"],
                "start_time": "2026-01-01T00:00:00Z",
            },
        ).raise_for_status()
        shared = http.put(f"/datasets/{dataset['id']}/share", params={"share_projects": True})
        run = http.put(f"/runs/{run_id}/share", json={})
        SHARE_TOKENS[server.url] = {
            "dataset": shared.json()["share_token"],
            "run": run.json()["share_token"],
        }


def _with_live_token(case: Any, server: Server) -> None:
    """A generated share token that is a UUID becomes the server's live token of the
    route's kind (``/run…`` routes take a run's); other values are left to be refused."""
    parameters = case.path_parameters or {}
    value = parameters.get("share_token")
    if not isinstance(value, str):
        return
    try:
        uuid.UUID(value)
    except ValueError:
        return
    after = case.path.split("{share_token}", 1)[1]
    parameters["share_token"] = SHARE_TOKENS[server.url][
        "run" if after.startswith("/run") else "dataset"
    ]


def _serve(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"schemathesis-{kind}") / "data"
    with run_server(directory, store=store_url(kind, directory)) as running:
        _share(running)
        yield running


@pytest.fixture(scope="module")
def duckdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve("duckdb", tmp_path_factory)


@pytest.fixture(scope="module")
def chdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve("chdb", tmp_path_factory)


def test_the_served_schema_is_the_one_tested(duckdb_server: Server) -> None:
    served = httpx.get(duckdb_server.url + "/openapi.json")
    assert served.status_code == 200
    assert served.json() == APP_SCHEMA


# The HTTP server (not the app) refuses a request head larger than this: it answers 400 and
# closes while the client is still sending, so the client sees a reset, not the answer.
MAX_REQUEST_HEAD = 64 * 1024


def _target_length(case: Any, server: Server) -> int:
    prepared = requests.Request("GET", server.url + case.formatted_path, params=case.query)
    return len(prepared.prepare().url or "")


def _call_and_validate(case: Any, server: Server) -> None:
    _with_live_token(case, server)
    try:
        case.call_and_validate(
            base_url=server.url, headers={"x-api-key": server.key}, checks=CHECKS
        )
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError):
        # e.g. thousands of ids in one query string; anything shorter must be answered.
        if _target_length(case, server) <= MAX_REQUEST_HEAD:
            raise


@duckdb_schema.parametrize()
def test_every_operation_answers_as_documented_on_duckdb(case: Any, duckdb_server: Server) -> None:
    _call_and_validate(case, duckdb_server)


@chdb_schema.parametrize()
def test_every_operation_answers_as_documented_on_chdb(case: Any, chdb_server: Server) -> None:
    _call_and_validate(case, chdb_server)
