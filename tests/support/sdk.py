"""Which ``langsmith`` SDK the tests run with: CI runs the SDK-facing tests (marker ``sdk``)
with the newest release and again with the oldest one the README promises."""

from __future__ import annotations

import langsmith
from packaging.version import Version

# The oldest release evaldelta promises to work with (README, docs/compatibility.md).
OLDEST = "0.3.45"
SDK = Version(langsmith.__version__)


def sdk_at_least(version: str) -> bool:
    """Whether the SDK under test is ``version`` or newer."""
    return Version(version) <= SDK
