"""Game rules: the game protocol, its errors and the games (tic-tac-toe, Connect Four, Hex, chess)."""
from games._errors import (
    ActionOutOfRangeError,
    GameError,
    IllegalActionError,
    InvalidActionError,
    InvalidParameterError,
    InvalidStateError,
    UnknownGameError,
)
from games._protocol import TERMINAL_PLAYER, Game, State, actions_to_strings
from games._registry import game_names, load

__all__ = [
    "ActionOutOfRangeError",
    "Game",
    "GameError",
    "IllegalActionError",
    "InvalidActionError",
    "InvalidParameterError",
    "InvalidStateError",
    "State",
    "TERMINAL_PLAYER",
    "UnknownGameError",
    "actions_to_strings",
    "game_names",
    "load",
]
