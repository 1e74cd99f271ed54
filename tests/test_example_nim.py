"""The worked example of docs/games.md ("A user's own game"): misère Nim in pure Python and in
Cython against the C game interface, both checked against OpenSpiel's ``nim`` and searched by MCTS."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pyspiel
import pytest

import mcts

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nim"
sys.path.insert(0, str(EXAMPLE.parent.parent))
from examples.nim import nim_py  # noqa: E402
from examples.nim.build import build  # noqa: E402


@pytest.fixture(scope="module")
def nim_c(tmp_path_factory):
    """``nim_c.pyx`` compiled in a fresh folder, as the guide's command builds it (about 10 s)."""
    where = tmp_path_factory.mktemp("nim_c")
    shutil.copy(EXAMPLE / "nim_c.pyx", where / "nim_c.pyx")
    build(str(where))
    so = next(where.glob("nim_c*.so"))
    spec = importlib.util.spec_from_file_location("nim_c", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _games(nim_c):
    return [nim_py.NimGame(), nim_c.NimCGame()]


def test_both_agree_with_openspiel_move_by_move(nim_c):
    theirs = pyspiel.load_game("nim")  # misère, piles 1;3;5;7
    rng = np.random.default_rng(5)
    for ours in _games(nim_c):
        for _ in range(200):
            s, o = ours.new_initial_state(), theirs.new_initial_state()
            while True:
                assert s.is_terminal() == o.is_terminal()
                assert s.returns() == o.returns()
                if s.is_terminal():
                    break
                assert s.current_player() == o.current_player()
                assert s.legal_actions() == o.legal_actions()
                a = s.legal_actions()[int(rng.integers(len(s.legal_actions())))]
                assert s.action_to_string(a) == o.action_to_string(o.current_player(), a)
                s.apply_action(a)
                o.apply_action(a)
            again = ours.deserialize(s.serialize())
            assert again.hash() == s.hash() and again.returns() == s.returns()


def test_the_c_version_has_the_c_interface(nim_c):
    from games._cgame import CState

    s = nim_c.NimCGame().new_initial_state()
    assert isinstance(s, CState)
    out = s.random_rollouts(2000, seed=3)
    assert set(np.unique(out)) == {-1.0, 1.0}
    s.apply_action(27)  # take 7 from pile 4
    s.undo_action()
    assert s.history() == [] and s.piles == [1, 3, 5, 7]
    import pickle

    t = pickle.loads(pickle.dumps(s))
    assert t.hash() == s.hash()


@pytest.mark.parametrize("which", [0, 1], ids=["python", "cython"])
def test_mcts_finds_the_winning_move(nim_c, which):
    # misère Nim 2;2;1: nim-sum 1 with a pile of size >= 2 -> the mover wins by leaving nim-sum 0,
    # here by taking the single object (action 2), which leaves 2;2
    game = (nim_py.NimGame if which == 0 else nim_c.NimCGame)(piles=(2, 2, 1))
    s = game.new_initial_state()
    result = mcts.MCTS(game, mcts.RolloutEvaluator(seed=1), seed=1).run(s, mcts.Limit(simulations=3000))
    assert result.is_proven and result.proven_value == 1
    assert s.action_to_string(result.best_action) == "pile:3, take:1;"
