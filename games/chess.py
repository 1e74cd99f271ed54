"""Chess and Chess960 on python-chess, as games of the plytree protocol.

python-chess (PyPI ``chess``) is the reference for the rules, FEN, SAN and UCI move text; this module
adds the protocol's int actions, observation planes and hash. Player 0 is White, player 1 Black.

Actions: the fixed index space of :mod:`games.chess_encoding` (4672 = 64 squares * 73 planes, castling
as king-takes-own-rook).

Observation: float32 ``[19, 8, 8]``, indexed ``[plane, rank, file]`` with ``rank = square // 8`` and
``file = square % 8`` (absolute: White's first rank is rank 0, nothing flipped for Black):

* planes 0-5: White pawn, knight, bishop, rook, queen, king; planes 6-11: the same for Black;
* plane 12: all ones when White is to move, else zeros;
* planes 13-16: castling rights, each an all-ones or all-zeros plane: White king-side, White
  queen-side, Black king-side, Black queen-side (python-chess's ``has_kingside_castling_rights`` /
  ``has_queenside_castling_rights``: in Chess960 "king-side" is a right on a rook on the h-file side
  of the king);
* plane 17: a single one on the en-passant target square, only when an en-passant capture is legal
  (``board.has_legal_en_passant()``; the square is ``board.ep_square``);
* plane 18: the halfmove clock / 100 everywhere.

End of the game (:meth:`ChessState.is_terminal`), checked in this order:

1. no legal move: checkmate (the side to move loses) or stalemate (draw);
2. insufficient material on both sides (python-chess's ``is_insufficient_material``): draw;
3. halfmove clock >= 100 (the fifty-move rule, treated as claimed at once, which also covers the
   automatic seventy-five-move rule): draw;
4. the current position has occurred three times since the loaded position (threefold repetition,
   treated as claimed at once; covers fivefold): draw. A repetition that the next move *would* reach
   does not end the game (unlike python-chess's ``can_claim_threefold_repetition``); OpenSpiel's chess
   does the same.

Once the game is over ``legal_actions()`` is empty, even where chess moves remain (a draw by rule);
:meth:`ChessState.move_actions` lists those moves regardless, which is what perft counts.

``max_game_length`` is 1000 plies: not a rule of chess but the cap at which ``play_game`` adjudicates
a draw (games of random players rarely reach it; the fifty-move rule bounds any game at about
11,800 plies).

Hash: the Polyglot Zobrist key (``chess.polyglot.zobrist_hash``): pieces, castling rights (by side,
as above), en-passant file when a pawn could capture, side to move. Clocks and history are not in it.
"""
from __future__ import annotations

import operator
import random
import re
from typing import Any, Optional

import chess
import chess.polyglot
import numpy as np

from games._errors import (
    ActionOutOfRangeError,
    IllegalActionError,
    InvalidActionError,
    InvalidStateError,
)
from games._protocol import TERMINAL_PLAYER
from games.chess_encoding import (
    ACTION_TO_SQUARE,
    NUM_ACTIONS,
    action_to_move,
    legal_move_actions,
    move_to_action,
)

__all__ = ["ChessGame", "Chess960Game", "ChessState", "OBSERVATION_SHAPE", "MAX_GAME_LENGTH"]

OBSERVATION_SHAPE = (19, 8, 8)
MAX_GAME_LENGTH = 1000
STANDARD_POSITION = 518  # Chess960 number of the standard start

_UCI_RE = re.compile(r"^[a-h][1-8][a-h][1-8][nbrqNBRQ]?$")
# python-chess status flags under which moves cannot be generated meaningfully
_FATAL_STATUS = (
    chess.STATUS_EMPTY
    | chess.STATUS_NO_WHITE_KING
    | chess.STATUS_NO_BLACK_KING
    | chess.STATUS_TOO_MANY_KINGS
    | chess.STATUS_PAWNS_ON_BACKRANK
    | chess.STATUS_OPPOSITE_CHECK
)
_STATUS_NAMES = {
    chess.STATUS_EMPTY: "the board is empty",
    chess.STATUS_NO_WHITE_KING: "White has no king",
    chess.STATUS_NO_BLACK_KING: "Black has no king",
    chess.STATUS_TOO_MANY_KINGS: "a side has more than one king",
    chess.STATUS_PAWNS_ON_BACKRANK: "pawns on the first or last rank",
    chess.STATUS_OPPOSITE_CHECK: "the side not to move is in check",
}

# (returns, reason) of a finished game; None while it runs
_Outcome = Optional[tuple[list[float], str]]
_UNKNOWN: Any = object()


class ChessState:
    """A chess (or Chess960) position plus the moves played since it was loaded.

    Mutable: ``apply_action`` / ``undo_action`` push and pop python-chess moves in place.
    Build one with ``game.new_initial_state()``, ``game.deserialize(fen)`` or :meth:`from_board`.
    """

    __slots__ = ("game", "_board", "_history", "_outcome")

    def __init__(self, game: "ChessGame", board: chess.Board, history: Optional[list[int]] = None) -> None:
        self.game = game
        self._board = board
        self._history: list[int] = list(history) if history is not None else []
        self._outcome: Any = _UNKNOWN

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_board(cls, board: chess.Board, game: Optional["ChessGame"] = None) -> "ChessState":
        """A state over a copy of ``board``; its move stack becomes the state's history.

        Args:
            board: any legal python-chess board (``board.chess960`` picks the game when ``game`` is None).
            game: the game the state belongs to.

        Raises:
            InvalidStateError: the board's position is not playable (see ``ChessGame.deserialize``).
        """
        if game is None:
            game = Chess960Game() if board.chess960 else ChessGame()
        b = board.copy()
        b.chess960 = game.chess960
        _check_status(b, b.fen())
        root = b.root()
        history = []
        for m in b.move_stack:
            history.append(move_to_action(m, root))
            root.push(m)
        return cls(game, b, history)

    @property
    def board(self) -> chess.Board:
        """A copy of the python-chess board (with its move stack)."""
        return self._board.copy()

    def clone(self) -> "ChessState":
        """Independent copy (board, move stack and history)."""
        s = ChessState(self.game, self._board.copy(), self._history)
        s._outcome = self._outcome
        return s

    def __copy__(self) -> "ChessState":
        return self.clone()

    def __deepcopy__(self, memo: dict) -> "ChessState":
        return self.clone()

    def __reduce__(self):
        return (_restore_state, (self.game, self._board.root().fen(), self._history))

    # -- moves --------------------------------------------------------------------------------

    def legal_actions(self) -> list[int]:
        """Legal actions, ascending; empty when the game is over (also after a draw by rule)."""
        if self.is_terminal():
            return []
        return legal_move_actions(self._board)

    def move_actions(self) -> list[int]:
        """Actions of every legal chess move, ascending, ignoring the draw rules (what perft counts)."""
        return legal_move_actions(self._board)

    def legal_actions_mask(self) -> np.ndarray:
        """Boolean ``[4672]``, true at legal actions."""
        mask = np.zeros(NUM_ACTIONS, dtype=bool)
        mask[self.legal_actions()] = True
        return mask

    def apply_action(self, action: int) -> None:
        """Plays ``action`` WITHOUT checking it (fast path for searches and perft).

        An illegal action corrupts the position; use :meth:`apply_action_checked` for outside input.
        """
        self._board.push(action_to_move(action, self._board))
        self._history.append(action)
        self._outcome = _UNKNOWN

    def apply_action_checked(self, action: int) -> None:
        """Plays ``action`` after checking it.

        Raises:
            ActionOutOfRangeError: not an int in ``[0, 4672)``.
            IllegalActionError: not legal here (the message gives the move text and the FEN).
        """
        a = self._check_range(action)
        self._check_legal(a)
        self.apply_action(a)

    def undo_action(self) -> None:
        """Takes back the last action.

        Raises:
            IndexError: nothing was played since the position was loaded.
        """
        if not self._history:
            raise IndexError(f"no action to undo in {self._board.fen()!r}")
        self._board.pop()
        self._history.pop()
        self._outcome = _UNKNOWN

    def history(self) -> list[int]:
        """Actions played since the loaded position (the game's start or a FEN)."""
        return list(self._history)

    # -- result -------------------------------------------------------------------------------

    def _get_outcome(self) -> _Outcome:
        if self._outcome is _UNKNOWN:
            self._outcome = _compute_outcome(self._board)
        return self._outcome

    def is_terminal(self) -> bool:
        """True after checkmate, stalemate, insufficient material, fifty moves or threefold repetition."""
        return self._get_outcome() is not None

    def termination(self) -> Optional[str]:
        """Why the game ended ("checkmate", "stalemate", "insufficient material", "fifty-move rule",
        "threefold repetition"), or None while it runs."""
        o = self._get_outcome()
        return None if o is None else o[1]

    def returns(self) -> list[float]:
        """``[1, -1]`` when White won, ``[-1, 1]`` when Black won, zeros for a draw or a running game."""
        o = self._get_outcome()
        return [0.0, 0.0] if o is None else list(o[0])

    def current_player(self) -> int:
        """0 White, 1 Black, ``TERMINAL_PLAYER`` when the game is over."""
        if self.is_terminal():
            return TERMINAL_PLAYER
        return 0 if self._board.turn == chess.WHITE else 1

    def hash(self) -> int:
        """Polyglot Zobrist key (64-bit, unsigned)."""
        return chess.polyglot.zobrist_hash(self._board)

    def __hash__(self) -> int:
        return self.hash()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChessState):
            return NotImplemented
        # same rules and same FEN (position, castling, en passant, clocks); history is not compared
        return self.game.chess960 == other.game.chess960 and self._board.fen() == other._board.fen()

    # -- tensors and text ---------------------------------------------------------------------

    def observation(self) -> np.ndarray:
        """float32 ``[19, 8, 8]`` planes, ``[plane, rank, file]``, absolute (see the module docstring)."""
        b = self._board
        white, black = b.occupied_co[chess.WHITE], b.occupied_co[chess.BLACK]
        bbs = [b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings]
        words = np.array([x & white for x in bbs] + [x & black for x in bbs], dtype="<u8")
        bits = np.unpackbits(words.view(np.uint8), bitorder="little").reshape(12, 8, 8)
        obs = np.zeros(OBSERVATION_SHAPE, dtype=np.float32)
        obs[:12] = bits
        if b.turn == chess.WHITE:
            obs[12] = 1.0
        if b.has_kingside_castling_rights(chess.WHITE):
            obs[13] = 1.0
        if b.has_queenside_castling_rights(chess.WHITE):
            obs[14] = 1.0
        if b.has_kingside_castling_rights(chess.BLACK):
            obs[15] = 1.0
        if b.has_queenside_castling_rights(chess.BLACK):
            obs[16] = 1.0
        if b.ep_square is not None and b.has_legal_en_passant():
            obs[17, b.ep_square >> 3, b.ep_square & 7] = 1.0
        obs[18] = b.halfmove_clock / 100.0
        return obs

    def to_text(self) -> str:
        """Board diagram (White at the bottom, files and ranks labelled), FEN, side to move and the
        moves so far in SAN with move numbers."""
        b = self._board
        lines = []
        for rank in range(7, -1, -1):
            row = []
            for file in range(8):
                p = b.piece_at(rank * 8 + file)
                row.append(p.symbol() if p else ".")
            lines.append(f"{rank + 1} " + " ".join(row))
        lines.append("  a b c d e f g h")
        lines.append(f"FEN: {b.fen()}")
        if self.is_terminal():
            lines.append(f"game over: {self.termination()}, result {self._result_text()}")
        else:
            lines.append(f"to move: {'White' if b.turn == chess.WHITE else 'Black'}")
        moves = b.root().variation_san(b.move_stack) if b.move_stack else "(none)"
        lines.append(f"moves: {moves}")
        return "\n".join(lines)

    def _result_text(self) -> str:
        r = self.returns()
        return "1-0" if r[0] > 0 else ("0-1" if r[0] < 0 else "1/2-1/2")

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"ChessState({self._board.fen()!r}, chess960={self.game.chess960})"

    def action_to_string(self, action: int) -> str:
        """UCI text of ``action`` here: ``"e2e4"``, ``"e7e8n"``; castling ``"e1g1"`` in standard chess and
        king-takes-rook (``"e1h1"``) in Chess960.

        Raises:
            ActionOutOfRangeError: not an int in ``[0, 4672)``.
            IllegalActionError: the action's target square is off the board.
        """
        a = self._check_range(action)
        self._check_on_board(a)
        return action_to_move(a, self._board).uci()

    def string_to_action(self, text: str) -> int:
        """Parses a move in UCI (``"e2e4"``, ``"e7e8q"``, castling as ``"e1g1"`` or ``"e1h1"``) or SAN
        (``"Nf3"``, ``"exd8=N+"``, ``"O-O"``).

        Raises:
            InvalidActionError: not a move's text (syntax), or a null move.
            IllegalActionError: a well-formed move that is not legal here, or ambiguous SAN.
        """
        b = self._board
        t = str(text).strip()
        where = f"in {b.fen()!r}"
        try:
            if _UCI_RE.match(t):
                move = b.parse_uci(t.lower())
            else:
                move = b.parse_san(t)
        except chess.IllegalMoveError as exc:
            raise IllegalActionError(f"illegal move {text!r} {where}") from exc
        except chess.AmbiguousMoveError as exc:
            raise IllegalActionError(f"ambiguous move {text!r} {where}") from exc
        except (chess.InvalidMoveError, ValueError) as exc:
            raise InvalidActionError(f"cannot read a chess move from {text!r} ({exc}) {where}") from exc
        if not move:
            raise InvalidActionError(f"null move {text!r} is not a chess move {where}")
        if self.is_terminal():
            raise IllegalActionError(f"move {text!r}: the game is over ({self.termination()}) {where}")
        return move_to_action(move, b)

    def serialize(self) -> str:
        """FEN of the position (X-FEN castling for Chess960, as python-chess writes it). The move
        history is not kept, so repetitions before it are forgotten."""
        return self._board.fen()

    # -- checks -------------------------------------------------------------------------------

    def _check_range(self, action: Any) -> int:
        try:
            a = operator.index(action)
        except TypeError:
            raise ActionOutOfRangeError(f"chess action {action!r} is not an integer") from None
        if not 0 <= a < NUM_ACTIONS:
            raise ActionOutOfRangeError(f"chess action {a} is outside [0, {NUM_ACTIONS})")
        return a

    def _check_on_board(self, a: int) -> None:
        if ACTION_TO_SQUARE[a] < 0:
            raise IllegalActionError(
                f"action {a} (square {chess.square_name(a // 73)}, plane {a % 73}) leaves the board "
                f"in {self._board.fen()!r}")

    def _check_legal(self, a: int) -> None:
        b = self._board
        where = f"in {b.fen()!r}"
        self._check_on_board(a)
        if self.is_terminal():
            raise IllegalActionError(f"action {a}: the game is over ({self.termination()}) {where}")
        move = action_to_move(a, b)
        # the canonical check rejects a second action for one move (e.g. e1g1 as a plain king step)
        if not b.is_legal(move) or move_to_action(move, b) != a:
            raise IllegalActionError(f"illegal action {a} ({move.uci()}) {where}")


def _compute_outcome(b: chess.Board) -> _Outcome:
    if not any(b.generate_legal_moves()):
        if b.is_check():
            return ([-1.0, 1.0] if b.turn == chess.WHITE else [1.0, -1.0]), "checkmate"
        return [0.0, 0.0], "stalemate"
    if b.is_insufficient_material():
        return [0.0, 0.0], "insufficient material"
    if b.halfmove_clock >= 100:
        return [0.0, 0.0], "fifty-move rule"
    if b.halfmove_clock >= 8 and b.is_repetition(3):
        return [0.0, 0.0], "threefold repetition"
    return None


def _check_status(board: chess.Board, fen: str) -> None:
    status = board.status() & _FATAL_STATUS
    if status:
        reasons = [name for flag, name in _STATUS_NAMES.items() if status & flag]
        raise InvalidStateError(f"FEN {fen!r} is not a playable position: {'; '.join(reasons)}")


def _restore_state(game: "ChessGame", root_fen: str, history: list[int]) -> ChessState:
    s = game.deserialize(root_fen)
    for a in history:
        s.apply_action(a)
    return s


class ChessGame:
    """Standard chess: 2 players, 4672 actions, observation ``[19, 8, 8]``, 1000-ply adjudication cap."""

    name = "chess"
    num_players = 2
    num_actions = NUM_ACTIONS
    observation_shape = OBSERVATION_SHAPE
    max_game_length = MAX_GAME_LENGTH
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True
    chess960 = False

    def __init__(self, *, chess960: bool = False) -> None:
        if chess960:
            raise ValueError("ChessGame(chess960=True): use Chess960Game or games.load('chess960')")
        self.params: dict[str, Any] = {}

    def new_initial_state(self) -> ChessState:
        """The standard starting position."""
        return ChessState(self, chess.Board(chess960=self.chess960))

    def deserialize(self, text: str) -> ChessState:
        """The position of a FEN (clocks optional; Shredder-FEN or X-FEN castling accepted).

        Positions that cannot arise in a game but have well-defined moves (impossible checks, stray
        castling rights, which python-chess drops) are accepted, as perft suites use them.

        Raises:
            InvalidStateError: the FEN cannot be parsed, or has no well-defined moves (a missing or
                extra king, pawns on the first or last rank, the side not to move in check).
        """
        fen = str(text).strip()
        try:
            board = chess.Board(fen, chess960=self.chess960)
        except ValueError as exc:
            raise InvalidStateError(f"bad FEN {text!r}: {exc}") from exc
        _check_status(board, fen)
        return ChessState(self, board)

    def state_from_board(self, board: chess.Board) -> ChessState:
        """Same as ``ChessState.from_board(board, self)``."""
        return ChessState.from_board(board, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChessGame) and other.chess960 == self.chess960

    def __hash__(self) -> int:
        return hash((self.name, self.chess960))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __reduce__(self):
        return (type(self), ())


class Chess960Game(ChessGame):
    """Chess960 (Fischer random chess): as :class:`ChessGame`, one of 960 starting positions.

    Castling is written and encoded king-takes-rook (``"e1h1"``); FENs use X-FEN / Shredder-FEN.
    """

    name = "chess960"
    chess960 = True

    def __init__(self, *, chess960: bool = True) -> None:
        if not chess960:
            raise ValueError("Chess960Game(chess960=False): use ChessGame or games.load('chess')")
        self.params = {"chess960": True}

    def new_initial_state(self, position: Optional[int] = None, *, seed: Optional[int] = None) -> ChessState:
        """A starting position.

        Args:
            position: Scharnagl number 0..959 (518 is the standard start); None draws one at random.
            seed: seed of that draw (None: fresh randomness).

        Raises:
            ValueError: ``position`` is outside 0..959.
        """
        if position is None:
            position = random.Random(seed).randrange(960)
        else:
            position = operator.index(position)
            if not 0 <= position < 960:
                raise ValueError(f"Chess960 position {position} is outside 0..959")
        return ChessState(self, chess.Board.from_chess960_pos(position))
