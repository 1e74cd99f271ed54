"""Connect Four test sets made with the exact solver (engine/data/c4_*.txt), their generator, the
held-out keys that keep them out of training, and scoring with the stored per-move values."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import games
import mcts
import models
from engine._c4_testsets import (LEVELS, PHASES, SetFormatError, SetPosition, decent_move,
                                 draw_state, make_set, mirror_moves, position_key, read_set, set_paths,
                                 shared_test_moves, solve_position)
from engine._strength import connect4_strength, read_connect4_positions
from games.text.connect4 import opponent_wins_at

SETS = {p.stem: p for p in set_paths()}


def test_every_phase_and_level_ships_a_set() -> None:
    assert sorted(SETS) == sorted(f"c4_{ph}_{lv}" for ph in PHASES for lv in LEVELS)
    for name, path in SETS.items():
        positions = read_set(path)
        assert 300 <= len(positions) <= 1000, name
        lo, hi = PHASES[name.split("_")[1]]
        for p in positions:
            assert lo <= len(p.moves) <= hi
            assert games.load("connect4").deserialize(p.moves).legal_actions() == [
                c for c in range(7) if p.per_move[c] is not None]
            if name.endswith("_hard"):
                assert p.is_hard()


def test_sets_never_repeat_a_position_nor_hold_a_shared_one() -> None:
    keys = [position_key(p.moves) for path in SETS.values() for p in read_set(path)]
    assert len(keys) == len(set(keys))
    shared = {position_key(m) for m in shared_test_moves()}
    assert len(shared) >= 1900  # both Pons sets are there to check against
    assert not shared & set(keys)


def _check_sample(per_set: int, openings_from_ply: int) -> None:
    solver = mcts.Connect4Solver()
    rng = random.Random(0)
    for name, path in SETS.items():
        positions = read_set(path)
        if "opening" in name:  # openings take up to seconds each to solve: the deeper ones here
            positions = [p for p in positions if len(p.moves) >= openings_from_ply]
        for p in rng.sample(positions, per_set):
            assert solve_position(solver, p.moves) == p, (name, p.moves)


def test_a_sample_of_every_set_agrees_with_the_solver() -> None:
    _check_sample(3, openings_from_ply=11)


@pytest.mark.slow
def test_a_larger_sample_of_every_set_agrees_with_the_solver() -> None:
    _check_sample(40, openings_from_ply=8)


def test_position_key_ignores_move_order_and_mirror() -> None:
    assert position_key("4455") == position_key("5544") == position_key(mirror_moves("4455"))
    assert position_key("44") != position_key("45")
    assert mirror_moves("1237") == "7651"


def test_set_lines_round_trip_and_bad_lines_are_refused(tmp_path: Path) -> None:
    p = SetPosition("4455", 1, (0, 1, 1, 1, -1, 0, 0))
    assert SetPosition.from_line(p.to_line()) == p
    assert p.keeps_value(1) and not p.keeps_value(0)
    assert p.policy_target() == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    for bad in ("4455 1", "4485 1 =+++-==", "4455 2 =+++-==", "4455 1 =+++-=", "4455 0 =+++-=="):
        with pytest.raises(SetFormatError):
            SetPosition.from_line(bad)
    (tmp_path / "x.txt").write_text("# made by hand\n" + p.to_line() + "\n")
    assert read_connect4_positions(tmp_path / "x.txt") == [p]


def test_make_set_is_reproducible_and_keeps_out_excluded_positions() -> None:
    solver = mcts.Connect4Solver()
    a = make_set("ending", "hard", 4, seed=5, solver=solver, exclude=set())
    assert a == make_set("ending", "hard", 4, seed=5, solver=solver, exclude=set())
    assert all(p.is_hard() and 25 <= len(p.moves) <= 36 for p in a)
    exclude = {position_key(a[0].moves)}
    b = make_set("ending", "hard", 4, seed=5, solver=solver, exclude=exclude)
    assert a[0] not in b and position_key(b[0].moves) in exclude
    with pytest.raises(ValueError):
        make_set("late", "hard", 1, seed=0)
    with pytest.raises(ValueError):
        make_set("ending", "easy", 1, seed=0)


def test_decent_move_takes_a_four_and_blocks_one() -> None:
    game = games.load("connect4")
    rng = random.Random(0)
    assert decent_move(game.deserialize("445566"), rng) in (2, 6)  # completes the bottom row
    assert decent_move(game.deserialize("1213124"), rng) == 0  # blocks the three in column 1
    assert [opponent_wins_at(game.deserialize("1213124"), c) for c in range(7)] == [True] + [False] * 6
    # never hands the opponent an immediate four when a move exists that does not
    def gives_four(state, a: int) -> bool:
        s = state.clone()
        s.apply_action(a)
        for b in s.legal_actions():
            t = s.clone()
            t.apply_action(b)
            if t.is_terminal() and max(t.returns()) > 0:
                return True
        return False

    checked = 0
    for _ in range(200):
        state = draw_state(game, rng, 6, 30, "random")
        if state is None:
            continue
        move = decent_move(state, rng)
        after = state.clone()
        after.apply_action(move)
        if after.is_terminal():
            continue  # took a four
        if opponent_wins_at(state, move):
            continue  # a forced block may still give a four
        if not all(gives_four(state, a) for a in state.legal_actions()):
            assert not gives_four(state, move)
            checked += 1
    assert checked > 50


def test_set_positions_score_like_solved_pairs() -> None:
    """Scoring with the stored per-move values gives the same rows as solving each move."""
    positions = read_set(SETS["c4_middle_hard"], limit=6) + read_set(SETS["c4_ending_play"], limit=6)
    model = models.shipped_model("connect4")
    stored = connect4_strength(model, positions, simulations=32)
    solved = connect4_strength(model, [(p.moves, p.value) for p in positions], simulations=32)
    assert stored["rows"] == solved["rows"]
    assert stored["positions"] == 12


def test_training_labels_skip_every_test_position() -> None:
    from engine._c4_testsets import held_out_keys
    from engine._solver_data import solver_records

    held = held_out_keys()
    for path in SETS.values():
        assert position_key(read_set(path, limit=1)[0].moves) in held
    rec = solver_records(6, seed=3, min_moves=20, max_moves=30, level="hard")
    assert len(rec) == 6
    # one move keeps the value in a hard position, and the value is not a loss
    assert (np.count_nonzero(rec.policies, axis=1) == 1).all() and (rec.values >= 0).all()
    with pytest.raises(ValueError):
        solver_records(1, seed=0, level="easy")


def test_supervised_run_labels_by_level_then_fine_tunes_an_onnx_export(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from engine.learn import learn_supervised, read_log
    from models.nets import ResNet
    from models.train import TrainConfig, load_checkpoint

    game = games.load("connect4")
    torch.manual_seed(0)
    start = models.export(ResNet(game, blocks=1, channels=8), game, tmp_path / "start.onnx")
    run = tmp_path / "run"
    out = learn_supervised(run, positions=3, train=TrainConfig(steps=0), min_moves=26, max_moves=34, level="hard",
                           progress_bars=False)
    assert out == {"kind": "labels", "positions": 3}
    out = learn_supervised(run, positions=6, train=TrainConfig(steps=2, batch_size=4, threads=1), min_moves=26,
                           max_moves=34, level="play", init=str(start), progress_bars=False)
    assert out["records"] == 12 and out["steps"] == 2  # 6 positions and their mirrors
    assert [e["level"] for e in read_log(run) if e["kind"] == "labels"] == ["hard", "play"]
    net, ckpt = load_checkpoint(run / "checkpoints" / "supervised.pt")
    assert (net.blocks, net.channels) == (1, 8) and ckpt["extra"]["init"] == str(start)
    assert "fine-tuned from start.onnx" in models.read_metadata(out["onnx"]).extra["recipe"]
    with pytest.raises(ValueError, match="ONNX"):
        learn_supervised(run, positions=6, train=TrainConfig(steps=1), init=str(run / "checkpoints" / "supervised.pt"),
                         progress_bars=False)


def test_keep_rejected_stores_the_solved_positions_that_were_not_hard_as_play_labels(tmp_path: Path) -> None:
    from engine.cli import main
    from models.train import ReplayBuffer

    run = tmp_path / "run"
    assert main(["learn", "connect4", "--supervised", "--run", str(run), "--train-steps", "0", "--level", "hard",
                 "--keep-rejected", "--positions", "5", "--min-moves", "24", "--max-moves", "34", "--seed", "5",
                 "--no-progress"]) == 0
    buffer = ReplayBuffer(run / "buffer")
    assert buffer.count("solver-hard-") == 10  # the 5 hard positions, mirrored; the rejects are not counted
    rejected = [p for p in buffer.shards() if p.name.startswith("solver-play-")]
    assert rejected, "a hard draw rejects most positions; none were kept"
    for path in rejected:
        with np.load(path) as data:
            policies, values = data["policies"], data["values"]
        assert np.allclose(policies.sum(axis=1), 1.0) and set(np.unique(values)) <= {-1.0, 0.0, 1.0}
        # not hard: lost, or more than one move keeps the value
        assert ((values < 0) | (np.count_nonzero(policies, axis=1) > 1)).all()
    # a longer run on the same buffer labels the missing hard positions: the rejects do not count
    assert main(["learn", "connect4", "--supervised", "--run", str(run), "--train-steps", "0", "--level", "hard",
                 "--keep-rejected", "--positions", "7", "--min-moves", "24", "--max-moves", "34", "--seed", "6",
                 "--no-progress"]) == 0
    assert buffer.count("solver-hard-") == 14
    # without the flag a hard run keeps only hard positions
    plain = tmp_path / "plain"
    assert main(["learn", "connect4", "--supervised", "--run", str(plain), "--train-steps", "0", "--level", "hard",
                 "--positions", "2", "--min-moves", "24", "--max-moves", "34", "--no-progress"]) == 0
    assert {p.name.split("-w")[0] for p in ReplayBuffer(plain / "buffer").shards()} == {"solver-hard"}


def test_keep_rejected_without_the_hard_level_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "learn", "connect4", "--supervised", "--run", "r",
                           "--train-steps", "0", "--positions", "1", "--level", "play", "--keep-rejected"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0 and "--keep-rejected" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "buffer").exists()  # refused before any labelling
