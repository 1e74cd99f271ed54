"""Tournaments: Elo and SPRT against hand-checked values, schedules and openings, real round robins,
a Stockfish gauntlet, faulty engines, kill-and-resume, and Ray against local processes."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import games
from engine._play import play_game
from engine._players import Decision, RandomPlayer
from engine._tournament_output import pentanomial, read_records, results_table
from engine._tournament_players import PlayerSpecError, TimeControl, parse_player, spec_from_mapping
from engine._tournament_ratings import (
    PAIR_SCORES,
    Sprt,
    elo_from_score,
    expected_score,
    fit_elo,
    llr_pentanomial,
    los,
    mle_expected,
)
from engine._tournament_runner import Adjudication, TournamentConfig, run_tournament
from engine._tournament_schedule import (
    DEFAULT_OPENINGS,
    OpeningError,
    load_openings,
    make_schedule,
    opening_set,
    random_openings,
)
from mcts import Limit

REPO = Path(__file__).resolve().parents[1]
STOCKFISH = shutil.which("stockfish") or ("/usr/games/stockfish" if os.path.exists("/usr/games/stockfish") else None)
K = math.log(10) / 400


def _table(names, pairs):
    """[P, P, 3] table from {(i, j): (w, d, l)} of i against j."""
    t = np.zeros((len(names), len(names), 3))
    for (i, j), wdl in pairs.items():
        t[i, j] = wdl
        t[j, i] = wdl[::-1]
    return t


# --------------------------------------------------------------------------------------------
# Elo, LOS, SPRT


def test_elo_of_a_match_is_the_logistic_inverse_with_fisher_error():
    # 6 wins, 2 draws, 2 losses: score 0.7 -> 400 log10(0.7 / 0.3) = 147.19 Elo
    r = fit_elo(["a", "b"], _table("ab", {(0, 1): (6, 2, 2)}))
    d, half = r.diff("a", "b")
    assert d == pytest.approx(147.1907, abs=1e-3)
    assert d == pytest.approx(elo_from_score(0.7), abs=1e-6)
    # Fisher information of the difference: n k^2 p (1 - p) = 10 * k^2 * 0.21 -> 95% half-width 234.95
    assert half == pytest.approx(1.959964 / math.sqrt(10 * K * K * 0.21), rel=1e-6)
    assert half == pytest.approx(234.95, abs=0.01)
    assert r.elo.sum() == pytest.approx(0.0, abs=1e-9)
    assert r.score.tolist() == [7.0, 3.0] and r.draws.tolist() == [2.0, 2.0]


def test_elo_three_players_hand_checked_table():
    # a beats b 3/4, b beats c 3/4 (with draws), a beats c 9/10: every pair scores exactly what the
    # model expects for ratings +190.85, 0, -190.85 (L(190.85) = 0.75, L(381.7) = 0.9), so that is the MLE
    t = _table("abc", {(0, 1): (2, 2, 0), (1, 2): (3, 0, 1), (0, 2): (9, 0, 1)})
    r = fit_elo(["a", "b", "c"], t)
    step = elo_from_score(0.75)
    assert step == pytest.approx(190.849, abs=1e-3)
    assert expected_score(2 * step) == pytest.approx(0.9, abs=1e-12)
    assert r.elo == pytest.approx([step, 0.0, -step], abs=1e-4)
    assert r.los("a", "c") > r.los("a", "b") > 0.5
    # Var(a - c) is the effective resistance between a and c of the games network, with conductances
    # n p (1 - p) k^2: a-c direct 10 * 0.09 = 0.9, in parallel with a-b-c in series (0.75, 0.75) -> 1.275
    assert r.diff("a", "c")[1] == pytest.approx(1.959964 / math.sqrt(1.275 * K * K), rel=1e-6)


def test_elo_prior_keeps_perfect_scores_finite_and_lonely_players_unrated():
    t = _table("abc", {(0, 1): (5, 0, 0)})
    r = fit_elo(["a", "b", "c"], t, prior_draws=1.0)
    assert np.isfinite(r.elo).all() and r.elo[0] > r.elo[1]
    assert not np.isfinite(r.error[2])
    with pytest.raises(ValueError, match="both sides"):
        fit_elo(["a", "b"], np.array([[[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [0, 0, 0]]]))


def test_los_from_wins_and_losses():
    assert los(6, 2) == pytest.approx(0.5 * (1 + math.erf(4 / math.sqrt(16))), abs=1e-12)
    assert los(6, 2) == pytest.approx(0.92135, abs=1e-5)
    assert los(3, 3) == 0.5 and los(0, 0) == 0.5


def _llr_direct(counts, elo0, elo1):
    """The LLR straight from its definition: each hypothesis' maximum of sum(c log q) over
    distributions q with mean score L(elo), found by minimising the convex dual over a dense grid
    and then golden-section search (no shared code with the implementation's bisection)."""
    c = np.where(np.asarray(counts, float) == 0, 1e-3, np.asarray(counts, float))
    n = c.sum()
    p = c / n

    def best(s):
        d = PAIR_SCORES - s
        lo, hi = -1 / d.max() + 1e-12, -1 / d.min() - 1e-12
        g = lambda x: -(p * np.log(1 + x * d)).sum()  # noqa: E731  (dual objective, convex in x)
        xs = np.linspace(lo, hi, 20001)[1:-1]
        i = int(np.argmin(-(p[None, :] * np.log(1 + xs[:, None] * d[None, :])).sum(axis=1)))
        a, b = xs[max(i - 1, 0)], xs[min(i + 1, len(xs) - 1)]
        phi = (math.sqrt(5) - 1) / 2
        for _ in range(200):
            m1, m2 = b - phi * (b - a), a + phi * (b - a)
            if g(m1) < g(m2):
                b = m2
            else:
                a = m1
        q = p / (1 + 0.5 * (a + b) * d)
        return (c * np.log(q)).sum()

    return best(expected_score(elo1)) - best(expected_score(elo0))


@pytest.mark.parametrize("counts", [(10, 20, 40, 25, 12), (3, 50, 100, 40, 2), (0, 4, 9, 7, 0), (30, 5, 2, 0, 1)])
def test_sprt_llr_matches_direct_computation(counts):
    assert llr_pentanomial(counts, 0.0, 5.0) == pytest.approx(_llr_direct(counts, 0.0, 5.0), abs=1e-6)
    assert llr_pentanomial(counts, -3.0, 1.0) == pytest.approx(_llr_direct(counts, -3.0, 1.0), abs=1e-6)


def test_sprt_llr_close_to_normal_approximation_and_bounds():
    counts = np.array([300, 2000, 4000, 2100, 330])
    pdf = counts / counts.sum()
    mu = (pdf * PAIR_SCORES).sum()
    var = (pdf * (PAIR_SCORES - mu) ** 2).sum()
    s0, s1 = expected_score(0.0), expected_score(5.0)
    approx = counts.sum() * (s1 - s0) * (2 * mu - s0 - s1) / (2 * var)
    assert llr_pentanomial(counts, 0.0, 5.0) == pytest.approx(approx, rel=0.02)
    q = mle_expected(pdf, PAIR_SCORES, s1)
    assert (q * PAIR_SCORES).sum() == pytest.approx(s1, abs=1e-12) and q.sum() == pytest.approx(1.0)
    sprt = Sprt(elo0=0, elo1=5, alpha=0.05, beta=0.05)
    assert sprt.bounds == pytest.approx((math.log(0.05 / 0.95), math.log(0.95 / 0.05)))
    assert sprt.status([0, 0, 0, 0, 0]).llr == 0.0
    assert sprt.status([5, 30, 60, 30, 5]).decision is None
    assert sprt.status([250, 1500, 3000, 1500, 250]).decision == "H0"
    assert sprt.status([20, 200, 600, 400, 80]).decision == "H1"
    assert Sprt.parse("elo0=-1,elo1=3,alpha=0.1") == Sprt(-1, 3, 0.1, 0.05)
    with pytest.raises(ValueError):
        Sprt(elo0=5, elo1=0)


# --------------------------------------------------------------------------------------------
# players, schedule, openings


def test_player_specs_from_command_line_and_toml(tmp_path):
    s = parse_player("name=sf,kind=uci,cmd=/usr/games/stockfish,option.UCI_LimitStrength=true,option.UCI_Elo=1320,tc=10+0.1")
    assert s.uci_options == {"UCI_LimitStrength": True, "UCI_Elo": 1320}
    assert s.time_control == TimeControl(10.0, 0.1) and s.limit.is_unbounded
    m = parse_player("name=m,kind=mcts,simulations=400,c_puct=2.0")
    assert m.limit == Limit(simulations=400) and m.search_options() == {"c_puct": 2.0}
    assert parse_player("kind=alphabeta,depth=6").limit == Limit(depth=6)
    assert parse_player("random").name == "random"
    with pytest.raises(PlayerSpecError, match="unknown kind"):
        parse_player("kind=bogus")
    with pytest.raises(PlayerSpecError, match="cmd"):
        parse_player("kind=uci")
    with pytest.raises(PlayerSpecError, match="time control"):
        parse_player("kind=random,tc=fast")
    import tomllib

    toml = tmp_path / "t.toml"
    toml.write_text(textwrap.dedent("""
        [tournament]
        game = "tictactoe"
        [[player]]
        name = "sf"
        kind = "uci"
        cmd = "/usr/games/stockfish"
        nodes = 1000
        [player.option]
        UCI_Elo = 1320
    """))
    sf = spec_from_mapping(tomllib.loads(toml.read_text())["player"][0])
    assert sf.uci_options == {"UCI_Elo": 1320} and sf.limit == Limit(nodes=1000)


def test_schedule_pairs_swap_colours_and_is_deterministic():
    rr = make_schedule(4, rounds=3, num_openings=5, seed=7)
    assert len(rr) == 3 * 6 * 2 and [g.index for g in rr] == list(range(36))
    for a, b in zip(rr[0::2], rr[1::2], strict=True):
        assert a.pair == b.pair and a.opening == b.opening and a.seats == b.seats[::-1]
    assert len({frozenset(g.seats) for g in rr}) == 6
    assert rr == make_schedule(4, rounds=3, num_openings=5, seed=7)
    ga = make_schedule(4, format="gauntlet", rounds=2)
    assert len(ga) == 2 * 3 * 2 and all(0 in g.seats for g in ga)
    with pytest.raises(ValueError):
        make_schedule(1)
    with pytest.raises(ValueError):
        make_schedule(3, format="swiss")


def test_openings_shipped_files_epd_pgn_and_random(tmp_path):
    c4 = games.load("connect4")
    shipped = load_openings(DEFAULT_OPENINGS["connect4"], c4)
    assert len(shipped) >= 16 and len({o.start for o in shipped}) == len(shipped)
    assert all(not c4.deserialize(o.start).is_terminal() for o in shipped)
    chess_game = games.load("chess")
    book = load_openings(DEFAULT_OPENINGS["chess"], chess_game)
    assert len(book) >= 16 and book[0].label == "Italian Game"
    pgn = tmp_path / "o.pgn"
    pgn.write_text('[Opening "Two Knights"]\n\n1. e4 e5 2. Nf3 Nc6 3. Bc4 Nf6 *\n\n1. d4 d5 *\n')
    two = load_openings(pgn, chess_game)
    assert [o.label for o in two] == ["Two Knights", "d4 d5"]
    assert two[0].start.startswith("r1bqkb1r/pppp1ppp/2n2n2/4p3/2B1P3/5N2")
    bad = tmp_path / "bad.txt"
    bad.write_text("4444444\n")  # an overfull column
    with pytest.raises(OpeningError):
        load_openings(bad, c4)
    rnd = random_openings(c4, 6, plies=4, seed=3)
    assert rnd == random_openings(c4, 6, plies=4, seed=3) and len({o.start for o in rnd}) == 6
    assert all(len(o.start) == 4 for o in rnd)
    ttt = opening_set(games.load("tictactoe"), "default", count=3, plies=1)  # no book: random ones
    assert len(ttt) == 3


def test_adjudication_resign_and_draw():
    from engine._play import GameRecord

    adj = Adjudication(resign_moves=2, resign_score=0.9, draw_moves=2, draw_score=0.05, draw_movenumber=3)
    ref = adj.referee(first_seat=0)
    rec = GameRecord("x", ["a", "b"], "", scores=[0.1, -0.2, 0.95, -0.97, 0.99])
    assert ref(None, rec) is None  # b (seat 1) agreed only once so far
    rec.scores.append(-0.92)
    returns, reason = ref(None, rec)
    assert returns == [1.0, -1.0] and "b resigns" in reason
    rec = GameRecord("x", ["a", "b"], "", scores=[0.0, 0.01, -0.02, 0.0])
    assert ref(None, rec) is None  # before move 3
    rec.scores += [0.01, 0.0]
    assert ref(None, rec)[0] == [0.0, 0.0]
    rec.scores[-1] = None  # a player without a score never agrees
    assert ref(None, rec) is None
    assert Adjudication.parse("moves=3,score=0.9", "movenumber=30,moves=6", 200) == Adjudication(3, 0.9, 6, 0.05, 30, 200)


def test_clock_time_forfeit_in_play_game():
    class Slow(RandomPlayer):
        def choose(self, state, limit):
            assert limit.wtime is not None and limit.binc == 0.0
            time.sleep(0.15)
            return super().choose(state, limit)

    g = games.load("tictactoe")
    rec = play_game(g, [Slow(1, name="slow"), RandomPlayer(2, name="fast")], clocks=[(0.2, 0.0), (5.0, 0.0)])
    assert rec.reason.startswith("time forfeit by slow") and rec.returns == [-1.0, 1.0]
    assert len(rec.actions) == 2 and rec.clock_left[0] == pytest.approx(0.05, abs=0.04)
    # chess: a flag against a lone king is a draw
    from engine._play import GameRecord
    from engine._tournament_runner import _flag_with_no_mating_material

    flag = GameRecord("chess", ["a", "b"], "8/8/8/4k3/8/8/8/4K2Q w - - 0 1", moves=["h1h2"], returns=[1.0, -1.0])
    _flag_with_no_mating_material(flag, False)
    assert flag.returns == [1.0, -1.0]  # white keeps its queen: the win stands
    flag = GameRecord("chess", ["a", "b"], "8/8/8/4k3/8/8/8/4K2Q w - - 0 1", moves=["h1h2"], returns=[-1.0, 1.0])
    _flag_with_no_mating_material(flag, False)
    assert flag.returns == [0.0, 0.0] and "no mating material" in flag.reason


# --------------------------------------------------------------------------------------------
# real tournaments


def _specs(*texts):
    return tuple(parse_player(t) for t in texts)


def test_round_robin_connect4_internal_players(tmp_path):
    c4 = games.load("connect4")
    players = ["name=mcts,kind=mcts,simulations=200", "name=random,kind=random", "name=uniform,kind=mcts,evaluator=uniform,simulations=30"]
    import mcts

    if hasattr(mcts, "AlphaBeta"):
        players.append("name=alphabeta,kind=alphabeta,depth=4")
    cfg = TournamentConfig("connect4", _specs(*players), tuple(opening_set(c4, "default")), rounds=2, seed=5)
    res = run_tournament(cfg, tmp_path, progress=False)
    n = len(players)
    assert len(res.records) == res.scheduled == 2 * 2 * n * (n - 1) // 2
    assert sorted(r["index"] for r in read_records(tmp_path / "games.jsonl")) == list(range(res.scheduled))
    assert all(r["termination"] == "normal" for r in res.records)
    r = res.ratings
    assert r.elo[r.index("mcts")] > r.elo[r.index("random")]
    table = results_table(cfg.names, res.records)
    assert table[0, 1, 0] >= 3  # MCTS with 200 rollouts beats random nearly always
    assert (tmp_path / "ratings.png").stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "Cross table" in report and "mcts" in report and f"games: {res.scheduled} of {res.scheduled}" in report
    first = res.records[0]
    assert first["start"] in {o.start for o in cfg.openings} and first["players"] == ["mcts", "random"]


def test_mcts_player_on_an_onnx_network(tmp_path):
    pytest.importorskip("torch")  # the training extra, as in test_models
    import models
    from models.nets import ResNet

    c4 = games.load("connect4")
    path = models.export(ResNet(c4, blocks=1, channels=8), c4, tmp_path / "tiny.onnx")
    cfg = TournamentConfig("connect4", _specs(f"name=net,kind=mcts,model={path},simulations=32", "random"),
                           tuple(opening_set(c4, "default")), rounds=1)
    res = run_tournament(cfg, tmp_path / "t", progress=False, plot=False)
    assert len(res.records) == 2 and all(r["termination"] == "normal" for r in res.records)
    net_scores = [s for r in res.records for i, s in enumerate(r["scores"]) if r["players"][i % 2] == "net"]
    assert net_scores and all(s is not None and -1 <= s <= 1 for s in net_scores)
    with pytest.raises(ValueError, match="not found"):
        run_tournament(TournamentConfig("connect4", _specs("name=net,kind=mcts,model=missing.onnx", "random"),
                                        cfg.openings), tmp_path / "u", progress=False)


def test_sprt_stops_a_decided_match(tmp_path):
    cfg = TournamentConfig("connect4", _specs("name=mcts,kind=mcts,simulations=100", "name=random,kind=random"),
                           tuple(opening_set(games.load("connect4"), "default")), rounds=50,
                           sprt=Sprt(elo0=0, elo1=100, alpha=0.05, beta=0.05))
    res = run_tournament(cfg, tmp_path, progress=False, plot=False)
    assert res.stopped_by_sprt and res.sprt.decision == "H1"
    assert len(res.records) < res.scheduled
    pairs = pentanomial(res.records, "mcts", "random")
    assert sum(pairs) == len(res.records) // 2 and res.sprt.pairs == tuple(pairs)
    assert res.sprt.llr == pytest.approx(llr_pentanomial(pairs, 0, 100))
    assert "H1 accepted" in res.report


@pytest.mark.skipif(STOCKFISH is None, reason="stockfish is not installed")
def test_chess_gauntlet_against_stockfish_writes_pgn(tmp_path):
    import chess.pgn

    sf = f"name=stockfish,kind=uci,cmd={STOCKFISH},option.UCI_LimitStrength=true,option.UCI_Elo=1350,movetime=0.01"
    cfg = TournamentConfig("chess", _specs(sf, "name=random,kind=random"),
                           tuple(opening_set(games.load("chess"), "default")), format="gauntlet", rounds=1,
                           adjudication=Adjudication(max_moves=160))
    res = run_tournament(cfg, tmp_path, progress=False, plot=False)
    assert len(res.records) == 2
    with open(tmp_path / "games.pgn") as f:
        parsed = [chess.pgn.read_game(f) for _ in range(2)]
    for game, rec in zip(parsed, res.records, strict=True):
        assert game.headers["White"] == rec["players"][0] and game.headers["Result"] == rec["result"]
        assert game.headers["Termination"] == rec["termination"] and not game.errors
        board = game.end().board()
        assert len(list(game.mainline_moves())) == rec["plies"]
        if rec["reason"] == "terminal":
            assert board.is_game_over()
    table = results_table(cfg.names, res.records)
    assert table[0, 1, 0] + 0.5 * table[0, 1, 1] >= 1.0  # Stockfish at 1350 (its least) does not lose to random moves
    assert any(s is not None for s in res.records[0]["scores"])


FAULTY_UCI = textwrap.dedent('''
    """A faulty UCI engine: the first legal move until its MOVES-th move, then crash/illegal/hang."""
    import sys
    import chess
    mode, good = sys.argv[1], int(sys.argv[2])
    board, played = chess.Board(), 0
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "uci":
            print("id name faulty\\nuciok", flush=True)
        elif w[0] == "isready":
            print("readyok", flush=True)
        elif w[0] == "position":
            board = chess.Board() if w[1] == "startpos" else chess.Board(" ".join(w[2:8]))
            rest = w[2:] if w[1] == "startpos" else w[8:]
            for m in rest[1:]:
                board.push_uci(m)
        elif w[0] == "go":
            played += 1
            if played > good and mode == "crash":
                sys.exit(3)
            if played > good and mode == "illegal":
                print("bestmove e1e8", flush=True)
            elif not (played > good and mode == "hang"):
                print("bestmove " + min(m.uci() for m in board.legal_moves), flush=True)
        elif w[0] == "quit":
            break
''')


def test_crashing_illegal_and_hanging_engines_lose_and_restart(tmp_path):
    script = tmp_path / "faulty_uci.py"
    script.write_text(FAULTY_UCI)
    specs = _specs("name=random,kind=random",
                   f"name=crasher,kind=uci,cmd={sys.executable} {script} crash 3",
                   f"name=cheater,kind=uci,cmd={sys.executable} {script} illegal 2",
                   f"name=sleeper,kind=uci,cmd={sys.executable} {script} hang 2,move_timeout=1")
    cfg = TournamentConfig("chess", specs, tuple(opening_set(games.load("chess"), "default")), format="gauntlet")
    res = run_tournament(cfg, tmp_path, progress=False, plot=False)
    assert len(res.records) == 6
    by = {name: [r for r in res.records if name in r["players"]] for name in ("crasher", "cheater", "sleeper")}
    expect = {"crasher": ("abandoned", 3), "cheater": ("rules infraction", 2), "sleeper": ("stalled connection", 2)}
    for name, (term, good) in expect.items():
        for rec in by[name]:
            assert rec["termination"] == term and f"by {name}" in rec["reason"]
            assert rec["returns"][rec["players"].index(name)] == -1.0
            # a fresh engine each game: it made its `good` moves again before failing
            assert sum(1 for i in range(rec["plies"]) if rec["players"][i % 2] == name) == good
    assert "illegal uci: 'e1e8'" in by["cheater"][0]["reason"]


class _Faulty(RandomPlayer):
    """Random moves, then on its ``good + 1``-th move of a game: hangs, raises or plays off the board."""

    def __init__(self, seed=None, name="faulty", mode="hang", good=1, marker=""):
        super().__init__(seed, name)
        self.mode, self.good, self.moves, self.marker = mode, good, 0, marker

    def new_game(self):
        self.moves = 0

    def choose(self, state, limit):
        self.moves += 1
        if self.moves > self.good:
            if self.mode == "hang":
                time.sleep(3600)
            if self.mode == "raise":
                raise RuntimeError("search blew up")
            if self.mode == "die" and not os.path.exists(self.marker):
                Path(self.marker).touch()
                os._exit(9)  # as a segfault in native code would: the worker process is gone
            if self.mode == "die":
                return super().choose(state, limit)
            return Decision(99)
        return super().choose(state, limit)


def faulty_player(game, *, name, seed, mode, good=1, marker=""):
    return _Faulty(seed, name, mode, good, marker)


def test_internal_players_that_hang_raise_or_play_illegal_moves_lose(tmp_path):
    factory = f"{__name__}:faulty_player"
    specs = _specs("name=random,kind=random", f"name=hang,kind=python,factory={factory},mode=hang,move_timeout=0.3",
                   f"name=raise,kind=python,factory={factory},mode=raise", f"name=off,kind=python,factory={factory},mode=off")
    cfg = TournamentConfig("tictactoe", specs, tuple(opening_set(games.load("tictactoe"), "none")), format="gauntlet")
    t0 = time.perf_counter()
    res = run_tournament(cfg, tmp_path, progress=False, plot=False)
    assert time.perf_counter() - t0 < 10
    terms = {tuple(r["players"]): (r["termination"], r["result"]) for r in res.records}
    assert terms == {("random", "hang"): ("stalled connection", "1-0"), ("hang", "random"): ("stalled connection", "0-1"),
                     ("random", "raise"): ("abandoned", "1-0"), ("raise", "random"): ("abandoned", "0-1"),
                     ("random", "off"): ("rules infraction", "1-0"), ("off", "random"): ("rules infraction", "0-1")}
    assert all(r["plies"] >= 1 for r in res.records)  # each faulty player made its good move first


def test_a_dead_worker_process_costs_no_game(tmp_path):
    marker = tmp_path / "died-once"
    specs = _specs("name=random,kind=random", f"name=die,kind=python,factory={__name__}:faulty_player,mode=die,marker={marker}",
                   "name=random2,kind=random")
    cfg = TournamentConfig("tictactoe", specs, tuple(opening_set(games.load("tictactoe"), "none")), rounds=2)
    res = run_tournament(cfg, tmp_path / "t", concurrency=2, progress=False, plot=False)
    assert marker.exists()  # a worker did die mid-game
    indices = [r["index"] for r in read_records(tmp_path / "t" / "games.jsonl")]
    assert sorted(indices) == list(range(12)) and len(res.records) == 12
    assert all(r["termination"] == "normal" for r in res.records)


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "engine._cli_tournament", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "t"
    args = ["--game", "connect4", "--player", "name=m1,kind=mcts,simulations=2000", "--player",
            "name=m2,kind=mcts,evaluator=uniform,simulations=2000", "--player", "name=r,kind=random",
            "--rounds", "4", "--out", str(out), "--no-progress", "--no-plot"]
    proc = _cli(*args, start_new_session=True)
    log = out / "games.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") < 3):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_records(log)
    assert 3 <= len(before) < 24, "the tournament should have been killed midway"
    with open(log, "a") as f:
        f.write('{"index": 23, "cut off mid-wri')  # what a kill during a write leaves
    proc = _cli("--resume", "--out", str(out), "--no-progress", "--no-plot")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    indices = [r["index"] for r in lines]
    assert sorted(indices) == list(range(24)) and len(set(indices)) == 24
    assert lines[: len(before)] == before  # nothing replayed or rewritten
    assert "games: 24 of 24 scheduled" in stdout
    again = _cli("--out", str(out), *args[:-4], "--no-progress")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 1 and "--resume" in err  # never overwrite a tournament's games


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'plytree[ray]')")
def test_ray_gives_the_same_games_as_processes(tmp_path):
    cfg = TournamentConfig("connect4", _specs("name=m,kind=mcts,simulations=60", "name=r,kind=random",
                                              "name=u,kind=mcts,evaluator=uniform,simulations=20"),
                           tuple(opening_set(games.load("connect4"), "default")), rounds=2, seed=11)
    procs = run_tournament(cfg, tmp_path / "p", concurrency=2, progress=False, plot=False)
    try:
        rays = run_tournament(cfg, tmp_path / "r", concurrency=2, ray_address="local", progress=False, plot=False)
    finally:
        import ray

        ray.shutdown()
    assert len(procs.records) == len(rays.records) == 12
    key = lambda rec: (rec["index"], rec["players"], rec["returns"], rec["moves"])  # noqa: E731
    assert [key(r) for r in procs.records] == [key(r) for r in rays.records]
    assert len({r["worker"] for r in rays.records}) == 2
    assert procs.ratings.elo.tolist() == rays.ratings.elo.tolist()


def test_cli_default_players_and_config(tmp_path):
    from engine._cli_tournament import default_players

    specs, notes = default_players("connect4")
    kinds = [parse_player(s).kind for s in specs]
    assert kinds[-1] == "random" and "mcts" in kinds
    assert len(specs) + len(notes) >= 4  # the four default players, each played or explained
    toml = tmp_path / "t.toml"
    toml.write_text(textwrap.dedent(f"""
        [tournament]
        game = "tictactoe"
        rounds = 2
        openings = "random"
        openings_count = 2
        openings_plies = 1
        out = "{tmp_path / 'o'}"
        [[player]]
        name = "a"
        kind = "random"
        [[player]]
        name = "b"
        kind = "random"
    """))
    proc = _cli("--config", str(toml), "--no-progress")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "games: 4 of 4 scheduled" in stdout
    assert json.loads((tmp_path / "o" / "tournament.json").read_text())["game"] == "tictactoe"


@pytest.mark.slow
def test_cli_default_round_robin_runs_in_minutes():
    shutil.rmtree("/tmp/plytree-default-tournament-test", ignore_errors=True)
    proc = _cli("--no-progress", "--out", "/tmp/plytree-default-tournament-test")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Cross table" in stdout and "random" in stdout


# ----------------------------------------------------------------------------- malformed configs
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engine._tournament_config import ConfigError, load_config, parse_config  # noqa: E402

GOOD_TOML = textwrap.dedent("""
    [tournament]
    game = "tictactoe"
    rounds = 2
    openings = "random"
    sprt = "elo0=0,elo1=10"
    resign = "moves=3,score=0.9"
    [[player]]
    name = "a"
    kind = "random"
    [[player]]
    name = "b"
    kind = "mcts"
    simulations = 8
    [player.option]
    Hash = 16
""")

BAD_CONFIGS = [  # (file bytes, what the one line must name)
    (b'[tournament]\ngame = 5\n', ["tournament.game", "expected a string"]),
    (b'player = 3\n', ["player", "array of tables"]),
    (b'[tournament\ngame = "chess"\n', ["TOML syntax error", "line 1"]),
    (b'[tournament]\nevent = "\xff\xfe"\n', ["not UTF-8", "line 2"]),
    (b'game = "chess"\n', ["game", "top-level", "[tournament]"]),
    (b'[tournament]\ngame = "go"\n', ["tournament.game", "unknown game"]),
    (b'[tournament]\nrounds = "ten"\n', ["tournament.rounds", "integer"]),
    (b'[tournament]\nrounds = 0\n', ["tournament.rounds", ">= 1"]),
    (b'[tournament]\nformat = "swiss"\n', ["tournament.format", "roundrobin"]),
    (b'[tournament]\nsprt = "alpha=2"\n', ["tournament.sprt", "alpha"]),
    (b'[tournament]\nresign = "moves=x"\n', ["tournament.resign"]),
    (b'[tournament]\ntime_margin = nan\n', ["tournament.time_margin"]),
    (b'[tournament]\ncolour = "white"\n', ["tournament.colour", "unknown key"]),
    (b'tournament = 5\n', ["tournament", "expected a table"]),
    (b'[[player]]\nkind = 3\n', ["player[0].kind", "expected a string"]),
    (b'[[player]]\nname = "x"\n', ["player[0]", "no kind"]),
    (b'[[player]]\nkind = "mcts"\nsimulations = -1\n', ["player[0]", "simulations"]),
    (b'[[player]]\nkind = "mcts"\nsimulations = [1, 2]\n', ["player[0].simulations", "an array"]),
    (b'[[player]]\nkind = "uci"\ncmd = "sf"\noption = 3\n', ["player[0].option", "table"]),
    (b'[[player]]\nkind = "random"\n[[player]]\nkind = "random"\n', ["player[1].name", "already"]),
    (b'[[player]]\nkind = "random"\ntc = "fast"\n', ["player[0]", "time control"]),
]


@pytest.mark.parametrize("data,named", BAD_CONFIGS, ids=[str(i) for i in range(len(BAD_CONFIGS))])
def test_malformed_config_is_one_line_naming_file_and_key(tmp_path, data, named):
    path = tmp_path / "bad.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for part in named:
        assert part in message, message


def test_good_config_loads():
    options, players = parse_config(GOOD_TOML, "good.toml")
    assert options["game"] == "tictactoe" and options["rounds"] == 2
    assert [p["name"] for p in players] == ["a", "b"] and players[1]["option"] == {"Hash": 16}


@pytest.mark.parametrize("data", [b'[tournament]\ngame = 5\n', b'player = 3\n', b'[tournament\n', b'\xff\xfe = 1\n'])
def test_cli_malformed_config_exits_2_with_one_line(tmp_path, data):
    path = tmp_path / "bad.toml"
    path.write_bytes(data)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "tournament", "--config", str(path), "--no-progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"plytree tournament: error: {path}: "), proc.stderr
    assert proc.stdout == ""


def test_cli_bad_option_values_exit_2_naming_the_option(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "tournament", "--rounds", "0", "--player", "random",
                           "--player", "name=r2,kind=random", "--out", str(tmp_path / "o")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == "plytree tournament: error: command line: --rounds: expected an integer >= 1, got 0"


def _mutations(text: bytes) -> st.SearchStrategy[bytes]:
    """Byte-level mutations of a good file: deletions, insertions, replaced bytes, truncations."""
    def mutate(ops):
        data = bytearray(text)
        for kind, pos, byte in ops:
            pos = pos % (len(data) + 1)
            if kind == 0 and data:
                del data[min(pos, len(data) - 1)]
            elif kind == 1:
                data.insert(pos, byte)
            elif kind == 2 and data:
                data[min(pos, len(data) - 1)] = byte
            else:
                del data[pos:]
        return bytes(data)
    ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)
    return ops.map(mutate)


_SCALAR = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True), st.booleans(),
                    st.text(max_size=20), st.sampled_from(["tictactoe", "connect4", "random", "mcts", "uci",
                                                           "elo0=0,elo1=5", "moves=3,score=0.9", "10+0.1"]))
_KEYS = st.sampled_from(["game", "rounds", "format", "sprt", "resign", "draw", "seed", "openings", "ray", "each",
                         "time_margin", "board_size", "kind", "name", "simulations", "tc", "cmd", "option",
                         "player", "tournament", "x"])


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else ("-inf" if value == -float("inf") else repr(value)))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a TOML basic string


@st.composite
def _random_toml(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        header = draw(st.sampled_from(["", "[tournament]", "[[player]]", "[player.option]", "[x]"]))
        if header:
            lines.append(header)
        for _ in range(draw(st.integers(0, 4))):
            lines.append(f"{draw(_KEYS)} = {_toml_value(draw(_SCALAR))}")
    return "\n".join(lines).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(_mutations(GOOD_TOML.encode()), _random_toml(), st.binary(max_size=200)))
def test_fuzz_config_loader_raises_only_config_error(tmp_path, data):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(data)
    try:
        options, players = load_config(path)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message
    else:
        assert isinstance(options, dict) and all(isinstance(p, dict) for p in players)
        # a file that loads makes a tournament, or fails with the same one-line error
        import argparse

        from engine._cli_tournament import TOML_KEYS, _tournament_config
        args = argparse.Namespace(config=str(path), player=[], **{k: None for k in TOML_KEYS})
        try:
            config = _tournament_config(args, dict(options), players or ["random", "name=r2,kind=random"])
        except ConfigError as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        else:
            assert len(config.players) >= 2


# ----------------------------------------------------------------------------- the worker pool
class _Counter:
    """A pool worker that remembers what it ran (module level: picklable for spawned processes)."""

    def __init__(self, start: int) -> None:
        self.calls = [start]

    def add(self, x: int) -> list[int]:
        if x < 0:
            raise ValueError(f"negative {x}")
        self.calls.append(x)
        return list(self.calls)

    def die(self) -> None:
        os._exit(3)  # a crash in native code, as far as the pool can tell


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_pool_keeps_its_workers_and_runs_tasks_as_waited_for(workers):
    from engine._pool import PoolError, WorkerPool

    pool = WorkerPool(_Counter, (7,), workers=workers)
    assert pool.kind == ("local" if workers == 1 else "process")
    futures = [pool.submit("add", x) for x in (1, 2, -3)]
    if workers == 1:
        assert not any(f.done() for f in futures)  # the local kind runs a task inside wait
    pending = set(futures)
    while pending:
        _, pending = pool.wait(pending)
    with pytest.raises(ValueError, match="negative -3"):
        futures[2].result()
    runs = [futures[0].result(), futures[1].result()]
    assert all(r[0] == 7 for r in runs)  # built once per worker by factory(*factory_args)
    if workers == 1:
        assert runs == [[7, 1], [7, 1, 2]]  # one worker, kept between tasks
    pool.close()
    with pytest.raises(PoolError):
        pool.submit("add", 1)


def test_a_task_given_to_a_pool_whose_worker_died_fails_through_its_future():
    """Regression: a game submitted after a worker died (before the runner saw the loss) raised
    BrokenProcessPool from ``submit`` and ended the tournament (test_a_dead_worker_process_costs_no_game
    failed that way under load)."""
    from engine._pool import WorkerPool, is_worker_loss

    pool = WorkerPool(_Counter, (7,), workers=2)
    try:
        dead = pool.submit("die")
        pending = {dead}
        while pending:
            _, pending = pool.wait(pending)
        assert is_worker_loss(dead.exception())
        late = pool.submit("add", 1)  # the executor is broken now: no exception here
        assert late.done() and is_worker_loss(late.exception())
    finally:
        pool.close()
