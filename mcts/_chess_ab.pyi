"""Type stubs for ``mcts._chess_ab``: the chess alpha-beta searcher in C (the back end of
``mcts.AlphaBeta`` on the bitboard board)."""
from __future__ import annotations

from typing import Any

from mcts._alphabeta import _SearchBackend

CHESS_SCALE: float  # centipawns per unit of tanh argument (800 / ln 10)

class ChessAlphaBeta(_SearchBackend):
    game: Any
    aspiration: int
    def __init__(self, game: Any, *, tt_bytes: int = ..., aspiration: int = 25) -> None: ...
    def hashfull(self) -> int: ...
