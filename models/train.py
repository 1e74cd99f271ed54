"""Replay buffer on disk (npz shards), symmetry augmentation, and torch training of a ``ResNet``.

The buffer format (``docs/selfplay.md``): a directory of ``*.npz`` shards, each written atomically
(temporary name, then ``os.replace``) so a killed writer never leaves half a shard. A shard holds

| key | dtype, shape | meaning |
| --- | --- | --- |
| ``observations`` | uint8 ``[N, C, H, W]`` | ``state.observation()`` (0/1 planes), from the mover's view |
| ``policies`` | float32 ``[N, A]`` | target distribution over actions (MCTS visits, or solver-optimal moves) |
| ``values`` | float32 ``[N]`` | outcome in [-1, 1] from the view of the player to move |
| ``legal`` | bool ``[N, A]`` | legal actions |
| ``generation`` | int32 ``[N]`` | generation of the network that produced the record (-1: solver labels) |

Symmetric copies are stored, not made at load time, so a shard is exactly what training sees.
Only numpy is needed to read and write the buffer; torch is imported by the training functions.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import numpy as np

SHARD_KEYS = ("observations", "policies", "values", "legal", "generation")


class BufferFormatError(ValueError):
    """A replay-buffer shard is missing a key or has inconsistent shapes."""


@dataclass
class Records:
    """A batch of training records (the arrays of one or more shards).

    Attributes:
        observations: uint8 ``[N, C, H, W]``.
        policies: float32 ``[N, A]``.
        values: float32 ``[N]``.
        legal: bool ``[N, A]``.
        generation: int32 ``[N]``.
    """

    observations: np.ndarray
    policies: np.ndarray
    values: np.ndarray
    legal: np.ndarray
    generation: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def from_lists(cls, observations: Iterable[np.ndarray], policies: Iterable[np.ndarray],
                   values: Iterable[float], legal: Iterable[np.ndarray], generation: int) -> "Records":
        obs = np.asarray(list(observations), dtype=np.float32)
        vals = np.asarray(list(values), dtype=np.float32)
        return cls(obs.astype(np.uint8), np.asarray(list(policies), dtype=np.float32), vals,
                   np.asarray(list(legal), dtype=bool), np.full(vals.shape[0], generation, dtype=np.int32))

    @classmethod
    def concatenate(cls, parts: list["Records"]) -> "Records":
        if not parts:
            raise ValueError("Records.concatenate needs at least one part")
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in SHARD_KEYS))

    def validate(self, where: str = "records") -> None:
        """Raises ``BufferFormatError`` when the arrays do not fit together."""
        n = len(self)
        if self.observations.ndim != 4 or self.observations.shape[0] != n:
            raise BufferFormatError(f"{where}: observations {self.observations.shape} is not [N={n}, C, H, W]")
        if self.policies.ndim != 2 or self.policies.shape[0] != n or self.legal.shape != self.policies.shape:
            raise BufferFormatError(f"{where}: policies {self.policies.shape} / legal {self.legal.shape} are not [N={n}, A]")
        if self.generation.shape != (n,):
            raise BufferFormatError(f"{where}: generation {self.generation.shape} is not [N={n}]")


def write_shard(path: str | os.PathLike, records: Records) -> Path:
    """Writes ``records`` to ``path`` (``.npz``) atomically.

    Returns:
        The final path.
    """
    records.validate(str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{k: getattr(records, k) for k in SHARD_KEYS})
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_shard(path: str | os.PathLike) -> Records:
    """Reads one shard.

    Raises:
        BufferFormatError: a key is missing or the shapes do not fit.
    """
    with np.load(path) as data:
        missing = [k for k in SHARD_KEYS if k not in data.files]
        if missing:
            raise BufferFormatError(f"shard {str(path)!r} lacks {missing}")
        rec = Records(*(data[k] for k in SHARD_KEYS))
    rec.validate(f"shard {str(path)!r}")
    return rec


class ReplayBuffer:
    """A directory of npz shards; shards are named ``<prefix>-<serial>.npz`` and read newest last.

    Args:
        directory: where the shards live (created on demand).
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def shards(self) -> list[Path]:
        """The complete shards, oldest first (by modification time, then name)."""
        if not self.directory.is_dir():
            return []
        files = [p for p in self.directory.glob("*.npz") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def add(self, records: Records, prefix: str = "shard") -> Path:
        """Writes ``records`` as a new shard and returns its path."""
        serial = time.time_ns()
        path = self.directory / f"{prefix}-{serial}.npz"
        while path.exists():
            serial += 1
            path = self.directory / f"{prefix}-{serial}.npz"
        return write_shard(path, records)

    def count(self, prefix: str = "") -> int:
        """Number of records in all shards (those whose file name starts with ``prefix``)."""
        total = 0
        for p in self.shards():
            if not p.name.startswith(prefix):
                continue
            with np.load(p) as data:
                total += int(data["values"].shape[0])
        return total

    def load(self, max_records: Optional[int] = None) -> Records:
        """The newest ``max_records`` records (all when None), oldest first.

        Raises:
            BufferFormatError: the buffer is empty or a shard is malformed.
        """
        parts: list[Records] = []
        n = 0
        for p in reversed(self.shards()):
            parts.append(read_shard(p))
            n += len(parts[-1])
            if max_records is not None and n >= max_records:
                break
        if not parts:
            raise BufferFormatError(f"replay buffer {str(self.directory)!r} has no shards")
        rec = Records.concatenate(parts[::-1])
        if max_records is not None and len(rec) > max_records:
            rec = Records(*(getattr(rec, k)[-max_records:] for k in SHARD_KEYS))
        return rec


# ----------------------------------------------------------------------------- symmetries

def symmetry_maps(game_name: str, observation_shape: tuple[int, ...], num_actions: int) -> list[tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]]:
    """Symmetries of a game other than the identity, as ``(observation transform, action permutation)``.

    The permutation ``perm`` maps the policy of the transformed position: ``new_policy = policy[perm]``.
    Connect Four: the left-right mirror (column ``c`` -> ``6 - c``). Hex: the 180-degree rotation
    (cell ``a`` -> ``N*N - 1 - a``; it keeps each player's pair of sides; the swap action, if any,
    maps to itself). Other games: none.
    """
    if game_name == "connect4":
        perm = np.arange(num_actions)[::-1].copy()
        return [(lambda obs: obs[..., ::-1], perm)]
    if game_name == "hex":
        cells = observation_shape[-1] * observation_shape[-2]
        perm = np.arange(num_actions)
        perm[:cells] = cells - 1 - np.arange(cells)
        return [(lambda obs: obs[..., ::-1, ::-1], perm)]
    return []


def augment(records: Records, game_name: str) -> Records:
    """``records`` followed by their symmetric copies (see ``symmetry_maps``)."""
    maps = symmetry_maps(game_name, records.observations.shape[1:], records.policies.shape[1])
    parts = [records]
    for transform, perm in maps:
        parts.append(Records(np.ascontiguousarray(transform(records.observations)), records.policies[:, perm],
                             records.values.copy(), records.legal[:, perm], records.generation.copy()))
    return Records.concatenate(parts)


# ----------------------------------------------------------------------------- training

@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training phase (keyword-only by convention).

    Attributes:
        steps: optimizer steps.
        batch_size: records per step.
        learning_rate: peak learning rate (AdamW; cosine decay to 5% over ``steps``, or over the
            time limit of ``train_network`` when that is shorter).
        weight_decay: AdamW weight decay.
        device: torch device (``"cpu"``, ``"cuda"``).
        seed: seeds the batch sampling.
        threads: torch CPU threads (None: torch's default).
    """

    steps: int = 1000
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    device: str = "cpu"
    seed: int = 0
    threads: Optional[int] = None


@dataclass
class TrainReport:
    """What a training phase did: mean losses over its last 10% of steps, and wall time."""

    steps: int
    policy_loss: float
    value_loss: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def train_network(net: Any, records: Records, config: TrainConfig,
                  progress: Optional[Callable[[int, dict[str, float]], None]] = None,
                  time_limit: Optional[float] = None) -> TrainReport:
    """Trains ``net`` (a ``models.nets.ResNet``) in place on ``records``.

    Args:
        net: the network; moved to ``config.device`` and left in train mode there.
        records: the training set (already augmented).
        config: hyperparameters.
        progress: called ``progress(step, {"policy", "value"})`` after each step.
        time_limit: stop after this many seconds even if ``config.steps`` are not done.

    Returns:
        The report (losses: mean over the last 10% of the steps run).
    """
    import torch

    if len(records) == 0:
        raise ValueError("train_network: no records")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    obs = torch.from_numpy(records.observations).to(device)
    pol = torch.from_numpy(records.policies).to(device)
    val = torch.from_numpy(records.values).to(device)
    leg = torch.from_numpy(records.legal).to(device)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    n = len(records)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    step = 0
    for step in range(1, config.steps + 1):
        # cosine decay to 5% over the steps, or over the time limit when that comes first
        done = (step - 1) / max(config.steps, 1)
        if time_limit is not None:
            done = max(done, (time.perf_counter() - t0) / time_limit)
        for group in opt.param_groups:
            group["lr"] = config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(done, 1.0))))
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=gen).to(device)
        loss, parts = net.loss(obs[idx].float(), pol[idx], val[idx], leg[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(parts)
        if progress is not None:
            progress(step, parts)
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
    tail = history[-max(1, len(history) // 10):]
    net.eval()
    return TrainReport(step, float(np.mean([h["policy"] for h in tail])), float(np.mean([h["value"] for h in tail])),
                       time.perf_counter() - t0, history)


def save_checkpoint(path: str | os.PathLike, net: Any, *, generation: int, extra: Optional[dict[str, Any]] = None) -> Path:
    """Saves the network's weights and its architecture atomically (``torch.save``)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    arch = {"spec": dict(net.spec), "blocks": net.blocks, "channels": net.channels,
            "value_head": net.value_head, "num_bins": net.num_bins}
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "arch": arch,
                "generation": generation, "extra": extra or {}}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The network and the checkpoint's dictionary (``generation``, ``extra``)."""
    import torch

    from models.nets import ResNet

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    arch = ckpt["arch"]
    net = ResNet(arch["spec"], blocks=arch["blocks"], channels=arch["channels"], value_head=arch["value_head"],
                 num_bins=arch["num_bins"])
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    return net, ckpt


def write_json_atomic(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Writes JSON to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
