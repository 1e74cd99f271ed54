"""Alpha-beta speed: the exact Connect Four solver and the chess search, each beside a baseline run in
the same process.

Run: ``pytest bench/bench_alphabeta.py --benchmark-enable -p no:cacheprovider -s`` (the last test prints
the tables), or ``python bench/bench_alphabeta.py`` for the tables alone. The machine may be shared: the
ratios (ours / baseline, one run) are the numbers to compare, not the absolute times.

Contenders:

* Connect Four, ``Test_L3_R1`` and ``Test_L2_R1`` (1,000 positions each): ``Connect4Solver.solve``
  (strong, exact score) timed per position, one solver (one table) for the whole file, as Pascal Pons'
  benchmark does. Baselines: the weak solve (win/draw/loss) of the same solver, and, on the first 100
  positions of ``Test_L3_R1``, the generic C alpha-beta (``AlphaBeta(connect4).run`` to the end of the
  game: iterative deepening, TT, killers/history, threat-count leaves; no Pons ordering or window loop).
  The outside reference is Pons' C++ solver (no opening book): about 0.18 ms per position on
  ``Test_L3_R1`` and 0.22 ms on ``Test_L2_R1`` on this machine (quoted, not run here).
* Chess: ``AlphaBeta(chess).run(Limit(depth=...))`` nodes per second on four middlegame positions
  (Bratko-Kopec 1-4, each a fixed depth). Baseline: python-chess alone walking the same positions'
  trees (legal move generation, push and pop at every node), nodes per second.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import chess
import pytest

import games
from mcts import AlphaBeta, Connect4Solver, Limit

# the checkout sits beside shared/ (a worktree one level deeper): the nearest one above this file
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
            Path(__file__).resolve().parents[1].parent / "shared" / "data")
RESULTS: dict[str, dict] = {}


def _lines(name: str) -> list[tuple[str, int]]:
    return [(m, int(s)) for m, s in (l.split() for l in (DATA / "connect4" / name).read_text().splitlines() if l.strip())]


def solve_file(name: str, weak: bool = False) -> dict:
    """Mean and worst milliseconds per position, nodes per second, wrong scores."""
    solver = Connect4Solver()
    times, cpu, wrong = [], [], 0
    for moves, score in _lines(name):
        start, start_cpu = time.perf_counter(), time.process_time()
        got = solver.solve(moves, weak)
        cpu.append(time.process_time() - start_cpu)
        times.append(time.perf_counter() - start)
        wrong += got != ((score > 0) - (score < 0) if weak else score)
    total = sum(times)
    return {"mean_ms": 1e3 * total / len(times), "worst_ms": 1e3 * max(times), "median_ms": 1e3 * statistics.median(times),
            "cpu_mean_ms": 1e3 * sum(cpu) / len(cpu), "cpu_worst_ms": 1e3 * max(cpu),
            "nodes_per_s": solver.nodes / total, "wrong": wrong, "positions": len(times)}


def generic_c4(count: int = 100) -> dict:
    """The generic C alpha-beta searching each position to the end of the game."""
    game = games.load("connect4")
    ab = AlphaBeta(game, tt_bytes=64 << 20)
    times, nodes, wrong = [], 0, 0
    for moves, score in _lines("Test_L3_R1")[:count]:
        state = game.deserialize(moves)
        start = time.perf_counter()
        result = ab.run(state, Limit(depth=42 - len(moves)))
        times.append(time.perf_counter() - start)
        nodes += result.nodes
        wrong += result.proven_value != (score > 0) - (score < 0)
    total = sum(times)
    return {"mean_ms": 1e3 * total / len(times), "worst_ms": 1e3 * max(times), "nodes_per_s": nodes / total,
            "wrong": wrong, "positions": len(times)}


CHESS_DEPTHS = 5


def _chess_positions() -> list[str]:
    lines = (DATA / "chess" / "epd" / "bratko-kopec.epd").read_text().splitlines()[:4]
    return [chess.Board.from_epd(l)[0].fen() for l in lines]


def chess_search() -> dict:
    game = games.load("chess")
    ab = AlphaBeta(game)
    nodes, seconds = 0, 0.0
    for fen in _chess_positions():
        ab.reset()
        result = ab.run(game.deserialize(fen), Limit(depth=CHESS_DEPTHS))
        nodes += result.nodes
        seconds += result.seconds
    return {"nodes_per_s": nodes / seconds, "nodes": nodes, "seconds": seconds}


def _walk(board: chess.Board, depth: int) -> int:
    if depth == 0:
        return 1
    n = 1
    for move in board.generate_legal_moves():
        board.push(move)
        n += _walk(board, depth - 1)
        board.pop()
    return n


def chess_baseline(depth: int = 3) -> dict:
    nodes, start = 0, time.perf_counter()
    for fen in _chess_positions():
        nodes += _walk(chess.Board(fen), depth)
    seconds = time.perf_counter() - start
    return {"nodes_per_s": nodes / seconds, "nodes": nodes, "seconds": seconds}


@pytest.mark.parametrize("name", ["Test_L3_R1", "Test_L2_R1"])
def test_connect4_strong(benchmark, name):
    RESULTS[f"{name} strong"] = benchmark.pedantic(solve_file, args=(name,), rounds=1, iterations=1)
    assert RESULTS[f"{name} strong"]["wrong"] == 0


@pytest.mark.parametrize("name", ["Test_L3_R1", "Test_L2_R1"])
def test_connect4_weak(benchmark, name):
    RESULTS[f"{name} weak"] = benchmark.pedantic(solve_file, args=(name, True), rounds=1, iterations=1)
    assert RESULTS[f"{name} weak"]["wrong"] == 0


def test_connect4_generic_baseline(benchmark):
    RESULTS["Test_L3_R1[:100] generic C alpha-beta"] = benchmark.pedantic(generic_c4, rounds=1, iterations=1)


def test_chess_search(benchmark):
    RESULTS["chess search"] = benchmark.pedantic(chess_search, rounds=1, iterations=1)


def test_chess_baseline(benchmark):
    RESULTS["python-chess walk"] = benchmark.pedantic(chess_baseline, rounds=1, iterations=1)


def report() -> str:
    rows = ["| contender | positions | mean ms (wall) | worst ms (wall) | mean ms (CPU) | worst ms (CPU) | nodes/s | wrong |",
            "|---|---|---|---|---|---|---|---|"]
    for key, r in RESULTS.items():
        if "mean_ms" in r:
            cpu = (f"{r['cpu_mean_ms']:.3f} | {r['cpu_worst_ms']:.2f}" if "cpu_mean_ms" in r else "- | -")
            rows.append(f"| {key} | {r['positions']} | {r['mean_ms']:.3f} | {r['worst_ms']:.2f} | {cpu} | "
                        f"{r['nodes_per_s'] / 1e6:.2f} M | {r['wrong']} |")
    lines = ["\n".join(rows)]
    pons = {"Test_L3_R1": 0.18, "Test_L2_R1": 0.22}
    for name, ref in pons.items():
        if f"{name} strong" in RESULTS:
            r = RESULTS[f"{name} strong"]
            lines.append(f"{name}: ours / Pons' quoted C++ mean = {r['mean_ms'] / ref:.2f} (wall), {r['cpu_mean_ms'] / ref:.2f} (CPU)")
    if "Test_L3_R1 strong" in RESULTS and "Test_L3_R1[:100] generic C alpha-beta" in RESULTS:
        g = RESULTS["Test_L3_R1[:100] generic C alpha-beta"]["mean_ms"]
        lines.append(f"Test_L3_R1: generic C alpha-beta / solver mean = {g / RESULTS['Test_L3_R1 strong']['mean_ms']:.1f}")
    if "chess search" in RESULTS and "python-chess walk" in RESULTS:
        s, b = RESULTS["chess search"]["nodes_per_s"], RESULTS["python-chess walk"]["nodes_per_s"]
        lines.append(f"chess: search {s:,.0f} nodes/s (depth {CHESS_DEPTHS}, Bratko-Kopec 1-4); "
                     f"python-chess walk {b:,.0f} nodes/s; ratio {s / b:.2f}")
    return "\n".join(lines)


def test_zz_report():
    print("\n" + report())


if __name__ == "__main__":
    for name in ("Test_L3_R1", "Test_L2_R1"):
        RESULTS[f"{name} strong"] = solve_file(name)
        RESULTS[f"{name} weak"] = solve_file(name, True)
    RESULTS["Test_L3_R1[:100] generic C alpha-beta"] = generic_c4()
    RESULTS["chess search"] = chess_search()
    RESULTS["python-chess walk"] = chess_baseline()
    print(report())
