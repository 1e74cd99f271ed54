"""python-chess walking a tree (legal moves, push and pop at every node, no bulk counting): the
per-node work any search on python-chess must do, the baseline of the chess search benchmarks."""
from __future__ import annotations

import chess


def walk(board: chess.Board, depth: int) -> int:
    """Nodes of the legal-move tree of ``board`` to ``depth`` plies, the root included."""
    if depth == 0:
        return 1
    n = 1
    for move in board.generate_legal_moves():
        board.push(move)
        n += walk(board, depth - 1)
        board.pop()
    return n
