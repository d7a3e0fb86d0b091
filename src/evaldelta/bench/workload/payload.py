"""``POST /runs/multipart`` bodies shaped as the LangSmith SDK sends them.

Per target run: ``post.<id>`` (the SDK's merged post, see ``records``), then
``post.<id>.inputs``, ``.outputs``, ``.events`` and ``.extra``; per feedback key one
``feedback.<id>`` part.  Every part has ``Content-Type: application/json`` and a
``Content-Length``, no filename; JSON is compact.  Optionally the whole body is one zstd
frame, as with ``zstd_compression_enabled``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
import zstandard

from evaldelta.bench.workload.data import ExperimentData, KeySpec
from evaldelta.bench.workload.ids import IdSpace
from evaldelta.bench.workload.records import Experiment, records
from evaldelta.bench.workload.traces import RunParts, traces

BOUNDARY = secrets.token_hex(16)  # the SDK uses one random uuid4().hex per process


@dataclass(frozen=True)
class Body:
    """An encoded request body, with its headers and what it carries."""

    content: bytes
    headers: dict[str, str]
    runs: int
    feedback: int


def _part(name: str, data: bytes) -> bytes:
    return b"".join(
        (
            b"--",
            BOUNDARY.encode(),
            b'\r\nContent-Disposition: form-data; name="',
            name.encode(),
            b'"\r\nContent-Type: application/json\r\nContent-Length: ',
            str(len(data)).encode(),
            b"\r\n\r\n",
            data,
            b"\r\n",
        )
    )


def encode_runs(
    ids: IdSpace,
    keys: tuple[KeySpec, ...],
    experiment: Experiment,
    data: ExperimentData,
    examples: range,
    *,
    zstd_level: int | None,
) -> Body:
    """One request carrying every repetition of the given examples of one experiment."""
    chunks = []
    runs = feedback = 0
    for record in records(ids, keys, experiment, data, examples):
        chunks.append(_part(f"post.{record.run_id}", orjson.dumps(record.main)))
        for field, value in record.fields.items():
            chunks.append(_part(f"post.{record.run_id}.{field}", orjson.dumps(value)))
        for item in record.feedback:
            chunks.append(_part(f"feedback.{item['id']}", orjson.dumps(item)))
        runs += 1
        feedback += len(record.feedback)
    return _body(chunks, runs, feedback, zstd_level)


def _run_parts(event: str, run: RunParts) -> list[bytes]:
    chunks = [_part(f"{event}.{run.run_id}", orjson.dumps(run.main))]
    for field, value in run.fields.items():
        chunks.append(_part(f"{event}.{run.run_id}.{field}", orjson.dumps(value)))
    return chunks


def encode_traces(
    ids: IdSpace,
    session_name: str,
    first: int,
    stop: int,
    examples: int,
    *,
    zstd_level: int | None,
) -> list[Body]:
    """Two requests for traces ``first`` to ``stop - 1`` (see ``traces``): one with every
    run's post, then one with every run's patch.  Only the first counts the runs, so the
    bodies of a run sum to one run."""
    found = list(traces(ids, session_name, first, stop, examples))
    posts = [chunk for t in found for run in t.posts for chunk in _run_parts("post", run)]
    patches = [chunk for t in found for run in t.patches for chunk in _run_parts("patch", run)]
    runs = sum(len(t.posts) for t in found)
    return [_body(posts, runs, 0, zstd_level), _body(patches, 0, 0, zstd_level)]


def _body(chunks: list[bytes], runs: int, feedback: int, zstd_level: int | None) -> Body:
    chunks = [*chunks, b"--" + BOUNDARY.encode() + b"--\r\n"]
    raw = b"".join(chunks)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    content = raw
    if zstd_level is not None:
        content = zstandard.ZstdCompressor(level=zstd_level).compress(raw)
        headers |= {
            "Content-Encoding": "zstd",
            "X-Pre-Compressed-Size": str(len(raw)),
            "X-Post-Compressed-Size": str(len(content)),
        }
    return Body(content, headers, runs=runs, feedback=feedback)
