"""Random playouts per second: plytree's C games beside OpenSpiel's same games, in one run.

Run: ``pytest bench/bench_games.py --benchmark-enable -p no:cacheprovider -s``; the last test prints the
table of playouts per second and the ratios (ours / OpenSpiel) from the best round of each contender in
this run. On a machine shared with other jobs add ``--benchmark-timer time.process_time`` (CPU time of
this process: all contenders are single-threaded, so it leaves out the time spent waiting for a core).

Contenders, each playing uniformly random moves from the initial position to the end:

* ``plytree C loop``: ``state.random_rollouts(n, seed)``: n playouts in C without the GIL (Connect Four
  and Hex; it uses the game's own bitboard / union-find playout).
* ``plytree per call``: ``state.random_rollout(seed)`` called from a Python loop (one clone and one
  Python call per playout, as a search written in Python would pay).
* ``OpenSpiel Python loop``: clone the pyspiel state, ``apply_action(random.choice(legal_actions()))``
  until terminal, as a user of pyspiel would write it.
* ``OpenSpiel C++ rollouts``: OpenSpiel's C++ ``RandomRolloutEvaluator`` with n rollouts, driven through
  one step of a one-simulation ``MCTSBot`` (its only Python entry point); the bot's own cost is one
  node and is below 1% of the n playouts measured.
"""
from __future__ import annotations

import random
from typing import Callable

import pyspiel
import pytest

from _timing import best_round_seconds

import games

# our name -> (OpenSpiel's name, our factory)
GAMES: dict[str, tuple[str, Callable[[], object]]] = {
    "tictactoe": ("tic_tac_toe", lambda: games.load("tictactoe")),
    "connect4": ("connect_four", lambda: games.load("connect4")),
    "hex11": ("hex(board_size=11)", lambda: games.load("hex", board_size=11)),
}
# playouts per timed round, per contender (about 30-70 ms a round, long enough to average out a shared machine)
PLAYOUTS = {
    "plytree C loop": {"connect4": 200_000, "hex11": 10_000},
    "plytree per call": {"tictactoe": 100_000, "connect4": 100_000, "hex11": 10_000},
    "OpenSpiel Python loop": {"tictactoe": 3_000, "connect4": 500, "hex11": 100},
    "OpenSpiel C++ rollouts": {"tictactoe": 10_000, "connect4": 1_500, "hex11": 300},
}
BASELINES = ("OpenSpiel Python loop", "OpenSpiel C++ rollouts")
# seconds per playout measured in this run: (game, contender) -> best round / playouts
SECONDS: dict[tuple[str, str], float] = {}


def _plytree_c_loop(game: str, n: int) -> Callable[[], object]:
    s = GAMES[game][1]().new_initial_state()
    seed = iter(range(10**9))
    return lambda: s.random_rollouts(n, next(seed))


def _plytree_per_call(game: str, n: int) -> Callable[[], object]:
    s = GAMES[game][1]().new_initial_state()

    def run() -> float:
        total = 0.0
        for i in range(n):
            total += s.random_rollout(i)
        return total

    return run


def _openspiel_python_loop(game: str, n: int) -> Callable[[], object]:
    root = pyspiel.load_game(GAMES[game][0]).new_initial_state()
    rng = random.Random(1)

    def run() -> float:
        total = 0.0
        for _ in range(n):
            s = root.clone()
            while not s.is_terminal():
                s.apply_action(rng.choice(s.legal_actions()))
            total += s.returns()[0]
        return total

    return run


def _openspiel_cpp(game: str, n: int) -> Callable[[], object]:
    g = pyspiel.load_game(GAMES[game][0])
    root = g.new_initial_state()
    bot = pyspiel.MCTSBot(g, pyspiel.RandomRolloutEvaluator(n, 1), 1.4, 1, 100, False, 1, False)
    return lambda: bot.step(root)


MAKERS = {
    "plytree C loop": _plytree_c_loop,
    "plytree per call": _plytree_per_call,
    "OpenSpiel Python loop": _openspiel_python_loop,
    "OpenSpiel C++ rollouts": _openspiel_cpp,
}
CASES = [(game, who) for who in MAKERS for game in GAMES if game in PLAYOUTS[who]]


@pytest.mark.parametrize("game, who", CASES, ids=[f"{g}-{w.replace(' ', '_')}" for g, w in CASES])
def test_random_playouts(benchmark, game: str, who: str):
    n = PLAYOUTS[who][game]
    fn = MAKERS[who](game, n)
    benchmark.group = f"{game} (round = the playouts in PLAYOUTS)"
    benchmark.extra_info["playouts_per_round"] = n
    best = best_round_seconds(benchmark, fn, rounds=7)
    SECONDS[(game, who)] = best / n


def test_report_ratios():
    """Prints playouts per second and the speed-ups over OpenSpiel; Connect Four must be well over 10x."""
    assert len(SECONDS) == len(CASES), "run the whole module: the ratios need every timing of this run"
    lines = [f"{'game':<10} {'contender':<24} {'playouts/s':>12} {'vs OS Python':>13} {'vs OS C++':>10}"]
    for game in GAMES:
        for who in MAKERS:
            if (game, who) not in SECONDS:
                continue
            rate = 1.0 / SECONDS[(game, who)]
            ratios = [SECONDS[(game, base)] / SECONDS[(game, who)] for base in BASELINES]
            lines.append(f"{game:<10} {who:<24} {rate:>12,.0f} {ratios[0]:>12.1f}x {ratios[1]:>9.1f}x")
    print("\n" + "\n".join(lines))
    fastest_c4 = min(SECONDS[("connect4", who)] for who in ("plytree C loop", "plytree per call"))
    assert SECONDS[("connect4", "OpenSpiel C++ rollouts")] / fastest_c4 > 10
