"""Solver-labelled Hex positions and the fine-tuning recipe (engine/_hex_proof_data.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import games
import mcts
from engine._hex_proof_data import ProofLabelConfig, label_game, play_game
from mcts import AlphaBeta, Limit
from mcts import SolverEvaluator, UniformEvaluator

REPO = Path(__file__).resolve().parents[1]
HEX7 = REPO / "models" / "zoo" / "hex7.onnx"


def _exact(state) -> int:
    return AlphaBeta(state.game).run(state, Limit(depth=len(state.legal_actions()))).proven_value


def test_labels_are_exact_and_skip_the_openings():
    game = games.load("hex", board_size=5)
    cfg = ProofLabelConfig(simulations=8, max_nodes=5000, min_stones=2, misses=99)
    rng = np.random.default_rng(1)
    history, records = play_game(game, mcts.UniformEvaluator(), 7, cfg, rng)
    assert history[0] == 7 and len(records) == len(history)
    labelled = label_game(game, history, records, SolverEvaluator(UniformEvaluator()), cfg)
    assert 0 < len(labelled) <= len(history) - 2
    stones = labelled.observations[:, :2].sum(axis=(1, 2, 3))
    assert stones.min() >= 2
    checked = 0
    for obs, value, policy in zip(labelled.observations, labelled.values, labelled.policies):
        i = int(obs[:2].sum())
        if i < 10:   # the exhaustive check is slow with more than 15 empty cells
            continue
        checked += 1
        state = game.new_initial_state()
        for a in history[:i]:
            state.apply_action(a)
        assert np.array_equal(state.observation(), obs)
        assert value == _exact(state)
        if value == 1:   # the policy target is the proof's winning move
            move = int(np.argmax(policy))
            assert policy[move] == 1.0
            child = state.clone()
            child.apply_action(move)
            assert child.is_terminal() or _exact(child) == -1
    assert checked >= 3


def test_min_stones_and_misses_bound_the_walk_back():
    game = games.load("hex", board_size=5)
    rng = np.random.default_rng(2)
    cfg = ProofLabelConfig(simulations=4, max_nodes=5000, min_stones=6, misses=99)
    history, records = play_game(game, mcts.UniformEvaluator(), 12, cfg, rng)
    labelled = label_game(game, history, records, SolverEvaluator(UniformEvaluator()), cfg)
    assert labelled.observations[:, :2].sum(axis=(1, 2, 3)).min() >= 6
    tight = ProofLabelConfig(simulations=4, max_nodes=1, min_stones=0, misses=1)
    assert len(label_game(game, history, records, SolverEvaluator(UniformEvaluator()), tight)) <= len(history)


def test_proof_play_keeps_a_proven_win():
    """With proof_play=1 a player once proven won plays the proof's moves, so it wins the game; with
    proof_play=0 MCTS on a uniform evaluator throws such wins away (so the check can fail)."""
    game = games.load("hex", board_size=5)

    def first_proven_winner(history, solver):   # after the opening, which play_game imposes
        state = game.new_initial_state()
        state.apply_action(history[0])
        for action in history[1:]:
            verdict, _ = solver.prove(state, max_nodes=5000, pv_length=1)
            if verdict == 1:
                return state.current_player()
            state.apply_action(action)
        return None

    thrown = 0
    for seed in range(6):
        for chance in (1.0, 0.0):
            cfg = ProofLabelConfig(simulations=4, max_nodes=5000, proof_play=chance, proof_play_nodes=5000,
                                   temperature_moves=30)
            solver = SolverEvaluator(UniformEvaluator())
            history, records = play_game(game, mcts.UniformEvaluator(), (7 * seed) % 25, cfg,
                                         np.random.default_rng(seed), solver)
            winner = 0 if records.values[0] > 0 else 1   # record 0: black's move, valued by black's result
            proven = first_proven_winner(history, SolverEvaluator(UniformEvaluator()))
            assert proven is not None
            if chance == 1.0:
                assert winner == proven, (seed, history)
            else:
                thrown += winner != proven
    assert thrown > 0


def test_shipped_hex7_names_every_opening_winner_at_mcts_800():
    """The goal of models/zoo/hex7.md: MCTS-800 on the shipped network (no solver) names the winner of
    each of the 49 solved 7x7 openings (``shared/data``, benzene's results; none is in its training data)."""
    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))
    from bench_hex_openings import judge_openings

    out = judge_openings(str(HEX7), simulations=800, mode="net")
    assert out["total"] == 49 and out["proven"] == 0
    assert out["wrong"] == [], out["wrong"]


def test_imported_onnx_net_matches_onnxruntime():
    import models
    import torch

    game = games.load("hex", board_size=7)
    net = models.resnet_from_onnx(str(HEX7))
    evaluator = models.OnnxEvaluator(str(HEX7), game=game)
    rng = np.random.default_rng(0)
    states = []
    for k in range(8):
        state = game.new_initial_state()
        for _ in range(2 * k):
            state.apply_action(int(rng.choice(state.legal_actions())))
        states.append(state)
    _, values = evaluator.evaluate(states)
    with torch.no_grad():
        _, logits = net(torch.tensor(np.stack([s.observation() for s in states]), dtype=torch.float32))
        mine = net.value(logits).numpy()
    assert np.abs(mine - values).max() < 1e-4


@pytest.mark.parametrize("args, words", [
    (["learn", "connect4", "--proofs", "--run", "x", "--init", "m.onnx"], "game hex"),
    (["learn", "hex", "--proofs", "--run", "x"], "--init"),
    (["learn", "hex", "--proofs", "--run", "x", "--init", "m.onnx", "--proof-nodes", "0"], "--proof-nodes"),
    (["learn", "hex", "--proofs", "--run", "x", "--init", "m.onnx", "--proof-play", "1.5"], "--proof-play"),
    (["learn", "hex", "--proofs", "--run", "x", "--init", "m.onnx", "--proof-play", "-0.1"], "--proof-play"),
    (["learn", "hex", "--proofs", "--run", "x", "--init", "m.onnx", "--proof-play", "nan"], "--proof-play"),
    (["learn", "hex", "--proofs", "--run", "x", "--init", "m.onnx", "--proof-play", "half"], "--proof-play"),
])
def test_cli_refuses_bad_settings(args, words, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode != 0
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_fine_tune_keeps_the_imported_normalisations():
    """With a zero learning rate nothing may move: batch norms in train mode would update their
    running statistics from the batches (and the imported network would change)."""
    import torch

    import models
    from engine._hex_proof_data import fine_tune

    game = games.load("hex", board_size=7)
    net = models.resnet_from_onnx(str(HEX7))
    cfg = ProofLabelConfig(simulations=4, max_nodes=2000, min_stones=2, misses=99)
    history, records = play_game(game, mcts.UniformEvaluator(), 24, cfg, np.random.default_rng(3))
    obs = torch.tensor(records.observations, dtype=torch.float32)
    with torch.no_grad():
        before = [t.clone() for t in net(obs)]
    report = fine_tune(net, records, steps=3, batch_size=8, learning_rate=0.0)
    assert report["steps"] == 3 and not net.training
    with torch.no_grad():
        after = net(obs)
    assert all(torch.equal(a, b) for a, b in zip(before, after))
