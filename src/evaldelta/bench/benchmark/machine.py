"""What the benchmark ran on: cores, memory, CPU model, versions."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    cores = os.cpu_count() or 0
    memory = _mem_total_gib()
    cpu = _cpu_model()
    mem_text = f"{memory:.1f} GiB" if memory else "unknown memory"
    return {
        "nproc": cores,
        "mem_total_gib": memory,
        "cpu_model": cpu,
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "numpy": version("numpy"),
        "summary": f"{cores} cores ({cpu}), {mem_text}",
    }


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
