"""The learned chess evaluation (``models/zoo/chess_nnue.onnx``) against the hand-written one, in the C
alpha-beta: speed, play and tactics, each pair measured in the same run.

Run the tables: ``python bench/bench_nnue.py [--net FILE] [--nodes N] [--games N] [--move-time S]
[--wac N] [--wac-time S] [--skip ...]``; or ``pytest bench/bench_nnue.py -p no:cacheprovider -s`` for
the speed claim alone. The machine may be shared: compare the ratios and scores within one run.

* Speed: ``ChessAlphaBeta`` with each evaluation on the 24 Bratko-Kopec positions, a fixed node
  budget each (iterative deepening until it runs out), the two evaluations alternating position by
  position; nodes per second of each and their ratio (the claim: at least 0.5x).
* Play: the two evaluations play each other from ``chessathome_openings.fen`` (the first N/2
  openings, each twice with colours swapped), a fixed time or node budget per move; a game ends by
  the rules, by adjudication (both searchers agree a side is 1,000 cp up for 4 plies in a row), or
  as a draw after 200 plies. Score, Elo and its 95% interval (normal approximation over games).
* Tactics: the first N positions of Win At Chess, a fixed time each, best move in the ``bm`` set.
* Held-out (``--heldout DIR ...``): the networks' (``--net`` and ``--compare``) cross-entropy, squared
  error and centipawn error on the held-out tail (the last 5%) of each shard directory, through
  onnxruntime (``models.chess_nnue.evaluation_metrics``).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Optional

import chess
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import games  # noqa: E402
from games.chessboard import from_fen  # noqa: E402
from mcts import AlphaBeta, Limit  # noqa: E402
from mcts._chess_ab import ChessAlphaBeta  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "chess" / "epd"
NET = ROOT / "models" / "zoo" / "chess_nnue.onnx"


def epd_positions(name: str, data: Path = DATA) -> list[tuple[chess.Board, dict]]:
    """(board, operations) of each line of an EPD file in the shared data."""
    out = []
    for line in (data / name).read_text().splitlines():
        if line.strip():
            out.append(chess.Board.from_epd(line))
    return out


def speed(net: str, nodes: int, data: Path = DATA) -> dict:
    """Nodes per second of the hand-written and the learned evaluation (see the module docstring)."""
    game = games.load("chess")
    searchers = {"hand-written": ChessAlphaBeta(game), "network": ChessAlphaBeta(game, eval_file=net)}
    totals = {k: [0, 0.0, 0] for k in searchers}
    for board, _ in epd_positions("bratko-kopec.epd", data):
        state = from_fen(board.fen(), game)
        for name, ab in searchers.items():
            ab.reset()
            ab.begin(state, node_limit=nodes)
            start = time.perf_counter()
            depth = 0
            for d in range(1, ab.max_depth):
                if ab.search(d, -1_000_001, 1_000_001)[1]:
                    break
                depth = d
            totals[name][0] += ab.nodes
            totals[name][1] += time.perf_counter() - start
            totals[name][2] += depth
    n = len(epd_positions("bratko-kopec.epd", data))
    out = {k: {"nodes_per_s": round(v[0] / v[1]), "mean_depth": round(v[2] / n, 1)} for k, v in totals.items()}
    out["ratio"] = round(out["network"]["nodes_per_s"] / out["hand-written"]["nodes_per_s"], 3)
    return out


def elo_interval(scores: list[float]) -> tuple[float, float, float]:
    """Elo of a mean score and its 95% interval (normal approximation over the games)."""
    def elo(s: float) -> float:
        s = min(max(s, 1e-3), 1 - 1e-3)
        return -400.0 * math.log10(1.0 / s - 1.0)

    n = len(scores)
    mean = sum(scores) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / max(1, n - 1))
    half = 1.96 * sd / math.sqrt(n)
    return elo(mean), elo(mean - half), elo(mean + half)


def match(net: str, games_count: int, *, move_time: Optional[float], nodes: Optional[int], data: Path = DATA,
          max_plies: int = 200) -> dict:
    """The network (as White in even games) against the hand-written evaluation."""
    game = games.load("chess")
    players = {"network": AlphaBeta(game, eval_file=net), "hand-written": AlphaBeta(game, eval_file=None)}
    limit = Limit(time=move_time) if move_time else Limit(nodes=nodes)
    fens = [line.strip() for line in (data / "chessathome_openings.fen").read_text().splitlines() if line.strip()]
    scores, record = [], {"wins": 0, "draws": 0, "losses": 0}
    for g in range(games_count):
        state = game.deserialize(fens[g // 2])
        white = "network" if g % 2 == 0 else "hand-written"
        for p in players.values():
            p.reset()
        net_colour = 0 if white == "network" else 1
        ahead = {0: 0, 1: 0}
        result = None
        for ply in range(max_plies):
            if state.is_terminal():
                result = state.returns()[net_colour]
                break
            mover = state.current_player()
            name = white if mover == 0 else ("hand-written" if white == "network" else "network")
            r = players[name].run(state, limit)
            # adjudication: plies in a row in which the searcher to move saw a side 1,000 cp up
            for side in (0, 1):
                ahead[side] = ahead[side] + 1 if (r.score >= 1000 if side == mover else r.score <= -1000) else 0
            state.apply_action(r.best_action)
            if ahead[0] >= 4 or ahead[1] >= 4:
                winner = 0 if ahead[0] >= 4 else 1
                result = 1.0 if winner == net_colour else -1.0
                break
        if result is None:
            result = state.returns()[net_colour] if state.is_terminal() else 0.0
        s = (result + 1) / 2
        scores.append(s)
        record["wins" if s == 1 else ("draws" if s == 0.5 else "losses")] += 1
        print(f"  game {g + 1}/{games_count}: network {'white' if net_colour == 0 else 'black'} scores {s}",
              file=sys.stderr, flush=True)
    elo, lo, hi = elo_interval(scores)
    return {**record, "games": games_count, "score": round(sum(scores) / len(scores), 3), "elo": round(elo),
            "elo_95": [round(lo), round(hi)], "limit": f"{move_time} s/move" if move_time else f"{nodes} nodes/move"}


def wac(net: Optional[str], count: int, seconds: float, data: Path = DATA, suite: str = "wac.epd") -> dict:
    """Positions of an EPD test suite solved (the first ``count``), ``seconds`` each.

    A position is solved when the best move is one of its ``bm`` moves and none of its ``am`` moves.
    """
    game = games.load("chess")
    ab = AlphaBeta(game, eval_file=net)
    solved = 0
    positions = epd_positions(suite, data)[:count]
    for board, ops in positions:
        ab.reset()
        state = game.deserialize(board.fen())
        r = ab.run(state, Limit(time=seconds))
        move = chess.Move.from_uci(state.action_to_string(r.best_action))
        if ("bm" not in ops or move in ops["bm"]) and move not in ops.get("am", ()):
            solved += 1
    return {"suite": suite, "solved": solved, "positions": len(positions), "seconds_each": seconds}


def heldout(nets: list[str], dirs: list[str], result_weight: float = 0.1) -> dict:
    """Held-out metrics of each network on the last 5% of each shard directory (see the docstring)."""
    from models.chess_data import dense_features, read_shards
    from models.chess_nnue import evaluation_metrics, split_holdout
    from models.chess_nnue_evaluator import ChessNNUEEvaluator

    out: dict = {}
    for d in dirs:
        _, held = split_holdout(read_shards(d))
        own, other = dense_features(held["board"], held["stm"])
        for net in nets:
            session = ChessNNUEEvaluator(net, cache_size=0)._session
            values = np.concatenate([session.run(["value"], {"features_own": own[i:i + 8192],
                                                             "features_other": other[i:i + 8192]})[0]
                                     for i in range(0, len(own), 8192)])
            out[f"{Path(net).name} @ {d} ({len(own)})"] = evaluation_metrics((values + 1.0) / 2.0, held["score"],
                                                                              held["result"], result_weight)
    return out


def test_nnue_speed_ratio():
    """The network's search keeps at least 0.5x the hand-written evaluation's nodes per second
    (asserted with a margin: 0.4x, the machine is shared)."""
    if not NET.is_file() or not (DATA / "bratko-kopec.epd").is_file():
        raise FileNotFoundError(f"needs {NET} and {DATA / 'bratko-kopec.epd'}")
    out = speed(str(NET), 100_000)
    print(out)
    assert out["ratio"] >= 0.4, out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--net", default=str(NET), help="the network's ONNX file (default models/zoo/chess_nnue.onnx)")
    p.add_argument("--data", default=str(DATA), help="the shared chess EPD directory")
    p.add_argument("--nodes", type=int, default=200_000, help="speed: nodes per position (default 200000)")
    p.add_argument("--games", type=int, default=40, help="match games (default 40)")
    p.add_argument("--move-time", type=float, default=0.1, help="match: seconds per move (default 0.1; 0: --match-nodes)")
    p.add_argument("--match-nodes", type=int, default=20_000, help="match: nodes per move when --move-time is 0")
    p.add_argument("--wac", type=int, default=60, help="WAC positions (the first N; default 60); the whole Bratko-Kopec set runs too")
    p.add_argument("--wac-time", type=float, default=1.0, help="WAC seconds per position (default 1)")
    p.add_argument("--skip", nargs="*", default=[], choices=("speed", "match", "wac"))
    p.add_argument("--heldout", nargs="*", default=[], metavar="DIR",
                   help="only the held-out metrics of --net (and --compare) on these shard directories")
    p.add_argument("--compare", nargs="*", default=[], metavar="FILE", help="more networks for --heldout")
    args = p.parse_args(argv)
    data = Path(args.data)
    if args.heldout:
        for k, v in heldout([args.net, *args.compare], args.heldout).items():
            print("heldout", k, v, flush=True)
        return 0
    if "speed" not in args.skip:
        print("speed", speed(args.net, args.nodes, data), flush=True)
    if "match" not in args.skip:
        print("match", match(args.net, args.games, move_time=args.move_time or None, nodes=args.match_nodes, data=data),
              flush=True)
    if "wac" not in args.skip:
        print("wac hand-written", wac(None, args.wac, args.wac_time, data), flush=True)
        print("wac network", wac(args.net, args.wac, args.wac_time, data), flush=True)
        for name, net in (("hand-written", None), ("network", args.net)):
            print("bratko-kopec", name, wac(net, 10**6, args.wac_time, data, suite="bratko-kopec.epd"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
