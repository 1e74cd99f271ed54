"""``models.chess_nnue_evaluator.ChessNNUEEvaluator``: the shipped chess NNUE through onnxruntime as a
batched MCTS evaluator, checked against the C evaluation of the same file and in a real search."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import games
from mcts import MCTS, Evaluator, Limit
from mcts._nnue import ChessNNUE
from models import ModelFileError, ModelMismatchError
from models.chess_data import CP_PER_LOGIT, board_codes
from models.chess_nnue_evaluator import SHIPPED_NET, ChessNNUEEvaluator, codes_from_observations

ROOT = Path(__file__).resolve().parents[1]


def random_states(count: int, seed: int) -> list:
    game = games.load("chess")
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        state = game.new_initial_state()
        for _ in range(rng.randint(0, 80)):
            if state.is_terminal():
                break
            state.apply_action(rng.choice(state.legal_actions()))
        if not state.is_terminal():
            out.append(state)
    return out


def test_observation_codes_match_the_board():
    for state in random_states(30, seed=3):
        codes, stm = codes_from_observations(state.observation()[None])
        want, want_stm = board_codes(state.to_board(with_history=False))
        np.testing.assert_array_equal(codes[0], want)
        assert stm[0] == want_stm
    with pytest.raises(ValueError, match="chess observations"):
        codes_from_observations(np.zeros((2, 3, 3)))


def test_values_match_the_c_evaluation_of_the_same_file():
    """onnxruntime (float, features from the observation) against the C integer evaluation (features
    from the bitboards): the same win probabilities up to the quantisation's activation rounding."""
    states = random_states(200, seed=11)
    evaluator = ChessNNUEEvaluator(game=games.load("chess"), batch_size=64)
    assert isinstance(evaluator, Evaluator)
    priors, values = evaluator.evaluate(states)
    assert priors.shape == (200, 4672) and values.shape == (200,)
    net = ChessNNUE(SHIPPED_NET)
    c_values = np.array([2.0 / (1.0 + np.exp(-net.evaluate(s) / CP_PER_LOGIT)) - 1.0 for s in states])
    assert np.abs(values - c_values).max() < 0.03
    assert values.std() > 0.1                    # positions differ, the network sees it
    for i, s in enumerate(states):               # uniform over the legal moves
        legal = s.legal_actions()
        np.testing.assert_allclose(priors[i, legal], 1.0 / len(legal), rtol=1e-6)
        assert priors[i].sum() == pytest.approx(1.0, abs=1e-5)
    # the second call is served by the cache, with the same values
    again = evaluator.evaluate(states[:10])[1]
    np.testing.assert_array_equal(again, values[:10])
    assert evaluator.cache_hits == 10 and evaluator.evaluations == 200 and evaluator.batches == 4


def test_mcts_with_the_network_takes_a_hanging_queen():
    """A real MCTS on chess with the network's values: a free queen is taken."""
    game = games.load("chess")
    state = game.deserialize("4k3/8/8/3q4/8/8/3R4/4K3 w - - 0 1")   # Rd2xd5 wins the queen
    search = MCTS(game, ChessNNUEEvaluator(game=game))
    result = search.run(state, Limit(simulations=400))
    assert state.action_to_string(result.best_action) == "d2d5"
    assert result.value > 0.5


def test_bad_files_and_games(tmp_path):
    with pytest.raises(ModelFileError):
        ChessNNUEEvaluator(tmp_path / "missing.onnx")
    with pytest.raises(ModelFileError, match="not a plytree chess NNUE"):
        ChessNNUEEvaluator(ROOT / "models" / "zoo" / "connect4.onnx")
    with pytest.raises(ModelMismatchError):
        ChessNNUEEvaluator(game=games.load("connect4"))
    with pytest.raises(ValueError):
        ChessNNUEEvaluator(batch_size=0)
