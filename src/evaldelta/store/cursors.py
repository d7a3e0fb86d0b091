"""The opaque paging cursor of run queries, shared by both stores.

A cursor names the last run of a page by its ``(start_time, id)``; the next page starts
after it.  It is base64 so clients treat it as opaque.
"""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from evaldelta.errors import Invalid


def encode_cursor(start_time: datetime, run_id: UUID) -> str:
    """The cursor that points just after the run ``(start_time, run_id)``."""
    return base64.urlsafe_b64encode(f"{start_time.isoformat()}|{run_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The ``(start_time, run_id)`` a cursor names; a 422 for one this server did not make."""
    try:
        stamp, run_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(stamp), UUID(run_id)
    except (ValueError, UnicodeDecodeError) as err:
        raise Invalid("cursor is not one this server gave out", loc=["body", "cursor"]) from err
