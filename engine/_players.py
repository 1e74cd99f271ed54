"""Players: anything that picks an action for a state under a ``Limit``.

The players here need no search (random, human at the terminal) plus the generic wrapper that turns
any search with ``run(state, limit) -> SearchResult`` into a player.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, TextIO, runtime_checkable

from games import GameError
from mcts import Limit, SearchResult


@dataclass(frozen=True)
class Decision:
    """A player's choice: the action and, for searching players, the analysis behind it."""

    action: int
    result: Optional[SearchResult] = None


@runtime_checkable
class Player(Protocol):
    """Picks an action. ``name`` labels it in records and tables."""

    name: str

    def choose(self, state, limit: Limit) -> Decision:
        """The action to play in ``state`` (not terminal), spending at most ``limit``."""

    def new_game(self) -> None:
        """Forget anything kept from the previous game (trees, caches of positions)."""


class WrappedPlayer:
    """Base of a player that wraps another (``self.player``): ``new_game`` and ``close`` pass through."""

    player: Player

    def new_game(self) -> None:
        self.player.new_game()

    def close(self) -> None:
        close = getattr(self.player, "close", None)
        if close is not None:
            close()


class RandomPlayer:
    """Uniformly random legal actions; seeded for reproducibility."""

    def __init__(self, seed: Optional[int] = None, name: str = "random") -> None:
        self.name = name
        self._rng = random.Random(seed)

    def choose(self, state, limit: Limit) -> Decision:
        return Decision(self._rng.choice(state.legal_actions()))

    def new_game(self) -> None:
        pass


class HumanPlayer:
    """Reads moves from a terminal (or any text stream). Bad input is explained and asked again."""

    def __init__(self, name: str = "human", stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.name = name
        self.default_limit = Limit()   # a person needs no budget
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout

    def choose(self, state, limit: Limit) -> Decision:
        legal = ", ".join(state.action_to_string(a) for a in state.legal_actions())
        while True:
            self._out.write(f"{self.name} to move (legal: {legal})\nmove> ")
            self._out.flush()
            line = self._in.readline()
            if not line:
                raise EOFError("input closed while waiting for a move")
            text = line.strip()
            if not text:
                continue
            try:
                return Decision(state.string_to_action(text))
            except GameError as exc:
                self._out.write(f"{exc}\n")

    def new_game(self) -> None:
        pass


class SearchPlayer:
    """Any search with ``run(state, limit) -> SearchResult`` as a player. Limits with a clock
    (wtime/btime) run under ``mcts.budget.run_with_budget``, which turns the clock into deadlines.

    Args:
        search: the search (``mcts.MCTS``, ``mcts.AlphaBeta``, ...), or a factory making one.
        name: label in records.
        limit: the limit used when ``choose`` is given none.
    """

    def __init__(self, search, name: str, limit: Optional[Limit] = None) -> None:
        self.search = search
        self.name = name
        self.default_limit = limit

    def choose(self, state, limit: Optional[Limit] = None) -> Decision:
        lim = limit if limit is not None and not limit.is_unbounded else (self.default_limit or limit)
        if lim is None:
            raise ValueError(f"player {self.name!r} needs a Limit")
        if lim.has_clock:  # a clock needs the budget controller's soft/hard deadlines
            from mcts.budget import run_with_budget

            result = run_with_budget(self.search, state, lim)
        else:
            result = self.search.run(state, lim)
        return Decision(result.best_action, result)

    def new_game(self) -> None:
        reset: Callable[[], None] | None = getattr(self.search, "reset", None)
        if reset is not None:
            reset()
