"""Tests of the MCTS core (mcts._puct): known answers, solver, batching, reuse, limits, reproducibility."""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

import games
from mcts import Limit, MCTS, RolloutEvaluator, UniformEvaluator
from mcts._evaluator import uniform_priors
from mcts import EvaluatorOutputError, StopReason
from mcts._puct import considered_visits, node_size
from tests.conftest import DATA


def ttt(moves: str = ""):
    return games.load("tictactoe").deserialize(moves)


def c4(moves: str = ""):
    return games.load("connect4").deserialize(moves)


class PyRollouts:
    """A rollout evaluator the core does not recognise, so it goes through the batched Python path."""

    def __init__(self, seed: int = 0) -> None:
        self.inner = RolloutEvaluator(seed=seed)

    def evaluate(self, states):
        return self.inner.evaluate(states)


class CountingEvaluator:
    """Uniform priors, value 0; records every batch and fails on terminal states."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.duplicates = 0
        self.terminal = 0

    def evaluate(self, states):
        self.batches.append(len(states))
        keys = [tuple(s.history()) for s in states]
        self.duplicates += len(keys) - len(set(keys))
        self.terminal += sum(s.is_terminal() for s in states)
        return uniform_priors(states, states[0].game.num_actions), np.zeros(len(states), np.float32)


# ----------------------------------------------------------------------------- layout


def test_node_is_at_most_64_bytes():
    assert node_size() <= 64
    m = MCTS(games.load("tictactoe"), UniformEvaluator())
    assert m.node_size == node_size()


# ----------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("evaluator", [RolloutEvaluator(seed=3), UniformEvaluator(), PyRollouts(seed=3)],
                         ids=["c-rollout", "c-uniform", "python-evaluator"])
@pytest.mark.parametrize("solver", [True, False])
def test_tictactoe_immediate_win_and_block(evaluator, solver):
    game = games.load("tictactoe")
    # x: 0, 1; o: 3, 4 -> x wins at 2 (o threatens 5)
    win = MCTS(game, evaluator, seed=1, solver=solver).run(ttt("0314"), Limit(simulations=3000))
    assert win.best_action == 2
    # x: 0, 1 threatens 2; o must block there
    block = MCTS(game, evaluator, seed=1, solver=solver).run(ttt("041"), Limit(simulations=3000))
    assert block.best_action == 2
    if solver:
        assert win.is_proven and win.proven_value == 1 and win.value == 1.0
        assert win.stop_reason == "proven"


@pytest.mark.parametrize("evaluator", [RolloutEvaluator(seed=5), PyRollouts(seed=5)], ids=["c", "python"])
@pytest.mark.parametrize("batch_size", [1, 16, 256])
def test_connect4_win_and_block_at_batch_sizes(evaluator, batch_size):
    game = games.load("connect4")
    # x has three in column 1 (Pons' 1-7 columns) and moves: wins at action 0
    r = MCTS(game, evaluator, batch_size=batch_size, seed=2).run(c4("121212"), Limit(simulations=2000))
    assert r.best_action == 0 and r.proven_value == 1
    # o faces x's three in column 1: only action 0 does not lose at once
    r = MCTS(game, evaluator, batch_size=batch_size, seed=2, solver=False).run(c4("12121"), Limit(simulations=4000))
    assert r.best_action == 0
    assert r.simulations == 4000
    assert sum(r.visits) == r.simulations - 1   # every simulation but the root's own evaluation went to a child


def test_solver_proves_tictactoe_draw():
    r = MCTS(games.load("tictactoe"), UniformEvaluator(), seed=0).run(ttt(), Limit(simulations=5_000_000))
    assert r.stop_reason == "proven"
    assert r.is_proven and r.proven_value == 0 and r.value == 0.0
    assert r.simulations < 5_000_000


def _pons_positions(name: str, count: int):
    rows = []
    for line in (DATA / "connect4" / name).read_text().splitlines()[:count]:
        moves, score = line.split()
        rows.append((moves, int(score)))
    return rows


def test_solver_proves_connect4_endgames():
    game = games.load("connect4")
    proven = 0
    for moves, score in _pons_positions("Test_L3_R1", 24):
        r = MCTS(game, RolloutEvaluator(seed=7), seed=7).run(game.deserialize(moves), Limit(simulations=100_000))
        if r.is_proven:
            proven += 1
            assert r.proven_value == (score > 0) - (score < 0), moves
            if score > 0:
                after = game.deserialize(moves)
                after.apply_action(r.best_action)
                check = MCTS(game, RolloutEvaluator(seed=1), seed=1).run(after, Limit(simulations=100_000))
                assert check.is_proven and check.proven_value == -1, moves
    assert proven >= 20


# ----------------------------------------------------------------------------- chess (python-chess)


def test_chess_mate_in_one_through_python_chess():
    game = games.load("chess", backend="python-chess")
    fens = (DATA / "chess" / "epd" / "mate_in_1.fen").read_text().split("\n")
    fens = [f for f in fens if f.strip()]
    assert len(fens) >= 5
    for fen in fens:
        state = game.deserialize(fen)
        assert type(state).__module__ == "games.chess"
        r = MCTS(game, UniformEvaluator(), batch_size=8, seed=0).run(state, Limit(simulations=3000))
        assert r.is_proven and r.proven_value == 1, fen
        after = state.clone()
        after.apply_action(r.best_action)
        assert after.is_terminal() and after.returns()[state.current_player()] == 1.0, fen


def test_chess_mate_in_one_on_c_board():
    game = games.load("chess")
    for fen in (DATA / "chess" / "epd" / "mate_in_1.fen").read_text().split("\n"):
        if not fen.strip():
            continue
        state = game.deserialize(fen)
        r = MCTS(game, RolloutEvaluator(seed=0), seed=0).run(state, Limit(simulations=20000))
        # the search stops at the first proof, which may be a longer mate than the mate in one
        assert r.is_proven and r.proven_value == 1 and len(r.pv) % 2 == 1, fen
        after = state.clone()
        after.apply_action(r.best_action)
        if not after.is_terminal():
            reply = MCTS(game, UniformEvaluator(), seed=0).run(after, Limit(simulations=20000))
            assert reply.is_proven and reply.proven_value == -1, fen


# ----------------------------------------------------------------------------- batching


def test_batched_python_evaluator_one_call_per_batch_no_terminals_no_duplicates():
    ev = CountingEvaluator()
    m = MCTS(games.load("tictactoe"), ev, batch_size=16, seed=0, solver=False)
    r = m.run(ttt("40"), Limit(simulations=3000))
    assert m.check_tree() == []
    assert r.simulations == 3000
    assert ev.terminal == 0 and ev.duplicates == 0
    assert len(ev.batches) == r.extra["evaluator_calls"]
    assert max(ev.batches) <= 16 and ev.batches[0] == 1   # the root is evaluated alone
    assert sum(ev.batches) == r.extra["evaluated_states"] < r.simulations  # terminal hits were not evaluated
    assert len(ev.batches) < r.simulations / 4                             # leaves were batched


def test_evaluator_with_wrong_shapes_is_reported_and_tree_left_clean():
    class Bad:
        def evaluate(self, states):
            return np.zeros((len(states), 3), np.float32), np.zeros(len(states), np.float32)

    m = MCTS(games.load("tictactoe"), Bad(), seed=0)
    with pytest.raises(EvaluatorOutputError, match="expected"):
        m.run(ttt(), Limit(simulations=10))


# ----------------------------------------------------------------------------- reproducibility, noise, final selection


@pytest.mark.parametrize("evaluator_factory", [lambda: RolloutEvaluator(seed=4), lambda: PyRollouts(seed=4)],
                         ids=["c", "python"])
def test_seeded_search_is_reproducible(evaluator_factory):
    game = games.load("connect4")

    def search(seed):
        m = MCTS(game, evaluator_factory(), seed=seed, batch_size=8, dirichlet_alpha=0.3,
                 final_selection="sample")
        return m.run(c4("44"), Limit(simulations=1500))

    a, b = search(11), search(11)
    assert a.visits == b.visits and a.priors == b.priors and a.best_action == b.best_action
    assert a.q_values == b.q_values


def test_dirichlet_noise_changes_root_priors_only():
    game = games.load("connect4")
    plain = MCTS(game, RolloutEvaluator(seed=0), seed=0).run(c4(), Limit(simulations=50))
    noisy = MCTS(game, RolloutEvaluator(seed=0), seed=0, dirichlet_alpha=0.3, dirichlet_fraction=0.5).run(
        c4(), Limit(simulations=50))
    assert all(p == pytest.approx(1 / 7) for p in plain.priors)
    assert any(abs(p - 1 / 7) > 1e-3 for p in noisy.priors)
    assert sum(noisy.priors) == pytest.approx(1.0, abs=1e-5)


def test_final_selection_modes():
    game = games.load("connect4")
    picks = set()
    for seed in range(12):
        r = MCTS(game, RolloutEvaluator(seed=seed), seed=seed, final_selection="sample",
                 temperature=5.0).run(c4(), Limit(simulations=300))
        picks.add(r.best_action)
    assert len(picks) > 1            # a hot temperature spreads the choice
    cold = MCTS(game, RolloutEvaluator(seed=0), seed=0, final_selection="sample", temperature=0.0).run(
        c4(), Limit(simulations=300))
    assert cold.visits[cold.actions.index(cold.best_action)] == max(cold.visits)
    lcb = MCTS(game, RolloutEvaluator(seed=0), seed=0, final_selection="lcb").run(c4("121212"), Limit(simulations=500))
    assert lcb.best_action == 0


# ----------------------------------------------------------------------------- gumbel


def test_gumbel_root_with_small_budget():
    game = games.load("connect4")
    for seed in range(3):
        m = MCTS(game, RolloutEvaluator(seed=seed), seed=seed, gumbel=True, gumbel_considered=4, solver=False)
        r = m.run(c4(), Limit(simulations=64))
        assert r.extra["gumbel"]
        assert sum(v > 0 for v in r.visits) <= 4    # only the considered actions are searched
        assert r.simulations == 64
    win = MCTS(game, RolloutEvaluator(seed=1), seed=1, gumbel=True, solver=False).run(c4("121212"), Limit(simulations=48))
    assert win.best_action == 0


def test_considered_visits_schedule_matches_sequential_halving():
    seq = considered_visits(4, 16)
    assert len(seq) == 16
    assert seq[:8] == [0, 0, 0, 0, 1, 1, 1, 1]   # 16 / (2 * 4) = 2 rounds over all 4
    assert considered_visits(1, 5) == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- tree reuse


@pytest.mark.parametrize("evaluator_factory", [lambda: RolloutEvaluator(seed=9), lambda: PyRollouts(seed=9)],
                         ids=["c", "python"])
def test_tree_reuse_keeps_subtree(evaluator_factory):
    game = games.load("connect4")
    m = MCTS(game, evaluator_factory(), seed=0, solver=False)
    root = c4("4")
    r = m.run(root, Limit(simulations=4000))
    a, b = r.pv[0], r.pv[1]
    before = m.child_stats([a, b])
    state = root.clone()
    state.apply_action(a)
    state.apply_action(b)
    again = m.run(state, Limit(simulations=0))
    assert again.simulations == 0
    got = {act: (v, q) for act, v, q in zip(again.actions, again.visits, again.q_values)}
    assert got.keys() == before.keys()
    for act, (visits, value, _) in before.items():
        assert got[act][0] == visits
        if visits:
            assert got[act][1] == pytest.approx(value)
    assert sum(again.visits) > 0
    # searching on adds to the kept visits
    more = m.run(state, Limit(simulations=500))
    assert sum(more.visits) == sum(again.visits) + 500
    # an unrelated position starts a fresh tree
    fresh = m.run(c4("1"), Limit(simulations=100))
    assert sum(fresh.visits) == 99


@pytest.mark.parametrize("game_name, params, batch_size, memory",
                         [("connect4", {}, 1, 1 << 30), ("connect4", {}, 64, 30_000), ("hex", {"board_size": 5}, 8, 1 << 30)])
def test_self_play_with_reuse_keeps_tree_sound(game_name, params, batch_size, memory):
    game = games.load(game_name, **params)
    searches = [MCTS(game, PyRollouts(seed=p) if batch_size > 1 else RolloutEvaluator(seed=p), seed=p,
                     batch_size=batch_size, memory_limit=memory, dirichlet_alpha=0.5,
                     final_selection="sample") for p in (0, 1)]
    state = game.new_initial_state()
    reused = 0
    while not state.is_terminal():
        m = searches[state.current_player()]
        r = m.run(state, Limit(simulations=300))
        assert m.check_tree() == []
        reused += sum(r.visits) > r.simulations
        assert r.best_action in state.legal_actions()
        state.apply_action(r.best_action)
    assert reused > 0


def test_tree_reuse_off_starts_fresh():
    game = games.load("connect4")
    m = MCTS(game, RolloutEvaluator(seed=0), seed=0, tree_reuse=False)
    m.run(c4(), Limit(simulations=500))
    r = m.run(c4("44"), Limit(simulations=100))
    assert sum(r.visits) == 99


# ----------------------------------------------------------------------------- limits


@pytest.mark.parametrize("evaluator", [RolloutEvaluator(seed=0), PyRollouts(seed=0)], ids=["c", "python"])
def test_memory_limit_holds(evaluator):
    game = games.load("connect4")
    limit_bytes = 100 * node_size()
    m = MCTS(game, evaluator, memory_limit=limit_bytes, seed=0)
    r = m.run(c4(), Limit(simulations=3000))
    assert r.tree_full and r.simulations == 3000
    assert m.tree_nodes <= 100 and m.tree_bytes <= limit_bytes
    assert m.check_tree() == []
    assert r.best_action in c4().legal_actions()
    tiny = MCTS(game, evaluator, memory_limit=0, seed=0).run(c4(), Limit(simulations=200))
    assert tiny.tree_full and tiny.best_action in range(7) and len(tiny.actions) == 7


def test_nodes_and_time_limits():
    game = games.load("connect4")
    r = MCTS(game, RolloutEvaluator(seed=0), seed=0).run(c4(), Limit(nodes=1000))
    assert r.stop_reason == "nodes" and 1000 <= r.nodes < 1010
    r = MCTS(game, RolloutEvaluator(seed=0), seed=0).run(c4(), Limit(time=0.05))
    # how close to the deadline it stops is a benchmark (bench/bench_mcts.py), not a unit test
    assert r.stop_reason == "time" and r.seconds >= 0.05 and r.simulations > 0


def test_stop_from_another_thread_and_on_info():
    game = games.load("connect4")
    infos = []
    m = MCTS(game, RolloutEvaluator(seed=0), seed=0, on_info=infos.append, info_interval=0.05)
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", m.run(c4(), Limit(infinite=True))))
    worker.start()
    time.sleep(0.3)
    m.stop()
    worker.join(30.0)  # the stop latency is measured in bench/bench_mcts.py
    assert not worker.is_alive()
    r = out["r"]
    assert r.stop_reason == "stopped" and r.simulations > 1000
    assert len(infos) >= 3
    assert all(i.simulations <= r.simulations for i in infos)
    assert [i.simulations for i in infos] == sorted(i.simulations for i in infos)


def test_smart_pruning_and_should_stop_hook():
    game = games.load("connect4")
    r = MCTS(game, RolloutEvaluator(seed=0), seed=0, solver=False, smart_pruning=True).run(
        c4("121212"), Limit(simulations=20000))
    assert r.stop_reason == "pruned" and r.simulations < 20000 and r.best_action == 0
    best, second = sorted(r.visits)[-1], sorted(r.visits)[-2]
    assert best - second > 20000 - r.simulations
    calls = []

    def hook(visits_best, visits_second, simulations_left):
        calls.append((visits_best, visits_second, simulations_left))
        return visits_best > 300

    r = MCTS(game, PyRollouts(seed=0), seed=0, should_stop=hook).run(c4(), Limit(simulations=5000))
    assert r.stop_reason == "budget" and max(r.visits) > 300 and r.simulations < 5000
    assert calls and calls[-1][2] == 5000 - r.simulations


# ----------------------------------------------------------------------------- validation


def test_bad_arguments_raise_value_error():
    game = games.load("tictactoe")
    with pytest.raises(ValueError, match="batch_size"):
        MCTS(game, UniformEvaluator(), batch_size=0)
    with pytest.raises(ValueError, match="final_selection"):
        MCTS(game, UniformEvaluator(), final_selection="best")
    with pytest.raises(ValueError, match="evaluate"):
        MCTS(game, object())

    class ThreePlayers:
        num_players = 3
        num_actions = 3

    with pytest.raises(ValueError, match="two-player"):
        MCTS(ThreePlayers(), UniformEvaluator())
    m = MCTS(game, UniformEvaluator())
    with pytest.raises(ValueError, match="no bound"):
        m.run(ttt(), Limit())


def test_terminal_state_and_other_games():
    game = games.load("tictactoe")
    r = MCTS(game, UniformEvaluator()).run(ttt("03142"), Limit(simulations=10))   # x won
    assert r.best_action == -1 and r.is_proven
    hex_game = games.load("hex", board_size=5)
    r = MCTS(hex_game, RolloutEvaluator(seed=0), seed=0).run(hex_game.new_initial_state(), Limit(simulations=2000))
    assert r.best_action in hex_game.new_initial_state().legal_actions()
    assert not math.isnan(r.value)


def test_stop_before_run_is_honoured_and_cleared():
    game = games.load("connect4")
    for evaluator in (RolloutEvaluator(seed=0), PyRollouts()):
        m = MCTS(game, evaluator, seed=0)
        m.stop()
        r = m.run(c4(), Limit(infinite=True))  # would never end if the stop were lost
        assert r.stop_reason is StopReason.STOPPED and r.stop_reason == "stopped"
        assert r.best_action in c4().legal_actions() and r.simulations >= 1
        r = m.run(c4(), Limit(simulations=300))  # cleared when the stopped run returned
        assert r.stop_reason == StopReason.SIMULATIONS and r.simulations == 300


def test_evaluator_output_error_is_a_runtime_fault():
    class Broken:
        def evaluate(self, states):
            return np.zeros((len(states), 3), np.float32), np.zeros(len(states), np.float32)

    assert issubclass(EvaluatorOutputError, RuntimeError) and not issubclass(EvaluatorOutputError, ValueError)
    with pytest.raises(EvaluatorOutputError, match="expected"):
        MCTS(games.load("connect4"), Broken()).run(c4(), Limit(simulations=10))


class _Misfit:
    """A game no search handles: three players, or chance."""

    def __init__(self, **declared) -> None:
        self.num_actions = 3
        for k, v in declared.items():
            setattr(self, k, v)


@pytest.mark.parametrize("declared", [{"num_players": 3}, {"is_zero_sum": False}, {"has_chance": True},
                                      {"is_simultaneous": True}])
def test_every_search_raises_unsupported_game_error(declared):
    from mcts import AlphaBeta, LLMMinimax, UnsupportedGameError

    game = _Misfit(**declared)
    builders = {"MCTS": lambda: MCTS(game, UniformEvaluator()), "alpha-beta": lambda: AlphaBeta(game),
                "LLMMinimax": lambda: LLMMinimax(game, None)}
    for name, build in builders.items():
        with pytest.raises(UnsupportedGameError, match=name) as info:
            build()
        assert isinstance(info.value, ValueError)
