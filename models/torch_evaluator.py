"""``TorchEvaluator``: the batched evaluator protocol over an exported plytree network, run by torch.

What users without onnxruntime-gpu have on a GPU: the ``.onnx`` file written by ``models.export`` is
turned back into the torch :class:`models.nets.ResNet` (its architecture from the file's metadata, its
weights from the graph's initialisers: the exporter folds each batch norm into the convolution before
it, so each batch norm becomes the identity with the folded bias as its shift), then run on CUDA when
there is one (optionally in float16 / bfloat16, and through CUDA graphs captured once per batch size),
else on the CPU. Outputs match ``OnnxEvaluator`` on the same file (tests/test_threads.py).

Needs torch and onnx (the ``train`` extra).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from models._errors import ModelFileError, ModelMismatchError
from models._metadata import ModelInfo, describe, game_spec, same_params

DTYPES = ("float32", "float16", "bfloat16")


def load_resnet(path: Union[str, os.PathLike]) -> tuple[Any, ModelInfo]:
    """The torch ``ResNet`` an exported ``.onnx`` file holds, with the file's metadata.

    Raises:
        ModelFileError: the file is missing, not ONNX, not a plytree ResNet, or its weights do not
            fit the architecture its metadata names.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    from models.nets import ResNet

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist or is not a file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelFileError(f"model file {str(path)!r} is not a loadable ONNX model: {exc}") from exc
    props = {p.key: p.value for p in model.metadata_props}
    info = ModelInfo.from_props(props, str(path))
    try:
        blocks, channels = int(props["blocks"]), int(props["channels"])
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: the metadata names no ResNet size (blocks, channels)") from exc
    spec = {"name": info.game, "params": info.game_params, "observation_shape": info.observation_shape,
            "num_actions": info.num_actions}
    net = ResNet(spec, blocks=blocks, channels=channels, value_head=info.value_head, num_bins=info.num_bins)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    state = net.state_dict()
    for name in state:
        key = "net." + name
        if key in weights:   # the linear layers keep their names
            state[name] = torch.from_numpy(weights[key].copy())
    # the convolutions (with their folded batch norms), in execution order; the heads by width
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    heads = {2: "policy_conv", 1: "value_conv"}
    body = ["stem"] + [f"tower.{i}.conv{j}" for i in range(blocks) for j in (1, 2)]
    order: list[str] = []
    for node in convs:
        out_channels = weights[node.input[1]].shape[0] if node.input[1] in weights else -1
        order.append(heads[out_channels] if out_channels in heads and out_channels != channels else "")
    tower = iter(body)
    names = [o or next(tower, "?") for o in order]
    if sorted(names) != sorted(body + list(heads.values())):
        raise ModelFileError(f"{path}: its {len(convs)} convolutions do not match a ResNet of {blocks} blocks")
    for node, name in zip(convs, names):
        conv, bn = _conv_bn_names(name)
        w = weights.get(node.input[1])
        b = weights.get(node.input[2]) if len(node.input) > 2 else None
        if w is None or tuple(w.shape) != tuple(state[conv].shape):
            raise ModelFileError(f"{path}: convolution {name} has weights {None if w is None else w.shape}, "
                                 f"expected {tuple(state[conv].shape)}")
        state[conv] = torch.from_numpy(w.copy())
        width = w.shape[0]
        state[bn + ".weight"] = torch.ones(width)
        state[bn + ".bias"] = torch.from_numpy(b.copy()) if b is not None else torch.zeros(width)
        state[bn + ".running_mean"] = torch.zeros(width)
        state[bn + ".running_var"] = torch.full((width,), 1.0 - net_bn_eps(net, bn))
    net.load_state_dict(state)
    net.eval()
    return net, info


def _conv_bn_names(name: str) -> tuple[str, str]:
    """The state-dict names of a convolution and of the batch norm after it."""
    if name in ("stem", "policy_conv", "value_conv"):
        return f"{name}.0.weight", f"{name}.1"
    block, conv = name.rsplit(".", 1)      # tower.3.conv1
    return f"{block}.{conv}.weight", f"{block}.bn{conv[-1]}"


def net_bn_eps(net: Any, bn: str) -> float:
    """The epsilon of one of ``net``'s batch norms (its variance is set to 1 - eps: a unit scale)."""
    return float(net.get_submodule(bn).eps)


class TorchEvaluator:
    """Batched evaluator (``mcts.Evaluator``) over an exported plytree network, run by torch.

    Args:
        path: the ``.onnx`` file written by ``models.export``.
        game: the game that will be searched; checked against the model's metadata when given.
        device: ``"cuda"``, ``"cpu"`` or a torch device string; None: CUDA when available.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (the half types on CUDA only).
        batch_size: most states per forward pass; larger calls are split.
        cuda_graphs: on CUDA, capture one CUDA graph per batch bucket (powers of two up to
            ``batch_size``) and replay it; a batch is padded to its bucket.
        cpu_threads: when given, ``torch.set_num_threads(cpu_threads)`` (process-wide: torch has one
            intra-op pool). On a loaded machine 1 is best: with 2 threads on 2 busy cores a forward
            pass of the Hex network took a median 880 ms instead of 8 ms (threads waiting at barriers).

    Attributes:
        thread_safe: True: ``evaluate`` may be called from several threads at once (CUDA-graph
            replays take turns).
        info: the model's metadata (``ModelInfo``).
        evaluations, batches: states and forward passes run.

    Raises:
        ModelFileError: see :func:`load_resnet`.
        ModelMismatchError: the model was built for another game than ``game``.
        ValueError: bad arguments (unknown dtype, a half type on the CPU, batch_size < 1, no CUDA).
    """

    thread_safe = True

    def __init__(self, path: Union[str, os.PathLike], *, game: Any = None, device: Optional[str] = None,
                 dtype: str = "float32", batch_size: int = 1024, cuda_graphs: bool = True,
                 cpu_threads: Optional[int] = None) -> None:
        import torch

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device")
        if self.device.type != "cuda" and dtype != "float32":
            raise ValueError(f"dtype {dtype} needs a CUDA device (got {self.device})")
        if cpu_threads is not None:
            if isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1:
                raise ValueError(f"cpu_threads must be a positive integer, got {cpu_threads!r}")
            torch.set_num_threads(cpu_threads)
        self.path = Path(path)
        net, self.info = load_resnet(self.path)
        self.dtype = dtype
        self._torch_dtype = getattr(torch, dtype)
        self.net = net.to(self.device, self._torch_dtype)
        self.num_actions = self.info.num_actions
        self.observation_shape = self.info.observation_shape
        self.batch_size = batch_size
        self.cuda_graphs = bool(cuda_graphs) and self.device.type == "cuda"
        self._graphs: dict[int, tuple[Any, Any, Any, Any]] = {}   # bucket -> (graph, input, logits, values)
        self._graph_lock = threading.Lock()     # a graph's static buffers serve one batch at a time
        self._stats_lock = threading.Lock()
        self.evaluations = 0
        self.batches = 0
        if game is not None:
            self._check_game(game)
        self._game_checked = game is not None

    def _check_game(self, game: Any) -> None:
        want = game_spec(game)
        info = self.info
        if (want["name"] != info.game or not same_params(want["params"], info.game_params)
                or tuple(want["observation_shape"]) != tuple(info.observation_shape)
                or want["num_actions"] != info.num_actions):
            raise ModelMismatchError(f"model {str(self.path)!r} is a network for "
                                     f"{describe(info.game, info.game_params)}, but the game searched is "
                                     f"{describe(want['name'], want['params'])}")

    def evaluate(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Priors and values for a batch of states (``mcts.Evaluator``; as ``OnnxEvaluator``).

        Returns:
            priors: float32 ``[B, num_actions]``, softmax over each state's legal actions.
            values: float32 ``[B]``, for the player to move.
        """
        from models.onnx_evaluator import _masked_softmax

        n = len(states)
        priors = np.empty((n, self.num_actions), dtype=np.float32)
        values = np.empty(n, dtype=np.float32)
        if n == 0:
            return priors, values
        if not self._game_checked:
            self._check_game(states[0].game)
            self._game_checked = True
        obs = np.stack([np.asarray(s.observation(), dtype=np.float32) for s in states])
        mask = np.stack([np.asarray(s.legal_actions_mask(), dtype=bool) for s in states])
        for start in range(0, n, self.batch_size):
            stop = min(n, start + self.batch_size)
            logits, value = self.forward(obs[start:stop])
            priors[start:stop] = _masked_softmax(logits, mask[start:stop])
            values[start:stop] = value
        with self._stats_lock:
            self.evaluations += n
            self.batches += (n + self.batch_size - 1) // self.batch_size
        return priors, values

    def forward(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw network outputs for ``[B, C, H, W]`` float32 observations (B <= batch_size):
        float32 policy logits ``[B, num_actions]`` and values ``[B]``."""
        import torch

        b = observations.shape[0]
        if self.cuda_graphs:
            return self._forward_graph(observations)
        x = torch.from_numpy(np.ascontiguousarray(observations)).to(self.device, self._torch_dtype)
        with torch.inference_mode():
            logits, value_logits = self.net(x)
            value = self.net.value(value_logits.float())
        return logits.float().cpu().numpy().reshape(b, -1), value.cpu().numpy().reshape(b)

    def _forward_graph(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        b = observations.shape[0]
        bucket = 1
        while bucket < b:
            bucket *= 2
        bucket = min(bucket, self.batch_size)
        with self._graph_lock:
            entry = self._graphs.get(bucket)
            if entry is None:
                entry = self._capture(bucket)
                self._graphs[bucket] = entry
            graph, static_in, static_logits, static_values = entry
            static_in[:b].copy_(torch.from_numpy(np.ascontiguousarray(observations)))
            if b < bucket:
                static_in[b:].zero_()
            graph.replay()
            return (static_logits[:b].float().cpu().numpy(), static_values[:b].float().cpu().numpy())

    def _capture(self, bucket: int) -> tuple[Any, Any, Any, Any]:
        """A CUDA graph of the forward pass at one batch size (warmed up on a side stream first)."""
        import torch

        static_in = torch.zeros((bucket, *self.observation_shape), device=self.device, dtype=self._torch_dtype)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):
                self.net(static_in)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph):
            logits, value_logits = self.net(static_in)
            values = self.net.value(value_logits.float())
        return graph, static_in, logits, values

    def stats(self) -> dict[str, float]:
        """The counters as a dict (for logs and benchmarks)."""
        return {"evaluations": self.evaluations, "batches": self.batches, "graphs": len(self._graphs)}

    def __repr__(self) -> str:
        return (f"TorchEvaluator({str(self.path)!r}, game={describe(self.info.game, self.info.game_params)}, "
                f"device={self.device}, dtype={self.dtype}, batch_size={self.batch_size}, "
                f"cuda_graphs={self.cuda_graphs})")
