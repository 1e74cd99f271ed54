"""The UCI protocol: plytree as a chess engine for GUIs, python-chess, cutechess/fastchess, lichess-bot.

The main thread reads commands (``UciEngine.run`` over stdin, or ``handle`` line by line); one worker
thread runs the search under a ``mcts.budget.BudgetController`` and prints ``info`` lines as the
search reports and ``bestmove`` at the end. ``isready`` is answered during a search; ``stop`` sets
the search's stop flag and the best move comes within milliseconds. Bad input never ends the engine:
each bad line is answered with ``info string ...`` and the engine stays ready.

Positions are kept as a python-chess ``Board`` (the reference for rules and move text); the search
runs on the plytree chess game built from it (``games.chess``), with moves converted through the
fixed action numbering of ``games.chess_encoding``.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import math
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, TextIO

import chess

from mcts._limit import Limit, SearchResult
from mcts.budget import BudgetController, InfoRelay, LatencyTracker

ENGINE_NAME = "plytree"
ENGINE_AUTHOR = "the plytree authors"

# alpha-beta mate scores: a win k plies away scores MATE - k (mcts._ab_search)
MATE = 1_000_000
MATE_THRESHOLD = 999_000

__all__ = ["OPTIONS", "UciEngine", "UciOption", "main"]


@dataclass(frozen=True)
class UciOption:
    """One ``option`` line: name, UCI type (check, spin, combo, string, button), default, range."""

    name: str
    type: str
    default: Any
    min: Optional[int] = None
    max: Optional[int] = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def line(self) -> str:
        default = self.default
        if self.type == "check":
            default = "true" if default else "false"
        elif self.type == "string" and default == "":
            default = "<empty>"
        text = f"option name {self.name} type {self.type}"
        if self.type != "button":
            text += f" default {default}"
        if self.min is not None:
            text += f" min {self.min} max {self.max}"
        for choice in self.choices:
            text += f" var {choice}"
        return text

    def parse(self, value: str) -> Any:
        """The option's value from ``setoption`` text; raises ValueError when it does not fit."""
        if self.type == "check":
            low = value.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(f"{self.name} takes true or false, got {value!r}")
            return low == "true"
        if self.type == "spin":
            try:
                number = int(value.strip())
            except ValueError:
                raise ValueError(f"{self.name} takes an integer, got {value!r}") from None
            if not self.min <= number <= self.max:  # type: ignore[operator]
                raise ValueError(f"{self.name} must be in [{self.min}, {self.max}], got {number}")
            return number
        if self.type == "combo":
            for choice in self.choices:
                if choice.lower() == value.strip().lower():
                    return choice
            raise ValueError(f"{self.name} takes one of {', '.join(self.choices)}, got {value!r}")
        if self.type == "string":
            return "" if value.strip() in ("", "<empty>") else value.strip()
        return True  # button


OPTIONS: tuple[UciOption, ...] = (
    UciOption("Threads", "spin", 1, 1, 256,
              help="search threads: alpha-beta helpers over one table (Lazy SMP); MCTS batches in flight"),
    UciOption("Hash", "spin", 64, 1, 4096, help="transposition table (alpha-beta) or tree memory (MCTS) in MiB"),
    UciOption("MultiPV", "spin", 1, 1, 64, help="number of principal variations reported"),
    UciOption("Ponder", "check", False, help="the GUI may let the engine think on the opponent's time"),
    UciOption("UCI_Chess960", "check", False, help="Chess960: castling as king takes rook"),
    UciOption("UCI_ShowWDL", "check", False, help="report win/draw/loss permille in info lines"),
    UciOption("Move Overhead", "spin", 30, 0, 5000, help="milliseconds per move lost outside the engine"),
    UciOption("SearchKind", "combo", "alphabeta", choices=("alphabeta", "mcts"),
              help="alpha-beta with the engine's own evaluation, or MCTS (PUCT)"),
    UciOption("ModelFile", "string", "", help="ONNX network for MCTS (empty: the static evaluation)"),
    UciOption("CPuct", "spin", 125, 1, 1000, help="MCTS exploration constant c_puct times 100"),
    UciOption("BatchSize", "spin", 16, 1, 1024, help="MCTS leaves per evaluator call"),
)
_OPTION_BY_KEY = {o.name.lower(): o for o in OPTIONS}

# settings that need a new search object (a new table, tree, network or game)
_REBUILD_OPTIONS = {"hash", "searchkind", "modelfile", "cpuct", "batchsize", "uci_chess960", "threads"}


def _wdl(value: float) -> tuple[int, int, int]:
    """Win/draw/loss permille from a value in [-1, 1] (draws likeliest near 0)."""
    value = max(-1.0, min(1.0, value))
    draw = max(0.0, 1.0 - abs(value)) * 0.6
    win = max(0.0, (1.0 + value) / 2.0 - draw / 2.0)
    w = int(round(1000 * win))
    d = int(round(1000 * draw))
    return w, d, 1000 - w - d


def value_to_cp(value: float) -> int:
    """Centipawns for a value in [-1, 1] (the inverse of ``tanh(cp / 400)``)."""
    value = max(-0.9999, min(0.9999, value))
    return int(round(400.0 * math.atanh(value)))


class _Printer:
    """Thread-safe line output."""

    def __init__(self, out: TextIO | Callable[[str], None]) -> None:
        self._lock = threading.Lock()
        self._write: Callable[[str], None]
        if callable(out) and not hasattr(out, "write"):
            self._write = out  # type: ignore[assignment]
        else:
            stream = out

            def write(line: str) -> None:
                stream.write(line + "\n")  # type: ignore[union-attr]
                stream.flush()  # type: ignore[union-attr]

            self._write = write

    def __call__(self, line: str) -> None:
        with self._lock:
            try:
                self._write(line)
            except (BrokenPipeError, ValueError, OSError):
                pass  # the GUI went away; the read loop will see EOF


SearchFactory = Callable[[Any, dict, InfoRelay], Any]


def default_search_factory(game, options: dict, relay: InfoRelay):
    """The engine's search for ``game`` under the UCI ``options`` (keys lower-case).

    ``alphabeta``: ``mcts.AlphaBeta`` with the engine's own chess evaluation, ``Hash`` MiB of table,
    ``Threads`` searchers.
    ``mcts``: ``mcts.MCTS`` over the ``ModelFile`` network (``models.OnnxEvaluator``), or without one
    over ``ChessHeuristicEvaluator`` (uniform priors, the alpha-beta's static evaluation as value).
    """
    import mcts

    kind = options["searchkind"]
    if kind == "mcts":
        model = options["modelfile"]
        if model:
            import models

            evaluator = models.OnnxEvaluator(model, game=game)
        else:
            evaluator = ChessHeuristicEvaluator()
        return _construct(mcts.MCTS, game, evaluator, on_info=relay, c_puct=options["cpuct"] / 100.0,
                          batch_size=options["batchsize"], memory_limit=int(options["hash"]) << 20,
                          threads=int(options.get("threads", 1)))
    tt_bytes = int(options["hash"]) << 20
    # on the bitboard board mcts.AlphaBeta runs the C searcher (mcts._chess_ab), else python-chess's
    return _construct(mcts.AlphaBeta, game, on_info=relay, tt_bytes=tt_bytes, threads=int(options.get("threads", 1)))


class RootSplitSearch:
    """MultiPV and ``searchmoves`` for a search that has neither (alpha-beta): iterative deepening
    over the allowed root moves, each searched as its own child position.

    Every depth ``d`` searches each allowed child to ``d - 1`` plies (best-first by the last depth's
    scores, so the transposition table of the inner search helps) and reports the ``multipv`` best
    lines in ``extra["multipv"]``. A search of depth ``d`` costs about as much as the inner search's
    depth ``d`` without root pruning.

    Args:
        inner: the search (``run``, ``stop``), reused for every child.
        actions: the allowed root actions.
        multipv: lines to report.
        on_info: receives a result after each completed depth.
    """

    def __init__(self, inner, actions: Sequence[int], multipv: int, *, on_info=None) -> None:
        self.inner = inner
        self.actions = list(actions)
        self.multipv = max(1, int(multipv))
        self.on_info = on_info
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inner_running = False

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._inner_running:
                self.inner.stop()

    def reset(self) -> None:
        reset = getattr(self.inner, "reset", None)
        if reset is not None:
            reset()

    def _child(self, child, limit: Limit) -> SearchResult:
        with self._lock:
            if self._stop.is_set():
                raise _Stopped
            self._inner_running = True
        try:
            return self.inner.run(child, limit)
        finally:
            with self._lock:
                self._inner_running = False

    def run(self, state, limit: Limit) -> SearchResult:
        self._stop.clear()
        t0 = time.monotonic()
        deadline = t0 + limit.time if limit.time is not None else None
        max_depth = int(limit.depth) if limit.depth is not None else 64
        order = list(self.actions)
        nodes = 0
        best_result: Optional[SearchResult] = None
        seldepth = 0
        for depth in range(1, max_depth + 1):
            lines: list[SearchResult] = []
            try:
                for action in order:
                    child = state.clone()
                    child.apply_action(action)
                    if child.is_terminal():
                        ret = child.returns()[state.current_player()]
                        score = MATE - 1 if ret > 0 else (-(MATE - 1) if ret < 0 else 0)
                        lines.append(SearchResult(action, value=float(ret), pv=(action,), score=score, depth=depth,
                                                  extra={"mate_plies": 1} if ret > 0 else {}))
                        continue
                    left_nodes = None if limit.nodes is None else limit.nodes - nodes
                    left_time = None if deadline is None else deadline - time.monotonic()
                    if (left_nodes is not None and left_nodes <= 0) or (left_time is not None and left_time <= 0):
                        raise _Stopped
                    r = self._child(child, Limit(depth=max(1, depth - 1), nodes=left_nodes, time=left_time))
                    nodes += r.nodes
                    seldepth = max(seldepth, r.seldepth + 1)
                    if self._stop.is_set() or r.stop_reason in ("time", "nodes"):
                        raise _Stopped
                    score = -(r.score if r.score is not None else int(1000 * r.value))
                    extra = {}
                    mate = r.extra.get("mate_plies") if isinstance(r.extra, dict) else None
                    if mate is not None:
                        extra["mate_plies"] = -mate + (1 if mate < 0 else -1)
                        score = (MATE - abs(extra["mate_plies"])) * (1 if extra["mate_plies"] > 0 else -1)
                    lines.append(SearchResult(action, value=-r.value, pv=(action,) + tuple(r.pv), score=score,
                                              depth=depth, extra=extra))
            except _Stopped:
                break
            lines.sort(key=lambda line: -(line.score or 0))
            order = [line.best_action for line in lines]
            top = lines[0]
            best_result = SearchResult(
                top.best_action, value=top.value, actions=tuple(self.actions), pv=top.pv, score=top.score,
                depth=depth, seldepth=max(seldepth, depth), nodes=nodes, seconds=time.monotonic() - t0,
                extra={"multipv": lines[: self.multipv], **top.extra})
            if self.on_info is not None:
                self.on_info(best_result)
            if top.score is not None and abs(top.score) >= MATE_THRESHOLD and top.score > 0 and self.multipv == 1:
                break
        if best_result is None:  # not even depth 1 finished
            return SearchResult(self.actions[0], actions=tuple(self.actions), pv=(self.actions[0],),
                                nodes=nodes, seconds=time.monotonic() - t0, stop_reason="stopped")
        return dataclasses.replace(best_result, seconds=time.monotonic() - t0,
                                   stop_reason="stopped" if self._stop.is_set() else "depth")


class _Stopped(Exception):
    """Ends a RootSplitSearch iteration early."""


class ChessHeuristicEvaluator:
    """A network-free chess evaluator for MCTS: uniform priors over the legal moves, and the
    alpha-beta's static evaluation (material and piece-square tables) squashed to a value,
    ``tanh(cp / 400)`` for the player to move."""

    def evaluate(self, states: Sequence) -> tuple[Any, Any]:
        import numpy as np

        from mcts import uniform_priors
        from mcts._chess_eval import evaluate

        priors = uniform_priors(states, states[0].game.num_actions) if states else np.zeros((0, 0), np.float32)
        values = np.array([math.tanh(evaluate(_board_of(s)) / 400.0) for s in states], dtype=np.float32)
        return priors, values


def _board_of(state) -> chess.Board:
    board = getattr(state, "board", None)
    board = board() if callable(board) else board
    if not isinstance(board, chess.Board):
        raise ValueError(f"cannot read a chess board from {state!r}")
    return board


def _construct(cls, *args, **kwargs):
    """``cls(*args, **kwargs)`` without the keyword arguments ``cls`` does not take."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return cls(*args, **kwargs)


class UciEngine:
    """The UCI state machine.

    Args:
        out: where replies go: a text stream or a function taking one line.
        search_factory: ``(game, options, relay) -> search``; the default builds ``mcts.AlphaBeta``
            or ``mcts.MCTS`` from the options.
        game_factory: ``(chess960: bool) -> game``; default ``games.load("chess"/"chess960")``.
    """

    def __init__(self, out: TextIO | Callable[[str], None] = sys.stdout, *,
                 search_factory: Optional[SearchFactory] = None,
                 game_factory: Optional[Callable[[bool], Any]] = None) -> None:
        self._print = _Printer(out)
        self._search_factory = search_factory or default_search_factory
        self._game_factory = game_factory or _load_game
        self.options: dict[str, Any] = {o.name.lower(): o.default for o in OPTIONS}
        self.board: Optional[chess.Board] = None
        self.debug = False
        self._relay = InfoRelay()
        self._search = None
        self._search_key: Optional[tuple] = None
        self._games: dict[bool, Any] = {}
        # the running search
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._release = threading.Event()  # set by stop/ponderhit: an infinite/ponder search may answer
        self._controller: Optional[BudgetController] = None
        self._latency = LatencyTracker()  # the session's learnt Move Overhead (mcts.budget)
        self._lock = threading.Lock()

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
        tokens = line.strip().split()
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
        if command == "setoption":  # option names and values keep their spaces
            return handler(self, line.strip()[len("setoption"):].strip())
        return handler(self, args)

    # ------------------------------------------------------------ commands
    def _cmd_uci(self, args: list[str]) -> bool:
        self._print(f"id name {ENGINE_NAME}")
        self._print(f"id author {ENGINE_AUTHOR}")
        for option in OPTIONS:
            self._print(option.line())
        self._print("uciok")
        return True

    def _cmd_isready(self, args: list[str]) -> bool:
        if self._worker is None or not self._worker.is_alive():
            # GUIs send isready after setup: build the game and search now, not in the first move's time
            try:
                game = self._game(bool(self.options["uci_chess960"]))
                _state_from_board(game, chess.Board(chess960=bool(self.options["uci_chess960"])))
                self._get_search(game)
            except Exception as exc:
                self._info_string(f"cannot prepare the search: {type(exc).__name__}: {exc}")
        self._print("readyok")
        return True

    def _cmd_debug(self, args: list[str]) -> bool:
        if args and args[0] in ("on", "off"):
            self.debug = args[0] == "on"
        else:
            self._info_string("debug takes on or off")
        return True

    def _cmd_setoption(self, text: str) -> bool:
        # setoption name <id with spaces> [value <x with spaces>]
        if not text.startswith("name "):
            self._info_string(f"setoption needs 'name <id> [value <x>]', got {text[:200]!r}")
            return True
        rest = text[len("name "):]
        if " value " in f" {rest} ":
            parts = f" {rest} ".split(" value ", 1)
            name, value = parts[0].strip(), parts[1].strip()
        else:
            name, value = rest.strip(), ""
        option = _OPTION_BY_KEY.get(name.lower())
        if option is None:
            self._info_string(f"unknown option {name!r}")
            return True
        try:
            parsed = option.parse(value)
        except ValueError as exc:
            self._info_string(f"bad value: {exc}")
            return True
        if option.type == "string" and option.name == "ModelFile" and parsed:
            import os

            if not os.path.isfile(parsed):
                self._info_string(f"ModelFile {parsed!r} does not exist; keeping {self.options['modelfile']!r}")
                return True
            try:  # load it now, so that a bad file is reported here and not at the next go
                import models

                models.OnnxEvaluator(parsed, game=self._game(bool(self.options["uci_chess960"])))
            except Exception as exc:
                self._info_string(f"ModelFile {parsed!r} cannot be used ({type(exc).__name__}: {exc}); "
                                  f"keeping {self.options['modelfile']!r}")
                return True
        self._wait_idle()
        self.options[option.name.lower()] = parsed
        if option.name == "UCI_Chess960" and self.board is not None:
            self.board.chess960 = parsed or self.board.has_chess960_castling_rights()
        return True

    def _cmd_ucinewgame(self, args: list[str]) -> bool:
        self._wait_idle()
        self._latency.reset()
        self.board = None
        if self._search is not None:
            reset = getattr(self._search, "reset", None)
            if reset is not None:
                try:
                    reset()
                except Exception as exc:
                    self._info_string(f"reset failed ({type(exc).__name__}: {exc}); building a new search")
                    self._search = None
        return True

    def _cmd_position(self, args: list[str]) -> bool:
        self._wait_idle()
        if not args:
            self._info_string("position needs startpos or fen <fen>")
            return True
        chess960 = bool(self.options["uci_chess960"])
        if "moves" in args:
            at = args.index("moves")
            head, moves = args[:at], args[at + 1:]
        else:
            head, moves = args, []
        if not head:
            self._info_string("position needs startpos or fen <fen> before moves")
            return True
        if head[0] == "startpos":
            if len(head) > 1:
                self._info_string(f"ignoring {' '.join(head[1:])!r} after startpos")
            board = chess.Board(chess960=chess960)
        elif head[0] == "fen":
            fen = " ".join(head[1:])
            if not fen:
                self._info_string("position fen needs a FEN")
                return True
            try:
                board = chess.Board(fen, chess960=chess960)
            except ValueError as exc:
                self._info_string(f"invalid FEN {fen!r}: {exc}; position unchanged")
                return True
            if not chess960 and board.has_chess960_castling_rights():
                board.chess960 = True
            status = board.status()
            if status & ~chess.STATUS_VALID and not board.is_valid():
                self._info_string(f"invalid position {fen!r} ({_status_text(status)}); position unchanged")
                return True
        else:
            self._info_string(f"position needs startpos or fen, got {head[0]!r}")
            return True
        for i, text in enumerate(moves):
            try:
                move = parse_move(board, text)
            except ValueError as exc:
                self._info_string(f"{exc}; position set up to move {i} ({' '.join(moves[:i]) or 'none'})")
                break
            board.push(move)
        self.board = board
        return True

    def _cmd_go(self, args: list[str]) -> bool:
        self._wait_idle()
        started = time.monotonic()
        try:
            params = _parse_go(args)
        except ValueError as exc:
            self._info_string(f"bad go: {exc}; searching with what could be read")
            params = _parse_go(args, lenient=True)
        if self.board is None:
            self._info_string("go before position: searching the start position")
            self.board = chess.Board(chess960=bool(self.options["uci_chess960"]))
        board = self.board.copy()
        search_moves: list[chess.Move] = []
        for text in params.pop("searchmoves", []):
            try:
                search_moves.append(parse_move(board, text))
            except ValueError as exc:
                self._info_string(f"searchmoves: {exc}; ignored")
        ponder = bool(params.pop("ponder", False))
        self._stop.clear()
        self._release.clear()
        self._worker = threading.Thread(
            target=self._search_worker, args=(board, params, search_moves, ponder, started),
            name="plytree-uci-search", daemon=True)
        self._worker.start()
        return True

    def _cmd_stop(self, args: list[str]) -> bool:
        with self._lock:
            self._stop.set()
            self._release.set()
            controller = self._controller
        if controller is not None:
            controller.request_stop()  # passed on to the search safely (see BudgetController.run)
        self._join()
        return True

    def _cmd_ponderhit(self, args: list[str]) -> bool:
        controller = self._controller
        if controller is not None:
            controller.ponderhit_and_wake()
        self._release.set()
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

    def _join(self) -> None:
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join()
        self._worker = None

    def _wait_idle(self) -> None:
        """Ends a running search (as ``stop``) before a command that changes the engine's state."""
        if self._worker is not None and self._worker.is_alive():
            self._cmd_stop([])
        self._join()

    def _halt(self) -> None:
        if self._worker is not None:
            self._cmd_stop([])

    def _game(self, chess960: bool):
        if chess960 not in self._games:
            self._games[chess960] = self._game_factory(chess960)
        return self._games[chess960]

    def _get_search(self, game):
        key = (id(game),) + tuple(self.options[k] for k in sorted(_REBUILD_OPTIONS))
        if self._search is None or self._search_key != key:
            self._search = None
            self._relay = InfoRelay()
            try:
                self._search = self._search_factory(game, dict(self.options), self._relay)
            except Exception as exc:
                if self.options["searchkind"] == "alphabeta" and self._search_factory is default_search_factory:
                    raise
                # e.g. a network that does not fit: say so, and play with the engine's own search
                self._info_string(f"cannot build the {self.options['searchkind']} search "
                                  f"({type(exc).__name__}: {exc}); using alphabeta")
                self._search = default_search_factory(game, {**self.options, "searchkind": "alphabeta"},
                                                      self._relay)
            self._search_key = key
        return self._search

    # ------------------------------------------------------------ the search
    def _search_worker(self, board: chess.Board, params: dict, search_moves: list[chess.Move],
                       ponder: bool, started: float) -> None:
        best: Optional[chess.Move] = None
        ponder_move: Optional[chess.Move] = None
        last: list[Optional[SearchResult]] = [None]
        try:
            legal = list(board.legal_moves)
            if search_moves:
                legal = [m for m in legal if m in search_moves] or legal
            if not legal:
                why = "checkmate" if board.is_checkmate() else "stalemate"
                self._info_string(f"no legal move ({why})")
                self._print("info depth 0 score " + ("mate 0" if board.is_checkmate() else "cp 0"))
                self._wait_for_release(params, ponder)
                self._print("bestmove 0000")
                return
            best = legal[0]
            game = self._game(board.chess960)
            state = _state_from_board(game, board)
            search = self._get_search(game)
            relay = self._relay
            multipv = int(self.options["multipv"])
            if self.options["searchkind"] == "alphabeta" and (multipv > 1 or search_moves):
                # the alpha-beta has no root-move restriction: search the allowed root moves' children
                from games.chess_encoding import move_to_action

                allowed = [move_to_action(m, board) for m in legal]
                relay = InfoRelay()
                search = RootSplitSearch(search, allowed, multipv, on_info=relay)
            limit = _limit_from_params(params)
            controller = BudgetController(limit, 0 if board.turn == chess.WHITE else 1,
                                          overhead=self.options["move overhead"] / 1000.0, latency=self._latency)
            with self._lock:
                self._controller = controller
                if self._stop.is_set():  # a stop that came before the controller existed
                    controller.request_stop()
            t0 = time.monotonic()

            reported: list[Optional[SearchResult]] = [None]

            def on_info(result: SearchResult) -> None:
                last[0] = result
                reported[0] = result
                self._report(board, result, multipv, time.monotonic() - t0)

            # a stop that came already is passed on as the run starts: the searches honour it after
            # their first result (MCTS: the root's evaluation; alpha-beta: depth 1), a shallow but real answer
            result = controller.run(search, state, on_info=on_info, pondering=ponder,
                                    started_at=started, relay=relay)
            last[0] = result
            if self.debug:
                d = controller.deadlines
                def sec(x: Optional[float]) -> str:
                    return "none" if x is None else f"{x:.3f}"

                self._info_string(f"budget soft {sec(d.soft)} hard {sec(d.hard)} aim {sec(controller.aim())} spent "
                                  f"{time.monotonic() - started:.3f} stop {controller.stop_reason or result.stop_reason}")
            chosen = last[0]
            if chosen is not None and chosen is not reported[0] and _differs(chosen, reported[0]):
                self._report(board, chosen, multipv, time.monotonic() - t0)
            best, ponder_move = self._choose(board, result, legal, search_moves)
        except Exception as exc:
            self._info_string(f"search error: {type(exc).__name__}: {exc}")
            for row in traceback.format_exc().splitlines()[-6:]:
                self._info_string(row)
            chosen = last[0]
            if chosen is not None:
                try:
                    best, ponder_move = self._choose(board, chosen, legal, search_moves)
                except Exception:
                    pass
        finally:
            self._controller = None
        self._wait_for_release(params, ponder)
        text = f"bestmove {board.uci(best)}" if best is not None else "bestmove 0000"
        if ponder_move is not None and best is not None:
            text += f" ponder {board_after(board, best).uci(ponder_move)}"
        self._print(text)

    def _wait_for_release(self, params: dict, ponder: bool) -> None:
        """UCI: after ``go infinite`` or ``go ponder`` the best move waits for stop/ponderhit."""
        if params.get("infinite") or ponder:
            self._release.wait()

    def _choose(self, board: chess.Board, result: SearchResult, legal: list[chess.Move],
                search_moves: list[chess.Move]) -> tuple[chess.Move, Optional[chess.Move]]:
        """The best move (restricted to ``search_moves``) and the expected reply, both legal."""
        pv = _pv_moves(board, result.pv or ((result.best_action,) if result.best_action >= 0 else ()))
        if pv and pv[0] in legal:
            reply = pv[1] if len(pv) > 1 else None
            return pv[0], reply
        # the search's choice is not allowed (searchmoves): the best allowed one by its statistics
        ranked = _ranked_actions(result)
        from games.chess_encoding import action_to_move

        for action in ranked:
            try:
                move = action_to_move(action, board)
            except Exception:
                continue
            if move in legal:
                return move, None
        return legal[0], None

    def _report(self, board: chess.Board, result: SearchResult, multipv: int, seconds: float) -> None:
        lines = _multipv_lines(result, multipv)
        show_wdl = bool(self.options["uci_showwdl"])
        elapsed_ms = max(0, int(round(seconds * 1000)))
        nodes = result.nodes or result.simulations
        for index, line in enumerate(lines, 1):
            pv = _pv_moves(board, line["pv"])
            if not pv:
                continue
            parts = [f"info depth {max(1, line['depth'])}"]
            if line["seldepth"]:
                parts.append(f"seldepth {max(line['seldepth'], line['depth'])}")
            parts.append(f"multipv {index}")
            parts.append(_score_text(line, len(line["pv"])))
            if show_wdl:
                value = line["value"]
                if line["score"] is not None:
                    value = 1.0 if line["score"] >= MATE_THRESHOLD else -1.0 if line["score"] <= -MATE_THRESHOLD \
                        else math.tanh(line["score"] / 400.0)
                w, d, l = _wdl(value)
                parts.append(f"wdl {w} {d} {l}")
            parts.append(f"nodes {nodes}")
            parts.append(f"nps {int(nodes / seconds) if seconds > 0 else 0}")
            hashfull = result.extra.get("hashfull") if isinstance(result.extra, dict) else None
            if hashfull is None:
                hashfull = _hashfull(self._search)
            if hashfull is not None:
                parts.append(f"hashfull {int(hashfull)}")
            parts.append(f"time {elapsed_ms}")
            parts.append("pv " + " ".join(_uci_line(board, pv)))
            self._print(" ".join(parts))


# ---------------------------------------------------------------------- helpers (module level)
def _load_game(chess960: bool):
    import games

    return games.load("chess960" if chess960 else "chess")


def _state_from_board(game, board: chess.Board):
    """The plytree state of ``board``, with its moves played from the root (for repetitions)."""
    from games.chess_encoding import move_to_action

    from_board = getattr(game, "state_from_board", None)
    if from_board is not None:
        return from_board(board)
    root = board.root()
    state = game.deserialize(root.fen(shredder=board.chess960) if board.chess960 else root.fen())
    replay = root.copy(stack=False)
    for move in board.move_stack:
        state.apply_action_checked(move_to_action(move, replay))
        replay.push(move)
    return state


def _hashfull(search) -> Optional[int]:
    """Permille of the table (alpha-beta) or tree memory (MCTS) in use, where the search shows it."""
    try:
        backend = getattr(search, "_backend", None)
        for part in (search, backend):  # the C chess searcher samples its own table
            if callable(getattr(part, "hashfull", None)):
                return int(part.hashfull())
        if hasattr(search, "tree_bytes") and hasattr(search, "memory_limit") and search.memory_limit:
            return min(1000, int(1000 * search.tree_nodes * search.node_size / search.memory_limit))
        table, entries = getattr(backend, "tt", None), getattr(backend, "tt_entries", None)
        if isinstance(table, dict) and entries:
            return min(1000, int(1000 * len(table) / entries))
    except Exception:
        return None
    return None


def _differs(result: SearchResult, reported: Optional[SearchResult]) -> bool:
    """Whether the final result says more than the last interim one (so deserves an info line)."""
    if reported is None:
        return True
    return (result.pv, result.depth, result.score, result.best_action) != (
        reported.pv, reported.depth, reported.score, reported.best_action) or result.nodes > reported.nodes


def board_after(board: chess.Board, move: chess.Move) -> chess.Board:
    after = board.copy(stack=False)
    after.push(move)
    return after


def parse_move(board: chess.Board, text: str) -> chess.Move:
    """A legal move of ``board`` from UCI text (e1g1 or king-takes-rook castling alike), or SAN.

    Raises:
        ValueError: the text is not a move, or not a legal one here (the message says which).
    """
    try:
        return board.parse_uci(text)
    except chess.InvalidMoveError:
        pass
    except chess.IllegalMoveError:
        move = _castling_by_destination(board, text)
        if move is not None:
            return move
        raise ValueError(f"illegal move {text!r} in {board.fen()}") from None
    try:
        return board.parse_san(text)
    except ValueError:
        raise ValueError(f"invalid move {text!r} in {board.fen()}") from None


def _castling_by_destination(board: chess.Board, text: str) -> Optional[chess.Move]:
    """Chess960 castling written as the king's destination (``b1g1``) where that is unambiguous."""
    try:
        move = chess.Move.from_uci(text)
    except ValueError:
        return None
    king = board.king(board.turn)
    if king is None or move.from_square != king or move.promotion:
        return None
    back_rank = 0 if board.turn == chess.WHITE else 7
    if chess.square_rank(move.to_square) != back_rank or chess.square_file(move.to_square) not in (2, 6):
        return None
    kingside = chess.square_file(move.to_square) == 6
    candidates = [m for m in board.generate_castling_moves()
                  if (chess.square_file(m.to_square) > chess.square_file(king)) == kingside]
    return candidates[0] if len(candidates) == 1 else None


def _uci_line(board: chess.Board, moves: Sequence[chess.Move]) -> list[str]:
    replay = board.copy(stack=False)
    out = []
    for move in moves:
        out.append(replay.uci(move))
        replay.push(move)
    return out


def _pv_moves(board: chess.Board, actions: Sequence[int]) -> list[chess.Move]:
    """The legal prefix of a principal variation of actions, as moves."""
    from games.chess_encoding import action_to_move

    replay = board.copy(stack=False)
    moves = []
    for action in actions:
        try:
            move = action_to_move(int(action), replay)
        except Exception:
            break
        if not replay.is_legal(move):
            break
        moves.append(move)
        replay.push(move)
    return moves


def _ranked_actions(result: SearchResult) -> list[int]:
    """Root actions from best to worst by visits (MCTS) or Q-values where the search gave them."""
    actions = list(result.actions)
    if result.visits and len(result.visits) == len(actions):
        return [a for _, a in sorted(zip(result.visits, actions, strict=True), key=lambda x: -x[0])]
    if result.q_values and len(result.q_values) == len(actions):
        return [a for _, a in sorted(zip(result.q_values, actions, strict=True),
                                     key=lambda x: -(x[0] if x[0] == x[0] else -9.0))]
    return actions


def _multipv_lines(result: SearchResult, multipv: int) -> list[dict]:
    """Up to ``multipv`` lines ``{pv, score, value, depth, seldepth, mate}``, best first.

    A search's own lines (``extra["multipv"]``: SearchResults or dicts with ``pv``/``score``/``value``)
    come first; MCTS fills them from the root's per-action statistics.
    """
    base: dict[str, Any] = {"depth": result.depth, "seldepth": result.seldepth, "score": result.score,
            "value": result.value, "pv": tuple(result.pv) or ((result.best_action,) if result.best_action >= 0 else ()),
            "proven": result.proven_value if result.is_proven else None,
            "mate_plies": result.extra.get("mate_plies") if isinstance(result.extra, dict) else None}
    lines = [base]
    extra = result.extra.get("multipv") if isinstance(result.extra, dict) else None
    if multipv > 1 and extra:
        lines = []
        for item in extra[:multipv]:
            if isinstance(item, SearchResult):
                lines.append({"depth": item.depth or result.depth, "seldepth": item.seldepth or result.seldepth,
                              "score": item.score, "value": item.value,
                              "pv": tuple(item.pv) or (item.best_action,),
                              "proven": item.proven_value if item.is_proven else None,
                              "mate_plies": item.extra.get("mate_plies")})
            elif isinstance(item, dict):
                lines.append({"depth": item.get("depth", result.depth),
                              "seldepth": item.get("seldepth", result.seldepth),
                              "score": item.get("score"), "value": item.get("value", 0.0),
                              "pv": tuple(item.get("pv", ())), "proven": None})
        return lines or [base]
    if multipv > 1 and result.visits and len(result.visits) == len(result.actions):
        order = sorted(range(len(result.actions)), key=lambda i: -result.visits[i])
        for i in order:
            action = result.actions[i]
            if base["pv"] and action == base["pv"][0]:
                continue
            if len(lines) >= multipv or result.visits[i] == 0:
                break
            q = result.q_values[i] if result.q_values else float("nan")
            lines.append({"depth": 1, "seldepth": 1, "score": None,
                          "value": q if q == q else -1.0, "pv": (action,), "proven": None})
    return lines


def _score_text(line: dict, pv_length: int) -> str:
    score = line["score"]
    mate_plies = line.get("mate_plies")
    if mate_plies is None and score is not None and abs(score) >= MATE_THRESHOLD:
        mate_plies = (MATE - abs(int(score))) * (1 if score > 0 else -1)
    if mate_plies is not None:
        moves = (abs(int(mate_plies)) + 1) // 2
        return f"score mate {moves if mate_plies > 0 else -moves}"
    if line.get("proven") is not None and score is None:
        if line["proven"] == 0:
            return "score cp 0"
        moves = max(1, (pv_length + 1) // 2)
        return f"score mate {moves if line['proven'] > 0 else -moves}"
    if score is not None:
        return f"score cp {int(score)}"
    return f"score cp {value_to_cp(line['value'])}"


def _status_text(status: int) -> str:
    names = [name for name in dir(chess) if name.startswith("STATUS_") and name != "STATUS_VALID"]
    return ", ".join(name[7:].lower() for name in names if status & getattr(chess, name)) or "invalid"


_GO_INT = {"wtime", "btime", "winc", "binc", "movestogo", "movetime", "depth", "nodes", "mate"}


def _parse_go(args: list[str], lenient: bool = False) -> dict:
    """``go`` parameters (times still in milliseconds). Raises ValueError on a bad token unless lenient."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if token in _GO_INT:
            if i + 1 >= len(args):
                if lenient:
                    break
                raise ValueError(f"{token} needs a value")
            try:
                value = int(float(args[i + 1]))
            except ValueError:
                if not lenient:
                    raise ValueError(f"{token} needs a number, got {args[i + 1]!r}") from None
                i += 2
                continue
            if token not in ("wtime", "btime") and value < 0:
                if not lenient:
                    raise ValueError(f"{token} must not be negative, got {value}")
                value = 0
            params[token] = value
            i += 2
        elif token in ("infinite", "ponder"):
            params[token] = True
            i += 1
        elif token == "searchmoves":
            moves = []
            i += 1
            while i < len(args) and args[i] not in _GO_INT and args[i] not in ("infinite", "ponder"):
                moves.append(args[i])
                i += 1
            params["searchmoves"] = moves
        else:
            if not lenient:
                raise ValueError(f"unknown go parameter {token!r}")
            i += 1
    return params


def _limit_from_params(params: dict) -> Limit:
    """The ``Limit`` of a ``go`` (milliseconds to seconds; a bare ``go`` is infinite, as Stockfish)."""
    fields: dict[str, Any] = {}
    for key in ("wtime", "btime", "winc", "binc"):
        if key in params:
            fields[key] = max(0, params[key]) / 1000.0  # a negative clock (a flagged GUI) is no time
    if "movetime" in params:
        fields["time"] = params["movetime"] / 1000.0
    for key in ("depth", "nodes", "mate"):
        if key in params:
            fields[key] = max(1, params[key]) if key != "nodes" else params[key]
    if params.get("movestogo"):
        fields["movestogo"] = params["movestogo"]
    if params.get("infinite") or not fields:
        fields["infinite"] = True
    return Limit(**fields)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the engine on stdin/stdout."""
    engine = UciEngine(sys.stdout)
    return engine.run(sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
