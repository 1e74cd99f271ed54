"""The evaluator protocol: a batch of states in, policy priors and values out.

ONNX networks, random rollouts, heuristics and language models all implement it; a search sees
nothing else of them. Caching lives inside an evaluator, keyed on the state hash.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Evaluator(Protocol):
    """Batched evaluation of states."""

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Evaluates a batch of non-terminal states.

        Args:
            states: ``B`` states of one game (each follows the ``games.State`` protocol).

        Returns:
            priors: float32 ``[B, num_actions]``, probabilities over the legal actions (zero elsewhere,
                each row summing to one).
            values: float32 ``[B]``, each state's value in [-1, 1] for its player to move.
        """


def uniform_priors(states: Sequence, num_actions: int) -> np.ndarray:
    """float32 ``[B, num_actions]``: equal probability on each state's legal actions."""
    priors = np.zeros((len(states), num_actions), dtype=np.float32)
    for i, s in enumerate(states):
        legal = s.legal_actions()
        if legal:
            priors[i, legal] = 1.0 / len(legal)
    return priors
