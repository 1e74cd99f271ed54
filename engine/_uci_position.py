"""Positions for UCI: ``position startpos|fen <fen> [moves ...]``, move text, and the search state.

The engine keeps positions as python-chess ``Board``s (the reference for rules and move text); the
search runs on the plytree chess state built from one (``state_from_board``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import chess

from games.chess_encoding import move_to_action

__all__ = ["PositionCommand", "board_after", "parse_move", "parse_position", "state_from_board", "status_text"]


@dataclass(frozen=True)
class PositionCommand:
    """A ``position`` line as read: the board (None: keep the old position) and what went wrong."""

    board: Optional[chess.Board]
    notes: tuple[str, ...] = ()


def parse_move(board: chess.Board, text: str) -> chess.Move:
    """A legal move of ``board`` from UCI text (e1g1 or king-takes-rook castling alike), or SAN.

    ``0000`` (and python-chess's SAN ``--``) is the null move (passing the turn), as python-chess and
    Stockfish read it, when the side to move is not in check.

    Raises:
        ValueError: the text is not a move, or not a legal one here (the message says which).
    """
    move = _parse_any(board, text)
    if not move and board.is_check():
        raise ValueError(f"null move {text[:40]!r} while in check in {board.fen()}")
    return move


def _parse_any(board: chess.Board, text: str) -> chess.Move:
    """The move of ``text`` (UCI, Chess960 castling by destination, SAN), the null move included."""
    if text == "0000":
        return chess.Move.null()
    try:
        return board.parse_uci(text)
    except chess.InvalidMoveError:
        pass
    except chess.IllegalMoveError:
        move = _castling_by_destination(board, text)
        if move is not None:
            return move
        raise ValueError(f"illegal move {text[:40]!r} in {board.fen()}") from None
    try:
        return board.parse_san(text)
    except ValueError:
        raise ValueError(f"invalid move {text[:40]!r} in {board.fen()}") from None


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


def status_text(status: int) -> str:
    """The names of the problems in a python-chess board status (``too_many_kings, ...``)."""
    names = [name for name in dir(chess) if name.startswith("STATUS_") and name != "STATUS_VALID"]
    return ", ".join(name[7:].lower() for name in names if status & getattr(chess, name)) or "invalid"


def parse_position(args: Sequence[str], chess960: bool) -> PositionCommand:
    """Reads the tokens after ``position``; never raises.

    A bad FEN or an invalid position keeps the old position (``board`` None); an illegal move keeps
    the legal prefix of the move list.
    """
    if not args:
        return PositionCommand(None, ("position needs startpos or fen <fen>",))
    if "moves" in args:
        at = list(args).index("moves")
        head, moves = list(args[:at]), list(args[at + 1:])
    else:
        head, moves = list(args), []
    if not head:
        return PositionCommand(None, ("position needs startpos or fen <fen> before moves",))
    notes: list[str] = []
    if head[0] == "startpos":
        if len(head) > 1:
            notes.append(f"ignoring {' '.join(head[1:])[:80]!r} after startpos")
        board = chess.Board(chess960=chess960)
    elif head[0] == "fen":
        fen = " ".join(head[1:])
        if not fen:
            return PositionCommand(None, ("position fen needs a FEN",))
        try:
            board = chess.Board(fen, chess960=chess960)
        except ValueError as exc:
            return PositionCommand(None, (f"invalid FEN {fen[:100]!r}: {exc}; position unchanged",))
        if not chess960 and board.has_chess960_castling_rights():
            board.chess960 = True
        if not board.is_valid():
            return PositionCommand(None, (f"invalid position {fen[:100]!r} ({status_text(board.status())}); "
                                          "position unchanged",))
    else:
        return PositionCommand(None, (f"position needs startpos or fen, got {head[0][:40]!r}",))
    for i, text in enumerate(moves):
        try:
            move = parse_move(board, text)
        except ValueError as exc:
            done = " ".join(moves[:i]) or "none"
            notes.append(f"{exc}; position set up to move {i} ({done[:200]})")
            break
        board.push(move)
    return PositionCommand(board, tuple(notes))


def board_after(board: chess.Board, move: chess.Move) -> chess.Board:
    """A copy of ``board`` (without its move stack) with ``move`` played."""
    after = board.copy(stack=False)
    after.push(move)
    return after


def state_from_board(game: Any, board: chess.Board) -> Any:
    """The plytree state of ``board``, with its moves played from the root (for repetitions).

    A null move (``0000``) has no action in the plytree game: the state then starts from the
    position after the last null move (a null move breaks every repetition anyway).
    """
    nulls = [i for i, move in enumerate(board.move_stack) if not move]
    if nulls:
        replay = board.copy()
        for _ in range(len(board.move_stack) - nulls[-1] - 1):
            replay.pop()
        root = replay.copy(stack=False)
        for move in board.move_stack[nulls[-1] + 1:]:
            root.push(move)
        board = root
    from_board = getattr(game, "state_from_board", None)
    if from_board is not None:
        return from_board(board)
    root_board = board.root()
    state = game.deserialize(root_board.fen(shredder=board.chess960) if board.chess960 else root_board.fen())
    replay = root_board.copy(stack=False)
    for move in board.move_stack:
        state.apply_action_checked(move_to_action(move, replay))
        replay.push(move)
    return state
