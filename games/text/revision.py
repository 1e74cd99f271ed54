"""Text revision as a text environment (COS(M+O)S-style): rewrite a short text, judged by a rubric.

A state is the current text and the revisions made; an action is the whole revised text. After
``max_revisions`` rewrites the episode ends and the text is scored by a rubric prompt: the
environment cannot judge prose, so ``reward`` is None and ``judge_question`` writes the prompt that
the search's oracle answers (a 1-100 score mapped to [0, 1]). Two checks that need no judge are
applied first: an empty answer or one longer than ``max_chars`` is not a valid action.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from games.text._protocol import InvalidActionError, TaskError, load_json_state

SYSTEM = "You are a skilled editor. Answer with the revised text only."
_PREFIX = re.compile(r"^\s*(?:revised(?: text)?|revision|answer|here is the revised text)\s*:\s*", re.I)


@dataclass(frozen=True)
class RevisionState:
    """The current text and how many revisions led to it."""

    text: str
    revisions: int = 0


class TextRevision:
    """One revision task.

    Args:
        text: the draft to improve.
        instruction: what the revision should achieve.
        rubric: the criteria the judge scores against.
        task_id: the task's name.
        max_revisions: rewrites before the episode ends.
        max_chars: longest revision accepted.
        solve_threshold: judged reward that counts as solved.

    Raises:
        TaskError: empty text or rubric.
    """

    name = "revision"
    system_prompt = SYSTEM

    def __init__(self, text: str, instruction: str, rubric: list[str], *, task_id: str | None = None,
                 max_revisions: int = 2, max_chars: int = 600, solve_threshold: float = 0.8) -> None:
        if not text.strip() or not rubric:
            raise TaskError("a revision task needs a text and a rubric")
        self.text = text.strip()
        self.instruction = instruction
        self.rubric = [str(r) for r in rubric]
        self.task_id = task_id or "revision"
        self.max_revisions = max_revisions
        self.max_chars = max_chars
        self.solve_threshold = solve_threshold

    @classmethod
    def from_task(cls, task: dict, **options) -> "TextRevision":
        """From ``{"id":, "text":, "instruction":, "rubric": [...]}``."""
        try:
            return cls(str(task["text"]), str(task.get("instruction", "Improve the text.")), list(task["rubric"]),
                       task_id=str(task.get("id") or ""), **options)
        except (KeyError, TypeError) as exc:
            raise TaskError(f"a revision task needs 'text' and 'rubric': {exc}") from exc

    def initial(self) -> RevisionState:
        return RevisionState(self.text)

    def enumerate_actions(self, state: RevisionState) -> None:
        return None

    def parse_action(self, state: RevisionState, text: str) -> str:
        out = _PREFIX.sub("", (text or "").strip()).strip().strip('"').strip()
        if not out:
            raise InvalidActionError("the revision is empty")
        if len(out) > self.max_chars:
            raise InvalidActionError(f"the revision has {len(out)} characters, more than {self.max_chars}")
        return out

    def apply(self, state: RevisionState, action: str) -> RevisionState:
        return RevisionState(self.parse_action(state, action), state.revisions + 1)

    def is_terminal(self, state: RevisionState) -> bool:
        return state.revisions >= self.max_revisions

    def reward(self, state: RevisionState) -> None:
        return None

    def is_solved(self, state: RevisionState) -> bool:
        """Always False here: only a judged reward (``solve_threshold``) can say."""
        return False

    def to_text(self, state: RevisionState) -> str:
        return state.text

    def _rubric(self) -> str:
        return "\n".join(f"- {r}" for r in self.rubric)

    def describe(self, state: RevisionState) -> str:
        return (f"{self.instruction}\nCriteria:\n{self._rubric()}\n\nText:\n{state.text}\n\n"
                "Write the revised text only.")

    def value_question(self, state: RevisionState) -> str:
        return (f"Criteria:\n{self._rubric()}\n\nText:\n{state.text}\n\n"
                "How well does the text meet the criteria? Rate from 1 (not at all) to 100 (fully).")

    def judge_question(self, state: RevisionState) -> str:
        return (f"You grade texts against a rubric.\nRubric:\n{self._rubric()}\n\nText:\n{state.text}\n\n"
                "Score the text from 1 (fails every criterion) to 100 (meets all).")

    def answer(self, state: RevisionState) -> str:
        return state.text

    def key(self, state: RevisionState) -> str:
        return state.text

    def serialize(self, state: RevisionState) -> str:
        return json.dumps({"text": state.text, "revisions": state.revisions})

    def deserialize(self, text: str) -> RevisionState:
        d = load_json_state(text, ("text", "revisions"))
        return RevisionState(str(d["text"]), int(d["revisions"]))
