"""Talking to ClickHouse: one ``clickhouse-connect`` client per thread, ``?`` parameters.

The same code serves a ClickHouse server (``clickhouse://user:password@host:8123/db``,
over HTTP) and embedded ClickHouse (``chdb:///path/dir``, chDB's clickhouse-connect
backend): only the client factory differs.  SQL is written with ``?`` placeholders, as for
DuckDB and as the filter compiler emits them; :func:`bind` turns each into a typed
server-side parameter ``{pN:Type}``, so values never enter the SQL text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from evaldelta.store.base import Row
from evaldelta.store.sqlrows import JSON_COLUMNS, load_json

# Columns stored as JSON text here but not in DuckDB (where they are lists).
CLICKHOUSE_JSON_COLUMNS = JSON_COLUMNS | {"tags"}

# Every client: SQL-standard outer joins (NULL, not 0, for a missing side), and synchronous
# inserts, so that a write the API has acknowledged is in a part every later read sees.
CLIENT_SETTINGS: dict[str, Any] = {"join_use_nulls": 1, "async_insert": 0}


def _param_type(value: Any) -> str:
    """The ClickHouse type of a parameter value."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, UUID):
        return "UUID"
    if isinstance(value, datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, list | tuple):
        inner = _param_type(value[0]) if value else "String"
        return f"Array({inner})"
    if value is None:
        return "Nullable(String)"
    return "String"


def _param_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, list | tuple):
        return [_param_value(v) for v in value]
    return value


def bind(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Replace each ``?`` outside quotes by ``{pN:Type}``; return the SQL and the values."""
    out: list[str] = []
    values: dict[str, Any] = {}
    quote: str | None = None
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote is not None:
            out.append(ch)
            if ch == "\\" and i + 1 < len(sql):
                out.append(sql[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
            out.append(ch)
        elif ch == "?":
            if len(values) >= len(params):
                raise ValueError("more ? placeholders than parameters")
            name = f"p{len(values)}"
            value = params[len(values)]
            values[name] = _param_value(value)
            out.append(f"{{{name}:{_param_type(value)}}}")
        else:
            out.append(ch)
        i += 1
    if len(values) != len(params):
        raise ValueError(f"{len(params)} parameters for {len(values)} placeholders")
    return "".join(out), values


def _utc(value: Any) -> Any:
    # chDB drops the zone of DateTime64('UTC') values; every stored time is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Connection:
    """Per-thread clients on one ClickHouse database."""

    def __init__(self, factory: Callable[[], Client], description: str) -> None:
        self._factory = factory
        self.description = description
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Client] = []
        self._columns: dict[str, list[str]] = {}

    def client(self) -> Client:
        found: Client | None = getattr(self._local, "client", None)
        if found is None:
            found = self._factory()
            with self._lock:
                self._clients.append(found)
            self._local.client = found
        return found

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for c in clients:
            c.close()

    def rows(self, sql: str, params: Sequence[Any] = (), *, versions: bool = False) -> list[Row]:
        """Run a query; rows as dicts, JSON columns decoded, times UTC-aware.  The
        ``version`` column is dropped unless ``versions`` asks for it."""
        text, values = bind(sql, params)
        result = self.client().query(text, parameters=values)
        names = result.column_names
        keep = [versions or n != "version" for n in names]
        decode = [n in CLICKHOUSE_JSON_COLUMNS for n in names]
        return [
            {
                n: (load_json(v) if j else _utc(v))
                for n, k, j, v in zip(names, keep, decode, row, strict=True)
                if k
            }
            for row in result.result_rows
        ]

    def one(self, sql: str, params: Sequence[Any] = (), *, versions: bool = False) -> Row | None:
        found = self.rows(sql, params, versions=versions)
        return found[0] if found else None

    def columns(self, table: str) -> list[str]:
        """The columns of a table, in order (cached: the schema changes only by migration)."""
        cached: list[str] | None = self._columns.get(table)
        if cached is None:
            cached = [
                str(r[0])
                for r in self.tuples(
                    """SELECT name FROM system.columns WHERE database = currentDatabase()
                       AND table = ? ORDER BY position""",
                    [table],
                )
            ]
            self._columns[table] = cached
        return cached

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text, values = bind(sql, params)
        return [tuple(r) for r in self.client().query(text, parameters=values).result_rows]

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query; the result as one Arrow table (columnar: no Python object per value)."""
        text, values = bind(sql, params)
        table: pa.Table = self.client().query_arrow(text, parameters=values)
        return table

    def command(self, sql: str, params: Sequence[Any] = ()) -> None:
        text, values = bind(sql, params)
        self.client().command(text, parameters=values or None)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """One insert of many rows (a single part on the server; never row by row)."""
        if not rows:
            return
        data = [[r.get(c) for c in columns] for r in rows]
        self.client().insert(table, data, column_names=list(columns))


_DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _database(name: str) -> str:
    if not _DATABASE.fullmatch(name):
        raise ValueError(f"database name {name!r} must be an identifier (letters, digits, _)")
    return name


def server_settings(url: str) -> tuple[dict[str, Any], str]:
    """The client settings and the database of ``clickhouse[s]://user:pw@host:port/db``."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    database = _database(unquote(parts.path.lstrip("/")) or query.get("database", "evaldelta"))
    secure = parts.scheme == "clickhouses"
    server: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or (8443 if secure else 8123),
        "username": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "secure": secure,
        # Sessions serialise a client's queries on the server; each thread has its own client.
        "autogenerate_session_id": False,
    }
    return server, database


def connect(url: str) -> Connection:
    """A connection for ``clickhouse://user:password@host:port/database`` or
    ``chdb:///path/dir`` (an optional ``?database=name`` for either)."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = unquote(parts.path)
        if not path:
            raise ValueError(f"store URL {url!r} names no directory; expected chdb:///path/dir")
        database = _database(query.get("database", "evaldelta"))
        setup = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        setup.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")

        def chdb_client() -> Client:
            return clickhouse_connect.get_client(
                dsn=f"chdb://{path}", database=database, settings=CLIENT_SETTINGS
            )

        conn = Connection(chdb_client, f"chdb://{path} (database {database})")
        conn._clients.append(setup)  # closed with the others
        return conn
    server, database = server_settings(url)
    setup = clickhouse_connect.get_client(**server)
    setup.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    setup.close()

    def server_client() -> Client:
        return clickhouse_connect.get_client(**server, database=database, settings=CLIENT_SETTINGS)

    return Connection(server_client, f"{server['host']}:{server['port']}/{database}")
