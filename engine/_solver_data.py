"""Connect Four positions labelled by the exact solver (the supervised recipe of ``plytree learn``).

Positions come from games cut at a random ply in ``[min_moves, max_moves]``, played uniformly at
random or by a decent, imperfect player (``level``, as the test sets of ``engine._c4_testsets``);
any position of a test set (the shared Pons sets ``shared/data/connect4/Test_*`` and the sets of
``engine/data/c4_*.txt``), or its mirror image, in any move order, is skipped, so the strength
benchmarks never see a training position. Each position is solved per move
(``Connect4Solver.analyze``, weak: win/draw/loss); the policy target is uniform over the moves that
keep the best game-theoretic value, the value target is that value.
"""
from __future__ import annotations

import random
import time
from typing import Callable, Optional

import numpy as np

import games
from models.train import Records, ReplayBuffer, augment


# shards of --keep-rejected: play labels that do not count towards a run's --positions
REJECTED_PREFIX = "solver-play-rejected-w"


def solver_records(num_positions: int, *, seed: int, min_moves: int = 12, max_moves: int = 36,
                   time_limit: Optional[float] = None, solver=None, level: str = "random",
                   rejected: Optional[list] = None) -> Records:
    """``num_positions`` solver-labelled positions (before augmentation).

    Args:
        num_positions: how many positions to label.
        seed: seeds the random games.
        min_moves, max_moves: the ply range positions are cut at (early plies are slow to solve:
            ~2 s a position at ply 10, ~0.15 s at ply 12-16 on this machine).
        time_limit: stop early after this many seconds (fewer records).
        solver: a ``mcts.Connect4Solver`` (a fresh one with a 2^23-entry table by default).
        level: ``random`` (uniformly random games), ``play`` (decent play) or ``hard`` (decent play,
            kept when not lost and exactly one move keeps the value); see ``engine._c4_testsets``.
        rejected: with ``level="hard"``, a list that receives ``(observation, policy, value, legal)``
            for each solved position that was not hard (a ``play`` label that cost the same solve).

    Returns:
        Records with generation -1.
    """
    from engine._c4_testsets import LEVELS, draw_state, held_out_keys, position_key, solve_position
    from mcts import Connect4Solver

    if not 0 <= min_moves <= max_moves <= 41:
        raise ValueError(f"need 0 <= min_moves <= max_moves <= 41, got {min_moves}, {max_moves}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    solver = solver or Connect4Solver()
    game = games.load("connect4")
    rng = random.Random(seed)
    skip = held_out_keys()   # every test position, kept out of training
    obs: list[np.ndarray] = []
    pol: list[np.ndarray] = []
    val: list[float] = []
    leg: list[np.ndarray] = []
    t0 = time.perf_counter()
    while len(val) < num_positions:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        state = draw_state(game, rng, min_moves, max_moves, level)
        if state is None:
            continue
        moves = "".join(str(a + 1) for a in state.history())
        if position_key(moves) in skip:
            continue
        position = solve_position(solver, moves)
        legal = np.zeros(game.num_actions, dtype=bool)
        legal[state.legal_actions()] = True
        label = (state.observation(), np.asarray(position.policy_target(), dtype=np.float32),
                 float(position.value), legal)
        if level == "hard" and not position.is_hard():
            if rejected is not None:
                rejected.append(label)
            continue
        for column, item in zip((obs, pol, val, leg), label):
            column.append(item)
    return Records.from_lists(obs, pol, val, leg, generation=-1)


def solver_worker(directory: str, worker: int, num_positions: int, seed: int, shard_size: int = 500,
                  min_moves: int = 12, max_moves: int = 36, time_limit: Optional[float] = None,
                  progress: Optional[Callable[[int], None]] = None, level: str = "random",
                  keep_rejected: bool = False) -> int:
    """Labels positions in shards of ``shard_size`` (mirrored) into the buffer at ``directory``.

    Each shard is on disk as soon as it is complete, so a killed worker loses at most one shard's
    work. With ``level="hard"`` and ``keep_rejected``, the solved positions that were not hard are
    stored too, as ``play`` shards named ``REJECTED_PREFIX`` (not counted). Returns the number of positions labelled at
    ``level`` (before mirroring).
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
        rejected: Optional[list] = [] if keep_rejected and level == "hard" else None
        rec = solver_records(min(shard_size, num_positions - done), seed=seed * 100_003 + worker * 1009 + part,
                             min_moves=min_moves, max_moves=max_moves, time_limit=left, solver=solver,
                             level=level, rejected=rejected)
        part += 1
        if rejected:
            extra = Records.from_lists(*map(list, zip(*rejected)), generation=-1)
            buffer.add(augment(extra, "connect4"), prefix=f"{REJECTED_PREFIX}{worker}")
        if len(rec) == 0:
            break
        buffer.add(augment(rec, "connect4"), prefix=f"solver-{level}-w{worker}")
        done += len(rec)
        if progress is not None:
            progress(len(rec))
    return done
