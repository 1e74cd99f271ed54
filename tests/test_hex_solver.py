"""Hex solver (mcts.solve_hex): proofs checked against exhaustive alpha-beta and published results.

The reference is the generic full-depth alpha-beta over the game's own rules (``AlphaBeta.run`` to
the end of the game), which shares nothing with the solver's bitboards, virtual connections or
pruning. Published results: benzene's solved 6x6 and 7x7 openings (shared/data/hex).
"""
from __future__ import annotations

import csv
import random

import numpy as np
import pytest

import games
import mcts
from mcts import MCTS, AlphaBeta, Limit, RolloutEvaluator, SolverEvaluator, UniformEvaluator, UnsolvableError, solve_hex
from mcts._hex_dfpn import HexDfpn, proof_text

from tests.conftest import DATA

OPENINGS = DATA / "hex" / "hex_openings_solved.csv"
# 6x6 openings the default run proves (each under 0.1 s of CPU here); both winners among them
FAST_6X6 = ["a1", "b6", "c2", "c4", "c6", "d3", "d5", "d6", "e1", "f6"]


def _reference(search: AlphaBeta, state) -> int:
    """+1 / -1 for the player to move, by alpha-beta to the end of the game (no Hex knowledge)."""
    remaining = state.game.board_size ** 2 - len(state.history())
    result = search.run(state, Limit(depth=max(1, remaining)))
    assert result.is_proven
    return int(result.proven_value)


def _stones(state) -> tuple[int, int, int]:
    black = white = 0
    for i, action in enumerate(state.history()):
        if i % 2 == 0:
            black |= 1 << action
        else:
            white |= 1 << action
    return black, white, len(state.history()) % 2


def _positions_4x4() -> list:
    game = games.load("hex", board_size=4)
    root = game.new_initial_state()
    out = [root]
    for a in range(16):
        first = root.clone()
        first.apply_action(a)
        out.append(first)
        for b in range(16):
            if b != a:
                second = first.clone()
                second.apply_action(b)
                out.append(second)
    return out


def _random_positions(size: int, low: int, high: int, count: int, seed: int) -> list:
    game = games.load("hex", board_size=size)
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        state = game.new_initial_state()
        for _ in range(rng.randint(low, high)):
            state.apply_action(rng.choice(state.legal_actions()))
            if state.is_terminal():
                break
        if not state.is_terminal():
            out.append(state)
    return out


def _check_against_reference(states: list) -> None:
    search = AlphaBeta(states[0].game)
    for state in states:
        expected = _reference(search, state)
        result = solve_hex(state)
        assert result.is_proven and result.proven_value == expected, state.serialize()
        assert result.value == float(expected)
        if expected == 1:
            # the move it names wins: the opponent loses (or the game ends) after it
            child = state.clone()
            child.apply_action(result.best_action)
            assert child.is_terminal() or _reference(search, child) == -1, (state.serialize(), result.best_action)


def test_4x4_after_up_to_two_moves_matches_exhaustive_search():
    _check_against_reference(_positions_4x4())


def test_random_5x5_positions_match_exhaustive_search():
    _check_against_reference(_random_positions(5, 8, 14, 25, seed=20))


def test_pruned_move_set_keeps_a_winning_move():
    # Soundness of must-play and fill-in: whenever the position is won, one of the moves the
    # knowledge keeps wins, and a position it calls decided is decided that way.
    states = _positions_4x4()[::3] + _random_positions(5, 9, 14, 15, seed=7)
    for state in states:
        search = AlphaBeta(state.game)
        black, white, to_move = _stones(state)
        verdict, moves, key = HexDfpn(state.board_size).moves(black, white, to_move)
        expected = _reference(search, state)
        if verdict != 0:
            assert verdict == expected, state.serialize()
            continue
        assert moves and set(moves) <= set(state.legal_actions())
        if expected == 1:
            wins = []
            for m in moves:
                child = state.clone()
                child.apply_action(m)
                wins.append(child.is_terminal() or _reference(search, child) == -1)
            assert any(wins), state.serialize()


@pytest.mark.parametrize("moves, x, y, killer", [
    # black to move; in both, must-play and fill-in alone keep x (checked on the solver before the rules)
    # white on b3 (y) would kill b2 (x): b2 is vulnerable for black
    ("c5 a3 b1 c2", 6, 11, True),
    # black on c3 (y) makes c4 (x) dead: c4 is dominated by c3 for black, and c3 stays
    ("d3 e4 a1 e2 b1 c5 d5 b5", 17, 12, False),
])
def test_inferior_moves_are_dropped(moves, x, y, killer):
    game = games.load("hex", board_size=5)
    solver = HexDfpn(5)
    black, white, to_move = _stones(game.deserialize(moves))
    assert to_move == 0 and x not in solver.dead_cells(black, white)
    if killer:
        assert x in solver.dead_cells(black, white | 1 << y)       # the premise: y kills x
    else:
        assert x in solver.dead_cells(black | 1 << y, white)       # the premise: black on y makes x dead
    verdict, kept, _ = solver.moves(black, white, to_move)
    assert verdict == 0 and kept and x not in kept
    if not killer:
        assert y in kept


def test_a_budget_too_large_for_a_c_long_means_no_limit():
    # found by fuzzing the solver_nodes key of a player spec: 10**20 raised OverflowError mid-game
    game = games.load("hex", board_size=4)
    state = game.deserialize("b2")
    evaluator = SolverEvaluator(UniformEvaluator(), max_nodes=10**20)
    _, values = evaluator.evaluate([state])
    assert values[0] == _reference(AlphaBeta(game), state)
    assert HexDfpn(4).solve_bits(1 << 5, 0, 1, max_nodes=10**30) == _reference(AlphaBeta(game), state)


def test_dead_cell_rule_and_connection_knowledge():
    game = games.load("hex", board_size=5)
    solver = HexDfpn(5)
    # a1 (cell 0) touches the top edge (black's) twice, then b1 and a2: with black stones on b1
    # and a2, four neighbours in a row are black, so a1 is dead
    state = game.deserialize("b1 e5 a2")
    black, white, _ = _stones(state)
    assert 0 in solver.dead_cells(black, white)
    assert solver.dead_cells(0, 0) == []
    # the centre of 5x5 joins both edges by two ziggurats: black to move wins at once, and
    # after c3 white to move has lost
    verdict, _, key = solver.moves(0, 0, 0)
    assert verdict == 1 and key == 12
    verdict, _, _ = solver.moves(1 << 12, 0, 1)
    assert verdict == -1


def test_a_position_and_its_turn_are_solved_alike():
    # the 180-degree turn keeps each player's edges: same value, same search, turned lines
    game = games.load("hex", board_size=5)
    last = 5 * 5 - 1
    for moves in (["a1", "c2"], ["b4", "d1", "e3"]):
        state = game.deserialize(" ".join(moves))
        turned = game.new_initial_state()
        for action in state.history():
            turned.apply_action(last - action)
        black, white, to_move = _stones(state)
        turned_black, turned_white, _ = _stones(turned)
        a, b = HexDfpn(5), HexDfpn(5)
        assert a.solve_bits(black, white, to_move) == b.solve_bits(turned_black, turned_white, to_move) != 0
        assert a.nodes == b.nodes
        line, decided = a.principal_variation(black, white, to_move)
        assert line and b.principal_variation(turned_black, turned_white, to_move) == ([last - m for m in line], decided)
        assert set(line).isdisjoint(state.history())
        positions, depth = a.proof_tree(black, white, to_move)
        assert positions >= 1 and depth >= 0 and b.proof_tree(turned_black, turned_white, to_move) == (positions, depth)
    assert HexDfpn(5).proof_tree(0, 0, 0) == (0, 0)   # nothing proven yet


def test_alphabeta_solve_dispatches_hex():
    game = games.load("hex", board_size=5)
    result = AlphaBeta(game).solve(game.deserialize("a1"))
    assert isinstance(result, mcts.SearchResult)
    assert result.is_proven and result.proven_value == 1 and result.stop_reason == "proven"
    assert result.pv[0] == result.best_action and result.best_action in result.actions
    assert result.nodes >= 1 and "expansions" in result.extra


def test_solve_hex_limits_and_errors():
    game = games.load("hex", board_size=7)
    state = game.deserialize("a1")
    result = solve_hex(state, max_nodes=50)
    assert not result.is_proven and result.stop_reason == "nodes" and result.value == 0.0
    with pytest.raises(ValueError):
        solve_hex(state, max_nodes=0)
    with pytest.raises(ValueError):
        solve_hex(state, time_limit=-1)
    with pytest.raises(UnsolvableError, match="8x8"):
        solve_hex(games.load("hex", board_size=9).new_initial_state())
    with pytest.raises(UnsolvableError, match="swap"):
        solve_hex(games.load("hex", board_size=5, swap=True).deserialize("a1"))
    over = games.load("hex", board_size=3).deserialize("a1 b1 a2 b2 a3")
    assert over.is_terminal()
    with pytest.raises(UnsolvableError, match="over"):
        solve_hex(over)
    with pytest.raises(UnsolvableError):
        solve_hex(games.load("connect4").new_initial_state())


def _openings(board: str) -> list[tuple[str, int]]:
    lines = [line for line in OPENINGS.read_text().splitlines() if not line.startswith("#")]
    rows = [r for r in csv.DictReader(lines) if r["board"] == board]
    assert rows and all(r["to_move"] == "white" for r in rows)
    # the value for white, the player to move after black's first move
    return [(r["first_move_black"], 1 if r["winner"] == "white" else -1) for r in rows]


def _check_openings(board: str, cells: list[str] | None = None, max_nodes: int | None = None,
                    threads: int = 1) -> int:
    """Solves the openings (each with a fresh table); every proven result must be the published one.

    Returns:
        int: how many were proven within ``max_nodes`` positions each (all of them without a limit).
    """
    size = int(board.split("x")[0])
    game = games.load("hex", board_size=size)
    assert not game.swap  # benzene's results are for Hex without the swap rule
    proven = 0
    for cell, expected in _openings(board):
        if cells is not None and cell not in cells:
            continue
        state = game.deserialize(cell)
        action = (int(cell[1:]) - 1) * size + "abcdefgh".index(cell[0])   # letter = column, number = row
        assert state.history() == [action]
        value = HexDfpn(size, threads=threads).solve_bits(1 << action, 0, 1, max_nodes=max_nodes)
        assert value in (0, expected), (board, cell, value)
        proven += value != 0
    return proven


def test_fast_6x6_openings_match_published_results():
    assert _check_openings("6x6", FAST_6X6) == len(FAST_6X6)
    # and through the public entry point
    result = solve_hex(games.load("hex", board_size=6).deserialize("c4"))
    assert result.is_proven and result.proven_value == -1


def test_two_threads_prove_what_exhaustive_search_and_the_published_results_say():
    # the threads share one table and search from the root, each proof sound whatever their order
    states = _random_positions(5, 6, 14, 25, seed=21)
    search = AlphaBeta(states[0].game)
    solver = HexDfpn(5, threads=2)
    for state in states:
        solver.reset()
        assert solver.solve_bits(*_stones(state)) == _reference(search, state), state.serialize()
    assert _check_openings("6x6", FAST_6X6, threads=2) == len(FAST_6X6)
    # a search long enough for both threads to work: both count positions, and the result is the published one
    game = games.load("hex", board_size=6)
    result = solve_hex(game.deserialize("a3"), threads=2)
    assert result.is_proven and result.proven_value == -1 and result.nodes > 1000   # black wins a3
    for bad in (0, 65, -1):
        with pytest.raises(ValueError, match="threads"):
            HexDfpn(5, threads=bad)


@pytest.mark.slow
def test_two_threads_on_every_6x6_opening_and_the_7x7_ones():
    assert _check_openings("6x6", max_nodes=100_000, threads=2) == 36
    # soundness is the point (every proven result must be the published one); 15 were proven in
    # one run (the threads make the count vary)
    assert _check_openings("7x7", max_nodes=30_000, threads=2) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 108))
def test_many_random_5x5_positions_match_exhaustive_search(seed):
    # the inferior-move rules prune inside the search too: 8 x 50 positions of 4-14 stones
    _check_against_reference(_random_positions(5, 4, 14, 50, seed=seed))


@pytest.mark.slow
def test_all_6x6_openings_match_published_results():
    # the benchmark proves all 36 within 24,000 positions each (the search is deterministic)
    assert _check_openings("6x6", max_nodes=50_000) == 36


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_7x7_openings_match_published_results():
    # the benchmark proves 29 of the 49 within 60,000 positions each (the search is deterministic);
    # about 200 s of CPU
    assert _check_openings("7x7", max_nodes=60_000) >= 29
