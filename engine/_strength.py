"""Strength measures of trained networks: Connect Four positions with exact values (is the value kept
by the policy move alone, and by MCTS on the network?) and a Hex match against MCTS with rollouts."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

import games
from engine._pool import WorkerPool
from engine.selfplay import SelfPlayConfig, match


def read_connect4_positions(path: str | os.PathLike, limit: Optional[int] = None) -> list[Any]:
    """The positions of a Connect Four test file: ``(moves, score)`` pairs of a Pons file
    (``shared/data/connect4/Test_*``), or the ``SetPosition`` entries of a solver-made set
    (``engine/data/c4_*.txt``, see ``engine._c4_testsets``), told apart by the first line."""
    first = next((line for line in Path(path).read_text().splitlines() if line.strip()), "")
    if first.startswith("#") or len(first.split()) == 3:
        from engine._c4_testsets import read_set

        return list(read_set(path, limit=limit))
    out = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], int(parts[1])))
            if limit is not None and len(out) >= limit:
                break
    return out


def _strength_chunk(model: str, items: list[Any], simulations: int, threads: Optional[int]) -> list[dict[str, Any]]:
    import mcts
    import models

    game = games.load("connect4")
    ev = models.OnnxEvaluator(model, game=game, intra_op_threads=threads, cache_size=100_000)
    solver = None
    out = []
    for item in items:
        if isinstance(item, tuple):  # a Pons (moves, score) pair: solve each move here
            moves, score = item
            want = (score > 0) - (score < 0)
            solver = solver or mcts.Connect4Solver()
            per_move = solver.analyze(moves, weak=True)
        else:  # a SetPosition: the per-move values are stored
            moves, want, per_move = item.moves, item.value, list(item.per_move)
        state = game.deserialize(moves)
        priors, _ = ev.evaluate([state])
        policy_move = int(np.argmax(priors[0]))
        row = {"moves": moves, "value": want, "policy_move": policy_move,
               "policy_ok": per_move[policy_move] == want}
        if simulations > 0:
            search = mcts.MCTS(game, ev, batch_size=16, seed=0)
            res = search.run(state, mcts.Limit(simulations=simulations))
            row["search_move"] = int(res.best_action)
            row["search_ok"] = per_move[res.best_action] == want
        out.append(row)
    return out


class _StrengthWorker:
    """A pool worker that measures chunks of positions (``measure`` = ``_strength_chunk``)."""

    def measure(self, *args: Any) -> list[dict[str, Any]]:
        return _strength_chunk(*args)


def connect4_strength(model: str | os.PathLike, positions: list[Any], *, simulations: int = 800,
                      workers: int = 1, progress: Optional[Callable[[int], None]] = None) -> dict[str, Any]:
    """Share of positions where the network's policy move alone, and MCTS with ``simulations``
    simulations on the network, keep the game-theoretic value (checked move by move with the exact
    solver: a won position must stay won, a drawn one drawn; in a lost position every move keeps
    the value, so ``*_not_lost`` also gives the shares over the won and drawn positions only).

    Args:
        positions: ``(moves, score)`` Pons pairs (solved here, move by move) or ``SetPosition``
            entries (per-move values stored), as ``read_connect4_positions`` returns them.

    Returns:
        ``{"positions", "policy", "search" (None when simulations is 0), "not_lost",
        "policy_not_lost", "search_not_lost", "rows"}``.
    """
    model = str(model)
    chunks = [positions[i:i + 25] for i in range(0, len(positions), 25)]
    rows: list[dict[str, Any]] = []
    threads = None if workers <= 1 else 1  # several workers share the cores
    with WorkerPool(_StrengthWorker, workers=max(1, workers)) as pool:
        futures = [pool.submit("measure", model, c, simulations, threads) for c in chunks]
        pending = set(futures)
        while pending:
            done, pending = pool.wait(pending)
            for f in done:
                if progress is not None:
                    progress(len(chunks[futures.index(f)]))
    for f in futures:  # in the order of the positions
        rows += f.result()
    n = max(1, len(rows))
    open_rows = [r for r in rows if r["value"] >= 0]
    m = max(1, len(open_rows))
    return {"positions": len(rows), "policy": sum(r["policy_ok"] for r in rows) / n,
            "search": (sum(r["search_ok"] for r in rows) / n) if simulations > 0 else None,
            "not_lost": len(open_rows), "policy_not_lost": sum(r["policy_ok"] for r in open_rows) / m,
            "search_not_lost": (sum(r["search_ok"] for r in open_rows) / m) if simulations > 0 else None,
            "rows": rows}


def hex_strength(model: str | os.PathLike, *, board_size: int = 7, games_count: int = 20, simulations: int = 200,
                 seed: int = 0, parallel_games: int = 10, opponent: Optional[str | os.PathLike] = None) -> dict[str, Any]:
    """Match of MCTS on the network against MCTS with random rollouts at equal simulations, or against
    MCTS on another network (``opponent``; colours alternate, first 4 plies sampled from the visits
    so the games differ).

    Returns:
        ``match`` result from the network's view.
    """
    import mcts
    import models

    game = games.load("hex", board_size=board_size)
    ev = models.OnnxEvaluator(str(model), game=game, cache_size=100_000)
    other = (models.OnnxEvaluator(str(opponent), game=game, cache_size=100_000) if opponent is not None
             else mcts.RolloutEvaluator(seed=seed))
    cfg = SelfPlayConfig(simulations=simulations, parallel_games=parallel_games, batch_size=8, temperature_moves=4,
                         seed=seed)
    return match(game, ev, other, games_count, cfg)
