"""Errors of the game layer: syntax kept apart from legality, as python-chess does."""
from __future__ import annotations


class GameError(ValueError):
    """Base class of bad-input errors in games."""


class InvalidActionError(GameError):
    """An action's text cannot be parsed (syntax)."""


class ActionOutOfRangeError(InvalidActionError):
    """An action id is not an integer inside the action space."""


class IllegalActionError(GameError):
    """An action is well formed but not legal in the position."""


class InvalidStateError(GameError):
    """A serialised position (FEN, move string) cannot be parsed or is not a valid position."""


class UnknownGameError(GameError):
    """``games.load`` was given a name it does not know."""


class InvalidParameterError(GameError):
    """A game parameter that the game does not take, or a value out of its range."""
