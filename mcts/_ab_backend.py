"""The back ends of ``mcts.AlphaBeta``: their one interface (:class:`SearchBackend`) and the choice
among them by what the root state can do (:func:`choose_backend`).

* ``mcts._chess_ab.ChessAlphaBeta``: bitboard chess states (``games.load("chess")``), all in C.
* :class:`ConvertedChess`: python-chess states (``backend="python-chess"``), converted to the bitboard
  board (``games.chessboard.from_board``) and searched by the same C searcher; both boards use the
  4672-action encoding of ``games.chess_encoding``, so actions need no mapping back.
* ``mcts._alphabeta.CAlphaBeta``: any other state with the C game interface, all in C.
* ``mcts._ab_python.PySearch``: every ``State`` protocol game, and every search with an evaluator or
  Python hooks.

Each back end class says which states it takes (``accepts(state)``); the first that does, in the
order above, searches them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence

from mcts._ab_python import PySearch

DEFAULT_EVAL = "default"   # eval_file's default: the shipped chess network (chess), else nothing
SHIPPED_CHESS_NNUE = Path(__file__).resolve().parents[1] / "models" / "zoo" / "chess_nnue.onnx"


HAND_WRITTEN = ("none", "hand-written")   # eval_file text for the hand-written evaluation (command lines)


def resolve_eval_file(eval_file: Any) -> Any:
    """``eval_file`` for the C chess searcher: ``"default"`` is the shipped network
    (``models/zoo/chess_nnue.onnx``; the hand-written evaluation when the file is absent), None (or
    the text ``"none"`` / ``"hand-written"``, as a tournament spec ``eval_file=none`` gives it) the
    hand-written evaluation, anything else as given (a path or a loaded ``ChessNNUE``)."""
    if isinstance(eval_file, str) and eval_file == DEFAULT_EVAL:
        return str(SHIPPED_CHESS_NNUE) if SHIPPED_CHESS_NNUE.is_file() else None
    if isinstance(eval_file, str) and eval_file.lower() in HAND_WRITTEN:
        return None
    return eval_file


class SearchBackend(Protocol):
    """What the iterative-deepening driver calls: one fixed-depth search of the root per call."""

    nodes: int                                       # nodes of the current search
    seldepth: int                                    # deepest ply reached
    stop_reason: str                                 # "", "nodes", "time" or "stopped"
    aspiration_schedule: tuple[int, int, int, int]   # (half-width, first depth, growth on a fail, full-open width)
    max_depth: int                                   # deepest iteration the back end can run
    exact: bool                                      # full width (no reductions): set for mate searches
    score_scale: float                               # score units at which the value is tanh(1)

    def begin(self, root: Any, node_limit: Optional[int] = None, deadline: Optional[float] = None) -> None:
        """Loads the root and the limits of a new search (deadline in ``time.monotonic()`` seconds)."""

    def search(self, depth: int, alpha: int, beta: int) -> tuple[int, bool, int, int, int]:
        """One iteration: ``(score, stopped, root best action or -1, its score, root moves done)``."""

    def pv(self) -> list[int]:
        """Principal variation of the last completed iteration."""

    def value_of(self, score: int) -> float:
        """The shared score-to-value map (``mcts._score.score_to_value``) at this back end's scale."""

    def stop(self) -> None:
        """Makes a running search return (thread-safe)."""

    def clear_stop(self) -> None:
        """Forgets a stop request."""

    def reset(self) -> None:
        """Forgets the transposition table and the move-ordering tables."""

    def resize(self, tt_bytes: int) -> None:
        """A new, empty transposition table of at most ``tt_bytes`` (between searches)."""

    def clear(self) -> None:
        """Empties the transposition table (between searches)."""


class ConvertedChess:
    """The C chess searcher over python-chess states: each root is converted to the bitboard board
    (with its move stack, for the repetition rule) and searched by ``ChessAlphaBeta``."""

    def __init__(self, chess960: bool, tt_bytes: int, eval_file: Any = None) -> None:
        from games.chessboard import FastChess960Game, FastChessGame
        from mcts._chess_ab import ChessAlphaBeta
        self._game = FastChess960Game() if chess960 else FastChessGame()
        self._inner = ChessAlphaBeta(self._game, tt_bytes=tt_bytes, eval_file=eval_file)

    @staticmethod
    def accepts(state: Any) -> bool:
        """States of the python-chess adapter (``games.chess.ChessState``)."""
        from games.chess import ChessState
        return isinstance(state, ChessState)

    def begin(self, root: Any, node_limit: Optional[int] = None, deadline: Optional[float] = None) -> None:
        from games.chessboard import from_board
        self._inner.begin(from_board(root.board, self._game), node_limit, deadline)

    def __getattr__(self, name: str) -> Any:
        # everything else (search, pv, limits, tables, counters) is the C searcher's
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_game", "_inner"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)


def choose_backend(game: Any, evaluator: Any, *, tt_bytes: int,
                   static_eval: Optional[Callable[[Any], float]] = None,
                   quiescence: Optional[Callable[[Any], Sequence[int]]] = None,
                   eval_file: Any = None) -> SearchBackend:
    """The back end for ``game``'s states: the C searchers when no evaluator or Python hook is given
    and one accepts the game's initial state, else :class:`PySearch` (with the hooks). ``eval_file``
    (a chess NNUE; ``"default"``: the shipped one, see :func:`resolve_eval_file`) is for the C chess
    searcher only (``"default"`` means nothing to the others).

    Raises:
        ValueError: eval_file given for a back end other than the C chess searcher.
    """
    if evaluator is None and static_eval is None and quiescence is None:
        probe = game.new_initial_state()
        from mcts._chess_ab import ChessAlphaBeta
        if ChessAlphaBeta.accepts(probe):
            return ChessAlphaBeta(game, tt_bytes=tt_bytes, eval_file=resolve_eval_file(eval_file))
        if ConvertedChess.accepts(probe):
            return ConvertedChess(bool(getattr(game, "chess960", False)), tt_bytes, resolve_eval_file(eval_file))
    if eval_file != DEFAULT_EVAL and resolve_eval_file(eval_file) is not None:
        raise ValueError(f"eval_file (a chess NNUE) needs a chess game and no evaluator, static_eval or "
                         f"quiescence hook; got {game!r}")
    if evaluator is None and static_eval is None and quiescence is None:
        from mcts._alphabeta import CAlphaBeta
        if CAlphaBeta.accepts(probe):
            return CAlphaBeta(game, tt_bytes)
    return PySearch(game, evaluator, tt_entries=max(1024, tt_bytes // 160), static_eval=static_eval,
                    quiescence=quiescence)
