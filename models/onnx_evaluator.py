"""``OnnxEvaluator``: the batched evaluator protocol over an onnxruntime session.

Needs onnxruntime and numpy only (no torch). One preallocated float32 input array is filled from the
states' observations, one ``session.run`` serves each batch, the policy is a softmax over the legal
actions alone, and results are kept in an LRU cache keyed by the state hash.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from models._errors import ModelFileError, ModelMismatchError, ModelRuntimeError
from models._metadata import (INPUT_NAME, POLICY_OUTPUT, VALUE_OUTPUT, ModelInfo, describe, game_spec,
                              same_params)

logger = logging.getLogger("plytree.models")

# best first; the CPU provider is always the fallback
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_announced: set[tuple[str, ...]] = set()
_announce_lock = threading.Lock()


def choose_providers(requested: Optional[Sequence[str]] = None) -> list[str]:
    """The execution providers to ask onnxruntime for.

    Args:
        requested: providers to force (e.g. ``["CPUExecutionProvider"]``); None picks TensorRT, CUDA
            and CPU among those ``onnxruntime.get_available_providers()`` offers.

    Raises:
        ValueError: a requested provider is not available in this onnxruntime.
    """
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested is None:
        return [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]
    requested = [requested] if isinstance(requested, str) else list(requested)
    if not requested:
        raise ValueError("providers must name at least one execution provider")
    for p in requested:
        if p not in available:
            raise ValueError(f"onnxruntime execution provider {p!r} is not available here; "
                             f"available: {', '.join(available)}")
    return requested


def _announce(providers: Sequence[str], path: Path) -> None:
    key = tuple(providers)
    with _announce_lock:
        if key in _announced:
            return
        _announced.add(key)
    message = f"plytree: onnxruntime runs {path.name} on {', '.join(providers)}"
    logger.info(message)
    print(message, file=sys.stderr)


def read_metadata(path: Union[str, os.PathLike]) -> ModelInfo:
    """The plytree metadata of a model file (loads it on the CPU).

    Raises:
        ModelFileError: the file is missing, not ONNX, or not a plytree network.
    """
    session = _open_session(Path(path), ["CPUExecutionProvider"], 1, False)
    return ModelInfo.from_props(session.get_modelmeta().custom_metadata_map, str(path))


def check_model_file(path: Path) -> None:
    """Raises ``ModelFileError`` unless ``path`` is a non-empty regular file."""
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} is not a regular file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {str(path)!r} is empty")


def _open_session(path: Path, providers: list[str], intra_op_threads: Optional[int], allow_spinning: bool):
    import onnxruntime as ort

    check_model_file(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the provider fallback warnings are ours to report
    if intra_op_threads is not None:
        options.intra_op_num_threads = int(intra_op_threads)
    # Between batches the search runs Python and C on the main thread; spinning pool threads would
    # take the cores it needs (measured: MCTS on 2 cores ran twice as fast with spinning off).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind classes (InvalidProtobuf, Fail, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"model file {str(path)!r} is not a loadable ONNX model "
                             f"(truncated or not ONNX?): {reason}") from exc


def _dims(shape: Sequence[Any]) -> list[Optional[int]]:
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


class OnnxEvaluator:
    """Batched evaluator (``mcts.Evaluator``) over an exported plytree network.

    Args:
        path: the ``.onnx`` file written by ``models.export``.
        game: the game that will be searched; checked against the model's metadata when given
            (when None, the first evaluated state's game is checked instead).
        providers: onnxruntime execution providers to force; None: TensorRT / CUDA when offered,
            else CPU. The choice is printed once per process to stderr (and logged).
        batch_size: most states per ``session.run``; larger calls are split.
        cache_size: LRU cache entries keyed by ``state.hash()``; 0 turns the cache off.
        intra_op_threads: onnxruntime's intra-op threads (None: its default, all cores).
        allow_spinning: let onnxruntime's idle pool threads spin between runs (lower latency on
            idle dedicated cores; off by default because the search needs the cores between batches).

    Attributes:
        thread_safe: True: ``evaluate`` may be called from several threads at once (``session.run``
            runs outside the lock; ``MCTS(threads=N)`` keeps N batches in flight).
        info: the model's metadata (``ModelInfo``).
        providers: the providers the session runs on.
        cache_hits, cache_misses: cache lookups that found / did not find a state.
        evaluations: states run through the network.
        batches: ``session.run`` calls.
        onnx_seconds: wall time spent inside ``session.run``.

    Raises:
        ModelFileError: the file is missing, truncated, not ONNX, or lacks the expected inputs,
            outputs or metadata.
        ModelMismatchError: the model was built for another game than ``game``.
        ValueError: bad arguments (batch_size < 1, unknown provider).
    """

    thread_safe = True

    def __init__(self, path: Union[str, os.PathLike], *, game: Any = None,
                 providers: Optional[Sequence[str]] = None, batch_size: int = 256,
                 cache_size: int = 100_000, intra_op_threads: Optional[int] = None,
                 allow_spinning: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be a non-negative integer, got {cache_size!r}")
        self.path = Path(path)
        chosen = choose_providers(providers)
        self._session = _open_session(self.path, chosen, intra_op_threads, allow_spinning)
        self.info = ModelInfo.from_props(self._session.get_modelmeta().custom_metadata_map, str(self.path))
        self._check_graph()
        self.providers: list[str] = list(self._session.get_providers())
        _announce(self.providers, self.path)
        self.game = game
        self._game_checked = False
        if game is not None:
            self._check_game(game)
        self.num_actions = self.info.num_actions
        self.observation_shape = self.info.observation_shape
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._input = np.zeros((batch_size, *self.observation_shape), dtype=np.float32)
        self._mask = np.zeros((batch_size, self.num_actions), dtype=np.bool_)
        self._cache: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._lock = threading.Lock()            # the cache and the counters
        self._buffers_lock = threading.Lock()    # _input and _mask
        self.reset_stats()

    # -- checks ---------------------------------------------------------------------------------

    def _check_graph(self) -> None:
        where = str(self.path)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ModelFileError(f"{where}: expected one input named {INPUT_NAME!r}, found "
                                 f"{[i.name for i in inputs]}")
        inp = inputs[0]
        if inp.type != "tensor(float)":
            raise ModelFileError(f"{where}: input {INPUT_NAME!r} is {inp.type}, expected tensor(float)")
        dims = _dims(inp.shape)
        want = list(self.info.observation_shape)
        if len(dims) != 1 + len(want) or any(d is not None and d != w for d, w in zip(dims[1:], want)):
            raise ModelFileError(f"{where}: input shape {inp.shape} does not match the metadata's "
                                 f"observation_shape {want} (expected [batch, {', '.join(map(str, want))}])")
        if dims[0] is not None:
            raise ModelFileError(f"{where}: the input's batch axis is fixed at {dims[0]}; export with a "
                                 f"dynamic batch axis (models.export)")
        outputs = {o.name: o for o in self._session.get_outputs()}
        for name, rank in ((POLICY_OUTPUT, 2), (VALUE_OUTPUT, 1)):
            if name not in outputs:
                raise ModelFileError(f"{where}: no output named {name!r} (outputs: {sorted(outputs)})")
            shape = _dims(outputs[name].shape)
            if len(shape) != rank:
                raise ModelFileError(f"{where}: output {name!r} has shape {outputs[name].shape}, "
                                     f"expected rank {rank}")
        policy_width = _dims(outputs[POLICY_OUTPUT].shape)[1]
        if policy_width is not None and policy_width != self.info.num_actions:
            raise ModelFileError(f"{where}: output {POLICY_OUTPUT!r} has {policy_width} actions but the "
                                 f"metadata says num_actions={self.info.num_actions}")

    def _check_game(self, game: Any) -> None:
        want = game_spec(game)
        info = self.info
        model_game = describe(info.game, info.game_params)
        searched = describe(want["name"], want["params"])
        if want["name"] != info.game or not same_params(want["params"], info.game_params):
            raise ModelMismatchError(f"model {str(self.path)!r} is a network for {model_game}, "
                                     f"but the game searched is {searched}")
        if want["observation_shape"] != info.observation_shape or want["num_actions"] != info.num_actions:
            raise ModelMismatchError(
                f"model {str(self.path)!r} for {model_game} expects observations {info.observation_shape} "
                f"and {info.num_actions} actions, but this {searched} has {want['observation_shape']} and "
                f"{want['num_actions']} (different game version?)")
        self._game_checked = True

    # -- protocol -------------------------------------------------------------------------------

    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Priors and values for a batch of states (``mcts.Evaluator``).

        Args:
            states: ``B`` non-terminal states of the model's game.

        Returns:
            priors: float32 ``[B, num_actions]``, softmax of the policy logits over each state's legal
                actions, zero elsewhere (a state with no legal action gets a row of zeros).
            values: float32 ``[B]``, for the player to move.

        Raises:
            ModelMismatchError: the states belong to another game than the model's.
            ModelRuntimeError: onnxruntime failed.
        """
        n = len(states)
        priors = np.empty((n, self.num_actions), dtype=np.float32)
        values = np.empty(n, dtype=np.float32)
        if n == 0:
            return priors, values
        # the lock guards the cache and the counters; session.run runs outside it, so that calls from
        # several threads (a pipelined MCTS, several searches) have batches in flight at once
        with self._lock:
            if not self._game_checked:
                self._check_game(states[0].game)
            duplicates: list[tuple[int, int]] = []
            keys: list[int] = []
            if self.cache_size:
                misses = self._lookup(states, priors, values, keys, duplicates)
            else:
                misses = list(range(n))
                self.cache_misses += n
        for start in range(0, len(misses), self.batch_size):
            self._run(states, keys, misses[start:start + self.batch_size], priors, values)
        for i, first in duplicates:
            priors[i] = priors[first]
            values[i] = values[first]
        return priors, values

    def _lookup(self, states: Sequence[Any], priors: np.ndarray, values: np.ndarray, keys: list[int],
                duplicates: list[tuple[int, int]]) -> list[int]:
        """Fills cached rows; returns the indices to evaluate, appends every state's hash to ``keys``
        and (index, first index) to ``duplicates`` for repeats within the batch (evaluated once)."""
        cache = self._cache
        misses: list[int] = []
        pending: dict[int, int] = {}  # hash -> first index in this batch still to evaluate
        for i, state in enumerate(states):
            key = state.hash()
            keys.append(key)
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                priors[i] = hit[0]
                values[i] = hit[1]
                self.cache_hits += 1
            elif key in pending:
                duplicates.append((i, pending[key]))
                self.cache_hits += 1
            else:
                pending[key] = i
                misses.append(i)
        self.cache_misses += len(misses)
        return misses

    def _run(self, states: Sequence[Any], keys: list[int], indices: list[int], priors: np.ndarray,
             values: np.ndarray) -> None:
        m = len(indices)
        # the evaluator's own buffers when free, else this call's (another thread's batch is in flight)
        mine = self._buffers_lock.acquire(blocking=False)
        try:
            x = self._input if mine else np.empty_like(self._input[:m])
            mask = self._mask if mine else np.empty_like(self._mask[:m])
            for j, i in enumerate(indices):
                state = states[i]
                x[j] = state.observation()
                mask[j] = state.legal_actions_mask()
            start = time.perf_counter()
            try:
                logits, value = self._session.run([POLICY_OUTPUT, VALUE_OUTPUT], {INPUT_NAME: x[:m]})
            except Exception as exc:
                raise ModelRuntimeError(f"onnxruntime failed on {self.path.name} for a batch of {m}: {exc}") from exc
            seconds = time.perf_counter() - start
            probs = _masked_softmax(np.asarray(logits, dtype=np.float32), mask[:m])
        finally:
            if mine:
                self._buffers_lock.release()
        value = np.asarray(value, dtype=np.float32).reshape(m)
        priors[indices] = probs
        values[indices] = value
        with self._lock:
            self.onnx_seconds += seconds
            self.batches += 1
            self.evaluations += m
            if self.cache_size:
                cache = self._cache
                for j, i in enumerate(indices):
                    cache[keys[i]] = (probs[j].copy(), float(value[j]))
                while len(cache) > self.cache_size:
                    cache.popitem(last=False)

    @property
    def session(self):
        """The ``onnxruntime.InferenceSession`` (inputs ``observation``; outputs ``policy_logits``,
        ``value``, ``value_logits``)."""
        return self._session

    # -- housekeeping ---------------------------------------------------------------------------

    def clear_cache(self) -> None:
        """Forgets every cached evaluation (e.g. after the network file changed)."""
        with self._lock:
            self._cache.clear()

    def reset_stats(self) -> None:
        """Zeroes the counters and ``onnx_seconds``."""
        self.cache_hits = 0
        self.cache_misses = 0
        self.evaluations = 0
        self.batches = 0
        self.onnx_seconds = 0.0

    def stats(self) -> dict[str, float]:
        """The counters as a dict (for logs and benchmarks)."""
        return {"cache_hits": self.cache_hits, "cache_misses": self.cache_misses,
                "evaluations": self.evaluations, "batches": self.batches, "onnx_seconds": self.onnx_seconds,
                "cache_entries": len(self._cache)}

    def __repr__(self) -> str:
        return (f"OnnxEvaluator({str(self.path)!r}, game={describe(self.info.game, self.info.game_params)}, "
                f"providers={self.providers}, batch_size={self.batch_size}, cache_size={self.cache_size})")


def _masked_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the true entries of ``mask`` (float32 ``[B, A]``); rows with no true
    entry become zeros."""
    z = np.where(mask, logits, -np.inf)
    top = z.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    np.subtract(z, top, out=z)
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    z /= total
    return z
