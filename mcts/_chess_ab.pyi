"""Type stubs for ``mcts._chess_ab``: the chess alpha-beta searcher in C (the back end of
``mcts.AlphaBeta`` on the bitboard board)."""
from __future__ import annotations

from typing import Any

from mcts._alphabeta import _SearchBackend

class ChessAlphaBeta(_SearchBackend):
    game: Any
    aspiration: int
    aspiration_schedule: tuple[int, int, int, int]
    max_depth: int
    exact: bool
    def __init__(self, game: Any, *, tt_bytes: int = ..., aspiration: int = 25) -> None: ...
    def hashfull(self) -> int: ...
