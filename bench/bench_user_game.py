"""A user's own game: random playouts and MCTS simulations per second of misère Nim written in pure
Python (``examples/nim/nim_py.py``), in Cython against the C game interface (``examples/nim/nim_c.pyx``)
and OpenSpiel's ``nim`` through the adapter (``games.load("openspiel:nim")``), in one run.

Run: ``PYTHONPATH=. pytest bench/bench_user_game.py --benchmark-enable -p no:cacheprovider -s``
(it builds ``nim_c`` first, about 10 s); the last test prints the table and checks the claim of
docs/games.md that the Cython game plays out at least 10 times as fast as the Python one (measured: ~40x).
"""
from __future__ import annotations

import importlib.util
import random
import shutil
from pathlib import Path
from typing import Callable

import pytest

from _timing import best_round_seconds

import games
import mcts
from examples.nim import nim_py
from examples.nim.build import build

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nim"
PLAYOUTS = {"python": 2_000, "openspiel adapter": 300, "cython per call": 20_000, "cython C loop": 100_000}
SIMULATIONS = {"python": 3_000, "openspiel adapter": 500, "cython per call": 30_000, "cython C loop": 30_000}
PER_PLAYOUT: dict[str, float] = {}
PER_SIMULATION: dict[str, float] = {}


@pytest.fixture(scope="module")
def nim_c(tmp_path_factory):
    where = tmp_path_factory.mktemp("nim_c")
    shutil.copy(EXAMPLE / "nim_c.pyx", where / "nim_c.pyx")
    build(str(where))
    spec = importlib.util.spec_from_file_location("nim_c", next(where.glob("nim_c*.so")))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _game(kind: str, nim_c):
    if kind == "python":
        return nim_py.NimGame()
    if kind == "openspiel adapter":
        return games.load("openspiel:nim")
    return nim_c.NimCGame()


def _playouts(kind: str, nim_c, n: int) -> Callable[[], object]:
    s = _game(kind, nim_c).new_initial_state()
    if kind == "cython C loop":
        return lambda: s.random_rollouts(n, seed=1)
    if kind == "cython per call":
        return lambda: [s.random_rollout(i) for i in range(n)]
    rng = random.Random(1)

    def run() -> None:
        for _ in range(n):
            c = s.clone()
            while not c.is_terminal():
                c.apply_action(rng.choice(c.legal_actions()))
    return run


@pytest.mark.parametrize("kind", list(PLAYOUTS))
def test_playouts(benchmark, nim_c, kind):
    n = PLAYOUTS[kind]
    PER_PLAYOUT[kind] = best_round_seconds(benchmark, _playouts(kind, nim_c, n), rounds=5) / n


@pytest.mark.parametrize("kind", ["python", "openspiel adapter", "cython C loop"])
def test_mcts_simulations(benchmark, nim_c, kind):
    game = _game(kind, nim_c)
    n = SIMULATIONS[kind]

    def run() -> None:
        search = mcts.MCTS(game, mcts.RolloutEvaluator(seed=1), seed=1, solver=False, tree_reuse=False)
        search.run(game.new_initial_state(), mcts.Limit(simulations=n))
    PER_SIMULATION[kind] = best_round_seconds(benchmark, run, rounds=3) / n


def test_report_and_claim():
    assert PER_PLAYOUT and PER_SIMULATION, "run the whole file"
    print("\nmisère Nim 1;3;5;7: random playouts per second, MCTS (rollout evaluator) simulations per second")
    for kind in PLAYOUTS:
        sims = PER_SIMULATION.get(kind)
        print(f"  {kind:<20} {1 / PER_PLAYOUT[kind]:>12,.0f} playouts/s"
              + (f"  {1 / sims:>10,.0f} simulations/s" if sims else ""))
    speedup = PER_PLAYOUT["python"] / PER_PLAYOUT["cython C loop"]
    print(f"  cython C loop / python: {speedup:.0f}x playouts, "
          f"{PER_SIMULATION['python'] / PER_SIMULATION['cython C loop']:.0f}x MCTS simulations")
    assert speedup > 10
