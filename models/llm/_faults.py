"""Faults of a language model, logged without flooding: the first of each kind at once, then counts.

A model server that fails usually fails the same way many times (every request of a game gets the
same HTTP 500). ``FaultLog`` logs the first fault of each kind at WARNING on the ``plytree.llm``
logger, counts the rest, and logs one summary line with the count of every kind when it is closed
or the process exits.
"""
from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import Counter

logger = logging.getLogger("plytree.llm")


def _summarize_at_exit(ref: weakref.ref) -> None:
    log = ref()
    if log is not None:
        log.summarize()


class FaultLog:
    """Counts faults of one model by kind; logs the first of each kind and, at the end, the counts.

    Args:
        source: who faulted, for the log lines (``HTTPBackend('http://...', model='m')``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.counts: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._lock = threading.Lock()
        atexit.register(_summarize_at_exit, weakref.ref(self))

    def record(self, kind: str, detail: str) -> None:
        """Counts a fault of ``kind``; the first of its kind is logged with ``detail``."""
        with self._lock:
            self.counts[kind] += 1
            first = self.counts[kind] == 1
        if first:
            logger.warning("%s: %s fault: %s (further %s faults are counted; the counts are logged at the end)",
                           self.source, kind, detail, kind)

    def summarize(self) -> None:
        """Logs one line with the count of each kind of fault since the last summary (nothing if none)."""
        with self._lock:
            new = self.counts - self._reported
            self._reported = Counter(self.counts)
        if new:
            counts = ", ".join(f"{kind} x{n}" for kind, n in sorted(new.items()))
            logger.warning("%s: model faults: %s", self.source, counts)
