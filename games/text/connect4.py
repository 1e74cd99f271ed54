"""A Connect Four position as a text environment: win it against a fixed opponent.

The agent plays the side to move of a given position; after each of its moves a deterministic
opponent replies (it wins at once when it can, else blocks the agent's immediate win, else plays the
column nearest the centre that does not hand the agent a win). Actions are enumerated (the legal
columns ``"1"``..``"7"``) or read from a model's answer. The episode ends when the game ends or after
``horizon`` agent moves; the reward is 1 for a win, 0.5 for a draw or an unfinished game, 0 for a
loss, and a win solves the task. Task files carry the exact solver's label of the start position
(``label``: +1 the side to move wins, 0 draw, -1 loses), written by ``models.llm.value_head``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from games._registry import load as load_game
from games.text._protocol import InvalidActionError, TaskError, load_json_state

SYSTEM = "You are a strong Connect Four player."
CENTRE_ORDER = (3, 2, 4, 1, 5, 0, 6)
_COLUMN = re.compile(r"[1-7]")


@dataclass(frozen=True)
class C4State:
    """The game's moves (columns 1-7 as a string) and the agent's moves made."""

    moves: str
    agent_moves: int = 0


def wins_at(state, action: int, player: int) -> bool:
    """Whether ``action`` by the player to move of a ``games.connect4`` state ends the game won for ``player``."""
    child = state.clone()
    child.apply_action(action)
    return child.is_terminal() and child.returns()[player] > 0


def columns(moves: str) -> tuple[str, ...]:
    """The stones of each column from the bottom after ``moves`` (columns ``1``-``7``): ``x`` the
    first player's, ``o`` the second's."""
    cols = [""] * 7
    for i, c in enumerate(moves):
        cols[int(c) - 1] += "xo"[i % 2]
    return tuple(cols)


def opponent_wins_at(state, column: int) -> bool:
    """Whether the player not to move would complete a four by dropping into ``column`` now (as if
    the mover passed): read from the stones, not by playing."""
    moves = state.serialize()
    cols = columns(moves)
    opponent = "xo"[(len(moves) + 1) % 2]
    row = len(cols[column])
    if row >= 6:
        return False

    def is_opponent(c: int, r: int) -> bool:
        return 0 <= c < 7 and 0 <= r < len(cols[c]) and cols[c][r] == opponent

    for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
        run = 1
        for sign in (1, -1):
            c, r = column + sign * dc, row + sign * dr
            while is_opponent(c, r):
                run += 1
                c, r = c + sign * dc, r + sign * dr
        if run >= 4:
            return True
    return False


def opponent_reply(state) -> int:
    """The fixed opponent's column (0-6) in a Connect Four state of ``games.connect4``."""
    me = state.current_player()
    legal = state.legal_actions()
    for a in legal:
        if wins_at(state, a, me):
            return a
    for a in legal:  # block a column where the agent would win on its next move
        if opponent_wins_at(state, a):
            return a
    ordered = [a for a in CENTRE_ORDER if a in legal]
    for a in ordered:
        child = state.clone()
        child.apply_action(a)
        if child.is_terminal() or not any(wins_at(child, b, 1 - me) for b in child.legal_actions()):
            return a
    return ordered[0]


class Connect4Task:
    """Win a Connect Four position against the fixed opponent.

    Args:
        moves: the position as columns 1-7 (Pons notation), the agent to move.
        task_id: the task's name.
        horizon: agent moves before the episode ends.
        label: the solver's value of the start for the agent (+1, 0, -1), when known.
        enumerate: list the legal columns as actions (else the model proposes them).

    Raises:
        TaskError: the moves are not a legal, unfinished game.
    """

    name = "connect4"
    system_prompt = SYSTEM
    solve_threshold = 1.0

    def __init__(self, moves: str, *, task_id: str | None = None, horizon: int = 4, label: int | None = None,
                 enumerate: bool = True) -> None:
        self.game = load_game("connect4")
        try:
            start = self.game.deserialize(moves)
        except ValueError as exc:
            raise TaskError(f"not a Connect Four position: {moves!r}: {exc}") from exc
        if start.is_terminal():
            raise TaskError(f"the Connect Four position {moves!r} is already over")
        self.moves = moves
        self.agent = start.current_player()
        self.task_id = task_id or moves
        self.horizon = horizon
        self.label = label
        self.enumerate = enumerate

    @classmethod
    def from_task(cls, task: dict, **options) -> "Connect4Task":
        """From ``{"id":, "moves":, "label":}``."""
        try:
            return cls(str(task["moves"]), task_id=str(task.get("id") or ""), label=task.get("label"), **options)
        except KeyError as exc:
            raise TaskError(f"a connect4 task needs 'moves': {task!r}") from exc

    def board(self, state: C4State):
        """The ``games.connect4`` state of ``state``."""
        return self.game.deserialize(state.moves)

    def initial(self) -> C4State:
        return C4State(self.moves)

    def enumerate_actions(self, state: C4State) -> list[str] | None:
        if not self.enumerate:
            return None
        return [str(a + 1) for a in self.board(state).legal_actions()]

    def parse_action(self, state: C4State, text: str) -> str:
        legal = {str(a + 1) for a in self.board(state).legal_actions()}
        for m in _COLUMN.finditer(text or ""):
            if m.group(0) in legal:
                return m.group(0)
        raise InvalidActionError(f"no legal column (of {sorted(legal)}) in {text!r}")

    def apply(self, state: C4State, action: str) -> C4State:
        col = self.parse_action(state, action)
        b = self.board(state)
        b.apply_action(int(col) - 1)
        if not b.is_terminal():
            b.apply_action(opponent_reply(b))
        return C4State(b.serialize(), state.agent_moves + 1)

    def is_terminal(self, state: C4State) -> bool:
        return state.agent_moves >= self.horizon or self.board(state).is_terminal()

    def reward(self, state: C4State) -> float:
        b = self.board(state)
        if not b.is_terminal():
            return 0.5
        r = b.returns()[self.agent]
        return 1.0 if r > 0 else 0.0 if r < 0 else 0.5

    def is_solved(self, state: C4State) -> bool:
        b = self.board(state)
        return b.is_terminal() and b.returns()[self.agent] > 0

    def to_text(self, state: C4State) -> str:
        return self.board(state).to_text()

    def describe(self, state: C4State) -> str:
        b = self.board(state)
        legal = " ".join(str(a + 1) for a in b.legal_actions())
        return (f"Connect Four (columns 1-7; four in a row wins). You play {'x' if self.agent == 0 else 'o'}.\n"
                f"{b.to_text()}\nLegal columns: {legal}\nAnswer with one column number.")

    def value_question(self, state: C4State) -> str:
        b = self.board(state)
        return (f"Connect Four position:\n{b.to_text()}\nHow likely is {'x' if self.agent == 0 else 'o'} to win? "
                "Rate from 1 (sure loss) to 100 (sure win).")

    def judge_question(self, state: C4State) -> None:
        return None

    def answer(self, state: C4State) -> str:
        return state.moves[len(self.moves):]

    def key(self, state: C4State) -> str:
        return state.moves

    def serialize(self, state: C4State) -> str:
        return json.dumps({"moves": state.moves, "agent_moves": state.agent_moves})

    def deserialize(self, text: str) -> C4State:
        d = load_json_state(text, ("moves", "agent_moves"))
        return C4State(str(d["moves"]), int(d["agent_moves"]))
