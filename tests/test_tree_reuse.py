"""MCTS tree reuse: a subtree is kept only when the new root provably descends from the old one.

Regression tests for issue 14 item 1 (a tree reused across unrelated chess positions played
unchecked actions on the C board and crashed the process) and a property test over every game.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import games
from games.chessboard import from_fen
from mcts import MCTS, Limit, RolloutEvaluator, UniformEvaluator

ROOT = Path(__file__).resolve().parents[1]


class PyUniform:
    """Uniform priors through the batched Python path (the core does not recognise it)."""

    def __init__(self) -> None:
        self.inner = UniformEvaluator()

    def evaluate(self, states):
        return self.inner.evaluate(states)


def _play(state, moves: list[str]):
    for move in moves:
        state.apply_action_checked(state.string_to_action(move))
    return state


def _is_fresh(result) -> bool:
    """A fresh tree: the root's children hold only this run's visits (the root took one)."""
    return sum(result.visits) <= result.simulations


def test_fen_then_unrelated_startpos_line_python_api():
    chess = games.load("chess")
    m = MCTS(chess, RolloutEvaluator(1))
    first = m.run(from_fen("4k3/8/8/8/8/8/8/4K2R w K - 0 1", chess), Limit(nodes=100))
    assert first.best_action in from_fen("4k3/8/8/8/8/8/8/4K2R w K - 0 1", chess).legal_actions()
    state = _play(chess.new_initial_state(), ["e2e4", "e7e5"])
    r = m.run(state, Limit(nodes=100))
    assert r.best_action in state.legal_actions() and _is_fresh(r)
    assert m.check_tree() == []


def test_fen_then_long_startpos_line_gives_a_legal_move():
    chess = games.load("chess")
    m = MCTS(chess, RolloutEvaluator(1))
    m.run(from_fen("7k/8/8/8/8/8/8/Q6K b - - 0 1", chess), Limit(nodes=100))
    line = "e2e4 e7e5 g1f3 b8c6 f1b5 a7a6 b5a4 g8f6 e1g1 f8e7 f1e1 b7b5 a4b3 d7d6 c2c3 e8g8 h2h3".split()
    state = _play(chess.new_initial_state(), line)
    r = m.run(state, Limit(nodes=100))
    assert r.best_action in state.legal_actions() and _is_fresh(r)


def test_related_position_keeps_the_subtree():
    chess = games.load("chess")
    m = MCTS(chess, RolloutEvaluator(1), seed=0)
    root = _play(chess.new_initial_state(), ["e2e4"])
    r = m.run(root, Limit(simulations=400))
    reply = r.best_action
    child = root.clone()
    child.apply_action(reply)
    again = m.run(child, Limit(simulations=50))
    assert not _is_fresh(again)          # the reply's subtree came along
    # the same position reached from a FEN (another history) is not provably the same game
    fen = from_fen(child.serialize(), chess)
    assert _is_fresh(m.run(fen, Limit(simulations=50)))


@pytest.mark.parametrize("commands", [
    "position fen 4k3/8/8/8/8/8/8/4K2R w K - 0 1\ngo nodes 100\nposition startpos moves e2e4 e7e5\ngo nodes 100\n",
    "position fen 7k/8/8/8/8/8/8/Q6K b - - 0 1\ngo nodes 100\n"
    "position startpos moves e2e4 e7e5 g1f3 b8c6 f1b5 a7a6 b5a4 g8f6 e1g1 f8e7 f1e1 b7b5 a4b3 d7d6 c2c3 e8g8 h2h3\n"
    "go nodes 100\n",
])
def test_uci_mcts_unrelated_positions(commands):
    script = "uci\nsetoption name SearchKind value mcts\n" + commands + "isready\nquit\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "uci"], input=script, text=True,
                          capture_output=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    bestmoves = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("bestmove")]
    assert len(bestmoves) == 2
    second = commands.split("\n")[2]
    board = __import__("chess").Board()
    for move in second.split()[3:]:
        board.push_uci(move)
    assert board.is_legal(board.parse_uci(bestmoves[1])), (bestmoves, proc.stdout[-1000:])


# --- property: random sequences of related and unrelated roots, every game ---------------------

_FENS = [
    "4k3/8/8/8/8/8/8/4K2R w K - 0 1",
    "7k/8/8/8/8/8/8/Q6K b - - 0 1",
    "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1",
    "8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1",
]


def _random_line(game, rng: random.Random, start, plies: int):
    state = start.clone()
    for _ in range(plies):
        if state.is_terminal():
            break
        state.apply_action(rng.choice(state.legal_actions()))
    return state


def _fresh_root(name: str, game, rng: random.Random):
    if name == "chess" and rng.random() < 0.5:
        start = from_fen(rng.choice(_FENS), game)
    else:
        start = game.new_initial_state()
    return _random_line(game, rng, start, rng.randrange(0, 6))


def _step(name, game, m, state, rng, kind):
    """The next root after ``state``: a continuation (from the tree's own moves or any legal
    ones), the same position again, or an unrelated position."""
    if kind == "unrelated" or state is None or state.is_terminal():
        return _fresh_root(name, game, rng)
    if kind == "same":
        return state.clone()
    return _random_line(game, rng, state, rng.randrange(1, 4))


@pytest.mark.parametrize("name", ["tictactoe", "connect4", "hex", "chess"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       kinds=st.lists(st.sampled_from(["continue", "same", "unrelated"]), min_size=3, max_size=8))
def test_reuse_property_every_game(name, seed, kinds):
    game = games.load(name)
    rng = random.Random(seed)
    for evaluator in (RolloutEvaluator(seed=seed % 1000), PyUniform()):
        m = MCTS(game, evaluator, seed=seed % 1000, tree_reuse=True)
        state = None
        for kind in kinds:
            state = _step(name, game, m, state, rng, kind)
            if state.is_terminal():
                continue
            r = m.run(state, Limit(simulations=rng.randrange(2, 60)))
            assert r.best_action in state.legal_actions()
            assert m.check_tree() == []
            assert sum(r.visits) >= r.simulations - 1


@pytest.mark.slow
def test_reuse_property_under_boundscheck(tmp_path):
    """Rebuilds ``mcts._puct`` and the games with ``PLYTREE_BOUNDSCHECK=1`` in a copy of the
    repository and runs the reuse tests there (see docs/mcts.md)."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "build", "*.so", "__pycache__", ".hypothesis"))
    env = dict(os.environ, PLYTREE_BOUNDSCHECK="1", PYTHONPATH=str(copy),
               PLYTREE_EXT="mcts._puct,mcts._c4solver,games._cgame,games.tictactoe,games.connect4,games.hex,games.chessboard")
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "--force"], cwd=copy, env=env,
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-3000:]
    for so in ROOT.glob("*/*.so"):  # extensions not rebuilt above come from the working tree
        target = copy / so.relative_to(ROOT)
        if not target.exists():
            shutil.copy2(so, target)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                          "tests/test_tree_reuse.py", "-k", "not boundscheck and not uci"],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
