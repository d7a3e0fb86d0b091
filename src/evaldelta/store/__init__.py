"""Where evaldelta keeps its data: the ``Store`` seam (``base``) and its two backends,
``duckdb/`` (the embedded default) and ``clickhouse/`` (a server, a cluster or chDB).

``open_store(url)`` is the one way in; each backend is imported only when a URL names it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from evaldelta.store.base import Store


def _megabytes(text: str | None, default: int) -> int:
    """A store option given in MiB, as bytes."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"means_cache_mb must be a whole number of MiB (0 or more), not {text!r}")
    return value * 2**20


def open_store(url: str) -> Store:
    """The store a URL names: ``duckdb:///path/to/file.duckdb`` (``?memory_limit=4GB`` sets
    DuckDB's buffer pool, 1GB by default),
    ``clickhouse://user:password@host:8123/database`` or ``chdb:///path/to/dir``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme; expected duckdb:///path/file.duckdb")
    match scheme:
        case "duckdb":
            from evaldelta.store.duckdb.means_cache import DEFAULT_MAX_BYTES
            from evaldelta.store.duckdb.store import DEFAULT_MEMORY_LIMIT, DuckDBStore

            rest, _, query = rest.partition("?")
            options = dict(parse_qsl(query, keep_blank_values=True))
            unknown = set(options) - {"memory_limit", "means_cache_mb"}
            if unknown:
                raise ValueError(
                    f"unknown DuckDB store option(s) {sorted(unknown)}; supported: "
                    "memory_limit, means_cache_mb"
                )
            path = rest[1:] if rest.startswith("/") and rest[1:2] == "/" else rest
            return DuckDBStore(
                Path(path),
                memory_limit=options.get("memory_limit", DEFAULT_MEMORY_LIMIT),
                means_cache_bytes=_megabytes(options.get("means_cache_mb"), DEFAULT_MAX_BYTES),
            )
        case "clickhouse" | "clickhouses" | "chdb":
            try:
                from evaldelta.store.clickhouse.store import ClickHouseStore
            except ImportError as err:
                extra = "chdb" if scheme == "chdb" else "clickhouse"
                raise ValueError(
                    f"the {scheme} store needs: pip install 'evaldelta[{extra}]' ({err})"
                ) from err
            return ClickHouseStore(url)
        case _:
            raise ValueError(
                f"unsupported store scheme {scheme!r}; supported: duckdb, clickhouse, chdb"
            )
