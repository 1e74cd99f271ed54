"""Losses on time at a fast control: plytree (UCI, a subprocess) against Stockfish with real clocks.

The harness keeps the clocks the way fastchess does: a side's clock runs from the moment ``go`` is
sent until ``bestmove`` is read (python-chess ``SimpleEngine.play``), the increment is added after
the move, and a clock below zero loses the game on time. Several games run at once (one thread and
one pair of engine processes each), so the engines share a loaded machine, as in a tournament.

Run as a script (the result backs the figure in docs/uci.md):
    nice -n 5 python bench/bench_time_forfeits.py --games 200 --concurrency 2 --tc 1+0.01
    nice -n 5 python bench/bench_time_forfeits.py --minutes 8          # as many games as fit
Or under pytest (slow; a few games, asserts no loss on time):
    pytest bench/bench_time_forfeits.py -m slow -p no:cacheprovider -s
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
STOCKFISH = "/usr/games/stockfish"
MAX_PLIES = 400  # adjudicated a draw after this many plies
ENGINE_ROOT = ROOT  # the checkout whose engine plays (--engine-root: e.g. an older one, for a baseline)
SLOW_MOVE_LOG: float = 0.0  # with --log-slow S: plytree's moves over S seconds go to stderr with its budget line


@dataclass
class GameRecord:
    """One finished game, from plytree's point of view."""

    plytree_white: bool
    result: str                 # "1-0", "0-1", "1/2-1/2"
    plies: int
    time_loss: Optional[str]    # "plytree" or "stockfish" when a side lost on time
    min_clock: dict = field(default_factory=dict)  # side -> least clock left before a move, seconds
    longest_move: dict = field(default_factory=dict)  # side -> longest move, seconds


def _plytree_command() -> list[str]:
    return [sys.executable, "-m", "engine.cli", "uci"]


def open_engines(elo: int):
    """plytree and Stockfish (limited to ``elo``) as UCI subprocesses, kept for many games as a
    GUI keeps them."""
    import chess.engine

    env = dict(os.environ, PYTHONPATH=str(ENGINE_ROOT), PYTHONDONTWRITEBYTECODE="1")
    ours = chess.engine.SimpleEngine.popen_uci(_plytree_command(), cwd=str(ENGINE_ROOT), env=env)
    if SLOW_MOVE_LOG:
        ours.protocol.send_line("debug on")
    theirs = chess.engine.SimpleEngine.popen_uci(STOCKFISH)
    theirs.configure({"UCI_LimitStrength": True, "UCI_Elo": elo, "Threads": 1, "Hash": 16})
    return ours, theirs


def close_engines(engines) -> None:
    for engine in engines:
        try:
            engine.quit()
        except Exception:  # an engine that died already: nothing to close
            pass


def play_game(engines, plytree_white: bool, base: float, inc: float) -> GameRecord:
    """Plays one game with real clocks; returns its record."""
    import chess
    import chess.engine

    ours, theirs = engines
    board = chess.Board()
    for engine in (ours, theirs):  # what a GUI does before each game, before any clock runs
        engine.protocol.send_line("ucinewgame")
        engine.ping()
    clocks = {chess.WHITE: base, chess.BLACK: base}
    names = {chess.WHITE: "plytree" if plytree_white else "stockfish",
             chess.BLACK: "stockfish" if plytree_white else "plytree"}
    min_clock = {"plytree": base, "stockfish": base}
    longest = {"plytree": 0.0, "stockfish": 0.0}
    time_loss = None
    while not board.is_game_over(claim_draw=True) and board.ply() < MAX_PLIES:
        side = board.turn
        engine = ours if names[side] == "plytree" else theirs
        limit = chess.engine.Limit(white_clock=clocks[chess.WHITE], black_clock=clocks[chess.BLACK],
                                   white_inc=inc, black_inc=inc)
        min_clock[names[side]] = min(min_clock[names[side]], clocks[side])
        t0 = time.monotonic()
        played = engine.play(board, limit, info=chess.engine.INFO_ALL if SLOW_MOVE_LOG else chess.engine.INFO_NONE)
        spent = time.monotonic() - t0
        longest[names[side]] = max(longest[names[side]], spent)
        if SLOW_MOVE_LOG and engine is ours and spent > SLOW_MOVE_LOG:
            print(f"slow move {spent:.3f} s with {clocks[side]:.3f} s left: {played.info.get('string', '')}",
                  file=sys.stderr, flush=True)
        clocks[side] -= spent
        if clocks[side] < 0:
            time_loss = names[side]
            result = "0-1" if side == chess.WHITE else "1-0"
            break
        clocks[side] += inc
        if played.move is None or played.move not in board.legal_moves:
            raise RuntimeError(f"{names[side]} played {played.move} in {board.fen()}")
        board.push(played.move)
    else:
        result = board.result(claim_draw=True) if board.is_game_over(claim_draw=True) else "1/2-1/2"
    return GameRecord(plytree_white, result, board.ply(), time_loss, min_clock, longest)


def run_match(games: int, concurrency: int, base: float, inc: float, elo: int,
              minutes: Optional[float] = None) -> list[GameRecord]:
    """Plays up to ``games`` games, ``concurrency`` at a time, colours alternating; with
    ``minutes``, no new game starts after that much wall time."""
    records: list[GameRecord] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    counter = iter(range(games))
    stop_at = None if minutes is None else time.monotonic() + 60.0 * minutes

    def worker() -> None:
        try:
            engines = open_engines(elo)
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        try:
            while True:
                with lock:
                    if stop_at is not None and time.monotonic() >= stop_at:
                        return
                    index = next(counter, None)
                if index is None:
                    return
                record = play_game(engines, index % 2 == 0, base, inc)
                with lock:
                    records.append(record)
                    print(json.dumps(record.__dict__), flush=True)
        except BaseException as exc:  # reported after the match: a crash is a failure, not a skip
            with lock:
                errors.append(exc)
        finally:
            close_engines(engines)

    threads = [threading.Thread(target=worker, name=f"game-{i}") for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} game(s) failed: {errors[0]!r}") from errors[0]
    return records


def summary(records: list[GameRecord]) -> dict:
    """Counts of games, results and losses on time."""
    score = 0.0
    for r in records:
        ours_white = r.plytree_white
        score += {"1-0": 1.0 if ours_white else 0.0, "0-1": 0.0 if ours_white else 1.0}.get(r.result, 0.5)
    return {
        "games": len(records),
        "plytree_time_losses": sum(r.time_loss == "plytree" for r in records),
        "stockfish_time_losses": sum(r.time_loss == "stockfish" for r in records),
        "plytree_score": score,
        "plytree_min_clock": min((r.min_clock["plytree"] for r in records), default=None),
        "plytree_longest_move": max((r.longest_move["plytree"] for r in records), default=None),
    }


def _parse_tc(text: str) -> tuple[float, float]:
    base, _, inc = text.partition("+")
    return float(base), float(inc or 0.0)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--tc", default="1+0.01", help="base+increment in seconds (default 1+0.01)")
    parser.add_argument("--elo", type=int, default=1350)
    parser.add_argument("--minutes", type=float, default=None, help="start no game after this much wall time")
    parser.add_argument("--log-slow", type=float, default=0.0, help="log plytree's moves slower than this (s)")
    parser.add_argument("--engine-root", type=Path, default=ROOT, help="checkout whose UCI engine plays")
    args = parser.parse_args(argv)
    global SLOW_MOVE_LOG, ENGINE_ROOT
    SLOW_MOVE_LOG = args.log_slow
    ENGINE_ROOT = args.engine_root.resolve()
    base, inc = _parse_tc(args.tc)
    t0 = time.monotonic()
    records = run_match(args.games, args.concurrency, base, inc, args.elo, args.minutes)
    out = summary(records)
    out["seconds"] = round(time.monotonic() - t0, 1)
    out["tc"] = args.tc
    out["concurrency"] = args.concurrency
    out["engine_root"] = str(ENGINE_ROOT)
    print(json.dumps(out))
    return 1 if out["plytree_time_losses"] else 0


try:
    import pytest
except ImportError:  # the script does not need pytest
    pytest = None

if pytest is not None:
    @pytest.mark.slow
    def test_no_losses_on_time_at_one_second_plus_ten_ms():
        assert shutil.which(STOCKFISH), f"the benchmark needs Stockfish at {STOCKFISH}"
        records = run_match(6, 2, 1.0, 0.01, 1350)
        out = summary(records)
        assert out["games"] == 6 and out["plytree_time_losses"] == 0, out


if __name__ == "__main__":
    raise SystemExit(main())
