"""Misère Nim in pure Python: a complete game of the protocol (``games/_protocol.py``), as a user writes one.

Piles of objects; a move takes one or more objects from one pile; whoever takes the last object
loses. Actions follow OpenSpiel's ``nim``: taking ``t`` objects from pile ``p`` is action
``(t - 1) * num_piles + p``, so ``openspiel:nim`` checks the rules move by move.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from games import ActionOutOfRangeError, IllegalActionError, InvalidActionError, InvalidStateError, TERMINAL_PLAYER


class NimState:
    """A position: the piles and the player to move."""

    def __init__(self, game: "NimGame", piles: list[int], moves: list[int]) -> None:
        self.game = game
        self.piles = piles
        self.moves = moves

    def legal_actions(self) -> list[int]:
        n = self.game.num_piles
        return sorted((t - 1) * n + p for p, size in enumerate(self.piles) for t in range(1, size + 1))

    def legal_actions_mask(self) -> np.ndarray:
        mask = np.zeros(self.game.num_actions, dtype=bool)
        mask[self.legal_actions()] = True
        return mask

    def apply_action(self, action: int) -> None:
        """Plays a legal action without checking it (the fast path for searches)."""
        take, pile = divmod(action, self.game.num_piles)
        self.piles[pile] -= take + 1
        self.moves.append(action)

    def apply_action_checked(self, action: int) -> None:
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < self.game.num_actions:
            raise ActionOutOfRangeError(f"Nim action {action!r} is outside [0, {self.game.num_actions})")
        if action not in self.legal_actions():
            raise IllegalActionError(f"illegal Nim action {action} with piles {self.piles}")
        self.apply_action(int(action))

    def clone(self) -> "NimState":
        return NimState(self.game, list(self.piles), list(self.moves))

    def is_terminal(self) -> bool:
        return not any(self.piles)

    def returns(self) -> list[float]:
        if any(self.piles):
            return [0.0, 0.0]
        loser = (len(self.moves) - 1) % 2  # the player who took the last object
        return [-1.0, 1.0] if loser == 0 else [1.0, -1.0]

    def current_player(self) -> int:
        return TERMINAL_PLAYER if not any(self.piles) else len(self.moves) % 2

    def hash(self) -> int:
        key = len(self.moves) % 2
        for size in self.piles:
            key = key * 64 + size
        return (key * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)

    def observation(self) -> np.ndarray:
        """float32 ``[num_piles, max_pile + 1]``: one-hot pile sizes."""
        out = np.zeros(self.game.observation_shape, dtype=np.float32)
        out[np.arange(self.game.num_piles), self.piles] = 1.0
        return out

    def to_text(self) -> str:
        status = "game over" if self.is_terminal() else f"player {self.current_player()} to move"
        return f"piles: {' '.join(map(str, self.piles))}\n{status}\nmoves: {self.serialize() or '(none)'}"

    def action_to_string(self, action: int) -> str:
        take, pile = divmod(int(action), self.game.num_piles)
        return f"pile:{pile + 1}, take:{take + 1};"  # OpenSpiel's text

    def string_to_action(self, text: str) -> int:
        for a in self.legal_actions():
            if self.action_to_string(a) == text.strip():
                return a
        raise InvalidActionError(f"{text!r} is not a legal Nim move with piles {self.piles}")

    def serialize(self) -> str:
        return " ".join(map(str, self.moves))

    def history(self) -> list[int]:
        return list(self.moves)


class NimGame:
    """Misère Nim (``piles`` sizes, default OpenSpiel's ``1;3;5;7``)."""

    name = "nim-py"
    num_players = 2
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True

    def __init__(self, piles: Sequence[int] = (1, 3, 5, 7)) -> None:
        self.start = [int(p) for p in piles]
        if not self.start or min(self.start) < 0:
            raise ValueError(f"Nim piles must be non-negative sizes, got {piles!r}")
        self.params = {"piles": list(self.start)}
        self.num_piles = len(self.start)
        self.num_actions = self.num_piles * max(self.start)
        self.max_game_length = sum(self.start)
        self.observation_shape = (self.num_piles, max(self.start) + 1)

    def new_initial_state(self) -> NimState:
        return NimState(self, list(self.start), [])

    def deserialize(self, text: str) -> NimState:
        s = self.new_initial_state()
        for token in text.split():
            try:
                s.apply_action_checked(int(token))
            except (ValueError, IllegalActionError) as exc:
                raise InvalidStateError(f"Nim move string {text!r}: {exc}") from exc
        return s
