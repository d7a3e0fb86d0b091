"""The server-wide budget of decoded request-body bytes in flight.

Every body is decoded into memory before it is parsed, so the bodies being read and
handled at once are what a burst of large (or hostile) requests costs. Each body's first
``small_bytes`` are free: small requests never wait on large ones. Beyond that a body
draws on the shared budget as its bytes are decoded, and gives it back when its request
is answered; a body that finds the budget spent is refused with 429 and ``Retry-After``
at once (it holds nothing while the client waits), never left hanging.
"""

from __future__ import annotations

import threading

from evaldelta.errors import DomainError

RETRY_AFTER_SECONDS = 1


class BudgetSpent(DomainError):
    """Other requests hold the decoded bytes this body needs: retry shortly."""

    status_code = 429
    retry_after = RETRY_AFTER_SECONDS


class DecodedBytesBudget:
    """Decoded body bytes all requests together may hold (beyond each one's free bytes).

    Thread-safe: bodies are decoded in worker threads, which charge it as they go.
    """

    def __init__(self, total_bytes: int, small_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.small_bytes = small_bytes
        self.held = 0
        self._lock = threading.Lock()

    def allowance(self) -> BodyAllowance:
        """A new request's share, empty until its body grows past the free bytes."""
        return BodyAllowance(self)

    def _take(self, size: int) -> bool:
        with self._lock:
            if self.held + size > self.total_bytes:
                return False
            self.held += size
            return True

    def _give(self, size: int) -> None:
        with self._lock:
            self.held -= size


class BodyAllowance:
    """What one request's body holds of the budget; ``release`` when it is answered."""

    def __init__(self, budget: DecodedBytesBudget) -> None:
        self._budget = budget
        self.decoded = 0
        self.charged = 0

    def reserve(self, total: int) -> None:
        """Hold at once what a body of ``total`` decoded bytes needs (``BudgetSpent`` if it
        does not fit): a body of known size is refused before it is read, not half way."""
        self._take(max(0, total - self._budget.small_bytes) - self.charged)

    def charge(self, size: int) -> None:
        """Account ``size`` more decoded bytes (``BudgetSpent`` if the budget is spent)."""
        self._take(max(0, self.decoded + size - self._budget.small_bytes) - self.charged)
        self.decoded += size

    def _take(self, more: int) -> None:
        if more <= 0:
            return
        if not self._budget._take(more):
            raise BudgetSpent("the server is reading other large request bodies; retry shortly")
        self.charged += more

    def release(self) -> None:
        """Give back everything held (the request is answered)."""
        self._budget._give(self.charged)
        self.charged = 0
