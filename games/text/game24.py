"""The Game of 24 as a text environment: four numbers, one arithmetic step per action, reach 24.

A state is the numbers left (sorted exact fractions) and the steps taken. An action is a step
``"a op b = c"`` (``op`` one of ``+ - * /``); the model's ``= c`` is recomputed, so a step counts for
its operands and operator. The episode ends when one number is left; the reward is 1 when it is the
target. ``solve`` is a brute-force solver (labels for training values and for picking puzzles), and
``enumerate_actions`` can list every step when the environment is built with ``enumerate=True``.
"""
from __future__ import annotations

import functools
import itertools
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from games.text._protocol import InvalidActionError, TaskError, load_json_state

_STEP = re.compile(r"(-?\d+(?:/\d+)?)\s*([-+*/x×÷])\s*(-?\d+(?:/\d+)?)")
_CANON = {"x": "*", "×": "*", "÷": "/"}

SYSTEM = "You are good at arithmetic puzzles. Answer with one step only."


def fmt(x: Fraction) -> str:
    """A number as the game writes it: ``12`` or ``3/4``."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _combine(a: Fraction, op: str, b: Fraction) -> Optional[Fraction]:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b else None


@dataclass(frozen=True)
class Game24State:
    """Numbers left (sorted) and the steps that led here."""

    numbers: tuple[Fraction, ...]
    steps: tuple[str, ...] = ()


@functools.lru_cache(maxsize=200_000)
def _solve(numbers: tuple[Fraction, ...], target: Fraction) -> Optional[tuple[str, ...]]:
    if len(numbers) == 1:
        return () if numbers[0] == target else None
    for i, j in itertools.combinations(range(len(numbers)), 2):
        rest = [numbers[k] for k in range(len(numbers)) if k not in (i, j)]
        a, b = numbers[i], numbers[j]
        for x, op, y in ((a, "+", b), (a, "*", b), (a, "-", b), (b, "-", a), (a, "/", b), (b, "/", a)):
            c = _combine(x, op, y)
            if c is None:
                continue
            tail = _solve(tuple(sorted(rest + [c])), target)
            if tail is not None:
                return (f"{fmt(x)} {op} {fmt(y)} = {fmt(c)}",) + tail
    return None


def solve(numbers: Sequence[int | Fraction], target: int = 24) -> Optional[list[str]]:
    """The steps of one solution, or None when ``numbers`` cannot reach ``target`` (brute force)."""
    found = _solve(tuple(sorted(Fraction(n) for n in numbers)), Fraction(target))
    return None if found is None else list(found)


def is_solvable(numbers: Sequence[int | Fraction], target: int = 24) -> bool:
    """Whether ``numbers`` can reach ``target``."""
    return solve(numbers, target) is not None


def puzzles(count: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``count`` distinct solvable puzzles of four numbers 1-13 (sorted), drawn with ``seed``."""
    rng = random.Random(seed)
    out: list[tuple[int, ...]] = []
    while len(out) < count:
        p = tuple(sorted(rng.randint(1, 13) for _ in range(4)))
        if p not in out and is_solvable(p):
            out.append(p)
    return out


class Game24:
    """One Game of 24 puzzle.

    Args:
        numbers: the starting numbers (usually four integers 1-13).
        target: the number to reach.
        task_id: the puzzle's name.
        enumerate: list every step as the actions (else the model proposes them).

    Raises:
        TaskError: no numbers, or a number is not a non-negative integer.
    """

    name = "game24"
    system_prompt = SYSTEM
    solve_threshold = 1.0

    def __init__(self, numbers: Sequence[int], target: int = 24, *, task_id: str | None = None,
                 enumerate: bool = False) -> None:
        if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
            raise TaskError(f"Game24 needs non-negative integers, got {numbers!r}")
        self.start = tuple(sorted(Fraction(n) for n in numbers))
        self.target = Fraction(target)
        self.task_id = task_id or "-".join(str(n) for n in sorted(numbers))
        self.enumerate = enumerate

    @classmethod
    def from_task(cls, task: dict, **options) -> "Game24":
        """From a task record ``{"id":, "numbers": [...], "target": 24}``."""
        try:
            return cls(list(task["numbers"]), int(task.get("target", 24)), task_id=str(task.get("id") or ""),
                       **options)
        except (KeyError, TypeError) as exc:
            raise TaskError(f"a game24 task needs 'numbers': {task!r}") from exc

    def initial(self) -> Game24State:
        return Game24State(self.start)

    def steps_of(self, state: Game24State) -> list[str]:
        """Every step of ``state`` (canonical texts, duplicates of the same result merged)."""
        seen: dict[tuple, str] = {}
        nums = state.numbers
        for i, j in itertools.combinations(range(len(nums)), 2):
            a, b = nums[i], nums[j]
            for x, op, y in ((a, "+", b), (a, "*", b), (a, "-", b), (b, "-", a), (a, "/", b), (b, "/", a)):
                c = _combine(x, op, y)
                if c is None:
                    continue
                step = f"{fmt(x)} {op} {fmt(y)} = {fmt(c)}"
                seen.setdefault(self.apply(state, step).numbers, step)
        return list(seen.values())

    def enumerate_actions(self, state: Game24State) -> Optional[list[str]]:
        return self.steps_of(state) if self.enumerate else None

    def parse_action(self, state: Game24State, text: str) -> str:
        m = _STEP.search(text or "")
        if m is None:
            raise InvalidActionError(f"no step 'a op b = c' in {text!r}")
        a, op, b = Fraction(m.group(1)), _CANON.get(m.group(2), m.group(2)), Fraction(m.group(3))
        left = list(state.numbers)
        for x in (a, b):
            if x not in left:
                raise InvalidActionError(f"{fmt(x)} is not among the numbers {self.to_text(state)} (step {text!r})")
            left.remove(x)
        c = _combine(a, op, b)
        if c is None:
            raise InvalidActionError(f"division by zero in {text!r}")
        return f"{fmt(a)} {op} {fmt(b)} = {fmt(c)}"

    def apply(self, state: Game24State, action: str) -> Game24State:
        step = self.parse_action(state, action)
        a, op, b, _, c = step.split(" ")
        left = list(state.numbers)
        left.remove(Fraction(a))
        left.remove(Fraction(b))
        return Game24State(tuple(sorted(left + [Fraction(c)])), state.steps + (step,))

    def is_terminal(self, state: Game24State) -> bool:
        return len(state.numbers) <= 1

    def is_solved(self, state: Game24State) -> bool:
        return len(state.numbers) == 1 and state.numbers[0] == self.target

    def reward(self, state: Game24State) -> float:
        return 1.0 if self.is_solved(state) else 0.0

    def is_solvable(self, state: Game24State) -> bool:
        """The brute-force label: can ``state`` still reach the target?"""
        return _solve(state.numbers, self.target) is not None

    def to_text(self, state: Game24State) -> str:
        return " ".join(fmt(x) for x in state.numbers)

    def describe(self, state: Game24State) -> str:
        lines = [f"Use the numbers {self.to_text(state)} to reach {fmt(self.target)}.",
                 "Pick two numbers and combine them with + - * or /.",
                 "Example: numbers 2 3 4 -> 3 * 4 = 12 (left: 2 12)."]
        if state.steps:
            lines.append("Steps so far: " + "; ".join(state.steps))
        lines.append(f"Numbers: {self.to_text(state)}\nNext step:")
        return "\n".join(lines)

    def value_question(self, state: Game24State) -> str:
        return (f"Numbers: {self.to_text(state)}. Can these numbers reach {fmt(self.target)} with + - * /, "
                "using each number once? Rate the chance from 1 (impossible) to 100 (sure).")

    def judge_question(self, state: Game24State) -> None:
        return None

    def answer(self, state: Game24State) -> str:
        return "; ".join(state.steps)

    def key(self, state: Game24State) -> tuple:
        return state.numbers

    def serialize(self, state: Game24State) -> str:
        return json.dumps({"numbers": [fmt(x) for x in state.numbers], "steps": list(state.steps)})

    def deserialize(self, text: str) -> Game24State:
        data = load_json_state(text, ("numbers", "steps"))
        try:
            return Game24State(tuple(sorted(Fraction(x) for x in data["numbers"])), tuple(map(str, data["steps"])))
        except (ValueError, TypeError, ZeroDivisionError) as exc:
            raise TaskError(f"bad game24 state: {text[:80]!r}") from exc
