"""Connect Four positions labelled by the exact solver (the supervised recipe of ``plytree learn``).

Positions come from uniformly random games cut at a random ply in ``[min_moves, max_moves]``
(the test positions of ``shared/data/connect4`` are drawn the same way, and any position that
appears there is skipped, so the strength benchmark never sees a training position). Each position
is solved per move (``Connect4Solver.analyze``, weak: win/draw/loss); the policy target is uniform
over the moves that keep the best game-theoretic value, the value target is that value.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import games
from models.train import Records, ReplayBuffer, augment


def _test_positions() -> set[str]:
    """Move strings of the shared Connect Four test sets (to keep them out of training)."""
    root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "connect4"
    out: set[str] = set()
    if root.is_dir():
        for f in root.glob("Test_*"):
            for line in f.read_text().splitlines():
                if line.strip():
                    out.add(line.split()[0])
    return out


def solver_records(num_positions: int, *, seed: int, min_moves: int = 12, max_moves: int = 36,
                   time_limit: Optional[float] = None, solver=None) -> Records:
    """``num_positions`` solver-labelled positions (before augmentation).

    Args:
        num_positions: how many positions to label.
        seed: seeds the random games.
        min_moves, max_moves: the ply range positions are cut at (early plies are slow to solve:
            ~2 s a position at ply 10, ~0.15 s at ply 12-16 on this machine).
        time_limit: stop early after this many seconds (fewer records).
        solver: a ``mcts.Connect4Solver`` (a fresh one with a 2^23-entry table by default).

    Returns:
        Records with generation -1.
    """
    from mcts import Connect4Solver

    if not 0 <= min_moves <= max_moves <= 41:
        raise ValueError(f"need 0 <= min_moves <= max_moves <= 41, got {min_moves}, {max_moves}")
    solver = solver or Connect4Solver()
    game = games.load("connect4")
    rng = random.Random(seed)
    skip = _test_positions()
    obs: list[np.ndarray] = []
    pol: list[np.ndarray] = []
    val: list[float] = []
    leg: list[np.ndarray] = []
    t0 = time.perf_counter()
    while len(val) < num_positions:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        target = rng.randint(min_moves, max_moves)
        state = game.new_initial_state()
        for _ in range(target):
            if state.is_terminal():
                break
            state.apply_action(rng.choice(state.legal_actions()))
        if state.is_terminal():
            continue
        if "".join(str(a + 1) for a in state.history()) in skip:
            continue
        scores = solver.analyze(list(state.history()), weak=True)
        legal = np.zeros(game.num_actions, dtype=bool)
        legal[state.legal_actions()] = True
        best = max(s for s in scores if s is not None)
        target_policy = np.array([1.0 if s == best else 0.0 for s in scores], dtype=np.float32)
        target_policy /= target_policy.sum()
        obs.append(state.observation())
        pol.append(target_policy)
        val.append(float(best))
        leg.append(legal)
    return Records.from_lists(obs, pol, val, leg, generation=-1)


def solver_worker(directory: str, worker: int, num_positions: int, seed: int, shard_size: int = 500,
                  min_moves: int = 12, max_moves: int = 36, time_limit: Optional[float] = None,
                  progress: Optional[Callable[[int], None]] = None) -> int:
    """Labels positions in shards of ``shard_size`` (mirrored) into the buffer at ``directory``.

    Each shard is on disk as soon as it is complete, so a killed worker loses at most one shard's
    work. Returns the number of positions labelled (before mirroring).
    """
    from mcts import Connect4Solver

    buffer = ReplayBuffer(directory)
    solver = Connect4Solver()
    done = 0
    t0 = time.perf_counter()
    part = 0
    while done < num_positions:
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            break
        rec = solver_records(min(shard_size, num_positions - done), seed=seed * 100_003 + worker * 1009 + part,
                             min_moves=min_moves, max_moves=max_moves, time_limit=left, solver=solver)
        part += 1
        if len(rec) == 0:
            break
        buffer.add(augment(rec, "connect4"), prefix=f"solver-w{worker}")
        done += len(rec)
        if progress is not None:
            progress(len(rec))
    return done
