"""The package's foundation: tic-tac-toe rules, play_game, players, the CLI and the README example."""
from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import games
from engine import Decision, HumanPlayer, RandomPlayer, play_game
from mcts import Limit

ROOT = Path(__file__).resolve().parents[1]


def test_tictactoe_win_draw_and_players():
    g = games.load("tic_tac_toe")
    s = g.deserialize("0123456")  # x: 0 2 4 6 -> 2-4-6 diagonal
    assert s.is_terminal() and s.returns() == [1.0, -1.0]
    assert s.current_player() == games.TERMINAL_PLAYER and s.legal_actions() == []
    draw = g.deserialize("012435768")
    assert draw.is_terminal() and draw.returns() == [0.0, 0.0]


def test_tictactoe_errors_keep_syntax_apart_from_legality():
    s = games.load("tictactoe").deserialize("4")
    with pytest.raises(games.IllegalActionError):
        s.apply_action_checked(4)
    with pytest.raises(games.ActionOutOfRangeError):
        s.apply_action_checked(9)
    with pytest.raises(games.InvalidActionError):
        s.string_to_action("centre")
    with pytest.raises(games.InvalidStateError):
        games.load("tictactoe").deserialize("44")
    with pytest.raises(games.UnknownGameError):
        games.load("go")
    assert s.serialize() == "4"  # nothing was lost


def test_play_game_records_and_forfeits():
    g = games.load("tictactoe")
    rec = play_game(g, [RandomPlayer(seed=3), RandomPlayer(seed=4)], limits=Limit(simulations=1))
    assert rec.reason == "terminal" and len(rec.actions) == len(rec.moves) == len(rec.seconds)
    replay = g.deserialize("".join(map(str, rec.actions)))
    assert replay.is_terminal() and replay.returns() == rec.returns

    class Cheater:
        name = "cheater"

        def choose(self, state, limit):
            return Decision(state.history()[0] if state.history() else 99)

        def new_game(self):
            pass

    rec = play_game(g, [Cheater(), RandomPlayer(seed=1)], limits=Limit(simulations=1))
    assert rec.returns == [-1.0, 1.0] and rec.reason.startswith("illegal move by cheater")

    class Crasher(Cheater):
        name = "crasher"

        def choose(self, state, limit):
            raise RuntimeError("boom")

    rec = play_game(g, [RandomPlayer(seed=1), Crasher()], limits=Limit(simulations=1))
    assert rec.returns == [1.0, -1.0] and "boom" in rec.reason


def test_human_player_explains_bad_input_and_asks_again():
    s = games.load("tictactoe").deserialize("4")
    out = io.StringIO()
    human = HumanPlayer(stdin=io.StringIO("nonsense\n4\n0\n"), stdout=out)
    assert human.choose(s, Limit()).action == 0
    text = out.getvalue()
    assert "cannot read" in text and "illegal" in text


def test_limit_validates():
    with pytest.raises(ValueError):
        Limit(simulations=-1)
    with pytest.raises(TypeError):
        Limit(time="fast")
    assert Limit().is_unbounded and not Limit(nodes=5).is_unbounded


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_cli_play_random_vs_random():
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "play", "tictactoe", "random", "random", "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "result:" in out.stdout and "moves:" in out.stdout


def test_cli_reports_bad_input_clearly():
    out = subprocess.run([sys.executable, "-m", "engine.cli", "play", "nogame", "random", "random"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "unknown game 'nogame'" in out.stderr


def test_cli_analyse_finds_the_connect4_win():
    # x has 3 in the bottom row (columns 2-4) with both ends open: column 1 or 5 wins at once
    out = subprocess.run([sys.executable, "-m", "engine.cli", "analyse", "connect4", "3344",
                          "--player", "mcts", "--simulations", "3000"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    best = re.search(r"best move: (\d)", out.stdout).group(1)
    assert best in ("2", "5") and "proven win" in out.stdout
