"""Figures as the benchmark's and the load test's Markdown tables print them."""

from __future__ import annotations

from typing import Any


def figure(value: Any) -> str:
    """A measured value for a table: thousands separated, three significant digits below
    10, one decimal below 1,000; booleans as yes or a bold NO; a dash for nothing."""
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    return "—" if value is None else str(value)
