"""Threads: alpha-beta Lazy SMP and the pipelined MCTS, measured in one run.

Standalone: ``python bench/bench_threads.py [--seconds S] [--rounds N] [--match-seconds M] [--json FILE]``
(``PYTHONPATH`` at the repository root). Every figure is wall time (threads share the wall clock, so
CPU-time timers do not apply), best of ``--rounds`` rounds to damp the noise of a shared machine; the
load average before each part is printed beside it.

1. Alpha-beta nodes per second, ``AlphaBeta(threads=2)`` against ``threads=1``: fixed-time searches
   (``--seconds`` each) of four middlegame positions on the bitboard board, nodes summed over every
   thread, best round per position; the ratio of the sums.
2. A fixed-time match, threads=2 against threads=1 (``--move-time`` per move, openings from
   ``chessathome_openings.fen`` played with both colours, draw at 160 plies), for ``--match-seconds``:
   score, Elo and its 95% interval.
3. MCTS on the shipped Connect Four network (``models/zoo/connect4.onnx``, ``OnnxEvaluator``, cache
   off, batch 64): simulations per second with ``threads=2`` (two batches in flight while the tree
   gathers the next) against today's ``threads=1``, and the share of the wall time inside onnxruntime
   (above 1 when batches overlap).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import games  # noqa: E402
import mcts  # noqa: E402
from mcts import Limit  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
POSITIONS = [
    "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1",
    "r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N2N2/PP2BPPP/R2QKB1R w KQ - 0 8",
    "2rq1rk1/pp1bppbp/3p1np1/4n3/3NP3/1BN1BP2/PPPQ2PP/2KR3R w - - 0 12",
    "r2qr1k1/1b1nbppp/p2p1n2/1p2p3/3PP3/1BP2N1P/PP3PP1/RNBQR1K1 w - - 0 12",
]


def load() -> str:
    return "load average %.2f %.2f %.2f on %d cores" % (*os.getloadavg(), os.cpu_count() or 1)


def ab_nodes_per_second(threads: int, seconds: float, rounds: int) -> dict[str, Any]:
    """Best-of-rounds nodes/s per position for AlphaBeta(threads=...) at a fixed time, with the CPU
    time the process got (``cores``: CPU seconds per wall second, over every round)."""
    import resource

    game = games.load("chess")
    best: list[float] = []
    wall = cpu = nodes = 0.0
    for fen in POSITIONS:
        rates = []
        for _ in range(rounds):
            search = mcts.AlphaBeta(game, threads=threads)   # a fresh table each round
            state = game.deserialize(fen)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t = time.perf_counter()
            result = search.run(state, Limit(time=seconds))
            dt = time.perf_counter() - t
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            wall += dt
            cpu += (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            nodes += result.nodes
            rates.append(result.nodes / dt)
        best.append(max(rates))
    return {"threads": threads, "nodes_per_second": best, "total": sum(best), "cores": cpu / wall,
            "nodes_per_cpu_second": nodes / cpu}


def _elo(score: float) -> float:
    score = min(max(score, 1e-6), 1 - 1e-6)
    return -400.0 * math.log10(1.0 / score - 1.0)


def match(move_time: float, budget: float, seed: int = 1) -> dict[str, Any]:
    """threads=2 against threads=1 at a fixed time per move until the budget is spent (pairs of games)."""
    import chess

    game = games.load("chess")
    openings = [l.strip() for l in (DATA / "chess" / "epd" / "chessathome_openings.fen").read_text().splitlines()
                if l.strip()]
    random.Random(seed).shuffle(openings)
    players = {2: mcts.AlphaBeta(game, threads=2), 1: mcts.AlphaBeta(game, threads=1)}
    scores: list[float] = []     # threads=2's score per game
    start = time.monotonic()
    for opening in openings:
        if time.monotonic() - start > budget:
            break
        for white in (2, 1):
            state = game.deserialize(opening)
            for p in players.values():
                p.reset()
            plies = 0
            while not state.is_terminal() and plies < 160:
                mover = white if state.current_player() == 0 else (3 - white)
                state.apply_action(players[mover].run(state, Limit(time=move_time)).best_action)
                plies += 1
            r = state.returns() if state.is_terminal() else [0.0, 0.0]
            seat = 0 if white == 2 else 1
            scores.append((r[seat] + 1.0) / 2.0)
    n = len(scores)
    mean = sum(scores) / n if n else 0.5
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1)) if n > 1 else 0.5
    half = 1.96 * sd / math.sqrt(n) if n else 0.5
    wins = sum(s == 1.0 for s in scores)
    draws = sum(s == 0.5 for s in scores)
    return {"games": n, "wins": wins, "draws": draws, "losses": n - wins - draws, "score": mean,
            "elo": _elo(mean), "elo_low": _elo(mean - half), "elo_high": _elo(mean + half),
            "move_time": move_time}


def mcts_pipeline(threads: int, simulations: int, rounds: int, batch: int = 64) -> dict[str, Any]:
    """Best-of-rounds simulations/s and onnxruntime share of MCTS(threads=...) on the Connect Four net."""
    import models

    game = games.load("connect4")
    ev = models.OnnxEvaluator(ROOT / "models" / "zoo" / "connect4.onnx", game=game, cache_size=0)
    best = (0.0, 0.0)
    for _ in range(rounds):
        search = mcts.MCTS(game, ev, batch_size=batch, threads=threads, tree_reuse=False)
        ev.reset_stats()
        t = time.perf_counter()
        result = search.run(game.new_initial_state(), Limit(simulations=simulations))
        wall = time.perf_counter() - t
        rate = result.simulations / wall
        if rate > best[0]:
            best = (rate, ev.onnx_seconds / wall)
    return {"threads": threads, "simulations_per_second": best[0], "onnx_share": best[1], "batch": batch}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="alpha-beta search time per position")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (best is kept)")
    parser.add_argument("--match-seconds", type=float, default=300.0, help="time for the match (0: skip)")
    parser.add_argument("--move-time", type=float, default=0.1, help="seconds per move in the match")
    parser.add_argument("--simulations", type=int, default=3000, help="MCTS simulations per round")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}

    print(f"[1] alpha-beta nodes/s, {args.seconds} s per position, best of {args.rounds}; {load()}")
    one = ab_nodes_per_second(1, args.seconds, args.rounds)
    two = ab_nodes_per_second(2, args.seconds, args.rounds)
    out["alphabeta"] = {"one": one, "two": two, "ratio": two["total"] / one["total"], "load": load()}
    for a, b in zip(one["nodes_per_second"], two["nodes_per_second"]):
        print(f"    1 thread {a:12,.0f}   2 threads {b:12,.0f}   x{b / a:.2f}")
    print(f"    total ratio 2 threads / 1 thread: x{out['alphabeta']['ratio']:.2f}; after: {load()}")
    for r in (one, two):
        print(f"    threads={r['threads']}: the process got {r['cores']:.2f} cores on average; "
              f"{r['nodes_per_cpu_second']:,.0f} nodes per CPU second")

    print(f"[3] MCTS Connect Four network, batch 64, {args.simulations} simulations, best of {args.rounds}; {load()}")
    m1 = mcts_pipeline(1, args.simulations, args.rounds)
    m2 = mcts_pipeline(2, args.simulations, args.rounds)
    out["mcts"] = {"one": m1, "two": m2, "ratio": m2["simulations_per_second"] / m1["simulations_per_second"],
                   "load": load()}
    for m in (m1, m2):
        print(f"    threads={m['threads']}: {m['simulations_per_second']:8,.0f} sims/s, "
              f"onnxruntime share of wall time {m['onnx_share']:.3f}")
    print(f"    ratio x{out['mcts']['ratio']:.2f}")

    if args.match_seconds > 0:
        print(f"[2] match threads=2 vs threads=1, {args.move_time} s/move, {args.match_seconds} s; {load()}")
        res = match(args.move_time, args.match_seconds)
        out["match"] = res
        print(f"    {res['games']} games: +{res['wins']} ={res['draws']} -{res['losses']}, score {res['score']:.3f}, "
              f"Elo {res['elo']:+.0f} [{res['elo_low']:+.0f}, {res['elo_high']:+.0f}] (95%); {load()}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
