"""Which thread a run belongs to: LangSmith groups a project's traces into threads by a
key of the run's metadata.

LangSmith documents three keys, ``session_id``, ``thread_id`` and ``conversation_id``; a
run that carries more than one is in the thread of the first of them in that order (the
order LangSmith lists them in).  A value that is not a string is kept as its JSON text;
an empty string (or a null) is no thread id, and the next key is tried.

Both stores derive the run's ``thread_id`` column with :func:`thread_id_of` whenever a run
is written (``run_merge.finish_run``), so a patch that sets the metadata moves the run into
its thread; their migrations fill the column of runs stored before it existed with the
same rule in SQL.
"""

from __future__ import annotations

from typing import Any

import orjson

THREAD_KEYS = ("session_id", "thread_id", "conversation_id")


def thread_id_of(extra: Any) -> str | None:
    """The thread id a run's ``extra`` names in its ``metadata``, or None."""
    if not isinstance(extra, dict):
        return None
    metadata = extra.get("metadata")
    if not isinstance(metadata, dict):
        return None
    for key in THREAD_KEYS:
        value = metadata.get(key)
        if value is None or value == "":
            continue
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    return None
