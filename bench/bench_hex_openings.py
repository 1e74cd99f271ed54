"""Hex judgement: does MCTS on a network name the right winner of each solved opening?

For each opening of ``shared/data/hex/hex_openings_solved.csv`` (black's first move, white to move,
winner published by benzene), a fresh search from the position after the first move; the search
names white the winner when its root value for white (the player to move) is positive. Modes:

* ``net``: ``mcts.MCTS`` on the network (``OnnxEvaluator``), N simulations.
* ``net+leaves``: the same with ``mcts.SolverEvaluator`` wrapping the network (leaves the Hex
  solver proves within ``--leaf-nodes`` positions get their exact value).
* ``player``: the engine's Hex MCTS player (``engine/_hex_proof_player.py``, as a ``kind=mcts`` spec
  builds it): the solver at the root for ``--root-time`` seconds first (a proof is the verdict),
  else MCTS with solver leaves (one table shared by root and leaves).

Each search gets a fresh evaluator and a fresh solver table, so no opening profits from another.

Run as pytest-benchmark (the shipped 7x7 net, 200 simulations, net and net+leaves):
    pytest bench/bench_hex_openings.py --benchmark-enable -p no:cacheprovider -s
Or as a script:
    python bench/bench_hex_openings.py --simulations 200 800 --modes net net+leaves [--model FILE]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
MODES = ("net", "net+leaves", "player")


def solved_openings(board: str = "7x7") -> list[tuple[str, int]]:
    """``(black's first move, +1 if white wins else -1)`` of each published opening of ``board``."""
    lines = [l for l in (DATA / "hex" / "hex_openings_solved.csv").read_text().splitlines() if not l.startswith("#")]
    return [(r["first_move_black"], 1 if r["winner"] == "white" else -1)
            for r in csv.DictReader(lines) if r["board"] == board]


def _judge(game: Any, model: str, cell: str, mode: str, simulations: int, leaf_nodes: int,
           root_time: float) -> tuple[float, bool]:
    """Root value for white after black's ``cell``, and whether it came from a proof."""
    import mcts
    import models
    from engine._hex_proof_player import hex_mcts_player

    state = game.deserialize(cell)
    evaluator: Any = models.OnnxEvaluator(model, game=game, intra_op_threads=1)
    limit = mcts.Limit(simulations=simulations)
    if mode == "player":   # the engine's player, built as a spec builds it (a fresh solver table)
        options = {"solver_time": root_time, "solver_nodes": leaf_nodes}
        player = hex_mcts_player(options, game, evaluator, name="player", limit=limit)
        result = player.choose(state, limit).result
    else:
        if mode == "net+leaves":
            evaluator = mcts.SolverEvaluator(evaluator, max_nodes=leaf_nodes)
        result = mcts.MCTS(game, evaluator, seed=0).run(state, limit)
    assert result is not None
    return float(result.value), bool(result.is_proven)


def judge_openings(model: str, *, board: str = "7x7", simulations: int = 200, mode: str = "net",
                   leaf_nodes: int = 64, root_time: float = 1.0, only: Optional[set[str]] = None) -> dict[str, Any]:
    """Scores ``mode`` on every solved opening of ``board``.

    Returns:
        ``{"right", "total", "proven", "wrong": [cells], "seconds", "rows": [...]}``.

    Raises:
        ValueError: unknown mode, or a board without solved openings.
    """
    import games

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    items = [(c, w) for c, w in solved_openings(board) if only is None or c in only]
    if not items:
        raise ValueError(f"no solved openings for board {board!r}")
    game = games.load("hex", board_size=int(board.split("x")[0]))
    rows = []
    start = time.perf_counter()
    for cell, winner in items:
        t0 = time.perf_counter()
        value, proven = _judge(game, model, cell, mode, simulations, leaf_nodes, root_time)
        rows.append({"opening": cell, "winner": winner, "value": round(value, 4), "proven": proven,
                     "right": (value > 0) == (winner > 0) and value != 0, "seconds": round(time.perf_counter() - t0, 3)})
    return {"board": board, "mode": mode, "simulations": simulations, "model": str(model),
            "right": sum(r["right"] for r in rows), "total": len(rows), "proven": sum(r["proven"] for r in rows),
            "wrong": [r["opening"] for r in rows if not r["right"]], "seconds": round(time.perf_counter() - start, 1),
            "load": round(os.getloadavg()[0], 2), "rows": rows}


def _shipped() -> str:
    import models

    model = models.shipped_model("hex", board_size=7)
    assert model is not None, "no shipped Hex 7x7 model"
    return model


def test_hex_openings_net(benchmark: Any) -> None:
    """MCTS-200 on the shipped 7x7 net: 49 of 49 measured (stage 2 of models/zoo/hex7.md: 41; the
    self-play network before the solver proofs: 35, the 71% of the issue)."""
    out: dict[str, Any] = {}
    benchmark.pedantic(lambda: out.update(judge_openings(_shipped(), simulations=200)), rounds=1, iterations=1)
    print(f"\nhex 7x7 openings, MCTS-200 on the net: {out['right']}/{out['total']} right; wrong: {' '.join(out['wrong'])}")
    assert out["right"] >= 47


def test_hex_openings_player(benchmark: Any) -> None:
    """The engine's player (root solver 1 s, then MCTS-200 with solver leaves): proofs are never wrong,
    and it names at least 47 winners (49 of 49 measured; with stage 2 of models/zoo/hex7.md: 47)."""
    out: dict[str, Any] = {}
    benchmark.pedantic(lambda: out.update(judge_openings(_shipped(), simulations=200, mode="player")),
                       rounds=1, iterations=1)
    print(f"\nhex 7x7 openings, root solver 1 s + MCTS-200 with solver leaves: {out['right']}/{out['total']} right, "
          f"{out['proven']} proven; wrong: {' '.join(out['wrong'])}")
    assert all(r["right"] for r in out["rows"] if r["proven"])
    assert out["right"] >= 47


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="ONNX network (default: the shipped hex7.onnx)")
    p.add_argument("--board", default="7x7")
    p.add_argument("--simulations", type=int, nargs="+", default=[200, 800])
    p.add_argument("--modes", nargs="+", choices=MODES, default=["net", "net+leaves"])
    p.add_argument("--leaf-nodes", type=int, default=64, help="solver positions per MCTS leaf (default 64)")
    p.add_argument("--root-time", type=float, default=1.0, help="player mode: solver seconds at the root (default 1)")
    p.add_argument("--only", default=None, help="comma-separated openings")
    p.add_argument("--json", default=None, help="write the full results here")
    args = p.parse_args(argv)
    model = args.model or _shipped()
    only = set(args.only.split(",")) if args.only else None
    results = []
    for mode in args.modes:
        for sims in args.simulations:
            out = judge_openings(model, board=args.board, simulations=sims, mode=mode, leaf_nodes=args.leaf_nodes,
                                 root_time=args.root_time, only=only)
            results.append(out)
            print(f"{args.board} {mode:>10} MCTS-{sims:<5}: {out['right']:>2}/{out['total']} right "
                  f"({100 * out['right'] / out['total']:.0f}%), {out['proven']} proven, {out['seconds']:.0f} s "
                  f"(load {out['load']}); wrong: {' '.join(out['wrong']) or '-'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
