"""API keys while the server runs, on both stores: a key made through ``POST /api-key``
works at once, a revoked one is refused at once, a tenant sees and revokes only its own
keys, and keys made before keys had ids get one."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from evaldelta.server.auth import KEY_RECHECK_SECONDS, new_api_key
from evaldelta.store import open_store
from evaldelta.store.base import Page
from evaldelta.store.clickhouse import schema as clickhouse_schema
from evaldelta.store.clickhouse.connection import connect
from evaldelta.store.duckdb import schema as duckdb_schema
from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.migrations import before


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data = tmp_path_factory.mktemp(f"keys-{request.param}") / "data"
    tenants = ("alpha", "beta", "gamma")
    with run_server(data, tenants, store=store_url(request.param, data)) as server:
        yield server


def _client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/v1", headers={"x-api-key": key}, timeout=30)


def _create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = http.post("/api-key", json=body)
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_a_created_key_works_at_once_and_is_listed_without_its_secret(served: Server) -> None:
    with served.http() as http:
        created = _create(http, description="ci runner")
        assert created["key"].startswith(created["short_key"])
        assert created["description"] == "ci runner"
        with _client(served, created["key"]) as new:
            assert new.get("/datasets").status_code == 200
            listed = new.get("/api-key").json()
    mine = [k for k in listed if k["id"] == created["id"]]
    assert mine and mine[0]["description"] == "ci runner"
    assert mine[0]["short_key"] == created["short_key"]
    secret = created["key"].removeprefix("evd_")
    digest = hashlib.sha256(created["key"].encode()).hexdigest()
    for key in listed:
        assert "key" not in key
        assert secret[4:] not in str(key) and digest not in str(key)


def test_a_revoked_key_is_refused_at_once(served: Server) -> None:
    with served.http() as http:
        created = _create(http, description="short-lived")
        with _client(served, created["key"]) as doomed:
            assert doomed.get("/datasets").status_code == 200  # now known to the server
            revoked = http.delete(f"/api-key/{created['id']}")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["id"] == created["id"]
            refused = doomed.get("/datasets")
            assert refused.status_code == 401
            assert refused.json() == {"detail": "Invalid API key"}
        assert created["id"] not in {k["id"] for k in http.get("/api-key").json()}
        assert http.get("/datasets").status_code == 200  # the other keys still work
        assert http.delete(f"/api-key/{created['id']}").status_code == 404


def test_a_key_can_revoke_itself_but_not_the_tenants_last(served: Server) -> None:
    with served.http("gamma") as http:  # gamma has one key: its fixture key
        extra = _create(http, description="second")
        with _client(served, extra["key"]) as itself:
            assert itself.delete(f"/api-key/{extra['id']}").status_code == 200
            assert itself.get("/datasets").status_code == 401
        (only,) = http.get("/api-key").json()
        last = http.delete(f"/api-key/{only['id']}")
        assert last.status_code == 409
        assert "last API key" in last.json()["detail"]
        assert http.get("/datasets").status_code == 200


def test_tenants_neither_list_nor_revoke_each_others_keys(served: Server) -> None:
    with served.http("beta") as beta:
        beta_key = _create(beta, description="beta's")
        with served.http("alpha") as alpha:
            assert beta_key["id"] not in {k["id"] for k in alpha.get("/api-key").json()}
            assert alpha.delete(f"/api-key/{beta_key['id']}").status_code == 404
        with _client(served, beta_key["key"]) as still:
            assert still.get("/datasets").status_code == 200


def test_a_key_stops_working_when_it_expires(served: Server) -> None:
    ends = datetime.now(UTC) + timedelta(seconds=2)
    with served.http() as http:
        created = _create(http, expires_at=ends.isoformat())
    assert datetime.fromisoformat(created["expires_at"]) == ends.replace(
        microsecond=ends.microsecond
    )
    with _client(served, created["key"]) as http:
        assert http.get("/datasets").status_code == 200
        time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
        assert http.get("/datasets").status_code == 401


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"read_only": True}, "read_only"),
        ({"workspaces": ["00000000-0000-4000-8000-000000000000"]}, "workspaces"),
        ({"role_id": "00000000-0000-4000-8000-000000000000"}, "role_id"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_what_keys_cannot_be_is_refused_naming_it(
    served: Server, body: dict[str, Any], name: str
) -> None:
    with served.http() as http:
        answer = http.post("/api-key", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", name]


# --- keys made before keys had ids --------------------------------------------------------

KEY_IDS = "ALTER TABLE api_keys ADD COLUMN id"  # the migration that gave keys ids
CH_KEY_IDS = "ALTER TABLE api_keys_versions ADD COLUMN IF NOT EXISTS id"


def _old_key_duckdb(path: Path, key_hash: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, sql in enumerate(before(duckdb_schema.MIGRATIONS, KEY_IDS), start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?)", [version])
    tenant = con.execute(
        "INSERT INTO tenants VALUES (gen_random_uuid(), 'old', now()) RETURNING id"
    ).fetchone()
    assert tenant is not None
    con.execute("INSERT INTO api_keys VALUES (?, ?, 'evd_old_', now())", [key_hash, tenant[0]])
    con.close()


def _old_key_chdb(url: str, key_hash: str) -> None:
    conn = connect(url)
    conn.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_at DateTime"
        " DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    for version, statements in enumerate(before(clickhouse_schema.MIGRATIONS, CH_KEY_IDS), start=1):
        for sql in statements:
            conn.command(sql)
        conn.insert("schema_migrations", ["version"], [{"version": version}])
    conn.command(
        "INSERT INTO tenants_versions (id, name, created_at, version)"
        " VALUES (generateUUIDv4(), 'old', now64(6), 1)"
    )
    conn.command(
        "INSERT INTO api_keys_versions (key_hash, tenant_id, key_prefix, created_at, version)"
        " SELECT ?, id, 'evd_old_', now64(6), 1 FROM tenants",
        [key_hash],
    )
    conn.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_key_made_before_ids_gets_one_and_keeps_working(kind: str, tmp_path: Path) -> None:
    key = new_api_key()
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    url = store_url(kind, tmp_path)
    if kind == "duckdb":
        _old_key_duckdb(tmp_path / "evaldelta.duckdb", key_hash)
    else:
        _old_key_chdb(url, key_hash)
    store = open_store(url)  # migrates
    try:
        found = store.api_key_for_hash(key_hash)
        assert found is not None
        again = store.api_key_for_hash(key_hash)  # the id is stable, not made per read
        assert again is not None and again["id"] == found["id"]
        listed = store.list_api_keys(found["tenant_id"], Page(0, 10))
        assert [k["id"] for k in listed] == [found["id"]]
        assert listed[0]["short_key"] == "evd_old_"
    finally:
        store.close()


def test_a_key_revoked_on_one_server_is_refused_by_another_soon(tmp_path: Path) -> None:
    """Two servers on one ClickHouse store: the other one looks a known key up again
    after ``KEY_RECHECK_SECONDS``, so it refuses a revoked key within that time."""
    url = store_url("chdb", tmp_path / "shared")
    with (
        run_server(tmp_path / "one", store=url) as one,
        run_server(tmp_path / "two", tenants=(), store=url) as two,
        one.http() as http,
    ):
        created = _create(http, description="shared")
        with _client(two, created["key"]) as elsewhere:
            assert elsewhere.get("/datasets").status_code == 200  # two knows it now
            assert http.delete(f"/api-key/{created['id']}").status_code == 200
            revoked_at = time.monotonic()
            while elsewhere.get("/datasets").status_code == 200:
                assert time.monotonic() - revoked_at < KEY_RECHECK_SECONDS + 5
                time.sleep(0.2)
