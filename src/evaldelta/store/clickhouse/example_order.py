"""A dataset's examples in delta order (creation time, then id), for the ClickHouse delta.

Every key of one delta request needs the same example order and the same example ids; the
full order is read once per request (per ``DeltaQuery`` object, forgotten with it) as an
``IdTable`` (``UUID`` objects made only for the examples a caller lists) and every key
looks its examples up by their 16 id bytes.  Holding it for the request also
gives every key of a stream the same snapshot of the dataset's examples.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.id_table import IdTable


@dataclass(frozen=True)
class ExampleOrder:
    """Example ids in delta order (all of the dataset's, or one page of them)."""

    ids: IdTable
    index: dict[bytes, int]  # 16 id bytes -> position in ``ids``
    is_window: bool

    def uuids(self) -> list[UUID]:
        """Every id, as ``UUID`` objects (for a page's few)."""
        return self.ids.at(list(range(len(self.ids))))

    def positions(self, id_bytes: list[bytes]) -> npt.NDArray[np.int64]:
        """The position of each example id, -1 for an id that is not here."""
        index = self.index
        return np.fromiter((index.get(b, -1) for b in id_bytes), np.int64, len(id_bytes))


_cache: dict[tuple[int, int], tuple[weakref.ref[DeltaQuery], ExampleOrder]] = {}
_lock = threading.Lock()


def _fetch(conn: Connection, query: DeltaQuery, window: Page | None) -> ExampleOrder:
    sql = """SELECT UUIDToNum(id) AS b FROM examples WHERE tenant_id = ? AND dataset_id = ?
             ORDER BY created_at, toString(id)"""
    params: list[object] = [query.tenant_id, query.dataset_id]
    if window is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [window.limit, window.offset]
    raw: list[bytes] = conn.arrow(sql, params).column("b").to_pylist()
    return ExampleOrder(
        IdTable.from_bytes(raw), {b: i for i, b in enumerate(raw)}, window is not None
    )


def _forget(key: tuple[int, int]) -> None:
    with _lock:
        _cache.pop(key, None)


def example_order(conn: Connection, query: DeltaQuery, window: Page | None) -> ExampleOrder:
    """The examples of the query's dataset in order: one page of them if ``window`` is
    given, else all of them, read once per query object."""
    if window is not None:
        return _fetch(conn, query, window)
    key = (id(query), id(conn))
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0]() is query:
        return hit[1]
    order = _fetch(conn, query, None)
    with _lock:
        _cache[key] = (weakref.ref(query), order)
    weakref.finalize(query, _forget, key)
    return order
