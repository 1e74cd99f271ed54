"""Type stubs for ``mcts._chess_ab``: the chess alpha-beta searcher in C (the back end of
``mcts.AlphaBeta`` on the bitboard board)."""
from __future__ import annotations

import os
from typing import Any, Optional, Union

from mcts._alphabeta import _SearchBackend
from mcts._nnue import ChessNNUE

CHESS_SCALE: float  # centipawns per unit of tanh argument (800 / ln 10)
MAX_THREADS: int    # most searcher threads (Lazy SMP)

def table_stress(threads: int, iterations: int, entries: int = 16, key_count: int = 64,
                 seed: int = 1) -> tuple[int, int, int]: ...

class ChessAlphaBeta(_SearchBackend):
    game: Any
    aspiration: int
    nnue: Optional[ChessNNUE]  # the learned evaluation in use, None: the hand-written one
    threads: int
    def __init__(self, game: Any, *, tt_bytes: int = ..., aspiration: int = 25,
                 eval_file: Union[str, os.PathLike[str], ChessNNUE, None] = None, threads: int = 1) -> None: ...
    def set_eval_file(self, eval_file: Union[str, os.PathLike[str], ChessNNUE, None]) -> None: ...
    def finish(self) -> None: ...
    @property
    def helper_depths(self) -> list[int]: ...
    def hashfull(self) -> int: ...
