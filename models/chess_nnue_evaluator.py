"""``ChessNNUEEvaluator``: the learned chess evaluation (``models/zoo/chess_nnue.onnx``) as a batched
value evaluator for MCTS on chess.

The same ONNX file the C alpha-beta reads (``models.chess_nnue``) runs through onnxruntime, a batch
per call: each state's piece-square features (``models.chess_data``, from its observation planes)
go in, the network's value for the side to move comes out. The network has no policy head, so the
priors are uniform over the legal moves (material-free: no move is preferred for what it captures).
Values are cached by state hash (LRU). Needs numpy and onnxruntime (no torch, no ``onnx``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from models._errors import ModelFileError, ModelMismatchError, ModelRuntimeError
from models.chess_data import FEATURE_SET, NUM_FEATURES, dense_features
from models.chess_nnue import OTHER_INPUT, OWN_INPUT, VALUE_OUTPUT
from models.onnx_evaluator import _open_session

SHIPPED_NET = Path(__file__).resolve().parent / "zoo" / "chess_nnue.onnx"
CHESS_GAMES = ("chess", "chess960")
PIECE_PLANES = 12      # observation planes 0..11: piece code (type + 6 * colour); plane 12: White to move


def codes_from_observations(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Piece codes and sides to move of chess observations.

    Args:
        obs: float ``[B, 19, 8, 8]`` observations (``games.chess``: planes ``[code, rank, file]``,
            plane 12 all ones when White is to move).

    Returns:
        int8 ``[B, 64]`` piece codes (-1 empty, square ``rank * 8 + file``) and uint8 ``[B]`` sides to
        move (0 White), as ``models.chess_data`` stores them.
    """
    obs = np.asarray(obs)
    if obs.ndim != 4 or obs.shape[1] < PIECE_PLANES + 1 or obs.shape[2:] != (8, 8):
        raise ValueError(f"expected chess observations [B, 19, 8, 8], got shape {obs.shape}")
    planes = obs[:, :PIECE_PLANES].reshape(len(obs), PIECE_PLANES, 64) > 0.5
    codes = np.where(planes.any(1), planes.argmax(1), -1).astype(np.int8)
    stm = (obs[:, PIECE_PLANES, 0, 0] < 0.5).astype(np.uint8)
    return codes, stm


class ChessNNUEEvaluator:
    """Batched evaluator (``mcts.Evaluator``) of the chess NNUE through onnxruntime.

    Args:
        path: the network (an ONNX file of ``models.chess_nnue``; None: the shipped one).
        game: the game searched (checked: chess or chess960), or None.
        batch_size: most states per ``session.run``.
        cache_size: LRU entries keyed by ``state.hash()`` (0: no cache).
        intra_op_threads: onnxruntime threads (default 1: the search runs between batches).

    Attributes:
        info: the file's plytree metadata (``feature_set``, ``value_head``, ``hidden``, ...).
        evaluations, batches, cache_hits: counters.

    Raises:
        ModelFileError: the file is missing, not ONNX, or not a chess NNUE.
        ModelMismatchError: ``game`` is not chess.
        ValueError: batch_size < 1 or cache_size < 0.
    """

    thread_safe = False

    def __init__(self, path: Union[str, os.PathLike, None] = None, *, game: Any = None, batch_size: int = 256,
                 cache_size: int = 100_000, intra_op_threads: Optional[int] = 1) -> None:
        if batch_size < 1 or cache_size < 0:
            raise ValueError(f"batch_size must be >= 1 and cache_size >= 0, got {batch_size}, {cache_size}")
        self.path = Path(path) if path is not None else SHIPPED_NET
        self._session = _open_session(self.path, ["CPUExecutionProvider"], intra_op_threads, False)
        self.info = dict(self._session.get_modelmeta().custom_metadata_map)
        if self.info.get("plytree_kind") != "nnue" or self.info.get("feature_set") != FEATURE_SET:
            raise ModelFileError(f"{str(self.path)!r} is not a plytree chess NNUE ({FEATURE_SET}): metadata "
                                 f"plytree_kind={self.info.get('plytree_kind')!r}, "
                                 f"feature_set={self.info.get('feature_set')!r}")
        if game is not None and str(getattr(game, "name", "")) not in CHESS_GAMES:
            raise ModelMismatchError(f"the chess NNUE evaluates chess, not {getattr(game, 'name', game)!r}")
        self.game = game
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[int, float] = OrderedDict()
        self.evaluations = self.batches = self.cache_hits = 0

    def values(self, states: Sequence[Any]) -> np.ndarray:
        """float32 ``[B]``: the network's value (``2 p(win) - 1``) of each state for its side to move."""
        n = len(states)
        out = np.empty(n, np.float32)
        misses: list[int] = []
        keys = [s.hash() for s in states] if self.cache_size else []
        for i in range(n):
            hit = self._cache.get(keys[i]) if self.cache_size else None
            if hit is None:
                misses.append(i)
            else:
                self._cache.move_to_end(keys[i])
                out[i] = hit
                self.cache_hits += 1
        for start in range(0, len(misses), self.batch_size):
            chunk = misses[start:start + self.batch_size]
            obs = np.stack([states[i].observation() for i in chunk])
            own, other = dense_features(*codes_from_observations(obs))
            try:
                (value,) = self._session.run([VALUE_OUTPUT], {OWN_INPUT: own, OTHER_INPUT: other})
            except Exception as exc:
                raise ModelRuntimeError(f"onnxruntime failed on {self.path.name} for {len(chunk)} states: {exc}") from exc
            value = np.asarray(value, np.float32).reshape(len(chunk))
            out[chunk] = value
            self.batches += 1
            self.evaluations += len(chunk)
            if self.cache_size:
                for j, i in enumerate(chunk):
                    self._cache[keys[i]] = float(value[j])
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Priors and values of a batch of chess states (``mcts.Evaluator``).

        Returns:
            priors: float32 ``[B, num_actions]``, uniform over each state's legal moves.
            values: float32 ``[B]`` in [-1, 1], for the side to move.
        """
        from mcts import uniform_priors

        if not states:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        game = states[0].game if self.game is None else self.game
        return uniform_priors(states, int(game.num_actions)), self.values(states)

    def __repr__(self) -> str:
        return (f"ChessNNUEEvaluator({str(self.path)!r}, hidden={self.info.get('hidden')}, "
                f"value_head={self.info.get('value_head')}, features={NUM_FEATURES})")
