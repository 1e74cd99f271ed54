"""``games.load(name, **params)``: one entry point for every game."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from games._errors import GameError, InvalidParameterError, UnknownGameError

# name -> (module, factory attribute); aliases map OpenSpiel's names onto ours
_GAMES: dict[str, tuple[str, str]] = {
    "tictactoe": ("games.tictactoe", "TicTacToeGame"),
    "connect4": ("games.connect4", "Connect4Game"),
    "hex": ("games.hex", "HexGame"),
    "chess": ("games.chessboard", "load_chess"),  # backend="python-chess" for the reference
    "chess960": ("games.chessboard", "load_chess960"),
}
OPENSPIEL_PREFIX = "openspiel:"
_ALIASES = {"tic_tac_toe": "tictactoe", "connect_four": "connect4", "connectfour": "connect4"}


def game_names() -> list[str]:
    """Names ``load`` accepts."""
    return sorted(_GAMES)


def load(name: str, **params: Any):
    """Builds a game by name.

    Args:
        name: one of :func:`game_names` (OpenSpiel's ``connect_four`` and ``tic_tac_toe`` work too),
            or ``"openspiel:<name>"`` for any sequential OpenSpiel game (``games.openspiel``), with
            OpenSpiel's parameters in the name (``"openspiel:go(board_size=9)"``) or in ``params``.
        **params: game parameters, e.g. ``board_size=11`` for Hex.

    Raises:
        UnknownGameError: the name is not a game of plytree.
        ValueError: a parameter is out of range.
    """
    if name.lower().startswith(OPENSPIEL_PREFIX):
        from games.openspiel import load_openspiel  # OpenSpiel stays an optional import

        return load_openspiel(name, **params)
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _GAMES:
        raise UnknownGameError(f"unknown game {name!r}; known games: {', '.join(game_names())}")
    module, attr = _GAMES[key]
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    try:
        return factory(**params)
    except GameError:
        raise
    except TypeError as exc:   # a parameter the game does not take
        raise InvalidParameterError(f"game {key!r} does not take {sorted(params)}: {exc}") from None
    except ValueError as exc:  # a value out of range
        raise InvalidParameterError(f"game {key!r}: {exc}") from None
