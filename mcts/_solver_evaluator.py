"""``SolverEvaluator``: an evaluator that hands the leaves a solver proves their exact values.

Wraps any batched evaluator. Each leaf of a game the Hex solver takes (``mcts.solve_hex``: Hex up
to 8 x 8, swap closed) is first given to the proof-number search with a small budget; a proven leaf
gets its exact value (+1 / -1 for the player to move) and, when won, all of its prior on the winning
move, so MCTS backs up the proof's value and plays the proven move. The other leaves keep the
wrapped evaluator's output. Caching of proofs lives in the solver's transposition table.
"""
from __future__ import annotations

import threading
from typing import Any, Optional, Sequence

import numpy as np

from mcts._hex_dfpn import HexDfpn, is_solvable_hex, state_stone_sets


class SolverEvaluator:
    """A batched evaluator: the solver's proofs where it finds them, the wrapped evaluator elsewhere.

    Args:
        inner: the evaluator for unproven leaves (``mcts.Evaluator``).
        max_nodes: positions the solver may evaluate per leaf (each costs about 0.1-0.3 ms).

    Raises:
        ValueError: ``inner`` has no ``evaluate`` method, or ``max_nodes`` is not a positive integer.
    """

    def __init__(self, inner: Any, *, max_nodes: int = 64) -> None:
        if not hasattr(inner, "evaluate"):
            raise ValueError(f"evaluator {inner!r} has no evaluate(states) method")
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
        self.inner = inner
        self.max_nodes = max_nodes
        self.proven = 0          # leaves proven so far
        self.tried = 0           # leaves given to the solver so far
        self._solvers: dict[int, HexDfpn] = {}
        self._lock = threading.Lock()

    def evaluate(self, states: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Priors ``[B, num_actions]`` and values ``[B]``, exact for the leaves the solver proves."""
        priors, values = self.inner.evaluate(states)
        priors = np.array(priors, dtype=np.float32, copy=True)
        values = np.array(values, dtype=np.float32, copy=True)
        with self._lock:
            for i, state in enumerate(states):
                if not is_solvable_hex(state):
                    continue
                size, black, white, to_move = state_stone_sets(state)
                solver = self.solver_for(size)
                self.tried += 1
                verdict = solver.solve_bits(black, white, to_move, max_nodes=self.max_nodes)
                if verdict == 0:
                    continue
                self.proven += 1
                values[i] = float(verdict)
                if verdict == 1:
                    line, _ = solver.principal_variation(black, white, to_move, max_length=1)
                    priors[i] = 0.0
                    priors[i, line[0]] = 1.0
        return priors, values

    def prove(self, state: Any, *, max_nodes: Optional[int] = None, time_limit: Optional[float] = None,
              pv_length: Optional[int] = None) -> Optional[tuple[int, tuple[int, ...]]]:
        """The solver's verdict on one position with this evaluator's table (a root search; holds ``lock``).

        Args:
            state: any state; only those ``mcts.solve_hex`` takes are searched.
            max_nodes: positions the search may evaluate (None: no limit).
            time_limit: seconds the search may take (None: no limit).
            pv_length: plies of the proof's main line to return (None: all of it).

        Returns:
            None when the solver does not take ``state``; else ``(verdict, line)``: verdict +1 / -1
            for the player to move (0: unproven within the limits, with an empty line), line the
            proof's main line starting with the move to play.
        """
        if not is_solvable_hex(state):
            return None
        size, black, white, to_move = state_stone_sets(state)
        with self._lock:
            solver = self.solver_for(size)
            verdict = solver.solve_bits(black, white, to_move, max_nodes=max_nodes, time_limit=time_limit)
            if verdict == 0:
                return 0, ()
            kw = {} if pv_length is None else {"max_length": pv_length}
            line, _ = solver.principal_variation(black, white, to_move, **kw)
        return int(verdict), tuple(int(a) for a in line)

    @property
    def lock(self) -> threading.Lock:
        """Held while a solver of this evaluator searches (a solver runs one search at a time)."""
        return self._lock

    def solver_for(self, size: int) -> HexDfpn:
        """The solver (and transposition table) this evaluator uses on ``size`` x ``size`` boards
        (a search on it must hold ``lock``)."""
        solver = self._solvers.get(size)
        if solver is None:
            solver = self._solvers[size] = HexDfpn(size)
        return solver

    def __repr__(self) -> str:
        return f"SolverEvaluator({self.inner!r}, max_nodes={self.max_nodes})"
