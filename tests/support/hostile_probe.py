"""Measure what hostile and large bodies cost a real ``evaldelta serve``: the figures in
docs/reliability.md, "Hostile input".  Run ``python -m tests.support.hostile_probe``.

For each body it resets the server's peak RSS (``/proc/<pid>/clear_refs``), sends the
body, and reports the peak RSS above the resident size before the request; during
concurrent bombs it times ``GET /info`` from another client.
"""

from __future__ import annotations

import io
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import zstandard

from tests.support.cli_process import Served, serving
from tests.support.ingest import multipart_body, new_run, run_parts, unique

MiB = 1 << 20


def status(pid: int) -> dict[str, int]:
    """The server's VmRSS and VmHWM (its peak since the last reset), in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def reset_peak(pid: int) -> int:
    """Reset the peak RSS to the current one (``clear_refs`` 5); the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status(pid)["VmRSS"]


def zstd_bomb(decoded: int) -> bytes:
    """One zstd frame without a content size that decodes to ``decoded`` zero bytes."""
    buffer = io.BytesIO()
    zeros = bytes(MiB)
    with zstandard.ZstdCompressor(level=1).stream_writer(buffer, closefd=False) as writer:
        for _ in range(decoded // MiB):
            writer.write(zeros)
    return buffer.getvalue()


def gzip_bomb(decoded: int) -> bytes:
    """Concatenated gzip members that decode to ``decoded`` zero bytes."""
    compressor = zlib.compressobj(level=9, wbits=31)
    member = compressor.compress(bytes(64 * MiB)) + compressor.flush()
    return member * (decoded // (64 * MiB))


BOUNDARY_HEADERS = multipart_body([])[1]


def runs_of_size(size: int, text: int = 4000) -> list[dict[str, Any]]:
    """SDK-shaped runs whose JSON adds up to about ``size`` bytes."""
    project = unique("probe")
    count = max(1, size // (text + 400))
    return [new_run(project, inputs={"text": "x" * text}) for _ in range(count)]


def bodies(size: int, big_string: int) -> dict[str, tuple[bytes, dict[str, str], int]]:
    """The bodies whose cost is measured, by label: (body, headers, decoded size N)."""
    runs = runs_of_size(size)
    parts = [part for run in runs for part in run_parts("post", run)]
    multipart, headers = multipart_body(parts)
    packed = zstandard.ZstdCompressor(level=3).compress(multipart)
    large = new_run(unique("probe"), outputs={"text": "y" * big_string})
    large_body, _ = multipart_body(run_parts("post", large))
    json_headers = {"content-type": "application/json"}
    json_body = orjson.dumps({"post": runs})
    return {
        "JSON /runs/batch": (json_body, json_headers, len(json_body)),
        "multipart": (multipart, headers, len(multipart)),
        "multipart, zstd": (packed, {**headers, "content-encoding": "zstd"}, len(multipart)),
        "one large string": (large_body, headers, len(large_body)),
    }


def post(served: Served, key: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    multipart = "multipart" in headers.get("content-type", "")
    route = "/api/v1/runs/multipart" if multipart else "/api/v1/runs/batch"
    return httpx.post(
        served.url + route, content=body, headers={**headers, "x-api-key": key}, timeout=300
    )


def measure_body(
    served: Served, key: str, body: bytes, headers: dict[str, str], decoded: int
) -> str:
    pid = served.process.pid
    time.sleep(0.5)
    before = reset_peak(pid)
    start = time.monotonic()
    response = post(served, key, body, headers)
    took = time.monotonic() - start
    peak = status(pid)["VmHWM"] - before
    return (
        f"{response.status_code} in {took:.2f} s, peak +{peak / MiB:.0f} MiB"
        f" ({peak / decoded:.1f} N)"
    )


def concurrent_bombs(
    served: Served, key: str, bomb: bytes, encoding: str, count: int
) -> tuple[list[int], float, float, float]:
    """``count`` bombs at once; their statuses, the slowest of them, the slowest
    ``GET /info`` meanwhile, and the peak RSS above the start."""
    pid = served.process.pid
    time.sleep(0.5)
    before = reset_peak(pid)
    done = threading.Event()
    info_times: list[float] = []

    def poll_info() -> None:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            while not done.is_set():
                start = time.monotonic()
                client.get("/info")
                info_times.append(time.monotonic() - start)
                time.sleep(0.02)

    def send(_: int) -> tuple[int, float]:
        start = time.monotonic()
        response = httpx.post(
            served.url + "/api/v1/runs/multipart",
            content=bomb,
            headers={**BOUNDARY_HEADERS, "content-encoding": encoding, "x-api-key": key},
            timeout=120,
        )
        return response.status_code, time.monotonic() - start

    poller = threading.Thread(target=poll_info)
    poller.start()
    time.sleep(0.2)
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(send, range(count)))
    time.sleep(0.2)
    done.set()
    poller.join()
    peak = status(pid)["VmHWM"] - before
    return [s for s, _ in results], max(t for _, t in results), max(info_times), peak


def main(argv: list[str]) -> None:
    size = int(argv[0]) * MiB if argv else 16 * MiB
    big_string = int(argv[1]) * MiB if len(argv) > 1 else 50 * MiB
    report: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        with serving(Path(tmp) / "bombs") as served:
            key = served.printed_exports()["LANGSMITH_API_KEY"]
            pid = served.process.pid
            report.append(("server RSS at start", f"{status(pid)['VmRSS'] / MiB:.0f} MiB"))
            bombs: list[tuple[str, Callable[[int], bytes], str]] = [
                ("zstd", zstd_bomb, "zstd"),
                ("gzip", gzip_bomb, "gzip"),
            ]
            for label, make, encoding in bombs:
                bomb = make(2048 * MiB)
                kib = len(bomb) // 1024
                statuses, slowest, info, peak = concurrent_bombs(served, key, bomb, encoding, 1)
                report.append(
                    (
                        f"one {label} bomb ({kib} KiB -> 2 GiB)",
                        f"{statuses[0]} in {slowest:.2f} s, peak +{peak / MiB:.0f} MiB",
                    )
                )
                statuses, slowest, info, peak = concurrent_bombs(served, key, bomb, encoding, 4)
                report.append(
                    (
                        f"four {label} bombs at once",
                        f"{sorted(statuses)}, last after {slowest:.2f} s, slowest /info"
                        f" {info:.2f} s, peak +{peak / MiB:.0f} MiB",
                    )
                )
        # Each kind of body on a fresh server (memory freed by an earlier request and kept
        # by the allocator would hide part of the next one's cost), after one small body of
        # the same kind (the first write loads code and sets up the store, once). The
        # first large body also grows the store's buffers once; a second one of the same
        # size shows what a request costs a server that has taken such bodies before.
        small = bodies(64 * 1024, 64 * 1024)
        for n, label in enumerate(small):
            with serving(Path(tmp) / f"body-{n}") as served:
                key = served.printed_exports()["LANGSMITH_API_KEY"]
                assert post(served, key, *small[label][:2]).status_code == 202
                for which in ("first", "second"):
                    body, headers, decoded = bodies(size, big_string)[label]
                    figure = measure_body(served, key, body, headers, decoded)
                    sent = f"N = {decoded / MiB:.1f} MiB, {len(body) / MiB:.1f} MiB sent"
                    report.append((f"{label}, {sent}, {which}", figure))
    print("| request | result |\n| --- | --- |")
    for name, value in report:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main(sys.argv[1:])
