"""``AlphaBeta``: iterative-deepening alpha-beta for two-player zero-sum games.

One driver (iterative deepening, aspiration windows, limits, interim reports) runs over the back
ends of ``mcts._ab_backend`` (one protocol, ``SearchBackend``; chosen by what the state can do): the
C chess searcher (bitboard states, and python-chess states through conversion), the C search over
the C game interface, and the Python search (any ``State``, and every search with an evaluator).

Scores: a win ``k`` plies from the root scores ``MATE - k`` (the fastest win is preferred, the
slowest loss among losses); other scores are the back end's units (centipawns for chess).
``SearchResult.extra["score"]`` holds the score as a ``mcts.Cp`` or ``mcts.Mate``; the value is the
shared map ``mcts._score.score_to_value`` at the back end's scale.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Sequence

from games.connect4 import Connect4State
from mcts._ab_backend import SearchBackend, choose_backend
from mcts._c4solver import Connect4Solver
from mcts._errors import UnsolvableError, UnsupportedGameError, require_two_player_zero_sum
from mcts._limit import Limit, SearchResult
from mcts._score import INF, MATE, MATE_BOUND, MAX_PLY, Mate, to_score
from mcts.budget import move_time


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
            default: the back end's ``aspiration_schedule``).
        static_eval, quiescence: hooks of the Python search (see :class:`PySearch`).
        eval_file: chess only: the learned evaluation, an ONNX file of ``models.chess_nnue`` (or a
            loaded ``mcts._nnue.ChessNNUE``), evaluated by the C searcher with its accumulator updated
            in make/unmake; ``"default"`` (the default): the shipped ``models/zoo/chess_nnue.onnx``
            (the hand-written evaluation if the file is missing); None: the hand-written evaluation.
            Other games ignore ``"default"``.
        threads: searcher threads. The C chess searcher runs Lazy SMP with them (helpers on C threads
            over the one shared table, the main searcher's result reported; see
            ``mcts._chess_ab.ChessAlphaBeta``); the other back ends search with one. With 1 (the
            default) the search is deterministic.

    Raises:
        UnsupportedGameError: the game is not two-player zero-sum, or has chance or simultaneous moves.
        ValueError: eval_file for a game other than chess, or with an evaluator or Python hooks; a bad
            table size or thread count.
    """

    def __init__(self, game: Any, evaluator: Any = None, *, tt_bytes: int = 16 << 20,
                 on_info: Optional[Callable[[SearchResult], None]] = None, aspiration: Optional[int] = None,
                 static_eval: Optional[Callable[[Any], float]] = None,
                 quiescence: Optional[Callable[[Any], Sequence[int]]] = None,
                 max_solve_plies: int = 20, eval_file: Any = "default", threads: int = 1) -> None:
        require_two_player_zero_sum(game, "alpha-beta")
        if not getattr(game, "is_deterministic", True) or not getattr(game, "is_perfect_information", True):
            raise UnsupportedGameError(f"alpha-beta cannot search {game!r}: it has chance, hidden information "
                                       f"or sampled dice")
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
        self._stop_requested = threading.Event()  # stop() before run() is honoured; run() clears it
        self._backend: SearchBackend = choose_backend(game, evaluator, tt_bytes=tt_bytes, static_eval=static_eval,
                                                      quiescence=quiescence, eval_file=eval_file)
        self._threads = 1
        self.threads = threads

    @property
    def eval_file(self) -> Optional[str]:
        """Path of the chess network the C searcher evaluates with; None: the hand-written evaluation
        (or a game without one)."""
        nnue = getattr(self._backend, "nnue", None)
        return None if nnue is None else str(nnue.path)

    @property
    def threads(self) -> int:
        """Searcher threads asked for (the back ends without threads search with one). Set it between
        searches (``setoption Threads``).

        Raises:
            ValueError: not an integer >= 1.
        """
        return self._threads

    @threads.setter
    def threads(self, threads: int) -> None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        if hasattr(self._backend, "threads"):
            self._backend.threads = threads
        self._threads = threads

    def stop(self) -> None:
        """Makes a running :meth:`run` return its best result so far (thread-safe).

        Called while no ``run`` is running, it makes the next ``run`` return after its first
        iteration; ``run`` clears the request when it returns (the convention of ``MCTS``).
        """
        self._stop_requested.set()
        self._backend.stop()

    def reset(self) -> None:
        """Forgets the transposition table and the move-ordering tables (``ucinewgame``). The table
        is replaced by fresh zero pages, so this is cheap whatever its size; call it between searches."""
        self._backend.reset()
        if self._c4_solver is not None:
            self._c4_solver.reset()

    def resize(self, tt_bytes: int) -> None:
        """A new, empty transposition table of ``tt_bytes`` (``setoption Hash``); cheap whatever the
        size (no pass over the memory). Call it between searches, e.g. from the UCI worker thread.

        Raises:
            ValueError: ``tt_bytes`` is not an integer >= 1024.
        """
        if not isinstance(tt_bytes, int) or tt_bytes < 1024:
            raise ValueError(f"tt_bytes must be an integer >= 1024, got {tt_bytes!r}")
        self.tt_bytes = tt_bytes
        self._backend.resize(tt_bytes)

    def clear(self) -> None:
        """Empties the transposition table (cheap whatever its size); call it between searches."""
        self._backend.clear()

    # --- run ---------------------------------------------------------------------------------
    def _budget(self, state: Any, limit: Limit) -> Optional[float]:
        return move_time(limit, state.current_player())

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
        width, first, growth, cap = backend.aspiration_schedule
        if self._aspiration is not None:
            width = int(self._aspiration)
        max_depth = min(max_depth, backend.max_depth)
        backend.exact = limit.mate is not None   # a mate search is full width: no reductions
        backend.begin(state, limit.nodes, deadline)
        try:
            outcome = self._deepen(state, limit, start, max_depth, legal, remaining, (width, first, growth, cap))
        finally:
            finish = getattr(backend, "finish", None)   # back ends with helper threads stop them here
            if finish is not None:
                finish()
            backend.clear_stop()
            self._stop_requested.clear()
        return self._result(state, *outcome, start)

    def _deepen(self, state: Any, limit: Limit, start: float, max_depth: int, legal: Sequence[int],
                remaining: int, schedule: tuple[int, int, int, int]) -> tuple[Any, ...]:
        """The iterations of :meth:`run` after ``begin``: deepens until a limit, a proof or a stop.
        Returns the result's ``(best, score, pv, depth, proven, stop_reason)``."""
        backend = self._backend
        width, first, growth, cap = schedule
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
            if self.on_info is not None:
                self.on_info(self._result(state, best, score, pv, depth_done, proven, "", start))
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
            if self._stop_requested.is_set():
                # a stop() that came before begin() (back ends clear theirs there) ends the run
                # after this completed iteration: a shallow but real answer
                stop_reason = "stopped"
                break
        return best, score, pv, depth_done, proven, stop_reason

    def _remaining_plies(self, state: Any) -> int:
        length = getattr(self.game, "max_game_length", None)
        if length is None:
            return 1 << 30
        try:
            return max(0, int(length) - len(state.history()))
        except (AttributeError, TypeError):
            return 1 << 30

    def _result(self, state: Any, best: int, score: int, pv: list[int], depth: int, proven: Optional[int],
                stop_reason: str, start: float) -> SearchResult:
        backend = self._backend
        typed = to_score(score)
        # "mate_plies" stays while engine/uci.py reads it; "score" (Cp / Mate) is what to read
        extra: dict[str, Any] = {"score": typed}
        if isinstance(typed, Mate):
            extra["mate_plies"] = typed.plies
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
        if isinstance(state, Connect4State):
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
        from mcts._alphabeta import CAlphaBeta
        if not isinstance(self._backend, CAlphaBeta) or remaining > self.max_solve_plies:
            raise UnsolvableError(
                f"{getattr(self.game, 'name', self.game)!r} is too large to solve exactly here "
                f"(solve handles Connect Four and C-interface games with at most {self.max_solve_plies} plies left)")
        result = self.run(state, Limit(depth=max(1, remaining)))
        if not result.is_proven:
            raise UnsolvableError(f"the search of {state!r} did not prove a result")
        return result
