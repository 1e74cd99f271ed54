"""``Game24Search``: the Game of 24 on a language-model backend through the one agent search.

A thin entry point kept for its name: it builds the environment (``games.text.Game24``), the oracle
(``LLMAgentOracle``) and the search (``mcts.agent_search.AgentSearch``), and returns their
``AgentResult``. The rules, the step parser, the solver and the search live there; the same runs are
``plytree agent game24 "4 7 8 8" --budget llm_calls=40`` and, in Python,
``AgentSearch(LLMAgentOracle(backend)).run(make_env("game24", "4 7 8 8"), limit)``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from games.text.game24 import Game24
from mcts import Limit
from mcts.agent_search import AgentResult, AgentSearch, sample_episodes
from models.llm._agent_oracle import LLMAgentOracle


class Game24Search:
    """The Game of 24 solved by ``AgentSearch`` (MCTS over the model's proposed steps, a value agent,
    progressive widening) or by the model alone.

    Args:
        backend: an ``LLMBackend``.
        samples: proposals asked per expansion.
        temperature: sampling temperature of proposals.
        c_uct: exploration constant of UCT.
        use_value_prompt: score new states with the value agent (else every one gets 0.5).
        max_rounds: proposal rounds without a new valid step before a state is closed.
        value_head: a learned value (``models.llm.value_head.ValueHead``) instead of the value prompt.

    Raises:
        ValueError: a setting is out of range (from ``AgentSearch`` and ``LLMAgentOracle``).
    """

    def __init__(self, backend: Any, *, samples: int = 2, temperature: float = 0.8, c_uct: float = 1.0,
                 use_value_prompt: bool = True, max_rounds: int = 3, value_head: Any = None) -> None:
        self.backend = backend
        self.oracle = LLMAgentOracle(backend, temperature=temperature, value_head=value_head)
        self.search = AgentSearch(self.oracle, samples=samples, c_uct=c_uct, max_rounds=max_rounds,
                                  use_values=use_value_prompt)

    def solve(self, numbers: Sequence[int], limit: Limit) -> AgentResult:
        """Searches until a step chain reaches 24, the tree is closed, or ``limit`` is spent
        (``llm_calls`` = requests, ``tokens``, ``money``, ``time``, ``simulations`` = iterations)."""
        return self.search.run(Game24(list(numbers)), limit)

    def solve_greedy(self, numbers: Sequence[int], limit: Limit | None = None) -> AgentResult:
        """The model alone, no search: one episode of greedy (temperature 0) steps; an invalid step
        ends it."""
        greedy = LLMAgentOracle(self.backend, temperature=0.0, value_head=self.oracle.value_head)
        return sample_episodes(Game24(list(numbers)), greedy, limit or Limit(), max_episodes=1)

    def sample(self, numbers: Sequence[int], limit: Limit) -> AgentResult:
        """The model alone at the search's temperature: episodes of sampled steps until one solves
        the puzzle or ``limit`` is spent (the baseline at an equal budget)."""
        return sample_episodes(Game24(list(numbers)), self.oracle, limit)
