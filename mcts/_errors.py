"""The typed errors of the search package, in one place.

Bad input (a game a search cannot handle, a position that cannot be solved) raises a ``ValueError``
subclass; a fault of something the search drives (an evaluator's model returning the wrong arrays)
raises a ``RuntimeError`` subclass.
"""
from __future__ import annotations

from mcts._c4solver import UnsolvableError

__all__ = ["EvaluatorOutputError", "SearchError", "UnsolvableError", "UnsupportedGameError"]


class SearchError(Exception):
    """Base of the errors the searches raise on their own account."""


class UnsupportedGameError(SearchError, ValueError):
    """A search was given a game it cannot search (players, chance, simultaneous moves).

    Every search raises it at construction, with the game and the reason in the message.
    """


class EvaluatorOutputError(SearchError, RuntimeError):
    """An evaluator (its model) returned arrays of the wrong shape, type or values: a fault of the
    model, not of the caller's input."""
