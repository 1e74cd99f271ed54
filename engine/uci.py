"""The UCI protocol: plytree as a chess engine for GUIs, python-chess, cutechess/fastchess, lichess-bot.

The main thread reads commands (``UciEngine.run`` over stdin, or ``handle`` line by line) and never
blocks for long: each ``go`` runs on a ``SearchJob`` worker thread (``engine._uci_job``) that prints
``info`` lines and exactly one ``bestmove``; table allocation and clearing (``Hash``, ``ucinewgame``)
run in the background (``engine._uci_search``). ``isready`` is answered at once, also during a
search; ``stop`` ends any search within milliseconds, and a worker that does not end within
``STOP_GRACE_SECONDS`` is abandoned with its best move so far. Bad input never ends the engine:
each bad line is answered with ``info string ...`` and the engine stays ready.

The concepts live in their own modules: options (``_uci_options``), ``position`` and move text
(``_uci_position``), ``go`` and its limit (``_uci_go``), output (``_uci_format``), MultiPV for
alpha-beta (``_uci_multipv``), the search objects (``_uci_search``) and the worker (``_uci_job``).
"""
from __future__ import annotations

import io
import os
import sys
import time
from typing import Any, Callable, Optional, Sequence, TextIO

import chess

from mcts import LatencyTracker, compute_deadlines
from mcts.budget import quick_seconds
from engine._uci_format import Printer, value_to_cp
from engine._uci_go import GoCommand, parse_go
from engine._uci_job import SearchJob
from engine._uci_multipv import RootSplitSearch
from engine._uci_options import OPTION_BY_KEY, OPTIONS, UciOption, split_setoption
from engine._uci_position import parse_move
from engine._uci_search import SearchCache, SearchFactory, default_search_factory, load_game
from engine._uci_track import PositionTracker

ENGINE_NAME = "plytree"
ENGINE_AUTHOR = "the plytree authors"

# how long the protocol thread waits for a stopped search before answering for it
STOP_GRACE_SECONDS = 2.5

__all__ = ["OPTIONS", "RootSplitSearch", "UciEngine", "UciOption", "main",
           "parse_move", "value_to_cp"]


class UciEngine:
    """The UCI state machine.

    Args:
        out: where replies go: a text stream or a function taking one line.
        search_factory: ``(game, options, relay) -> search``; the default builds ``mcts.AlphaBeta``
            or ``mcts.MCTS`` from the options.
        game_factory: ``(chess960: bool) -> game``; default ``games.load("chess"/"chess960")``.
        startup: command lines (e.g. ``setoption`` from the command line) handled after the first
            ``uciok``, or before the first other command, so that their replies never precede ``uciok``.
    """

    def __init__(self, out: TextIO | Callable[[str], None] = sys.stdout, *,
                 search_factory: Optional[SearchFactory] = None,
                 game_factory: Optional[Callable[[bool], Any]] = None,
                 startup: Sequence[str] = ()) -> None:
        self._print = Printer(out)
        self.options: dict[str, Any] = {o.name.lower(): o.default for o in OPTIONS}
        self._position = PositionTracker()  # the board, kept incrementally across position lines
        self.debug = False
        self._cache = SearchCache(search_factory or default_search_factory, game_factory or load_game,
                                  self._info_string)
        self._job: Optional[SearchJob] = None
        self._startup = list(startup)
        self._latency = LatencyTracker()  # the session's learnt Move Overhead (mcts.budget)

    @property
    def board(self) -> Optional[chess.Board]:
        """The current position (None before any ``position``)."""
        return self._position.board

    # ------------------------------------------------------------ main loop
    def run(self, stdin: TextIO = sys.stdin) -> int:
        """Reads commands until ``quit`` or end of input; returns the exit status (0)."""
        buffer = getattr(stdin, "buffer", None)
        if buffer is not None:  # bytes that are not UTF-8 must not end the engine
            stdin = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace", line_buffering=True)
        for line in stdin:
            if not self.handle(line):
                break
        self._halt()
        return 0

    def handle(self, line: str) -> bool:
        """Handles one command line; False after ``quit``. Never raises on bad input."""
        try:
            return self._dispatch(line)
        except Exception as exc:  # a bug of ours must not end the engine either
            self._info_string(f"error: {type(exc).__name__}: {exc}")
            return True

    def _dispatch(self, line: str) -> bool:
        tokens = line.split()
        if not tokens:
            return True
        command, args = tokens[0], tokens[1:]
        handler = self._COMMANDS.get(command)
        if handler is None:
            # UCI: an unknown token is skipped and the rest of the line read again
            for i in range(1, len(tokens)):
                if tokens[i] in self._COMMANDS:
                    return self._dispatch(" ".join(tokens[i:]))
            self._info_string(f"unknown command: {line.strip()[:200]!r}")
            return True
        if command != "uci":
            self._run_startup()
        if command == "setoption":  # option names and values keep their spaces
            return handler(self, line.strip()[len("setoption"):].strip())
        return handler(self, args)

    def _run_startup(self) -> None:
        startup, self._startup = self._startup, []
        for line in startup:
            self.handle(line)

    # ------------------------------------------------------------ commands
    def _cmd_uci(self, args: list[str]) -> bool:
        self._print(f"id name {ENGINE_NAME}")
        self._print(f"id author {ENGINE_AUTHOR}")
        for option in OPTIONS:
            self._print(option.line())
        self._print("uciok")
        self._run_startup()
        if self._job is None:  # imports and the table now, in the background, not in the first move
            self._cache.prepare(self.options)
        return True

    def _cmd_isready(self, args: list[str]) -> bool:
        if self._job is None or not self._job.is_alive():
            # GUIs send isready after setup: build the game and search now (in the background),
            # not in the first move's time
            self._cache.prepare(self.options)
        self._print("readyok")
        return True

    def _cmd_debug(self, args: list[str]) -> bool:
        if args and args[0] in ("on", "off"):
            self.debug = args[0] == "on"
        else:
            self._info_string("debug takes on or off")
        return True

    def _cmd_setoption(self, text: str) -> bool:
        try:
            name, value = split_setoption(text)
        except ValueError as exc:
            self._info_string(str(exc))
            return True
        option = OPTION_BY_KEY.get(name.lower())
        if option is None:
            self._info_string(f"unknown option {name[:80]!r}")
            return True
        try:
            parsed = option.parse(value)
        except ValueError as exc:
            self._info_string(f"bad value: {exc}")
            return True
        if option.name == "ModelFile" and parsed and not self._model_usable(parsed):
            return True
        self._wait_idle()
        self.options[option.name.lower()] = parsed
        if option.name == "UCI_Chess960" and self.board is not None:
            self.board.chess960 = parsed or self.board.has_chess960_castling_rights()
        return True

    def _model_usable(self, path: str) -> bool:
        """Loads a ModelFile now, so that a bad file is reported here and not at the next go."""
        if not os.path.isfile(path):
            self._info_string(f"ModelFile {path[:200]!r} does not exist; keeping {self.options['modelfile']!r}")
            return False
        try:
            import models

            models.OnnxEvaluator(path, game=self._cache.game(bool(self.options["uci_chess960"])))
        except Exception as exc:
            self._info_string(f"ModelFile {path[:200]!r} cannot be used ({type(exc).__name__}: {exc}); "
                              f"keeping {self.options['modelfile']!r}")
            return False
        return True

    def _cmd_ucinewgame(self, args: list[str]) -> bool:
        self._wait_idle()
        self._latency.reset()
        self._position.forget()
        self._cache.reset()
        return True

    def _cmd_position(self, args: list[str]) -> bool:
        self._wait_idle()
        command = self._position.update(args, bool(self.options["uci_chess960"]))
        for note in command.notes:
            self._info_string(note)
        return True

    def _cmd_go(self, args: list[str]) -> bool:
        self._wait_idle()
        started = time.monotonic()
        go = parse_go(args)
        for note in go.notes:
            self._info_string(note)
        if self.board is None:
            self._info_string("go before position: searching the start position")
            self._position.set_board(chess.Board(chess960=bool(self.options["uci_chess960"])))
        # the job reads the tracker's board without a copy: nothing changes it until the job has
        # ended (every state-changing command waits for it) or was abandoned (then it is forgotten)
        board = self.board
        assert board is not None
        search_moves: list[chess.Move] = []
        for text in go.searchmoves:
            try:
                search_moves.append(parse_move(board, text))
            except ValueError as exc:
                self._info_string(f"searchmoves: {exc}; ignored")
        job = SearchJob(board, go, search_moves, dict(self.options), self._cache, self._print,
                        debug=self.debug, started=started, latency=self._latency, state_of=self._position.state)
        if self._is_quick(go, board):
            # a move of a few ms on the clock: searched here, with no thread to start (on a loaded
            # machine each thread start waits for the CPU); it searches at most 100 ms, no longer
            # than a stop may take, so the commands after it wait no longer than a stop would
            with self._print.batched():
                job.run_inline()
            return True
        self._job = job
        job.start()
        return True

    def _is_quick(self, go: GoCommand, board: chess.Board) -> bool:
        """Whether ``go`` is a quick move (``BudgetController.is_quick``), searched inline."""
        if go.ponder or go.infinite or not self._cache.is_idle():
            return False
        limit = go.limit()
        if limit.infinite:
            return False
        overhead = self._latency.overhead(self.options["move overhead"] / 1000.0)
        return quick_seconds(compute_deadlines(limit, 0 if board.turn == chess.WHITE else 1,
                                               overhead=overhead)) is not None

    def _cmd_stop(self, args: list[str]) -> bool:
        job = self._job
        if job is not None:
            job.request_stop()
            self._finish(job)
        return True

    def _cmd_ponderhit(self, args: list[str]) -> bool:
        if self._job is not None:
            self._job.ponderhit()
        return True

    def _cmd_quit(self, args: list[str]) -> bool:
        self._halt()
        return False

    def _cmd_d(self, args: list[str]) -> bool:
        board = self.board or chess.Board(chess960=bool(self.options["uci_chess960"]))
        for row in str(board).splitlines():
            self._print(f"info string {row}")
        self._print(f"info string fen {board.fen(shredder=board.chess960)}")
        return True

    _COMMANDS: dict[str, Callable[..., bool]] = {
        "uci": _cmd_uci, "isready": _cmd_isready, "debug": _cmd_debug, "setoption": _cmd_setoption,
        "ucinewgame": _cmd_ucinewgame, "position": _cmd_position, "go": _cmd_go, "stop": _cmd_stop,
        "ponderhit": _cmd_ponderhit, "quit": _cmd_quit, "d": _cmd_d,
    }

    # ------------------------------------------------------------ helpers
    def _info_string(self, text: str) -> None:
        for row in str(text).splitlines() or [""]:
            self._print(f"info string {row}")

    def _finish(self, job: SearchJob) -> None:
        """Waits a bounded time for a stopped job; one that does not end is answered for and dropped."""
        if not job.join(STOP_GRACE_SECONDS):
            job.abandon()
            self._cache.abandon(job.search, job.thread)
            self._position.detach()  # the abandoned thread may still read the board
            self._info_string(f"the search did not stop within {STOP_GRACE_SECONDS} s; it was abandoned")
        if self._job is job:
            self._job = None

    def _wait_idle(self) -> None:
        """Ends a running search (as ``stop``) before a command that changes the engine's state."""
        if self._job is not None:
            self._cmd_stop([])

    def _halt(self) -> None:
        self._wait_idle()


def dump_stacks_on_sigusr1() -> None:
    """``kill -USR1`` then writes every thread's stack to stderr (for a stuck engine: where it waits)."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the engine on stdin/stdout."""
    dump_stacks_on_sigusr1()
    engine = UciEngine(sys.stdout)
    return engine.run(sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
