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
* Chess: ``AlphaBeta(chess).run(Limit(depth=...))`` (the C searcher) nodes per CPU second on four
  middlegame positions (Bratko-Kopec 1-4, each a fixed depth). Baseline: python-chess alone walking the
  same positions' trees (legal move generation, push and pop at every node), nodes per CPU second.

Each test asserts the claim it backs, with a margin for noise: no wrong solver score; the solver faster
than the generic search (CPU time); the chess search 10x python-chess's walk; the time limit and stop
windows (best of three).
"""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import chess
import pytest

import games
from _python_chess_walk import walk
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
    times, cpu, nodes, wrong = [], [], 0, 0
    for moves, score in _lines("Test_L3_R1")[:count]:
        state = game.deserialize(moves)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = ab.run(state, Limit(depth=42 - len(moves)))
        cpu.append(time.process_time() - start_cpu)
        times.append(time.perf_counter() - start)
        nodes += result.nodes
        wrong += result.proven_value != (score > 0) - (score < 0)
    total = sum(times)
    return {"mean_ms": 1e3 * total / len(times), "worst_ms": 1e3 * max(times), "nodes_per_s": nodes / total,
            "cpu_mean_ms": 1e3 * sum(cpu) / len(cpu), "cpu_worst_ms": 1e3 * max(cpu), "wrong": wrong,
            "positions": len(times)}


CHESS_DEPTHS = 9


def _chess_positions() -> list[str]:
    lines = (DATA / "chess" / "epd" / "bratko-kopec.epd").read_text().splitlines()[:4]
    return [chess.Board.from_epd(l)[0].fen() for l in lines]


def chess_search() -> dict:
    """The C chess search, nodes per CPU second (the machine is shared)."""
    game = games.load("chess")
    ab = AlphaBeta(game)
    nodes, seconds = 0, 0.0
    for fen in _chess_positions():
        ab.reset()
        cpu = time.process_time()
        result = ab.run(game.deserialize(fen), Limit(depth=CHESS_DEPTHS))
        seconds += time.process_time() - cpu
        nodes += result.nodes
    return {"nodes_per_s": nodes / seconds, "nodes": nodes, "seconds": seconds}


def chess_baseline(depth: int = 3) -> dict:
    nodes, start = 0, time.process_time()
    for fen in _chess_positions():
        nodes += walk(chess.Board(fen), depth)
    seconds = time.process_time() - start
    return {"nodes_per_s": nodes / seconds, "nodes": nodes, "seconds": seconds}


@pytest.mark.parametrize("name", ["Test_L3_R1", "Test_L2_R1"])
def test_connect4_strong(benchmark, name):
    RESULTS[f"{name} strong"] = benchmark.pedantic(solve_file, args=(name,), rounds=1, iterations=1)
    assert RESULTS[f"{name} strong"]["wrong"] == 0


@pytest.mark.parametrize("name", ["Test_L3_R1", "Test_L2_R1"])
def test_connect4_weak(benchmark, name):
    RESULTS[f"{name} weak"] = benchmark.pedantic(solve_file, args=(name, True), rounds=1, iterations=1)
    assert RESULTS[f"{name} weak"]["wrong"] == 0


GENERIC_OVER_SOLVER = 1.5   # the claim: the solver is faster than the generic search (2.5x when written)
CHESS_OVER_WALK = 10.0      # the claim: the C chess search runs 10x the nodes/s of python-chess walking


def test_connect4_generic_baseline(benchmark):
    generic = RESULTS["Test_L3_R1[:100] generic C alpha-beta"] = benchmark.pedantic(generic_c4, rounds=1, iterations=1)
    assert generic["wrong"] == 0
    solver = RESULTS.get("Test_L3_R1 strong") or solve_file("Test_L3_R1")
    # CPU time: the machine is shared, wall time would measure the other jobs
    assert generic["cpu_mean_ms"] > GENERIC_OVER_SOLVER * solver["cpu_mean_ms"], (generic, solver)


def test_chess_search(benchmark):
    search = RESULTS["chess search"] = benchmark.pedantic(chess_search, rounds=1, iterations=1)
    walk = RESULTS["python-chess walk"] = chess_baseline()
    assert search["nodes_per_s"] > CHESS_OVER_WALK * walk["nodes_per_s"], (search, walk)


def _connect4_time_and_stop() -> dict:
    """Limit(time=0.2) and stop() from another thread 0.15 s into an infinite search (Connect Four)."""
    game = games.load("connect4")
    ab = AlphaBeta(game)
    start = time.monotonic()
    result = ab.run(game.new_initial_state(), Limit(time=0.2))
    row = {"time_limit_s": time.monotonic() - start}
    assert result.stop_reason == "time"
    timer = threading.Timer(0.15, ab.stop)
    timer.start()
    start = time.monotonic()
    result = ab.run(game.new_initial_state(), Limit(infinite=True))
    row["stopped_after_s"] = time.monotonic() - start
    timer.join()
    assert result.stop_reason == "stopped"
    return row


def test_time_limit_and_stop_latency(benchmark):
    """The windows that were unit-test assertions: a 0.2 s limit ends in [0.19, 0.3) s, a stop at 0.15 s
    returns in [0.14, 0.25) s (best of three: a descheduled process only adds time)."""
    rows = [benchmark.pedantic(_connect4_time_and_stop, rounds=1, iterations=1)]
    rows += [_connect4_time_and_stop() for _ in range(2)]
    best = {k: min(r[k] for r in rows) for k in rows[0]}
    RESULTS["connect4 limits"] = best
    assert 0.19 <= best["time_limit_s"] < 0.3, best
    assert 0.14 <= best["stopped_after_s"] < 0.25, best


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
        lines.append(f"chess: search {s:,.0f} nodes per CPU s (depth {CHESS_DEPTHS}, Bratko-Kopec 1-4); "
                     f"python-chess walk {b:,.0f} nodes per CPU s; ratio {s / b:.1f}")
    if "connect4 limits" in RESULTS:
        lines.append("connect4 limits: " + ", ".join(f"{k} {v:.3f}" for k, v in RESULTS["connect4 limits"].items()))
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
    RESULTS["connect4 limits"] = _connect4_time_and_stop()
    print(report())
