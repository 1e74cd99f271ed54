"""Search scores: the score type (``Cp`` / ``Mate``, as python-chess's), the constants every alpha-beta
back end shares, and the one score-to-value map.

An alpha-beta score is an ``int`` for the player to move: a win ``k`` plies from the root scores
``MATE - k`` (the fastest win is highest, the slowest loss highest among losses); any other score is in
the back end's units (centipawns for chess). :func:`to_score` turns it into a :class:`Cp` or a
:class:`Mate`; :func:`score_to_value` into a value in [-1, 1]. The C searches use the same numbers
and map (``mcts/_ab_common.pxd``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

__all__ = ["CHESS_SCALE", "Cp", "INF", "MATE", "MATE_BOUND", "MAX_PLY", "Mate", "STOP_REASONS", "Score", "score_to_value",
           "to_score", "value_to_score"]

MATE = 1_000_000          # AB_MATE: a win k plies from the root scores MATE - k
MATE_BOUND = 999_000      # AB_MATE_BOUND: |score| above this is a forced result
INF = MATE + 1            # AB_INF: beyond every score
CHESS_SCALE = 800.0 / math.log(10.0)  # centipawns per unit of the tanh argument (= 1 / (1 + 10^(-cp/400)))
MAX_PLY = 128             # AB_MAX_PLY: the deepest ply of any alpha-beta search
STOP_REASONS = ("", "nodes", "time", "stopped")   # names of the C stop codes AB_STOP_NONE .. AB_STOP_STOPPED
CHESS_SCALE = 800.0 / math.log(10.0)   # centipawns: tanh(cp / CHESS_SCALE) = 2 / (1 + 10^(-cp/400)) - 1


@dataclass(frozen=True)
class Cp:
    """A score without a forced result, in the back end's units (centipawns for chess)."""

    cp: int

    def is_mate(self) -> bool:
        return False

    def score(self) -> int:
        """The search score."""
        return self.cp


@dataclass(frozen=True)
class Mate:
    """A forced result: ``plies > 0`` wins in that many plies, ``plies < 0`` loses in ``-plies``
    (``Mate(-0)`` does not exist: a mated side to move has no search)."""

    plies: int

    def is_mate(self) -> bool:
        return True

    @property
    def moves(self) -> int:
        """Full moves, signed, as UCI ``score mate N`` (a win in 1 or 2 plies is mate in 1)."""
        n = (abs(self.plies) + 1) // 2
        return n if self.plies > 0 else -n

    def score(self) -> int:
        """The search score."""
        return MATE - self.plies if self.plies > 0 else -(MATE + self.plies)


Score = Union[Cp, Mate]


def to_score(score: int) -> Score:
    """The :class:`Cp` or :class:`Mate` of a search score."""
    score = int(score)
    if score > MATE_BOUND:
        return Mate(MATE - score)
    if score < -MATE_BOUND:
        return Mate(-(MATE + score))
    return Cp(score)


def score_to_value(score: int, scale: float) -> float:
    """THE score-to-value map of every alpha-beta back end: a forced win or loss is +-1, any other score
    ``s`` is ``tanh(s / scale)``, ``scale`` being the back end's score units at which the value reaches
    tanh(1) = 0.76 (chess: :data:`CHESS_SCALE` centipawns, which is the logistic
    ``2 / (1 + 10 ** (-cp / 400)) - 1``). The C twin is ``ab_score_to_value``.
    """
    if score > MATE_BOUND:
        return 1.0
    if score < -MATE_BOUND:
        return -1.0
    return math.tanh(score / scale)


def value_to_score(value: float, scale: float) -> int:
    """The inverse map on values in (-1, 1): an evaluator's value as a search score (values are
    clipped to +-0.9999 so that no evaluation reads as a forced result)."""
    v = max(-0.9999, min(0.9999, float(value)))
    return int(round(scale * math.atanh(v)))
