"""Example-id lists written as JSON straight from the per-dataset byte table equal what a
JSON encoder writes for the same ids, in the same order."""

from __future__ import annotations

from uuid import UUID

import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st

from evaldelta.store.id_table import ExampleIdList, IdTable

ids_st = st.lists(st.uuids(), min_size=1, max_size=50, unique=True)


@given(ids=ids_st, data=st.data())
def test_json_and_objects_equal_the_ids_at_the_positions(
    ids: list[UUID], data: st.DataObject
) -> None:
    positions = data.draw(st.lists(st.integers(0, len(ids) - 1), max_size=60))
    picked = [ids[p] for p in positions]
    for table in (
        IdTable.from_bytes([i.bytes for i in ids]),
        IdTable.from_halves(
            np.array([i.int >> 64 for i in ids], dtype=np.uint64),
            np.array([i.int & (2**64 - 1) for i in ids], dtype=np.uint64),
        ),
    ):
        listed = ExampleIdList(table, np.array(positions, dtype=np.int64))
        assert listed.json() == orjson.dumps(picked)
        assert list(listed) == picked
        assert len(listed) == len(picked)
