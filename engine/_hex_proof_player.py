"""The Hex MCTS player that asks the solver first: proofs into play.

``ProofFirstPlayer`` wraps a searching player. On a Hex position the proof-number solver takes
(``mcts.solve_hex``'s domain: up to 8 x 8, swap closed) it first spends a small wall budget
(``root_time``, 1 s by default) on the root: a proven win is played with the proof's winning move,
so every position the solver proves within the budget is played perfectly. Otherwise (or on a
proven loss, where the search picks the most practical defence) the wrapped search runs as usual,
on what is left of a move-time or clock budget; a proven loss is reported as proven.

Tournament and ``plytree play`` specs (``engine/_tournament_players.py``) reach it through two
keys of ``kind=mcts``: ``solver_time`` (seconds at the root; 0 turns it off; default 1 on Hex up to
8 x 8) and ``solver_nodes`` (positions the solver may spend on each MCTS leaf through
``mcts.SolverEvaluator``, whose table the root search shares; 0 turns it off; default 64 there).
How often each names the winner of the 49 solved 7x7 openings: ``bench/bench_hex_openings.py``,
figures in ``models/zoo/hex7.md``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Optional

from engine._players import Decision, WrappedPlayer
from mcts import Limit, SearchResult

DEFAULT_ROOT_TIME = 1.0      # seconds of solver at the root, Hex boards up to 8 x 8
DEFAULT_LEAF_NODES = 64      # solver positions per MCTS leaf there (about 1 s per 800 simulations on 7x7)
CLOCK_SHARE = 1.0 / 30.0     # at most this share of the mover's clock goes to the root solver
MOVETIME_SHARE = 0.5         # at most this share of a fixed move time goes to the root solver
SOLVER_KEYS = ("solver_time", "solver_nodes")
SOLVER_MAX_SIZE = 8          # mcts.solve_hex's largest board (a carrier is one 64-bit word of cells)


class SolverOptionError(ValueError):
    """A ``solver_time`` / ``solver_nodes`` value that cannot be used."""


@dataclasses.dataclass(frozen=True)
class SolverOptions:
    """How a Hex MCTS player uses the solver.

    Attributes:
        root_time: wall seconds of solver at the root before searching (0: none).
        leaf_nodes: solver positions per MCTS leaf through ``SolverEvaluator`` (0: none).
    """

    root_time: float = 0.0
    leaf_nodes: int = 0


def solver_options(options: Mapping[str, Any], game: Any) -> SolverOptions:
    """The solver options of an ``mcts`` player spec for ``game``.

    Hex boards the solver takes get ``solver_time`` = 1 s and ``solver_nodes`` = 64 unless the spec
    says otherwise; other games and larger boards get none, and asking for it there is an error.

    Raises:
        SolverOptionError: a negative or non-numeric value, or a solver key for a game or board
            size the solver does not take.
    """
    time_v = options.get("solver_time")
    nodes_v = options.get("solver_nodes")
    if time_v is not None and (isinstance(time_v, bool) or not isinstance(time_v, (int, float)) or not time_v >= 0):
        raise SolverOptionError(f"solver_time must be a non-negative number of seconds, got {time_v!r}")
    if nodes_v is not None and (isinstance(nodes_v, bool) or not isinstance(nodes_v, int) or nodes_v < 0):
        raise SolverOptionError(f"solver_nodes must be a non-negative integer, got {nodes_v!r}")
    takes = _solver_takes(game)
    if not takes:
        if time_v or nodes_v:
            size = getattr(game, "board_size", None)
            where = f"hex {size}x{size}" if game.name == "hex" else game.name
            raise SolverOptionError(f"solver_time / solver_nodes need the Hex solver, which takes Hex boards "
                                    f"up to 8x8, not {where}")
        return SolverOptions()
    return SolverOptions(float(DEFAULT_ROOT_TIME if time_v is None else time_v),
                         int(DEFAULT_LEAF_NODES if nodes_v is None else nodes_v))


def _solver_takes(game: Any) -> bool:
    return getattr(game, "name", "") == "hex" and getattr(game, "board_size", 99) <= SOLVER_MAX_SIZE


class ProofFirstPlayer(WrappedPlayer):
    """A searching player that plays the solver's proven wins (Hex up to 8 x 8).

    Args:
        player: the wrapped player (``SearchPlayer``); its ``search`` and ``default_limit`` are
            exposed, so front ends that read them see the search.
        root_time: wall seconds the solver may spend on the root per move (> 0).
        solver: a ``mcts.SolverEvaluator`` whose table the root search uses (the one of the
            search's leaves, so both share their proofs); None: its own.

    Raises:
        ValueError: ``root_time`` is not a positive number.
    """

    def __init__(self, player: Any, *, root_time: float = DEFAULT_ROOT_TIME, solver: Any = None) -> None:
        if isinstance(root_time, bool) or not isinstance(root_time, (int, float)) or not root_time > 0:
            raise SolverOptionError(f"root_time must be a positive number of seconds, got {root_time!r}")
        self.player = player
        self.name = player.name
        self.root_time = float(root_time)
        self.proofs = 0               # moves decided by a proof so far
        self._shared = solver
        self._own: Any = None

    @property
    def search(self) -> Any:
        return getattr(self.player, "search", None)

    @property
    def default_limit(self) -> Optional[Limit]:
        return getattr(self.player, "default_limit", None)

    @default_limit.setter
    def default_limit(self, limit: Optional[Limit]) -> None:
        self.player.default_limit = limit

    def _solver(self) -> Any:
        if self._shared is not None:
            return self._shared
        if self._own is None:
            import mcts

            self._own = mcts.SolverEvaluator(mcts.UniformEvaluator())   # holds the table; never evaluates
        return self._own

    def _budget(self, state: Any, limit: Optional[Limit]) -> float:
        budget = self.root_time
        if limit is not None and limit.time is not None:
            budget = min(budget, MOVETIME_SHARE * limit.time)
        if limit is not None and limit.has_clock:
            clock = limit.wtime if state.current_player() == 0 else limit.btime
            if clock is not None:
                budget = min(budget, CLOCK_SHARE * clock)
        return budget

    def prove(self, state: Any, time_limit: float) -> Optional[SearchResult]:
        """The solver's verdict on ``state`` within ``time_limit`` seconds, or None (unproven / not taken)."""
        if time_limit <= 0:
            return None
        start = time.perf_counter()
        found = self._solver().prove(state, time_limit=time_limit)
        if found is None or found[0] == 0:
            return None
        value, line = found
        return SearchResult(best_action=line[0], value=float(value), actions=tuple(state.legal_actions()), pv=line,
                            depth=len(line), seconds=time.perf_counter() - start, is_proven=True,
                            proven_value=value, stop_reason="proven")

    def choose(self, state: Any, limit: Optional[Limit] = None) -> Decision:
        start = time.perf_counter()
        lim = limit if limit is not None and not limit.is_unbounded else (self.default_limit or limit)
        proof = self.prove(state, self._budget(state, lim))
        if proof is not None and proof.proven_value == 1:
            self.proofs += 1
            return Decision(proof.best_action, proof)
        decision = self.player.choose(state, _after(lim, state, time.perf_counter() - start))
        if proof is None or decision.result is None:
            return decision
        lost = dataclasses.replace(decision.result, value=-1.0, is_proven=True, proven_value=-1,
                                   extra={**decision.result.extra, "proof": proof.pv})
        return Decision(decision.action, lost)


def _after(limit: Optional[Limit], state: Any, spent: float) -> Optional[Limit]:
    """``limit`` less the ``spent`` seconds of a move time or of the mover's clock."""
    if limit is None or spent <= 0:
        return limit
    changes: dict[str, float] = {}
    if limit.time is not None:
        changes["time"] = max(0.01, limit.time - spent)
    key = "wtime" if state.current_player() == 0 else "btime"
    if getattr(limit, key) is not None:
        changes[key] = max(0.01, getattr(limit, key) - spent)
    return limit.replace(**changes) if changes else limit


def hex_mcts_player(options: Mapping[str, Any], game: Any, evaluator: Any, *, name: str, limit: Limit,
                    seed: int = 0, search_options: Optional[Mapping[str, Any]] = None) -> Any:
    """An ``mcts`` player from a spec's options: ``SearchPlayer`` over ``mcts.MCTS``, its leaves
    through ``SolverEvaluator`` when ``solver_nodes`` > 0, wrapped in ``ProofFirstPlayer`` when
    ``solver_time`` > 0 (by default on Hex up to 8 x 8; see ``solver_options``).

    Raises:
        SolverOptionError: bad ``solver_time`` / ``solver_nodes`` (see ``solver_options``).
    """
    import mcts
    from engine._players import SearchPlayer

    opts = solver_options(options, game)
    if opts.leaf_nodes > 0:
        evaluator = mcts.SolverEvaluator(evaluator, max_nodes=opts.leaf_nodes)
    player = SearchPlayer(mcts.MCTS(game, evaluator, seed=seed, **dict(search_options or {})), name, limit)
    if opts.root_time <= 0:
        return player
    shared = evaluator if isinstance(evaluator, mcts.SolverEvaluator) else None
    return ProofFirstPlayer(player, root_time=opts.root_time, solver=shared)
