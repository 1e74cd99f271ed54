"""One ``go``: the search worker thread, its ``info`` lines and its one ``bestmove``.

``SearchJob`` runs the search under a ``BudgetController`` on its own (daemon) thread. It answers
with exactly one ``bestmove``: the search's choice, or, when the search fails, the deepest answer
it reported, else the first legal move. The protocol thread may ``abandon`` a job that does not
stop in time: the job's best move so far is sent at once and nothing the thread writes later is
printed.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Optional

import chess

from engine._uci_format import info_lines, pv_moves
from engine._uci_go import GoCommand
from engine._uci_multipv import RootSplitSearch
from engine._uci_position import board_after, state_from_board
from engine._uci_search import SearchCache, hashfull
from games.chess_encoding import action_to_move, move_to_action
from mcts import BudgetController, InfoRelay, LatencyTracker, SearchResult

__all__ = ["SearchJob"]


class SearchJob:
    """The search of one ``go`` on its own thread.

    Args:
        board: the position (not modified).
        go: the ``go`` command.
        search_moves: the allowed root moves (empty: all).
        options: the UCI options (keys lower-case), as they were at ``go``.
        cache: where the search comes from.
        out: prints one line.
        debug: print the budget after the search.
        started: ``time.monotonic()`` when ``go`` was read (the move's clock starts there).
        latency: the session's learnt Move Overhead; fed with the whole ``go`` (read to ``bestmove``
            written), not only the search.
        state_of: ``(game, board) -> state``: the search state of the board (default:
            ``state_from_board``; the engine passes its incremental ``PositionTracker.state``).
    """

    def __init__(self, board: chess.Board, go: GoCommand, search_moves: list[chess.Move], options: dict,
                 cache: SearchCache, out: Callable[[str], None], *, debug: bool = False,
                 started: Optional[float] = None, latency: Optional[LatencyTracker] = None,
                 state_of: Optional[Callable[[Any, chess.Board], Any]] = None) -> None:
        self.board = board
        self.go = go
        self.search_moves = search_moves
        self.options = options
        self.cache = cache
        self._out = out
        self.debug = debug
        self.started = time.monotonic() if started is None else started
        self.latency = latency  # the session's learnt Move Overhead, shared across moves
        self._state_of = state_of or state_from_board
        self.search: Any = None  # the search object while it is in use
        self.thread = threading.Thread(target=self._run, name="plytree-uci-search", daemon=True)
        self._stop = threading.Event()
        self._release = threading.Event()  # stop/ponderhit: an infinite/ponder search may answer
        self._lock = threading.Lock()
        self._controller: Optional[BudgetController] = None
        self._answered = False
        self._abandoned = False
        self._best: Optional[tuple[chess.Move, Optional[chess.Move]]] = None  # best (move, reply) so far

    # ------------------------------------------------------------------ from the protocol thread
    def start(self) -> None:
        self.thread.start()

    def run_inline(self) -> None:
        """Runs the job on the calling thread (a quick move); returns after ``bestmove``."""
        self.thread = threading.current_thread()
        self._run()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def request_stop(self) -> None:
        """``stop``: the search ends at its next check and the answer waits no longer."""
        with self._lock:
            self._stop.set()
            self._release.set()
            controller = self._controller
        if controller is not None:
            controller.request_stop()  # passed on to the search safely (see BudgetController.run)

    def ponderhit(self) -> None:
        """``ponderhit``: the clock starts now; the answer may be sent when the search ends."""
        with self._lock:
            controller = self._controller
        if controller is not None:
            controller.ponderhit_and_wake()
        self._release.set()

    def join(self, timeout: Optional[float]) -> bool:
        """Waits for the thread; True when it has ended."""
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def abandon(self) -> None:
        """Sends the best move so far (unless sent already) and silences the thread for good."""
        with self._lock:
            self._abandoned = True
            if self._answered:
                return
            self._answered = True
        best = self._best or self._first_legal()
        self._out(self._bestmove_text(*best) if best else "bestmove (none)")

    # ------------------------------------------------------------------ output
    def _emit(self, line: str) -> None:
        with self._lock:
            if self._abandoned:
                return
            self._out(line)

    def _info_string(self, text: str) -> None:
        for row in str(text).splitlines() or [""]:
            self._emit(f"info string {row}")

    def _answer(self, text: str) -> None:
        with self._lock:
            if self._answered or self._abandoned:
                return
            self._answered = True
            self._out(text)

    def _bestmove_text(self, move: chess.Move, reply: Optional[chess.Move]) -> str:
        text = f"bestmove {self.board.uci(move)}"
        if reply is not None:
            text += f" ponder {board_after(self.board, move).uci(reply)}"
        return text

    def _first_legal(self) -> Optional[tuple[chess.Move, None]]:
        legal = self._legal()
        return (legal[0], None) if legal else None

    def _legal(self) -> list[chess.Move]:
        legal = list(self.board.legal_moves)
        if self.search_moves:
            legal = [m for m in legal if m in self.search_moves] or legal
        return legal

    def _wait_for_release(self) -> None:
        """UCI: after ``go infinite`` or ``go ponder`` the best move waits for stop/ponderhit."""
        if self.go.infinite or self.go.ponder:
            self._release.wait()

    # ------------------------------------------------------------------ the worker
    def _run(self) -> None:
        try:
            self._search()
        except Exception as exc:
            self._info_string(f"search error: {type(exc).__name__}: {exc}")
            for row in traceback.format_exc().splitlines()[-6:]:
                self._info_string(row)
        finally:
            with self._lock:
                self._controller = None
            self.search = None
        if not self._answered:
            self._wait_for_release()
            best = self._best or self._first_legal()
            self._answer(self._bestmove_text(*best) if best else "bestmove (none)")

    def _search(self) -> None:
        board = self.board
        legal = self._legal()
        if not legal:  # as Stockfish: a score for the finished game, and no move
            self._info_string(f"no legal move ({'checkmate' if board.is_checkmate() else 'stalemate'})")
            self._emit("info depth 0 score " + ("mate 0" if board.is_checkmate() else "cp 0"))
            return
        self._best = (legal[0], None)
        options = self.options
        game, search, relay = self.cache.get(board.chess960, options)
        state = self._state_of(game, board)
        if state.is_terminal():
            # drawn by rule (insufficient material, repetition, move count) with moves left: any
            # legal move keeps the draw, so answer one instead of a null move a GUI would reject
            self._info_string("the game is drawn by rule; any legal move keeps the draw")
            self._emit("info depth 0 score cp 0")
            return
        self.search = search  # before the check: an abandoning protocol thread reads it after setting the flag
        if self._abandoned:
            return  # the protocol thread answered already
        multipv = int(options["multipv"])
        if options["searchkind"] == "alphabeta" and (multipv > 1 or self.search_moves):
            # the alpha-beta has no root-move restriction: search the allowed root moves' children
            relay = InfoRelay()
            search = RootSplitSearch(search, [move_to_action(m, board) for m in legal], multipv, on_info=relay)
        controller = BudgetController(self.go.limit(), 0 if board.turn == chess.WHITE else 1,
                                      overhead=options["move overhead"] / 1000.0, latency=self.latency)
        with self._lock:
            self._controller = controller
            if self._stop.is_set():  # a stop that came before the controller existed
                controller.request_stop()
        t0 = time.monotonic()
        reported: list[Optional[SearchResult]] = [None]

        quiet = controller.deadlines.panic  # no time to format info lines: the answer only

        def on_info(result: SearchResult) -> None:
            reported[0] = result
            self._remember(result, legal)
            if not quiet:
                self._report(result, multipv, time.monotonic() - t0)

        # a stop that came already is passed on a few ms into the run: a shallow but real answer
        result = controller.run(search, state, on_info=on_info, pondering=self.go.ponder,
                                started_at=self.started, relay=relay, account=False)
        self._best = self._choose(result, legal)
        if self.debug:
            self._debug_budget(controller, result)
        if not quiet and _differs(result, reported[0]):
            self._report(result, multipv, time.monotonic() - t0)
        # the answer first (the GUI's clock runs until it reads it), the bookkeeping after
        self._wait_for_release()
        self._answer(self._bestmove_text(*self._best))
        controller.account()  # the whole go, read to bestmove written: the learnt overhead covers it

    def _remember(self, result: SearchResult, legal: list[chess.Move]) -> None:
        try:
            self._best = self._choose(result, legal)
        except (ValueError, IndexError):
            pass

    def _report(self, result: SearchResult, multipv: int, seconds: float) -> None:
        for line in info_lines(self.board, result, multipv=multipv, seconds=seconds,
                               show_wdl=bool(self.options["uci_showwdl"]), hashfull=hashfull(self.search)):
            self._emit(line)

    def _debug_budget(self, controller: BudgetController, result: SearchResult) -> None:
        d = controller.deadlines

        def sec(x: Optional[float]) -> str:
            return "none" if x is None else f"{x:.3f}"

        self._info_string(f"budget soft {sec(d.soft)} hard {sec(d.hard)} aim {sec(controller.aim())} spent "
                          f"{time.monotonic() - self.started:.3f} stop {controller.stop_reason or result.stop_reason}")

    def _choose(self, result: SearchResult, legal: list[chess.Move]) -> tuple[chess.Move, Optional[chess.Move]]:
        """The best move (restricted to ``searchmoves``) and the expected reply, both legal."""
        pv = pv_moves(self.board, result.pv or ((result.best_action,) if result.best_action >= 0 else ()))
        if pv and pv[0] in legal:
            return pv[0], (pv[1] if len(pv) > 1 else None)
        # the search's choice is not allowed (searchmoves): the best allowed one by its statistics
        for action in _ranked_actions(result):
            try:
                move = action_to_move(action, self.board)
            except (ValueError, IndexError):
                continue
            if move in legal:
                return move, None
        return legal[0], None


def _differs(result: SearchResult, reported: Optional[SearchResult]) -> bool:
    """Whether the final result says more than the last interim one (so deserves an info line)."""
    if reported is None:
        return True
    if result is reported:
        return False
    return (result.pv, result.depth, result.score, result.best_action) != (
        reported.pv, reported.depth, reported.score, reported.best_action) or result.nodes > reported.nodes


def _ranked_actions(result: SearchResult) -> list[int]:
    """Root actions from best to worst by visits (MCTS) or Q-values where the search gave them."""
    actions = list(result.actions)
    if result.visits and len(result.visits) == len(actions):
        return [a for _, a in sorted(zip(result.visits, actions, strict=True), key=lambda x: -x[0])]
    if result.q_values and len(result.q_values) == len(actions):
        return [a for _, a in sorted(zip(result.q_values, actions, strict=True),
                                     key=lambda x: -(x[0] if x[0] == x[0] else -9.0))]
    return actions
