"""The learned chess evaluation: an efficiently updatable network (NNUE-style), its training,
quantisation and ONNX export.

Architecture (``feature set psq768``, see ``models.chess_data``)::

    own   [768 sparse] --ft--> acc_own   [H] --+
    other [768 sparse] --ft--> acc_other [H] --+--> clip(0, 1) [2H] --l1--> clip [16] --l2--> clip [32] --+
    own, other --psqt--> (psqt_own - psqt_other) / 2 [1] ---------------------------------------------+--out--> [K]

The feature transformer ``ft`` (weights ``[768, H]`` + bias ``[H]``) is shared by both perspectives;
its sum over the active features is the accumulator a search updates move by move. Beside it a
linear piece-square path ``psqt`` (one weight per feature, as Stockfish's PSQT outputs) feeds the
output layer directly: it starts as material values, learns piece-square terms from few examples,
and leaves the dense layers the corrections. ``K`` is 1 for the
sigmoid target (the output is a win-probability logit: ``cp = logit * 400 / ln 10``) or ``num_bins``
for HL-Gauss (a histogram over the value ``2 p(win) - 1`` in [-1, 1]).

Quantisation (as the C evaluation ``mcts._nnue`` computes): accumulator weights and bias int16 at
scale ``QA = 127`` (a clipped activation of 1.0 is 127), ``l1`` and ``l2`` weights int8 at scale
``QB = 64`` (so they are clipped to +-127/64 in training) with int32 biases at ``QA * QB``, each
layer's int32 sum rounded back to scale ``QA`` (``(s + 32) >> 6``); the piece-square weights are int32
at ``QA * QB``; the output layer stays float (``K x 33`` multiply-adds). The ONNX file holds the dequantised weights (``q / scale``), so C reads
exact integers back and onnxruntime runs the same network in float: they differ only by the
rounding of the activations.

Torch is imported by the training functions only; the numpy forward passes and the export need numpy
and ``onnx``.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from models._hlgauss import DEFAULT_NUM_BINS, bin_centers
from models.chess_data import CP_PER_LOGIT, FEATURE_SET, MATE_CP, NUM_FEATURES, feature_indices, read_shards

QA = 127              # accumulator / activation scale
QB = 64               # dense weight scale
DENSE_LIMIT = 127 / QB
L1 = 16
L2 = 32
OWN_INPUT = "features_own"
OTHER_INPUT = "features_other"
VALUE_OUTPUT = "value"
LOGITS_OUTPUT = "value_logits"
TARGETS = ("sigmoid", "hlgauss")
MATERIAL_CP = (100, 320, 330, 500, 950, 0)   # the piece-square path's starting values (pawn ... king)


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of one training run (keyword-only by convention).

    Attributes:
        steps: optimizer steps.
        batch_size: positions per step.
        learning_rate: peak learning rate (Adam, cosine decay to 5%).
        hidden: accumulator units per perspective.
        num_bins: HL-Gauss bins.
        result_weight: share of the game result in the target win probability (the rest:
            Stockfish's score through the logistic ``1 / (1 + 10 ** (-cp / 400))``).
        seed: seeds initialisation and batches.
        threads: torch CPU threads (None: torch's default).
        time_limit: stop training after this many seconds (the schedule is fitted to it).
        eval_every: steps between validation measurements (early stopping).
    """

    steps: int = 4000
    batch_size: int = 1024
    learning_rate: float = 2e-3
    hidden: int = 128
    num_bins: int = DEFAULT_NUM_BINS
    result_weight: float = 0.1
    seed: int = 0
    threads: Optional[int] = None
    time_limit: Optional[float] = None
    eval_every: int = 250


def target_probability(score: np.ndarray, result: np.ndarray, result_weight: float) -> np.ndarray:
    """float32 ``[N]`` win probabilities for the side to move: Stockfish's score blended with the result."""
    p_score = 1.0 / (1.0 + np.power(10.0, -np.asarray(score, np.float64) / 400.0))
    p_result = (np.asarray(result, np.float64) + 1.0) / 2.0
    return ((1.0 - result_weight) * p_score + result_weight * p_result).astype(np.float32)


def probability_to_cp(p: np.ndarray) -> np.ndarray:
    """Centipawns of win probabilities (the inverse logistic, clipped to +-``MATE_CP``)."""
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.clip(CP_PER_LOGIT * np.log(p / (1 - p)), -MATE_CP, MATE_CP)


def _build_net(hidden: int, outputs: int) -> Any:
    import torch
    from torch import nn

    class NNUE(nn.Module):
        """The network of the module docstring, in float (torch)."""

        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.outputs = hidden, outputs
            self.ft = nn.EmbeddingBag(NUM_FEATURES + 1, hidden, mode="sum", padding_idx=NUM_FEATURES)
            self.ft_bias = nn.Parameter(torch.full((hidden,), 0.1))
            self.l1 = nn.Linear(2 * hidden, L1)
            self.l2 = nn.Linear(L1, L2)
            self.psqt = nn.EmbeddingBag(NUM_FEATURES + 1, 1, mode="sum", padding_idx=NUM_FEATURES)
            self.out = nn.Linear(L2 + 1, outputs)
            with torch.no_grad():
                self.ft.weight.normal_(0.0, 0.05)
                self.ft.weight[NUM_FEATURES].zero_()
                # material in win-probability logits, own pieces plus, the other side's minus
                material = torch.tensor(MATERIAL_CP, dtype=torch.float32).repeat_interleave(64) / CP_PER_LOGIT
                self.psqt.weight[:384, 0] = material
                self.psqt.weight[384:NUM_FEATURES, 0] = -material
                self.psqt.weight[NUM_FEATURES].zero_()
                if outputs == 1:
                    self.out.weight[0, L2] = 1.0
                else:   # tilt the histogram toward the side the material favours
                    self.out.weight[:, L2] = 4.0 * torch.from_numpy(bin_centers(outputs)).float()

        def forward(self, own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
            a = torch.cat([self.ft(own) + self.ft_bias, self.ft(other) + self.ft_bias], dim=1).clamp(0.0, 1.0)
            a = self.l1(a).clamp(0.0, 1.0)
            a = self.l2(a).clamp(0.0, 1.0)
            psqt = 0.5 * (self.psqt(own) - self.psqt(other))
            return self.out(torch.cat([a, psqt], dim=1))

        def clip_weights(self) -> None:
            """Keeps the int8 layers' weights representable (|w| <= 127 / 64)."""
            with torch.no_grad():
                for layer in (self.l1, self.l2):
                    layer.weight.clamp_(-DENSE_LIMIT, DENSE_LIMIT)

    return NNUE()


def mirror_map() -> np.ndarray:
    """int64 ``[769]``: each feature index with its square mirrored across the d/e file line (a <-> h);
    the padding index maps to itself. Chess evaluation is nearly symmetric that way (castling rights,
    which the features do not see, are the exception)."""
    f = np.arange(NUM_FEATURES + 1)
    sq = f % 64
    out = f - sq + (sq ^ 7)
    out[NUM_FEATURES] = NUM_FEATURES
    return out


def _predict_probability(logits: Any, target: str) -> Any:
    import torch

    from models.losses import histogram_mean

    if target == "sigmoid":
        return torch.sigmoid(logits[:, 0])
    return (histogram_mean(logits) + 1.0) / 2.0


def _loss(logits: Any, p: Any, target: str) -> Any:
    import torch.nn.functional as F

    from models.losses import hl_gauss_loss

    if target == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits[:, 0], p)
    return hl_gauss_loss(logits, 2.0 * p - 1.0)


def evaluation_metrics(p_pred: np.ndarray, score: np.ndarray, result: np.ndarray, result_weight: float) -> dict[str, float]:
    """Held-out measures of predicted win probabilities.

    Returns:
        ``bce``: cross-entropy against the blended target; ``mse_p``: squared error against
        Stockfish's win probability; ``cp_mae``: mean |centipawn error| against Stockfish on positions
        with |score| <= 1000.
    """
    p_pred = np.clip(np.asarray(p_pred, np.float64), 1e-6, 1 - 1e-6)
    target = target_probability(score, result, result_weight).astype(np.float64)
    bce = float(np.mean(-(target * np.log(p_pred) + (1 - target) * np.log(1 - p_pred))))
    p_sf = target_probability(score, result, 0.0)
    small = np.abs(score) <= 1000
    cp_mae = float(np.mean(np.abs(probability_to_cp(p_pred[small]) - score[small]))) if small.any() else float("nan")
    return {"bce": round(bce, 5), "mse_p": round(float(np.mean((p_pred - p_sf) ** 2)), 5), "cp_mae": round(cp_mae, 1)}


def split_holdout(data: dict[str, np.ndarray], fraction: float = 0.05) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Training and held-out positions: the last ``fraction`` of the rows (the last shards' games,
    so at most one game is on both sides: shards hold whole games, in order)."""
    n = len(data["board"])
    cut = n - max(1, int(n * fraction))
    return {k: v[:cut] for k, v in data.items()}, {k: v[cut:] for k, v in data.items()}


def train(data: dict[str, np.ndarray], settings: TrainSettings, target: str, *,
          validation: Optional[dict[str, np.ndarray]] = None, progress_bar: bool = False) -> tuple[Any, dict[str, Any]]:
    """Trains one network.

    Positions of one game are alike and share its result, so a small data set is soon learnt by
    heart: with ``validation`` positions (other games), the network is measured every
    ``settings.eval_every`` steps and the best one is kept (early stopping).

    Args:
        data: training positions (``models.chess_data.read_shards``).
        settings: hyperparameters.
        target: ``"sigmoid"`` or ``"hlgauss"``.
        validation: positions for early stopping (None: the last step's network).
        progress_bar: show a tqdm bar.

    Returns:
        The float torch network and a report (steps, seconds, final training loss, best step).
    """
    import copy

    import torch

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    own, other = (torch.from_numpy(a.astype(np.int16)) for a in feature_indices(data["board"], data["stm"]))
    mirror = torch.from_numpy(mirror_map()).long()
    prob = torch.from_numpy(target_probability(data["score"], data["result"], settings.result_weight))
    n = len(prob)
    if n < settings.batch_size:
        raise ValueError(f"{n} training positions is fewer than a batch of {settings.batch_size}")
    net = _build_net(settings.hidden, 1 if target == "sigmoid" else settings.num_bins)
    opt = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    start = time.monotonic()
    losses: list[float] = []
    order = rng.permutation(n)
    pos = 0
    bar = None
    if progress_bar:
        from tqdm import tqdm
        bar = tqdm(total=settings.steps, desc=f"train {target}", unit="step")
    val = None
    if validation is not None and len(validation["board"]):
        val = (*feature_indices(validation["board"], validation["stm"]), validation["score"], validation["result"])
    best: tuple[float, int, Any] = (float("inf"), 0, None)

    def checkpoint(step: int) -> None:
        nonlocal best
        if val is None:
            return
        net.eval()
        bce = evaluation_metrics(float_probability(net, val[0], val[1], target), val[2], val[3],
                                 settings.result_weight)["bce"]
        net.train()
        if bce < best[0]:
            best = (bce, step, copy.deepcopy(net.state_dict()))

    step = 0
    for step in range(settings.steps):
        if step % settings.eval_every == 0:
            checkpoint(step)
        frac = step / settings.steps
        if settings.time_limit:
            frac = max(frac, (time.monotonic() - start) / settings.time_limit)
            if frac >= 1.0:
                break
        lr = settings.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        if pos + settings.batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = torch.from_numpy(order[pos:pos + settings.batch_size])
        pos += settings.batch_size
        own_b, other_b = own[idx].long(), other[idx].long()
        flip = torch.from_numpy(rng.random(len(idx)) < 0.5).unsqueeze(1)   # mirrored files: twice the data
        own_b = torch.where(flip, mirror[own_b], own_b)
        other_b = torch.where(flip, mirror[other_b], other_b)
        logits = net(own_b, other_b)
        loss = _loss(logits, prob[idx], target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        net.clip_weights()
        losses.append(loss.item())
        if bar is not None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    if bar is not None:
        bar.close()
    checkpoint(len(losses))
    report = {"target": target, "steps": len(losses), "seconds": round(time.monotonic() - start, 1),
              "train_loss": round(float(np.mean(losses[-max(1, len(losses) // 10):])), 5), "positions": n}
    if best[2] is not None:
        net.load_state_dict(best[2])
        report.update(best_step=best[1], validation_bce=best[0])
    return net.eval(), report


@dataclass
class QuantisedNet:
    """The integer network the C evaluation runs (see the module docstring for the scales).

    Attributes:
        ft_weight: int16 ``[768, H]``; ft_bias: int16 ``[H]``.
        l1_weight: int8 ``[16, 2H]``; l1_bias: int32 ``[16]``.
        l2_weight: int8 ``[32, 16]``; l2_bias: int32 ``[32]``.
        psqt_weight: int32 ``[768]`` at scale 127 * 64.
        out_weight: float32 ``[K, 33]`` (applied to the activations / 127 and the piece-square term);
        out_bias: float32 ``[K]``.
        target: ``"sigmoid"`` (K = 1) or ``"hlgauss"`` (K bins).
    """

    ft_weight: np.ndarray
    ft_bias: np.ndarray
    l1_weight: np.ndarray
    l1_bias: np.ndarray
    l2_weight: np.ndarray
    l2_bias: np.ndarray
    psqt_weight: np.ndarray
    out_weight: np.ndarray
    out_bias: np.ndarray
    target: str

    @property
    def hidden(self) -> int:
        return int(self.ft_bias.shape[0])

    def logits(self, own: np.ndarray, other: np.ndarray) -> np.ndarray:
        """float64 ``[N, K]``: the integer forward pass (what C computes), from feature indices ``[N, 32]``
        padded with 768."""
        ft = np.concatenate([self.ft_weight.astype(np.int64), np.zeros((1, self.hidden), np.int64)])
        acc = [ft[idx].sum(1) + self.ft_bias for idx in (own, other)]
        a = np.clip(np.concatenate(acc, axis=1), 0, QA)
        a = np.clip((a @ self.l1_weight.T.astype(np.int64) + self.l1_bias + QB // 2) >> 6, 0, QA)
        a = np.clip((a @ self.l2_weight.T.astype(np.int64) + self.l2_bias + QB // 2) >> 6, 0, QA)
        psqt = np.concatenate([self.psqt_weight.astype(np.int64), np.zeros(1, np.int64)])
        ps = (psqt[own].sum(1) - psqt[other].sum(1)) / (2.0 * QA * QB)
        x = np.concatenate([a / QA, ps[:, None]], axis=1)
        return x @ self.out_weight.T.astype(np.float64) + self.out_bias

    def probability(self, own: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``[N]`` win probabilities for the side to move."""
        return logits_to_probability(self.logits(own, other), self.target)


def logits_to_probability(logits: np.ndarray, target: str) -> np.ndarray:
    """``[N]`` win probabilities of output logits ``[N, K]``."""
    logits = np.asarray(logits, np.float64)
    if target == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    z = np.exp(logits - logits.max(1, keepdims=True))
    v = (z / z.sum(1, keepdims=True)) @ bin_centers(logits.shape[1])
    return (v + 1.0) / 2.0


def quantise(net: Any, target: str) -> QuantisedNet:
    """The integer network of a trained float one (round to the scales, saturate to the types)."""
    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    ft = arr(net.ft.weight)[:NUM_FEATURES]
    return QuantisedNet(
        ft_weight=np.clip(np.round(ft * QA), -32767, 32767).astype(np.int16),
        ft_bias=np.clip(np.round(arr(net.ft_bias) * QA), -32767, 32767).astype(np.int16),
        l1_weight=np.clip(np.round(arr(net.l1.weight) * QB), -127, 127).astype(np.int8),
        l1_bias=np.round(arr(net.l1.bias) * QA * QB).astype(np.int32),
        l2_weight=np.clip(np.round(arr(net.l2.weight) * QB), -127, 127).astype(np.int8),
        l2_bias=np.round(arr(net.l2.bias) * QA * QB).astype(np.int32),
        psqt_weight=np.round(arr(net.psqt.weight)[:NUM_FEATURES, 0] * QA * QB).astype(np.int32),
        out_weight=arr(net.out.weight).astype(np.float32),
        out_bias=arr(net.out.bias).astype(np.float32),
        target=target,
    )


def float_probability(net: Any, own: np.ndarray, other: np.ndarray, target: str, batch: int = 8192) -> np.ndarray:
    """``[N]`` win probabilities of the float torch network."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(own), batch):
            logits = net(torch.from_numpy(own[i:i + batch]).long(), torch.from_numpy(other[i:i + batch]).long())
            out.append(_predict_probability(logits, target).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def export_onnx(q: QuantisedNet, path: Union[str, os.PathLike], *, metadata: Optional[dict[str, str]] = None) -> Path:
    """Writes the network as ONNX: inputs ``features_own`` / ``features_other`` float32 ``[B, 768]``
    (0/1), outputs ``value_logits`` ``[B, K]`` and ``value`` ``[B]`` (``2 p(win) - 1`` for the side to
    move). Initialisers hold the dequantised weights (``ft.weight`` ``[768, H]``, ``ft.bias``,
    ``l1.weight`` ``[2H, 16]``, ``l1.bias``, ``l2.weight`` ``[16, 32]``, ``l2.bias``, ``psqt.weight``
    ``[768, 1]``, ``out.weight`` ``[33, K]``, ``out.bias``); ``metadata_props`` hold the scales and the recipe (``plytree_kind = nnue``).

    Returns:
        The path written (replaced atomically).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = q.out_bias.shape[0]
    inits = {
        "ft.weight": q.ft_weight.astype(np.float32) / QA,
        "ft.bias": q.ft_bias.astype(np.float32) / QA,
        "l1.weight": (q.l1_weight.astype(np.float32) / QB).T.copy(),
        "l1.bias": (q.l1_bias.astype(np.float64) / (QA * QB)).astype(np.float32),
        "l2.weight": (q.l2_weight.astype(np.float32) / QB).T.copy(),
        "l2.bias": (q.l2_bias.astype(np.float64) / (QA * QB)).astype(np.float32),
        "psqt.weight": (q.psqt_weight.astype(np.float64) / (QA * QB)).astype(np.float32).reshape(-1, 1),
        "half": np.array(0.5, np.float32),
        "out.weight": q.out_weight.T.astype(np.float32).copy(),
        "out.bias": q.out_bias.astype(np.float32),
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
    }
    nodes = [
        helper.make_node("MatMul", [OWN_INPUT, "ft.weight"], ["own_mm"]),
        helper.make_node("Add", ["own_mm", "ft.bias"], ["acc_own"]),
        helper.make_node("MatMul", [OTHER_INPUT, "ft.weight"], ["other_mm"]),
        helper.make_node("Add", ["other_mm", "ft.bias"], ["acc_other"]),
        helper.make_node("Concat", ["acc_own", "acc_other"], ["acc"], axis=1),
        helper.make_node("Clip", ["acc", "zero", "one"], ["a0"]),
        helper.make_node("Gemm", ["a0", "l1.weight", "l1.bias"], ["h1"]),
        helper.make_node("Clip", ["h1", "zero", "one"], ["a1"]),
        helper.make_node("Gemm", ["a1", "l2.weight", "l2.bias"], ["h2"]),
        helper.make_node("Clip", ["h2", "zero", "one"], ["a2"]),
        helper.make_node("MatMul", [OWN_INPUT, "psqt.weight"], ["psqt_own"]),
        helper.make_node("MatMul", [OTHER_INPUT, "psqt.weight"], ["psqt_other"]),
        helper.make_node("Sub", ["psqt_own", "psqt_other"], ["psqt_diff"]),
        helper.make_node("Mul", ["psqt_diff", "half"], ["psqt"]),
        helper.make_node("Concat", ["a2", "psqt"], ["a2_psqt"], axis=1),
        helper.make_node("Gemm", ["a2_psqt", "out.weight", "out.bias"], [LOGITS_OUTPUT]),
    ]
    if q.target == "sigmoid":
        inits["two"] = np.array(2.0, np.float32)
        inits["axes1"] = np.array([1], np.int64)
        nodes += [helper.make_node("Squeeze", [LOGITS_OUTPUT, "axes1"], ["logit"]),
                  helper.make_node("Sigmoid", ["logit"], ["p"]),
                  helper.make_node("Mul", ["p", "two"], ["p2"]),
                  helper.make_node("Sub", ["p2", "one"], [VALUE_OUTPUT])]
    else:
        inits["centers"] = bin_centers(k).astype(np.float32).reshape(k, 1)
        inits["axes1"] = np.array([1], np.int64)
        nodes += [helper.make_node("Softmax", [LOGITS_OUTPUT], ["probs"], axis=1),
                  helper.make_node("MatMul", ["probs", "centers"], ["v2"]),
                  helper.make_node("Squeeze", ["v2", "axes1"], [VALUE_OUTPUT])]
    graph = helper.make_graph(
        nodes, "plytree_chess_nnue",
        [helper.make_tensor_value_info(OWN_INPUT, TensorProto.FLOAT, ["batch", NUM_FEATURES]),
         helper.make_tensor_value_info(OTHER_INPUT, TensorProto.FLOAT, ["batch", NUM_FEATURES])],
        [helper.make_tensor_value_info(LOGITS_OUTPUT, TensorProto.FLOAT, ["batch", k]),
         helper.make_tensor_value_info(VALUE_OUTPUT, TensorProto.FLOAT, ["batch"])],
        initializer=[numpy_helper.from_array(v, name) for name, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="plytree")
    model.ir_version = 8
    props = {
        "plytree_format": "1", "plytree_kind": "nnue", "game": "chess", "feature_set": FEATURE_SET,
        "hidden": str(q.hidden), "l1": str(L1), "l2": str(L2), "value_head": q.target, "num_bins": str(k),
        "quant_ft": str(QA), "quant_dense": str(QB), "activation_scale": str(QA),
        "cp_per_logit": repr(CP_PER_LOGIT), **(metadata or {}),
    }
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, path)
    return path


def _split_dirs(data_dirs: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Training, validation and per-directory held-out positions of several shard directories: the
    last 5% of each directory held out (test), the 5% before them for early stopping."""
    parts: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = []
    held: dict[str, dict[str, np.ndarray]] = {}
    for d in data_dirs:
        rest, held[str(d)] = split_holdout(read_shards(d))
        parts.append(split_holdout(rest, 0.05))
    train_data = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    validation = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    return train_data, validation, held


def train_and_export(data_dir: Union[str, os.PathLike, list], run: Union[str, os.PathLike], settings: TrainSettings, *,
                     target: str = "both", output: Optional[str] = None, progress_bar: bool = True) -> dict[str, Any]:
    """Trains on the shards of ``data_dir`` (of each directory the last 5% held out for the report, the
    5% before them for early stopping), measures float and quantised networks on the held-out
    positions, and exports the chosen one.

    Args:
        data_dir: shard directory, or a list of them (trained on together, held out one by one).
        run: output directory (``chess_nnue_<target>.onnx`` for each trained target, ``report.json``).
        settings: hyperparameters (the same for every target).
        target: ``"sigmoid"``, ``"hlgauss"`` or ``"both"`` (the lower held-out ``bce`` of the
            quantised networks wins).
        output: where the chosen network is also written (default ``run/chess_nnue.onnx``).
        progress_bar: tqdm bars.

    Returns:
        The report (also in ``run/report.json``): ``held_out_*`` over all held-out positions, and
        ``held_out_by_data`` per directory.
    """
    if target not in TARGETS + ("both",):
        raise ValueError(f"target must be one of {TARGETS + ('both',)}, got {target!r}")
    dirs = [str(d) for d in data_dir] if isinstance(data_dir, (list, tuple)) else [str(data_dir)]
    if not dirs:
        raise ValueError("no data directory")
    run_dir = Path(run)
    run_dir.mkdir(parents=True, exist_ok=True)
    train_data, validation, held_by_dir = _split_dirs(dirs)
    held = {k: np.concatenate([h[k] for h in held_by_dir.values()]) for k in train_data}
    own_h, other_h = feature_indices(held["board"], held["stm"])
    report: dict[str, Any] = {"data": dirs, "positions": len(train_data["board"]) + len(validation["board"]) +
                              len(held["board"]), "held_out": len(held["board"]),
                              "settings": asdict(settings), "runs": {}}
    for t in (TARGETS if target == "both" else (target,)):
        net, info = train(train_data, settings, t, validation=validation, progress_bar=progress_bar)
        q = quantise(net, t)
        info["held_out_float"] = evaluation_metrics(float_probability(net, own_h, other_h, t), held["score"],
                                                    held["result"], settings.result_weight)
        info["held_out_quantised"] = evaluation_metrics(q.probability(own_h, other_h), held["score"],
                                                        held["result"], settings.result_weight)
        info["held_out_by_data"] = {d: evaluation_metrics(q.probability(*feature_indices(h["board"], h["stm"])),
                                                          h["score"], h["result"], settings.result_weight)
                                    for d, h in held_by_dir.items()}
        recipe = {"data": dirs, "positions": info["positions"], "steps": info["steps"],
                  "batch_size": settings.batch_size, "learning_rate": settings.learning_rate,
                  "result_weight": settings.result_weight, "target": t, "seconds": info["seconds"]}
        export_onnx(q, run_dir / f"chess_nnue_{t}.onnx",
                    metadata={"training": json.dumps(recipe), "held_out": json.dumps(info["held_out_quantised"])})
        report["runs"][t] = info
    best = min(report["runs"], key=lambda t: report["runs"][t]["held_out_quantised"]["bce"])
    report["chosen"] = best
    out = Path(output) if output else run_dir / "chess_nnue.onnx"
    out.write_bytes((run_dir / f"chess_nnue_{best}.onnx").read_bytes())
    report["output"] = str(out)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report
