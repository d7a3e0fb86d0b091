"""The paging parameters every list route shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

# DuckDB's OFFSET is a signed 64-bit integer: larger values are a 422, not a 500.
Offset = Annotated[int, Query(ge=0, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=100)]
