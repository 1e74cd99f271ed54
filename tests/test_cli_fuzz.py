"""Fuzzing the command line and the game strings with hypothesis.

* Argument parsing of every ``plytree`` subcommand, in-process through ``engine.cli.main(argv)``
  with the subcommand's ``run`` replaced by a recorder: exit status 0 or 2, never a traceback, and
  a failure is one ``error:`` line (after argparse's usage).
* The cheap subcommands (``perft``, ``analyse``, ``play`` with random players) run for real on
  hostile values and game strings under small budgets: exit status 0, 1 or 2, one ``error:`` line,
  never a traceback.
* Game strings (FENs, UCI move lists, Hex, Connect Four and tic-tac-toe move notations) through the
  parse functions of ``games.load(...)`` states: a state or a ``games.GameError`` (a ValueError
  subclass), nothing else.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
from typing import Optional

import chess
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import games
from engine import cli
from mcts import Limit

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

_BAD_NUMBERS = ["inf", "-inf", "nan", "1e999", "-1", "0", "-0", "3.5", "x", "", "99999999999999999999", "1e-9",
                "0x10", "٣", " 7", "--", "-"]


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``plytree *argv`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return int(code), out.getvalue(), err.getvalue()


def _assert_clean(argv: list[str], code: int, stdout: str, stderr: str, codes: tuple[int, ...]) -> None:
    text = stdout + stderr
    assert "Traceback" not in text, (argv, text[-2000:])
    assert code in codes, (argv, code, text[-1000:])
    if code != 0:
        errors = [line for line in stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, (argv, stderr)  # one line says what is wrong


# ---------------------------------------------------------------------------- argument parsing
def _vocabulary(name: str) -> list[str]:
    """The option strings and choices of one subcommand, plus hostile values."""
    parser = argparse.ArgumentParser()
    importlib.import_module(cli.COMMANDS[name]).add_arguments(parser)
    words = []
    for action in parser._actions:  # argparse has no public listing of its actions
        words += list(action.option_strings)
        words += [str(c) for c in (action.choices or ())]
    return words + _BAD_NUMBERS + ["1", "2", "5", "0.5", "chess", "hex", "connect4", "tictactoe", "random", "mcts", "alphabeta",
                                   "kind=mcts,simulations=-1", "kind=", "=", ",", "/no/such/file", "--no-such-flag"]


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_argument_parsing_of_every_subcommand(name, monkeypatch):
    module = importlib.import_module(cli.COMMANDS[name])
    calls: list[argparse.Namespace] = []

    def record(args: argparse.Namespace) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(module, "run", record)
    words = _vocabulary(name)

    @FUZZ
    @given(st.lists(st.one_of(st.sampled_from(words), st.text(max_size=12)), max_size=8))
    def check(tail: list[str]) -> None:
        argv = [name] + tail
        code, stdout, stderr = _run_cli(argv)
        _assert_clean(argv, code, stdout, stderr, (0, 2))

    check()
    calls.clear()
    code, _, _ = _run_cli(_VALID[name])
    assert code == 0 and len(calls) == 1  # the recorder stands in for run: the fuzz reached it too


_VALID = {"play": ["play", "tictactoe"], "analyse": ["analyse", "chess"], "perft": ["perft", "1"], "uci": ["uci"],
          "tournament": ["tournament"], "learn": ["learn", "--run", "r", "connect4"], "analysis": ["analysis"],
          "serve": ["serve"], "agent": ["agent", "game24"]}


def test_no_subcommand_and_unknown_subcommand():
    for argv in ([], ["nosuch"], ["--nosuch"], ["-h"], ["play", "-h"]):
        code, stdout, stderr = _run_cli(argv)
        _assert_clean(argv, code, stdout, stderr, (0, 2))


# ------------------------------------------------------------------ cheap subcommands, for real
_FENS = [chess.STARTING_FEN, "8/8/8/8/8/8/8/K6k w - - 0 1", "7k/6Q1/6K1/8/8/8/8/8 b - - 0 1",
         "K7/8/8/8/8/8/8/K6k w - - 0 1", "8/8/8 w - - 0 1", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1 x"]
_MOVE_STRINGS = ["", "1234", "4444444", "44444444", "zz", "0", "8", "a1", "a1b2", "a1a1", "s19", "k11", "x(0,0)", "012",
                 "0123456789", "-1", "\t", "é"]
_SMALL = ["1", "2", "0", "-1", "x", "", "1e-9", "3.5", "-0"]


def _mutated(rng_text: str, base: str) -> str:
    return base + rng_text if rng_text else base[: len(base) // 2]


@FUZZ
@given(depth=st.sampled_from(["1", "2", "0", "-3", "x", "1e3", "", "٣"]),
       where=st.one_of(st.none(), st.tuples(st.just("--fen"), st.sampled_from(_FENS) | st.text(max_size=30)),
                       st.tuples(st.just("--chess960"), st.sampled_from(["0", "959", "960", "-1", "x", "1e9"]))),
       variant=st.sampled_from([None, "chess", "chess960", "nosuch"]), divide=st.booleans(),
       backend=st.sampled_from([None, "adapter", "python-chess", "bad"]))
def test_perft_runs_on_hostile_input(depth, where, variant, divide, backend):
    argv = ["perft", depth]
    if where is not None:
        argv += list(where)
    if variant:
        argv += ["--variant", variant]
    if divide:
        argv.append("--divide")
    if backend:
        argv += ["--backend", backend]
    code, stdout, stderr = _run_cli(argv)
    _assert_clean(argv, code, stdout, stderr, (0, 1, 2))


_MOVETIMES = ["0.01", "0", "-1", "x", "", "1e-9", "inf", "nan"]


@FUZZ
@given(game=st.sampled_from(["chess", "chess960", "connect4", "hex", "tictactoe", "nosuch", ""]),
       position=st.one_of(st.none(), st.sampled_from(_FENS + _MOVE_STRINGS), st.text(max_size=20)),
       budget=st.sampled_from([["--depth", "1"], ["--depth", "0"], ["--depth", "-2"], ["--simulations", "8",
                               "--player", "mcts"], ["--simulations", "-1", "--player", "mcts"],
                               ["--movetime"], ["--depth", "1", "--top", "-3"], ["--depth", "x"],
                               ["--player", "kind=mcts,simulations=x"], ["--player", "nonsense"]]),
       movetime=st.sampled_from(_MOVETIMES), size=st.sampled_from([None, "3", "19", "2", "99", "x", "-5"]))
def test_analyse_runs_on_hostile_input(game, position, budget, movetime, size):
    if budget == ["--movetime"]:
        budget = ["--player", "alphabeta"] + budget
    argv = ["analyse", game] + ([position] if position is not None else []) + budget
    if budget[-1] == "--movetime":
        argv.append(movetime)
    if size is not None and game == "hex":  # other games: see test_board_size_for_a_game_without_one
        argv += ["--board-size", size]
    code, stdout, stderr = _run_cli(argv)
    _assert_clean(argv, code, stdout, stderr, (0, 1, 2))


@pytest.mark.parametrize("name", ["chess", "chess960", "connect4", "tictactoe"])
def test_board_size_for_a_game_without_one(name):
    with pytest.raises(games.GameError):
        games.load(name, board_size=3)


@FUZZ
@given(game=st.sampled_from(["connect4", "hex", "tictactoe", "chess", "nosuch"]),
       players=st.lists(st.sampled_from(["random", "random", "kind=random", "kind=nonsense", "kind=mcts,simulations=-1",
                                         "kind=mcts,simulations=2", "kind=", "", "=,="]), max_size=3),
       start=st.one_of(st.none(), st.sampled_from(_MOVE_STRINGS + _FENS), st.text(max_size=12)),
       seed=st.sampled_from([None, "0", "-1", "x", "99999999999999999999999"]),
       size=st.sampled_from([None, "3", "4", "2", "20", "x"]))
def test_play_runs_on_hostile_input(game, players, start, seed, size):
    if not players or any("random" not in p and "nonsense" not in p and "=" not in p for p in players):
        players = ["random", "random"]  # never a human player: it would read stdin
    argv = ["play", game] + players + ["--quiet"]
    if start is not None:
        argv += ["--start", start]
    if seed is not None:
        argv += ["--seed", seed]
    if size is not None and game == "hex":
        argv += ["--board-size", size]
    if game == "chess" and not any("nonsense" in p or "simulations=-1" in p for p in players):
        argv[2:2 + len(players)] = ["random", "kind=nonsense"]  # a chess game of random moves is long: fail fast
    code, stdout, stderr = _run_cli(argv)
    _assert_clean(argv, code, stdout, stderr, (0, 1, 2))


def test_analyse_depth_with_an_mcts_player_ends():
    import subprocess
    import sys

    from tests.uci_process import REPO

    try:
        proc = subprocess.run([sys.executable, "-m", "engine.cli", "analyse", "hex", "--depth", "1"], cwd=REPO,
                              capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("plytree analyse hex --depth 1 ran for more than 10 s")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_limit_rejects_non_finite_time(value):
    with pytest.raises(ValueError):
        Limit(time=value)


# ------------------------------------------------------------------------------ game strings
_GAME_PARAMS: list[tuple[str, dict]] = [("chess", {}), ("chess960", {}), ("connect4", {}), ("tictactoe", {}),
                                        ("hex", {}), ("hex", {"board_size": 3}), ("hex", {"board_size": 19})]


def _start(game, name: str, seed: int):
    """The start position; Chess960's is random unless numbered (hypothesis needs the same data each run)."""
    return game.new_initial_state(seed % 960) if name == "chess960" else game.new_initial_state()


def _valid_strings(name: str, params: dict, seed: int) -> list[str]:
    """Serialised positions and action texts of a short random game (the raw material to mutate)."""
    import random

    rng = random.Random(seed)
    state = _start(games.load(name, **params), name, seed)
    texts = [state.serialize()]
    for _ in range(rng.randint(0, 12)):
        if state.is_terminal():
            break
        action = rng.choice(state.legal_actions())
        texts.append(state.action_to_string(action))
        state.apply_action(action)
        texts.append(state.serialize())
    return texts


def _mutate(text: str, data: st.DataObject) -> str:
    chars = list(text)
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.integers(0, 2))
        pos = data.draw(st.integers(0, len(chars)))
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, data.draw(st.sampled_from(list("abcdefghijks0123456789/ -()xoKQkqpP\t\x00é"))))
        else:
            chars[pos:pos] = list(data.draw(st.text(max_size=4)))
    return "".join(chars)


def _parse_or_typed_error(call, *args) -> Optional[object]:
    try:
        return call(*args)
    except games.GameError:
        return None


@pytest.mark.parametrize("name,params", _GAME_PARAMS, ids=[f"{n}{p.get('board_size', '')}" for n, p in _GAME_PARAMS])
def test_game_strings_give_states_or_typed_errors(name, params):
    game = games.load(name, **params)

    @FUZZ
    @given(data=st.data(), seed=st.integers(0, 10_000))
    def check(data: st.DataObject, seed: int) -> None:
        texts = _valid_strings(name, params, seed)
        text = _mutate(data.draw(st.sampled_from(texts)), data)
        state = _parse_or_typed_error(game.deserialize, text)
        if state is None:
            state = _start(game, name, seed)
        # a move list: each move text parsed in turn, applied while legal
        for _ in range(data.draw(st.integers(0, 6))):
            if state.is_terminal():
                break
            move_text = _mutate(data.draw(st.sampled_from(texts)), data) if data.draw(st.booleans()) else \
                state.action_to_string(data.draw(st.sampled_from(state.legal_actions())))
            action = _parse_or_typed_error(state.string_to_action, move_text)
            if action is None:
                continue
            assert isinstance(action, int)
            _parse_or_typed_error(state.apply_action_checked, action)
        number = data.draw(st.one_of(st.integers(-10, 10_000), st.integers(-2**70, 2**70)))
        _parse_or_typed_error(state.clone().apply_action_checked, number)

    check()


@FUZZ
@given(name=st.text(max_size=12) | st.sampled_from(games.game_names()))
def test_game_loading_gives_games_or_typed_errors(name):
    _parse_or_typed_error(lambda: games.load(name))


@FUZZ
@given(size=st.one_of(st.integers(-5, 40), st.sampled_from([2**70, 3.5, "11"])))
def test_hex_board_size_gives_a_game_or_a_typed_error(size):
    _parse_or_typed_error(lambda: games.load("hex", board_size=size))
