"""PokéChamp-style minimax over model-proposed actions.

At each node of a depth-limited tree the language model proposes a few candidate actions for the side
to move (sampled answers to the policy prompt, mapped onto legal moves) and the game's heuristic best
move joins them; at the opponent's nodes the same proposals are the model's prediction of the reply.
Leaves are scored by the model's 1-100 value prompt, with a heuristic evaluator as fallback when the
model fails, answers garbage or runs out of time. Terminal positions get their exact returns.

The search never leaves its caller without a legal move: before any model call it picks the heuristic
best move, and when the budget (``Limit(llm_calls=, tokens=, time=)``) runs out or ``stop()`` is called,
it backs up what it has (unscored leaves get the heuristic's value) and returns.

This module sees the model only through an ``Oracle`` (``mcts/_llm_oracle.py``: ``propose(states, k)``,
``values(states)``, ``fallback``, ``cancel``, ``stats``, ``backend``), which ``models.llm.LLMOracle``
implements; ``mcts`` never imports ``models``.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcts._errors import require_two_player_zero_sum
from mcts._limit import Limit, SearchResult
from mcts._llm_budget import LLMBudget
from mcts._llm_oracle import Oracle

ESTIMATE_SCALE = 0.999  # estimated leaf values are shrunk by this factor below exact returns


def heuristic_scores(state: Any, evaluator: Any, *, threat_check_max: int = 16) -> dict[int, float]:
    """A one-ply heuristic: each legal action's value for the player to move.

    An immediately winning action scores 1 (the search stops there: other actions may then be
    missing from the result); with at most ``threat_check_max`` legal actions, an action
    after which the opponent can win at once scores -1; other actions get minus the evaluator's value
    of the position after them.
    """
    me = state.current_player()
    scores: dict[int, float] = {}
    pending: list[tuple[int, Any]] = []
    legal = state.legal_actions()
    for a in legal:
        child = state.clone()
        child.apply_action(a)
        if child.is_terminal():
            scores[a] = float(child.returns()[me])
        else:
            pending.append((a, child))
    if any(v >= 1.0 for v in scores.values()):
        return scores
    if len(legal) <= threat_check_max:
        rest = []
        for a, child in pending:
            loses = False
            for b in child.legal_actions():
                grand = child.clone()
                grand.apply_action(b)
                if grand.is_terminal() and grand.returns()[me] < 0:
                    loses = True
                    break
            if loses:
                scores[a] = -1.0
            else:
                rest.append((a, child))
        pending = rest
    if pending:
        _, values = evaluator.evaluate([c for _, c in pending])
        for (a, _), v in zip(pending, values):
            scores[a] = -float(v)
    return scores


def heuristic_best(state, evaluator) -> int:
    """The legal action with the best :func:`heuristic_scores` (first on ties)."""
    scores = heuristic_scores(state, evaluator)
    return max(state.legal_actions(), key=lambda a: scores.get(a, -2.0))


@dataclass
class _Node:
    state: Any
    parent: int
    action: int
    depth: int
    terminal: bool
    value: float = 0.0  # for the player to move at this node
    scored: bool = False  # leaf value came from the model or exact returns
    children: list[int] = field(default_factory=list)
    heuristic: int = -1


class LLMMinimax:
    """Depth-limited minimax over model-proposed actions (PokéChamp).

    Args:
        game: a two-player zero-sum game without chance.
        oracle: the model as an ``Oracle`` (``models.llm.LLMOracle(backend, game)``); its
            ``fallback`` gives the heuristic move and scores the leaves the model cannot.
        depth: plies searched (PokéChamp's default 2: our move, the opponent's reply).
        candidates: model samples per node (the heuristic best joins them).
        model_values: score leaves with the model's value prompt (False: the fallback scores them).
        add_heuristic: add the heuristic best move to each node's candidates (PokéChamp does; False
            leaves the model's proposals alone, for ablations; a node with none still gets it).
        on_info: called with an interim ``SearchResult`` after each stage.

    Raises:
        ValueError: the game is not two-player zero-sum without chance, depth/candidates < 1, or
            ``oracle`` is not an ``Oracle`` (a bare backend, say).
    """

    def __init__(self, game, oracle: Oracle, *, depth: int = 2, candidates: int = 3,
                 model_values: bool = True, add_heuristic: bool = True,
                 on_info: Callable[[SearchResult], None] | None = None) -> None:
        require_two_player_zero_sum(game, "LLMMinimax")
        if depth < 1 or candidates < 1:
            raise ValueError(f"depth and candidates must be at least 1, got {depth}, {candidates}")
        self.game = game
        if not isinstance(oracle, Oracle):
            raise ValueError(f"LLMMinimax needs an Oracle (e.g. models.llm.LLMOracle(backend, game)), got {oracle!r}")
        self.oracle = oracle
        self.backend = getattr(self.oracle, "backend", None)
        self.depth = depth
        self.candidates = candidates
        self.model_values = model_values
        self.add_heuristic = add_heuristic
        self.on_info = on_info
        self._stop = threading.Event()

    def stop(self) -> None:
        """Makes a running ``run`` return its best result so far (thread-safe, within a few ms)."""
        self._stop.set()

    def reset(self) -> None:
        """Nothing is kept between searches but the backend's own cache."""
        self._stop.clear()

    # ------------------------------------------------------------------------------------------
    def run(self, state, limit: Limit) -> SearchResult:
        """Searches ``state`` until the tree is done or ``limit`` (llm_calls, tokens, time, depth) or
        ``stop()`` ends it.

        Args:
            state: a state of ``self.game`` (not modified).
            limit: ``depth`` overrides the constructor's depth; ``llm_calls``, ``tokens`` and ``time``
                bound the model's use.

        Returns:
            SearchResult for the player to move; ``extra`` holds the model usage (``llm_calls``,
            ``tokens``, ``llm_seconds``...) and the oracle's counters.

        Raises:
            ValueError: ``limit`` is not a ``Limit``.
        """
        if not isinstance(limit, Limit):
            raise ValueError(f"limit must be an mcts.Limit, got {limit!r}")
        self._stop.clear()
        t0 = time.monotonic()
        budget = LLMBudget(limit, self.backend)
        oracle = self.oracle
        stats_before = dict(getattr(oracle, "stats", {}))
        if state.is_terminal() or not state.legal_actions():
            budget.close()
            return SearchResult(-1, stop_reason="terminal", extra=budget.extra())
        depth = int(limit.depth) if limit.depth else self.depth
        fallback = oracle.fallback
        nodes = [_Node(state.clone(), -1, -1, 0, False)]
        root_scores = heuristic_scores(state, fallback)
        root_legal = state.legal_actions()
        nodes[0].heuristic = max(root_legal, key=lambda a: root_scores.get(a, -2.0))
        best_action = nodes[0].heuristic
        stop_reason = ""
        previous_cancel = getattr(oracle, "cancel", None)
        oracle.cancel = self._stop
        try:
            frontier = [0]
            completed_depth = 0
            for d in range(depth):
                expand = [i for i in frontier if not nodes[i].terminal]
                if not expand:
                    break
                stop_reason = self._why_stop(budget)
                if stop_reason:
                    break
                props = oracle.propose([nodes[i].state for i in expand], self.candidates,
                                       timeout=budget.seconds_left())
                new_frontier = []
                for i, proposed in zip(expand, props):
                    node = nodes[i]
                    cands = list(proposed)[: self.candidates]
                    if self.add_heuristic or not cands:
                        if node.heuristic < 0:
                            node.heuristic = heuristic_best(node.state, fallback)
                        cands = list(dict.fromkeys(cands + [node.heuristic]))
                    for a in cands:
                        child = node.state.clone()
                        child.apply_action(a)
                        term = child.is_terminal()
                        c = _Node(child, i, a, d + 1, term)
                        if term:
                            mover = child.current_player()
                            # a terminal child's value for "its player to move" is from the view of
                            # the player who would move next: minus the parent's mover's return
                            me = node.state.current_player()
                            c.value = -float(child.returns()[me]) if mover < 0 else float(child.returns()[mover])
                            c.scored = True
                        nodes.append(c)
                        node.children.append(len(nodes) - 1)
                        new_frontier.append(len(nodes) - 1)
                frontier = new_frontier
                completed_depth = d + 1
                best_action, value = self._backup(nodes)
                self._info(nodes, best_action, value, completed_depth, t0, budget, "searching")
            leaves = [i for i, n in enumerate(nodes) if not n.children and not n.terminal]
            if leaves:
                if not stop_reason:
                    stop_reason = self._why_stop(budget)
                states = [nodes[i].state for i in leaves]
                if self.model_values and not stop_reason:
                    vals, _ = oracle.values(states, timeout=budget.seconds_left())
                else:
                    vals = np.asarray(fallback.evaluate(states)[1], dtype=np.float32)
                for i, v in zip(leaves, vals):
                    # estimates stay below exact outcomes, so a proven win beats a "100" from the model
                    nodes[i].value = ESTIMATE_SCALE * float(v)
                    nodes[i].scored = True
        finally:
            oracle.cancel = previous_cancel
            budget.close()
        best_action, value = self._backup(nodes)
        if not stop_reason:
            stop_reason = "stopped" if self._stop.is_set() else (budget.reason() or "depth")
        result = self._result(nodes, best_action, value, completed_depth, t0, budget, stop_reason)
        stats = getattr(oracle, "stats", {})
        result.extra.update({f"oracle_{k}": v - stats_before.get(k, 0) for k, v in stats.items()})
        return result

    def _why_stop(self, budget: LLMBudget) -> str:
        if self._stop.is_set():
            return "stopped"
        return budget.reason() if budget.exhausted() else ""

    def _backup(self, nodes: list[_Node]) -> tuple[int, float]:
        # negamax from the deepest nodes up; unscored leaves keep the heuristic via value 0 only if
        # never scored (they are scored before the final backup)
        vals = [n.value for n in nodes]
        for i in range(len(nodes) - 1, -1, -1):
            n = nodes[i]
            if n.children:
                vals[i] = max(-vals[c] for c in n.children)
        root = nodes[0]
        if not root.children:
            return root.heuristic, 0.0
        best = max(root.children, key=lambda c: -vals[c])
        self._vals = vals
        return nodes[best].action, -vals[best]

    def _pv(self, nodes: list[_Node]) -> tuple[int, ...]:
        vals = getattr(self, "_vals", [n.value for n in nodes])
        pv, i = [], 0
        while nodes[i].children:
            i = max(nodes[i].children, key=lambda c: -vals[c])
            pv.append(nodes[i].action)
        return tuple(pv)

    def _result(self, nodes, best_action, value, depth, t0, budget, reason) -> SearchResult:
        root = nodes[0]
        vals = getattr(self, "_vals", [n.value for n in nodes])
        actions = tuple(nodes[c].action for c in root.children)
        q = tuple(-float(vals[c]) for c in root.children)
        return SearchResult(
            best_action=int(best_action), value=float(value), actions=actions, q_values=q,
            pv=self._pv(nodes) if root.children else (int(best_action),), depth=depth,
            seldepth=max(n.depth for n in nodes), nodes=len(nodes), seconds=time.monotonic() - t0,
            stop_reason=reason, extra=budget.extra() | {"heuristic_action": root.heuristic})

    def _info(self, nodes, best_action, value, depth, t0, budget, reason) -> None:
        if self.on_info is not None:
            self.on_info(self._result(nodes, best_action, value, depth, t0, budget, reason))

    def __repr__(self) -> str:
        return f"LLMMinimax({self.game!r}, depth={self.depth}, candidates={self.candidates})"

