"""``AlphaBeta``: iterative-deepening alpha-beta for two-player zero-sum games.

One driver (iterative deepening, aspiration windows, limits, interim reports) runs over three
back ends that share one small interface (``begin`` / ``search`` / ``pv`` / ``stop``):

* ``mcts._alphabeta.CAlphaBeta``: games with a C interface and no evaluator; the search runs in C
  with the GIL released.
* ``mcts._chess_search.ChessSearch``: chess on python-chess with its own evaluation (material and
  tapered piece-square tables) and a capture quiescence search.
* :class:`PySearch`: any game of the ``State`` protocol, and every game with an ``Evaluator``:
  leaves are evaluated in batches (all children of a horizon node at once) and the evaluator's
  priors order the moves.

Scores: a win ``k`` plies from the root scores ``MATE - k`` (the fastest win is preferred, the
slowest loss among losses); other scores are the back end's units (centipawns for chess,
``1000 * value`` for evaluators and static evaluations).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

from games._protocol import actions_to_strings
from mcts._c4solver import Connect4Solver, UnsolvableError
from mcts._limit import Limit, SearchResult

MATE = 1_000_000          # same as mcts._alphabeta.AB_MATE
MATE_BOUND = 999_000      # |score| above this is a forced result
INF = MATE + 1
DEFAULT_ASPIRATION = (50, 3, 4, 4000)  # (half-width, first depth, growth on a fail, full-open width)
MAX_PLY = 128
EVAL_SCALE = 1000         # score units per unit of value for evaluators and static evaluations


class UnsupportedGameError(ValueError):
    """A game that alpha-beta cannot search (not two-player zero-sum, chance, simultaneous moves)."""


def _is_cstate(state: Any) -> bool:
    from games._cgame import CState
    return isinstance(state, CState)


def _is_chess(game: Any) -> bool:
    return getattr(game, "name", "") in ("chess", "chess960")


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

    # --- the back-end interface -------------------------------------------------------------
    def reset(self) -> None:
        self.tt.clear()
        self.history.clear()
        self.prior_cache.clear()
        self.killers = [[-1, -1] for _ in range(MAX_PLY + 1)]

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
        if abs(score) > MATE_BOUND:
            return 1.0 if score > 0 else -1.0
        return float(max(-1.0, min(1.0, score / EVAL_SCALE)))

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
        return int(round(r * EVAL_SCALE))

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
            return int(round(float(self._evaluate([state])[1][0]) * EVAL_SCALE))
        stand = int(round(self.static_eval(state) * EVAL_SCALE)) if self.static_eval is not None else 0
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
                scores[a] = -int(round(float(v) * EVAL_SCALE))
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


class AlphaBeta:
    """Iterative-deepening alpha-beta (negamax, PVS, aspiration windows, transposition table).

    Args:
        game: a two-player zero-sum game without chance or simultaneous moves.
        evaluator: optional batched ``Evaluator`` (``mcts.Evaluator``): leaves are scored by its
            values (all children of a horizon node in one batch) and moves ordered by its priors.
            With an evaluator the search runs in Python, also for games with a C interface.
        tt_bytes: size of the transposition table in bytes.
        on_info: called with an interim ``SearchResult`` after each completed depth.
        aspiration: half-width of the aspiration window in score units (0 turns windows off;
            default: the back end's ``aspiration_schedule``, else 50).
        static_eval, quiescence: hooks of the Python search (see :class:`PySearch`).

    Raises:
        UnsupportedGameError: the game is not two-player zero-sum, or has chance or simultaneous moves.
    """

    def __init__(self, game: Any, evaluator: Any = None, *, tt_bytes: int = 16 << 20,
                 on_info: Optional[Callable[[SearchResult], None]] = None, aspiration: Optional[int] = None,
                 static_eval: Optional[Callable[[Any], float]] = None,
                 quiescence: Optional[Callable[[Any], Sequence[int]]] = None,
                 max_solve_plies: int = 20) -> None:
        if getattr(game, "num_players", 2) != 2 or not getattr(game, "is_zero_sum", True):
            raise UnsupportedGameError(f"alpha-beta needs a two-player zero-sum game, got {game!r}")
        if getattr(game, "has_chance", False) or getattr(game, "is_simultaneous", False):
            raise UnsupportedGameError(f"alpha-beta cannot search games with chance or simultaneous moves: {game!r}")
        if not isinstance(tt_bytes, int) or tt_bytes < 1024:
            raise ValueError(f"tt_bytes must be an integer >= 1024, got {tt_bytes!r}")
        if evaluator is not None and not hasattr(evaluator, "evaluate"):
            raise ValueError(f"evaluator {evaluator!r} has no evaluate(states) method")
        self.game = game
        self.evaluator = evaluator
        self.on_info = on_info
        self._aspiration = aspiration
        self.max_solve_plies = int(max_solve_plies)
        self.tt_bytes = tt_bytes
        self._c4_solver: Optional[Connect4Solver] = None
        self._stop_lock = threading.Lock()
        plain = evaluator is None and static_eval is None and quiescence is None
        if plain and _is_chess(game) and _is_cstate(game.new_initial_state()):
            from mcts._chess_ab import ChessAlphaBeta  # the fast board: the whole search in C
            self._backend: Any = ChessAlphaBeta(game, tt_bytes=tt_bytes)
        elif plain and _is_chess(game):
            from mcts._chess_search import ChessSearch
            self._backend = ChessSearch(tt_entries=max(1024, tt_bytes // 160))
        elif evaluator is None and _is_cstate(game.new_initial_state()):
            from mcts._alphabeta import CAlphaBeta
            self._backend = CAlphaBeta(game, tt_bytes)
        else:
            self._backend = PySearch(game, evaluator, tt_entries=max(1024, tt_bytes // 160),
                                     static_eval=static_eval, quiescence=quiescence)

    def stop(self) -> None:
        """Makes a running :meth:`run` return its best result so far (thread-safe)."""
        self._backend.stop()

    def reset(self) -> None:
        """Forgets the transposition table and the move-ordering tables."""
        self._backend.reset()
        if self._c4_solver is not None:
            self._c4_solver.reset()

    # --- run ---------------------------------------------------------------------------------
    def _budget(self, state: Any, limit: Limit) -> Optional[float]:
        if limit.time is not None:
            return float(limit.time)
        if limit.has_clock and not limit.infinite:
            white = state.current_player() == 0
            remaining = limit.wtime if white else limit.btime
            inc = (limit.winc if white else limit.binc) or 0.0
            if remaining is None:
                return None
            moves = limit.movestogo or 30
            return max(0.001, min(remaining / moves + 0.8 * inc, 0.5 * remaining))
        return None

    def run(self, state: Any, limit: Limit) -> SearchResult:
        """Searches ``state`` within ``limit`` (depth, nodes, time, mate, clocks; stop()).

        Returns:
            SearchResult: best action, score, value in [-1, 1] for the player to move, PV, depth,
            seldepth, nodes, seconds, stop reason; ``is_proven`` / ``proven_value`` when the search
            found a forced result.

        Raises:
            ValueError: ``state`` is terminal, or ``limit`` is not a ``Limit``.
        """
        if not isinstance(limit, Limit):
            raise ValueError(f"limit must be an mcts.Limit, got {limit!r}")
        if state.is_terminal():
            raise ValueError(f"cannot search a finished game: {state!r}")
        start = time.monotonic()
        budget = self._budget(state, limit)
        deadline = start + budget if budget is not None else None
        max_depth = MAX_PLY - 2
        if limit.depth is not None:
            max_depth = min(max_depth, max(1, int(limit.depth)))
        if limit.mate is not None:
            max_depth = min(max_depth, max(1, 2 * int(limit.mate) - 1))
        backend = self._backend
        legal = state.legal_actions()
        remaining = self._remaining_plies(state)
        # the window's half-width, first depth, growth on a fail and width past which it opens fully
        width, first, growth, cap = getattr(backend, "aspiration_schedule", DEFAULT_ASPIRATION)
        if self._aspiration is not None:
            width = int(self._aspiration)
        max_depth = min(max_depth, getattr(backend, "max_depth", max_depth))
        if hasattr(backend, "exact"):
            backend.exact = limit.mate is not None   # a mate search is full width: no reductions
        backend.begin(state, limit.nodes, deadline)
        best, score, pv, depth_done = legal[0], 0, [legal[0]], 0
        stop_reason = ""
        proven: Optional[int] = None
        prev: Optional[int] = None
        for depth in range(1, max_depth + 1):
            delta = width
            if prev is not None and depth >= first and delta > 0 and abs(prev) < MATE_BOUND:
                alpha, beta = prev - delta, prev + delta
            else:
                alpha, beta = -INF, INF
            while True:
                s, stopped, rbest, rscore, done = backend.search(depth, alpha, beta)
                if stopped:
                    break
                if s <= alpha and alpha > -INF:
                    delta *= growth
                    alpha = -INF if delta > cap or s < -MATE_BOUND else s - delta
                elif s >= beta and beta < INF:
                    delta *= growth
                    beta = INF if delta > cap or s > MATE_BOUND else s + delta
                else:
                    break
            if stopped:
                stop_reason = backend.stop_reason
                if rbest >= 0 and (depth_done == 0 or rscore > alpha):
                    # a root move of the unfinished iteration raised alpha: it is at least as
                    # good as the last completed answer (the PV move is searched first)
                    if rbest != best:
                        pv = [rbest]
                    best, score = rbest, rscore
                break
            prev = score = s
            pv = backend.pv() or [rbest]
            best = pv[0]
            depth_done = depth
            if abs(score) > MATE_BOUND:
                # a mate score always comes from a forced line (pruning only drops the searching
                # side's own tries); its length is exact once the depth covers it
                proven = 1 if score > 0 else -1
            elif depth >= remaining:
                proven = 0 if score == 0 else (1 if score > 0 else -1)
            result = self._result(state, best, score, pv, depth_done, start, proven, "")
            if self.on_info is not None:
                self.on_info(result)
            if proven is not None and (abs(score) <= MATE_BOUND or MATE - abs(score) <= depth):
                # a mate seen no deeper than this iteration: every shorter line was searched, so
                # no faster win (or slower loss) exists
                stop_reason = "proven"
                break
            if limit.mate is not None and score >= MATE - (2 * int(limit.mate) - 1):
                stop_reason = "mate"
                break
            if depth == max_depth:
                stop_reason = "depth"
                break
        backend.clear_stop()
        return self._result(state, best, score, pv, depth_done, start, proven, stop_reason)

    def _remaining_plies(self, state: Any) -> int:
        length = getattr(self.game, "max_game_length", None)
        if length is None or _is_chess(self.game):
            return 1 << 30
        try:
            return max(0, int(length) - len(state.history()))
        except (AttributeError, TypeError):
            return 1 << 30

    def _result(self, state: Any, best: int, score: int, pv: list[int], depth: int, start: float,
                proven: Optional[int], stop_reason: str) -> SearchResult:
        backend = self._backend
        extra: dict[str, Any] = {}
        if abs(score) > MATE_BOUND:
            plies = MATE - abs(score)
            extra["mate_plies"] = plies if score > 0 else -plies
        if _is_chess(self.game):
            extra["pv_uci"] = actions_to_strings(state, pv)
        return SearchResult(
            best_action=int(best), value=backend.value_of(score), actions=tuple(state.legal_actions()),
            pv=tuple(int(a) for a in pv), score=int(score), depth=depth, seldepth=int(backend.seldepth),
            nodes=int(backend.nodes), seconds=time.monotonic() - start, is_proven=proven is not None,
            proven_value=proven, stop_reason=stop_reason, extra=extra)

    # --- solve -------------------------------------------------------------------------------
    def solve(self, state: Any, *, weak: bool = False) -> SearchResult:
        """Solves ``state`` exactly: Connect Four with the exact solver (score in Pascal Pons'
        convention), Hex up to 8 x 8 by proof-number search (``mcts.solve_hex``), other games
        with a C interface by a full-depth search when at most ``max_solve_plies`` plies remain.

        Returns:
            SearchResult: ``is_proven`` set, ``proven_value`` +1/0/-1 for the player to move,
            ``score`` (Connect Four: Pons' score, or -1/0/1 when ``weak``), best action and PV.

        Raises:
            UnsolvableError: the game is too large to solve (chess), or the state is finished.
        """
        if state.is_terminal():
            raise UnsolvableError(f"the game is already over in {state!r}")
        start = time.monotonic()
        if getattr(self.game, "name", "") == "connect4":
            if self._c4_solver is None:
                self._c4_solver = Connect4Solver()
            scores = self._c4_solver.analyze(state, weak)
            legal = [c for c in range(7) if scores[c] is not None]
            best = max(legal, key=lambda c: (scores[c], -abs(c - 3)))
            score = scores[best]
            proven = (score > 0) - (score < 0)
            return SearchResult(best_action=best, value=float(proven), actions=tuple(state.legal_actions()),
                                pv=(best,), score=int(score), depth=0, nodes=int(self._c4_solver.nodes),
                                seconds=time.monotonic() - start, is_proven=True, proven_value=proven,
                                stop_reason="proven", q_values=tuple(float((scores[c] > 0) - (scores[c] < 0))
                                                                     for c in state.legal_actions()))
        if getattr(self.game, "name", "") == "hex" and self.evaluator is None and self.game.board_size <= 8:
            from mcts._hex_dfpn import solve_hex  # proof-number search with virtual connections
            return solve_hex(state)
        remaining = self._remaining_plies(state)
        if _is_chess(self.game) or not _is_cstate(state) or self.evaluator is not None or remaining > self.max_solve_plies:
            raise UnsolvableError(
                f"{getattr(self.game, 'name', self.game)!r} is too large to solve exactly here "
                f"(solve handles Connect Four and C-interface games with at most {self.max_solve_plies} plies left)")
        result = self.run(state, Limit(depth=max(1, remaining)))
        if not result.is_proven:
            raise UnsolvableError(f"the search of {state!r} did not prove a result")
        return result
