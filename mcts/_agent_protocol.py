"""What the text-agent search needs of a model (the agent oracle), and the budget it charges.

``mcts.agent_search`` sees a language model only through an ``AgentOracle``: proposals of actions,
values with explanations, a judge for finished states and a discriminator among candidates. The
oracle in ``models.llm`` implements it on a backend; tests implement it on tables. ``mcts`` never
imports ``models``.

Budgets: every model request is charged to an ``AgentBudget`` *before* it is sent. The oracle asks
``reserve`` for an upper bound of what the request can cost (requests, prompt tokens, completion
tokens, money); ``reserve`` refuses (``BudgetExhausted``) when the rest of the ``Limit`` cannot pay
for that bound, so a search never starts a request it cannot pay for. After the reply ``settle``
replaces the bound by what the backend reports.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mcts._limit import Limit


class BudgetExhausted(RuntimeError):
    """The budget cannot pay for the next model request (a search stops; not a fault)."""


@dataclass(frozen=True)
class Evaluation:
    """The value agent's verdict on a state.

    Attributes:
        value: how promising the state is, in [0, 1].
        explanation: the reasons, carried into the next proposal prompt from that state.
        source: what produced it ("prompted", "learned", "default", "reward").
    """

    value: float
    explanation: str = ""
    source: str = "prompted"


@dataclass
class Reservation:
    """An upper bound held on the budget for one request until it is settled."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    money: float
    open: bool = True


class AgentBudget:
    """What a search may still spend of ``limit``'s ``llm_calls`` (requests), ``tokens``, ``money`` and
    ``time``, counted from its creation.

    Args:
        limit: the search's limit (other fields are ignored here); None limits nothing.
    """

    def __init__(self, limit: Limit | None = None) -> None:
        self.limit = limit or Limit()
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.money = 0.0
        self.reserved = Reservation(0, 0, 0, 0.0)
        self.refused = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def seconds(self) -> float:
        return time.monotonic() - self.t0

    def _over(self, requests: int, tokens: int, money: float) -> str:
        lim = self.limit
        if lim.time is not None and self.seconds() >= lim.time:
            return "time"
        if lim.llm_calls is not None and requests > lim.llm_calls:
            return "llm_calls"
        if lim.tokens is not None and tokens > lim.tokens:
            return "tokens"
        if lim.money is not None and money > lim.money + 1e-12:
            return "money"
        return ""

    def reserve(self, *, requests: int = 1, prompt_tokens: int = 0, completion_tokens: int = 0,
                money: float = 0.0) -> Reservation:
        """Holds an upper bound of one request's cost.

        Raises:
            BudgetExhausted: what is spent and held plus this bound would pass a limit.
        """
        with self._lock:
            r = self.reserved
            why = self._over(self.requests + r.requests + requests,
                             self.tokens + r.prompt_tokens + r.completion_tokens + prompt_tokens + completion_tokens,
                             self.money + r.money + money)
            if why:
                self.refused += 1
                raise BudgetExhausted(f"the budget cannot pay for the next request ({why})")
            res = Reservation(requests, prompt_tokens, completion_tokens, money)
            self._hold(res, +1)
            return res

    def _hold(self, res: Reservation, sign: int) -> None:
        r = self.reserved
        self.reserved = Reservation(r.requests + sign * res.requests, r.prompt_tokens + sign * res.prompt_tokens,
                                    r.completion_tokens + sign * res.completion_tokens, r.money + sign * res.money)

    def settle(self, res: Reservation, *, requests: int, prompt_tokens: int, completion_tokens: int,
               money: float) -> None:
        """Releases ``res`` and charges what the request really cost (0 for an answer from a cache)."""
        with self._lock:
            if not res.open:
                raise ValueError("this reservation was settled already")
            res.open = False
            self._hold(res, -1)
            self.requests += requests
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.money += money

    def exhausted(self) -> str:
        """The limit that is used up ("" while something is left: another request may fit)."""
        with self._lock:
            lim = self.limit
            if lim.time is not None and self.seconds() >= lim.time:
                return "time"
            if lim.llm_calls is not None and self.requests >= lim.llm_calls:
                return "llm_calls"
            if lim.tokens is not None and self.tokens >= lim.tokens:
                return "tokens"
            if lim.money is not None and self.money >= lim.money:
                return "money"
            return ""

    def as_dict(self) -> dict:
        return {"llm_calls": self.requests, "tokens": self.tokens, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "money": round(self.money, 8),
                "seconds": round(self.seconds(), 3), "refused": self.refused}


@runtime_checkable
class AgentOracle(Protocol):
    """A model's answers about a text environment, charged to a budget.

    Every method may raise ``BudgetExhausted`` (before sending a request the budget cannot pay for);
    a model that answers garbage is not an error: ``propose`` returns the raw texts (the search parses
    them with the environment) and ``evaluate`` falls back to a neutral value, counted in ``stats``.
    """

    @property
    def stats(self) -> Mapping[str, int]:
        """The oracle's counters (read by reports)."""
        ...

    def propose(self, env: Any, state: Any, k: int, feedback: str, budget: AgentBudget) -> list[str]:
        """``k`` candidate actions (raw model texts) for ``state``, given the value agent's feedback."""

    def evaluate(self, env: Any, states: Sequence[Any], budget: AgentBudget) -> list[Evaluation]:
        """The value of each non-terminal state (for the side the environment's agent plays)."""

    def judge(self, env: Any, state: Any, budget: AgentBudget) -> float:
        """The reward in [0, 1] of a finished state the environment cannot score (``judge_question``)."""

    def discriminate(self, env: Any, states: Sequence[Any], budget: AgentBudget) -> int:
        """The index of the best of several finished states."""
