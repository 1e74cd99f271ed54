"""The game line a GUI sends, kept incrementally: ``position ... moves`` that extends the last one.

A GUI repeats the whole game with every move (``position startpos moves e2e4 e7e5 ... g1f3``).
Replaying that line with python-chess and rebuilding the search state from the start costs a few
milliseconds at move 50, paid in every move's clock, and far more when a loaded machine makes the
process wait for its CPU. ``PositionTracker`` keeps the board and the plytree search state of the
last line: when the new line has the same start and extends the old one, only the new moves are
parsed and applied. Anything else (another start, a changed prefix, a move the last line could not
play, a null move, Chess960 switched) is replayed in full by ``parse_position``, the reference.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import chess

from engine._uci_position import PositionCommand, parse_move, parse_position, state_from_board
from games.chess_encoding import move_to_action

__all__ = ["PositionTracker"]


def _split(args: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tokens before ``moves`` and the move texts after it."""
    if "moves" in args:
        at = list(args).index("moves")
        return tuple(args[:at]), tuple(args[at + 1:])
    return tuple(args), ()


class PositionTracker:
    """The current position: its board, the move texts it came from and, on demand, its search state.

    Only the protocol thread calls ``update``; the board it returns must not be modified by others
    (the UCI engine hands it to the search worker read-only, and calls ``forget`` when a worker it
    could not stop may still read it).
    """

    def __init__(self) -> None:
        self.board: Optional[chess.Board] = None
        self._key: Optional[tuple] = None            # (head tokens, chess960) of the line that built board
        self._moves: tuple[str, ...] = ()            # the move texts board played, all of them legal
        self._actions: list[Optional[int]] = []     # the action of each played move (None: null move)
        self._state: Any = None                      # search state of board at len(_state_actions) plies
        self._state_game: Any = None
        self._state_plies = 0
        self.incremental = 0                         # lines handled by applying only their new moves

    def forget(self) -> None:
        """Drops what was kept: the next line is replayed in full (into a new board)."""
        self.board, self._key, self._moves, self._actions = None, None, (), []
        self._state, self._state_game, self._state_plies = None, None, 0

    def detach(self) -> None:
        """Keeps the position in a board of its own (another thread may still read the old one);
        the next line is replayed in full."""
        board = self.board
        self.forget()
        self.board = None if board is None else board.copy()

    def set_board(self, board: chess.Board) -> None:
        """A position that did not come from a ``position`` line (``go`` before any position)."""
        self.forget()
        self.board = board

    def update(self, args: Sequence[str], chess960: bool) -> PositionCommand:
        """Reads the tokens after ``position`` (as ``parse_position``); never raises.

        Returns:
            The command; its ``board`` is the tracker's new board (None: the position is unchanged).
        """
        head, moves = _split(args)
        key = (head, chess960)
        board = self.board
        if (board is not None and key == self._key and len(moves) >= len(self._moves)
                and moves[:len(self._moves)] == self._moves):
            return self._extend(moves)
        command = parse_position(args, chess960)
        if command.board is not None:
            self.forget()
            self.board = command.board
            if not command.notes:  # a line played in full can be extended next time
                self._key, self._moves = key, moves
                self._actions = _actions_of(command.board)
        return command

    def _extend(self, moves: tuple[str, ...]) -> PositionCommand:
        board = self.board
        assert board is not None
        self.incremental += 1
        for i in range(len(self._moves), len(moves)):
            try:
                move = parse_move(board, moves[i])
            except ValueError as exc:
                done = " ".join(moves[:i]) or "none"
                self._key = None  # the next line is replayed in full
                return PositionCommand(board, (f"{exc}; position set up to move {i} ({done[:200]})",))
            self._actions.append(move_to_action(move, board) if move else None)
            board.push(move)
        self._moves = moves
        return PositionCommand(board)

    def state(self, game: Any, board: chess.Board) -> Any:
        """The search state of ``board`` for ``game`` (a fresh object the caller may keep).

        When ``board`` is the tracker's board, the state of the previous call is extended by the
        moves played since (cheap); otherwise it is built from the board (``state_from_board``).
        """
        if board is not self.board or len(self._actions) != len(board.move_stack) or None in self._actions:
            return state_from_board(game, board)
        if self._state is None or self._state_game is not game or self._state_plies > len(self._actions):
            self._state = state_from_board(game, board)
        else:
            for action in self._actions[self._state_plies:]:
                self._state.apply_action(action)
        self._state_game, self._state_plies = game, len(self._actions)
        return self._state.clone()


def _actions_of(board: chess.Board) -> list[Optional[int]]:
    """The actions of ``board``'s move stack, replayed from its root (None for a null move)."""
    replay = board.root()
    actions: list[Optional[int]] = []
    for move in board.move_stack:
        actions.append(move_to_action(move, replay) if move else None)
        replay.push(move)
    return actions
