"""``PySearch``: the alpha-beta back end in Python, for any game of the ``State`` protocol and for every
game searched with an ``Evaluator`` (leaves evaluated in batches: all children of a horizon node at
once; the evaluator's priors order the moves).

Scores: a win ``k`` plies from the root scores ``MATE - k``; other scores are ``value_to_score`` of the
evaluator's (or the static evaluation's) value, so :meth:`PySearch.value_of` gives the value back.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

from mcts._score import INF, MATE, MATE_BOUND, MAX_PLY, score_to_value, value_to_score

EVAL_SCALE = 1000.0       # score units at which a value is tanh(1) (mcts._score.score_to_value)
DEFAULT_ASPIRATION = (50, 3, 4, 4000)  # (half-width, first depth, growth on a fail, full-open width)


class PySearch:
    """Alpha-beta over the ``State`` protocol in Python (copy-make with ``clone``).

    Args:
        game: the game.
        evaluator: optional batched ``Evaluator``: its values score the horizon and its priors
            order the moves.
        tt_entries: most transposition-table entries kept.
        static_eval: optional ``state -> value in [-1, 1]`` for the player to move (used when no
            evaluator is given; else leaves score 0).
        quiescence: optional ``state -> actions`` hook: at the horizon these actions (captures in
            chess) are searched further, with the static evaluation as stand-pat.
    """

    def __init__(self, game: Any, evaluator: Any = None, *, tt_entries: int = 1 << 17,
                 static_eval: Optional[Callable[[Any], float]] = None,
                 quiescence: Optional[Callable[[Any], Sequence[int]]] = None) -> None:
        self.game = game
        self.evaluator = evaluator
        self.static_eval = static_eval
        self.quiescence = quiescence
        self.tt_entries = max(1024, int(tt_entries))
        self.tt: dict[int, tuple[int, int, int, int, int]] = {}   # hash -> (depth, flag, score, move, age)
        self.history: dict[tuple[int, int], int] = {}
        self.prior_cache: dict[int, tuple[np.ndarray, float]] = {}
        self.killers = [[-1, -1] for _ in range(MAX_PLY + 1)]
        self.age = 0
        self._stop = threading.Event()
        self.evaluations = 0
        self.batches = 0
        self.aspiration_schedule = DEFAULT_ASPIRATION
        self.max_depth = MAX_PLY - 2
        self.exact = False           # no reductions to turn off
        self.score_scale = EVAL_SCALE

    # --- the back-end interface -------------------------------------------------------------
    def reset(self) -> None:
        self.tt.clear()
        self.history.clear()
        self.prior_cache.clear()
        self.killers = [[-1, -1] for _ in range(MAX_PLY + 1)]

    def resize(self, tt_bytes: int) -> None:
        """An empty table of about ``tt_bytes`` (160 bytes an entry of the dict)."""
        self.tt_entries = max(1024, int(tt_bytes) // 160)
        self.tt.clear()

    def clear(self) -> None:
        """Empties the table."""
        self.tt.clear()

    def stop(self) -> None:
        self._stop.set()

    def clear_stop(self) -> None:
        self._stop.clear()

    def begin(self, root: Any, node_limit: Optional[int] = None, deadline: Optional[float] = None) -> None:
        self.root = root.clone()
        self.node_limit = node_limit
        self.deadline = deadline
        self.nodes = 0
        self.seldepth = 0
        self.stopped = False
        self.stop_reason = ""
        self.age += 1
        self.killers = [[-1, -1] for _ in range(MAX_PLY + 1)]
        self._pv: list[int] = []

    def search(self, depth: int, alpha: int, beta: int) -> tuple[int, bool, int, int, int]:
        self.root_best, self.root_best_score, self.root_done = -1, -INF, 0
        stm = self.root.current_player()
        score, pv = self._negamax(self.root, 0, depth, alpha, beta, stm, True)
        if not self.stopped:
            self._pv = pv
        return score, self.stopped, self.root_best, self.root_best_score, self.root_done

    def pv(self) -> list[int]:
        return list(self._pv)

    def value_of(self, score: int) -> float:
        """A score as a value in [-1, 1] for the player to move (the shared map)."""
        return score_to_value(score, EVAL_SCALE)

    @staticmethod
    def accepts(state: Any) -> bool:
        """Every state of the ``State`` protocol."""
        return True

    # --- the search ---------------------------------------------------------------------------
    def _check(self) -> bool:
        if self.node_limit is not None and self.nodes >= self.node_limit:
            self.stopped, self.stop_reason = True, "nodes"
        elif self.nodes & 3 == 0:
            if self._stop.is_set():
                self.stopped, self.stop_reason = True, "stopped"
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                self.stopped, self.stop_reason = True, "time"
        return self.stopped

    @staticmethod
    def _terminal_score(state: Any, stm: int, ply: int) -> int:
        r = state.returns()[stm]
        if r > 0.999:
            return MATE - ply
        if r < -0.999:
            return -(MATE - ply)
        return value_to_score(r, EVAL_SCALE)

    def _evaluate(self, states: list) -> tuple[np.ndarray, np.ndarray]:
        priors, values = self.evaluator.evaluate(states)
        self.evaluations += len(states)
        self.batches += 1
        return np.asarray(priors, dtype=np.float32), np.asarray(values, dtype=np.float32)

    def _priors(self, state: Any) -> Optional[np.ndarray]:
        if self.evaluator is None:
            return None
        key = state.hash()
        hit = self.prior_cache.get(key)
        if hit is None:
            priors, values = self._evaluate([state])
            hit = (priors[0], float(values[0]))
            if len(self.prior_cache) > self.tt_entries:
                self.prior_cache.clear()
            self.prior_cache[key] = hit
        return hit[0]

    def _leaf(self, state: Any, ply: int, alpha: int, beta: int, stm: int, qdepth: int = 0) -> int:
        if self.evaluator is not None:
            return value_to_score(float(self._evaluate([state])[1][0]), EVAL_SCALE)
        stand = value_to_score(self.static_eval(state), EVAL_SCALE) if self.static_eval is not None else 0
        if self.quiescence is None or qdepth >= 16:
            return stand
        if stand >= beta:
            return stand
        alpha = max(alpha, stand)
        best = stand
        for a in self.quiescence(state):
            child = state.clone()
            child.apply_action(a)
            self.nodes += 1
            cstm = child.current_player()
            if child.is_terminal():
                score = -self._terminal_score(child, 1 - stm, ply + 1)
            else:
                score = -self._leaf(child, ply + 1, -beta, -alpha, cstm, qdepth + 1)
            if score > best:
                best = score
                if score > alpha:
                    alpha = score
                    if score >= beta:
                        break
        return best

    def _store(self, key: int, depth: int, flag: int, score: int, move: int, ply: int) -> None:
        if score > MATE_BOUND:
            score += ply
        elif score < -MATE_BOUND:
            score -= ply
        old = self.tt.get(key)
        if old is not None and old[0] > depth and old[4] == self.age:
            return   # keep the deeper entry of this search
        if old is None and len(self.tt) >= self.tt_entries:
            # full: drop the entries of older searches, else everything shallow
            stale = [k for k, v in self.tt.items() if v[4] != self.age or v[0] <= 1]
            for k in stale[: max(1, len(self.tt) // 2)]:
                del self.tt[k]
            if len(self.tt) >= self.tt_entries:
                return
        self.tt[key] = (depth, flag, score, move, self.age)

    def _negamax(self, state: Any, ply: int, depth: int, alpha: int, beta: int, stm: int,
                 is_pv: bool) -> tuple[int, list[int]]:
        if ply > self.seldepth:
            self.seldepth = ply
        if depth <= 0 or ply >= MAX_PLY - 1:
            return self._leaf(state, ply, alpha, beta, stm), []
        self.nodes += 1
        if self._check():
            return 0, []
        if ply > 0:
            alpha = max(alpha, -(MATE - ply))
            beta = min(beta, MATE - ply - 1)
            if alpha >= beta:
                return alpha, []
        alpha0 = alpha
        key = state.hash()
        entry = self.tt.get(key)
        tt_move = -1
        if entry is not None:
            tt_move = entry[3]
            if ply > 0 and not is_pv and entry[0] >= depth:
                score = entry[2]
                if score > MATE_BOUND:
                    score -= ply
                elif score < -MATE_BOUND:
                    score += ply
                flag = entry[1]
                if flag == 3 or (flag == 2 and score >= beta) or (flag == 1 and score <= alpha):
                    return score, [tt_move] if tt_move >= 0 else []
        actions = state.legal_actions()
        if depth == 1 and self.evaluator is not None:
            return self._horizon_batch(state, actions, ply, alpha0, beta, stm, key)
        priors = self._priors(state) if depth >= 2 else None
        killers = self.killers[ply]
        order = []
        for a in actions:
            if a == tt_move:
                s = 1 << 40
            elif a == killers[0]:
                s = 1 << 39
            elif a == killers[1]:
                s = (1 << 39) - 1
            else:
                s = self.history.get((stm, a), 0)
                if priors is not None:
                    s += int(priors[a] * (1 << 30))
            order.append((s, a))
        order.sort(key=lambda t: -t[0])
        best, best_move, best_pv = -INF, -1, []
        cpv: list[int]
        for i, (_, a) in enumerate(order):
            child = state.clone()
            child.apply_action(a)
            if child.is_terminal():
                self.nodes += 1
                score, cpv = -self._terminal_score(child, 1 - stm, ply + 1), []
            else:
                cstm = child.current_player()
                if i == 0:
                    score, cpv = self._negamax(child, ply + 1, depth - 1, -beta, -alpha, cstm, is_pv)
                    score = -score
                else:
                    score, cpv = self._negamax(child, ply + 1, depth - 1, -alpha - 1, -alpha, cstm, False)
                    score = -score
                    if alpha < score < beta and not self.stopped:
                        score, cpv = self._negamax(child, ply + 1, depth - 1, -beta, -alpha, cstm, is_pv)
                        score = -score
            if self.stopped:
                return 0, []
            if ply == 0:
                self.root_done += 1
            if score > best:
                best, best_move, best_pv = score, a, [a] + cpv
                if score > alpha:
                    alpha = score
                    if ply == 0:
                        self.root_best, self.root_best_score = a, score
                    if score >= beta:
                        if a != tt_move and a != killers[0]:
                            killers[1], killers[0] = killers[0], a
                        self.history[(stm, a)] = self.history.get((stm, a), 0) + depth * depth
                        break
        if ply == 0 and self.root_best < 0:
            self.root_best, self.root_best_score = best_move, best
        flag = 2 if best >= beta else (3 if best > alpha0 else 1)
        self._store(key, depth, flag, best, best_move, ply)
        return best, best_pv

    def _horizon_batch(self, state: Any, actions: list[int], ply: int, alpha: int, beta: int, stm: int,
                       key: int) -> tuple[int, list[int]]:
        """Depth-1 node with an evaluator: every child scored by one batched evaluation."""
        scores: dict[int, int] = {}
        pending, pending_actions = [], []
        for a in actions:
            child = state.clone()
            child.apply_action(a)
            self.nodes += 1
            if child.is_terminal():
                scores[a] = -self._terminal_score(child, 1 - stm, ply + 1)
            else:
                pending.append(child)
                pending_actions.append(a)
        if pending:
            _, values = self._evaluate(pending)
            for a, v in zip(pending_actions, values, strict=True):
                scores[a] = -value_to_score(float(v), EVAL_SCALE)
        if ply + 1 > self.seldepth:
            self.seldepth = ply + 1
        best_move = max(actions, key=lambda a: scores[a])
        best = scores[best_move]
        if ply == 0:
            self.root_done = len(actions)
            if best > alpha:
                self.root_best, self.root_best_score = best_move, best
        flag = 2 if best >= beta else (3 if best > alpha else 1)
        self._store(key, 1, flag, best, best_move, ply)
        return best, [best_move]
