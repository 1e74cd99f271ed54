"""GPU benchmark of the shipped networks: raw evaluations/s, pipelined MCTS as a share of raw, self-play.

Standalone (no pytest): ``python bench/gpu_bench.py [--budget SECONDS] [--out FILE] [--cpu]``, from
the repository root. Built for a GPU machine (one command, under ten minutes), it runs on the CPU too
with smaller sizes (``--cpu``, or automatically when torch sees no CUDA device), so it is exercised
where there is no GPU.

For each shipped network (``models/zoo/connect4.onnx``, ``models/zoo/hex7.onnx``) and each back end
available (``OnnxEvaluator`` on onnxruntime's best provider; ``TorchEvaluator`` in float32, and on CUDA
also float16 and bfloat16 with CUDA graphs):

1. raw evaluations/s: the network alone on ready float32 observations (``session.run`` /
   ``TorchEvaluator.forward``), batch 64, 256, 1024, 4096 (CPU: 64, 256), best of a time slice;
2. MCTS simulations/s from the empty board with the pipelined search (``MCTS(threads=2)``, cache off),
   batch 256 (CPU: 64), and that rate as a share of the raw rate at the same batch (the issue's goal on
   a GPU: at least 0.8);
3. self-play games/s: ``engine.selfplay.play_games`` with ``parallel_games`` games in lockstep
   (GPU: 128 games of 64 simulations a move; CPU: 8 games of 32).

Prints a table and writes JSON to ``--out`` (default ``$OUT/gpu_bench.json`` when ``$OUT`` is set).
Each part stops at its time slice; parts past ``--budget`` are skipped and the JSON says so.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import games  # noqa: E402
import mcts  # noqa: E402
import models  # noqa: E402

NETWORKS = {"connect4": ("connect4", {}), "hex7": ("hex", {"board_size": 7})}


def _timed_rate(fn: Callable[[], int], slice_s: float) -> float:
    """Best items/s of repeated ``fn()`` calls (each returns its item count) within a time slice."""
    fn()   # warm-up (graph capture, allocator, thread pools)
    best = 0.0
    end = time.perf_counter() + slice_s
    while True:
        t = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - t))
        if time.perf_counter() >= end:
            return best


def _observations(game: Any, count: int, seed: int = 0) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    states = []
    while len(states) < min(count, 512):
        s = game.new_initial_state()
        for _ in range(int(rng.integers(0, 12))):
            if s.is_terminal():
                break
            s.apply_action(int(rng.choice(s.legal_actions())))
        if not s.is_terminal():
            states.append(s)
    obs = np.stack([np.asarray(s.observation(), dtype=np.float32) for s in states])
    reps = -(-count // len(states))
    return np.ascontiguousarray(np.concatenate([obs] * reps)[:count]), states


def _backends(path: Path, game: Any, cuda: bool, max_batch: int) -> dict[str, Callable[[], Any]]:
    """name -> a factory of the evaluator."""
    out: dict[str, Callable[[], Any]] = {}
    providers = models.choose_providers()
    out[f"onnx {providers[0].replace('ExecutionProvider', '')}"] = (
        lambda: models.OnnxEvaluator(path, game=game, cache_size=0, batch_size=max_batch))
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return out
    device = "cuda" if cuda else "cpu"
    # on the CPU one torch thread: the machine's cores are shared with onnxruntime's and the search's
    out[f"torch {device} float32"] = lambda: models.TorchEvaluator(path, game=game, device=device,
                                                                   batch_size=max_batch,
                                                                   cpu_threads=None if cuda else 1)
    if cuda:
        for dtype in ("float16", "bfloat16"):
            out[f"torch cuda {dtype} graphs"] = (lambda d=dtype: models.TorchEvaluator(
                path, game=game, device="cuda", dtype=d, batch_size=max_batch, cuda_graphs=True))
    return out


def _raw(ev: Any, obs: np.ndarray, batch: int, slice_s: float) -> float:
    x = obs[:batch]
    if isinstance(ev, models.OnnxEvaluator):
        from models._metadata import INPUT_NAME, POLICY_OUTPUT, VALUE_OUTPUT
        session = ev.session

        def run() -> int:
            session.run([POLICY_OUTPUT, VALUE_OUTPUT], {INPUT_NAME: x})
            return batch
    else:
        def run() -> int:
            ev.forward(x)
            return batch
    return _timed_rate(run, slice_s)


def _mcts_rate(ev: Any, game: Any, batch: int, simulations: int) -> float:
    search = mcts.MCTS(game, ev, batch_size=batch, threads=2, tree_reuse=False)
    search.run(game.new_initial_state(), mcts.Limit(simulations=min(simulations, 4 * batch)))   # warm-up
    t = time.perf_counter()
    result = search.run(game.new_initial_state(), mcts.Limit(simulations=simulations))
    return result.simulations / (time.perf_counter() - t)


def _selfplay_rate(ev: Any, game: Any, games_n: int, simulations: int) -> float:
    from engine.selfplay import SelfPlayConfig, play_games
    config = SelfPlayConfig(simulations=simulations, parallel_games=games_n, batch_size=8, seed=0)
    t = time.perf_counter()
    done = play_games(game, [ev], games_n, config, record=False)
    return len(done) / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=540.0, help="seconds for the whole run")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cpu", action="store_true", help="CPU sizes even when CUDA is there")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        import torch
        cuda = torch.cuda.is_available() and not args.cpu
        gpu = torch.cuda.get_device_name(0) if cuda else None
        torch_version = torch.__version__
    except ImportError:
        cuda, gpu, torch_version = False, None, None
    import onnxruntime as ort
    batches = [64, 256, 1024, 4096] if cuda else [64, 256]
    mcts_batch, mcts_sims = (256, 20_000) if cuda else (64, 1_500)
    sp_games, sp_sims = (128, 64) if cuda else (8, 32)
    slice_s = 2.0 if cuda else 1.0
    report: dict[str, Any] = {"gpu": gpu, "torch": torch_version, "onnxruntime": ort.__version__,
                              "providers": ort.get_available_providers(), "cpu_count": os.cpu_count(),
                              "load": os.getloadavg(), "results": [], "skipped": []}
    print(f"GPU: {gpu or 'none (CPU sizes)'}; torch {torch_version}; onnxruntime {ort.__version__} "
          f"{ort.get_available_providers()}")
    for name, (game_name, params) in NETWORKS.items():
        game = games.load(game_name, **params)
        path = ROOT / "models" / "zoo" / f"{name}.onnx"
        obs, _ = _observations(game, max(batches))
        for label, factory in _backends(path, game, cuda, max(batches)).items():
            if time.monotonic() - start > args.budget:
                report["skipped"].append(f"{name} {label}")
                continue
            ev = factory()
            row: dict[str, Any] = {"network": name, "backend": label,
                                   "raw": {b: _raw(ev, obs, b, slice_s) for b in batches}}
            row["mcts_batch"] = mcts_batch
            row["mcts_sims_per_s"] = _mcts_rate(ev, game, mcts_batch, mcts_sims)
            row["mcts_share_of_raw"] = row["mcts_sims_per_s"] / row["raw"][mcts_batch]
            if time.monotonic() - start < args.budget:
                row["selfplay_games_per_s"] = _selfplay_rate(ev, game, sp_games, sp_sims)
                row["selfplay"] = {"games": sp_games, "simulations": sp_sims}
            report["results"].append(row)
            raw = "  ".join(f"b{b} {r:10,.0f}" for b, r in row["raw"].items())
            print(f"{name:9s} {label:28s} raw evals/s: {raw}")
            print(f"{'':9s} {'':28s} MCTS threads=2 b{mcts_batch}: {row['mcts_sims_per_s']:9,.0f} sims/s = "
                  f"{row['mcts_share_of_raw']:.2f} of raw; self-play "
                  f"{row.get('selfplay_games_per_s', float('nan')):.2f} games/s")
    report["seconds"] = time.monotonic() - start
    out = args.out or (Path(os.environ["OUT"]) / "gpu_bench.json" if os.environ.get("OUT") else None)
    if out is not None:
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
