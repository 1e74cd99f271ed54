"""The UCI engine: scripted protocol tests (in-process and over a subprocess), end-to-end tests through
python-chess's engine client, a fuzz test, and timed games against Stockfish.

Protocol tests that do not depend on what the search finds use a small stand-in search (below); the
end-to-end, fuzz-with-search and timing tests use the engine's real searches.
"""
from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import chess
import chess.engine
import pytest

from engine.uci import OPTIONS, UciEngine, parse_move
from mcts import Limit, SearchResult

REPO = Path(__file__).resolve().parents[1]
ENGINE_CMD = [sys.executable, "-m", "engine.cli", "uci"]
STOCKFISH = "/usr/games/stockfish"


# --------------------------------------------------------------------------- harness
class StandIn:
    """A protocol-only search: plays the lowest legal action, "deepening" every ``step`` seconds.

    With ``visits`` it reports MCTS-style per-action statistics; with ``fail_at`` it raises at that
    depth (to test that a worker's exception is reported and a legal move still sent).
    """

    def __init__(self, game, on_info=None, *, step: float = 0.002, visits: bool = False,
                 fail_at: Optional[int] = None) -> None:
        self.on_info = on_info
        self.step = step
        self.visits = visits
        self.fail_at = fail_at
        self._stop = threading.Event()
        self.resets = 0

    def stop(self) -> None:
        self._stop.set()

    def reset(self) -> None:
        self.resets += 1

    def run(self, state, limit: Limit) -> SearchResult:
        self._stop.clear()
        t0 = time.monotonic()
        actions = tuple(state.legal_actions())
        result = SearchResult(actions[0], actions=actions, pv=(actions[0],))
        depth = 0
        while not self._stop.is_set():
            if limit.depth is not None and depth >= limit.depth:
                break
            if limit.time is not None and time.monotonic() - t0 >= limit.time:
                break
            depth += 1
            if depth == self.fail_at:
                raise RuntimeError("stand-in failure")
            time.sleep(self.step)
            extra = {"visits": tuple(10 * (len(actions) - i) * depth for i in range(len(actions)))} if self.visits else {}
            result = SearchResult(
                actions[0], value=0.25, actions=actions, pv=(actions[0],), score=None if self.visits else 37,
                depth=depth, seldepth=depth + 2, nodes=100 * depth, seconds=time.monotonic() - t0,
                visits=extra.get("visits", ()),
                q_values=tuple(0.25 - 0.01 * i for i in range(len(actions))) if self.visits else (),
                simulations=sum(extra.get("visits", ())), extra={"hashfull": 7})
            if self.on_info is not None:
                self.on_info(result)
        return result


class Session:
    """An in-process engine with its replies collected."""

    def __init__(self, **standin) -> None:
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self.searches: list[StandIn] = []

        def out(line: str) -> None:
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()

        def factory(game, options, relay):
            s = StandIn(game, relay, **standin)
            self.searches.append(s)
            return s

        self.engine = UciEngine(out, search_factory=factory)

    def send(self, *lines: str) -> None:
        for line in lines:
            assert self.engine.handle(line) is (line.strip() != "quit")

    def wait_for(self, prefix: str, timeout: float = 5.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines[start:]:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {prefix!r} within {timeout} s; got {self.lines[start:][-20:]}")
                self._cv.wait(left)

    def take(self) -> list[str]:
        with self._cv:
            out, self.lines = self.lines, []
        return out

    def bestmove(self, timeout: float = 5.0) -> tuple[str, Optional[str]]:
        line = self.wait_for("bestmove", timeout)
        parts = line.split()
        return parts[1], (parts[3] if len(parts) > 3 and parts[2] == "ponder" else None)


# ------------------------------------------------------------------ protocol, in-process
def test_uci_handshake_lists_options():
    s = Session()
    s.send("uci")
    lines = s.take()
    assert lines[0] == "id name plytree" and lines[1].startswith("id author ")
    assert lines[-1] == "uciok"
    names = [re.match(r"option name (.+?) type", l).group(1) for l in lines if l.startswith("option")]
    assert names == [o.name for o in OPTIONS]
    for required in ("Hash", "MultiPV", "Ponder", "UCI_Chess960", "UCI_ShowWDL", "Move Overhead",
                     "SearchKind", "ModelFile", "CPuct", "BatchSize", "Threads"):
        assert required in names
    assert "option name SearchKind type combo default alphabeta var alphabeta var mcts" in lines
    s.send("isready")
    assert s.take() == ["readyok"]


def test_go_depth_info_fields_and_bestmove():
    s = Session()
    s.send("ucinewgame", "position startpos moves e2e4 e7e5", "go depth 3")
    best, _ = s.bestmove()
    board = chess.Board()
    board.push_uci("e2e4")
    board.push_uci("e7e5")
    assert chess.Move.from_uci(best) in board.legal_moves
    infos = [l for l in s.lines if l.startswith("info depth")]
    assert len(infos) == 3
    fields = infos[-1].split()
    for key in ("depth", "seldepth", "multipv", "score", "nodes", "nps", "hashfull", "time", "pv"):
        assert key in fields
    assert fields[fields.index("score") + 1] == "cp" and fields[fields.index("score") + 2] == "37"
    assert fields[fields.index("depth") + 1] == "3" and fields[fields.index("seldepth") + 1] == "5"
    assert "wdl" not in fields


def test_show_wdl_and_multipv_from_visits():
    s = Session(visits=True)
    s.send("setoption name SearchKind value mcts", "setoption name UCI_ShowWDL value true",
           "setoption name MultiPV value 3", "position startpos",
           "go depth 2")
    s.bestmove()
    last = [l for l in s.lines if l.startswith("info depth")][-3:]
    assert [l.split()[l.split().index("multipv") + 1] for l in last] == ["1", "2", "3"]
    w, d, l = (int(x) for x in re.search(r"wdl (\d+) (\d+) (\d+)", last[0]).groups())
    assert w + d + l == 1000 and w > l  # value 0.25 for the side to move


def test_isready_during_search_and_stop_returns_at_once():
    s = Session(step=0.01)
    s.send("position startpos", "go infinite")
    s.wait_for("info depth")
    s.send("isready")
    s.wait_for("readyok", timeout=0.5)
    assert not any(l.startswith("bestmove") for l in s.lines)  # infinite: waits for stop
    t0 = time.monotonic()
    s.send("stop")
    best, _ = s.bestmove(timeout=2.0)
    assert time.monotonic() - t0 < 2.0  # a functional bound; the latency itself is measured in bench
    assert chess.Move.from_uci(best) in chess.Board().legal_moves


def test_infinite_search_that_ends_waits_for_stop():
    s = Session()
    s.send("position startpos", "go infinite depth 2")
    s.wait_for("info depth 2")
    time.sleep(0.05)
    assert not any(l.startswith("bestmove") for l in s.lines)
    s.send("stop")
    s.bestmove(timeout=1.0)


def test_ponder_then_ponderhit():
    s = Session(step=0.005)
    s.send("position startpos moves e2e4 e7e5", "go ponder wtime 2000 btime 2000 winc 0 binc 0")
    time.sleep(0.3)  # far longer than the move's time: pondering does not count
    assert not any(l.startswith("bestmove") for l in s.lines)
    t0 = time.monotonic()
    s.send("ponderhit")
    s.bestmove(timeout=2.0)
    assert time.monotonic() - t0 < 2.0  # within the 2 s on the clock once it counts


def test_ponder_then_stop():
    s = Session(step=0.005)
    s.send("position startpos", "go ponder movetime 50")
    time.sleep(0.15)
    assert not any(l.startswith("bestmove") for l in s.lines)
    s.send("stop")
    s.bestmove(timeout=1.0)


def test_bad_input_is_answered_and_engine_stays_ready():
    s = Session()
    s.send("xyzzy", "position fen not/a/fen w - - 0 1", "position startpos moves e2e4 e7e6 e4e5 d7d5 e5d6 a1a8",
           "position", "position banana", "setoption name NoSuch value 3", "setoption name Hash value lots",
           "setoption name MultiPV value 0", "setoption name ModelFile value /no/such/file.onnx",
           "setoption name EvalFile value /no/such/net.onnx",
           "setoption nonsense", "debug maybe", "go depth x", "stop")
    infos = [l for l in s.lines if l.startswith("info string")]
    text = "\n".join(infos)
    assert "unknown command" in text and "invalid FEN" in text
    assert "illegal move 'a1a8'" in text and "position set up to move 5" in text
    assert "unknown option 'NoSuch'" in text and "Hash takes an integer" in text
    assert "MultiPV must be in [1, 64]" in text and "does not exist" in text
    # a file option naming no file is refused at setoption (the value stays), not at the next go
    assert "bad value: EvalFile: file '/no/such/net.onnx' does not exist" in text
    assert "bad value: ModelFile: file '/no/such/file.onnx' does not exist" in text
    assert "search error" not in text and "preparation failed" not in text
    best = s.wait_for("bestmove").split()[1]
    # the position kept the legal prefix, including en passant e5d6
    board = chess.Board()
    for m in "e2e4 e7e6 e4e5 d7d5 e5d6".split():
        board.push_uci(m)
    assert chess.Move.from_uci(best) in board.legal_moves
    s.send("isready")
    assert s.lines[-1] == "readyok"


def test_go_before_position_and_unknown_token_before_command():
    s = Session()
    s.send("joho go depth 1")  # UCI: skip an unknown token and read the rest
    assert "go before position" in s.wait_for("info string")
    best, _ = s.bestmove()
    assert chess.Move.from_uci(best) in chess.Board().legal_moves


def test_worker_exception_is_reported_and_a_legal_move_sent():
    s = Session(fail_at=3)
    s.send("position startpos moves g1f3", "go depth 10")
    best, _ = s.bestmove()
    text = "\n".join(s.lines)
    assert "search error: RuntimeError: stand-in failure" in text
    board = chess.Board()
    board.push_uci("g1f3")
    assert chess.Move.from_uci(best) in board.legal_moves
    s.send("isready")
    assert s.lines[-1] == "readyok"


def test_no_legal_move_answers_none_as_stockfish():
    s = Session()
    s.send("position fen 7k/6Q1/6K1/8/8/8/8/8 b - - 0 1", "go depth 3")  # black is mated
    assert s.bestmove() == ("(none)", None)
    assert "info depth 0 score mate 0" in s.lines
    assert any("checkmate" in l for l in s.lines)
    s.take()
    s.send("position fen 7k/5Q2/6K1/8/8/8/8/8 b - - 0 1", "go depth 3")  # stalemate
    assert s.bestmove() == ("(none)", None)
    assert "info depth 0 score cp 0" in s.lines


def test_searchmoves_restrict_the_choice():
    s = Session()
    s.send("position startpos", "go depth 2 searchmoves h2h4 a2a3")
    best, _ = s.bestmove()
    assert best in ("h2h4", "a2a3")


def test_ucinewgame_resets_search_and_options_rebuild_it():
    s = Session()
    s.send("position startpos", "go depth 1")
    s.bestmove()
    s.send("ucinewgame")
    assert s.searches[-1].resets == 1
    s.send("setoption name Hash value 16", "position startpos", "go depth 1")
    s.wait_for("bestmove", start=1)
    assert len(s.searches) == 2


def test_chess960_castling_both_notations_and_output():
    # white king b1, rook a1 and h1; queen-side castling b1->c1 (king-takes-rook b1a1)
    fen = "r1k4r/8/8/8/8/8/8/RK5R w HAha - 0 1"
    b = chess.Board(fen, chess960=True)
    castle_q = parse_move(b, "b1a1")
    assert b.is_castling(castle_q) and b.is_queenside_castling(castle_q)
    castle_k = parse_move(b, "b1h1")
    assert b.is_kingside_castling(castle_k)
    assert parse_move(b, "b1g1") == castle_k  # king's destination: unambiguous, g1 is no king move
    assert parse_move(b, "b1c1") != castle_q  # c1 is an ordinary king move here
    # standard chess: e1g1 and e1h1 both castle
    std = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    assert std.is_kingside_castling(parse_move(std, "e1g1")) and std.is_kingside_castling(parse_move(std, "e1h1"))

    s = Session()
    s.send("setoption name UCI_Chess960 value true", f"position fen {fen} moves b1g1 c8d8", "d")
    after = s.wait_for("info string fen").split()[3]
    assert after.startswith("r2k3r/8/8/8/8/8/8/R4RK1")
    # output: a standard position with UCI_Chess960 on castles king-takes-rook
    s2 = Session()
    s2.send("setoption name UCI_Chess960 value true", "position fen 4k3/8/8/8/8/8/8/4K2R w K - 0 1",
            "go depth 1 searchmoves e1g1")
    assert s2.bestmove()[0] == "e1h1"
    s3 = Session()
    s3.send("position fen 4k3/8/8/8/8/8/8/4K2R w K - 0 1", "go depth 1 searchmoves e1h1")
    assert s3.bestmove()[0] == "e1g1"


def test_quit_ends_the_loop_during_a_search():
    s = Session(step=0.01)
    s.send("position startpos", "go infinite")
    s.wait_for("info depth")
    assert s.engine.handle("quit") is False
    s.wait_for("bestmove", timeout=1.0)


# --------------------------------------------------------------------------- fuzz
_WORDS = ("uci isready ucinewgame position startpos fen moves go stop ponderhit setoption name value "
          "debug on off wtime btime winc binc movestogo movetime depth nodes mate infinite ponder "
          "searchmoves e2e4 e7e5 g1f3 e1g1 e1h1 a7a8q b1c3 0000 Hash MultiPV UCI_Chess960 true false "
          "SearchKind mcts alphabeta CPuct BatchSize Move Overhead -1 0 1 3 10 99999999999 1e9 nan "
          "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1 8/8/8 k K Q d").split()
_SCRIPT = ["uci", "isready", "setoption name MultiPV value 2", "ucinewgame",
           "position startpos moves e2e4 c7c5 g1f3", "go wtime 1000 btime 1000 winc 10 binc 10",
           "position fen r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1 moves e1g1", "go depth 2", "go infinite", "stop",
           "setoption name UCI_Chess960 value true", "go ponder movetime 10", "ponderhit", "d"]


def _fuzz_lines(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 12)))
        elif kind < 0.8:
            line = rng.choice(_SCRIPT)
            chars = list(line)
            for _ in range(rng.randint(1, 4)):
                op = rng.randrange(3)
                pos = rng.randrange(len(chars) + 1)
                if op == 0 and chars:
                    del chars[min(pos, len(chars) - 1)]
                elif op == 1:
                    chars.insert(pos, rng.choice("abcdefgh12345678 /-qkQK0\t\x00é"))
                else:
                    words = line.split()
                    rng.shuffle(words)
                    chars = list(" ".join(words))
            line = "".join(chars)
        else:
            line = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randint(0, 40)))
        out.append(line)
    return out


def test_fuzz_protocol_with_standin():
    rng = random.Random(7)
    s = Session(step=0.0005)
    for line in _fuzz_lines(rng, 3000):
        s.engine.handle(line)
    s.send("stop", "isready")
    assert s.lines[-1] == "readyok"
    assert not any("error:" in l and "search error" not in l for l in s.lines), \
        [l for l in s.lines if "error:" in l][:5]


def test_fuzz_protocol_with_real_engine():
    rng = random.Random(11)
    lines: list[str] = []
    engine = UciEngine(lines.append)
    for line in _fuzz_lines(rng, 1500):
        if line.strip().startswith("go") or " go " in line:
            line = line + " depth 2" if "infinite" not in line and "ponder" not in line else line
        engine.handle(line)
    engine.handle("stop")
    engine.handle("isready")
    assert lines[-1] == "readyok"
    # the fuzz reached the search: many moves were chosen and reported
    assert sum(l.startswith("bestmove") for l in lines) >= 50
    assert sum(l.startswith("info depth") for l in lines) >= 50
    errors = [l for l in lines if "error:" in l]
    assert not errors, errors[:5]


# ------------------------------------------------------------------------ subprocess
def _spawn() -> subprocess.Popen:
    return subprocess.Popen(ENGINE_CMD, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)


def _read_until(proc: subprocess.Popen, prefix: str, timeout: float = 20.0) -> list[str]:
    seen = []
    result: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if line.startswith(prefix):
                result.append(line)
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    assert result, f"no {prefix!r} within {timeout} s; got {seen[-10:]}"
    return seen


def test_subprocess_script():
    proc = _spawn()
    try:
        proc.stdin.write("uci\n")
        proc.stdin.flush()
        assert _read_until(proc, "uciok")[0] == "id name plytree"
        proc.stdin.write("isready\nnonsense here\nposition fen 8/8/8 w\nposition startpos moves e2e4\n"
                         "go movetime 300\nisready\n")
        proc.stdin.flush()
        seen = _read_until(proc, "bestmove")
        assert any("unknown command" in l for l in seen) and any("invalid FEN" in l for l in seen)
        assert seen.index("readyok") < len(seen) - 1
        assert any(l.startswith("info depth") and " pv " in l for l in seen)
        best = seen[-1].split()[1]
        board = chess.Board()
        board.push_uci("e2e4")
        assert chess.Move.from_uci(best) in board.legal_moves
        proc.stdin.flush()
        proc.stdin.buffer.write(b"\xff\xfe\x00 not utf-8 \xc3\n")  # raw bytes that are not UTF-8
        proc.stdin.buffer.flush()
        proc.stdin.write("isready\n")
        proc.stdin.flush()
        assert _read_until(proc, "readyok")[0].startswith("info string unknown command")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
        proc.stdin.close()


# ----------------------------------------------------------------- end to end (python-chess)
@pytest.fixture(scope="module")
def plytree():
    engine = chess.engine.SimpleEngine.popen_uci(ENGINE_CMD, cwd=REPO, timeout=30)
    yield engine
    engine.quit()


def test_e2e_identity_and_options(plytree):
    assert plytree.id["name"] == "plytree"
    assert "Threads" in plytree.options and "MultiPV" in plytree.options
    assert plytree.options["SearchKind"].default == "alphabeta"


def test_e2e_play_short_game(plytree):
    board = chess.Board()
    plytree.configure({"UCI_ShowWDL": True})
    for _ in range(12):
        if board.is_game_over():
            break
        result = plytree.play(board, chess.engine.Limit(time=0.1), info=chess.engine.INFO_ALL)
        assert result.move in board.legal_moves
        assert "score" in result.info and "wdl" in result.info
        board.push(result.move)
    assert len(board.move_stack) >= 12 or board.is_game_over()


def test_e2e_analyse_multipv(plytree):
    board = chess.Board("r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3")
    infos = plytree.analyse(board, chess.engine.Limit(depth=3), multipv=3)
    assert len(infos) == 3
    first = {info["pv"][0] for info in infos}
    assert len(first) == 3 and all(m in board.legal_moves for m in first)
    assert all(info["depth"] >= 1 for info in infos)


def test_e2e_finds_mate_in_one(plytree):
    board = chess.Board("6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1")
    result = plytree.play(board, chess.engine.Limit(depth=3), info=chess.engine.INFO_SCORE)
    assert result.move == chess.Move.from_uci("a1a8")
    assert result.info["score"].relative == chess.engine.Mate(1)


def test_e2e_stop_during_infinite(plytree):
    board = chess.Board()
    with plytree.analysis(board) as analysis:
        time.sleep(0.5)
        t0 = time.monotonic()
        analysis.stop()
        best = analysis.wait()
        assert time.monotonic() - t0 < 2.0  # a functional bound, not a latency claim
    assert best.move in board.legal_moves


def test_e2e_ponder_and_ponderhit(plytree):
    board = chess.Board()
    limit = chess.engine.Limit(white_clock=5, black_clock=5, white_inc=0.05, black_inc=0.05)
    for _ in range(4):
        result = plytree.play(board, limit, ponder=True)
        assert result.move in board.legal_moves
        board.push(result.move)
        reply = result.ponder or next(iter(board.legal_moves))
        board.push(reply)  # the expected reply: python-chess sends ponderhit on the next play
    result = plytree.play(board, limit)
    assert result.move in board.legal_moves


def test_e2e_chess960_game():
    engine = chess.engine.SimpleEngine.popen_uci(ENGINE_CMD, cwd=REPO, timeout=30)
    try:
        board = chess.Board.from_chess960_pos(123)
        board.chess960 = True
        for _ in range(20):
            if board.is_game_over():
                break
            result = engine.play(board, chess.engine.Limit(time=0.05))
            assert result.move in board.legal_moves
            board.push(result.move)
        # king b1, rooks a1 and h1: king-side castling is b1h1 (king takes rook), not b1g1; python-chess
        # sends it so in searchmoves and rejects a reply in the other notation
        fen = "rk5r/pppppppp/8/8/8/8/PPPPPPPP/RK5R w HAha - 0 1"
        board = chess.Board(fen, chess960=True)
        castle = chess.Move.from_uci("b1h1")
        assert board.is_kingside_castling(castle)
        result = engine.play(board, chess.engine.Limit(depth=1), root_moves=[castle])
        assert result.move == castle
    finally:
        engine.quit()


# ---------------------------------------------------------------------- timing vs Stockfish
def play_timed_game(plytree_cmd: list[str], *, base: float, inc: float, plytree_white: bool,
                    max_plies: int = 400, stockfish_elo: int = 1320, seed: int = 0):
    """One game with real clocks, both engines under python-chess. Returns a dict with the result,
    who flagged (if anyone), and plytree's seconds per move."""
    ours = chess.engine.SimpleEngine.popen_uci(plytree_cmd, cwd=REPO, timeout=30)
    sf = chess.engine.SimpleEngine.popen_uci(STOCKFISH, timeout=30)
    try:
        # a generous overhead keeps Stockfish from flagging on a shared machine (a flag ends the game)
        sf.configure({"UCI_LimitStrength": True, "Threads": 1, "Hash": 16, "Move Overhead": 100,
                      "UCI_Elo": max(stockfish_elo, sf.options["UCI_Elo"].min or 0)})
        rng = random.Random(seed)
        board = chess.Board()
        for _ in range(2):  # two random plies so that games differ
            board.push(rng.choice(list(board.legal_moves)))
        clocks = {chess.WHITE: base, chess.BLACK: base}
        ours_color = chess.WHITE if plytree_white else chess.BLACK
        spent: list[float] = []
        flagged = None
        while not board.is_game_over(claim_draw=True) and len(board.move_stack) < max_plies:
            engine = ours if board.turn == ours_color else sf
            limit = chess.engine.Limit(white_clock=clocks[chess.WHITE], black_clock=clocks[chess.BLACK],
                                       white_inc=inc, black_inc=inc)
            t0 = time.monotonic()
            result = engine.play(board, limit)
            used = time.monotonic() - t0
            clocks[board.turn] -= used
            if clocks[board.turn] < 0:
                flagged = "plytree" if board.turn == ours_color else "stockfish"
                break
            clocks[board.turn] += inc
            if board.turn == ours_color:
                spent.append(used)
            assert result.move is not None
            board.push(result.move)
        outcome = board.outcome(claim_draw=True)
        return {"flagged": flagged, "result": board.result(claim_draw=True) if outcome else "*",
                "plies": len(board.move_stack), "spent": spent, "clock_left": clocks[ours_color],
                "ours_white": plytree_white}
    finally:
        ours.quit()
        sf.quit()


def test_timed_game_no_loss_on_time():
    game = play_timed_game(ENGINE_CMD, base=2.0, inc=0.02, plytree_white=True, max_plies=80)
    assert game["flagged"] != "plytree"
    spent = game["spent"]
    assert spent and max(spent) < 1.0
    print(f"\nplytree vs Stockfish (UCI_LimitStrength), 2+0.02: {game['result']} in {game['plies']} plies; plytree "
          f"{len(spent)} moves, mean {sum(spent) / len(spent) * 1000:.0f} ms, max {max(spent) * 1000:.0f} ms, "
          f"clock left {game['clock_left']:.2f} s")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["alphabeta", "mcts"])
@pytest.mark.parametrize("index", range(10))
def test_timed_games_slow(index, kind):
    game = play_timed_game(ENGINE_CMD + ["--search", kind], base=2.0, inc=0.02, plytree_white=index % 2 == 0,
                           seed=index)
    spent = game["spent"]
    print(f"\n{kind} game {index}: {game['result']} (plytree {'white' if game['ours_white'] else 'black'}), "
          f"{game['plies']} plies, flagged={game['flagged']}, plytree mean "
          f"{sum(spent) / max(1, len(spent)) * 1000:.0f} ms max {max(spent, default=0) * 1000:.0f} ms, "
          f"clock left {game['clock_left']:.2f} s")
    assert game["flagged"] != "plytree"


# ------------------------------------------------- regressions of issue 14 over a real subprocess
from tests.uci_process import EngineProcess, only_uci  # noqa: E402

# a generous functional bound for "stop ends the search" (latency itself is measured, not asserted here)
STOP_BOUND = 2.0


def _bestmove_after(engine: EngineProcess, start: int, timeout: float = 10.0) -> str:
    return engine.lines[engine.wait_for("bestmove", timeout, start)].split()[1]


def _assert_legal(board: chess.Board, text: str) -> None:
    assert chess.Move.from_uci(text) in board.legal_moves, (text, board.fen())


def test_multipv_root_split_with_terminal_child_stops_answers_and_quits():
    # issue 14 item 2: the only move leads to K v K (a terminal child); the root split spun forever
    fen = "7K/6r1/8/8/8/8/8/7k w - - 0 1"
    with EngineProcess() as engine:
        engine.send("setoption name MultiPV value 2", f"position fen {fen}", "go depth 1000000000")
        start = len(engine.lines)
        time.sleep(0.3)
        engine.send("stop")
        assert _bestmove_after(engine, start) == "h8g7"
        engine.sync()
        assert engine.quit() == 0
        assert engine.count("info depth") < 100  # an exact answer ends the deepening at once


STOP_POSITIONS = [
    chess.STARTING_FEN,
    "7K/6r1/8/8/8/8/8/7k w - - 0 1",  # the only move ends the game
    "6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1",  # mate in one
    "7k/8/6Q1/8/8/8/8/K7 w - - 0 1",  # many moves stalemate
]


@pytest.mark.parametrize("kind", ["alphabeta", "mcts"])
def test_stop_ends_every_search_kind_and_multipv(kind):
    latencies = []
    with EngineProcess() as engine:
        engine.send(f"setoption name SearchKind value {kind}")
        for multipv in (1, 3):
            engine.send(f"setoption name MultiPV value {multipv}")
            for fen in STOP_POSITIONS:
                # ucinewgame between unrelated positions: MCTS tree reuse across them is another issue
                engine.send("ucinewgame", f"position fen {fen}")
                start = len(engine.lines)
                engine.send("go infinite")
                try:
                    engine.wait_for("info depth", 1.0, start)
                except AssertionError:
                    pass  # some searches report nothing within a second: stop them anyway
                t0 = time.monotonic()
                engine.send("stop")
                best = _bestmove_after(engine, start, timeout=STOP_BOUND)
                latencies.append(time.monotonic() - t0)
                _assert_legal(chess.Board(fen), best)
                engine.sync()
                assert sum(l.startswith("bestmove") for l in engine.lines[start:]) == 1
        assert engine.quit() == 0
    latencies.sort()
    print(f"\n{kind}: stop -> bestmove median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms over {len(latencies)} searches")


def test_quit_exits_during_every_kind_of_search():
    for kind in ("alphabeta", "mcts"):
        with EngineProcess(["--search", kind]) as engine:
            engine.send("setoption name MultiPV value 2", "position fen 7K/6r1/8/8/8/8/8/7k w - - 0 1",
                        "go infinite")
            time.sleep(0.2)
            assert engine.quit(timeout=10) == 0


@pytest.mark.parametrize("go", ["go wtime inf btime 1000", "go depth 1e400", "go movetime 1e999",
                                "go movetime nan", "go wtime -5 btime -5", "go nodes -1", "go depth -3",
                                "go movetime 1e999 depth inf nodes nan", "go mate inf", "go movestogo 1e999 wtime 100",
                                "go wtime", "go searchmoves e2e4 zz99 movetime 50", "go wtime 1e308 btime 1e308 winc 1e308"])
def test_go_with_bad_numbers_gets_exactly_one_bestmove(go):
    # issue 14 item 3: these printed "info string error: OverflowError" and no bestmove
    with EngineProcess() as engine:
        engine.send("position startpos moves e2e4")
        start = len(engine.lines)
        engine.send(go)
        time.sleep(0.2)
        engine.send("stop")
        best = _bestmove_after(engine, start)
        engine.sync()
        board = chess.Board()
        board.push_uci("e2e4")
        _assert_legal(board, best)
        replies = engine.lines[start:]
        assert sum(l.startswith("bestmove") for l in replies) == 1
        assert not any("error" in l for l in replies), replies
        assert all(only_uci(l) for l in replies), replies
        assert engine.quit() == 0


def test_big_hash_does_not_block_isready_or_ucinewgame():
    # issue 14 item 4: the table is allocated and cleared off the protocol thread
    with EngineProcess() as engine:
        engine.send("setoption name Hash value 2000")
        engine.sync(timeout=STOP_BOUND)
        engine.send("position startpos")
        start = len(engine.lines)
        engine.send("go depth 3")
        _assert_legal(chess.Board(), _bestmove_after(engine, start, timeout=30))
        engine.send("ucinewgame")
        engine.sync(timeout=STOP_BOUND)
        engine.send("setoption name Hash value 16", "isready", "setoption name Hash value 1500")
        engine.sync(timeout=STOP_BOUND)
        start = len(engine.lines)
        engine.send("go infinite")
        time.sleep(0.3)
        engine.send("stop")
        _assert_legal(chess.Board(), _bestmove_after(engine, start, timeout=30))
        assert engine.quit() == 0


def test_isready_answers_while_the_table_is_built():
    # deterministic: the factory blocks until released, as a slow allocation would
    building = threading.Event()
    release = threading.Event()
    lines: list[str] = []

    def factory(game, options, relay):
        building.set()
        assert release.wait(10)
        return StandIn(game, relay)

    engine = UciEngine(lines.append, search_factory=factory)
    engine.handle("setoption name Hash value 2000")
    engine.handle("isready")
    assert building.wait(5) and lines[-1] == "readyok"  # answered while the build is still running
    engine.handle("position startpos")
    engine.handle("go depth 2")
    time.sleep(0.1)
    assert not any(l.startswith("bestmove") for l in lines)  # the go waits for the table
    release.set()
    deadline = time.monotonic() + 5
    while not any(l.startswith("bestmove") for l in lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    _assert_legal(chess.Board(), [l for l in lines if l.startswith("bestmove")][0].split()[1])
    engine.handle("quit")


def test_abandoned_search_is_answered_once_and_silenced(monkeypatch):
    # a search that ignores stop: the protocol thread answers for it after the grace period
    import engine.uci as uci

    monkeypatch.setattr(uci, "STOP_GRACE_SECONDS", 0.2)
    gate = threading.Event()

    class Deaf(StandIn):
        def run(self, state, limit):
            actions = tuple(state.legal_actions())
            self.on_info(SearchResult(actions[1], actions=actions, pv=(actions[1],), depth=1, score=5))
            gate.wait(10)
            self.on_info(SearchResult(actions[2], actions=actions, pv=(actions[2],), depth=2, score=5))
            return SearchResult(actions[2], actions=actions, pv=(actions[2],), depth=2)

    lines: list[str] = []
    engine = UciEngine(lines.append, search_factory=lambda g, o, r: Deaf(g, r))
    engine.handle("position startpos")
    engine.handle("go infinite")
    deadline = time.monotonic() + 5
    while not any(l.startswith("info depth 1") for l in lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.handle("stop")
    best = [l for l in lines if l.startswith("bestmove")]
    assert len(best) == 1 and "abandoned" in lines[-1]
    reported = [l for l in lines if l.startswith("info depth 1")][0].split(" pv ")[1].split()[0]
    assert best[0].split()[1] == reported  # the best move it had reported
    gate.set()
    time.sleep(0.2)
    assert sum(l.startswith("bestmove") for l in lines) == 1  # the late answer is not printed
    assert not any(l.startswith("info depth 2") for l in lines)


def test_startup_options_are_answered_after_uciok(tmp_path):
    # issue 14 item 6: `plytree uci --model X` wrote its info string before uciok
    bad_model = tmp_path / "rand.onnx"
    bad_model.write_bytes(b"not an onnx file")
    with EngineProcess(["--search", "mcts", "--model", str(bad_model)]) as engine:
        engine.send("uci")
        uciok = engine.wait_for("uciok", 30)
        assert engine.lines[0] == "id name plytree"
        engine.sync(timeout=30)
        infos = [i for i, l in enumerate(engine.lines) if l.startswith("info string")]
        assert infos and min(infos) > uciok  # the model's complaint comes after uciok
        assert any("cannot be used" in engine.lines[i] for i in infos)
        assert engine.quit() == 0


def test_finished_games_are_answered_as_stockfish_does():
    # issue 14 item 6: "search error: cannot search a finished game" for K v K
    with EngineProcess() as engine:
        cases = [("8/8/8/8/8/8/8/K6k w - - 0 1", "cp 0", True),  # insufficient material: drawn
                 ("7k/6Q1/6K1/8/8/8/8/8 b - - 0 1", "mate 0", False),  # checkmated
                 ("7k/5Q2/6K1/8/8/8/8/8 b - - 0 1", "cp 0", False)]  # stalemate
        for fen, score, has_moves in cases:
            start = len(engine.lines)
            engine.send(f"position fen {fen}", "go depth 5")
            best = _bestmove_after(engine, start)
            replies = engine.lines[start:]
            assert f"info depth 0 score {score}" in replies
            assert not any("error" in l for l in replies), replies
            if has_moves:
                _assert_legal(chess.Board(fen), best)
            else:
                assert best == "(none)"
        # a drawn-by-rule position reached by moves (threefold repetition) is answered the same way
        start = len(engine.lines)
        engine.send("position startpos moves g1f3 g8f6 f3g1 f6g8 g1f3 g8f6 f3g1 f6g8", "go depth 3")
        _assert_legal(chess.Board(), _bestmove_after(engine, start))
        assert engine.quit() == 0


def test_null_move_in_position_moves():
    # issue 14 item 6: "0000" is a null move (Stockfish and python-chess), not an error
    with EngineProcess() as engine:
        engine.send("position startpos moves e2e4 0000 d2d4 g8f6", "d")
        fen_line = engine.lines[engine.wait_for("info string fen", 10)]
        board = chess.Board()
        for text in ("e2e4", "0000", "d2d4", "g8f6"):
            board.push_uci(text)
        assert fen_line == f"info string fen {board.fen()}"
        start = len(engine.lines)
        engine.send("go depth 3")
        _assert_legal(board, _bestmove_after(engine, start))
        assert not any("error" in l or "illegal" in l for l in engine.lines), engine.lines
        # in check a null move is illegal: the position keeps the legal prefix
        start = len(engine.lines)
        engine.send("position startpos moves e2e4 f7f6 d1h5 0000", "d")
        assert "null move" in engine.lines[engine.wait_for("info string null move", 10, start)]
        # python-chess's SAN null move "--" too (the fuzz found it left the side not to move in check)
        start = len(engine.lines)
        engine.send("position startpos moves e2e4 f7f6 d1h5 --", "d")
        engine.wait_for("info string null move '--' while in check", 10, start)
        start = len(engine.lines)
        engine.send("go depth 2")
        after = chess.Board()
        for text in ("e2e4", "f7f6", "d1h5"):
            after.push_uci(text)
        _assert_legal(after, _bestmove_after(engine, start))
        assert not any("search error" in l for l in engine.lines[start:])
        assert engine.quit() == 0


def test_null_move_through_python_chess(plytree):
    board = chess.Board()
    board.push_uci("e2e4")
    board.push(chess.Move.null())
    result = plytree.play(board, chess.engine.Limit(depth=3))
    assert result.move in board.legal_moves


# --------------------------------------------------------------------------- incremental position lines
def _full_replay(args: list[str], chess960: bool):
    from engine._uci_position import parse_position

    return parse_position(args, chess960)


@pytest.mark.parametrize("seed", range(4))
def test_position_lines_extended_incrementally_equal_a_full_replay(seed):
    """A GUI's growing ``position ... moves`` lines (1-2 new moves each, sometimes a changed line,
    an illegal move, a null move, another start): the tracker's board and search state equal those
    of a full replay after every line."""
    import games
    from engine._uci_position import state_from_board
    from engine._uci_track import PositionTracker

    rng = random.Random(seed)
    game = games.load("chess")
    tracker = PositionTracker()
    heads = [["startpos"], ["fen", *"r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1".split()]]
    head = heads[0]
    line: list[str] = []
    board = chess.Board()
    checked = 0
    for _ in range(160):
        roll = rng.random()
        if roll < 0.05:  # a new game, maybe from a FEN
            head = rng.choice(heads)
            board = chess.Board(" ".join(head[1:])) if head[0] == "fen" else chess.Board()
            line = []
        elif roll < 0.10 and len(line) > 3:  # a take-back: a line that does not extend the last one
            cut = rng.randrange(1, len(line))
            line = line[:cut]
            board = chess.Board(" ".join(head[1:])) if head[0] == "fen" else chess.Board()
            for text in line:
                board.push(chess.Move.from_uci(text) if text != "0000" else chess.Move.null())
        else:
            for _ in range(rng.choice((1, 1, 2))):
                moves = list(board.legal_moves)
                if not moves or board.is_game_over(claim_draw=True):
                    break
                move = chess.Move.null() if rng.random() < 0.03 and not board.is_check() else rng.choice(moves)
                board.push(move)
                line.append(move.uci())
        args = head + (["moves", *line] if line else [])
        if rng.random() < 0.05:  # an illegal move at the end: the legal prefix is kept
            args = args + (["moves"] if not line else []) + ["e1e8"]
        got = tracker.update(args, False)
        want = _full_replay(args, False)
        assert got.notes == want.notes
        assert tracker.board.fen() == want.board.fen()
        assert tracker.board.move_stack == want.board.move_stack
        if not want.board.is_valid() or want.board.is_game_over():
            continue
        state, expected = tracker.state(game, tracker.board), state_from_board(game, want.board)
        assert state == expected and state.fen() == expected.fen()
        assert state.is_terminal() == expected.is_terminal()
        assert sorted(state.legal_actions()) == sorted(expected.legal_actions())
        checked += 1
    assert tracker.incremental > 50 and checked > 100


def test_repetition_is_seen_through_incremental_lines():
    """The third occurrence arrives one move at a time: the incremental state sees the draw."""
    import games
    from engine._uci_track import PositionTracker

    game = games.load("chess")
    tracker = PositionTracker()
    line: list[str] = []
    for move in ["g1f3", "g8f6", "f3g1", "f6g8"] * 2:
        line.append(move)
        tracker.update(["startpos", "moves", *line], False)
        state = tracker.state(game, tracker.board)
    assert tracker.incremental == len(line) - 1
    assert state.is_terminal() and tracker.board.can_claim_threefold_repetition()


def test_quick_move_is_answered_on_the_protocol_thread():
    """At 1 s + 10 ms the search runs inline: bestmove is out when ``go`` returns, no thread was
    started for it, and the next commands are served as usual."""
    s = Session()
    s.send("uci", "isready")
    s.wait_for("readyok")
    s.engine._cache.get(False, s.engine.options)  # the background build is done
    s.send("position startpos moves e2e4", "go wtime 1000 btime 1000 winc 10 binc 10")
    assert any(line.startswith("bestmove ") for line in s.lines)
    assert s.engine._job is None
    s.send("go wtime 60000 btime 60000")  # a long clock: a worker thread, stoppable
    assert s.engine._job is not None
    s.send("stop")
    s.bestmove()


def test_batched_printer_flushes_once_per_bestmove():
    from engine._uci_format import Printer

    class Stream:
        def __init__(self) -> None:
            self.text, self.flushes = "", []

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            self.flushes.append(self.text.count("\n"))

    stream = Stream()
    out = Printer(stream)
    out("info string before")
    with out.batched():
        out("info depth 1")
        out("info depth 2")
        out("bestmove e2e4")
        out("info string after")
    out("readyok")
    assert stream.text.splitlines() == ["info string before", "info depth 1", "info depth 2", "bestmove e2e4",
                                        "info string after", "readyok"]
    assert stream.flushes == [1, 4, 5, 6]


def test_a_stuck_wait_reports_the_engines_thread_stacks():
    """A harness that waits in vain asks the engine (SIGUSR1, faulthandler) where its threads are,
    so a hang seen once in CI says where it waited."""
    from tests.uci_process import EngineDied

    engine = EngineProcess()
    try:
        engine.send("uci")
        engine.wait_for("uciok", 60)
        with pytest.raises(EngineDied) as info:
            engine.wait_for("no engine says this", 0.5)
        assert "most recent call first" in str(info.value) and "engine/uci.py" in str(info.value)
        assert engine.sync() < 10  # the engine keeps working after the dump
    finally:
        engine.close()
