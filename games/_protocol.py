"""The game protocol: what every game and position offers to searches, networks and front ends.

Verbs follow OpenSpiel (``legal_actions``, ``apply_action``, ``clone``, ``is_terminal``, ``returns``,
``current_player``). Actions are ints in ``[0, game.num_actions)``.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

TERMINAL_PLAYER = -4  # current_player() of a finished game (as OpenSpiel)


@runtime_checkable
class State(Protocol):
    """A position. Mutable: ``apply_action`` changes it in place; ``clone`` copies it."""

    game: "Game"

    def legal_actions(self) -> list[int]:
        """Legal actions, ascending; empty when the game is over."""

    def legal_actions_mask(self) -> np.ndarray:
        """Boolean ``[num_actions]``, true at legal actions."""

    def apply_action(self, action: int) -> None:
        """Plays a legal action WITHOUT checking it (fast path for searches)."""

    def apply_action_checked(self, action: int) -> None:
        """Plays an action after checking it; raises ``ActionOutOfRangeError`` / ``IllegalActionError``."""

    def clone(self) -> "State":
        """Independent copy."""

    def is_terminal(self) -> bool: ...

    def returns(self) -> list[float]:
        """One return per player, in [-1, 1]; zeros while the game runs."""

    def current_player(self) -> int:
        """Player to move, or ``TERMINAL_PLAYER`` when the game is over."""

    def hash(self) -> int:
        """64-bit key; one position reached by two move orders has one key."""

    def observation(self) -> np.ndarray:
        """float32 planes of shape ``game.observation_shape``, from the view of the player to move."""

    def to_text(self) -> str:
        """A rendering of the board plus the moves so far, for people and language models."""

    def action_to_string(self, action: int) -> str: ...

    def string_to_action(self, text: str) -> int:
        """Parses a move's text; raises ``InvalidActionError`` (syntax) or ``IllegalActionError``."""

    def serialize(self) -> str:
        """Text that ``game.deserialize`` turns back into this position (FEN, or the move string)."""

    def history(self) -> list[int]:
        """Actions played from the game's initial state (or from the loaded position)."""


@runtime_checkable
class Game(Protocol):
    """What a game is. Build one with ``games.load(name, **params)``."""

    name: str
    params: dict[str, Any]
    num_players: int
    num_actions: int
    observation_shape: tuple[int, ...]
    max_game_length: int
    has_chance: bool
    is_simultaneous: bool
    is_zero_sum: bool

    def new_initial_state(self) -> State: ...

    def deserialize(self, text: str) -> State:
        """The position that ``State.serialize`` wrote; raises ``InvalidStateError``."""


def perspective_planes(own: np.ndarray, other: np.ndarray, player: int, shape: Sequence[int]) -> np.ndarray:
    """Three float32 planes: the mover's stones, the opponent's, and a constant plane of the
    mover's id. The layout of the board games' ``observation`` (tic-tac-toe, Connect Four and Hex
    write the same planes straight from their C position, without numpy)."""
    out = np.empty((3, *shape), dtype=np.float32)
    out[0] = own.reshape(shape)
    out[1] = other.reshape(shape)
    out[2] = float(player)
    return out


def actions_to_strings(state: State, actions: Sequence[int]) -> list[str]:
    """Each action of a line as text, in the position where it is played, as far as the line
    stays legal (a principal variation can end in a position the search did not finish)."""
    s = state.clone()
    out = []
    for a in actions:
        if s.is_terminal() or a not in s.legal_actions():
            break
        out.append(s.action_to_string(a))
        s.apply_action(a)
    return out
