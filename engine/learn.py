"""The AlphaZero loop (self-play -> train -> export -> gate) and the supervised Connect Four recipe.

Run directory layout (everything needed to resume):

```
run/
  config.json            the loop's settings (a resumed run keeps them)
  state.json             {"generation": next generation to produce, "best": best generation}
  buffer/*.npz           replay buffer shards (models.train format)
  checkpoints/genNNNN.pt torch checkpoints;  onnx/genNNNN.onnx  their exports
  log.jsonl              one JSON object per phase: selfplay / train / gate / supervised
  progress.png           losses and gate scores over generations
```

Each phase leaves its result on disk before ``state.json`` moves on, and every phase checks what is
already there: self-play counts the games in the shards of the generation (shard names carry their
game count) and plays only the rest; training is skipped when the candidate's checkpoint exists; the
gate when the log has its line. So a killed loop resumes where it stopped and loses at most the
games of the chunks in flight.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import games
from engine._pool import WorkerPool
from engine._strength import connect4_strength, hex_strength, read_connect4_positions  # noqa: F401  (moved; old imports keep working)
from engine.selfplay import SelfPlayConfig, match, play_games
from models.train import Records, ReplayBuffer, TrainConfig, augment, write_json_atomic


@dataclass(frozen=True)
class LearnConfig:
    """Settings of ``learn`` (all keyword-only in practice; stored in ``config.json``).

    Attributes:
        game, game_params: the game (``games.load(game, **game_params)``).
        generations: generations to produce (the loop stops when ``state.generation`` reaches it).
        games_per_generation: self-play games per generation.
        selfplay: search settings of self-play (``simulations``, ``parallel_games``, ...).
        bootstrap: ``"rollout"``: generation 0's games use MCTS with random rollouts (in C) instead
            of the untrained network; ``"network"``: the random network plays them.
        bootstrap_games, bootstrap_simulations: games and simulations of the rollout bootstrap
            (None: as the other generations); rollouts in C are cheap, so more of both pays.
        bootstrap_train_steps: optimizer steps of the first candidate, the one trained on generation
            0's games alone (None: ``train_steps``); with a strong rollout bootstrap this first
            training is a distillation of MCTS with rollouts and deserves more steps than the
            later generations' fine-tuning.
        blocks, channels, value_head, num_bins: the network.
        train_steps, batch_size, learning_rate: training per generation.
        window: newest records trained on.
        gate_games, gate_threshold, gate_simulations: a candidate becomes best when its match score
            against the best is at least ``gate_threshold`` over ``gate_games`` games.
        workers: local self-play processes (1: in this process).
        ray: None, ``"local"`` or a Ray cluster address: self-play chunks run on Ray actors.
        device: torch device for training.
        seed: seeds everything.
        threads: torch threads for training (None: default).
    """

    game: str = "connect4"
    game_params: dict[str, Any] = field(default_factory=dict)
    generations: int = 5
    games_per_generation: int = 64
    selfplay: SelfPlayConfig = SelfPlayConfig()
    bootstrap: str = "rollout"
    bootstrap_games: Optional[int] = None
    bootstrap_simulations: Optional[int] = None
    bootstrap_train_steps: Optional[int] = None
    blocks: int = 4
    channels: int = 64
    value_head: str = "hlgauss"
    num_bins: int = 51
    train_steps: int = 500
    batch_size: int = 256
    learning_rate: float = 2e-3
    window: int = 200_000
    gate_games: int = 20
    gate_threshold: float = 0.55
    gate_simulations: int = 100
    workers: int = 1
    ray: Optional[str] = None
    device: str = "cpu"
    seed: int = 0
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        if self.bootstrap_train_steps is not None and self.bootstrap_train_steps < 1:
            raise ValueError(f"bootstrap_train_steps must be positive (or None), got {self.bootstrap_train_steps}")

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "LearnConfig":
        d = dict(d)
        d["selfplay"] = SelfPlayConfig(**d["selfplay"])
        return cls(**d)


class RunDirectoryError(ValueError):
    """The run directory holds another game's run or a malformed state."""


# ----------------------------------------------------------------------------- self-play chunks

def play_chunk(game_name: str, game_params: dict[str, Any], model: Optional[bytes | str], num_games: int,
               config: SelfPlayConfig, generation: int, threads: Optional[int] = None) -> Records:
    """Plays ``num_games`` self-play games and returns their augmented records (for workers).

    Args:
        model: ONNX file path or bytes; None: MCTS with random rollouts.
        threads: onnxruntime intra-op threads (1 when several workers share the cores).
    """
    import mcts

    game = games.load(game_name, **game_params)
    if model is None:
        evaluator: Any = mcts.RolloutEvaluator(seed=config.seed)
        config = dataclasses.replace(config, parallel_games=1)
    else:
        import models

        path = model
        if isinstance(model, bytes):
            import tempfile

            fd, path = tempfile.mkstemp(suffix=".onnx")
            with os.fdopen(fd, "wb") as fh:
                fh.write(model)
        evaluator = models.OnnxEvaluator(path, game=game, cache_size=50_000, intra_op_threads=threads,
                                         batch_size=max(64, config.parallel_games * config.batch_size))
        if isinstance(model, bytes):
            os.unlink(path)
    results = play_games(game, [evaluator], num_games, config)
    rec = Records.concatenate([r["records"] for r in results])
    rec.generation[:] = generation
    return augment(rec, game_name)


class _SelfPlayWorker:
    """A pool worker that plays self-play chunks (``play`` = :func:`play_chunk`)."""

    def play(self, *args: Any) -> Records:
        return play_chunk(*args)


def _games_in_shards(buffer: ReplayBuffer, generation: int) -> int:
    pat = re.compile(rf"^sp-g{generation:04d}-(?:.*-)?n(\d+)-")
    total = 0
    for p in buffer.shards():
        m = pat.match(p.name)
        if m:
            total += int(m.group(1))
    return total


def run_selfplay(cfg: LearnConfig, buffer: ReplayBuffer, model: Optional[str], generation: int,
                 num_games: int, progress: Optional[Callable[[int], None]] = None) -> int:
    """Plays the games of a generation that are not in the buffer yet; returns games written now.

    Chunks of ``selfplay.parallel_games`` games go to the workers (this process, local processes,
    or Ray actors); each finished chunk becomes a shard named with its game count.
    """
    left = num_games - _games_in_shards(buffer, generation)
    if left <= 0:
        return 0
    chunk = max(1, cfg.selfplay.parallel_games) if model is not None else max(1, min(4, left))
    sizes = [min(chunk, left - i) for i in range(0, left, chunk)]
    base_seed = cfg.seed * 1_000_003 + generation * 10_007 + _games_in_shards(buffer, generation)
    written = 0

    def store(rec: Records, n: int) -> None:
        nonlocal written
        buffer.add(rec, prefix=f"sp-g{generation:04d}-n{n}")
        written += n
        if progress is not None:
            progress(n)

    jobs = [(n, dataclasses.replace(cfg.selfplay, seed=base_seed + i)) for i, n in enumerate(sizes)]
    local = cfg.ray is None and cfg.workers <= 1
    # several workers share the cores: one onnxruntime thread each; Ray actors may sit on other
    # machines, so they get the network's bytes rather than a path
    threads = None if local else 1
    model_arg: Any = Path(model).read_bytes() if model is not None and cfg.ray is not None else model
    with WorkerPool(_SelfPlayWorker, workers=max(1, cfg.workers), ray_address=cfg.ray) as pool:
        futures = {pool.submit("play", cfg.game, cfg.game_params, model_arg, n, sp, generation, threads): n
                   for n, sp in jobs}
        pending = set(futures)
        while pending:
            done, pending = pool.wait(pending)
            for f in sorted(done, key=list(futures).index):
                store(f.result(), futures[f])
    return written


# ----------------------------------------------------------------------------- the loop

def _log(run: Path, entry: dict[str, Any]) -> None:
    entry = {"time": time.time(), **entry}
    with open(run / "log.jsonl", "a") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_log(run: str | os.PathLike) -> list[dict[str, Any]]:
    """The entries of ``run/log.jsonl`` (a torn last line from a kill is skipped)."""
    path = Path(run) / "log.jsonl"
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def plot_progress(run: str | os.PathLike) -> Optional[Path]:
    """Writes ``run/progress.png``: training losses and gate scores over generations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(run)
    train = [e for e in log if e.get("kind") in ("train", "supervised")]
    gate = [e for e in log if e.get("kind") == "gate"]
    if not train and not gate:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        g = [e["generation"] for e in train]
        ax1.plot(g, [e["policy_loss"] for e in train], "o-", label="policy")
        ax1.plot(g, [e["value_loss"] for e in train], "s-", label="value (HL-Gauss)")
        ax1.set_xlabel("generation")
        ax1.set_ylabel("loss (last 10% of steps)")
        ax1.legend()
    if gate:
        g = [e["generation"] for e in gate]
        ax2.bar(g, [e["score"] for e in gate], color=["tab:green" if e["accepted"] else "tab:red" for e in gate])
        ax2.axhline(gate[-1].get("threshold", 0.55), color="k", ls="--", lw=1)
        ax2.set_ylim(0, 1)
        ax2.set_xlabel("candidate generation")
        ax2.set_ylabel("score vs best (green: accepted)")
    fig.tight_layout()
    out = Path(run) / "progress.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def _paths(run: Path, gen: int) -> tuple[Path, Path]:
    return run / "checkpoints" / f"gen{gen:04d}.pt", run / "onnx" / f"gen{gen:04d}.onnx"


def _init_run(run: Path, cfg: LearnConfig) -> tuple[LearnConfig, dict[str, Any]]:
    run.mkdir(parents=True, exist_ok=True)
    cfg_path = run / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old.get("game") != cfg.game or old.get("game_params") != cfg.game_params:
            raise RunDirectoryError(f"run directory {str(run)!r} holds a {old.get('game')} run, not {cfg.game}")
        # a resumed run keeps its network and search settings; the budget (generations) may grow
        cfg = dataclasses.replace(LearnConfig.from_json(old), generations=cfg.generations, workers=cfg.workers,
                                  ray=cfg.ray, device=cfg.device, threads=cfg.threads)
    write_json_atomic(cfg_path, cfg.to_json())
    state_path = run / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"generation": 0, "best": 0}
    return cfg, state


def learn(run_dir: str | os.PathLike, cfg: LearnConfig, *, progress_bars: bool = True) -> dict[str, Any]:
    """Runs (or resumes) the AlphaZero loop in ``run_dir`` until ``cfg.generations`` generations.

    Generation ``g`` plays ``games_per_generation`` games with the best network (generation 0: the
    bootstrap), trains candidate ``g + 1`` from the best checkpoint on the newest ``window`` records,
    exports it, and gates it against the best.

    Args:
        run_dir: the run directory (created; resumed when it exists).
        cfg: settings (a resumed run keeps the stored ones except generations/workers/ray/device).
        progress_bars: show tqdm bars.

    Returns:
        The final ``state`` (``generation``, ``best``).
    """
    import torch
    from tqdm import tqdm

    import models
    from models.nets import ResNet
    from models.train import load_checkpoint, save_checkpoint, train_network

    run = Path(run_dir)
    cfg, state = _init_run(run, cfg)
    game = games.load(cfg.game, **cfg.game_params)
    buffer = ReplayBuffer(run / "buffer")
    torch.manual_seed(cfg.seed)
    ckpt0, onnx0 = _paths(run, 0)
    if not onnx0.exists():
        net = ResNet(game, blocks=cfg.blocks, channels=cfg.channels, value_head=cfg.value_head, num_bins=cfg.num_bins)
        save_checkpoint(ckpt0, net, generation=0)
        onnx0.parent.mkdir(parents=True, exist_ok=True)
        models.export(net, game, onnx0)
    gate_cfg = dataclasses.replace(cfg.selfplay, simulations=cfg.gate_simulations, temperature_moves=4,
                                   parallel_games=min(cfg.selfplay.parallel_games, max(1, cfg.gate_games)))
    while state["generation"] < cfg.generations:
        gen = state["generation"]
        best = state["best"]
        _, best_onnx = _paths(run, best)
        model = None if (gen == 0 and best == 0 and cfg.bootstrap == "rollout") else str(best_onnx)
        # ---- self-play
        t0 = time.perf_counter()
        have = _games_in_shards(buffer, gen)
        num_games, sp_cfg = cfg.games_per_generation, cfg
        if model is None:
            num_games = cfg.bootstrap_games or num_games
            sp_cfg = dataclasses.replace(cfg, selfplay=dataclasses.replace(
                cfg.selfplay, simulations=cfg.bootstrap_simulations or cfg.selfplay.simulations))
        with tqdm(total=num_games, initial=have, desc=f"gen {gen} self-play", unit="game",
                  disable=not progress_bars, leave=False) as bar:
            played = run_selfplay(sp_cfg, buffer, model, gen, num_games, progress=bar.update)
        if played:
            _log(run, {"kind": "selfplay", "generation": gen, "games": played, "player": "rollout" if model is None else best,
                       "seconds": time.perf_counter() - t0, "records_total": buffer.count()})
        # ---- train
        cand = gen + 1
        ckpt, onnx = _paths(run, cand)
        if not onnx.exists():
            net, _ = load_checkpoint(_paths(run, best)[0])
            records = buffer.load(cfg.window)
            steps = cfg.train_steps if gen > 0 or cfg.bootstrap_train_steps is None else cfg.bootstrap_train_steps
            tcfg = TrainConfig(steps=steps, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                               device=cfg.device, seed=cfg.seed + cand, threads=cfg.threads)
            with tqdm(total=steps, desc=f"gen {cand} train", unit="step", disable=not progress_bars,
                      leave=False) as bar:
                def on_step(step: int, parts: dict[str, float]) -> None:
                    bar.update(1)
                    if step % 20 == 0:
                        bar.set_postfix(policy=f"{parts['policy']:.3f}", value=f"{parts['value']:.3f}")
                report = train_network(net, records, tcfg, progress=on_step)
            net.cpu()
            save_checkpoint(ckpt, net, generation=cand, extra={"records": len(records)})
            models.export(net, game, onnx, extra_metadata={"generation": str(cand), "recipe": "selfplay"})
            _log(run, {"kind": "train", "generation": cand, "steps": report.steps, "records": len(records),
                       "policy_loss": report.policy_loss, "value_loss": report.value_loss, "seconds": report.seconds})
        # ---- gate
        done = [e for e in read_log(run) if e.get("kind") == "gate" and e.get("generation") == cand]
        if done:
            accepted = done[-1]["accepted"]
        else:
            t0 = time.perf_counter()
            ev_new = models.OnnxEvaluator(onnx, game=game, cache_size=50_000)
            ev_best = models.OnnxEvaluator(best_onnx, game=game, cache_size=50_000)
            res = match(game, ev_new, ev_best, cfg.gate_games, gate_cfg)
            accepted = res["score"] >= cfg.gate_threshold
            _log(run, {"kind": "gate", "generation": cand, "against": best, **res, "threshold": cfg.gate_threshold,
                       "accepted": accepted, "seconds": time.perf_counter() - t0})
            if progress_bars:
                print(f"gen {cand} vs best {best}: +{res['wins']} ={res['draws']} -{res['losses']} "
                      f"score {res['score']:.2f} -> {'accepted' if accepted else 'rejected'}", flush=True)
        state = {"generation": cand, "best": cand if accepted else best}
        write_json_atomic(run / "state.json", state)
        plot_progress(run)
    return state


# ----------------------------------------------------------------------------- supervised (Connect Four)

class _SolverWorker:
    """A pool worker that labels positions with the exact solver (``label`` = ``solver_worker``)."""

    def label(self, *args: Any) -> int:
        from engine._solver_data import solver_worker

        return solver_worker(*args)


def learn_supervised(run_dir: str | os.PathLike, *, positions: int, workers: int = 1, blocks: int = 6,
                     channels: int = 64, train: TrainConfig = TrainConfig(steps=4000), min_moves: int = 12,
                     max_moves: int = 36, label_time: Optional[float] = None, train_time: Optional[float] = None,
                     seed: int = 0, progress_bars: bool = True, output: Optional[str] = None,
                     level: str = "random", init: Optional[str] = None,
                     keep_rejected: bool = False) -> dict[str, Any]:
    """Connect Four from exact-solver labels: label positions until ``run/buffer`` holds ``positions``
    (resumable: the shards already there count, whatever their level, so runs with different
    ``level`` and ply ranges build one mixed buffer), then train a ``ResNet`` on all of them
    (mirrored) and export it.

    Args:
        level: how the new positions are drawn (``random``, ``play``, ``hard``; see
            ``engine._solver_data.solver_records``).
        init: start from this network instead of a fresh one: an ONNX export (``models.export``),
            fine-tuned with its folded batch normalisations fixed (``models._onnx_weights``); its
            architecture replaces ``blocks`` and ``channels``. (A checkpoint of such a run holds
            folded normalisations too, so fine-tuning restarts from its ONNX export, not from it.)
        train: ``train.steps == 0`` labels only (no training, no export).
        keep_rejected: with ``level="hard"``, store the solved positions that were not hard too, as
            ``play`` labels (they cost the same solve; ``positions`` counts the hard ones).

    Returns:
        ``{"records", "policy_loss", "value_loss", "seconds", "onnx"}``; labelling only:
        ``{"kind": "labels", "positions"}``.
    """
    from tqdm import tqdm

    import models
    from engine._solver_data import REJECTED_PREFIX, solver_worker
    from models.nets import ResNet
    from models.train import save_checkpoint, train_network

    if keep_rejected and level != "hard":
        raise ValueError(f"keep_rejected (--keep-rejected) needs level 'hard', got {level!r}")
    if init is not None and not str(init).endswith(".onnx"):
        raise ValueError(f"init must be an ONNX export (models.export), got {str(init)!r}")
    # read the starting network before labelling, so a bad file fails at once, not after the labels
    start_net = None if init is None else models.resnet_from_onnx(init)
    if start_net is not None and start_net.game_name != "connect4":
        raise ValueError(f"init {str(init)!r} is a network for {start_net.game_name}, not connect4")
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    buffer = ReplayBuffer(run / "buffer")
    # shards hold each position and its mirror; --keep-rejected's extras never count towards positions
    have = (buffer.count() - buffer.count(REJECTED_PREFIX)) // 2
    left = positions - have
    t0 = time.perf_counter()
    if left > 0:
        with tqdm(total=positions, initial=have, desc="solver labels", unit="pos", disable=not progress_bars) as bar:
            if workers <= 1:
                solver_worker(str(buffer.directory), 0, left, seed=seed * 7919 + have, min_moves=min_moves,
                              max_moves=max_moves, time_limit=label_time, progress=bar.update, level=level,
                              keep_rejected=keep_rejected)
            else:
                share = -(-left // workers)
                own = f"solver-{level}-"   # the shards of this level (--keep-rejected adds play shards)
                own_before = buffer.count(own) // 2
                with WorkerPool(_SolverWorker, workers=workers) as pool:
                    pending = {pool.submit("label", str(buffer.directory), w, share, seed * 7919 + have + w, 500,
                                           min_moves, max_moves, label_time, None, level, keep_rejected)
                               for w in range(workers)}
                    while pending:
                        done, pending = pool.wait(pending, timeout=2.0)
                        bar.n = min(positions, have + buffer.count(own) // 2 - own_before)
                        bar.refresh()
                        for f in done:
                            f.result()
        _log(run, {"kind": "labels", "positions": buffer.count() // 2, "seconds": time.perf_counter() - t0,
                   "level": level, "min_moves": min_moves, "max_moves": max_moves})
    if train.steps == 0:
        return {"kind": "labels", "positions": buffer.count() // 2}
    records = buffer.load()
    game = games.load("connect4")
    net = ResNet(game, blocks=blocks, channels=channels) if start_net is None else start_net
    with tqdm(total=train.steps, desc="train", unit="step", disable=not progress_bars) as bar:
        def on_step(step: int, parts: dict[str, float]) -> None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(policy=f"{parts['policy']:.3f}", value=f"{parts['value']:.3f}")
        report = train_network(net, records, train, progress=on_step, time_limit=train_time)
    net.cpu()
    save_checkpoint(run / "checkpoints" / "supervised.pt", net, generation=0,
                    extra={"recipe": "solver", "init": str(init) if init else None})
    onnx = Path(output) if output else run / "onnx" / "supervised.onnx"
    onnx.parent.mkdir(parents=True, exist_ok=True)
    recipe = "connect4 exact-solver labels" + (f", fine-tuned from {Path(init).name}" if init else "")
    models.export(net, game, onnx, extra_metadata={"recipe": recipe})
    entry = {"kind": "supervised", "generation": 0, "records": len(records), "steps": report.steps,
             "policy_loss": report.policy_loss, "value_loss": report.value_loss, "seconds": report.seconds,
             "onnx": str(onnx)}
    _log(run, entry)
    plot_progress(run)
    return entry
