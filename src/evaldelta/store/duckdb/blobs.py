"""Attachment blobs on DuckDB: files in a folder beside the database file.

``<file>.duckdb.attachments/ab/abcdef…`` holds the blob of digest ``abcdef…``; a blob is
written to a temporary file, synced and renamed, so a crash never leaves half a blob
under a digest.  See ``store/attachments.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from evaldelta.store.attachments import GRACE_SECONDS, is_digest


class FileBlobs:
    """Blobs as files in one folder, ``ab/abcdef…`` by digest, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ValueError("not a SHA-256 digest")
        return self.folder / digest[:2] / digest

    def put(self, digest: str, data: bytes) -> None:
        """Write a blob (nothing if it is there), durably, before any row names it."""
        path = self._path(digest)
        if path.exists():
            os.utime(path)  # young again: collection must not race the row about to name it
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, digest: str) -> bytes | None:
        try:
            return self._path(digest).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def collect(self, live: set[str], grace: float = GRACE_SECONDS) -> int:
        """Remove blobs (and leftover temporary files) that no example names and that are
        older than ``grace`` seconds; the number removed."""
        if not self.folder.is_dir():
            return 0
        cutoff = time.time() - grace
        removed = 0
        for path in self.folder.glob("*/*"):
            if path.name in live or path.stat().st_mtime > cutoff:
                continue
            path.unlink(missing_ok=True)
            removed += 1
        return removed
