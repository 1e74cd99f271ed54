"""Hex solver speed: every 7x7 opening proved by ``mcts.solve_hex``, beside a baseline in the same run.

Run: ``pytest bench/bench_hex_solver.py --benchmark-enable -p no:cacheprovider -s`` (the last test
prints the tables), or ``python bench/bench_hex_solver.py [--board 7x7] [--time-limit 10]`` for the
tables alone. The machine may be shared: the tables give wall and CPU seconds, and the load average.

Contenders:

* The openings of benzene's solved sets (``shared/data/hex/hex_openings_solved.csv``: black's first
  move, white to move, winner known): each solved from scratch (fresh transposition table), with a
  wall-clock limit per opening (10 s by default) and ``--threads`` search threads (1 by default);
  reported per opening: result, wall and CPU seconds, positions evaluated, expansions. Every
  proven result must match the published winner.
* Baseline: 20 random 5x5 positions (8 stones, seeded), solved by the generic C alpha-beta to the
  end of the game (``AlphaBeta.run``, no Hex knowledge) and by the proof-number solver.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import time
from pathlib import Path

import pytest

import games
from mcts import AlphaBeta, Limit, solve_hex
from mcts._hex_dfpn import HexDfpn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS: dict[str, dict] = {}


def openings(board: str) -> list[tuple[str, int]]:
    """(black's first move, value for white to move) of every published opening of ``board``."""
    lines = [l for l in (DATA / "hex" / "hex_openings_solved.csv").read_text().splitlines() if not l.startswith("#")]
    return [(r["first_move_black"], 1 if r["winner"] == "white" else -1)
            for r in csv.DictReader(lines) if r["board"] == board]


def prove_openings(board: str = "7x7", time_limit: float = 10.0, only: set[str] | None = None,
                   threads: int = 1) -> dict:
    """Solves each opening of ``board`` (those in ``only`` when given) within ``time_limit`` wall seconds,
    with ``threads`` search threads."""
    size = int(board.split("x")[0])
    game = games.load("hex", board_size=size)
    rows = []
    for cell, expected in openings(board):
        if only is not None and cell not in only:
            continue
        solver = HexDfpn(size, threads=threads)   # a fresh table: each opening proved from scratch
        state = game.deserialize(cell)
        black = 1 << state.history()[0]
        start, start_cpu = time.perf_counter(), time.process_time()
        got = solver.solve_bits(black, 0, 1, time_limit=time_limit)
        rows.append({"opening": cell, "expected": expected, "got": got, "seconds": time.perf_counter() - start,
                     "cpu": time.process_time() - start_cpu, "nodes": solver.nodes, "expansions": solver.expansions})
    proven = [r for r in rows if r["got"] != 0]
    return {"board": board, "time_limit": time_limit, "threads": threads, "rows": rows, "proven": len(proven), "total": len(rows),
            "wrong": [r["opening"] for r in proven if r["got"] != r["expected"]],
            "worst_proven_s": max((r["seconds"] for r in proven), default=0.0),
            "load": os.getloadavg()[0]}


def baseline_5x5(count: int = 20, stones: int = 8, seed: int = 1) -> dict:
    """Random 5x5 positions: generic alpha-beta to the end versus the proof-number solver."""
    game = games.load("hex", board_size=5)
    rng = random.Random(seed)
    states = []
    while len(states) < count:
        state = game.new_initial_state()
        for _ in range(stones):
            state.apply_action(rng.choice(state.legal_actions()))
            if state.is_terminal():
                break
        if not state.is_terminal():
            states.append(state)
    search = AlphaBeta(game)
    start = time.perf_counter()
    reference = [search.run(s, Limit(depth=25 - len(s.history()))).proven_value for s in states]
    alphabeta_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = [solve_hex(s).proven_value for s in states]
    dfpn_s = time.perf_counter() - start
    return {"positions": count, "alphabeta_s": alphabeta_s, "dfpn_s": dfpn_s,
            "disagree": sum(a != b for a, b in zip(reference, ours))}


def test_hex_baseline_5x5(benchmark):
    result = benchmark.pedantic(baseline_5x5, rounds=1, iterations=1)
    RESULTS["5x5 baseline"] = result
    assert result["disagree"] == 0


def test_hex_7x7_openings(benchmark):
    result = benchmark.pedantic(prove_openings, args=("7x7", 10.0), rounds=1, iterations=1)
    RESULTS["7x7"] = result
    assert not result["wrong"], result["wrong"]
    assert result["proven"] > 0


def report() -> str:
    out = []
    for key, r in RESULTS.items():
        if "rows" not in r:
            out.append(f"{key}: {r['positions']} positions, generic alpha-beta {r['alphabeta_s']:.2f} s, "
                       f"DFPN {r['dfpn_s']:.2f} s, disagreements {r['disagree']}")
            continue
        out.append(f"{r['board']} openings (limit {r['time_limit']:g} s wall each, {r['threads']} thread(s), "
                   f"load average {r['load']:.1f}):")
        out.append(f"{'open':>5} {'winner':>6} {'result':>8} {'wall s':>8} {'cpu s':>7} {'nodes':>8} {'expand':>7}")
        for row in r["rows"]:
            result = {0: "-", 1: "white", -1: "black"}[row["got"]]
            mark = "" if row["got"] in (0, row["expected"]) else "  WRONG"
            out.append(f"{row['opening']:>5} {'white' if row['expected'] == 1 else 'black':>6} {result:>8} "
                       f"{row['seconds']:8.2f} {row['cpu']:7.2f} {row['nodes']:8d} {row['expansions']:7d}{mark}")
        cpu = sum(row["cpu"] for row in r["rows"])
        out.append(f"proven {r['proven']} / {r['total']}, worst proven {r['worst_proven_s']:.2f} s, wrong {len(r['wrong'])}, "
                   f"CPU {cpu:.1f} s in all")
    return "\n".join(out)


def test_zz_report():
    print("\n" + report())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="7x7", help="6x6 or 7x7 (the published sets)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="wall seconds per opening")
    parser.add_argument("--no-baseline", action="store_true", help="skip the 5x5 alpha-beta baseline")
    parser.add_argument("--only", default="", help="comma-separated openings to solve (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="search threads per opening (sharing one table; CPU seconds add up over them)")
    args = parser.parse_args()
    if not args.no_baseline:
        RESULTS["5x5 baseline"] = baseline_5x5()
    only = {cell.strip() for cell in args.only.split(",") if cell.strip()} or None
    RESULTS[args.board] = prove_openings(args.board, args.time_limit, only, args.threads)
    print(report())
