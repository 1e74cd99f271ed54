"""Fuzzing the UCI front end: hostile lines against the real engine process over real pipes.

A seeded generator writes broken FENs, illegal and garbage moves, bad numbers (``inf``, ``nan``,
``1e999``, negative), unknown and malformed options, ``go`` before ``position``, ``stop`` and
``ponderhit`` out of turn, 10 kB lines, invalid UTF-8 and tabs, mixed with well-formed commands, into
``python -m engine.cli uci`` (binary stdin). Every few hundred lines ``isready`` must be answered
within a deadline. The checks:

* no crash: the process stays alive until ``quit`` and exits with status 0;
* no hang: every ``isready`` gets its ``readyok`` within ``READY_DEADLINE`` seconds;
* stdout carries only UCI lines (id, option, uciok, readyok, info, bestmove), and no ``info string``
  reports an internal error;
* every ``go`` gets exactly one ``bestmove``, legal in the position the engine searched (read with
  ``d`` just before the ``go``, and for the harness's own well-formed ``position`` lines compared with
  the position the harness expects), with a legal ``ponder`` move.

Scenarios cover both search kinds, MultiPV, Chess960, ponder and a big Hash. MCTS reuses its tree
across unrelated positions and crashes there (issue 14 item 1, being fixed in ``mcts/_puct.pyx``):
the MCTS scenario sends ``ucinewgame`` before every ``position`` line, so that scenario is excluded.

Default run: about 20,000 lines; ``pytest -m slow``: 1,000,000.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Optional, Union

import chess
import pytest

from tests.uci_process import EngineDied, EngineProcess, only_uci

READY_DEADLINE = 30.0  # seconds for a readyok on a loaded shared machine: a hang, not a slow answer
COMMANDS = {"uci", "isready", "debug", "setoption", "ucinewgame", "position", "go", "stop", "ponderhit", "quit", "d"}

Line = Union[str, bytes]


# ----------------------------------------------------------------------------- the generator
_BAD_NUMBERS = ["inf", "-inf", "nan", "NaN", "1e999", "-1e999", "1e400", "-5", "-1", "0", "-0", "3.7", "x", "",
                "99999999999999999999999", "0x10", "1_000", "+7", "٣", "infinity", "1e-400", "--1"]
_GO_KEYS = ["wtime", "btime", "winc", "binc", "movestogo", "movetime", "depth", "nodes", "mate"]
_OPTIONS = ["Hash", "MultiPV", "Ponder", "UCI_Chess960", "UCI_ShowWDL", "Move Overhead", "SearchKind", "ModelFile",
            "CPuct", "BatchSize", "Threads", "NoSuch", "hash", "MULTIPV", "Clear Hash", ""]
# tokens that are no move in any position (the position keeps the moves before them)
_GARBAGE_MOVES = ["zz9", "e9e4", "a1a1", "xyz", "e2e4e5", "h8h9q", "O-O-O-O", "e7e8k", "i1i2", "é1é2", "e2e4\x00"]
# tokens whose effect depends on the position (null moves, SAN) or that are whitespace
_OTHER_MOVES = ["0000", "--", "e2e5", "Nf3", "Ke2", "e2", "e1g1", "a7a8q", "\t"]
_BROKEN_FENS = [
    "8/8/8 w - - 0 1", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR x KQkq - 0 1",
    "K7/8/8/8/8/8/8/K6k w - - 0 1",  # two white kings
    "P6k/8/8/8/8/8/8/K7 w - - 0 1",  # a pawn on the last rank
    "7k/8/8/8/8/8/8/K6R b - - 0 1 extra", "9/8/8/8/8/8/8/K6k w - - 0 1", "8/8/8/8/8/8/8/8 w - - 0 1",
    "7k/8/8/8/8/8/8/K5Rr w KQkq - 0 1", "7k/8/8/8/8/8/8/K7 w - e3 0 1", "7k/8/8/8/8/8/8/K7 w - - -1 -1",
    "7k/8/8/8/8/8/8/K7 w - - 99999999999999999999 99999999999999999999", "k7/8/8/8/8/8/8/K6q w - - 0 1",  # side not to move in check
    "qqqqkqqq/qqqqqqqq/8/8/8/8/QQQQQQQQ/QQQQKQQQ w - - 0 1", "", "fen", "startpos", "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0",
]
_VALID_FENS = [
    chess.STARTING_FEN,
    "7K/6r1/8/8/8/8/8/7k w - - 0 1",  # the only move ends the game
    "8/8/8/8/8/8/8/K6k w - - 0 1",  # drawn by rule, moves left
    "7k/6Q1/6K1/8/8/8/8/8 b - - 0 1",  # checkmated
    "7k/5Q2/6K1/8/8/8/8/8 b - - 0 1",  # stalemated
    "7k/8/6Q1/8/8/8/8/K7 w - - 0 1",  # stalemate one move away
    "6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1",  # mate in one
    "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1",  # castling both ways
    "8/P7/8/8/8/8/8/k6K w - - 0 1",  # promotion
    "rnbqkbnr/ppp1p1pp/8/3pPp2/8/8/PPPP1PPP/RNBQKBNR w KQkq f6 0 3",  # en passant
    "4k3/8/8/8/8/8/8/4K2R w K - 99 80",  # fifty-move counter at the edge
]
_SCRIPT = ["uci", "isready", "setoption name MultiPV value 2", "ucinewgame", "position startpos moves e2e4 c7c5 g1f3",
           "go wtime 1000 btime 1000 winc 10 binc 10", "position fen r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1 moves e1g1",
           "go depth 2", "go infinite", "stop", "go ponder movetime 10", "ponderhit", "d", "debug on", "debug off",
           "setoption name UCI_ShowWDL value true", "go movetime 20 searchmoves e2e4 d2d4", "go nodes 200"]


@dataclass
class Scenario:
    """One engine process's share of the run."""

    name: str
    setup: tuple[str, ...]
    args: tuple[str, ...] = ()
    chess960: bool = False
    ponder: bool = False
    guard_tree_reuse: bool = False  # ucinewgame before every position line (MCTS, see the module docstring)
    hash_max: int = 64  # the largest Hash the random setoption lines choose


SCENARIOS = [
    Scenario("alphabeta", ("setoption name SearchKind value alphabeta",)),
    Scenario("alphabeta-multipv", ("setoption name MultiPV value 3",)),
    Scenario("mcts", ("setoption name SearchKind value mcts", "setoption name BatchSize value 8"), guard_tree_reuse=True),
    Scenario("mcts-multipv", ("setoption name SearchKind value mcts", "setoption name MultiPV value 2"),
             guard_tree_reuse=True),
    Scenario("chess960", ("setoption name UCI_Chess960 value true",), chess960=True),
    Scenario("ponder", ("setoption name Ponder value true",), ponder=True),
    Scenario("big-hash", ("setoption name Hash value 1024",), hash_max=1024),
]


def command_of(line: Line) -> Optional[str]:
    """The command the engine runs for ``line`` (UCI: unknown leading tokens are skipped)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    for token in text.split():
        if token in COMMANDS:
            return token
    return None


def position_key(board: chess.Board) -> tuple:
    """What identifies a position for the comparison (castling as rights, not as notation)."""
    return (board.board_fen(), board.turn, board.castling_rights, board.ep_square if board.has_legal_en_passant()
            else None, board.halfmove_clock, board.fullmove_number)


class HostileLines:
    """A seeded stream of lines, with the position the harness expects after its own position lines."""

    def __init__(self, seed: int, scenario: Scenario) -> None:
        self.rng = random.Random(seed)
        self.scenario = scenario
        self.chess960 = scenario.chess960

    def _number(self) -> str:
        rng = self.rng
        return rng.choice(_BAD_NUMBERS) if rng.random() < 0.35 else str(rng.choice([1, 2, 3, 5, 10, 20, 50, 200]))

    def _random_board(self) -> chess.Board:
        rng = self.rng
        if self.chess960 and rng.random() < 0.6:
            board = chess.Board.from_chess960_pos(rng.randrange(960))
        else:
            board = chess.Board(rng.choice(_VALID_FENS), chess960=self.chess960)
            if not self.chess960 and board.has_chess960_castling_rights():
                board.chess960 = True
        return board

    def _walk(self, board: chess.Board, plies: int) -> list[str]:
        moves = []
        for _ in range(plies):
            legal = list(board.legal_moves)
            if not legal:
                break
            move = self.rng.choice(legal)
            moves.append(board.uci(move))
            board.push(move)
        return moves

    def position(self) -> tuple[str, Optional[chess.Board]]:
        """A position line and the board the engine must then have (None: not predicted)."""
        rng = self.rng
        if rng.random() < 0.15:  # broken: the position must stay as it was
            fen = rng.choice(_BROKEN_FENS)
            if rng.random() < 0.5:
                chars = list(rng.choice(_VALID_FENS))
                for _ in range(rng.randint(1, 3)):
                    chars.insert(rng.randrange(len(chars) + 1), rng.choice("/12345678pnbrqkPNBRQKx- \t"))
                fen = "".join(chars)
            return f"position fen {fen}", None
        board = self._random_board()
        start = board.copy()
        head = "startpos" if board.fen() == chess.STARTING_FEN and not self.chess960 and rng.random() < 0.5 else \
            f"fen {board.fen(shredder=board.chess960)}"
        plies = rng.choice([0, 1, 2, 5, 10, 30]) if rng.random() > 0.01 else 2000  # 2000 plies: a ~10 kB line
        moves = self._walk(board, plies)
        expected: Optional[chess.Board] = board
        if moves and rng.random() < 0.2:  # one bad token: the position keeps the legal prefix before it
            at = rng.randrange(len(moves) + 1)
            bad = rng.choice(_GARBAGE_MOVES + _OTHER_MOVES)
            if bad in _GARBAGE_MOVES:
                expected = start.copy()
                for text in moves[:at]:
                    expected.push_uci(text)
            else:
                expected = None  # a null move, SAN or an ambiguous move: not predicted here
            moves = moves[:at] + [bad] + moves[at:]
        line = f"position {head}" + (" moves " + " ".join(moves) if moves or rng.random() < 0.1 else "")
        if chess.Board(start.fen()).is_valid() is False:
            expected = None
        return line, expected

    def go(self) -> str:
        rng = self.rng
        parts = ["go"]
        if rng.random() < 0.7:  # a small limit that ends the search soon
            key = rng.choice(["depth", "nodes", "movetime", "clock"])
            if key == "depth":
                parts += ["depth", str(rng.randint(1, 3))]
            elif key == "nodes":
                parts += ["nodes", str(rng.randint(1, 400))]
            elif key == "movetime":
                parts += ["movetime", str(rng.randint(0, 30))]
            else:
                parts += ["wtime", str(rng.randint(0, 500)), "btime", str(rng.randint(0, 500)), "winc", "5", "binc", "5"]
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            parts += [rng.choice(_GO_KEYS), self._number()]
        if rng.random() < 0.05:
            parts.append("infinite")
        if rng.random() < (0.3 if self.scenario.ponder else 0.03):
            parts.append("ponder")
        if rng.random() < 0.05:
            parts += ["searchmoves"] + [rng.choice(["e2e4", "d2d4", "g1f3", "zz", "0000", "e7e5"]) for _ in range(3)]
        if rng.random() < 0.1:
            rng.shuffle(parts)
        return " ".join(parts)

    def setoption(self) -> str:
        rng = self.rng
        name = rng.choice(_OPTIONS)
        if name.lower() == "hash":
            value = str(rng.randint(1, self.scenario.hash_max)) if rng.random() < 0.5 else self._number()
        elif name == "UCI_Chess960":
            value = "true" if self.chess960 else "false"  # the scenario decides Chess960
        elif name == "SearchKind":
            # switching kind builds a new search: MCTS there only in the guarded scenarios
            value = rng.choice(["mcts", "alphabeta"]) if self.scenario.guard_tree_reuse else rng.choice(
                ["alphabeta", "nonsense", ""])
        elif name == "ModelFile":
            value = rng.choice(["", "/no/such.onnx", "x" * 300, "a\x00b", "<empty>"])
        else:
            value = rng.choice([self._number(), "true", "false", "mcts", ""])
        form = rng.random()
        if form < 0.7:
            return f"setoption name {name} value {value}"
        if form < 0.8:
            return f"setoption name {name}"
        if form < 0.9:
            return f"setoption\tname\t{name}\tvalue\t{value}"
        return rng.choice(["setoption", "setoption value 3", f"setoption name value {value}", "setoption name  value"])

    def garbage(self) -> Line:
        rng = self.rng
        kind = rng.random()
        if kind < 0.3:  # a mutated script line
            chars = list(rng.choice(_SCRIPT))
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(chars) + 1)
                if rng.random() < 0.5 and chars:
                    del chars[min(pos, len(chars) - 1)]
                else:
                    chars.insert(pos, rng.choice("abcdefgh12345678 /-qkQK0\t\x00é"))
            return "".join(chars)
        if kind < 0.5:  # shuffled words
            words = " ".join(rng.choice(_SCRIPT) for _ in range(2)).split()
            rng.shuffle(words)
            return " ".join(words)
        if kind < 0.7:  # bytes that are not UTF-8 (no newline or carriage return: those end a line)
            return bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(rng.randint(1, 60)))
        if kind < 0.75:  # a 10 kB line
            return " ".join(rng.choice(["go", "e2e4", "x" * 50, "depth", "\t", "moves", "fen"]) for _ in range(2000))[:10240]
        if kind < 0.9:
            return rng.choice(["stop", "ponderhit", "isready", "ucinewgame", "debug on", "debug off", "debug maybe",
                               "d", "uci", "", "   ", "\t\t", "go", "position", "stop stop"])
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randint(0, 40))).replace("\n", " ").replace("\r", " ")

    def next(self) -> tuple[Line, Optional[chess.Board]]:
        """A line, and for the harness's own position lines the board it expects after it."""
        r = self.rng.random()
        if r < 0.18:
            return self.position()
        if r < 0.3:
            return self.go(), None
        if r < 0.4:
            return self.setoption(), None
        while True:
            line = self.garbage()
            if command_of(line) != "quit":
                return line, None


# ------------------------------------------------------------------------------- the checker
@dataclass
class FuzzStats:
    lines: int = 0
    gos: int = 0
    bestmoves: int = 0
    syncs: int = 0
    max_ready: float = 0.0
    seconds: float = 0.0
    crashes: int = 0
    problems: list[str] = field(default_factory=list)


def _legal_in(fen: str, text: str) -> Optional[chess.Board]:
    """The board after ``text`` from ``fen`` (either castling notation), or None if illegal there.

    Chess960 rules first: they keep Shredder castling rights (``HChc``), which standard rules drop.
    """
    for chess960 in (True, False):
        try:
            board = chess.Board(fen, chess960=chess960)
            move = board.parse_uci(text)
        except ValueError:
            continue
        board.push(move)
        return board
    return None


class Checker:
    """Follows the engine's output: d's positions, each go's bestmove, only UCI lines."""

    def __init__(self, engine: EngineProcess, stats: FuzzStats) -> None:
        self.engine = engine
        self.stats = stats
        self.seen = 0  # lines of output checked
        self.fens: list[str] = []  # the positions printed by d, in order
        self.go_fen: list[int] = []  # for each go, the index of its d
        self.expected: dict[int, tuple] = {}  # d index -> the position the harness expects there
        self.d_sent = 0

    def check_new_output(self) -> None:
        lines = self.engine.lines
        end = len(lines)
        for line in lines[self.seen:end]:
            if not only_uci(line):
                self.problem(f"not a UCI line: {line[:200]!r}")
            elif line.startswith("info string fen "):
                index = len(self.fens)
                self.fens.append(line[len("info string fen "):])
                want = self.expected.pop(index, None)
                if want is not None:
                    got = position_key(chess.Board(self.fens[index], chess960=True))
                    if got != want:
                        self.problem(f"position {self.fens[index]!r} differs from the expected {want}")
            elif line.startswith("info string error") or line.startswith("info string search error"):
                self.problem(f"internal error reported: {line[:300]}")
            elif line.startswith("bestmove"):
                self.bestmove(line)
        self.seen = end

    def bestmove(self, line: str) -> None:
        index = self.stats.bestmoves
        self.stats.bestmoves += 1
        if index >= len(self.go_fen):
            self.problem(f"a bestmove without a go: {line!r}")
            return
        fen = self.fens[self.go_fen[index]]
        parts = line.split()
        if parts[1] == "(none)":
            if any(chess.Board(fen, chess960=True).legal_moves):
                self.problem(f"bestmove (none) with legal moves in {fen}")
            return
        after = _legal_in(fen, parts[1])
        if after is None:
            self.problem(f"illegal {line!r} in {fen}")
        elif len(parts) >= 4 and parts[2] == "ponder" and _legal_in(after.fen(shredder=after.chess960),
                                                                     parts[3]) is None:
            self.problem(f"illegal ponder move in {line!r} after {fen}")

    def problem(self, text: str) -> None:
        if len(self.stats.problems) < 20:
            self.stats.problems.append(text)


def run_fuzz(scenario: Scenario, lines: int, seed: int) -> FuzzStats:
    """Sends ``lines`` hostile lines to one engine process; returns what happened."""
    stats = FuzzStats()
    gen = HostileLines(seed, scenario)
    t0 = time.monotonic()
    engine = EngineProcess(scenario.args)
    checker = Checker(engine, stats)
    recent: list[Line] = []
    try:
        engine.send("uci")
        engine.wait_for("uciok", READY_DEADLINE)
        engine.send(*scenario.setup)
        next_sync = gen.rng.randint(100, 400)
        readies = 0  # isready lines sent, the harness's and the generator's

        def sync() -> float:
            """isready, and its readyok (the last of all readyoks owed) within the deadline."""
            nonlocal readies
            t = time.monotonic()
            engine.send("isready")
            readies += 1
            engine.wait_count("readyok", readies, READY_DEADLINE)
            return time.monotonic() - t

        while stats.lines < lines:
            line, expected = gen.next()
            command = command_of(line)
            out: list[Line] = []
            if scenario.guard_tree_reuse and command == "position":
                out.append("ucinewgame")
            if command == "go":  # the harness reads the position the engine will search
                checker.go_fen.append(checker.d_sent)
                out.append("d")
                checker.d_sent += 1
                stats.gos += 1
            out.append(line)
            if command == "d":
                checker.d_sent += 1
            if command == "isready":
                readies += 1
            if command == "position" and expected is not None:
                # the next go's d must show the expected position unless a later line changes it
                gen_pending = position_key(expected)
                checker.pending = gen_pending  # type: ignore[attr-defined]
            elif command in ("position", "ucinewgame", "setoption"):
                checker.pending = None  # type: ignore[attr-defined]
            if command == "go" and getattr(checker, "pending", None) is not None:
                checker.expected[checker.go_fen[-1]] = checker.pending  # type: ignore[attr-defined]
            engine.send(*out)
            recent = (recent + out)[-12:]
            stats.lines += 1
            if stats.lines >= next_sync:
                ready = sync()
                stats.syncs += 1
                stats.max_ready = max(stats.max_ready, ready)
                checker.check_new_output()
                next_sync = stats.lines + gen.rng.randint(100, 400)
                if stats.problems:
                    stats.problems.append(f"lines before: {recent!r}")
                    break
        engine.send("stop")
        sync()
        checker.check_new_output()
        if stats.bestmoves != stats.gos:
            checker.problem(f"{stats.gos} go lines but {stats.bestmoves} bestmove lines")
        rc = engine.quit(READY_DEADLINE)
        if rc != 0:
            stats.crashes += 1
            checker.problem(f"exit status {rc}: {engine.stderr_tail()}")
        if engine.undecodable:
            checker.problem(f"undecodable output: {engine.undecodable[:3]!r}")
    except EngineDied as exc:
        stats.crashes += 1
        stats.problems.append(f"{exc}; lines before: {recent!r}")
    finally:
        engine.close()
        stats.seconds = time.monotonic() - t0
    return stats


def _report(name: str, stats: FuzzStats) -> str:
    return (f"{name}: {stats.lines} lines, {stats.gos} go / {stats.bestmoves} bestmove, {stats.syncs} isready "
            f"(slowest {stats.max_ready * 1000:.0f} ms), {stats.seconds:.1f} s, {stats.crashes} crashes")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_uci_fuzz(scenario):
    stats = run_fuzz(scenario, 20_000 // len(SCENARIOS), seed=1000 + SCENARIOS.index(scenario))
    print("\n" + _report(scenario.name, stats))
    assert not stats.problems, "\n".join(stats.problems)
    assert stats.crashes == 0
    assert stats.gos > 100 and stats.bestmoves == stats.gos


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_uci_fuzz_million(scenario):
    stats = run_fuzz(scenario, 1_000_000 // len(SCENARIOS), seed=2000 + SCENARIOS.index(scenario))
    print("\n" + _report(scenario.name, stats))
    assert not stats.problems, "\n".join(stats.problems)
    assert stats.crashes == 0 and stats.bestmoves == stats.gos
