"""Timing shared by the benchmarks: pytest-benchmark's best round, or our own when it is disabled."""
from __future__ import annotations

import time
from typing import Callable


def best_round_seconds(benchmark, fn: Callable[[], object], *, rounds: int) -> float:
    """Runs ``fn`` through ``benchmark.pedantic`` (one warm-up round) and returns the fastest round's
    seconds; with ``--benchmark-disable`` pytest-benchmark keeps no stats, so the rounds are timed here."""
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:
        return benchmark.stats.stats.min
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best
