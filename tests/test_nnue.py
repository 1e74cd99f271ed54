"""The learned chess evaluation: data shards, features, training and export, the protobuf reader, and
the C evaluation's parity with onnxruntime along games (incremental accumulator updates).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import games
from mcts._nnue import ChessNNUE, NNUEFileError
from mcts._onnx_weights import OnnxFormatError, read_onnx_weights
from models.chess_data import (NUM_FEATURES, ShardError, board_codes, dense_features, feature_indices, read_shards,
                               write_shard)
from models.chess_nnue import L1, L2, QuantisedNet, export_onnx, logits_to_probability

ROOT = Path(__file__).resolve().parents[1]
ZOO_NET = ROOT / "models" / "zoo" / "chess_nnue.onnx"


def random_net(target: str, hidden: int = 64, seed: int = 0) -> QuantisedNet:
    """A network with random integer weights whose activations spread over the clipped range."""
    rng = np.random.default_rng(seed)
    k = 1 if target == "sigmoid" else 21
    return QuantisedNet(
        ft_weight=rng.integers(-24, 25, (NUM_FEATURES, hidden)).astype(np.int16),
        ft_bias=rng.integers(20, 90, hidden).astype(np.int16),
        l1_weight=rng.integers(-40, 41, (L1, 2 * hidden)).astype(np.int8),
        l1_bias=rng.integers(-4000, 4000, L1).astype(np.int32),
        l2_weight=rng.integers(-90, 91, (L2, L1)).astype(np.int8),
        l2_bias=rng.integers(-3000, 3000, L2).astype(np.int32),
        psqt_weight=rng.integers(-9000, 9000, NUM_FEATURES).astype(np.int32),
        out_weight=rng.normal(0, 1.0, (k, L2 + 1)).astype(np.float32),
        out_bias=rng.normal(0, 0.2, k).astype(np.float32),
        target=target,
    )


def random_games(num_positions: int, seed: int, max_plies: int = 150):
    """(start state, actions, [piece codes per position], [side to move per position]) of random games
    that together hold ``num_positions`` positions."""
    game = games.load("chess")
    rng = random.Random(seed)
    out, total = [], 0
    while total < num_positions:
        start = game.new_initial_state()
        state = start.clone()
        actions, codes, stms = [], [], []
        while True:
            c, stm = board_codes(state.to_board(with_history=False))
            codes.append(c)
            stms.append(stm)
            if state.is_terminal() or len(actions) >= max_plies or total + len(codes) >= num_positions:
                break
            a = rng.choice(state.legal_actions())
            actions.append(a)
            state.apply_action(a)
        out.append((start, actions, codes, stms))
        total += len(codes)
    return out


def test_features_mirror_and_shard_roundtrip(tmp_path):
    state = games.load("chess").new_initial_state()
    codes, stm = board_codes(state.to_board(with_history=False))
    own, other = feature_indices(codes[None], np.array([stm]))
    # the start position is symmetric: each side sees the same board from its own view
    assert sorted(own[0]) == sorted(other[0])
    assert (own[0] < NUM_FEATURES).sum() == 32
    a, b = dense_features(codes[None], np.array([stm]))
    assert a.sum() == 32 and set(np.flatnonzero(a[0])) == set(own[0])
    # white pawn on e2 from white's view (own pawn, square 12), from black's view (their pawn, e7 = 52)
    assert 0 * 64 + 12 in own[0] and 384 + 0 * 64 + 52 in other[0]
    rows = 5
    write_shard(tmp_path / "shard_00000.npz", np.repeat(codes[None], rows, 0), np.zeros(rows), np.arange(rows) * 5000,
                np.ones(rows), np.arange(rows))
    data = read_shards(tmp_path)
    assert data["board"].shape == (rows, 64) and data["score"].max() == 4000   # mates clamped
    np.savez(tmp_path / "shard_00001.npz", board=codes[None])
    with pytest.raises(ShardError):
        read_shards(tmp_path)


def test_onnx_reader_matches_onnx_package(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    path = export_onnx(random_net("hlgauss"), tmp_path / "n.onnx", metadata={"training": "{}"})
    weights, props = read_onnx_weights(path)
    model = onnx.load(str(path))
    assert {t.name for t in model.graph.initializer} == set(weights)
    for t in model.graph.initializer:
        np.testing.assert_array_equal(numpy_helper.to_array(t), weights[t.name])
    assert props["plytree_kind"] == "nnue" and props["feature_set"] == "psq768"
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x96\x01not a model")
    with pytest.raises(OnnxFormatError):
        read_onnx_weights(tmp_path / "bad.onnx")


def test_rejects_other_models(tmp_path):
    with pytest.raises(NNUEFileError, match="not a plytree chess NNUE"):
        ChessNNUE(ROOT / "models" / "zoo" / "connect4.onnx")
    with pytest.raises(FileNotFoundError):
        ChessNNUE(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="bitboard chess"):
        ChessNNUE(export_onnx(random_net("sigmoid"), tmp_path / "n.onnx")).evaluate(games.load("connect4").new_initial_state())


@pytest.mark.parametrize("target", ["sigmoid", "hlgauss"])
def test_incremental_c_evaluation_matches_onnxruntime(tmp_path, target):
    """10,000 positions of random games, evaluated by C with the accumulator updated move by move
    (captures, castling, en passant and promotions occur), against onnxruntime on the same file."""
    q = random_net(target, seed=1 if target == "sigmoid" else 2)
    path = export_onnx(q, tmp_path / f"{target}.onnx")
    net = ChessNNUE(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    c_logits, boards, stms, mismatches = [], [], [], 0
    for start, actions, codes, stm in random_games(10_000, seed=7):
        logits, _, bad = net.walk(start, actions)
        c_logits.append(logits)
        boards += codes
        stms += stm
        mismatches += bad
    c_logits = np.concatenate(c_logits)
    assert len(c_logits) == 10_000
    assert mismatches == 0           # the incremental accumulators equal fresh ones
    own_x, other_x = dense_features(np.array(boards), np.array(stms))
    ort_logits, ort_value = session.run(None, {"features_own": own_x, "features_other": other_x})
    # the integer reference computes exactly what C does (up to float32 rounding in the output layer)
    own_i, other_i = feature_indices(np.array(boards), np.array(stms))
    np.testing.assert_allclose(c_logits, q.logits(own_i, other_i), atol=2e-4)
    # onnxruntime runs the dequantised weights in float: only the activations' rounding differs
    scale = np.abs(ort_logits).mean()
    assert scale > 0.3                          # the network is not trivially constant
    assert np.abs(ort_logits - c_logits).max() < 0.05 * max(1.0, scale)
    value_error = np.abs(2 * logits_to_probability(c_logits, target) - 1 - ort_value)
    assert value_error.max() < 0.05 and value_error.mean() < 0.005


def test_search_with_the_network(tmp_path):
    from mcts import AlphaBeta, Limit

    game = games.load("chess")
    net_path = ZOO_NET if ZOO_NET.is_file() else export_onnx(random_net("sigmoid"), tmp_path / "n.onnx")
    search = AlphaBeta(game, eval_file=str(net_path))
    # a mate in two (the first of ../shared/data/chess/epd/mate_in_2.fen): found with the network too
    state = game.deserialize("8/1p3Qb1/p5pk/P1p1p1p1/1P2P1P1/2P1N2n/5P1P/4qB1K w - - 1 1")
    result = search.run(state, Limit(depth=5))
    assert result.score >= 1_000_000 - 3
    with pytest.raises(ValueError, match="eval_file"):
        AlphaBeta(games.load("connect4"), eval_file=str(net_path))


def test_learn_chess_eval_command(tmp_path):
    """The data and training pipeline end to end on a tiny sample (Stockfish labels), then resumed."""
    data, run = tmp_path / "data", tmp_path / "run"
    openings = tmp_path / "openings.fen"
    openings.write_text("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1\n"
                        "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3\n")
    cmd = [sys.executable, "-m", "engine.cli", "learn", "chess-eval", "--data", str(data), "--positions", "40",
           "--shard-size", "20", "--label", "eval", "--positions-per-game", "5", "--train-steps", "20", "--batch-size", "16",
           "--target", "both", "--hidden", "32", "--run", str(run), "--no-progress", "--openings", str(openings)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in data.glob("shard_*.npz")) == ["shard_00000.npz", "shard_00001.npz"]
    d = read_shards(data)
    assert len(d["board"]) == 40 and set(np.unique(d["result"])) <= {-1, 0, 1}
    assert np.abs(d["score"]).max() > 0 and np.abs(d["score"]).max() < 4000   # static evaluations, no mates
    report = json.loads((run / "report.json").read_text())
    assert set(report["runs"]) == {"sigmoid", "hlgauss"} and report["chosen"] in report["runs"]
    for info in report["runs"].values():
        assert info["steps"] == 20 and np.isfinite(info["held_out_quantised"]["bce"])
    net = ChessNNUE(run / "chess_nnue.onnx")
    assert net.hidden == 32 and net.value_head == report["chosen"]
    # resumed: the shards exist, nothing new is labelled
    again = subprocess.run(cmd + ["--no-train"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.splitlines()[-1])["new_positions"] == 0


def test_labels_static_eval_and_search(tmp_path):
    """Stockfish's static evaluation (``eval``) and a search (``nodes:N`` / ``depth:N``) as labels."""
    from engine._chess_eval_data import DataConfig, Stockfish, find_stockfish, make_shard, parse_label

    assert parse_label("eval") == ("eval", 0) and parse_label("nodes:300") == ("nodes", 300)
    assert parse_label("depth:4") == ("depth", 4)
    for bad in ("nodes", "depth:0", "eval:3", "movetime:5"):
        with pytest.raises(ValueError, match="label"):
            parse_label(bad)
    with pytest.raises(ValueError):
        DataConfig(label="nodes:-1")
    sf = Stockfish(find_stockfish(), depth=3)
    try:
        start = sf.static_eval("rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1")
        assert start is not None and abs(start) < 100
        # White a queen up: positive for White to move, negative for Black to move, on the search's scale
        white = sf.static_eval("4k3/8/8/8/8/8/3Q4/4K3 w - - 0 1")
        black = sf.static_eval("4k3/8/8/8/8/8/3Q4/4K3 b - - 0 1")
        searched, _ = sf.score("4k3/8/8/8/8/8/3Q4/4K3 b - - 0 1")
        assert white > 500 and black < -500 and searched < -500
        assert sf.static_eval("4k3/8/8/8/8/8/4Q3/4K3 b - - 0 1") is None    # in check
    finally:
        sf.close()
    openings = tmp_path / "openings.fen"
    openings.write_text("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3\n")
    cfg = DataConfig(positions_per_shard=12, label="nodes:150", positions_per_game=6, openings=str(openings))
    per_game: list[int] = []
    assert make_shard(3, tmp_path, cfg, progress=per_game.append) == 12
    assert sum(per_game) >= 12 and max(per_game) <= 6 and len(per_game) >= 2   # a few positions from each game
    d = read_shards(tmp_path)
    assert len(d["board"]) == 12 and np.all(np.abs(d["score"]) <= 4000)


def test_network_is_the_default_chess_evaluation():
    """``mcts.AlphaBeta`` on chess (bitboard and python-chess states) evaluates with the shipped network
    unless told ``eval_file=None``; other games are untouched; ``plytree analyse chess`` says which."""
    from games.chess import ChessGame
    from mcts import AlphaBeta, Limit

    for game in (games.load("chess"), ChessGame()):
        search = AlphaBeta(game)
        assert search.eval_file is not None and Path(search.eval_file) == ZOO_NET.resolve()
        assert AlphaBeta(game, eval_file=None).eval_file is None
        assert AlphaBeta(game, eval_file="none").eval_file is None        # a tournament spec's eval_file=none
    connect4 = AlphaBeta(games.load("connect4"))
    assert connect4.eval_file is None and connect4.run(connect4.game.new_initial_state(), Limit(depth=3)).best_action >= 0
    with pytest.raises(ValueError, match="eval_file"):
        AlphaBeta(games.load("connect4"), eval_file=str(ZOO_NET))
    # the two evaluations differ on the same search
    state = games.load("chess").deserialize("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3")
    scores = {AlphaBeta(state.game, eval_file=f).run(state, Limit(depth=4)).score for f in ("default", None)}
    assert len(scores) == 2
    out = subprocess.run([sys.executable, "-m", "engine.cli", "analyse", "chess", "--depth", "4"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"evaluation: network {ZOO_NET.resolve()}" in out.stdout


def test_uci_use_nnue_option():
    """``plytree uci`` offers UseNNUE / EvalFile, and its alpha-beta then evaluates with the network."""
    from engine._uci_options import OPTIONS
    from engine._uci_search import default_search_factory
    from mcts import InfoRelay

    options = {o.name.lower(): o.default for o in OPTIONS}
    assert options["usennue"] is True and options["evalfile"] == ""     # the network is the default
    game = games.load("chess")
    assert default_search_factory(game, {**options, "usennue": False}, InfoRelay()).eval_file is None
    search = default_search_factory(game, options, InfoRelay())
    assert search.eval_file is not None and Path(search.eval_file) == ZOO_NET.resolve()
    script = "uci\nsetoption name UseNNUE value false\nsetoption name UseNNUE value true\nisready\nposition startpos moves e2e4\ngo nodes 5000\n"
    out = subprocess.run([sys.executable, "-m", "engine.cli", "uci"], input=script, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert "option name EvalFile type string" in out.stdout
    assert "bestmove " in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]


def test_eval_file_words_mean_nothing_to_other_games_but_a_path_is_refused():
    """``"default"`` and the hand-written words pass for any game; a network file needs chess."""
    import games
    from mcts import AlphaBeta

    c4 = games.load("connect4")
    for word in ("default", "none", "Hand-Written", None):
        assert AlphaBeta(c4, eval_file=word).eval_file is None
    with pytest.raises(ValueError, match="needs a chess game"):
        AlphaBeta(c4, eval_file="net.onnx")
