"""Type stubs for ``mcts._chess_ab``: the chess alpha-beta searcher in C (the back end of
``mcts.AlphaBeta`` on the bitboard board)."""
from __future__ import annotations

from typing import Any

from mcts._alphabeta import _SearchBackend

CHESS_SCALE: float  # centipawns per unit of tanh argument (800 / ln 10)
MAX_THREADS: int    # most searcher threads (Lazy SMP)

def table_stress(threads: int, iterations: int, entries: int = 16, key_count: int = 64,
                 seed: int = 1) -> tuple[int, int, int]: ...

class ChessAlphaBeta(_SearchBackend):
    game: Any
    aspiration: int
    threads: int
    def __init__(self, game: Any, *, tt_bytes: int = ..., aspiration: int = 25, threads: int = 1) -> None: ...
    def finish(self) -> None: ...
    @property
    def helper_depths(self) -> list[int]: ...
    def hashfull(self) -> int: ...
