"""Strength of the shipped networks, measured against exact answers and against a baseline search.

Connect Four: the share of the positions of ``shared/data/connect4/Test_L2_R1`` (1,000 middle-game
positions with exact scores) where (a) the network's policy move alone and (b) MCTS with 800
simulations on the network keeps the game-theoretic value (win stays win, draw stays draw; each
move checked with the exact solver). Baseline in the same run: the policy move and MCTS with random
rollouts at the same simulations. Hex 7x7: the win rate of MCTS on the network against MCTS with
random rollouts at equal simulations.

Run as pytest-benchmark (a subset, for a 2-core machine):
    pytest bench/bench_strength.py --benchmark-enable -p no:cacheprovider -s
Or as a script (the full set, processes in parallel):
    python bench/bench_strength.py connect4 --positions 1000 --simulations 800 --workers 2
Connect Four on every solver-made set (``engine/data/c4_<phase>_<level>.txt``, see
``engine._c4_testsets``) and both Pons sets, one Markdown table:
    python bench/bench_strength.py connect4 --all-sets --simulations 800 --json c4_sets.json
    python bench/bench_strength.py hex --games 40 --simulations 200 [--model NEW.onnx --against OLD.onnx]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
TEST_L2 = DATA / "connect4" / "Test_L2_R1"
TEST_L3 = DATA / "connect4" / "Test_L3_R1"


def _rollout_baseline(positions: list[tuple[str, int]], simulations: int) -> float:
    """Share of positions where MCTS with random rollouts keeps the value (same metric)."""
    import games
    import mcts

    game = games.load("connect4")
    solver = mcts.Connect4Solver()
    ok = 0
    for moves, score in positions:
        want = (score > 0) - (score < 0)
        per_move = solver.analyze(moves, weak=True)
        res = mcts.MCTS(game, mcts.RolloutEvaluator(seed=0), seed=0).run(game.deserialize(moves),
                                                                        mcts.Limit(simulations=simulations))
        ok += per_move[res.best_action] == want
    return ok / max(1, len(positions))


def test_connect4_strength(benchmark: Any) -> None:
    """Shipped Connect Four net on the first 60 positions of Test_L2_R1, 800 simulations."""
    import models
    from engine.learn import connect4_strength, read_connect4_positions

    model = models.shipped_model("connect4")
    assert model is not None, "no shipped Connect Four model"
    positions = read_connect4_positions(TEST_L2, limit=60)
    out: dict[str, Any] = {}

    def measure() -> None:
        out.update(connect4_strength(model, positions, simulations=800))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    base = _rollout_baseline(positions, 800)
    print(f"\nconnect4 ({len(positions)} positions of Test_L2_R1): policy {out['policy']:.3f}, "
          f"MCTS-800 on the net {out['search']:.3f}, MCTS-800 random rollouts (baseline) {base:.3f}; "
          f"over won/drawn positions ({out['not_lost']}): policy {out['policy_not_lost']:.3f}, "
          f"search {out['search_not_lost']:.3f}")
    assert out["search"] >= base


def test_hex_strength(benchmark: Any) -> None:
    """Shipped Hex 7x7 net under MCTS against MCTS with random rollouts, 200 simulations, 10 games."""
    import models
    from engine.learn import hex_strength

    model = models.shipped_model("hex", board_size=7)
    assert model is not None, "no shipped Hex 7x7 model"
    out: dict[str, Any] = {}

    def measure() -> None:
        out.update(hex_strength(model, games_count=10, simulations=200))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\nhex 7x7, MCTS-200 net vs MCTS-200 rollouts: +{out['wins']} ={out['draws']} -{out['losses']} "
          f"score {out['score']:.2f}")


def _all_connect4_sets(model: str, limit: int, simulations: int, workers: int) -> dict[str, Any]:
    """Policy alone and MCTS on every solver-made set and both Pons sets; prints a Markdown table."""
    from engine._c4_testsets import set_paths
    from engine.learn import connect4_strength, read_connect4_positions

    sets: dict[str, Any] = {}
    print("| set | positions | policy alone | MCTS-%d |\n| --- | --- | --- | --- |" % simulations, flush=True)
    for path in [*set_paths(), TEST_L2, TEST_L3]:
        positions = read_connect4_positions(path, limit=limit)
        res = connect4_strength(model, positions, simulations=simulations, workers=workers)
        res.pop("rows")
        name = path.stem if path.suffix == ".txt" else path.name
        sets[name] = res
        search = "-" if res["search"] is None else f"{100 * res['search']:.1f}%"
        print(f"| {name} | {res['positions']} | {100 * res['policy']:.1f}% | {search} |", flush=True)
    return {"model": model, "simulations": simulations, "sets": sets}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("game", choices=("connect4", "hex"))
    p.add_argument("--model", default=None, help="ONNX file (default: the shipped model)")
    p.add_argument("--data", default=str(TEST_L2),
                   help="Connect Four test file: a Pons file or a solver-made set (default Test_L2_R1)")
    p.add_argument("--all-sets", action="store_true",
                   help="connect4: every solver-made set of engine/data and both Pons sets (ignores --data)")
    p.add_argument("--positions", type=int, default=1000)
    p.add_argument("--simulations", type=int, default=None, help="default 800 (connect4), 200 (hex)")
    p.add_argument("--games", type=int, default=40, help="Hex match games")
    p.add_argument("--board-size", type=int, default=7, help="Hex board size (default 7)")
    p.add_argument("--against", default=None, help="Hex: the opponent's ONNX network (default: random rollouts)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--baseline", action="store_true", help="also MCTS with random rollouts (connect4)")
    p.add_argument("--json", default=None, help="write the result here")
    args = p.parse_args(argv)
    import models
    from engine.learn import connect4_strength, hex_strength, read_connect4_positions

    t0 = time.perf_counter()
    if args.game == "connect4" and args.all_sets:
        out = _all_connect4_sets(args.model or str(models.shipped_model("connect4")), args.positions,
                                 800 if args.simulations is None else args.simulations, args.workers)
    elif args.game == "connect4":
        model = args.model or models.shipped_model("connect4")
        positions = read_connect4_positions(args.data, limit=args.positions)
        sims = 800 if args.simulations is None else args.simulations
        out = connect4_strength(model, positions, simulations=sims, workers=args.workers)
        rows = out.pop("rows")
        out["wrong_policy"] = [r["moves"] for r in rows if not r["policy_ok"]][:50]
        if args.baseline:
            out["rollout_search"] = _rollout_baseline(positions, sims)
        out.update(simulations=sims, model=str(model))
    else:
        model = args.model or models.shipped_model("hex", board_size=args.board_size)
        sims = 200 if args.simulations is None else args.simulations
        out = hex_strength(model, board_size=args.board_size, games_count=args.games, simulations=sims,
                           opponent=args.against)
        out.update(simulations=sims, model=str(model), opponent=str(args.against or "random rollouts"))
    out["seconds"] = time.perf_counter() - t0
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
