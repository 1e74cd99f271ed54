"""A learned value for text agents: an HL-Gauss head on the frozen last-token hidden state of the
embedded model ("Stop Regressing"; OREO and Digi-Q train values on frozen features in the same spirit).

The model reads the value agent's prompt for a state (``models.llm._agent_oracle.value_prompt``); the
head reads the final hidden state of its last token and predicts a histogram over [-1, 1] whose mean
is the value (``models._hlgauss``); the search uses ``(value + 1) / 2`` in [0, 1]. Training data is
made here, labelled by exact solvers: Connect Four positions (random play, labelled win / draw / loss
for the side to move by ``mcts.solve_connect4``) and Game of 24 states (starting sets and states after
random steps, labelled solvable / not by ``games.text.solve``). The head is a linear layer over
standardised features, trained with the HL-Gauss cross-entropy (``models.losses.hl_gauss_loss``) and
saved as a small ``.npz`` (weights, feature statistics, the model's name).

Command::

    python -m models.llm.value_head train --connect4 1200 --game24 1200 --out FILE [--compare-prompted 60]

prints held-out accuracy of the learned value and (with ``--compare-prompted``) of the prompted value
on the same held-out states.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models._hlgauss import DEFAULT_NUM_BINS, histogram_mean

DEFAULT_PATH = Path(__file__).resolve().parent / "value_heads" / "smollm2-135m.npz"


class ValueHeadError(ValueError):
    """A value-head file is malformed or belongs to another model."""


def hidden_features(backend: Any, prompts: Sequence[str], *, batch_size: int = 16) -> np.ndarray:
    """The final hidden state of each prompt's last token.

    Args:
        backend: a ``TransformersBackend`` (its ``net``, ``tokenizer`` and ``_torch``).
        prompts: the texts, already in the model's chat format.
        batch_size: prompts per forward pass.

    Returns:
        float32 ``[len(prompts), hidden_size]``.

    Raises:
        ValueError: the backend has no in-process model (hidden states are not reachable over HTTP).
    """
    net = getattr(backend, "net", None)
    if net is None or getattr(backend, "tokenizer", None) is None:
        raise ValueError(f"{backend!r} has no in-process model: a learned value needs TransformersBackend")
    torch = backend._torch
    base = net.base_model
    pad = backend.tokenizer.pad_token_id if backend.tokenizer.pad_token_id is not None else 0
    out: list[np.ndarray] = []
    lock = getattr(backend, "_lock", None)
    for start in range(0, len(prompts), batch_size):
        enc = [list(backend.tokenizer(p, add_special_tokens=False)["input_ids"]) or [pad]
               for p in prompts[start:start + batch_size]]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), pad, dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for b, e in enumerate(enc):  # right padding: the last real token sits at len - 1
            ids[b, :len(e)] = torch.tensor(e)
            mask[b, :len(e)] = 1
        if lock is not None:
            lock.acquire()
        try:
            with torch.inference_mode():
                h = base(input_ids=ids.to(backend.device), attention_mask=mask.to(backend.device)).last_hidden_state
        finally:
            if lock is not None:
                lock.release()
        last = torch.tensor([len(e) - 1 for e in enc])
        out.append(h[torch.arange(len(enc)), last.to(h.device)].float().cpu().numpy())
        backend.usage.add(calls=1, prompt_tokens=sum(len(e) for e in enc))
    return np.concatenate(out, axis=0).astype(np.float32) if out else np.zeros((0, 0), np.float32)


class ValueHead:
    """A linear HL-Gauss head over standardised features.

    Args:
        weight: ``[hidden, num_bins]``.
        bias: ``[num_bins]``.
        mean, std: ``[hidden]`` feature statistics of the training set.
        model: the name of the model whose features it reads.
        meta: anything else worth keeping (training counts, accuracies).
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
                 model: str = "", meta: dict | None = None) -> None:
        if weight.ndim != 2 or bias.shape != (weight.shape[1],) or mean.shape != (weight.shape[0],) or std.shape != mean.shape:
            raise ValueHeadError(f"inconsistent value-head shapes: {weight.shape}, {bias.shape}, {mean.shape}, {std.shape}")
        self.weight, self.bias, self.mean, self.std = weight, bias, mean, std
        self.model = model
        self.meta = meta or {}

    @property
    def num_bins(self) -> int:
        return int(self.weight.shape[1])

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Values in [-1, 1] of ``[B, hidden]`` features: ``[B]``."""
        z = ((np.asarray(features, np.float64) - self.mean) / self.std) @ self.weight + self.bias
        z -= z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        return histogram_mean(p)

    def value_of_prompts(self, backend: Any, prompts: Sequence[str]) -> list[float]:
        """Values in [0, 1] (the search's scale) of value prompts, read by ``backend``'s model."""
        if self.model and getattr(backend, "model", self.model) != self.model:
            raise ValueHeadError(f"this value head reads {self.model!r} features, not {backend.model!r}")
        return [float((v + 1.0) / 2.0) for v in self.predict(hidden_features(backend, prompts))]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weight=self.weight.astype(np.float32), bias=self.bias.astype(np.float32),
                            mean=self.mean.astype(np.float32), std=self.std.astype(np.float32),
                            meta=np.array(json.dumps({"model": self.model, **self.meta})))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ValueHead":
        """Reads a head saved by ``save``.

        Raises:
            ValueHeadError: not such a file.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return cls(z["weight"], z["bias"], z["mean"], z["std"], model=meta.pop("model", ""), meta=meta)
        except (OSError, KeyError, ValueError) as exc:
            raise ValueHeadError(f"{path}: not a value-head file: {exc}") from exc


def train_head(features: np.ndarray, values: np.ndarray, *, num_bins: int = DEFAULT_NUM_BINS, epochs: int = 300,
               lr: float = 0.05, weight_decay: float = 1e-3, seed: int = 0, model: str = "") -> ValueHead:
    """Fits a linear HL-Gauss head (full-batch Adam) to ``[N, hidden]`` features and ``[N]`` values in [-1, 1]."""
    import torch

    from models.losses import hl_gauss_loss

    torch.manual_seed(seed)
    x = np.asarray(features, np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-5
    xt = torch.tensor((x - mean) / std)
    yt = torch.tensor(np.asarray(values, np.float32))
    layer = torch.nn.Linear(x.shape[1], num_bins)
    opt = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        loss = hl_gauss_loss(layer(xt), yt)
        loss.backward()
        opt.step()
    w = layer.weight.detach().numpy().T.copy()
    b = layer.bias.detach().numpy().copy()
    return ValueHead(w, b, mean, std, model=model, meta={"train_examples": int(len(x)), "final_loss": float(loss.detach())})


# -- data made by the project's own solvers ----------------------------------------------------------
def connect4_examples(count: int, *, seed: int = 0, min_plies: int = 10, max_plies: int = 30) -> list[tuple[Any, Any, float]]:
    """``count`` (environment, state, value) triples of random Connect Four positions with the solver's value
    for the side to move (+1, 0, -1); duplicates and finished games skipped."""
    import games
    import mcts
    from games.text.connect4 import Connect4Task

    game = games.load("connect4")
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[Any, Any, float]] = []
    while len(out) < count:
        s = game.new_initial_state()
        for _ in range(rng.randint(min_plies, max_plies)):
            if s.is_terminal():
                break
            s.apply_action(rng.choice(s.legal_actions()))
        moves = s.serialize()
        if s.is_terminal() or moves in seen:
            continue
        seen.add(moves)
        env = Connect4Task(moves)
        out.append((env, env.initial(), float(mcts.solve_connect4(s, weak=True))))
    return out


def game24_examples(count: int, *, seed: int = 0) -> list[tuple[Any, Any, float]]:
    """``count`` Game of 24 states (four numbers 1-13, or after one or two random steps) labelled +1
    when the brute-force solver can still reach 24, else -1; about half of each kind."""
    from games.text.game24 import Game24

    rng = random.Random(seed)
    pos: list[tuple[Any, Any, float]] = []
    neg: list[tuple[Any, Any, float]] = []
    seen: set = set()
    tries = 0
    while len(pos) + len(neg) < count and tries < count * 50:
        tries += 1
        env = Game24([rng.randint(1, 13) for _ in range(4)])
        state = env.initial()
        for _ in range(rng.choice((0, 1, 1, 2))):
            state = env.apply(state, rng.choice(env.steps_of(state)))
        if env.key(state) in seen:
            continue
        seen.add(env.key(state))
        ok = env.is_solvable(state)
        bucket = pos if ok else neg
        if len(bucket) < (count + 1) // 2:
            bucket.append((env, state, 1.0 if ok else -1.0))
    out = pos + neg
    rng.shuffle(out)
    return out


def _accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    keep = labels != 0  # draws have no side to agree with
    return float(np.mean(np.sign(pred[keep]) == np.sign(labels[keep]))) if keep.any() else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.llm.value_head", description="train and measure the learned value")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="make labelled states, read features, fit the head, report held-out accuracy")
    t.add_argument("--connect4", type=int, default=1200, help="Connect Four positions (default 1200)")
    t.add_argument("--game24", type=int, default=1200, help="Game of 24 states (default 1200)")
    t.add_argument("--holdout", type=float, default=0.2, help="held-out fraction (default 0.2)")
    t.add_argument("--out", default=str(DEFAULT_PATH), help=f"the .npz to write (default {DEFAULT_PATH})")
    t.add_argument("--compare-prompted", type=int, default=0, metavar="K",
                   help="also ask the prompted value on K held-out states per domain")
    t.add_argument("--model", default=None, help="model directory or .gguf (default: the embedded SmolLM2)")
    t.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from mcts import AgentBudget
    from models.llm._agent_oracle import LLMAgentOracle, value_prompt
    from models.llm._transformers import TransformersBackend

    t0 = time.monotonic()
    backend = TransformersBackend(args.model)
    data = {"connect4": connect4_examples(args.connect4, seed=args.seed),
            "game24": game24_examples(args.game24, seed=args.seed)}
    print(f"labelled {sum(map(len, data.values()))} states in {time.monotonic() - t0:.0f} s", flush=True)
    rng = np.random.default_rng(args.seed)
    feats, labels, split, domain = [], [], [], []
    for name, rows in data.items():
        x = hidden_features(backend, [value_prompt(backend, env, s) for env, s, _ in rows])
        feats.append(x)
        labels.append(np.array([y for _, _, y in rows], np.float32))
        split.append(rng.random(len(rows)) < args.holdout)
        domain += [name] * len(rows)
    print(f"features {sum(len(f) for f in feats)} x {feats[0].shape[1]} in {time.monotonic() - t0:.0f} s", flush=True)
    x, y, held, dom = np.concatenate(feats), np.concatenate(labels), np.concatenate(split), np.array(domain)
    head = train_head(x[~held], y[~held], seed=args.seed, model=backend.model)
    report: dict[str, Any] = {"train": int((~held).sum()), "held_out": int(held.sum())}
    pred = head.predict(x)
    for name in data:
        m = held & (dom == name)
        report[f"learned_accuracy_{name}"] = round(_accuracy(pred[m], y[m]), 4)
        report[f"majority_baseline_{name}"] = round(float(max(np.mean(y[m] > 0), np.mean(y[m] < 0))), 4)
        report[f"train_accuracy_{name}"] = round(_accuracy(pred[~held & (dom == name)], y[~held & (dom == name)]), 4)
    if args.compare_prompted:
        oracle = LLMAgentOracle(backend)
        offset = 0
        for name, rows in data.items():
            idx = [i for i in range(len(rows)) if held[offset + i]][:args.compare_prompted]
            offset += len(rows)
            evs = [oracle.evaluate(rows[i][0], [rows[i][1]], AgentBudget())[0] for i in idx]
            pv = np.array([2 * e.value - 1 for e in evs])
            lv = np.array([rows[i][2] for i in idx], np.float32)
            report[f"prompted_accuracy_{name}"] = round(_accuracy(pv, lv), 4)
            report[f"learned_accuracy_same_{name}"] = round(_accuracy(pred[[offset - len(rows) + i for i in idx]], lv), 4)
            report[f"prompted_unparsed_{name}"] = sum(e.source == "default" for e in evs)
            report[f"prompted_states_{name}"] = len(idx)
    head.meta.update(report)
    head.save(args.out)
    report["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(report, indent=1))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
