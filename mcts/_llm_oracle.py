"""The oracle protocol: what a language-model search asks of a model (proposals, values, fallback).

``mcts`` defines it and ``models.llm.LLMOracle`` implements it, so that LLM minimax sees a language
model the way MCTS sees an evaluator: through a protocol, never by importing ``models``.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mcts._evaluator import Evaluator


@runtime_checkable
class Oracle(Protocol):
    """Move proposals and position values of a model for one game.

    Attributes:
        backend: the model's backend; its ``usage`` is what ``LLMBudget`` charges (None: time only).
        fallback: a batched heuristic evaluator that answers when the model cannot.
        cancel: set by the search to an event that abandons calls in flight when it is set.
        stats: counters of the oracle (illegal answers, fallbacks, timeouts), reported by the search.
    """

    backend: Any
    fallback: Evaluator
    cancel: threading.Event | None
    stats: Mapping[str, int]

    def propose(self, states: Sequence, k: int | None = None, *, timeout: float | None = None) -> list[list[int]]:
        """Legal actions the model proposes for each state, most likely first (possibly none)."""

    def values(self, states: Sequence, *, timeout: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values float32 ``[B]`` in [-1, 1] for each state's player to move, and bool ``[B]``: which
        came from the fallback."""
