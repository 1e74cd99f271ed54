"""The text-agent environment protocol: single-agent tasks whose actions are texts.

An environment is the rules of one task (a Game of 24 puzzle, a buggy function to repair, a text to
revise, a Connect Four position to win). Its states are immutable values; its actions are texts,
either proposed by a language model (``enumerate_actions`` returns None) or listed by the
environment (a list of texts). The search in ``mcts.agent_search`` drives any environment through
these verbs, and a model oracle reads the prompts the environment writes (``describe``,
``value_question``, ``judge_question``), so the rules never import a model or a search.

Rewards are in [0, 1]. An environment that cannot score a finished state by itself (a text judged by
a rubric) returns None from ``reward`` and writes ``judge_question``; the search then asks its oracle.
"""
from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, Optional, Protocol, runtime_checkable


class InvalidActionError(ValueError):
    """A proposed action is not an action of this state (unparseable text, illegal step, bad code)."""


class TaskError(ValueError):
    """A task file or task record is malformed or names an unknown task."""


@runtime_checkable
class TextEnvironment(Protocol):
    """What a text-agent search needs of an environment.

    Attributes:
        name: the environment's registry name (``game24``, ``code_repair``, ...).
        task_id: the task this environment instance plays.
        system_prompt: the role the model plays, for every prompt of this task.
        solve_threshold: a finished state whose reward reaches this solves the task.
    """

    name: str
    task_id: str
    system_prompt: str
    solve_threshold: float

    def initial(self) -> Any:
        """The task's starting state."""

    def enumerate_actions(self, state: Any) -> Optional[list[str]]:
        """Every legal action of ``state`` as text, or None when actions are proposed by a model."""

    def parse_action(self, state: Any, text: str) -> str:
        """The canonical action a model's answer stands for.

        Raises:
            InvalidActionError: the text holds no valid action of ``state``.
        """

    def apply(self, state: Any, action: str) -> Any:
        """The state after the (canonical or raw) action ``action``.

        Raises:
            InvalidActionError: ``action`` is not valid in ``state``.
        """

    def is_terminal(self, state: Any) -> bool:
        """Whether the episode is over."""

    def reward(self, state: Any) -> Optional[float]:
        """The outcome in [0, 1] of a terminal state, or None when it needs a judge."""

    def is_solved(self, state: Any) -> bool:
        """Whether ``state`` solves the task (the measure of success)."""

    def to_text(self, state: Any) -> str:
        """The state as text for people and models."""

    def describe(self, state: Any) -> str:
        """The proposal prompt's user message: the task, the state, and the form of an answer."""

    def value_question(self, state: Any) -> str:
        """The value prompt's user message: how promising is ``state``?"""

    def judge_question(self, state: Any) -> Optional[str]:
        """The rubric prompt that scores a finished state (None when ``reward`` scores it)."""

    def answer(self, state: Any) -> str:
        """The final answer a state stands for (what majority voting counts)."""

    def key(self, state: Any) -> Hashable:
        """Identity of a state for merging duplicate proposals."""

    def serialize(self, state: Any) -> str:
        """The state as a JSON string."""

    def deserialize(self, text: str) -> Any:
        """Inverse of ``serialize``.

        Raises:
            TaskError: ``text`` is not a serialised state of this environment.
        """


def load_json_state(text: str, keys: tuple[str, ...]) -> dict:
    """A serialised state's JSON object, checked to hold ``keys``.

    Raises:
        TaskError: not JSON, not an object, or a key is missing.
    """
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise TaskError(f"not a serialised state (JSON): {str(text)[:80]!r}") from exc
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise TaskError(f"a serialised state needs the keys {keys}, got {str(text)[:80]!r}")
    return data
