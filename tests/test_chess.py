"""Chess and Chess960 on python-chess: perft against published counts, the action encoding, the
observation, errors, game end, and the ``plytree perft`` command."""
from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import chess
import numpy as np
import pytest

import games
from games import (
    TERMINAL_PLAYER,
    ActionOutOfRangeError,
    IllegalActionError,
    InvalidActionError,
    InvalidStateError,
)
from games.chess import Chess960Game, ChessGame, ChessState
from games.chess_encoding import NUM_ACTIONS, action_to_move, legal_move_actions, move_to_action
from games.perft import (
    divide,
    divide_python_chess,
    perft,
    perft_python_chess,
    read_epd_perft,
    read_perft_blocks,
)

ROOT = Path(__file__).resolve().parents[1]
from tests.conftest import DATA  # noqa: E402
PERFT = DATA / "chess" / "perft"

# default run: every (position, depth) whose count is at most this; slow run: up to the larger cap
# (raise it with PLYTREE_PERFT_MAX_NODES; the deepest published counts take hours in Python)
FAST_NODES = 30_000
SLOW_NODES = int(os.environ.get("PLYTREE_PERFT_MAX_NODES", "3000000"))
NUM_960_FAST = 80  # Chess960 positions sampled in the default run (of 480)

STANDARD = ChessGame()
C960 = Chess960Game()


def _cases():
    """(file tag, case, game) for every position of the four perft files."""
    out = []
    for name in ("cpw_positions.epd", "perftsuite.epd"):
        out += [(name, c, STANDARD) for c in read_epd_perft(PERFT / name)]
    # tricky.perft mixes standard and X-FEN positions; Chess960 rules read both
    out += [("tricky.perft", c, C960) for c in read_perft_blocks(PERFT / "tricky.perft")]
    out += [("chess960.perft", c, C960) for c in read_perft_blocks(PERFT / "chess960.perft")]
    return out


CASES = _cases()


def _jobs(lo: int, hi: int, sample_960: bool):
    """(id, fen, game, depth, count) with lo < count <= hi; the deepest such depth per position."""
    rng = random.Random(960)
    c960 = [c for c in CASES if c[0] == "chess960.perft"]
    chosen_960 = {id(c[1]) for c in (rng.sample(c960, NUM_960_FAST) if sample_960 else c960)}
    jobs = []
    for tag, case, game in CASES:
        if tag == "chess960.perft" and id(case) not in chosen_960:
            continue
        fits = [(d, n) for d, n in case.counts.items() if n <= hi]
        if not fits:
            continue
        d, n = max(fits)
        if n > lo:
            jobs.append(pytest.param(case.fen, game, d, n, id=f"{tag}:{case.name}:D{d}"))
    return jobs


def test_perft_files_read():
    tags = [t for t, _, _ in CASES]
    assert tags.count("cpw_positions.epd") == 7
    assert tags.count("perftsuite.epd") == 64
    assert tags.count("chess960.perft") == 480
    assert tags.count("tricky.perft") == 19
    assert all(c.counts for _, c, _ in CASES)


@pytest.mark.parametrize("fen,game,depth,expected", _jobs(0, FAST_NODES, sample_960=True))
def test_perft_adapter(fen, game, depth, expected):
    assert perft(game.deserialize(fen), depth) == expected


@pytest.mark.slow
@pytest.mark.parametrize("fen,game,depth,expected", _jobs(FAST_NODES, SLOW_NODES, sample_960=False))
def test_perft_adapter_deep(fen, game, depth, expected):
    assert perft(game.deserialize(fen), depth) == expected


def test_perft_fen_without_clocks():
    s = STANDARD.deserialize("r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq -")
    assert perft(s, 2) == 2039
    assert perft_python_chess(s, 2) == 2039


def test_divide_matches_python_chess():
    s = STANDARD.deserialize("r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1")
    ours = divide(s, 2)
    assert sorted(ours) == divide_python_chess(s, 2)
    assert sum(n for _, n in ours) == 2039
    assert ("e1g1", 43) in ours and ("e1c1", 43) in ours
    s960 = C960.deserialize("r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1")
    assert ("e1h1", 43) in divide(s960, 2) and ("e1a1", 43) in divide(s960, 2)
    assert sorted(divide(s960, 2)) == divide_python_chess(s960, 2)


def test_perft_depth_zero_and_errors():
    s = STANDARD.new_initial_state()
    assert perft(s, 0) == 1 and perft(s, 1) == 20
    assert perft(chess.Board(), 2) == 400
    with pytest.raises(ValueError):
        perft(s, -1)
    with pytest.raises(ValueError):
        divide(s, 0)
    assert s.history() == []  # perft searched a clone


def test_perft_counts_moves_after_draw_by_rule():
    # fifty-move rule: the game is over, perft still counts the chess moves
    s = STANDARD.deserialize("4k3/8/8/8/8/8/8/R3K3 w Q - 100 80")
    assert s.is_terminal() and s.legal_actions() == []
    assert perft(s, 2) == perft_python_chess(s, 2) > 0


# -- the action encoding -----------------------------------------------------------------------

_QUEEN = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
_KNIGHT = [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)]


def _spec_action(board: chess.Board, move: chess.Move) -> int:
    """The action of a legal move, written straight from the specification (independent oracle)."""
    frm, to = move.from_square, move.to_square
    if board.is_castling(move):
        rook = board.piece_at(to)
        if not (rook and rook.color == board.turn and rook.piece_type == chess.ROOK):
            to = chess.square(7 if chess.square_file(to) > chess.square_file(frm) else 0, chess.square_rank(frm))
    df = chess.square_file(to) - chess.square_file(frm)
    dr = chess.square_rank(to) - chess.square_rank(frm)
    if move.promotion in (chess.KNIGHT, chess.BISHOP, chess.ROOK):
        plane = 64 + (df + 1) * 3 + [chess.KNIGHT, chess.BISHOP, chess.ROOK].index(move.promotion)
    elif (df, dr) in _KNIGHT:
        plane = 56 + _KNIGHT.index((df, dr))
    else:
        dist = max(abs(df), abs(dr))
        direction = _QUEEN.index((df // dist, dr // dist))
        plane = direction * 7 + dist - 1
    return frm * 73 + plane


def _encoding_positions():
    """Every perft position, Chess960 starts, and positions one to two random plies from them."""
    rng = random.Random(7)
    boards = []
    for _, case, game in CASES:
        boards.append(chess.Board(case.fen, chess960=game.chess960))
    boards += [chess.Board.from_chess960_pos(n) for n in range(0, 960, 7)]
    more = []
    for b in boards:
        c = b.copy()
        for _ in range(2):
            moves = list(c.legal_moves)
            if not moves:
                break
            c.push(rng.choice(moves))
            more.append(c.copy(stack=False))
    return boards + more


def _check_encoding(board: chess.Board) -> None:
    moves = list(board.legal_moves)
    actions = [move_to_action(m, board) for m in moves]
    assert len(set(actions)) == len(actions), board.fen()
    assert all(0 <= a < NUM_ACTIONS for a in actions)
    assert actions == [_spec_action(board, m) for m in moves], board.fen()
    assert [action_to_move(a, board) for a in actions] == moves, board.fen()
    assert legal_move_actions(board) == sorted(actions)


def test_encoding_round_trip_many_positions():
    boards = _encoding_positions()
    assert len(boards) > 1500
    for b in boards:
        _check_encoding(b)


def test_encoding_random_games():
    rng = random.Random(11)
    for n in range(30):
        b = chess.Board.from_chess960_pos(rng.randrange(960)) if n % 2 else chess.Board()
        for _ in range(120):
            _check_encoding(b)
            moves = list(b.legal_moves)
            if not moves:
                break
            b.push(rng.choice(moves))


def test_encoding_known_numbers():
    b = chess.Board()
    assert move_to_action(chess.Move.from_uci("e2e4"), b) == 12 * 73 + 0 * 7 + 1  # N, distance 2
    assert move_to_action(chess.Move.from_uci("g1f3"), b) == 6 * 73 + 56 + 7  # knight (-1,+2)
    b = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    assert move_to_action(chess.Move.from_uci("e1g1"), b) == 4 * 73 + 2 * 7 + 2  # E distance 3 (to h1)
    assert move_to_action(chess.Move.from_uci("e1h1"), b) == 4 * 73 + 2 * 7 + 2
    assert move_to_action(chess.Move.from_uci("e1c1"), b) == 4 * 73 + 6 * 7 + 3  # W distance 4 (to a1)
    b = chess.Board("r3k2r/8/8/8/8/8/8/R3K2R b KQkq - 0 1")
    assert move_to_action(chess.Move.from_uci("e8g8"), b) == 60 * 73 + 2 * 7 + 2
    # promotions: queen on the queen-like planes, the rest on the under-promotion planes
    b = chess.Board("1n5k/P7/8/8/8/8/8/K7 w - - 0 1")
    assert move_to_action(chess.Move.from_uci("a7a8q"), b) == 48 * 73 + 0
    assert move_to_action(chess.Move.from_uci("a7b8q"), b) == 48 * 73 + 1 * 7 + 0
    assert move_to_action(chess.Move.from_uci("a7a8n"), b) == 48 * 73 + 64 + 1 * 3 + 0
    assert move_to_action(chess.Move.from_uci("a7b8r"), b) == 48 * 73 + 64 + 2 * 3 + 2
    b = chess.Board("k7/8/8/8/8/8/6p1/K4N2 b - - 0 1")
    assert move_to_action(chess.Move.from_uci("g2f1b"), b) == 14 * 73 + 64 + 0 * 3 + 1
    assert action_to_move(14 * 73 + 4 * 7, b) == chess.Move.from_uci("g2g1q")


def test_chess960_castling_king_next_to_rook():
    # king g1, rook h1: castling is g1 -> h1, E distance 1
    b = chess.Board("1r4kr/8/8/8/8/8/8/1R4KR w HBhb - 0 1", chess960=True)
    castle = chess.Move.from_uci("g1h1")
    assert castle in b.legal_moves
    assert move_to_action(castle, b) == 6 * 73 + 2 * 7 + 0
    s = ChessState.from_board(b)
    assert s.action_to_string(6 * 73 + 14) == "g1h1"
    s.apply_action_checked(s.string_to_action("O-O"))
    assert s.board.piece_at(chess.G1).piece_type == chess.KING
    assert s.board.piece_at(chess.F1).piece_type == chess.ROOK


# -- the state protocol ------------------------------------------------------------------------

def test_game_metadata_and_registry():
    for name, cls, params in (("chess", ChessGame, {}), ("chess960", Chess960Game, {"chess960": True})):
        g = cls(**params)
        assert g.name == name and g.params == params and g == cls()
        assert (g.num_players, g.num_actions, g.observation_shape) == (2, 4672, (19, 8, 8))
        assert g.max_game_length == 1000 and g.is_zero_sum and not g.has_chance
        assert isinstance(g, games.Game) and isinstance(g.new_initial_state(), games.State)
        assert pickle.loads(pickle.dumps(g)) == g
        # the registry may pick a faster backend, but with this game's name and spaces
        r = games.load(name)
        assert (r.name, r.num_actions, r.observation_shape) == (name, 4672, (19, 8, 8))
    with pytest.raises(ValueError):
        ChessGame(chess960=True)


def test_initial_states():
    s = STANDARD.new_initial_state()
    assert s.serialize() == chess.STARTING_FEN and s.current_player() == 0
    assert len(s.legal_actions()) == 20 and s.returns() == [0.0, 0.0]
    assert C960.new_initial_state(518).serialize() == chess.STARTING_FEN
    assert C960.new_initial_state(seed=5).serialize() == C960.new_initial_state(seed=5).serialize()
    starts = {C960.new_initial_state(seed=k).serialize() for k in range(20)}
    assert len(starts) > 10
    with pytest.raises(ValueError):
        C960.new_initial_state(960)


def test_apply_undo_clone_hash():
    s = STANDARD.new_initial_state()
    fen0, h0 = s.serialize(), s.hash()
    a = s.string_to_action("e4")
    c = s.clone()
    s.apply_action(a)
    assert s.current_player() == 1 and s.history() == [a]
    assert c.serialize() == fen0 and c.history() == []  # clone independent
    assert s.hash() != h0
    s.undo_action()
    assert s.serialize() == fen0 and s.hash() == h0 == chess.polyglot.zobrist_hash(chess.Board())
    with pytest.raises(IndexError):
        s.undo_action()
    # two move orders, one position, one hash
    x, y = STANDARD.new_initial_state(), STANDARD.new_initial_state()
    for m in ("Nf3", "Nf6", "Nc3"):
        x.apply_action_checked(x.string_to_action(m))
    for m in ("Nc3", "Nf6", "Nf3"):
        y.apply_action_checked(y.string_to_action(m))
    assert x.hash() == y.hash() and x == y


def test_random_games_serialize_pickle_from_board():
    rng = random.Random(3)
    for n in range(12):
        g = C960 if n % 2 else STANDARD
        s = g.new_initial_state(seed=n) if g is C960 else g.new_initial_state()
        start = s.clone()
        while not s.is_terminal() and len(s.history()) < 200:
            a = rng.choice(s.legal_actions())
            text = s.action_to_string(a)
            assert s.string_to_action(text) == a
            h = s.hash()
            s.apply_action_checked(a)
            t = g.deserialize(s.serialize())
            assert t.serialize() == s.serialize() and t.hash() == s.hash()
            assert np.array_equal(t.observation(), s.observation())
            s.undo_action()
            assert s.hash() == h
            s.apply_action(a)
        p = pickle.loads(pickle.dumps(s))
        assert p.serialize() == s.serialize() and p.history() == s.history() and p.game == g
        f = ChessState.from_board(s.board, g)
        assert f.history() == s.history() and f.serialize() == s.serialize()
        replay = start.clone()
        for a in s.history():
            replay.apply_action_checked(a)
        assert replay.serialize() == s.serialize()
        assert "moves: " in s.to_text() and s.serialize() in s.to_text()


def test_board_property_is_a_copy():
    s = STANDARD.new_initial_state()
    b = s.board
    b.push_san("e4")
    assert s.serialize() == chess.STARTING_FEN
    st = ChessState.from_board(b)
    assert st.history() == [12 * 73 + 1] and st.game == STANDARD
    assert ChessState.from_board(chess.Board.from_chess960_pos(3)).game == C960


def test_checked_action_errors():
    s = STANDARD.new_initial_state()
    for bad in (-1, NUM_ACTIONS, "e2e4", 1.5, None):
        with pytest.raises(ActionOutOfRangeError):
            s.apply_action_checked(bad)
    assert issubclass(ActionOutOfRangeError, InvalidActionError)
    with pytest.raises(IllegalActionError, match="e2e5"):
        s.apply_action_checked(12 * 73 + 2)  # e2e5
    with pytest.raises(IllegalActionError, match="leaves the board"):
        s.apply_action_checked(7 * 73 + 2 * 7)  # h1 east
    # a king step of two files is not a second name for castling
    c = STANDARD.deserialize("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    with pytest.raises(IllegalActionError, match="r3k2r"):
        c.apply_action_checked(4 * 73 + 2 * 7 + 1)
    c.apply_action_checked(4 * 73 + 2 * 7 + 2)
    assert c.serialize().startswith("r3k2r/8/8/8/8/8/8/R4RK1 b kq")
    assert s.serialize() == chess.STARTING_FEN  # nothing was played


def test_string_to_action_uci_san_and_errors():
    s = STANDARD.new_initial_state()
    assert s.string_to_action("e2e4") == s.string_to_action("e4") == s.string_to_action(" e4 ")
    assert s.string_to_action("Nf3") == s.string_to_action("g1f3") == s.string_to_action("Ng1f3")
    for text in ("", "xyz", "e9e4", "0000", "--", "e2e4e5", "Zf3"):
        with pytest.raises(InvalidActionError, match="rnbqkbnr"):
            s.string_to_action(text)
    for text in ("e2e5", "Nf6", "e1g1", "O-O", "e2e4q"):
        with pytest.raises(IllegalActionError) as exc:
            s.string_to_action(text)
        assert repr(text) in str(exc.value) and "rnbqkbnr" in str(exc.value)
    amb = STANDARD.deserialize("4k3/8/8/8/8/8/8/1N2KN2 w - - 0 1")  # Nb1 and Nf1 both reach d2
    with pytest.raises(IllegalActionError, match="ambiguous"):
        amb.string_to_action("Nd2")
    assert amb.action_to_string(amb.string_to_action("Nbd2")) == "b1d2"
    # promotions
    p = STANDARD.deserialize("1n5k/P7/8/8/8/8/8/K7 w - - 0 1")
    assert p.action_to_string(p.string_to_action("axb8=N")) == "a7b8n"
    assert p.action_to_string(p.string_to_action("a7a8q")) == "a7a8q"
    assert p.string_to_action("a7a8Q") == p.string_to_action("a8=Q")


def test_castling_text_both_notations():
    fen = "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"
    s = STANDARD.deserialize(fen)
    a = s.string_to_action("e1g1")
    assert s.string_to_action("e1h1") == s.string_to_action("O-O") == s.string_to_action("0-0") == a
    assert s.action_to_string(a) == "e1g1"
    assert s.action_to_string(s.string_to_action("e1a1")) == "e1c1"
    s960 = C960.deserialize(fen)
    b = s960.string_to_action("e1h1")
    assert b == a == s960.string_to_action("O-O") == s960.string_to_action("e1g1")
    assert s960.action_to_string(b) == "e1h1"
    # Chess960 start 0 (BBQNNRKR): after clearing the back rank, castle king-takes-rook
    t = C960.deserialize("bbqnnrkr/pppppppp/8/8/8/8/PPPPPPPP/5RKR w HFhf - 0 1")
    assert t.action_to_string(t.string_to_action("O-O-O")) == "g1f1"
    with pytest.raises(IllegalActionError):  # the f1 rook blocks the h1 rook's way
        t.string_to_action("O-O")
    t.apply_action_checked(t.string_to_action("g1f1"))
    assert t.serialize() == "bbqnnrkr/pppppppp/8/8/8/8/PPPPPPPP/2KR3R b kq - 1 1"


def test_bad_fen():
    for fen, reason in (
        ("xx", "expected 8 rows"),
        ("rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR x KQkq - 0 1", "turn"),
        ("8/8/8/8/8/8/8/8 w - - 0 1", "no king"),
        ("4k3/8/8/8/8/8/8/8 w - - 0 1", "White has no king"),
        ("4k3/8/8/8/8/8/8/P3K3 w - - 0 1", "pawns"),
        ("4k3/4R3/8/8/8/8/8/4K3 w - - 0 1", "not to move is in check"),
        ("4kk2/8/8/8/8/8/8/4K3 w - - 0 1", "more than one king"),
    ):
        with pytest.raises(InvalidStateError) as exc:
            STANDARD.deserialize(fen)
        assert fen in str(exc.value) and reason in str(exc.value)
    with pytest.raises(InvalidStateError):
        C960.deserialize("bqnb1rkr/pp3ppp/3ppn2/2p5/5P2/P2P4/NPP1P1PP/BQ1BNRKR w HFhf - 0 x")
    # positions that cannot arise in a game but have well-defined moves are accepted (perft suites)
    assert len(STANDARD.deserialize("3R4/8/q4k2/2B5/1NK5/3b4/8/8 w - -").legal_actions()) == 4


# -- observation -------------------------------------------------------------------------------

def test_observation_start_position():
    obs = STANDARD.new_initial_state().observation()
    assert obs.shape == (19, 8, 8) and obs.dtype == np.float32
    assert np.array_equal(obs[0, 1], np.ones(8)) and obs[0].sum() == 8  # white pawns on rank 2
    assert obs[1, 0, 1] == obs[1, 0, 6] == 1 and obs[1].sum() == 2  # knights b1 g1
    assert obs[4, 0, 3] == 1 and obs[5, 0, 4] == 1  # queen d1, king e1
    assert np.array_equal(obs[6, 6], np.ones(8)) and obs[11, 7, 4] == 1  # black pawns, king e8
    assert obs[:12].sum() == 32
    assert (obs[12] == 1).all() and (obs[13:17] == 1).all()
    assert obs[17].sum() == 0 and (obs[18] == 0).all()


def test_observation_turn_castling_ep_clock():
    s = STANDARD.deserialize("r3k2r/8/8/3pP3/8/8/8/R3K2R w Kq d6 0 5")
    obs = s.observation()
    assert obs[17].sum() == 1 and obs[17, 5, 3] == 1  # d6 = rank 5, file 3
    assert [obs[p].max() for p in range(13, 17)] == [1, 0, 0, 1]
    s.apply_action_checked(s.string_to_action("Ra2"))
    obs = s.observation()
    assert (obs[12] == 0).all() and obs[17].sum() == 0
    assert np.allclose(obs[18], 0.01)
    # an en-passant square with no legal capture is not shown
    pinned = STANDARD.deserialize("8/8/8/KPp4r/8/8/8/4k3 w - c6 0 1")
    assert pinned.observation()[17].sum() == 0
    # Chess960: king-side means the rook on the h-file side of the king
    t = C960.deserialize("1r4kr/8/8/8/8/8/8/1R4KR w H - 0 1")
    assert [t.observation()[p].max() for p in range(13, 17)] == [1, 0, 0, 0]
    t = C960.deserialize("1r4kr/8/8/8/8/8/8/1R4KR w B - 0 1")
    assert [t.observation()[p].max() for p in range(13, 17)] == [0, 1, 0, 0]


def test_legal_actions_mask():
    s = STANDARD.new_initial_state()
    m = s.legal_actions_mask()
    assert m.shape == (4672,) and m.dtype == bool and m.sum() == 20
    assert np.flatnonzero(m).tolist() == s.legal_actions()


# -- end of the game ---------------------------------------------------------------------------

def _play(state, *moves):
    for m in moves:
        state.apply_action_checked(state.string_to_action(m))
    return state


def test_checkmate():
    s = _play(STANDARD.new_initial_state(), "f3", "e5", "g4", "Qh4#")
    assert s.is_terminal() and s.termination() == "checkmate"
    assert s.returns() == [-1.0, 1.0] and s.current_player() == TERMINAL_PLAYER
    assert s.legal_actions() == [] and not s.legal_actions_mask().any()
    assert "0-1" in s.to_text() and "1. f3 e5 2. g4 Qh4#" in s.to_text()
    s = STANDARD.deserialize("6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1")
    _play(s, "Ra8#")
    assert s.returns() == [1.0, -1.0]
    with pytest.raises(IllegalActionError, match="game is over"):
        s.apply_action_checked(s.history()[0])


def test_stalemate_and_insufficient_material():
    s = STANDARD.deserialize("7k/5Q2/6K1/8/8/8/8/8 b - - 0 1")
    assert s.termination() == "stalemate" and s.returns() == [0.0, 0.0]
    for fen in ("8/8/4k3/8/8/3K4/8/8 w - - 0 1", "8/8/4k3/8/8/3KB3/8/8 b - - 0 1",
                "8/8/4kn2/8/8/3K4/8/8 w - - 0 1"):
        s = STANDARD.deserialize(fen)
        assert s.termination() == "insufficient material" and s.legal_actions() == []
        assert s.move_actions() and s.current_player() == TERMINAL_PLAYER
    assert not STANDARD.deserialize("8/8/4k3/8/8/3KR3/8/8 b - - 0 1").is_terminal()
    # capture into insufficient material ends the game
    s = _play(STANDARD.deserialize("8/8/4k3/8/8/3Kr3/8/8 w - - 0 1"), "Kxe3")
    assert s.termination() == "insufficient material"


def test_fifty_moves_and_repetition():
    assert not STANDARD.deserialize("4k3/8/8/8/8/8/8/R3K3 w Q - 99 80").is_terminal()
    s = STANDARD.deserialize("4k3/8/8/8/8/8/8/R3K3 w Q - 99 80")
    _play(s, "Ra2")
    assert s.termination() == "fifty-move rule"
    # checkmate on the hundredth half-move is still checkmate
    m = _play(STANDARD.deserialize("6k1/5ppp/8/8/8/8/8/R5K1 w - - 99 80"), "Ra8#")
    assert m.termination() == "checkmate"
    s = STANDARD.new_initial_state()
    _play(s, "Nf3", "Nf6", "Ng1", "Ng8")
    assert not s.is_terminal()  # twice
    _play(s, "Nf3", "Nf6", "Ng1")
    assert not s.is_terminal()
    _play(s, "Ng8")
    assert s.termination() == "threefold repetition" and s.returns() == [0.0, 0.0]
    assert s.legal_actions() == [] and len(s.move_actions()) == 20
    with pytest.raises(IllegalActionError, match="game is over"):
        s.string_to_action("e4")
    s.undo_action()
    assert not s.is_terminal() and s.current_player() == 1


# -- plytree perft -----------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", "perft", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_perft():
    out = _cli("3")
    assert out.returncode == 0, out.stderr
    assert "Nodes searched: 8902" in out.stdout and "nps:" in out.stdout
    out = _cli("--fen", "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", "--divide", "2")
    assert out.returncode == 0, out.stderr
    rows = dict(line.split(": ") for line in out.stdout.splitlines() if line[:1].islower() and ": " in line
                and not line.startswith(("position", "time", "nps")))
    assert len(rows) == 48 and sum(map(int, rows.values())) == 2039 and rows["e1g1"] == "43"
    assert "Nodes searched: 2039" in out.stdout
    out = _cli("--chess960", "77", "--divide", "--backend", "python-chess", "2")
    board = chess.Board.from_chess960_pos(77)
    assert f"Nodes searched: {perft_python_chess(board, 2)}" in out.stdout
    out = _cli("--variant", "chess960", "--fen", "bqnb1rkr/pp3ppp/3ppn2/2p5/5P2/P2P4/NPP1P1PP/BQ1BNRKR w HFhf -", "2")
    assert "Nodes searched: 528" in out.stdout
    out = _cli("--fen", "not a fen", "1")
    assert out.returncode == 1 and "not a fen" in out.stderr


def _divide_rows(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines()
                                   if ": " in line and not line.startswith(("position", "time", "nps", "Nodes")))}


@pytest.mark.parametrize("args", [
    ("--fen", "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", "3"),
    ("--variant", "chess960", "--fen", "bqnb1rkr/pp3ppp/3ppn2/2p5/5P2/P2P4/NPP1P1PP/BQ1BNRKR w HFhf -", "3"),
    ("--chess960", "77", "3"),
])
def test_cli_perft_backends_agree(args):
    """The default (bitboard) path, the adapter and python-chess split the tree the same way, castling
    moves of Chess960 included."""
    outs = {b: _cli("--divide", "--backend", b, *args) for b in ("bitboard", "adapter", "python-chess")}
    for b, out in outs.items():
        assert out.returncode == 0, (b, out.stderr)
    rows = {b: _divide_rows(out.stdout) for b, out in outs.items()}
    assert rows["bitboard"] == rows["adapter"] == rows["python-chess"] and len(rows["bitboard"]) > 15
    assert _cli(*args).stdout.split("Nodes searched: ")[1].split()[0] == str(sum(rows["bitboard"].values()))


def test_perft_bitboard_functions():
    from games.perft import divide_bitboard, perft_bitboard
    fen = "8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1"
    board = chess.Board(fen)
    assert perft_bitboard(board, 4) == 43238 == perft_bitboard(ChessGame().deserialize(fen), 4)
    assert perft_bitboard(board, 0) == 1 and board.fen() == fen
    assert sorted(divide_bitboard(board, 2)) == divide_python_chess(board, 2)
    with pytest.raises(ValueError):
        divide_bitboard(board, 0)
