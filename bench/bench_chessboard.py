"""Speed of the bitboard chess board (games/chessboard.pyx) and its C alpha-beta, beside baselines run in
the same process.

Run: ``pytest bench/bench_chessboard.py --benchmark-enable -p no:cacheprovider -s`` (the last test
prints the tables), or ``python bench/bench_chessboard.py`` for the tables alone (add ``--wac`` for the
whole Win At Chess suite at 1 s a position, about 5 minutes per searcher). The machine may be shared: the
ratios (ours / baseline, one run) are the numbers to compare, not the absolute rates.

* Perft with bulk counting at the last ply on the CPW positions: ``ChessBoardState.perft`` against
  Stockfish's ``go perft`` (``/usr/games/stockfish``, timed from ``go`` to ``Nodes searched``, after
  ``isready``) on the same positions and depths, and python-chess's own generator (push/pop, bulk
  counted the same way) at a smaller depth.
* The ``plytree perft`` command (``python -m engine.cli perft --fen FEN D`` as a subprocess, wall time
  with Python's start-up) against Stockfish's ``go perft``: asserted within 2x.
* Alpha-beta nodes per CPU second on four middlegame positions (Bratko-Kopec 1-4) for 1 s each:
  ``mcts._chess_ab.ChessAlphaBeta`` on bitboard states and on python-chess states (converted at the
  root), against python-chess walking the same tree (asserted: 5x).
* Time limit, stop latency and table allocation with a 16 MB and a 2,000 MB table (asserted: under
  0.1 s for stop and allocation).
* Win At Chess at a fixed time a position, bitboard and python-chess states (``--wac``; a sample of 30
  at 0.5 s in the pytest run, asserted against a floor).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import chess
import pytest

import games
from _python_chess_walk import walk
from games import chessboard as cb
from mcts import AlphaBeta, Limit

# the checkout sits beside shared/ (a worktree one level deeper): the nearest one above this file
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
            Path(__file__).resolve().parents[1].parent / "shared" / "data")
STOCKFISH = "/usr/games/stockfish"
RESULTS: dict[str, dict] = {}

# (name, FEN, depth for ours and Stockfish, depth for python-chess)
PERFT_POSITIONS = [
    ("startpos", chess.STARTING_FEN, 6, 4),
    ("kiwipete", "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", 5, 3),
    ("cpw3", "8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1", 6, 4),
    ("cpw4", "r3k2r/Pppp1ppp/1b3nbN/nP6/BBP1P3/q4N2/Pp1P2PP/R2Q1RK1 w kq - 0 1", 5, 3),
    ("cpw5", "rnbq1k1r/pp1Pbppp/2p5/8/2B5/8/PPP1NnPP/RNBQK2R w KQ - 1 8", 5, 3),
    ("cpw6", "r4rk1/1pp1qppp/p1np1n2/2b1p1B1/2B1P1b1/P1NP1N2/1PP1QPPP/R4RK1 w - - 0 10", 5, 3),
]
SEARCH_SECONDS = 1.0


# ------------------------------------------------------------------------------------------ perft

class Stockfish:
    """A Stockfish process driven over UCI for ``go perft``."""

    def __init__(self, path: str = STOCKFISH) -> None:
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._send("uci")
        self._wait("uciok")

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _wait(self, prefix: str) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line
        raise RuntimeError(f"stockfish ended before {prefix!r}")

    def perft(self, fen: str, depth: int) -> tuple[int, float]:
        """``(nodes, seconds)`` of ``go perft depth`` from ``fen``."""
        self._send(f"position fen {fen}")
        self._send("isready")
        self._wait("readyok")
        t = time.perf_counter()
        self._send(f"go perft {depth}")
        line = self._wait("Nodes searched")
        return int(line.split(":")[1]), time.perf_counter() - t

    def close(self) -> None:
        self._send("quit")
        self.proc.wait(timeout=10)


def _python_chess_perft(board: chess.Board, depth: int) -> int:
    if depth == 1:
        return board.legal_moves.count()
    total = 0
    for m in list(board.generate_legal_moves()):
        board.push(m)
        total += _python_chess_perft(board, depth - 1)
        board.pop()
    return total


def measure_perft(name: str, fen: str, depth: int, py_depth: int, stockfish: Stockfish | None) -> dict:
    s = cb.from_fen(fen)
    t = time.perf_counter()
    nodes = s.perft(depth)
    ours = time.perf_counter() - t
    row = {"depth": depth, "nodes": nodes, "ours_nps": nodes / ours}
    if stockfish is not None:
        sf_nodes, sf_seconds = stockfish.perft(fen, depth)
        assert sf_nodes == nodes, (name, sf_nodes, nodes)
        row["stockfish_nps"] = sf_nodes / sf_seconds
    board = chess.Board(fen)
    t = time.perf_counter()
    py_nodes = _python_chess_perft(board, py_depth)
    row["python_chess_nps"] = py_nodes / (time.perf_counter() - t)
    assert py_nodes == s.perft(py_depth)
    RESULTS.setdefault("perft", {})[name] = row
    return row


@pytest.fixture(scope="module")
def stockfish():
    if not shutil.which(STOCKFISH):
        pytest.skip("no stockfish at /usr/games/stockfish")
    sf = Stockfish()
    yield sf
    sf.close()


@pytest.mark.parametrize("name,fen,depth,py_depth", PERFT_POSITIONS, ids=[p[0] for p in PERFT_POSITIONS])
def test_perft_speed(benchmark, stockfish, name, fen, depth, py_depth):
    row = benchmark.pedantic(measure_perft, args=(name, fen, depth, py_depth, stockfish), rounds=1, iterations=1)
    benchmark.extra_info.update(row)
    assert row["ours_nps"] > 10 * row["python_chess_nps"]


# -------------------------------------------------------------------------------- perft command

CLI_PERFT = [("startpos", chess.STARTING_FEN, 6),
             ("kiwipete", "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", 5)]
CLI_RATIO = 2.0   # the claim: plytree perft (the whole command) within 2x of Stockfish's go perft


def measure_cli_perft(name: str, fen: str, depth: int, stockfish: Stockfish, rounds: int = 2) -> dict:
    """``python -m engine.cli perft --fen FEN DEPTH`` as a subprocess (wall time, Python start-up
    included) against Stockfish's ``go perft`` on the same position and depth, interleaved, the best of
    ``rounds`` each (the machine is shared: a descheduled process only adds time)."""
    root = Path(__file__).resolve().parents[1]
    cli_seconds = sf_seconds = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "engine.cli", "perft", "--fen", fen, str(depth)], cwd=root,
                             capture_output=True, text=True, timeout=600, check=True)
        cli_seconds = min(cli_seconds, time.perf_counter() - t)
        nodes = int(out.stdout.split("Nodes searched: ")[1].split()[0])
        sf_nodes, seconds = stockfish.perft(fen, depth)
        sf_seconds = min(sf_seconds, seconds)
        assert sf_nodes == nodes, (name, sf_nodes, nodes)
    row = {"depth": depth, "nodes": nodes, "cli_seconds": cli_seconds, "stockfish_seconds": sf_seconds,
           "ratio": cli_seconds / sf_seconds}
    RESULTS.setdefault("cli_perft", {})[name] = row
    return row


@pytest.mark.parametrize("name,fen,depth", CLI_PERFT, ids=[p[0] for p in CLI_PERFT])
def test_cli_perft_vs_stockfish(benchmark, stockfish, name, fen, depth):
    row = benchmark.pedantic(measure_cli_perft, args=(name, fen, depth, stockfish), rounds=1, iterations=1)
    benchmark.extra_info.update(row)
    assert row["ratio"] <= CLI_RATIO, row


# ------------------------------------------------------------------------------------------ search

def _bk_positions() -> list[tuple[str, str]]:
    out = []
    for line in (DATA / "chess" / "epd" / "bratko-kopec.epd").read_text().splitlines()[:4]:
        board, ops = chess.Board.from_epd(line)
        out.append((ops["id"], board.fen()))
    return out


def _walk_nps(board: chess.Board, seconds: float) -> float:
    """python-chess alone walking the position's tree (legal moves, push and pop at every node, no bulk
    counting: what a search must do per node), nodes per CPU second."""
    nodes, start, depth = 0, time.process_time(), 1
    while time.process_time() - start < seconds:
        nodes += walk(board, depth)
        depth += 1
    return nodes / (time.process_time() - start)


def measure_search(name: str, fen: str, seconds: float) -> dict:
    """The C searcher on the bitboard board and on python-chess states (converted at the root), beside
    python-chess walking the same tree; nodes per CPU second (the machine is shared: wall time would
    measure the other jobs), the table's first-touch page faults included."""
    row = {}
    for key, backend in (("ours", "cython"), ("converted", "python-chess")):
        game = games.load("chess", backend=backend)
        search = AlphaBeta(game, tt_bytes=64 << 20)
        cpu = time.process_time()
        r = search.run(game.deserialize(fen), Limit(time=seconds))
        row[f"{key}_nps"], row[f"{key}_depth"] = r.nodes / max(time.process_time() - cpu, 1e-6), r.depth
    row["baseline_nps"] = _walk_nps(chess.Board(fen), seconds)
    RESULTS.setdefault("search", {})[name] = row
    return row


SEARCH_RATIO = 5.0   # the claim: the C search visits 5x the nodes per CPU second python-chess can walk (10x measured)


@pytest.mark.parametrize("name,fen", _bk_positions(), ids=[p[0] for p in _bk_positions()])
def test_search_speed(benchmark, name, fen):
    row = benchmark.pedantic(measure_search, args=(name, fen, SEARCH_SECONDS), rounds=1, iterations=1)
    benchmark.extra_info.update(row)
    # BK.01 is a mate found in a few ms, where the driver's fixed costs weigh: a quarter of the claim
    ratio = SEARCH_RATIO / 4 if row["ours_depth"] < 8 else SEARCH_RATIO
    assert row["ours_nps"] > ratio * row["baseline_nps"], row
    assert row["converted_nps"] > 0.5 * row["ours_nps"], row   # converting the root costs nothing per node


def measure_limits(trials: int = 3) -> dict:
    """Time limit and stop latency of the C chess searcher, with a 16 MB and a 2,000 MB table: the best
    of ``trials`` (the machine is shared: a descheduled process only ever adds time)."""
    g = games.load("chess")
    s = g.deserialize("r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N1PN2/PP1B1PPP/R2QKB1R w KQ - 0 8")
    row: dict[str, float] = {}
    for mb in (16, 2000):
        for _ in range(trials):
            t = time.perf_counter()
            search = AlphaBeta(g, tt_bytes=mb << 20)   # allocation, as setoption Hash
            search.reset()                             # and clearing, as ucinewgame
            alloc = time.perf_counter() - t
            t = time.perf_counter()
            r = search.run(s, Limit(time=0.25))
            timed = time.perf_counter() - t
            assert r.stop_reason == "time"
            out: list = []
            th = threading.Thread(target=lambda: out.append(search.run(s, Limit(infinite=True))))
            th.start()
            time.sleep(0.5)
            t = time.perf_counter()
            search.stop()
            th.join()
            stop = time.perf_counter() - t
            assert out[0].stop_reason == "stopped"
            for key, value in ((f"alloc_{mb}", alloc), (f"time_{mb}", timed), (f"stop_{mb}", stop)):
                row[key] = min(row.get(key, float("inf")), value)
            del search
    RESULTS["limits"] = row
    return row


def test_limits_and_hash(benchmark):
    """Limit(time=0.25) ends within 0.25-0.4 s; stop() answers within 0.1 s; a 2,000 MB table costs
    under 0.1 s to allocate and clear (issue 14: 1.5-4.4 s before), and stop latency does not grow with it
    (best of three each)."""
    row = benchmark.pedantic(measure_limits, rounds=1, iterations=1)
    benchmark.extra_info.update(row)
    for mb in (16, 2000):
        assert 0.25 <= row[f"time_{mb}"] < 0.4, row
        assert row[f"stop_{mb}"] < 0.1, row
        assert row[f"alloc_{mb}"] < 0.1, row


def wac(searcher: str, count: int, seconds: float) -> tuple[int, int]:
    """Win At Chess: ``(solved, tried)`` for the first ``count`` positions at ``seconds`` each.

    Args:
        searcher: "ours" (the bitboard board) or "python-chess" (python-chess states, converted to
            the bitboard board and searched by the same C searcher).
    """
    backend = "cython" if searcher == "ours" else "python-chess"
    game = games.load("chess", backend=backend)
    search = AlphaBeta(game, tt_bytes=64 << 20)
    solved = tried = 0
    for line in (DATA / "chess" / "epd" / "wac.epd").read_text().splitlines()[:count]:
        board, ops = chess.Board.from_epd(line)
        state = game.state_from_board(board)
        best = {state.string_to_action(board.san(m)) for m in ops["bm"]}
        search.reset()
        solved += search.run(state, Limit(time=seconds)).best_action in best
        tried += 1
    RESULTS.setdefault("wac", {})[f"{searcher} {seconds:g}s"] = (solved, tried)
    return solved, tried


WAC_SAMPLE_FLOOR = 27   # of the first 30 at 0.5 s: 29 when written (95/100 on the first 100), 2 for noise


def test_wac_sample(benchmark):
    solved, tried = benchmark.pedantic(wac, args=("ours", 30, 0.5), rounds=1, iterations=1)
    converted, _ = wac("python-chess", 30, 0.5)
    benchmark.extra_info.update({"ours": solved, "python_chess_states": converted, "tried": tried})
    assert solved >= WAC_SAMPLE_FLOOR and converted >= WAC_SAMPLE_FLOOR, (solved, converted)


def print_tables() -> None:
    perft = RESULTS.get("perft", {})
    if perft:
        print("\n| position | depth | nodes | ours Mnps | Stockfish Mnps | Stockfish / ours | python-chess knps | ours / python-chess |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in perft.items():
            sf = r.get("stockfish_nps", float("nan"))
            print(f"| {name} | {r['depth']} | {r['nodes']:,} | {r['ours_nps'] / 1e6:.1f} | {sf / 1e6:.1f} | "
                  f"{sf / r['ours_nps']:.2f} | {r['python_chess_nps'] / 1e3:.0f} | {r['ours_nps'] / r['python_chess_nps']:.0f} |")
    cli = RESULTS.get("cli_perft", {})
    if cli:
        print("\n| position | depth | nodes | plytree perft s (whole command) | Stockfish go perft s | ratio |")
        print("|---|---|---|---|---|---|")
        for name, r in cli.items():
            print(f"| {name} | {r['depth']} | {r['nodes']:,} | {r['cli_seconds']:.2f} | {r['stockfish_seconds']:.2f} | "
                  f"{r['ratio']:.2f} |")
    search = RESULTS.get("search", {})
    if search:
        print("\n| position | ours knps per CPU s (depth) | python-chess states knps (depth) | python-chess walk knps | ours / walk |")
        print("|---|---|---|---|---|")
        for name, r in search.items():
            print(f"| {name} | {r['ours_nps'] / 1e3:.0f} ({r['ours_depth']}) | {r['converted_nps'] / 1e3:.0f} "
                  f"({r['converted_depth']}) | {r['baseline_nps'] / 1e3:.1f} | {r['ours_nps'] / max(r['baseline_nps'], 1):.0f} |")
    if "limits" in RESULTS:
        print("\nlimits: " + ", ".join(f"{k} {v:.3f} s" for k, v in RESULTS["limits"].items()))
    for key, (solved, tried) in RESULTS.get("wac", {}).items():
        print(f"WAC {key}: {solved}/{tried}")


def test_print_tables():
    print_tables()


if __name__ == "__main__":
    sf = Stockfish() if shutil.which(STOCKFISH) else None
    for name, fen, depth, py_depth in PERFT_POSITIONS:
        measure_perft(name, fen, depth, py_depth, sf)
    if sf is not None:
        for name, fen, depth in CLI_PERFT:
            measure_cli_perft(name, fen, depth, sf)
        sf.close()
    measure_limits()
    for name, fen in _bk_positions():
        measure_search(name, fen, SEARCH_SECONDS)
    if "--wac" in sys.argv:
        wac("ours", 300, 1.0)
        wac("python-chess", 300, 1.0)
    print_tables()
