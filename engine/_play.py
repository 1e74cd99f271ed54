"""``play_game``: the one game loop shared by ``plytree play``, tournaments and self-play."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from games import GameError
from mcts import Limit

# adjudicate(state, record) -> None to go on, or (returns, reason) to end the game there
Adjudicator = Callable[[object, "GameRecord"], Optional[tuple[Sequence[float], str]]]


@dataclass
class GameRecord:
    """A finished (or aborted) game.

    Attributes:
        game: the game's name.
        players: the players' names, in seat order (seat 0 moves first in the initial state).
        start: serialised starting position.
        actions: actions played, in order.
        moves: the same as text (``action_to_string`` in the position it was played).
        returns: each seat's return.
        reason: why it ended ("terminal", "illegal move by X", "error by X: ...", "max length",
            "time forfeit by X ...", or an adjudicator's reason).
        seconds: each move's thinking time.
        scores: each move's value for the player who made it, in [-1, 1] (None where the player
            gave no analysis).
        clock_left: each move's remaining clock of the player who made it, after the increment
            (None for a player without a clock).
    """

    game: str
    players: list[str]
    start: str
    actions: list[int] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    reason: str = ""
    seconds: list[float] = field(default_factory=list)
    scores: list[Optional[float]] = field(default_factory=list)
    clock_left: list[Optional[float]] = field(default_factory=list)

    @property
    def winner(self) -> Optional[int]:
        """Seat of the winner, or None for a draw."""
        if not self.returns or self.returns[0] == self.returns[1]:
            return None
        return 0 if self.returns[0] > self.returns[1] else 1


def play_game(
    game,
    players: Sequence,
    *,
    opening: Optional[Sequence[int] | str] = None,
    limits: Optional[Sequence[Limit] | Limit] = None,
    on_move: Optional[Callable[[object, int, object], None]] = None,
    max_moves: Optional[int] = None,
    clocks: Optional[Sequence[Optional[tuple[float, float]]]] = None,
    adjudicate: Optional[Adjudicator] = None,
    time_margin: float = 0.0,
) -> GameRecord:
    """Plays one game between ``players`` (seat i plays player i of the game).

    Args:
        game: a game from ``games.load``.
        players: one player per seat.
        opening: actions to play first, or a serialised start position (FEN, move string).
        limits: the limit for every move, or one per seat. Default: ``Limit(simulations=200)``.
        on_move: called after each move with ``(state, action, decision)``, e.g. to print the board.
        max_moves: adjudicate a draw after this many moves (default: the game's maximum length).
        clocks: real clocks, one per seat: ``(base, increment)`` in seconds, or None for a seat
            without a clock. The seat's limit gets ``wtime``/``btime``/``winc``/``binc`` (seat 0 is
            "w") before each move; a player whose move takes longer than its clock loses on time.
        adjudicate: called after each move with ``(state, record)``; returning ``(returns, reason)``
            ends the game with that result.
        time_margin: seconds a move may overrun its clock before it loses on time (the clock then
            stands at 0 plus the increment), as cutechess's ``timemargin``.

    Returns:
        The record. A player that raises or returns an illegal action loses the game; the
        reason says which and why.
    """
    if len(players) != game.num_players:
        raise ValueError(f"{game.name} needs {game.num_players} players, got {len(players)}")
    if isinstance(opening, str):
        state = game.deserialize(opening)
    else:
        state = game.new_initial_state()
        for a in opening or ():
            state.apply_action_checked(a)
    if limits is None:
        limits = Limit(simulations=200)
    seat_limits = list(limits) if isinstance(limits, (list, tuple)) else [limits] * game.num_players
    record = GameRecord(game.name, [p.name for p in players], state.serialize())
    for p in players:
        p.new_game()
    cap = max_moves if max_moves is not None else game.max_game_length
    clock_of = list(clocks) if clocks is not None else [None] * game.num_players
    left = [c[0] if c is not None else None for c in clock_of]
    while not state.is_terminal():
        if len(record.actions) >= cap:
            record.returns = [0.0] * game.num_players
            record.reason = "max length"
            return record
        seat = state.current_player()
        player = players[seat]
        limit = seat_limits[seat]
        if clocks is not None:
            limit = _with_clocks(limit, left, clock_of)
        t0 = time.perf_counter()
        try:
            decision = player.choose(state.clone(), limit)
        except GameError as exc:  # a player that names an illegal move itself (e.g. a UCI engine)
            return _forfeit(record, game, seat, f"illegal move by {player.name}: {exc}")
        except Exception as exc:  # a crashing player loses, the loop survives
            return _forfeit(record, game, seat, f"error by {player.name}: {type(exc).__name__}: {exc}")
        spent = time.perf_counter() - t0
        record.seconds.append(spent)
        if left[seat] is not None:
            if spent > left[seat] + time_margin:
                return _forfeit(record, game, seat,
                                f"time forfeit by {player.name} (move took {spent:.3f} s, {left[seat]:.3f} s left)")
            left[seat] = max(left[seat] - spent, 0.0) + clock_of[seat][1]
        action = decision.action
        text = None
        try:
            text = state.action_to_string(action)
            state.apply_action_checked(action)
        except (GameError, TypeError) as exc:
            return _forfeit(record, game, seat, f"illegal move by {player.name}: {exc}")
        record.actions.append(action)
        record.moves.append(text)
        result = getattr(decision, "result", None)
        record.scores.append(None if result is None else float(result.value))
        record.clock_left.append(left[seat])
        if on_move is not None:
            on_move(state, action, decision)
        if adjudicate is not None and not state.is_terminal():
            verdict = adjudicate(state, record)
            if verdict is not None:
                record.returns = [float(x) for x in verdict[0]]
                record.reason = verdict[1]
                return record
    record.returns = list(state.returns())
    record.reason = "terminal"
    return record


def _with_clocks(limit: Limit, left: list, clock_of: list) -> Limit:
    """``limit`` with the clocks of both seats (UCI ``go wtime btime winc binc``, in seconds)."""
    inc = [c[1] if c is not None else None for c in clock_of]
    return limit.replace(wtime=left[0], btime=left[1] if len(left) > 1 else None,
                         winc=inc[0], binc=inc[1] if len(inc) > 1 else None)


def _forfeit(record: GameRecord, game, seat: int, reason: str) -> GameRecord:
    record.returns = [1.0] * game.num_players
    record.returns[seat] = -1.0
    record.reason = reason
    return record
