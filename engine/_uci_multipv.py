"""MultiPV and ``searchmoves`` for a search that has neither (alpha-beta): a root-split search."""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Callable, Optional, Sequence

from engine._uci_format import typed_score
from mcts import CHESS_SCALE, Cp, Limit, Mate, Score, SearchResult, value_to_score

__all__ = ["MAX_ROOT_SPLIT_DEPTH", "RootSplitSearch"]

# deepest iteration: beyond any useful depth of a Python-driven root split, and a bound on a
# ``go depth 1000000000`` whose every line is already exact
MAX_ROOT_SPLIT_DEPTH = 128


class _Stopped(Exception):
    """Ends a RootSplitSearch iteration early."""


class RootSplitSearch:
    """Iterative deepening over the allowed root moves, each searched as its own child position.

    Every depth ``d`` searches each allowed child to ``d - 1`` plies (best-first by the last depth's
    scores, so the transposition table of the inner search helps) and reports the ``multipv`` best
    lines in ``extra["multipv"]``. A search of depth ``d`` costs about as much as the inner search's
    depth ``d`` without root pruning. The stop flag, the time and the node budget are checked before
    every child, terminal children included, and the deepening ends once every line is exact (a
    finished game or a mate score), so no position makes it spin.

    Args:
        inner: the search (``run``, ``stop``), reused for every child.
        actions: the allowed root actions (at least one).
        multipv: lines to report.
        on_info: receives a result after each completed depth.
    """

    def __init__(self, inner: Any, actions: Sequence[int], multipv: int, *,
                 on_info: Optional[Callable[[SearchResult], None]] = None) -> None:
        if not actions:
            raise ValueError("RootSplitSearch needs at least one root action")
        self.inner = inner
        self.actions = list(actions)
        self.multipv = max(1, int(multipv))
        self.on_info = on_info
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inner_running = False

    def stop(self) -> None:
        """Ends a running ``run`` at its next check (thread-safe)."""
        self._stop.set()
        with self._lock:
            if self._inner_running:
                self.inner.stop()

    def reset(self) -> None:
        """Resets the inner search (its table)."""
        reset = getattr(self.inner, "reset", None)
        if reset is not None:
            reset()

    def _child(self, child: Any, limit: Limit) -> SearchResult:
        with self._lock:
            if self._stop.is_set():
                raise _Stopped
            self._inner_running = True
        try:
            return self.inner.run(child, limit)
        finally:
            with self._lock:
                self._inner_running = False

    def _line(self, state: Any, action: int, depth: int, budget: "_Budget") -> tuple[SearchResult, bool]:
        """The line of one root action at ``depth`` and whether its score is exact."""
        budget.check(self._stop)
        child = state.clone()
        child.apply_action(action)
        if child.is_terminal():
            ret = child.returns()[state.current_player()]
            typed: Score = Mate(1) if ret > 0 else (Mate(-1) if ret < 0 else Cp(0))
            return SearchResult(action, value=float(ret), pv=(action,), score=typed.score(), depth=depth,
                                extra={"score": typed}), True
        r = self._child(child, budget.child_limit(depth))
        budget.nodes += r.nodes
        budget.seldepth = max(budget.seldepth, r.seldepth + 1)
        if self._stop.is_set() or r.stop_reason in ("time", "nodes", "stopped"):
            raise _Stopped
        child_score = typed_score(r)
        if isinstance(child_score, Mate):  # one ply further from the root, from the other side
            typed = Mate(-child_score.plies - 1 if child_score.plies > 0 else -child_score.plies + 1)
        elif isinstance(child_score, Cp):
            typed = Cp(-child_score.cp)
        else:
            typed = Cp(-value_to_score(r.value, CHESS_SCALE))
        exact = isinstance(typed, Mate) or bool(r.is_proven)
        return SearchResult(action, value=-r.value, pv=(action,) + tuple(r.pv), score=typed.score(), depth=depth,
                            extra={"score": typed}), exact

    def run(self, state: Any, limit: Limit) -> SearchResult:
        """Searches ``state`` under ``limit`` (depth, nodes, time; the controller stops the rest)."""
        self._stop.clear()
        budget = _Budget(limit)
        max_depth = min(int(limit.depth), MAX_ROOT_SPLIT_DEPTH) if limit.depth is not None else MAX_ROOT_SPLIT_DEPTH
        order = list(self.actions)
        best_result: Optional[SearchResult] = None
        for depth in range(1, max_depth + 1):
            lines: list[SearchResult] = []
            all_exact = True
            try:
                for action in order:
                    line, exact = self._line(state, action, depth, budget)
                    lines.append(line)
                    all_exact = all_exact and exact
            except _Stopped:
                break
            lines.sort(key=lambda line: -(line.score or 0))
            order = [line.best_action for line in lines]
            top = lines[0]
            best_result = SearchResult(
                top.best_action, value=top.value, actions=tuple(self.actions), pv=top.pv, score=top.score,
                depth=depth, seldepth=max(budget.seldepth, depth), nodes=budget.nodes, seconds=budget.elapsed(),
                is_proven=all_exact, extra={"multipv": lines[: self.multipv], **top.extra})
            if self.on_info is not None:
                self.on_info(best_result)
            if all_exact:
                break  # deeper iterations cannot change an exact answer
            if isinstance(typed_score(top), Mate) and top.score > 0 and self.multipv == 1:
                break
        if best_result is None:  # not even depth 1 finished
            return SearchResult(self.actions[0], actions=tuple(self.actions), pv=(self.actions[0],),
                                nodes=budget.nodes, seconds=budget.elapsed(), stop_reason="stopped")
        return dataclasses.replace(best_result, seconds=budget.elapsed(),
                                   stop_reason="stopped" if self._stop.is_set() else "depth")


class _Budget:
    """What is left of one ``run``'s node and time limits."""

    def __init__(self, limit: Limit) -> None:
        self.start = time.monotonic()
        self.deadline = None if limit.time is None else self.start + limit.time
        self.node_limit = limit.nodes
        self.nodes = 0
        self.seldepth = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def check(self, stop: threading.Event) -> None:
        """Raises _Stopped when stopped, out of nodes or out of time."""
        if stop.is_set():
            raise _Stopped
        if self.node_limit is not None and self.nodes >= self.node_limit:
            raise _Stopped
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _Stopped

    def child_limit(self, depth: int) -> Limit:
        left_nodes = None if self.node_limit is None else max(1, self.node_limit - self.nodes)
        left_time = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        return Limit(depth=max(1, depth - 1), nodes=left_nodes, time=left_time)
