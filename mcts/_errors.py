"""The typed errors of the search package, in one place.

Bad input (a game a search cannot handle, a position that cannot be solved) raises a ``ValueError``
subclass; a fault of something the search drives (an evaluator's model returning the wrong arrays)
raises a ``RuntimeError`` subclass.
"""
from __future__ import annotations

from typing import Any

from mcts._c4solver import UnsolvableError

__all__ = ["EvaluatorOutputError", "SearchError", "UnsolvableError", "UnsupportedGameError", "require_two_player_zero_sum"]


class SearchError(Exception):
    """Base of the errors the searches raise on their own account."""


class UnsupportedGameError(SearchError, ValueError):
    """A search was given a game it cannot search (players, chance, simultaneous moves).

    Every search raises it at construction, with the game and the reason in the message.
    """


class EvaluatorOutputError(SearchError, RuntimeError):
    """An evaluator (its model) returned arrays of the wrong shape, type or values: a fault of the
    model, not of the caller's input."""


def require_two_player_zero_sum(game: Any, search: str) -> None:
    """The one check every search makes at construction: two players, zero-sum, sequential moves,
    no chance (a game that does not say is taken to be such a game).

    Args:
        game: the game to search.
        search: the search's name, for the message.

    Raises:
        UnsupportedGameError: the game is not one the searches can handle; the message names the
            search, the game and the reason.
    """
    players = getattr(game, "num_players", 2)
    if players != 2:
        raise UnsupportedGameError(f"{search} needs a two-player game, {game!r} has {players} players")
    if not getattr(game, "is_zero_sum", True):
        raise UnsupportedGameError(f"{search} needs a zero-sum game, {game!r} is not")
    if getattr(game, "has_chance", False) or getattr(game, "is_simultaneous", False):
        raise UnsupportedGameError(f"{search} cannot search {game!r}: chance or simultaneous moves")
