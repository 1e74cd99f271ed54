"""Labelled chess positions for the learned evaluation: the shard format, the features, the reader.

A shard is a numpy ``.npz`` file of ``N`` positions:

==========  ===============  =================================================================
``board``   int8 ``[N, 64]``  piece code on each square (type + 6 * colour, as ``games.chessboard``;
                              -1 empty), squares a1 = 0 ... h8 = 63
``stm``     uint8 ``[N]``     side to move (0 white, 1 black)
``score``   int16 ``[N]``     Stockfish's score in centipawns for the side to move (mates clamped
                              to +-``MATE_CP``)
``result``  int8 ``[N]``      the game's result for the side to move: 1 win, 0 draw, -1 loss
``ply``     uint16 ``[N]``    plies since the opening position (informative)
==========  ===============  =================================================================

Features (``FEATURE_SET``, "psq768"): from each colour's perspective, 768 piece-square indices
``(own ? 0 : 384) + type * 64 + oriented square``, the square mirrored vertically (``sq ^ 56``) for
Black, so both perspectives see their own pieces move "up" the board. The network reads the side
to move's perspective first. ``mcts._nnue`` computes the same indices in C.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, Union

import numpy as np

FEATURE_SET = "psq768"
NUM_FEATURES = 768
MAX_PIECES = 32
MATE_CP = 4000            # mate scores become +-this many centipawns
CP_PER_LOGIT = 400.0 / math.log(10.0)   # 1 / (logistic slope): p(win) = 1 / (1 + 10 ** (-cp / 400))
SHARD_KEYS = ("board", "stm", "score", "result", "ply")


class ShardError(ValueError):
    """A shard file is missing keys or has inconsistent arrays."""


def write_shard(path: Union[str, os.PathLike], board: np.ndarray, stm: np.ndarray, score: np.ndarray,
                result: np.ndarray, ply: np.ndarray) -> Path:
    """Writes one shard atomically (a half-written shard never looks finished to a resumed run).

    Args:
        path: the ``.npz`` file.
        board: ``[N, 64]`` piece codes; stm, score, result, ply: ``[N]`` (see the module docstring).

    Returns:
        The path written.
    """
    path = Path(path)
    n = len(board)
    arrays = dict(board=np.asarray(board, np.int8).reshape(n, 64), stm=np.asarray(stm, np.uint8),
                  score=np.clip(np.asarray(score), -MATE_CP, MATE_CP).astype(np.int16),
                  result=np.asarray(result, np.int8), ply=np.asarray(ply, np.uint16))
    for k, v in arrays.items():
        if len(v) != n:
            raise ShardError(f"{path}: {k} has {len(v)} rows, board has {n}")
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def read_shards(data: Union[str, os.PathLike]) -> dict[str, np.ndarray]:
    """All shards of a directory (``shard_*.npz``, in name order), concatenated.

    Raises:
        FileNotFoundError: no shard in ``data``.
        ShardError: a shard lacks a key.
    """
    files = sorted(Path(data).glob("shard_*.npz"))
    if not files:
        raise FileNotFoundError(f"no shard_*.npz in {data}")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SHARD_KEYS}
    for f in files:
        with np.load(f) as z:
            missing = [k for k in SHARD_KEYS if k not in z]
            if missing:
                raise ShardError(f"{f}: not a chess-eval shard (missing {', '.join(missing)})")
            for k in SHARD_KEYS:
                parts[k].append(z[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def feature_indices(board: np.ndarray, stm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Active feature indices of positions, from the side to move's and the other side's view.

    Args:
        board: int8 ``[N, 64]`` piece codes (-1 empty).
        stm: ``[N]`` side to move.

    Returns:
        Two int64 ``[N, 32]`` arrays (own perspective, other perspective), padded with
        ``NUM_FEATURES`` (an index past the features: the embedding's zero row) after the pieces.
    """
    board = np.asarray(board, np.int64).reshape(-1, 64)
    stm = np.asarray(stm, np.int64).reshape(-1)
    n = len(board)
    out = [np.full((n, MAX_PIECES), NUM_FEATURES, np.int64) for _ in range(2)]
    occupied = board >= 0
    counts = occupied.sum(1)
    if n and counts.max() > MAX_PIECES:
        raise ValueError(f"a position has {counts.max()} pieces (at most {MAX_PIECES})")
    rows, squares = np.nonzero(occupied)
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    code = board[rows, squares]
    colour, kind = code // 6, code % 6
    for k, persp in enumerate((stm[rows], 1 - stm[rows])):
        oriented = np.where(persp == 0, squares, squares ^ 56)
        out[k][rows, slot] = np.where(colour == persp, 0, 384) + kind * 64 + oriented
    return out[0], out[1]


def dense_features(board: np.ndarray, stm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 inputs of the ONNX graph: two float32 ``[N, 768]`` arrays (side to move, other side)."""
    own, other = feature_indices(board, stm)
    out = []
    for idx in (own, other):
        x = np.zeros((len(idx), NUM_FEATURES + 1), np.float32)
        np.put_along_axis(x, idx, 1.0, axis=1)
        out.append(x[:, :NUM_FEATURES])
    return out[0], out[1]


def board_codes(state: object) -> tuple[np.ndarray, int]:
    """Piece codes ``[64]`` and the side to move of a chess state (python-chess board underneath)."""
    import chess

    board = state if isinstance(state, chess.Board) else state.board  # type: ignore[attr-defined]
    codes = np.full(64, -1, np.int8)
    for sq, piece in board.piece_map().items():
        codes[sq] = (piece.piece_type - 1) + (0 if piece.color == chess.WHITE else 6)
    return codes, 0 if board.turn == chess.WHITE else 1


def iterate_batches(data: dict[str, np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless random row indices of ``data``, ``batch_size`` at a time, epoch after epoch."""
    n = len(data["board"])
    while True:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]
