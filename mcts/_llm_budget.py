"""``LLMBudget``: what a language-model search may still spend of a ``Limit``'s calls, tokens and time.

The backends (``models.llm``) count what each request cost in a ``usage`` object; the search asks this
budget, before each request, whether the next one can still be paid for.
"""
from __future__ import annotations

import time
from typing import Any, Protocol

from mcts._limit import Limit


class UsageCounters(Protocol):
    """A backend's running counters (``models.llm.Usage`` implements it)."""

    def snapshot(self) -> Any:
        """Counters now: an object with ``calls`` and ``tokens``, that subtracts (``a - b``) and has
        ``as_dict()``."""


class LLMBudget:
    """What a search may still spend of ``limit``'s ``llm_calls``, ``tokens`` and ``time``, measured on
    ``backend.usage`` from the moment this budget is made.

    Args:
        limit: the search's limit (other fields are ignored here).
        backend: anything with a ``usage`` (``UsageCounters``), or None to count time only.
    """

    def __init__(self, limit: Limit | None, backend: Any = None) -> None:
        self.limit = limit or Limit()
        self.backend = backend
        self.t0 = time.monotonic()
        self.start = self._usage()

    def _usage(self) -> Any:
        usage: UsageCounters | None = getattr(self.backend, "usage", None)
        return usage.snapshot() if usage is not None else None

    def spent(self) -> Any:
        """A snapshot of what was spent since the budget was made (None without a backend)."""
        now = self._usage()
        return None if now is None else now - self.start

    def seconds_left(self) -> float | None:
        """Seconds left of ``limit.time`` (None when time is not limited; may be negative)."""
        if self.limit.time is None:
            return None
        return self.limit.time - (time.monotonic() - self.t0)

    def exhausted(self) -> bool:
        """True once calls, tokens or time reach the limit."""
        return bool(self.reason())

    def reason(self) -> str:
        """Which limit is reached: ``"time"``, ``"llm_calls"``, ``"tokens"``, or ``""`` for none."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            return "time"
        spent = self.spent()
        if spent is None:
            return ""
        if self.limit.llm_calls is not None and spent.calls >= self.limit.llm_calls:
            return "llm_calls"
        if self.limit.tokens is not None and spent.tokens >= self.limit.tokens:
            return "tokens"
        return ""

    def extra(self) -> dict:
        """What was spent, as ``SearchResult.extra`` entries (``llm_calls``, ``tokens``...)."""
        spent = self.spent()
        return spent.as_dict() if spent is not None else {}
