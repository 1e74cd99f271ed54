"""Type stubs for ``mcts._chess_ab``: the chess alpha-beta searcher in C (the back end of
``mcts.AlphaBeta`` on the bitboard board)."""
from __future__ import annotations

import os
from typing import Any, Optional, Union

from mcts._alphabeta import _SearchBackend
from mcts._nnue import ChessNNUE

CHESS_SCALE: float  # centipawns per unit of tanh argument (800 / ln 10)

class ChessAlphaBeta(_SearchBackend):
    game: Any
    aspiration: int
    nnue: Optional[ChessNNUE]  # the learned evaluation in use, None: the hand-written one
    def __init__(self, game: Any, *, tt_bytes: int = ..., aspiration: int = 25,
                 eval_file: Union[str, os.PathLike[str], ChessNNUE, None] = None) -> None: ...
    def set_eval_file(self, eval_file: Union[str, os.PathLike[str], ChessNNUE, None]) -> None: ...
    def hashfull(self) -> int: ...
