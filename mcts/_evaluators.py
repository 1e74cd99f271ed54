"""Two evaluators that need no model: uniform priors with random rollouts, and uniform priors with value 0.

Both implement the batched :class:`mcts.Evaluator` protocol, so any search can call them from Python.
``mcts.MCTS`` also recognises them (by exact type) on games with a C interface and then runs them in C
inside its GIL-free loop, with no Python call per simulation.
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

import numpy as np

from mcts._evaluator import uniform_priors


def _num_actions(states: Sequence) -> int:
    return int(states[0].game.num_actions)


def random_playout_returns(state, rng: random.Random, *, seed_bits: int = 64) -> list[float]:
    """Each player's return after uniformly random actions from ``state`` to the end (``state`` is
    not changed). A state with a C interface plays out in C (``random_rollout``, seeded with
    ``seed_bits`` bits of ``rng``); any other state through ``clone`` / ``legal_actions`` /
    ``apply_action``, drawing from ``rng``."""
    fast = getattr(state, "random_rollout", None)
    if fast is not None:
        r0 = float(fast(rng.getrandbits(seed_bits)))
        return [r0, -r0]
    s = state.clone()
    while not s.is_terminal():
        s.apply_action(rng.choice(s.legal_actions()))
    return [float(r) for r in s.returns()]


class UniformEvaluator:
    """Uniform priors over the legal actions and value 0 for every state."""

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Returns priors ``[B, num_actions]`` (uniform on legal actions) and values ``[B]`` (zeros)."""
        if not states:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        return uniform_priors(states, _num_actions(states)), np.zeros(len(states), np.float32)

    def __repr__(self) -> str:
        return "UniformEvaluator()"


class RolloutEvaluator:
    """Uniform priors; the value is the mean return of ``num_rollouts`` uniformly random playouts.

    On states with a C interface the playouts run in C (``CState.random_rollout``); other states are
    played out through ``clone`` / ``legal_actions`` / ``apply_action``.

    Args:
        num_rollouts: playouts per state (their returns are averaged).
        seed: seeds the playouts (the same seed and calls give the same values).

    Raises:
        ValueError: ``num_rollouts`` is not a positive integer.
    """

    def __init__(self, num_rollouts: int = 1, seed: Optional[int] = None) -> None:
        if isinstance(num_rollouts, bool) or not isinstance(num_rollouts, int) or num_rollouts < 1:
            raise ValueError(f"RolloutEvaluator: num_rollouts must be a positive integer, got {num_rollouts!r}")
        self.num_rollouts = num_rollouts
        self.seed = seed
        self._rng = random.Random(seed)

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Returns priors ``[B, num_actions]`` (uniform on legal actions) and values ``[B]`` (mean
        playout return for each state's player to move)."""
        if not states:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        values = np.zeros(len(states), np.float32)
        for i, s in enumerate(states):
            player = s.current_player()
            total = 0.0
            for _ in range(self.num_rollouts):
                total += self._playout(s, player)
            values[i] = total / self.num_rollouts
        return uniform_priors(states, _num_actions(states)), values

    def _playout(self, state, player: int) -> float:
        if state.is_terminal():
            return float(state.returns()[player]) if player >= 0 else 0.0
        return random_playout_returns(state, self._rng)[player]

    def __repr__(self) -> str:
        return f"RolloutEvaluator(num_rollouts={self.num_rollouts}, seed={self.seed})"
