"""Type stubs for ``mcts._chess_evaluator``: the C chess evaluation as a batched evaluator
(``mcts.ChessEvaluator``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

class ChessEvaluator:
    quiescence: bool
    temperature: float
    def __init__(self, *, quiescence: bool = True, temperature: float = 300.0) -> None: ...
    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Priors ``[B, 4672]`` (probabilities over legal moves) and values ``[B]`` for the side to move."""
        ...
