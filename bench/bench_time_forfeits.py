"""Losses on time at a fast control: plytree (UCI, a subprocess) against Stockfish with real clocks.

The harness keeps the clocks the way fastchess does: a side's clock runs from the moment ``go`` is
written to the engine's pipe until the ``bestmove`` line is read from it, the increment is added
after the move, and a clock below zero loses the game on time. The engines are driven over plain
pipes with blocking reads (``UciProcess``), like fastchess's C++ driver: python-chess's
``SimpleEngine`` (an asyncio loop on its own thread per engine) adds its own scheduling delays to
every move on a loaded machine, and those were charged to the engines. Several games run at once
(one thread and one pair of engine processes each), so the engines share a loaded machine, as in a
tournament. The load average is reported at the start and the end.

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
import subprocess
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


class UciProcess:
    """A UCI engine over plain pipes: lines written and flushed, lines read with blocking reads.

    Args:
        command: the engine's command line.
        cwd, env: its working directory and environment.
    """

    def __init__(self, command: list[str], *, cwd: Optional[str] = None, env: Optional[dict] = None) -> None:
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        self.name = command[0]
        self.send("uci")
        self.read_until("uciok")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read_until(self, prefix: str) -> list[str]:
        """The lines up to and including the first that starts with ``prefix``.

        Raises:
            EngineDied: the engine closed its output first.
        """
        assert self.proc.stdout is not None
        lines = []
        while True:
            raw = self.proc.stdout.readline()
            if not raw:
                raise EngineDied(f"{self.name} ended (rc {self.proc.poll()}) while {prefix!r} was awaited")
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if line.startswith(prefix):
                return lines

    def ping(self) -> None:
        self.send("isready")
        self.read_until("readyok")

    def configure(self, options: dict) -> None:
        for name, value in options.items():
            self.send(f"setoption name {name} value {value}")
        self.ping()

    def quit(self) -> None:
        try:
            self.send("quit")
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class EngineDied(RuntimeError):
    """An engine process ended in the middle of a game."""


def open_engines(elo: int) -> tuple[UciProcess, UciProcess]:
    """plytree and Stockfish (limited to ``elo``) as UCI subprocesses, kept for many games as a
    GUI keeps them."""
    env = dict(os.environ, PYTHONPATH=str(ENGINE_ROOT), PYTHONDONTWRITEBYTECODE="1")
    ours = UciProcess(_plytree_command(), cwd=str(ENGINE_ROOT), env=env)
    if SLOW_MOVE_LOG:
        ours.send("debug on")
    theirs = UciProcess([STOCKFISH])
    theirs.configure({"UCI_LimitStrength": "true", "UCI_Elo": elo, "Threads": 1, "Hash": 16})
    return ours, theirs


def close_engines(engines) -> None:
    for engine in engines:
        engine.quit()


def play_game(engines, plytree_white: bool, base: float, inc: float) -> GameRecord:
    """Plays one game with real clocks; returns its record."""
    import chess

    ours, theirs = engines
    board = chess.Board()
    for engine in (ours, theirs):  # what a GUI does before each game, before any clock runs
        engine.send("ucinewgame")
        engine.ping()
    clocks = {chess.WHITE: base, chess.BLACK: base}
    names = {chess.WHITE: "plytree" if plytree_white else "stockfish",
             chess.BLACK: "stockfish" if plytree_white else "plytree"}
    min_clock = {"plytree": base, "stockfish": base}
    longest = {"plytree": 0.0, "stockfish": 0.0}
    moves: list[str] = []
    time_loss = None
    while not board.is_game_over(claim_draw=True) and board.ply() < MAX_PLIES:
        side = board.turn
        engine = ours if names[side] == "plytree" else theirs
        min_clock[names[side]] = min(min_clock[names[side]], clocks[side])
        engine.send("position startpos" + (" moves " + " ".join(moves) if moves else ""))
        go = (f"go wtime {max(0, int(clocks[chess.WHITE] * 1000))} btime {max(0, int(clocks[chess.BLACK] * 1000))} "
              f"winc {int(inc * 1000)} binc {int(inc * 1000)}")
        t0 = time.monotonic()
        engine.send(go)
        lines = engine.read_until("bestmove")
        spent = time.monotonic() - t0
        longest[names[side]] = max(longest[names[side]], spent)
        if SLOW_MOVE_LOG and engine is ours and spent > SLOW_MOVE_LOG:
            budget = [line for line in lines if "budget" in line]
            print(f"slow move {spent:.3f} s with {clocks[side]:.3f} s left: {budget[-1:] or ''}",
                  file=sys.stderr, flush=True)
        clocks[side] -= spent
        if clocks[side] < 0:
            time_loss = names[side]
            result = "0-1" if side == chess.WHITE else "1-0"
            break
        clocks[side] += inc
        text = lines[-1].split()[1] if len(lines[-1].split()) > 1 else ""
        try:
            move = chess.Move.from_uci(text)
        except ValueError:
            move = None
        if move is None or move not in board.legal_moves:
            raise RuntimeError(f"{names[side]} played {text!r} in {board.fen()}")
        board.push(move)
        moves.append(text)
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


def probe_go_latency(plies: int, base: float = 0.8, inc: float = 0.01) -> dict:
    """Where one ``go`` goes, from the GUI's side: plytree plays itself over a pipe (``debug on``),
    clocks fixed at ``base`` + ``inc``; per move the wall time from ``go`` written to ``bestmove``
    read, and the engine's own ``spent`` (``go`` read to the search's end, from its budget line).

    Returns:
        Means and maxima in milliseconds: ``wall``, ``engine`` and ``outside`` (wall - engine: pipes,
        scheduling, and what the engine does after the search).
    """
    import statistics

    import chess

    env = dict(os.environ, PYTHONPATH=str(ENGINE_ROOT), PYTHONDONTWRITEBYTECODE="1")
    engine = UciProcess(_plytree_command(), cwd=str(ENGINE_ROOT), env=env)
    engine.send("debug on")
    engine.send("ucinewgame")
    engine.ping()
    board, moves, walls, spents = chess.Board(), [], [], []
    clock = int(base * 1000)
    while len(walls) < plies and not board.is_game_over(claim_draw=True):
        engine.send("position startpos" + (" moves " + " ".join(moves) if moves else ""))
        t0 = time.monotonic()
        engine.send(f"go wtime {clock} btime {clock} winc {int(inc * 1000)} binc {int(inc * 1000)}")
        lines = engine.read_until("bestmove")
        walls.append(time.monotonic() - t0)
        spent = [float(line.split(" spent ")[1].split()[0]) for line in lines if " spent " in line]
        spents.append(spent[-1] if spent else walls[-1])
        moves.append(lines[-1].split()[1])
        board.push_uci(moves[-1])
    engine.quit()
    outside = [w - e for w, e in zip(walls, spents, strict=True)]
    return {"plies": len(walls), **{f"{name}_{stat.__name__}_ms": round(1000 * stat(values), 2)
                                    for name, values in (("wall", walls), ("engine", spents), ("outside", outside))
                                    for stat in (statistics.mean, max)}}


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
    parser.add_argument("--probe", type=int, default=0,
                        help="instead of games: N moves of plytree against itself, go -> bestmove timing")
    args = parser.parse_args(argv)
    global SLOW_MOVE_LOG, ENGINE_ROOT
    SLOW_MOVE_LOG = args.log_slow
    ENGINE_ROOT = args.engine_root.resolve()
    base, inc = _parse_tc(args.tc)
    if args.probe:
        print(json.dumps({**probe_go_latency(args.probe, 0.8 * base, inc), "engine_root": str(ENGINE_ROOT),
                          "loadavg": [round(x, 2) for x in os.getloadavg()]}))
        return 0
    t0 = time.monotonic()
    load_start = os.getloadavg()
    records = run_match(args.games, args.concurrency, base, inc, args.elo, args.minutes)
    out = summary(records)
    out["seconds"] = round(time.monotonic() - t0, 1)
    out["loadavg_start"] = [round(x, 2) for x in load_start]
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
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
