"""``games.load("openspiel:<name>")``: the adapter against pyspiel itself, move by move, on eleven
games of different kinds; the searches and the command line on them; chance, refusals and errors."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyspiel  # open_spiel is a dev dependency: the reference must be there, not skipped
import pytest

import games
import mcts
from games.openspiel import OpenSpielMissingError, UnsupportedOpenSpielGameError

ROOT = Path(__file__).resolve().parents[1]

# (name for games.load, params, random games to cross-check)
GAMES = [
    ("openspiel:breakthrough", {"rows": 6, "columns": 6}, 4),
    ("openspiel:othello", {}, 3),
    ("openspiel:checkers", {}, 2),
    ("openspiel:go", {"board_size": 9}, 2),
    ("openspiel:clobber", {}, 6),
    ("openspiel:amazons", {"board_size": 6}, 2),
    ("openspiel:nim", {}, 20),
    ("openspiel:backgammon", {}, 2),
    ("openspiel:hex", {"board_size": 5}, 10),
    ("openspiel:connect_four", {}, 10),
    ("openspiel:kuhn_poker", {}, 30),
    ("openspiel:tic_tac_toe", {}, 20),
]
DETERMINISTIC = [g for g in GAMES if g[0] not in ("openspiel:backgammon", "openspiel:kuhn_poker")]


def _pyspiel_game(name: str, params: dict):
    return pyspiel.load_game(name.split(":", 1)[1], params)


@pytest.mark.parametrize("name,params,num_games", GAMES, ids=[g[0].split(":")[1] for g in GAMES])
def test_random_games_agree_with_pyspiel(name, params, num_games):
    ours = games.load(name, chance_seed=7, **params)
    theirs = _pyspiel_game(name, params)
    scale = max(abs(theirs.min_utility()), abs(theirs.max_utility()))
    rng = np.random.default_rng(11)
    lengths = []
    for game_index in range(num_games):
        s = ours.new_initial_state()
        o = theirs.new_initial_state()
        while True:
            # replay what the adapter sampled at chance nodes, so that both stand in one position
            full = [int(t) for t in s.serialize().split()]
            for a in full[len(o.full_history()):]:
                assert o.is_chance_node(), f"game {game_index}: the adapter played {a} at a player node"
                assert a in dict(o.chance_outcomes())
                o.apply_action(a)
            where = f"{name} game {game_index}, history {s.serialize()}"
            assert not o.is_chance_node(), where
            assert s.is_terminal() == o.is_terminal(), where
            assert s.returns() == pytest.approx([r / scale for r in o.returns()]), where
            if s.is_terminal():
                assert s.current_player() == games.TERMINAL_PLAYER and s.legal_actions() == []
                break
            assert s.current_player() == o.current_player(), where
            legal = s.legal_actions()
            assert legal == o.legal_actions(), where
            assert np.flatnonzero(s.legal_actions_mask()).tolist() == legal
            obs = s.observation()
            assert obs.shape == ours.observation_shape and obs.dtype == np.float32
            assert obs.ravel().tolist() == pytest.approx(o.observation_tensor(o.current_player()))
            a = legal[int(rng.integers(len(legal)))]
            text = s.action_to_string(a)
            assert text == o.action_to_string(o.current_player(), a), where
            assert s.string_to_action(text) == a
            s.apply_action(a)
            o.apply_action(a)
        lengths.append(len(s.history()))
        again = ours.deserialize(s.serialize())
        assert again.hash() == s.hash() and again.returns() == s.returns() and again.history() == s.history()
    assert max(lengths) > 1


def test_hash_follows_the_history_and_clone_is_independent():
    g = games.load("openspiel:breakthrough", rows=6, columns=6)
    s = g.new_initial_state()
    keys = {s.hash()}
    c = s.clone()
    for _ in range(6):
        s.apply_action(s.legal_actions()[0])
        keys.add(s.hash())
    assert len(keys) == 7 and c.history() == [] and c.hash() == g.new_initial_state().hash()
    assert all(0 <= k < 1 << 64 for k in keys)
    # the key is stable across processes (no Python hash randomisation)
    code = ("import games; s = games.load('openspiel:breakthrough', rows=6, columns=6).new_initial_state();"
            f"[s.apply_action(s.legal_actions()[0]) for _ in range(6)]; print(s.hash())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert int(out.stdout) == s.hash()


def test_pickle_and_reload_by_name():
    g = games.load("openspiel:go(board_size=9)", komi=6.5)
    assert g.name == "openspiel:go" and g.params == {"board_size": 9, "komi": 6.5}
    assert games.load(g.name, **g.params) == g
    s = g.new_initial_state()
    for a in (40, 41, 30):
        s.apply_action_checked(a)
    t = pickle.loads(pickle.dumps(s))
    assert t.game == g and t.serialize() == s.serialize() and t.hash() == s.hash()
    assert str(t.pyspiel_state) == str(s.pyspiel_state)


def test_chance_is_sampled_by_the_seed_and_follows_the_probabilities():
    g = games.load("openspiel:backgammon", chance_seed=3)
    a, b = g.new_initial_state(), g.new_initial_state()
    for _ in range(6):
        move = a.legal_actions()[0]
        a.apply_action(move)
        b.apply_action(move)
    assert a.serialize() == b.serialize()  # one seed, one history: the same rolls
    starts = {games.load("openspiel:backgammon", chance_seed=k).new_initial_state().serialize() for k in range(40)}
    assert len(starts) > 10  # the first roll (30 outcomes) changes with the seed
    # Kuhn poker deals two of three cards: each of the six deals about 1/6 of the time
    counts: dict[str, int] = {}
    for k in range(1200):
        deal = games.load("openspiel:kuhn_poker", chance_seed=k).new_initial_state().serialize()
        counts[deal] = counts.get(deal, 0) + 1
    assert len(counts) == 6 and all(140 < c < 260 for c in counts.values()), counts


def _play_first_moves(state, n):
    for _ in range(n):
        state.apply_action(state.legal_actions()[0])
    return state


def test_copies_roll_with_their_own_seed_and_histories_replay_the_rolls():
    g = games.load("openspiel:backgammon", chance_seed=11)
    original = g.new_initial_state()
    copy = original.clone()
    assert copy.serialize() == original.serialize()  # the first roll is part of the position
    untouched = _play_first_moves(g.new_initial_state(), 8)
    _play_first_moves(original, 8)
    # cloning does not change the original's rolls; the copy rolls with another seed
    assert original.serialize() == untouched.serialize()
    copies = [_play_first_moves(original.clone(), 8).serialize() for _ in range(3)]
    assert len(set(copies)) == 1  # every copy of one state meets the same rolls
    assert copies[0] != _play_first_moves(original, 8).serialize()  # eight rolls: the copy's differ
    # history() carries the rolls: replayed on a copy of the start it gives the same position
    history = original.history()
    n = g.num_actions
    assert any(a >= n for a in history) and all(a < n + g.max_chance_outcomes for a in history)
    replay = g.new_initial_state().clone()
    for a in history[1:]:  # the start's own roll (history[0]) is already on the copy
        replay.apply_action(a)
    assert replay.hash() == original.hash() and replay.serialize() == original.serialize()
    texts = [g.new_initial_state().action_to_string(history[0])]
    assert texts[0].startswith("chance: ")


def test_copies_do_not_see_the_rolls_of_the_game():
    # over many states, the copy's next roll differs from the game's about as often as two
    # independent rolls differ (30 first-roll outcomes; 21 distinct rolls later)
    differ = 0
    for k in range(60):
        g = games.load("openspiel:backgammon", chance_seed=k)
        s = g.new_initial_state()
        c = s.clone()
        a = s.legal_actions()[0]
        s.apply_action(a)
        c.apply_action(a)
        differ += s.serialize() != c.serialize()
    assert differ > 40


def test_mcts_with_tree_reuse_plays_a_chance_game_through_the_game_loop():
    from engine._play import play_game
    from engine._players import SearchPlayer

    g = games.load("openspiel:backgammon", chance_seed=2)
    # uniform priors and value 0: the tree and its reuse are what is tested, not playing strength
    players = [SearchPlayer(mcts.MCTS(g, mcts.UniformEvaluator(), seed=i, tree_reuse=True), f"m{i}",
                            mcts.Limit(simulations=16)) for i in range(2)]
    record = play_game(g, players, max_moves=24)
    assert record.reason in ("max length", "terminal"), record.reason
    assert len(record.actions) >= 20


def test_backgammon_returns_are_scaled_into_unit_range():
    g = games.load("openspiel:backgammon", scoring_type="full_scoring", chance_seed=1)
    rng = np.random.default_rng(0)
    s = g.new_initial_state()
    while not s.is_terminal():
        legal = s.legal_actions()
        s.apply_action(legal[int(rng.integers(len(legal)))])
    r = s.returns()
    assert r[0] == -r[1] and abs(r[0]) in (pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0)


def _search_plays(search, state, limit: "mcts.Limit", moves: int) -> list:
    """Lets ``search`` choose ``moves`` moves from ``state``, checking each is legal; the results."""
    results = []
    for _ in range(moves):
        if state.is_terminal():
            break
        result = search.run(state, limit)
        assert result.best_action in state.legal_actions()
        state.apply_action_checked(result.best_action)
        results.append(result)
    return results


@pytest.mark.parametrize("name,params,_n", GAMES, ids=[g[0].split(":")[1] for g in GAMES])
def test_mcts_plays_legal_moves(name, params, _n):
    g = games.load(name, chance_seed=5, **params)
    search = mcts.MCTS(g, mcts.RolloutEvaluator(seed=1), seed=1, batch_size=4)
    results = _search_plays(search, g.new_initial_state(), mcts.Limit(simulations=12), 3)
    assert results
    for result in results:
        assert sum(result.visits) >= 11 or result.is_proven  # the solver may end small trees early


@pytest.mark.parametrize("name,params,_n", DETERMINISTIC, ids=[g[0].split(":")[1] for g in DETERMINISTIC])
def test_alphabeta_plays_legal_moves(name, params, _n):
    g = games.load(name, **params)
    assert len(_search_plays(mcts.AlphaBeta(g), g.new_initial_state(), mcts.Limit(depth=2), 2)) == 2


def test_alphabeta_finds_the_nim_win():
    # misere Nim with piles 1 and 2: taking the whole pile of 2 leaves the opponent the last stick
    g = games.load("openspiel:nim", pile_sizes="1;2")
    s = g.new_initial_state()
    result = mcts.AlphaBeta(g).run(s, mcts.Limit(depth=4))
    assert result.is_proven and result.proven_value == 1
    assert s.action_to_string(result.best_action) == "pile:2, take:2;"


@pytest.mark.parametrize("name", ["openspiel:kuhn_poker", "openspiel:backgammon", "openspiel:leduc_poker"])
def test_alphabeta_refuses_chance_and_hidden_information(name):
    g = games.load(name)
    assert not g.is_deterministic
    with pytest.raises(mcts.UnsupportedGameError, match="chance, hidden information"):
        mcts.AlphaBeta(g)


def test_load_errors_are_clear(monkeypatch):
    with pytest.raises(UnsupportedOpenSpielGameError, match="simultaneous moves"):
        games.load("openspiel:goofspiel")
    with pytest.raises(games.UnknownGameError, match="no game 'no_such_game'"):
        games.load("openspiel:no_such_game")
    with pytest.raises(ValueError, match="OpenSpiel rejects"):
        games.load("openspiel:go", board_size="huge")
    with pytest.raises(ValueError, match="chance_seed"):
        games.load("openspiel:backgammon", chance_seed="x")
    monkeypatch.setitem(sys.modules, "pyspiel", None)  # as if open_spiel were not installed
    with pytest.raises(OpenSpielMissingError, match=r"plytree\[openspiel\]"):
        games.load("openspiel:nim")


def test_move_errors_are_typed():
    g = games.load("openspiel:tic_tac_toe")
    s = g.new_initial_state()
    s.apply_action_checked(4)
    with pytest.raises(games.IllegalActionError):
        s.apply_action_checked(4)
    with pytest.raises(games.ActionOutOfRangeError):
        s.apply_action_checked(9)
    with pytest.raises(games.IllegalActionError):
        s.string_to_action("4")
    with pytest.raises(games.InvalidActionError):
        s.string_to_action("middle please")
    assert s.string_to_action("o(0,0)") == 0
    with pytest.raises(games.InvalidStateError, match="illegal"):
        g.deserialize("4 4")
    with pytest.raises(games.InvalidStateError, match="not an action number"):
        g.deserialize("4 x")


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_cli_play_and_analyse_accept_openspiel_games():
    out = _cli("play", "openspiel:breakthrough(rows=5,columns=5)", "mcts", "alphabeta", "--simulations", "8",
               "--depth", "1", "--quiet", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert "result:" in out.stdout and "wins" in out.stdout
    out = _cli("play", "openspiel:backgammon", "random", "mcts", "--simulations", "4", "--quiet", "--seed", "2")
    assert out.returncode == 0, out.stderr
    assert "result:" in out.stdout
    out = _cli("analyse", "openspiel:othello", "--player", "mcts", "--simulations", "24")
    assert out.returncode == 0, out.stderr
    assert "best move:" in out.stdout and "visits" in out.stdout
    out = _cli("analyse", "openspiel:kuhn_poker", "--player", "alphabeta", "--depth", "1")
    assert out.returncode == 1 and "hidden information" in out.stderr


def test_cli_tournament_accepts_openspiel_games(tmp_path):
    out = _cli("tournament", "--game", "openspiel:clobber", "--player", "name=a,kind=mcts,simulations=6",
               "--player", "name=b,kind=alphabeta,depth=1", "--rounds", "1", "--openings", "none",
               "--out", str(tmp_path / "t"), "--no-progress", "--no-plot")
    assert out.returncode == 0, out.stderr
    assert "a vs b" in out.stdout
    records = [json.loads(line) for line in (tmp_path / "t" / "games.jsonl").read_text().splitlines() if line.strip()]
    assert len(records) == 2 and {r["game"] for r in records} == {"openspiel:clobber"}
    g = games.load("openspiel:clobber")
    for r in records:  # every recorded game replays legally to its recorded result
        s = g.deserialize(r["start"])
        for a in r["actions"]:
            s.apply_action_checked(a)
        assert s.is_terminal() and s.returns() == r["returns"]


def test_cli_learn_runs_one_generation_on_an_openspiel_game(tmp_path):
    run = tmp_path / "run"
    out = _cli("learn", "openspiel:tic_tac_toe", "--run", str(run), "--generations", "1", "--games", "2",
               "--simulations", "4", "--parallel-games", "2", "--train-steps", "2", "--batch-size", "8",
               "--blocks", "1", "--channels", "8", "--gate-games", "2", "--gate-simulations", "2", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["generation"] == 1
    assert list((run / "onnx").glob("*.onnx"))
