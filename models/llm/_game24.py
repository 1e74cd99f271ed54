"""An environment with an open action space (the model proposes the actions) and MCTS over the proposals.

The example is the Game of 24: four numbers, combine two with + - * / per step, reach 24. An action is
the model's text ("4 + 8 = 12"); the environment checks it (verifiable reward: 1 when one number, 24,
is left). ``Game24Search`` runs single-agent MCTS (UCT) whose expansions ask the model for a few steps
(sampled, parsed, invalid ones counted and dropped) and whose leaves are scored by a value prompt
(1-100, "can these numbers still reach 24?"), under ``Limit(llm_calls=, tokens=, time=, simulations=)``.
``solve_greedy`` is the same model without search (one greedy step at a time).
"""
from __future__ import annotations

import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import games.text.game24 as text_game24
from mcts import LLMBudget, Limit
from models.llm._backend import BudgetExceededError, LLMError
from models.llm._oracle import parse_score
from models.llm._prompts import PromptSet

_STEP = re.compile(r"(\d+(?:/\d+)?)\s*([-+*/x×÷])\s*(\d+(?:/\d+)?)\s*(?:=\s*(-?\d+(?:/\d+)?))?")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "x": lambda a, b: a * b,
        "×": lambda a, b: a * b, "/": lambda a, b: a / b if b else None, "÷": lambda a, b: a / b if b else None}


class InvalidStepError(ValueError):
    """A proposed step is not a step of this position (unknown numbers, bad arithmetic, no step)."""


class OpenEnvironment(Protocol):
    """A single-agent environment whose actions are texts proposed by a model."""

    def initial(self): ...

    def apply(self, state, action: str):
        """The state after ``action``; raises ``ValueError`` when the action is not valid here."""

    def is_terminal(self, state) -> bool: ...

    def reward(self, state) -> float:
        """In [0, 1] at terminal states."""

    def to_text(self, state) -> str: ...


_fmt = text_game24.fmt  # a number as the game writes it: 12 or 3/4


@dataclass(frozen=True)
class Game24State:
    """Numbers left (sorted) and the steps that led here."""

    numbers: tuple[Fraction, ...]
    steps: tuple[str, ...] = ()


class Game24:
    """The Game of 24 for one set of numbers.

    Args:
        numbers: the starting numbers (usually four integers 1-13).
        target: the number to reach.
    """

    def __init__(self, numbers: Sequence[int], target: int = 24) -> None:
        if len(numbers) < 1:
            raise ValueError("Game24 needs at least one number")
        self.start = tuple(sorted(Fraction(n) for n in numbers))
        self.target = Fraction(target)

    def initial(self) -> Game24State:
        return Game24State(self.start)

    def apply(self, state: Game24State, action: str, *, recompute: bool = False) -> Game24State:
        """The state after the step ``"a op b = c"``.

        Args:
            recompute: ignore the ``= c`` the model wrote and compute it (else a wrong result raises).

        Raises:
            InvalidStepError: no step in the text, numbers not available, division by zero, or wrong
                arithmetic.
        """
        m = _STEP.search(action or "")
        if m is None:
            raise InvalidStepError(f"no step 'a op b = c' in {action!r}")
        a, op, b = Fraction(m.group(1)), m.group(2), Fraction(m.group(3))
        left = list(state.numbers)
        for x in (a, b):
            if x not in left:
                raise InvalidStepError(f"{_fmt(x)} is not among the numbers {self.to_text(state)} (step {action!r})")
            left.remove(x)
        c = _OPS[op](a, b)
        if c is None:
            raise InvalidStepError(f"division by zero in {action!r}")
        if not recompute and m.group(4) is not None and Fraction(m.group(4)) != c:
            raise InvalidStepError(f"{_fmt(a)} {op} {_fmt(b)} is {_fmt(c)}, not {m.group(4)} (step {action!r})")
        step = f"{_fmt(a)} {op} {_fmt(b)} = {_fmt(c)}"
        return Game24State(tuple(sorted(left + [c])), state.steps + (step,))

    def is_terminal(self, state: Game24State) -> bool:
        return len(state.numbers) <= 1

    def is_solved(self, state: Game24State) -> bool:
        return len(state.numbers) == 1 and state.numbers[0] == self.target

    def reward(self, state: Game24State) -> float:
        return 1.0 if self.is_solved(state) else 0.0

    def to_text(self, state: Game24State) -> str:
        return " ".join(_fmt(x) for x in state.numbers)


def is_solvable(numbers: Sequence[int], target: int = 24) -> bool:
    """Whether the numbers can reach ``target`` (the brute-force solver of ``games.text.game24``)."""
    return text_game24.is_solvable(numbers, target)


def puzzles(count: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``count`` distinct solvable puzzles of four numbers 1-13, seeded."""
    rng = random.Random(seed)
    out: list[tuple[int, ...]] = []
    while len(out) < count:
        p = tuple(sorted(rng.randint(1, 13) for _ in range(4)))
        if p not in out and is_solvable(p):
            out.append(p)
    return out


@dataclass
class Game24Result:
    """What a solve attempt found: ``solved``, the ``steps`` taken, and the model usage."""

    solved: bool
    steps: tuple[str, ...]
    llm_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    simulations: int = 0
    stats: dict = field(default_factory=dict)


@dataclass
class _Node24:
    state: Game24State
    parent: int
    visits: int = 0
    total: float = 0.0
    children: list[int] = field(default_factory=list)
    expanded: bool = False
    terminal: bool = False
    attempts: int = 0


class Game24Search:
    """MCTS over model-proposed steps with a value prompt (open action space).

    Args:
        backend: an ``LLMBackend``.
        samples: sampled proposals per expansion (plus one greedy answer).
        temperature: sampling temperature of proposals.
        c_uct: exploration constant of UCT.
        use_value_prompt: score new leaves with the model (else 0.5).
        max_attempts: expansions of a node whose proposals were all invalid (each asks for more samples).
        prompts: the ``game24`` prompt set (``propose`` and ``value`` templates).
    """

    def __init__(self, backend, *, samples: int = 4, temperature: float = 0.8, c_uct: float = 1.0,
                 use_value_prompt: bool = True, max_attempts: int = 3, prompts: PromptSet | None = None) -> None:
        self.backend = backend
        self.samples = samples
        self.temperature = temperature
        self.c_uct = c_uct
        self.use_value_prompt = use_value_prompt
        self.max_attempts = max_attempts
        self.prompts = prompts or PromptSet("game24")
        self.stats: Counter[str] = Counter()

    def _propose(self, env: Game24, state: Game24State, attempt: int = 0) -> list[Game24State]:
        prompt = self.prompts.render("propose", self.backend, numbers=env.to_text(state))
        answers = [] if attempt else self.backend.complete([prompt], max_tokens=24, temperature=0.0, n=1,
                                                           stop=["\n"])[0]
        if self.samples:
            # a retry asks for more samples: another cache key, so fresh answers
            try:
                answers += self.backend.complete([prompt], max_tokens=24, temperature=self.temperature,
                                                 n=self.samples * (attempt + 1), stop=["\n"])[0]
            except BudgetExceededError:  # the greedy answer was paid for: keep it
                self.stats["budget_refusals"] += 1
        children: dict[tuple, Game24State] = {}
        for text in answers:
            self.stats["proposals"] += 1
            try:
                nxt = env.apply(state, text, recompute=True)
            except InvalidStepError:
                self.stats["invalid_proposals"] += 1
                continue
            children.setdefault(nxt.numbers, nxt)
        return list(children.values())

    def _value(self, env: Game24, state: Game24State) -> float:
        if env.is_terminal(state):
            return env.reward(state)
        if not self.use_value_prompt:
            return 0.5
        prompt = self.prompts.render("value", self.backend, numbers=env.to_text(state))
        try:
            score = parse_score(self.backend.complete([prompt], max_tokens=6)[0][0])
        except LLMError:
            score = None
        if score is None:
            self.stats["value_unparsed"] += 1
            return 0.5
        return (score - 1.0) / 99.0

    def solve(self, numbers: Sequence[int], limit: Limit) -> Game24Result:
        """Searches until a solution is found, the tree is exhausted, or ``limit`` is spent.

        ``limit.simulations`` bounds iterations; ``llm_calls``, ``tokens`` and ``time`` bound the model.
        """
        env = Game24(numbers)
        t0 = time.monotonic()
        budget = LLMBudget(limit, self.backend)
        nodes = [_Node24(env.initial(), -1)]
        try:
            best, sims = self._search(env, nodes, budget, limit)
        finally:
            budget.close()
        spent = budget.spent()
        final = best or max((n.state for n in nodes), key=lambda s: (len(s.steps), 0))
        return Game24Result(solved=best is not None, steps=final.steps, llm_calls=spent.calls, tokens=spent.tokens,
                            seconds=time.monotonic() - t0, simulations=sims, stats=dict(self.stats))

    def _search(self, env: Game24, nodes: list, budget: LLMBudget, limit: Limit) -> tuple[Game24State | None, int]:
        sims = 0
        best: Game24State | None = None
        while best is None and not budget.exhausted():
            if limit.simulations is not None and sims >= limit.simulations:
                break
            # select
            i = 0
            while nodes[i].expanded and nodes[i].children:
                parent = nodes[i]
                i = max(parent.children, key=lambda c: (
                    math.inf if nodes[c].visits == 0 else nodes[c].total / nodes[c].visits
                    + self.c_uct * math.sqrt(math.log(parent.visits + 1) / nodes[c].visits)))
            node = nodes[i]
            if node.expanded and not node.children and node.attempts >= self.max_attempts:
                if not any(not n.terminal and (not n.expanded or (not n.children and n.attempts < self.max_attempts))
                           for n in nodes):
                    break  # nothing left to expand anywhere
                value = 0.0
            elif node.terminal:
                value = env.reward(node.state)
            else:
                try:
                    kids = self._propose(env, node.state, node.attempts)
                except LLMError:
                    self.stats["propose_failures"] += 1
                    kids = []
                node.attempts += 1
                node.expanded = True
                for k in kids:
                    nodes.append(_Node24(k, i, terminal=env.is_terminal(k)))
                    node.children.append(len(nodes) - 1)
                    if env.is_solved(k):
                        best = k
                values = [self._value(env, nodes[c].state) for c in node.children if not budget.exhausted()]
                for c, v in zip(node.children, values):
                    nodes[c].visits, nodes[c].total = 1, v
                value = max(values) if values else 0.0
            # backup
            j = i
            while j >= 0:
                nodes[j].visits += 1
                nodes[j].total += value
                j = nodes[j].parent
            sims += 1
        return best, sims

    def solve_greedy(self, numbers: Sequence[int]) -> Game24Result:
        """The model alone: one greedy step at a time, no search (the baseline)."""
        env = Game24(numbers)
        t0 = time.monotonic()
        budget = LLMBudget(None, self.backend)
        state = env.initial()
        while not env.is_terminal(state):
            prompt = self.prompts.render("propose", self.backend, numbers=env.to_text(state))
            try:
                text = self.backend.complete([prompt], max_tokens=24, temperature=0.0, stop=["\n"])[0][0]
                state = env.apply(state, text, recompute=True)
            except (InvalidStepError, LLMError):
                self.stats["invalid_proposals"] += 1
                break
        spent = budget.spent()
        return Game24Result(solved=env.is_solved(state), steps=state.steps, llm_calls=spent.calls,
                            tokens=spent.tokens, seconds=time.monotonic() - t0, stats=dict(self.stats))
