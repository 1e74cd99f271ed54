"""Threads: Lazy SMP alpha-beta (deterministic with one thread, right with several, a table that is
never corrupted by racing writers)."""
from __future__ import annotations

from pathlib import Path

import chess
import pytest

import games
from mcts import AlphaBeta, Limit
from mcts._chess_ab import ChessAlphaBeta, table_stress
from mcts._score import MATE

from tests.conftest import DATA
from tests.test_models import random_states

MIDDLEGAME = "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1"


@pytest.fixture(scope="module")
def chess_game():
    return games.load("chess")


def _mate_in_2_fens(step: int) -> list[str]:
    lines = (DATA / "chess" / "epd" / "mate_in_2.fen").read_text().splitlines()
    return [line.strip() for line in lines if line.strip()][::step]


def _forces_mate_in_1(board: chess.Board) -> bool:
    """Whether every reply of the side to move allows a mate in one (python-chess, by brute force)."""
    replies = list(board.legal_moves)
    if not replies:
        return board.is_checkmate()
    for reply in replies:
        board.push(reply)
        mated = False
        for move in board.legal_moves:
            board.push(move)
            mated = board.is_checkmate()
            board.pop()
            if mated:
                break
        board.pop()
        if not mated:
            return False
    return True


def test_one_thread_is_deterministic(chess_game):
    state = chess_game.deserialize(MIDDLEGAME)
    results = [AlphaBeta(chess_game, threads=1).run(state, Limit(depth=6)) for _ in range(2)]
    default = AlphaBeta(chess_game).run(state, Limit(depth=6))
    for r in results:
        assert (r.best_action, r.score, r.nodes, r.pv) == (default.best_action, default.score, default.nodes,
                                                         default.pv)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_mate_in_2_with_threads(chess_game, threads):
    ab = AlphaBeta(chess_game, threads=threads)
    assert ab.threads == threads and ab._backend.threads == threads
    for fen in _mate_in_2_fens(25):
        state = chess_game.deserialize(fen)
        result = ab.run(state, Limit(depth=5))
        assert result.score == MATE - 3, fen
        board = chess.Board(fen)
        board.push(chess.Move.from_uci(state.action_to_string(result.best_action)))
        assert _forces_mate_in_1(board), (fen, board.peek().uci())


def test_helpers_search_and_count(chess_game):
    ab = AlphaBeta(chess_game, threads=2)
    result = ab.run(chess_game.deserialize(MIDDLEGAME), Limit(time=0.3))
    backend = ab._backend
    assert len(backend.helper_depths) == 1 and backend.helper_depths[0] >= 1   # the helper deepened
    assert result.nodes == backend.nodes > 0
    assert result.best_action in result.actions


def test_many_short_searches_under_load(chess_game):
    ab = AlphaBeta(chess_game, threads=4, tt_bytes=1 << 16)   # a small table: writers collide often
    state = chess_game.deserialize(MIDDLEGAME)
    for i in range(200):
        limit = Limit(nodes=300 + 7 * i) if i % 2 else Limit(time=0.002)
        result = ab.run(state, limit)
        assert result.best_action in result.actions
    ab.resize(1 << 20)
    ab.reset()
    assert ab.run(state, Limit(depth=3)).best_action in state.legal_actions()


def test_stop_reaches_helpers(chess_game):
    import threading
    ab = AlphaBeta(chess_game, threads=3)
    timer = threading.Timer(0.2, ab.stop)
    timer.start()
    result = ab.run(chess_game.deserialize(MIDDLEGAME), Limit(depth=60))
    timer.join()
    assert result.stop_reason == "stopped"
    assert ab._backend.helper_depths  # joined: the counts are readable and final
    assert ab._backend.nodes == result.nodes


def test_table_never_hands_out_torn_entries():
    # 16 entries, 64 keys, 4 threads: every slot is written by racing threads all the time; a table
    # without the key check of ab_entry_read returns another key's data here within these iterations
    reads, misses, bad = table_stress(4, 3_000_000)
    assert bad == 0
    assert reads > 10_000 and misses > 10_000


def test_threads_argument_checked(chess_game):
    with pytest.raises(ValueError):
        AlphaBeta(chess_game, threads=0)
    with pytest.raises(ValueError):
        ChessAlphaBeta(chess_game, threads=100_000)
    with pytest.raises(ValueError):
        table_stress(2, 10, entries=12)
    ab = AlphaBeta(chess_game, threads=2)
    ab.threads = 1
    assert ab._backend.threads == 1 and ab._backend.helper_depths == []
    # back ends without threads search with one
    c4 = AlphaBeta(games.load("connect4"), threads=2)
    assert c4.threads == 2 and c4.run(games.load("connect4").new_initial_state(), Limit(depth=4)).best_action == 3


def test_uci_threads_option_reaches_the_search():
    import threading

    from engine._uci_search import default_search_factory
    from engine.uci import UciEngine

    built: list = []

    def factory(game, options, relay):
        built.append(default_search_factory(game, options, relay))
        return built[-1]

    lines: list[str] = []
    done = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("bestmove"):
            done.set()

    engine = UciEngine(out, search_factory=factory)
    for command in ("uci", "setoption name Threads value 3", "isready", "position startpos moves e2e4",
                    "go depth 5"):
        engine.handle(command)
    assert done.wait(30), lines[-5:]
    assert any(l.startswith("option name Threads type spin default 1 min 1 max 256") for l in lines)
    assert built[-1].threads == 3 and built[-1]._backend.threads == 3
    move = next(l for l in lines if l.startswith("bestmove")).split()[1]
    board = chess.Board()
    board.push_uci("e2e4")
    assert chess.Move.from_uci(move) in board.legal_moves
    engine.handle("setoption name Threads value 0")   # out of range: refused, the old value kept
    assert engine.options["threads"] == 3
    engine.handle("quit")


# ----------------------------------------------------------------------------- MCTS, pipelined

class _OverlapEvaluator:
    """Uniform priors, a value from a few features; records how many calls ran at once and refuses
    terminal states and states seen twice at a time (a leaf evaluated while already in flight)."""

    thread_safe = True

    def __init__(self, delay: float = 0.002, fail_after: int = -1) -> None:
        import threading
        self.delay = delay
        self.fail_after = fail_after
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.in_flight: set = set()
        self.lock = threading.Lock()

    def evaluate(self, states):
        import time

        import numpy as np
        keys = [tuple(s.history()) for s in states]
        with self.lock:
            self.calls += 1
            if self.calls == self.fail_after:
                raise RuntimeError("evaluator failure")
            assert not any(s.is_terminal() for s in states)
            assert not (set(keys) & self.in_flight) and len(set(keys)) == len(keys)
            self.in_flight |= set(keys)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay)   # the GIL is released, as in onnxruntime
        with self.lock:
            self.running -= 1
            self.in_flight -= set(keys)
        n = states[0].game.num_actions
        priors = np.array([s.legal_actions_mask() for s in states], dtype=np.float32)
        priors /= priors.sum(axis=1, keepdims=True)
        values = np.array([((len(k) * 7) % 5 - 2) / 4 for k in keys], dtype=np.float32)
        return priors.reshape(len(states), n), values


def test_mcts_one_thread_path_unchanged():
    from mcts import MCTS
    game = games.load("connect4")
    state = game.new_initial_state()
    runs = [MCTS(game, _OverlapEvaluator(0.0), batch_size=8, threads=t).run(state, Limit(simulations=400))
            for t in (1, 1)]
    assert runs[0].visits == runs[1].visits and runs[0].best_action == runs[1].best_action


@pytest.mark.parametrize("threads", [2, 3])
def test_mcts_pipeline_keeps_batches_in_flight(threads):
    from mcts import MCTS
    game = games.load("connect4")
    ev = _OverlapEvaluator()
    search = MCTS(game, ev, batch_size=8, threads=threads)
    result = search.run(game.new_initial_state(), Limit(simulations=600))
    assert result.simulations == 600 == sum(result.visits) + 1   # the root's own evaluation
    assert ev.most_at_once >= 2                 # batches overlapped
    assert result.best_action in result.actions
    # the tree is reused by the next move: every node left consistent (no pending leaf)
    again = search.run(game.new_initial_state(), Limit(simulations=200))
    assert again.simulations == 200


def test_mcts_pipeline_calls_an_evaluator_without_thread_safe_one_batch_at_a_time():
    from mcts import MCTS, ChessEvaluator
    game = games.load("connect4")
    ev = _OverlapEvaluator()
    ev.thread_safe = False
    result = MCTS(game, ev, batch_size=8, threads=3).run(game.new_initial_state(), Limit(simulations=400))
    assert result.simulations == 400 and ev.most_at_once == 1
    # ChessEvaluator keeps one C context: serialised, its results stay right
    chess_game = games.load("chess")
    state = chess_game.deserialize("6k1/5ppp/8/8/8/8/5PPP/3R2K1 w - - 0 1")   # Rd8 mates
    result = MCTS(chess_game, ChessEvaluator(), batch_size=8, threads=2).run(state, Limit(simulations=300))
    assert state.action_to_string(result.best_action) == "d1d8" and result.is_proven


def test_mcts_pipeline_solves_and_stops_by_time():
    from mcts import MCTS
    game = games.load("tictactoe")
    result = MCTS(game, _OverlapEvaluator(0.0005), batch_size=4, threads=2).run(
        game.deserialize("0314"), Limit(simulations=5000))
    s = game.deserialize("0314")
    s.apply_action(result.best_action)
    # after the move the opponent (o) has no immediate win
    assert not any(_wins_now(s, a) for a in s.legal_actions())
    timed = MCTS(games.load("connect4"), _OverlapEvaluator(0.001), batch_size=8, threads=2).run(
        games.load("connect4").new_initial_state(), Limit(time=0.2))
    assert timed.stop_reason == "time" and timed.simulations > 8


def _wins_now(state, action) -> bool:
    s = state.clone()
    player = s.current_player()
    s.apply_action(action)
    return s.is_terminal() and s.returns()[player] > 0


def test_mcts_pipeline_evaluator_error_leaves_a_usable_tree():
    from mcts import MCTS
    game = games.load("connect4")
    ev = _OverlapEvaluator(0.001, fail_after=5)
    search = MCTS(game, ev, batch_size=8, threads=2)
    with pytest.raises(RuntimeError, match="evaluator failure"):
        search.run(game.new_initial_state(), Limit(simulations=2000))
    ev.fail_after = -1
    result = search.run(game.new_initial_state(), Limit(simulations=300))
    assert result.simulations == 300 and result.best_action in result.actions
    with pytest.raises(ValueError):
        MCTS(game, ev, threads=0)


def test_onnx_evaluator_two_batches_in_flight_match_sequential():
    import threading

    import numpy as np

    import models
    game = games.load("connect4")
    model = Path(__file__).resolve().parents[1] / "models" / "zoo" / "connect4.onnx"
    ev = models.OnnxEvaluator(model, game=game, cache_size=0)
    batches = [random_states(game, 32, seed) for seed in range(6)]
    expected = [ev.evaluate(b) for b in batches]
    got: list = [None] * len(batches)

    def work(i: int) -> None:
        got[i] = ev.evaluate(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (p0, v0), (p1, v1) in zip(expected, got):
        np.testing.assert_allclose(p0, p1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v0, v1, rtol=1e-5, atol=1e-6)
    assert ev.batches == 2 * len(batches)


# ----------------------------------------------------------------------------- torch back end

@pytest.mark.parametrize("name,game_args", [("connect4", ("connect4", {})), ("hex7", ("hex", {"board_size": 7}))])
def test_torch_evaluator_matches_onnx_on_the_shipped_networks(name, game_args):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import numpy as np

    import models
    path = Path(__file__).resolve().parents[1] / "models" / "zoo" / f"{name}.onnx"
    game = games.load(game_args[0], **game_args[1])
    torch_ev = models.TorchEvaluator(path, game=game, device="cpu", batch_size=16)
    onnx_ev = models.OnnxEvaluator(path, game=game, cache_size=0)
    states = random_states(game, 40, 5)
    p0, v0 = onnx_ev.evaluate(states)
    p1, v1 = torch_ev.evaluate(states)     # 40 states: three forward passes of at most 16
    np.testing.assert_allclose(p1, p0, atol=2e-5)
    np.testing.assert_allclose(v1, v0, atol=2e-5)
    assert torch_ev.batches == 3 and torch_ev.evaluations == 40
    assert not torch_ev.cuda_graphs and torch_ev.evaluate([])[0].shape == (0, game.num_actions)


def test_torch_evaluator_in_a_pipelined_search_and_its_errors(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import models
    from mcts import MCTS
    from models import ModelFileError, ModelMismatchError
    path = Path(__file__).resolve().parents[1] / "models" / "zoo" / "connect4.onnx"
    game = games.load("connect4")
    ev = models.TorchEvaluator(path, game=game, device="cpu")
    result = MCTS(game, ev, batch_size=16, threads=2).run(game.new_initial_state(), Limit(simulations=300))
    assert result.simulations == 300 and result.best_action == 3    # the network knows the centre
    with pytest.raises(ModelMismatchError):
        models.TorchEvaluator(path, game=games.load("tictactoe"), device="cpu")
    with pytest.raises(ValueError):
        models.TorchEvaluator(path, device="cpu", dtype="float16")
    with pytest.raises(ValueError):
        models.TorchEvaluator(path, device="cpu", dtype="int8")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelFileError):
        models.TorchEvaluator(broken, device="cpu")
    with pytest.raises(ModelFileError):
        models.TorchEvaluator(tmp_path / "missing.onnx", device="cpu")


def test_helpers_carry_the_learned_evaluation(chess_game):
    path = Path(__file__).resolve().parents[1] / "models" / "zoo" / "chess_nnue.onnx"
    ab = AlphaBeta(chess_game, eval_file=str(path), threads=3)
    backend = ab._backend
    assert backend.nnue is not None and backend.threads == 3
    fen = _mate_in_2_fens(25)[0]
    result = ab.run(chess_game.deserialize(fen), Limit(depth=5))
    assert result.score == MATE - 3
    result = ab.run(chess_game.deserialize(MIDDLEGAME), Limit(time=0.3))
    assert result.best_action in result.actions and min(backend.helper_depths) >= 1
    backend.set_eval_file(None)      # the helpers follow: hand-written evaluation everywhere
    assert backend.nnue is None and backend.threads == 3
    assert ab.run(chess_game.deserialize(MIDDLEGAME), Limit(depth=4)).best_action in result.actions
