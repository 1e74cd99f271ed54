"""Connect Four test sets made with the exact solver: openings, middle games and endings at several
difficulty levels, each position stored with the game-theoretic value of every move.

A set file (``engine/data/c4_<phase>_<level>.txt``) has ``#`` comment lines (how it was made) and one
position a line::

    <moves> <value> <per-move>

``moves``: columns ``1``-``7`` from the empty board (Pons' convention); ``value``: the position's value
for the side to move (``1`` win, ``0`` draw, ``-1`` loss, weak solve); ``per-move``: seven characters,
the value for the side to move after each column (``+`` win, ``=`` draw, ``-`` loss, ``.`` full). A
move keeps the value when its character matches ``value``, so scoring needs no solver.

Phases are ply ranges (:data:`PHASES`); the opening range starts at ply 8 because the solver takes
about a minute per position at ply 4 on a 2-core machine and seconds at ply 8-11. Levels:

* ``random``: positions of uniformly random games (the distribution of the shipped network's
  training data);
* ``play``: positions of games played by a decent, imperfect player (:func:`decent_move`: takes an
  immediate four, blocks the opponent's, avoids giving one, prefers the centre; otherwise random), so
  the positions are closer to real games and more often balanced;
* ``hard``: ``play`` positions that are not lost and where exactly one move keeps the value.

Positions of the shared sets (``shared/data/connect4/Test_*``) are never drawn, nor their mirror
images (:func:`position_key`), and no position appears twice across the sets of one run.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import games
from games.text.connect4 import columns, opponent_wins_at, wins_at

PHASES: dict[str, tuple[int, int]] = {"opening": (8, 11), "middle": (12, 24), "ending": (25, 36)}
LEVELS: tuple[str, ...] = ("random", "play", "hard")
DATA_DIR = Path(__file__).resolve().parent / "data"
SHARED_TESTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "connect4"
_CHAR = {1: "+", 0: "=", -1: "-", None: "."}
_VALUE = {c: v for v, c in _CHAR.items()}
_CENTRE_WEIGHTS = (1, 2, 3, 4, 3, 2, 1)


class SetFormatError(ValueError):
    """A Connect Four test-set line does not follow ``<moves> <value> <per-move>``."""


@dataclass(frozen=True)
class SetPosition:
    """One position of a test set.

    Attributes:
        moves: columns ``1``-``7`` from the empty board.
        value: the value for the side to move (1 / 0 / -1).
        per_move: the value after each of the 7 columns for the side to move (None: full column).
    """

    moves: str
    value: int
    per_move: tuple[Optional[int], ...]

    def keeps_value(self, column: int) -> bool:
        """Whether playing ``column`` (0-6) keeps the position's value."""
        return self.per_move[column] == self.value

    def is_hard(self) -> bool:
        """Not lost, and exactly one move keeps the value (the ``hard`` level)."""
        return self.value >= 0 and sum(v == self.value for v in self.per_move) == 1

    def policy_target(self) -> list[float]:
        """Uniform over the moves that keep the value (7 entries)."""
        best = [1.0 if v == self.value else 0.0 for v in self.per_move]
        return [b / sum(best) for b in best]

    def to_line(self) -> str:
        return f"{self.moves} {self.value} {''.join(_CHAR[v] for v in self.per_move)}"

    @classmethod
    def from_line(cls, line: str, where: str = "line") -> "SetPosition":
        parts = line.split()
        if (len(parts) != 3 or not all(c in "1234567" for c in parts[0]) or parts[1] not in ("-1", "0", "1")
                or len(parts[2]) != 7 or not all(c in _VALUE for c in parts[2])):
            raise SetFormatError(f"{where}: {line!r} is not '<moves 1-7> <-1|0|1> <7 of +=-.>'")
        per_move = tuple(_VALUE[c] for c in parts[2])
        value = int(parts[1])
        if max((v for v in per_move if v is not None), default=None) != value:
            raise SetFormatError(f"{where}: {line!r}: the value is not the best move's value")
        return cls(parts[0], value, per_move)


def mirror_moves(moves: str) -> str:
    """The left-right mirror of a move string (column ``c`` -> ``8 - c``)."""
    return "".join(str(8 - int(c)) for c in moves)


def position_key(moves: str) -> tuple[str, ...]:
    """A key of the position after ``moves`` that is the same for every move order and for the mirror
    image: the smaller of its columns and its mirrored columns (the side to move follows from the
    stone count)."""
    cols = columns(moves)
    return min(cols, cols[::-1])


def read_set(path: str | os.PathLike, limit: Optional[int] = None) -> list[SetPosition]:
    """The positions of a set file.

    Raises:
        SetFormatError: a line is malformed.
    """
    out: list[SetPosition] = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            out.append(SetPosition.from_line(line, f"{path}:{i}"))
            if limit is not None and len(out) >= limit:
                break
    return out


def write_set(path: str | os.PathLike, positions: Iterable[SetPosition], header: Iterable[str] = ()) -> Path:
    """Writes a set file (comment lines from ``header``, then one position a line)."""
    path = Path(path)
    lines = [f"# {h}" for h in header] + [p.to_line() for p in positions]
    path.write_text("\n".join(lines) + "\n")
    return path


def shared_test_moves(root: Path = SHARED_TESTS) -> list[str]:
    """Move strings of the shared Pons sets (``Test_*``; empty when the folder is absent)."""
    out: list[str] = []
    if root.is_dir():
        for f in sorted(root.glob("Test_*")):
            out += [line.split()[0] for line in f.read_text().splitlines() if line.strip()]
    return out


def set_paths(directory: Path = DATA_DIR) -> list[Path]:
    """The set files in ``directory``, phase by phase (openings first), level by level."""
    return [directory / f"c4_{ph}_{lv}.txt" for ph in PHASES for lv in LEVELS
            if (directory / f"c4_{ph}_{lv}.txt").exists()]


def held_out_keys(directory: Path = DATA_DIR) -> set[tuple[str, ...]]:
    """Position keys that training must not see: the shared Pons sets and the sets in ``directory``."""
    moves = shared_test_moves()
    for p in set_paths(directory):
        moves += [q.moves for q in read_set(p)]
    return {position_key(m) for m in moves}


# ----------------------------------------------------------------------------- making positions

def decent_move(state, rng: random.Random) -> int:
    """A move of a decent, imperfect player: an immediate four if there is one; else a block of the
    opponent's immediate four; else a move that does not let the opponent four at once (when one
    exists), drawn with weights 1-2-3-4-3-2-1 from the edge to the centre column."""
    legal = list(state.legal_actions())
    for a in legal:
        if wins_at(state, a, state.current_player()):
            return a
    # the opponent's immediate fours: play them ourselves to block
    threats = [a for a in legal if opponent_wins_at(state, a)]
    if threats:
        return rng.choice(threats)
    safe = []
    for a in legal:
        s = state.clone()
        s.apply_action(a)
        if not any(wins_at(s, b, s.current_player()) for b in s.legal_actions()):
            safe.append(a)
    pool = safe or legal
    return rng.choices(pool, weights=[_CENTRE_WEIGHTS[a] for a in pool])[0]


def draw_state(game, rng: random.Random, min_plies: int, max_plies: int, level: str):
    """A position after a number of plies drawn from ``[min_plies, max_plies]`` of a game played
    uniformly at random (level ``random``) or by :func:`decent_move` (``play``, ``hard``); None when
    the game ended earlier."""
    state = game.new_initial_state()
    for _ in range(rng.randint(min_plies, max_plies)):
        if state.is_terminal():
            return None
        legal = state.legal_actions()
        state.apply_action(rng.choice(legal) if level == "random" else decent_move(state, rng))
    return None if state.is_terminal() else state


def solve_position(solver, moves: str) -> SetPosition:
    """``moves`` solved move by move (weak: win / draw / loss) with a ``mcts.Connect4Solver``."""
    per_move = tuple(solver.analyze(moves, weak=True))
    return SetPosition(moves, max(v for v in per_move if v is not None), per_move)


def make_set(phase: str, level: str, count: int, *, seed: int, solver=None,
             exclude: Optional[set[tuple[str, ...]]] = None,
             progress: Optional[Callable[[int], None]] = None) -> list[SetPosition]:
    """``count`` positions of ``phase`` at ``level``, each solved move by move.

    Args:
        phase: a key of :data:`PHASES`.
        level: one of :data:`LEVELS`.
        count: positions to make.
        seed: seeds the games (same seed and ``exclude``: same set).
        solver: a ``mcts.Connect4Solver`` (a fresh one by default; its table carries over).
        exclude: position keys never to draw; the drawn ones are added to it.
        progress: called with 1 after each position.

    Raises:
        ValueError: unknown phase or level, or count < 0.
    """
    from mcts import Connect4Solver

    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; choose from {', '.join(PHASES)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    solver = solver or Connect4Solver()
    exclude = exclude if exclude is not None else {position_key(m) for m in shared_test_moves()}
    game = games.load("connect4")
    rng = random.Random(f"{seed}-{phase}-{level}")
    out: list[SetPosition] = []
    while len(out) < count:
        state = draw_state(game, rng, *PHASES[phase], level)
        if state is None:
            continue
        moves = "".join(str(a + 1) for a in state.history())
        key = position_key(moves)
        if key in exclude:
            continue
        position = solve_position(solver, moves)
        if level == "hard" and not position.is_hard():
            continue
        exclude.add(key)
        out.append(position)
        if progress is not None:
            progress(1)
    return out


def _command(args: argparse.Namespace) -> list[str]:
    """The options of a run, as they would be typed."""
    out = ["--phases", *args.phases, "--levels", *args.levels, "--positions", str(args.positions)]
    if args.opening_positions is not None:
        out += ["--opening-positions", str(args.opening_positions)]
    return out + ["--seed", str(args.seed)]


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Make the Connect Four test sets (engine/data/c4_<phase>_<level>.txt).")
    p.add_argument("--out", default=str(DATA_DIR), help="directory of the set files (default engine/data)")
    p.add_argument("--phases", nargs="*", default=list(PHASES), choices=list(PHASES))
    p.add_argument("--levels", nargs="*", default=list(LEVELS), choices=list(LEVELS))
    p.add_argument("--positions", type=int, default=400, help="positions per set (default 400)")
    p.add_argument("--opening-positions", type=int, default=None,
                   help="positions per opening set (default --positions; openings take seconds each to solve)")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    from mcts import Connect4Solver

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    solver = Connect4Solver()
    exclude = {position_key(m) for m in shared_test_moves()}
    for phase in args.phases:
        for level in args.levels:
            n = args.opening_positions if phase == "opening" and args.opening_positions is not None else args.positions
            t0 = time.perf_counter()
            positions = make_set(phase, level, n, seed=args.seed, solver=solver, exclude=exclude)
            lo, hi = PHASES[phase]
            header = [f"Connect Four test set: {phase} (plies {lo}-{hi}), level {level}; {len(positions)} positions",
                      f"made by: python -m engine._c4_testsets {' '.join(_command(args))} (the sets of one run "
                      "never repeat a position, so the run's order of phases and levels matters)",
                      "line: <moves 1-7> <value for the side to move> <value after each column: + win, = draw, "
                      "- loss, . full>"]
            path = write_set(out_dir / f"c4_{phase}_{level}.txt", positions, header)
            print(f"{path}: {len(positions)} positions in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
