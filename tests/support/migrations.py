"""A store as it was before one migration: for tests of what a migration does to old rows.

Migrations are appended by several features, so a test cannot assume its own is the last;
it names a piece of its migration's text instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T", str, list[str])


def before(migrations: Sequence[T], needle: str) -> list[T]:
    """The migrations that come before the first one whose text holds ``needle``."""
    for index, migration in enumerate(migrations):
        text = migration if isinstance(migration, str) else "\n".join(migration)
        if needle in text:
            return list(migrations[:index])
    raise AssertionError(f"no migration mentions {needle!r}")
