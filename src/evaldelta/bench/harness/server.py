"""The server under test: ``evaldelta serve`` as a subprocess, and what we read about it.

The API key comes from ``evaldelta keys create`` before the server starts (the store file
belongs to one process at a time).  Memory is read from ``/proc/<pid>/status``; writing
``5`` to ``/proc/<pid>/clear_refs`` resets the peak so each phase gets its own.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

CLI = [sys.executable, "-m", "evaldelta.cli.main"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _store_args(store: str | None) -> list[str]:
    return ["--store", store] if store else []


def create_key(data_dir: Path, store: str | None, tenant: str) -> str:
    """A fresh API key for ``tenant`` (created if needed); the server must not be running."""
    done = subprocess.run(
        [
            *CLI,
            "keys",
            "create",
            "--tenant",
            tenant,
            "--data-dir",
            str(data_dir),
            *_store_args(store),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"evaldelta keys create failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class ServerProcess:
    """A running ``evaldelta serve``."""

    url: str
    api_key: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"{field} not in /proc/{self.pid}/status")

    def peak_rss_mib(self) -> float:
        """Peak resident memory (VmHWM) since start or the last ``reset_peak``."""
        return self._status_kib("VmHWM") / 1024

    def rss_mib(self) -> float:
        return self._status_kib("VmRSS") / 1024

    def reset_peak(self) -> bool:
        """Start a new peak from the current RSS; False where the kernel does not allow it."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 120.0) -> None:
        """Ask uvicorn to shut down (the store closes and checkpoints); kill if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(data_dir: Path, store: str | None, log_path: Path) -> ServerProcess:
    """Create a key, start the server on a free loopback port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = create_key(data_dir, store, "bench")
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data_dir), "--port", str(port), *_store_args(store)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    server = ServerProcess(f"http://127.0.0.1:{port}", key, proc, log_path)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("the server did not answer within 60 s")
        time.sleep(0.1)


def store_path(data_dir: Path, store: str | None) -> Path | None:
    """The DuckDB file a store URL names (read as ``evaldelta.server.app.open_store`` reads it)."""
    if not store:
        return data_dir / "evaldelta.duckdb"
    scheme, _, rest = store.partition("://")
    if scheme != "duckdb":
        return None
    return Path(rest[1:] if rest.startswith("//") else rest)


def store_bytes(data_dir: Path, store: str | None) -> int | None:
    """Bytes on disk of the store: the DuckDB file and its write-ahead log, or the whole
    data directory of an embedded ClickHouse (chDB) store."""
    if store and store.startswith("chdb://"):
        root = Path(urlsplit(store).path)
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    base = store_path(data_dir, store)
    if base is None:
        return None
    files = (base, base.with_name(base.name + ".wal"))
    return sum(p.stat().st_size for p in files if p.exists())
