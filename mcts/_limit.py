"""``Limit``: the one search-limit type every search accepts, and ``SearchResult``: what a search returns."""
from __future__ import annotations

import dataclasses
import math
import enum
from dataclasses import dataclass, field
from typing import Optional, Union


class StopReason(str, enum.Enum):
    """Why a search (or the budget controller) ended a search.

    A ``str`` enum: ``result.stop_reason == "time"`` and ``f"{result.stop_reason}"`` read as before.
    """

    NONE = ""                   # not stopped (an interim result), or nothing to report
    SIMULATIONS = "simulations"  # Limit.simulations reached
    NODES = "nodes"             # Limit.nodes reached
    TIME = "time"               # the move time or a clock deadline
    DEPTH = "depth"             # Limit.depth reached (or the deepest depth the search can do)
    MATE = "mate"               # Limit.mate: a mate that short was found
    PROVEN = "proven"           # the root's game-theoretic value is known
    TERMINAL = "terminal"       # the root is a finished game
    STOPPED = "stopped"         # stop() was called
    PRUNED = "pruned"           # smart pruning: the best action can no longer change
    MEMORY = "memory"           # the tree hit its memory limit, or an allocation failed
    STABLE = "stable"           # budget controller: the best move was stable, time saved
    ONLY_MOVE = "only move"     # budget controller: a single legal move
    LIMIT = "limit"             # budget controller: a limit the search does not count itself
    BUDGET = "budget"           # the search's should_stop hook asked it to stop
    LLM_CALLS = "llm_calls"     # Limit.llm_calls spent
    TOKENS = "tokens"           # Limit.tokens spent
    MONEY = "money"             # Limit.money spent
    GREEDY = "greedy"           # a one-call player: the model's choice is the move
    FALLBACK = "fallback"       # the model failed: a fallback chose the move

    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def of(cls, reason: Union[str, "StopReason"]) -> "StopReason":
        """The member for ``reason`` (a member or its value).

        Raises:
            ValueError: ``reason`` names no stop reason.
        """
        try:
            return cls(reason)
        except ValueError:
            raise ValueError(f"unknown stop reason {reason!r}; one of {[m.value for m in cls]}") from None


@dataclass(frozen=True)
class Limit:
    """How much a search may spend. Unset fields (None) do not limit.

    A search stops at the first limit reached. Clock fields follow UCI ``go`` (times in seconds
    here, not milliseconds); the budget controller (``mcts.budget``) turns them into deadlines.

    Attributes:
        simulations: MCTS simulations (leaf evaluations, terminal hits included).
        nodes: nodes visited (alpha-beta) or created (MCTS).
        time: seconds for this search (a fixed move time).
        depth: plies (alpha-beta iterative deepening; MCTS ignores it).
        mate: search for a mate in this many moves (alpha-beta).
        wtime, btime: remaining clock of player 0 (white) and player 1, seconds.
        winc, binc: increments per move, seconds.
        movestogo: moves to the next time control.
        infinite: search until stopped.
        llm_calls, tokens: budget of language-model calls and tokens.
        money: budget of model spending, in the currency of the backend's price table.
    """

    simulations: Optional[int] = None
    nodes: Optional[int] = None
    time: Optional[float] = None
    depth: Optional[int] = None
    mate: Optional[int] = None
    wtime: Optional[float] = None
    btime: Optional[float] = None
    winc: Optional[float] = None
    binc: Optional[float] = None
    movestogo: Optional[int] = None
    infinite: bool = False
    llm_calls: Optional[int] = None
    tokens: Optional[int] = None
    money: Optional[float] = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "infinite" or v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"Limit.{f.name} must be a number, got {v!r}")
            if not math.isfinite(v):   # NaN or inf: a search would never reach it (leave the field unset)
                raise ValueError(f"Limit.{f.name} must be finite, got {v!r} (leave it unset for no limit)")
            if v < 0 or (f.name in ("simulations", "nodes", "depth", "llm_calls", "tokens", "movestogo", "mate") and v != int(v)):
                raise ValueError(f"Limit.{f.name} must be a non-negative {'integer' if f.name not in ('time', 'money') else 'number'}, got {v!r}")

    def replace(self, **changes) -> "Limit":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def has_clock(self) -> bool:
        return self.wtime is not None or self.btime is not None

    @property
    def is_unbounded(self) -> bool:
        """True when nothing but an outside stop would end a search."""
        return self.infinite or all(
            getattr(self, n) is None
            for n in ("simulations", "nodes", "time", "depth", "mate", "wtime", "btime", "llm_calls", "tokens", "money")
        )


@dataclass(frozen=True)
class SearchResult:
    """What a search found. Values are from the view of the player to move at the root, in [-1, 1].

    Attributes:
        best_action: the action the search chooses (-1 only when the root has no legal action).
        value: the root's value estimate for the player to move.
        actions: the root's legal actions (the order of the per-action fields below).
        visits: MCTS visits per action (alpha-beta: empty).
        q_values: mean value per action for the player to move (NaN where unvisited).
        priors: prior probability per action.
        pv: principal variation, starting with best_action.
        score: alpha-beta score in the game's units (centipawns, or a mate/win score), else None.
        depth: iterative-deepening depth completed (alpha-beta) or the deepest PV (MCTS).
        seldepth: deepest ply reached.
        simulations: MCTS simulations run.
        nodes: nodes visited.
        seconds: wall time of the search.
        is_proven: whether the root's game-theoretic value is known.
        proven_value: +1 win, 0 draw, -1 loss for the player to move when proven, else None.
        stop_reason: what ended the search, a ``StopReason`` (a ``str``: "simulations", "nodes",
            "time", "depth", "proven", "memory", "stopped", ...); a plain string is converted.
        tree_full: the tree hit its memory limit and stopped growing.
        extra: search-specific data (e.g. multipv lines, LLM accounting).
    """

    best_action: int
    value: float = 0.0
    actions: tuple[int, ...] = ()
    visits: tuple[int, ...] = ()
    q_values: tuple[float, ...] = ()
    priors: tuple[float, ...] = ()
    pv: tuple[int, ...] = ()
    score: Optional[int] = None
    depth: int = 0
    seldepth: int = 0
    simulations: int = 0
    nodes: int = 0
    seconds: float = 0.0
    is_proven: bool = False
    proven_value: Optional[int] = None
    stop_reason: StopReason = StopReason.NONE
    tree_full: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.stop_reason) is not StopReason:
            object.__setattr__(self, "stop_reason", StopReason.of(self.stop_reason))

    @property
    def nps(self) -> float:
        """Nodes per second."""
        return self.nodes / self.seconds if self.seconds > 0 else 0.0
