"""Perft: count the leaf nodes of the legal-move tree to a fixed depth, a check of move generation.

Three paths: :func:`perft_bitboard` / :func:`divide_bitboard` count on the bitboard board in C (the
fast path, what ``plytree perft`` runs by default); :func:`perft` / :func:`divide` go through the game
protocol (``move_actions`` or ``legal_actions``, ``apply_action``, ``undo_action``), so they test the
chess adapter and its action encoding; :func:`perft_python_chess` / :func:`divide_python_chess` use
python-chess's own move generator directly, as the reference and the speed baseline.

Perft counts chess moves whether or not a draw rule (insufficient material, fifty moves, repetition)
has ended the game, as the published counts do; so for chess states the adapter path counts
``move_actions()`` rather than ``legal_actions()``. Leaves are counted in bulk (the number of moves
at depth 1).

File formats read by :func:`read_epd_perft` and :func:`read_perft_blocks`: see
``shared/data/README.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Union

import chess

from games.chess import ChessState

__all__ = [
    "PerftCase",
    "divide",
    "divide_bitboard",
    "divide_python_chess",
    "perft",
    "perft_bitboard",
    "perft_python_chess",
    "read_epd_perft",
    "read_perft_blocks",
    "to_state",
]

PositionLike = Union[ChessState, chess.Board, Any]


def to_state(position: PositionLike) -> Any:
    """A protocol state for ``position``: a clone of a state, or a :class:`ChessState` over a board."""
    if isinstance(position, chess.Board):
        return ChessState.from_board(position)
    return position.clone()


def _check_depth(depth: int) -> int:
    d = int(depth)
    if d < 0:
        raise ValueError(f"perft depth {depth!r} must be >= 0")
    return d


def _check_divide_depth(depth: int) -> int:
    d = _check_depth(depth)
    if d < 1:
        raise ValueError(f"divide needs depth >= 1, got {depth!r}")
    return d


def _moves_fn(state: Any):
    # chess states: every chess move (draws by rule do not stop perft); other games: legal actions
    return getattr(state, "move_actions", None) or state.legal_actions


def _perft_state(state: Any, depth: int) -> int:
    actions = _moves_fn(state)()
    if depth == 1:
        return len(actions)
    total = 0
    for a in actions:
        state.apply_action(a)
        total += _perft_state(state, depth - 1)
        state.undo_action()
    return total


def perft(position: PositionLike, depth: int) -> int:
    """Leaf count of the move tree of ``position`` to ``depth`` plies, through the game protocol.

    Args:
        position: a state with ``undo_action`` (not modified: a clone is searched) or a ``chess.Board``.
        depth: plies, >= 0 (depth 0 counts the position itself: 1).

    Returns:
        The number of leaves.

    Raises:
        ValueError: negative depth.
    """
    d = _check_depth(depth)
    if d == 0:
        return 1
    return _perft_state(to_state(position), d)


def divide(position: PositionLike, depth: int) -> list[tuple[str, int]]:
    """Perft split by first move, as Stockfish's ``go perft``: ``(move text, leaf count)`` pairs in
    action order. Move text is ``action_to_string`` (UCI for chess).

    Raises:
        ValueError: depth < 1.
    """
    d = _check_divide_depth(depth)
    state = to_state(position)
    out = []
    for a in _moves_fn(state)():
        text = state.action_to_string(a)
        if d == 1:
            out.append((text, 1))
            continue
        state.apply_action(a)
        out.append((text, _perft_state(state, d - 1)))
        state.undo_action()
    return out


def _perft_board(board: chess.Board, depth: int) -> int:
    if depth == 1:
        return sum(1 for _ in board.generate_legal_moves())
    total = 0
    for m in list(board.generate_legal_moves()):
        board.push(m)
        total += _perft_board(board, depth - 1)
        board.pop()
    return total


def _as_board(position: PositionLike) -> chess.Board:
    if isinstance(position, chess.Board):
        return position.copy(stack=False)
    return position.board


def perft_python_chess(position: PositionLike, depth: int) -> int:
    """As :func:`perft`, with python-chess's move generator directly (reference and baseline)."""
    d = _check_depth(depth)
    return 1 if d == 0 else _perft_board(_as_board(position), d)


def divide_python_chess(position: PositionLike, depth: int) -> list[tuple[str, int]]:
    """As :func:`divide`, with python-chess directly; moves as python-chess's UCI text, sorted."""
    d = _check_divide_depth(depth)
    board = _as_board(position)
    out = []
    for m in list(board.generate_legal_moves()):
        text = board.uci(m)
        if d == 1:
            out.append((text, 1))
            continue
        board.push(m)
        out.append((text, _perft_board(board, d - 1)))
        board.pop()
    return sorted(out)


def _bitboard(position: PositionLike) -> Any:
    """The bitboard state of ``position`` (a bitboard state, a python-chess adapter state or board)."""
    from games.chessboard import ChessBoardState, from_board
    if isinstance(position, ChessBoardState):
        return position
    return from_board(_as_board(position) if not isinstance(position, chess.Board) else position)


def perft_bitboard(position: PositionLike, depth: int) -> int:
    """As :func:`perft`, on the bitboard board in C (bulk counted; the position is not modified).

    Raises:
        ValueError: negative depth.
    """
    return int(_bitboard(position).perft(_check_depth(depth)))


def divide_bitboard(position: PositionLike, depth: int) -> list[tuple[str, int]]:
    """As :func:`divide`, on the bitboard board in C: ``(UCI move, leaf count)`` pairs in action order.

    Raises:
        ValueError: depth < 1.
    """
    d = _check_divide_depth(depth)
    state = _bitboard(position)
    return [(state.action_to_string(a), int(n)) for a, n in state.divide(d)]


class PerftCase:
    """One position of a perft file: ``name``, ``fen`` and ``counts`` (depth -> leaf count)."""

    __slots__ = ("name", "fen", "counts")

    def __init__(self, name: str, fen: str, counts: dict[int, int]) -> None:
        self.name = name
        self.fen = fen
        self.counts = counts

    def __repr__(self) -> str:
        return f"PerftCase({self.name!r}, {self.fen!r}, {self.counts!r})"


def read_epd_perft(path: Union[str, Path]) -> Iterator[PerftCase]:
    """Reads ``FEN ;D1 n ;D2 n ... [;id "name"]`` lines (``#`` comments and blank lines skipped).

    Raises:
        ValueError: a line has no counts or an unreadable field (names the file and line).
    """
    p = Path(path)
    for number, line in enumerate(p.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fen, *fields = [f.strip() for f in line.split(";")]
        counts: dict[int, int] = {}
        name = f"{p.name}:{number}"
        for f in fields:
            if f.startswith("id "):
                name = f[3:].strip().strip('"')
            elif f.startswith("D"):
                depth, _, n = f[1:].partition(" ")
                try:
                    counts[int(depth)] = int(n)
                except ValueError:
                    raise ValueError(f"{p}:{number}: cannot read perft field {f!r}") from None
        if not counts:
            raise ValueError(f"{p}:{number}: no perft counts in {line!r}")
        yield PerftCase(name, fen, counts)


def read_perft_blocks(path: Union[str, Path]) -> Iterator[PerftCase]:
    """Reads python-chess's ``.perft`` format: blocks of ``id NAME``, ``epd FEN``, ``perft D n`` lines.

    Raises:
        ValueError: a line is not one of these (names the file and line).
    """
    p = Path(path)
    name: str | None = None
    fen: str | None = None
    counts: dict[int, int] = {}
    for number, raw in enumerate(p.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if key == "id":
            if fen is not None:
                yield PerftCase(name or fen, fen, counts)
            name, fen, counts = rest.strip(), None, {}
        elif key == "epd":
            fen = rest.strip()
        elif key == "perft":
            d, _, n = rest.strip().partition(" ")
            counts[int(d)] = int(n)
        else:
            raise ValueError(f"{p}:{number}: unexpected line {raw!r}")
    if fen is not None:
        yield PerftCase(name or fen, fen, counts)
