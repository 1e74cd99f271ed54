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
* Alpha-beta nodes per second on four middlegame positions (Bratko-Kopec 1-4) for 1 s each:
  ``mcts._chess_ab.ChessAlphaBeta`` against the python-chess searcher that ``mcts.AlphaBeta`` runs
  for ``games.load("chess", backend="python-chess")``.
* Win At Chess at a fixed time a position, both searchers (``--wac``; a sample of 30 at 0.5 s in the
  pytest run).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import chess
import pytest

import games
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


# ------------------------------------------------------------------------------------------ search

def _bk_positions() -> list[tuple[str, str]]:
    out = []
    for line in (DATA / "chess" / "epd" / "bratko-kopec.epd").read_text().splitlines()[:4]:
        board, ops = chess.Board.from_epd(line)
        out.append((ops["id"], board.fen()))
    return out


def measure_search(name: str, fen: str, seconds: float) -> dict:
    fast_game = games.load("chess")
    ref_game = games.load("chess", backend="python-chess")
    ours = AlphaBeta(fast_game, tt_bytes=64 << 20)  # the C searcher on the bitboard board
    r = ours.run(fast_game.deserialize(fen), Limit(time=seconds))
    ref = AlphaBeta(ref_game, tt_bytes=64 << 20)
    rr = ref.run(ref_game.deserialize(fen), Limit(time=seconds))
    row = {"ours_nps": r.nps, "ours_depth": r.depth, "baseline_nps": rr.nps, "baseline_depth": rr.depth}
    RESULTS.setdefault("search", {})[name] = row
    return row


@pytest.mark.parametrize("name,fen", _bk_positions(), ids=[p[0] for p in _bk_positions()])
def test_search_speed(benchmark, name, fen):
    row = benchmark.pedantic(measure_search, args=(name, fen, SEARCH_SECONDS), rounds=1, iterations=1)
    benchmark.extra_info.update(row)
    assert row["ours_nps"] > row["baseline_nps"]


def wac(searcher: str, count: int, seconds: float) -> tuple[int, int]:
    """Win At Chess: ``(solved, tried)`` for the first ``count`` positions at ``seconds`` each.

    Args:
        searcher: "ours" (ChessAlphaBeta on the bitboard board) or "python-chess" (mcts.AlphaBeta on the
            python-chess adapter).
    """
    backend = "cython" if searcher == "ours" else "python-chess"
    game = games.load("chess", backend=backend)
    search = AlphaBeta(game, tt_bytes=64 << 20)  # dispatches to the C searcher on the bitboard board
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


def test_wac_sample(benchmark):
    solved, tried = benchmark.pedantic(wac, args=("ours", 30, 0.5), rounds=1, iterations=1)
    base, _ = wac("python-chess", 30, 0.5)
    benchmark.extra_info.update({"ours": solved, "python_chess": base, "tried": tried})
    assert solved >= base


def print_tables() -> None:
    perft = RESULTS.get("perft", {})
    if perft:
        print("\n| position | depth | nodes | ours Mnps | Stockfish Mnps | Stockfish / ours | python-chess knps | ours / python-chess |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in perft.items():
            sf = r.get("stockfish_nps", float("nan"))
            print(f"| {name} | {r['depth']} | {r['nodes']:,} | {r['ours_nps'] / 1e6:.1f} | {sf / 1e6:.1f} | "
                  f"{sf / r['ours_nps']:.2f} | {r['python_chess_nps'] / 1e3:.0f} | {r['ours_nps'] / r['python_chess_nps']:.0f} |")
    search = RESULTS.get("search", {})
    if search:
        print("\n| position | ours knps (depth) | python-chess searcher knps (depth) | ratio |")
        print("|---|---|---|---|")
        for name, r in search.items():
            print(f"| {name} | {r['ours_nps'] / 1e3:.0f} ({r['ours_depth']}) | {r['baseline_nps'] / 1e3:.1f} "
                  f"({r['baseline_depth']}) | {r['ours_nps'] / max(r['baseline_nps'], 1):.0f} |")
    for key, (solved, tried) in RESULTS.get("wac", {}).items():
        print(f"WAC {key}: {solved}/{tried}")


def test_print_tables():
    print_tables()


if __name__ == "__main__":
    sf = Stockfish() if shutil.which(STOCKFISH) else None
    for name, fen, depth, py_depth in PERFT_POSITIONS:
        measure_perft(name, fen, depth, py_depth, sf)
    if sf is not None:
        sf.close()
    for name, fen in _bk_positions():
        measure_search(name, fen, SEARCH_SECONDS)
    if "--wac" in sys.argv:
        wac("ours", 300, 1.0)
        wac("python-chess", 300, 1.0)
    print_tables()
