"""The network-free chess evaluator for MCTS under UCI (until the C batched evaluator replaces it)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import chess
import numpy as np

from mcts import uniform_priors

__all__ = ["ChessHeuristicEvaluator"]


class ChessHeuristicEvaluator:
    """Uniform priors over the legal moves, and the alpha-beta's static evaluation (material and
    piece-square tables) squashed to a value, ``tanh(cp / 400)`` for the player to move.

    Converts every leaf to python-chess and evaluates in Python: slow, kept only until the C
    evaluation is exposed as a batched evaluator.
    """

    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Priors ``[B, num_actions]`` and values ``[B]`` for a batch of chess states."""
        # the python-chess evaluation has no public name yet; this module goes with it
        from mcts._chess_eval import evaluate

        if not states:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        priors = uniform_priors(states, states[0].game.num_actions)
        values = np.array([math.tanh(evaluate(_board_of(s)) / 400.0) for s in states], dtype=np.float32)
        return priors, values


def _board_of(state: Any) -> chess.Board:
    board = getattr(state, "board", None)
    board = board() if callable(board) else board
    if not isinstance(board, chess.Board):
        raise ValueError(f"cannot read a chess board from {state!r}")
    return board
