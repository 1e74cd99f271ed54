"""``LLMBudget``: what a language-model search may still spend of a ``Limit``'s calls, tokens, money and time.

A budget is a promise, kept by the backend: the budget attaches itself to the backend's ``usage`` as a
guard, the backend reserves an upper bound of each batch's cost before sending it, and the guard
refuses a reservation that would take the spending past the limit (the backend then sends nothing and
raises). What was spent is counted from the server's own reports. The search asks ``exhausted()``
between its steps and stops cleanly, returning its best result so far; a refused request also ends
the budget (``reason()`` says which limit refused).

Call ``close()`` (or use the budget as a context manager) when the search ends, so that the guard
stops guarding; a budget that is dropped stops guarding too (it is held weakly).
"""
from __future__ import annotations

import time
from typing import Any, Protocol

from mcts._limit import Limit

_MODEL_FIELDS = ("llm_calls", "tokens", "money", "time")


class UsageCounters(Protocol):
    """A backend's running counters (``models.llm.Usage`` implements it)."""

    def snapshot(self) -> Any:
        """Counters now: an object with ``calls``, ``tokens`` and ``cost``, that subtracts (``a - b``)
        and has ``as_dict()``."""

    def add_guard(self, guard: Any) -> None:
        """Makes ``guard.refusal(after)`` admit or refuse every later reservation."""

    def remove_guard(self, guard: Any) -> None:
        """Stops ``guard`` guarding."""


class LLMBudget:
    """What a search may still spend of ``limit``'s ``llm_calls`` (requests), ``tokens``, ``money`` and
    ``time``, measured on ``backend.usage`` from the moment this budget is made.

    Args:
        limit: the search's limit (other fields are ignored here).
        backend: anything with a ``usage`` (``UsageCounters``), or None to count time only.

    Attributes:
        refused: the limit that refused a request (``""`` while none did).
    """

    def __init__(self, limit: Limit | None, backend: Any = None) -> None:
        self.limit = limit or Limit()
        self.backend = backend
        self.t0 = time.monotonic()
        self.refused = ""
        self._counters: UsageCounters | None = getattr(backend, "usage", None)
        self.start = self._usage()
        self._guarding = False
        if (self._counters is not None and callable(getattr(self._counters, "add_guard", None))
                and any(getattr(self.limit, f, None) is not None for f in _MODEL_FIELDS)):
            self._counters.add_guard(self)
            self._guarding = True

    def _usage(self) -> Any:
        return self._counters.snapshot() if self._counters is not None else None

    def close(self) -> None:
        """Stops guarding the backend's usage (later requests are no longer charged to this budget)."""
        if self._guarding and self._counters is not None:
            self._counters.remove_guard(self)
            self._guarding = False

    def __enter__(self) -> LLMBudget:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def refusal(self, after: Any) -> str:
        """The limit that spending up to ``after`` (the usage's counters with every reservation spent)
        would exceed, or ``""``: the guard the backend asks before it sends a request."""
        left = self.seconds_left()
        reason = ""
        if left is not None and left <= 0:
            reason = "time"
        elif self.start is not None:
            spent = after - self.start
            lim = self.limit
            if lim.llm_calls is not None and spent.calls > lim.llm_calls:
                reason = "llm_calls"
            elif lim.tokens is not None and spent.tokens > lim.tokens:
                reason = "tokens"
            elif lim.money is not None and getattr(spent, "cost", 0.0) > lim.money + 1e-12:
                reason = "money"
        if reason and not self.refused:
            self.refused = reason
        return reason

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
        """True once calls, tokens, money or time reach the limit, or a request was refused."""
        return bool(self.reason())

    def reason(self) -> str:
        """Which limit is reached: ``"time"``, ``"llm_calls"``, ``"tokens"``, ``"money"``, or ``""``."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            return "time"
        if self.refused:
            return self.refused
        spent = self.spent()
        if spent is None:
            return ""
        lim = self.limit
        if lim.llm_calls is not None and spent.calls >= lim.llm_calls:
            return "llm_calls"
        if lim.tokens is not None and spent.tokens >= lim.tokens:
            return "tokens"
        if lim.money is not None and getattr(spent, "cost", 0.0) >= lim.money:
            return "money"
        return ""

    def extra(self) -> dict:
        """What was spent, as ``SearchResult.extra`` entries (``llm_calls``, ``tokens``, ``llm_cost``...)."""
        spent = self.spent()
        return spent.as_dict() if spent is not None else {}
