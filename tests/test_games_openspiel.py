"""The C games against OpenSpiel, move by move over random games: tic-tac-toe, Connect Four, Hex 5/7/11."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyspiel  # open_spiel is a dev dependency: the reference must be there, not skipped
import pytest

import games


def _ttt_text(text: str) -> str:
    # OpenSpiel writes "x(1,2)", as ours does
    return text


def _c4_text(text: str) -> str:
    # OpenSpiel writes "x3" (player, column from 0); ours is Pons' digit, the column from 1
    return str(int(text[1:]) + 1)


def _same_text(text: str) -> str:
    return text


def _cross_check(ours, theirs, num_games: int, seed: int, os_text: Callable[[str], str]) -> dict[str, int]:
    """Plays ``num_games`` random games in both implementations at once and asserts that they agree
    at every step; returns counts of the outcomes (so that the caller can check both sides won)."""
    rng = np.random.default_rng(seed)
    outcomes = {"p0": 0, "p1": 0, "draw": 0}
    for game_index in range(num_games):
        s = ours.new_initial_state()
        o = theirs.new_initial_state()
        while True:
            legal = s.legal_actions()
            where = f"game {game_index}, moves {s.history()}"
            assert legal == o.legal_actions(), where
            assert s.is_terminal() == o.is_terminal(), where
            assert s.current_player() == o.current_player(), where
            assert s.returns() == o.returns(), where
            if s.is_terminal():
                break
            a = legal[int(rng.random() * len(legal))]
            assert s.action_to_string(a) == os_text(o.action_to_string(o.current_player(), a)), where
            s.apply_action(a)
            o.apply_action(a)
        r = s.returns()[0]
        outcomes["p0" if r > 0 else "p1" if r < 0 else "draw"] += 1
    return outcomes


def test_tictactoe_matches_openspiel():
    out = _cross_check(games.load("tictactoe"), pyspiel.load_game("tic_tac_toe"), 1000, 1, _ttt_text)
    assert min(out.values()) > 50  # wins for both and draws were all exercised


def test_connect4_matches_openspiel():
    out = _cross_check(games.load("connect4"), pyspiel.load_game("connect_four"), 1000, 2, _c4_text)
    assert out["p0"] > 300 and out["p1"] > 300


def test_connect4_draws_match_openspiel():
    # random games rarely fill the board (about 1 in 400): find drawn games with our rules, then
    # replay them move by move in OpenSpiel
    g, theirs = games.load("connect4"), pyspiel.load_game("connect_four")
    rng = np.random.default_rng(3)
    draws = 0
    while draws < 5:
        s = g.new_initial_state()
        while not s.is_terminal():
            legal = s.legal_actions()
            s.apply_action(legal[int(rng.random() * len(legal))])
        if s.returns() != [0.0, 0.0]:
            continue
        draws += 1
        assert len(s.history()) == 42
        o = theirs.new_initial_state()
        for a in s.history():
            assert not o.is_terminal()
            o.apply_action(a)
        assert o.is_terminal() and list(o.returns()) == [0.0, 0.0]


@pytest.mark.parametrize("size, num_games", [(5, 1000), (7, 1000), (11, 1000)])
def test_hex_matches_openspiel(size: int, num_games: int):
    out = _cross_check(games.load("hex", board_size=size), pyspiel.load_game(f"hex(board_size={size})"),
                       num_games, 10 + size, _same_text)
    assert out["draw"] == 0 and out["p0"] > num_games // 4 and out["p1"] > num_games // 4


def test_hex_swap_matches_openspiel():
    ours = games.load("hex", board_size=5, swap=True)
    theirs = pyspiel.load_game("hex(board_size=5,swap=True)")
    _cross_check(ours, theirs, 400, 99, _same_text)
    # the swap itself, forced: the first stone moves to its mirror cell and changes colour
    rng = np.random.default_rng(5)
    for first in range(25):
        s, o = ours.new_initial_state(), theirs.new_initial_state()
        for a in (first, 25):
            s.apply_action_checked(a)
            o.apply_action(a)
        while not s.is_terminal():
            assert s.legal_actions() == o.legal_actions() and s.current_player() == o.current_player()
            legal = s.legal_actions()
            a = legal[int(rng.random() * len(legal))]
            s.apply_action(a)
            o.apply_action(a)
        assert o.is_terminal() and s.returns() == o.returns()
