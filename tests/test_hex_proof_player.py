"""The Hex MCTS player that asks the solver at the root first (engine/_hex_proof_player.py)."""
from __future__ import annotations

import random

import pytest

import games
from engine._factory import make_player
from engine._hex_proof_player import ProofFirstPlayer, SolverOptionError, solver_options
from engine._players import SearchPlayer
from engine._tournament_players import PlayerSpecError, parse_player
from mcts import AlphaBeta, Limit, SolverEvaluator


def _full_depth_value(state) -> int:
    """The exact value for the player to move, by the generic alpha-beta to the end (no Hex knowledge)."""
    remaining = len(state.legal_actions())
    return AlphaBeta(state.game).run(state, Limit(depth=remaining)).proven_value


@pytest.fixture(scope="module")
def won() -> list:
    return _won_positions(6)


def _won_positions(count: int, stones: int = 11, seed: int = 3) -> list:
    """Random 5x5 positions won for the player to move, where at most a third of the moves win."""
    game = games.load("hex", board_size=5)
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        state = game.new_initial_state()
        for _ in range(stones):
            state.apply_action(rng.choice(state.legal_actions()))
        if state.is_terminal() or _full_depth_value(state) != 1:
            continue
        winning = 0
        for a in state.legal_actions():
            child = state.clone()
            child.apply_action(a)
            winning += child.is_terminal() or _full_depth_value(child) == -1
        if winning * 3 <= len(state.legal_actions()):
            out.append(state)
    return out


def _wins(state, action: int) -> bool:
    child = state.clone()
    child.apply_action(action)
    return child.is_terminal() or _full_depth_value(child) == -1


def test_proven_positions_are_played_with_a_winning_move(won):
    positions = won
    game = positions[0].game
    player = make_player("kind=mcts,evaluator=uniform,simulations=1", game)
    assert isinstance(player, ProofFirstPlayer)
    plain = make_player("kind=mcts,evaluator=uniform,simulations=1,solver_time=0,solver_nodes=0", game)
    assert isinstance(plain, SearchPlayer)
    plain_right = 0
    for state in positions:
        decision = player.choose(state, player.default_limit)
        assert decision.result is not None and decision.result.is_proven and decision.result.proven_value == 1
        assert _wins(state, decision.action)
        plain_right += _wins(state, plain.choose(state, plain.default_limit).action)
    assert plain_right < len(positions)   # one simulation on uniform priors does not find them all
    assert player.proofs == len(positions)


def test_a_proven_loss_is_reported_and_searched(won):
    game = games.load("hex", board_size=5)
    state = won[1]
    # after a winning move the opponent is lost: the player still moves, and says the loss is proven
    for a in state.legal_actions():
        child = state.clone()
        child.apply_action(a)
        if not child.is_terminal() and _full_depth_value(child) == -1:
            break
    player = make_player("kind=mcts,simulations=20", game)
    decision = player.choose(child, player.default_limit)
    assert decision.action in child.legal_actions()
    assert decision.result.is_proven and decision.result.proven_value == -1 and decision.result.value == -1.0
    assert decision.result.simulations == 20    # the search ran for the move


def test_solver_leaves_share_the_table_with_the_root(won):
    game = games.load("hex", board_size=5)
    player = make_player("kind=mcts,simulations=16,solver_time=0.5,solver_nodes=32", game)
    assert isinstance(player, ProofFirstPlayer) and player.root_time == 0.5
    shared = player._shared
    assert isinstance(shared, SolverEvaluator) and shared.max_nodes == 32
    assert player.search.evaluator is shared
    state = won[2]
    assert _wins(state, player.choose(state, player.default_limit).action)
    assert 5 in shared._solvers   # the root search went through the leaves' table


def test_defaults_by_game_and_board():
    assert solver_options({}, games.load("hex", board_size=7)).root_time == 1.0
    assert solver_options({}, games.load("hex", board_size=8)).leaf_nodes == 64
    assert solver_options({"solver_nodes": 0}, games.load("hex", board_size=8)).leaf_nodes == 0
    assert solver_options({}, games.load("hex", board_size=9)).root_time == 0.0   # beyond the solver: off
    assert solver_options({}, games.load("connect4")).root_time == 0.0
    assert isinstance(make_player("kind=mcts,simulations=4", games.load("hex")), SearchPlayer)   # 11x11
    assert isinstance(make_player("default", games.load("hex", board_size=7)), ProofFirstPlayer)
    spec = parse_player("kind=mcts,solver_time=0.25,solver_nodes=8")
    assert spec.options["solver_time"] == 0.25 and "solver_time" not in spec.search_options()
    assert parse_player(spec.describe()) == spec


@pytest.mark.parametrize("text, words", [
    ("kind=mcts,solver_time=-1", "solver_time must be a non-negative number"),
    ("kind=mcts,solver_time=soon", "solver_time must be a non-negative number"),
    ("kind=mcts,solver_nodes=2.5", "solver_nodes must be a non-negative integer"),
    ("kind=mcts,solver_nodes=true", "solver_nodes must be a non-negative integer"),
])
def test_bad_values_are_refused(text, words):
    with pytest.raises(PlayerSpecError, match=words):
        make_player(text, games.load("hex", board_size=5))


@pytest.mark.parametrize("game_name, params", [("hex", {"board_size": 9}), ("connect4", {})])
def test_solver_keys_where_the_solver_does_not_reach(game_name, params):
    with pytest.raises(PlayerSpecError, match="Hex boards up to 8x8"):
        make_player("kind=mcts,solver_time=1", games.load(game_name, **params))
    # turning it off is always allowed
    off = make_player("kind=mcts,solver_time=0,solver_nodes=0", games.load(game_name, **params))
    assert isinstance(off, SearchPlayer) and not isinstance(off.search.evaluator, SolverEvaluator)


def test_root_budget_takes_a_share_of_move_time_and_clock():
    game = games.load("hex", board_size=5)
    player = make_player("kind=mcts,simulations=4", game)
    state = game.new_initial_state()   # black (player 0) to move: its clock is wtime
    assert player._budget(state, Limit(simulations=4)) == 1.0
    assert player._budget(state, Limit(time=0.4)) == pytest.approx(0.2)
    assert player._budget(state, Limit(wtime=3.0, btime=300.0)) == pytest.approx(0.1)
    with pytest.raises(SolverOptionError):
        ProofFirstPlayer(player.player, root_time=0)


def test_solver_evaluator_prove_names_states_it_does_not_take():
    solver = SolverEvaluator(__import__("mcts").UniformEvaluator())
    assert solver.prove(games.load("connect4").new_initial_state()) is None
    swap = games.load("hex", board_size=5, swap=True)
    assert solver.prove(swap.new_initial_state()) is None      # the swap still open
    state = games.load("hex", board_size=5).deserialize("c3")
    verdict, line = solver.prove(state, max_nodes=100_000)
    assert verdict == -1 and line and line[0] in state.legal_actions()   # the centre opening wins on 5x5
