"""Properties of every C game (tic-tac-toe, Connect Four, Hex), checked with hypothesis over random positions:
clones, transpositions and hashes, make/unmake, text and serialisation round trips, pickling, error classes,
plus Connect Four's win detection on Pons' scored positions and the fast rollouts' statistics."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import games
from games import ActionOutOfRangeError, IllegalActionError, InvalidActionError, InvalidStateError
from tests.conftest import DATA

GAMES = {
    "tictactoe": lambda: games.load("tictactoe"),
    "connect4": lambda: games.load("connect4"),
    "hex5": lambda: games.load("hex", board_size=5),
    "hex7swap": lambda: games.load("hex", board_size=7, swap=True),
    "hex11": lambda: games.load("hex", board_size=11),
}
HAS_UNDO = {"tictactoe", "connect4"}
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(sorted(GAMES))
choices = st.lists(st.integers(min_value=0, max_value=10**6), max_size=130)
long_choices = st.lists(st.integers(min_value=0, max_value=10**6), min_size=4, max_size=130)


def _play(game, picks: list[int]):
    """The position after choosing ``picks[i] % len(legal)`` at each step (stops at the end of the game)."""
    s = game.new_initial_state()
    for c in picks:
        if s.is_terminal():
            break
        legal = s.legal_actions()
        s.apply_action(legal[c % len(legal)])
    return s


def _snapshot(s) -> tuple:
    """Everything observable about a position."""
    return (s.hash(), s.serialize(), s.history(), s.legal_actions(), s.is_terminal(), s.current_player(),
            s.returns(), s.to_text(), s.observation().tobytes())


def _board(s) -> tuple:
    """The position without its move order: stones, side to move."""
    return (s.observation().tobytes(), s.current_player(), s.is_terminal())


@PROPERTY
@given(name=names, picks=choices, more=choices)
def test_clone_is_independent(name, picks, more):
    g = GAMES[name]()
    s = _play(g, picks)
    before = _snapshot(s)
    c = s.clone()
    assert _snapshot(c) == before and c == s
    for pick in more[:5]:
        if c.is_terminal():
            break
        legal = c.legal_actions()
        c.apply_action(legal[pick % len(legal)])
    assert _snapshot(s) == before
    # and the other way round: moving the original leaves the clone alone
    c2 = s.clone()
    if not s.is_terminal():
        s.apply_action(s.legal_actions()[0])
        assert _snapshot(c2) == before


def _replay(game, actions):
    """The position after ``actions``, or None when one is illegal or comes after the end."""
    s = game.new_initial_state()
    for a in actions:
        if s.is_terminal() or a not in s.legal_actions():
            return None
        s.apply_action(a)
    return s


def _transposable(name: str, history: list[int], i: int, j: int, swap_action: int | None) -> bool:
    """Whether exchanging moves i < j (same player) reaches the same position by construction."""
    if history[i] == history[j] or swap_action in (history[i], history[j]):
        return False
    if swap_action is not None and len(history) > 1 and history[1] == swap_action and i == 0:
        return False  # the swap acts on the first stone
    if name == "connect4":
        # a stone keeps its cell when no move in between goes into either column
        return all(m not in (history[i], history[j]) for m in history[i + 1:j])
    return True


@PROPERTY
@given(name=names, picks=long_choices, data=st.data())
def test_transpositions_share_one_hash(name, picks, data):
    g = GAMES[name]()
    s = _play(g, picks)
    history = s.history()
    pairs = [(i, j) for i in range(len(history)) for j in range(i + 2, len(history), 2)]
    swap_action = g.num_actions - 1 if g.params.get("swap") else None
    pairs = [(i, j) for i, j in pairs if _transposable(name, history, i, j, swap_action)]
    assume(pairs)
    i, j = data.draw(st.sampled_from(pairs))
    order = list(history)
    order[i], order[j] = order[j], order[i]
    t = _replay(g, order)
    assume(t is not None)  # the new order may end the game early
    assert _board(t) == _board(s)
    assert t.hash() == s.hash()
    assert t.legal_actions() == s.legal_actions() and t.returns() == s.returns()
    assert t.history() != s.history() and t != s  # equal positions, different games


@PROPERTY
@given(name=names, picks=choices, other=choices)
def test_different_positions_have_different_hashes(name, picks, other):
    g = GAMES[name]()
    s, t = _play(g, picks), _play(g, other)
    assert (s.hash() == t.hash()) == (_board(s) == _board(t))


@PROPERTY
@given(name=st.sampled_from(sorted(HAS_UNDO)), picks=choices)
def test_apply_undo_restores_state_and_hash(name, picks):
    g = GAMES[name]()
    s = _play(g, picks)
    before = _snapshot(s)
    for a in s.legal_actions():
        s.apply_action(a)
        s.undo_action()
        assert _snapshot(s) == before
    # undoing the whole game walks back through the same positions as replaying it
    history = s.history()
    for k in range(len(history), 0, -1):
        assert s.hash() == _replay(g, history[:k]).hash() and s.serialize() == _replay(g, history[:k]).serialize()
        s.undo_action()
    assert _snapshot(s) == _snapshot(g.new_initial_state())
    with pytest.raises(ValueError):
        s.undo_action()


def test_hex_has_no_undo():
    s = games.load("hex", board_size=5).deserialize("c3")
    with pytest.raises(ValueError, match="no undo"):
        s.undo_action()


@PROPERTY
@given(name=names, picks=choices)
def test_action_string_round_trip(name, picks):
    s = _play(GAMES[name](), picks)
    for a in s.legal_actions():
        text = s.action_to_string(a)
        assert s.string_to_action(text) == a
        assert s.string_to_action(f"  {text.upper()} ") == a


@PROPERTY
@given(name=names, picks=choices)
def test_serialize_and_pickle_round_trip(name, picks):
    g = GAMES[name]()
    s = _play(g, picks)
    back = g.deserialize(s.serialize())
    assert _snapshot(back) == _snapshot(s)
    p = pickle.loads(pickle.dumps(s))
    assert _snapshot(p) == _snapshot(s) and type(p) is type(s)
    assert p.game.params == g.params and p.game.num_actions == g.num_actions
    assert len(p.legal_actions_mask()) == g.num_actions
    if not p.is_terminal():  # the unpickled state plays on like the original
        a = p.legal_actions()[-1]
        p.apply_action(a)
        s.apply_action(a)
        assert _snapshot(p) == _snapshot(s)


@PROPERTY
@given(name=names, picks=choices)
def test_checked_apply_error_classes(name, picks):
    g = GAMES[name]()
    s = _play(g, picks)
    snap = _snapshot(s)
    for bad in (-1, g.num_actions, 10**9, "3", 2.0, True, None):
        with pytest.raises(ActionOutOfRangeError):
            s.apply_action_checked(bad)
    illegal = sorted(set(range(g.num_actions)) - set(s.legal_actions()))
    for a in illegal[:5]:
        with pytest.raises(IllegalActionError):
            s.apply_action_checked(a)
    assert _snapshot(s) == snap  # failed checks leave the position alone


@PROPERTY
@given(name=names, picks=choices, text=st.text(max_size=6))
def test_string_to_action_errors(name, picks, text):
    s = _play(GAMES[name](), picks)
    try:
        a = s.string_to_action(text)
    except (InvalidActionError, IllegalActionError) as e:
        assert repr(text) in str(e)  # the error names the input
    else:
        assert a in s.legal_actions()


@PROPERTY
@given(name=names, text=st.text(alphabet="1234567 abcdefgx,swp\t-", max_size=40))
def test_deserialize_accepts_or_raises_invalid_state(name, text):
    g = GAMES[name]()
    try:
        s = g.deserialize(text)
    except InvalidStateError as e:
        assert repr(text) in str(e)
    else:
        assert g.deserialize(s.serialize()).hash() == s.hash()


def test_connect4_text_and_errors():
    g = games.load("connect4")
    s = g.deserialize("444444")
    assert s.action_to_string(3) == "4" and s.string_to_action("c") == 2 and s.string_to_action(" 7") == 6
    with pytest.raises(IllegalActionError, match="column 4 is full"):
        s.string_to_action("4")
    with pytest.raises(IllegalActionError):
        s.apply_action_checked(3)
    for junk in ("0", "8", "h", "44", "", "x3"):
        with pytest.raises(InvalidActionError):
            s.string_to_action(junk)
    with pytest.raises(InvalidStateError, match=r"'4444444'.*full column"):
        g.deserialize("4444444")
    with pytest.raises(InvalidStateError, match=r"'12a'.*'a'"):
        g.deserialize("12a")
    won = g.deserialize("1212121")  # x drops four in column 1
    assert won.is_terminal() and won.returns() == [1.0, -1.0]
    with pytest.raises(InvalidStateError, match="after the end"):
        g.deserialize("12121212")
    assert s.to_text().splitlines()[:6] == ["...o...", "...x..."] * 3


def test_connect4_board_and_observation_layout():
    s = games.load("connect4").deserialize("4453")
    assert s.board_string().splitlines()[-2:] == ["...o...", "..oxx.."]
    obs = s.observation()  # x to move: plane 0 is x's stones, row 0 the top
    assert obs.shape == (3, 6, 7) and obs.dtype == np.float32
    assert obs[0, 5, 3] == obs[0, 5, 4] == 1 and obs[0].sum() == 2
    assert obs[1, 4, 3] == obs[1, 5, 2] == 1 and obs[1].sum() == 2
    assert (obs[2] == 0).all()


def _reference_observation(game, history: list[int]) -> np.ndarray:
    """The observation planes rebuilt in pure Python from the moves alone (no C code): plane 0 the
    mover's stones, plane 1 the opponent's, plane 2 the mover's id; row 0 at the top."""
    _, rows, cols = game.observation_shape
    board = [[-1] * cols for _ in range(rows)]           # owner of each cell, -1 empty
    for i, a in enumerate(history):
        if game.name == "connect4":
            row = max(r for r in range(rows) if board[r][a] == -1)   # lowest empty cell of the column
            board[row][a] = i & 1
        elif game.name == "hex" and a == rows * cols:                # swap: first stone to the mirror cell
            r, c = divmod(history[0], cols)
            board[r][c] = -1
            board[c][r] = 1
        else:
            r, c = divmod(a, cols)
            board[r][c] = i & 1
    mover = len(history) & 1
    out = np.zeros((3, rows, cols), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            out[0, r, c] = board[r][c] == mover
            out[1, r, c] = board[r][c] == 1 - mover
    out[2] = mover
    return out


@PROPERTY
@given(name=names, picks=choices)
def test_observation_matches_python_reference(name, picks):
    g = GAMES[name]()
    s = _play(g, picks)
    obs = s.observation()
    assert obs.dtype == np.float32 and obs.shape == g.observation_shape and obs.flags.c_contiguous
    assert np.array_equal(obs, _reference_observation(g, s.history()))


def test_hex_text_and_errors():
    g = games.load("hex", board_size=5)
    s = g.deserialize("a1 e5 c3")
    assert s.history() == [0, 24, 12] and s.action_to_string(5) == "a2" and s.string_to_action("b1") == 1
    with pytest.raises(IllegalActionError):
        s.string_to_action("c3")
    for junk in ("f1", "a6", "a0", "swap", "3c", "", "c"):
        with pytest.raises(InvalidActionError):
            s.string_to_action(junk)
    with pytest.raises(InvalidStateError, match="taken"):
        g.deserialize("a1 a1")
    with pytest.raises(InvalidStateError, match="off the 5x5 board"):
        g.deserialize("a1 f2")
    sw = games.load("hex", board_size=5, swap=True)
    t = sw.deserialize("b1 swap")
    assert t.history() == [1, 25] and t.current_player() == 0
    assert t.observation()[1, 1, 0] == 1 and t.observation()[0].sum() == 0  # o's stone on the mirror a2
    with pytest.raises(InvalidStateError, match="second move"):
        sw.deserialize("b1 c3 swap")
    with pytest.raises(ValueError):
        games.load("hex", board_size=2)
    with pytest.raises(ValueError):
        games.load("hex", board_size=20)


def test_hex_winner_joins_own_edges():
    g = games.load("hex", board_size=3)
    # x walks down column a, o stays off its own rows: x (top-bottom) wins
    s = g.deserialize("a1 c1 a2 c2 a3")
    assert s.is_terminal() and s.returns() == [1.0, -1.0]
    # o joins left and right along row 3 while x fills row 1
    s = g.deserialize("a1 a3 b1 b3 b2 c3")
    assert s.is_terminal() and s.returns() == [-1.0, 1.0]
    # the short diagonal b1-a2 touches; a1-b2 does not
    assert g.deserialize("b1 c1 a2 c2 a3").is_terminal()
    assert not g.deserialize("a1 c1 b2 c2 b3").is_terminal()


def _pons_positions():
    out = []
    for name in ("Test_L3_R1", "Test_L2_R1"):
        for line in (DATA / "connect4" / name).read_text().split("\n"):
            if line.strip():
                moves, score = line.split()
                out.append((moves, int(score)))
    return out


def _wins_at_once(s) -> bool:
    """Whether the player to move has a move that wins on the spot (make/unmake, no copies)."""
    me = s.current_player()
    for a in s.legal_actions():
        s.apply_action(a)
        won = s.is_terminal() and s.returns()[me] == 1.0
        s.undo_action()
        if won:
            return True
    return False


def _wins_at_second_move(s) -> bool:
    """Whether the mover has a move after which every reply leaves a win on the spot."""
    for a in s.legal_actions():
        s.apply_action(a)
        forced = not s.is_terminal()
        for b in s.legal_actions() if forced else ():
            s.apply_action(b)
            forced = not s.is_terminal() and _wins_at_once(s)
            s.undo_action()
            if not forced:
                break
        s.undo_action()
        if forced:
            return True
    return False


def test_connect4_short_wins_match_pons_scores():
    # Pons' score of a win with the mover's stone number k from now is (43 - m) // 2, m being the stones
    # on the board before that stone: an immediate win scores (43 - n) // 2 and a win at the second
    # move (41 - n) // 2. His sets hold no immediate wins, but hundreds of wins at the second move.
    g = games.load("connect4")
    positions = _pons_positions()
    assert len(positions) == 2000
    second = 0
    for moves, score in positions:
        s = g.deserialize(moves)
        assert not s.is_terminal() and s.serialize() == moves
        n = len(moves)
        immediate = _wins_at_once(s)
        assert immediate == (score == (43 - n) // 2), moves
        if not immediate and n <= 39:
            in_two = _wins_at_second_move(s)
            assert in_two == (score == (41 - n) // 2), moves
            second += in_two
    assert second > 300


@pytest.mark.parametrize("name, start, n", [("connect4", "", 100_000), ("connect4", "4453", 100_000),
                                           ("hex5", "", 40_000), ("hex7swap", "a1", 20_000)])
def test_fast_rollout_matches_generic_statistics(name, start, n):
    # the bitboard / union-find playouts must draw the same games as the generic one over legal_actions
    s = GAMES[name]().deserialize(start)
    fast = s.random_rollouts(n, seed=1)
    generic = s.random_rollouts(n, seed=2, generic=True)
    tolerance = 5 * np.sqrt(2 * 0.25 / n)  # 5 standard errors of a difference of two frequencies
    for outcome in (1.0, -1.0, 0.0):
        p, q = (fast == outcome).mean(), (generic == outcome).mean()
        assert abs(p - q) < tolerance, (outcome, p, q)
    assert s.random_rollout(7) in (1.0, -1.0, 0.0)
    assert np.array_equal(s.random_rollouts(50, seed=3), s.random_rollouts(50, seed=3))  # seeded
    assert not np.array_equal(s.random_rollouts(50, seed=3), s.random_rollouts(50, seed=4))


def _ttt_random_play_odds() -> dict[float, float]:
    """Exact probability of each return of player 0 under uniformly random tic-tac-toe play (pure Python)."""
    lines = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]
    memo: dict[tuple, dict[float, float]] = {}

    def odds(board: tuple) -> dict[float, float]:
        if board not in memo:
            mover = board.count(0) % 2                # x (1) moves when the count of empties is odd
            if any(board[a] == board[b] == board[c] != 0 for a, b, c in lines):
                memo[board] = {-1.0 if mover == 1 else 1.0: 1.0}   # the player who just moved won
            elif 0 not in board:
                memo[board] = {0.0: 1.0}
            else:
                empty = [i for i in range(9) if board[i] == 0]
                out = {1.0: 0.0, -1.0: 0.0, 0.0: 0.0}
                for i in empty:
                    child = board[:i] + (2 - mover,) + board[i + 1:]
                    for r, p in odds(child).items():
                        out[r] += p / len(empty)
                memo[board] = out
        return memo[board]

    return odds((0,) * 9)


def test_cstate_random_rollouts_generic_path():
    # tic-tac-toe has no playout of its own: CState.random_rollouts runs the generic one in both modes
    s = games.load("tictactoe").new_initial_state()
    assert np.array_equal(s.random_rollouts(200, seed=5), s.random_rollouts(200, seed=5, generic=True))
    n = 40_000
    got = s.random_rollouts(n, seed=11)
    for outcome, p in _ttt_random_play_odds().items():
        assert abs((got == outcome).mean() - p) < 5 * np.sqrt(p * (1 - p) / n), (outcome, p)
    with pytest.raises(ValueError, match="negative"):
        s.random_rollouts(-1)


@PROPERTY
@given(name=st.sampled_from(["connect4", "hex5", "hex7swap", "hex11"]), picks=st.lists(
    st.integers(min_value=0, max_value=10**6), max_size=20), seed=st.integers(min_value=0, max_value=2**64 - 1))
def test_fast_rollout_ends_in_a_true_final_position(name, picks, seed):
    # the game's own playout must leave the position exactly where the rules end the game
    g = GAMES[name]()
    s = _play(g, picks)
    end = s._rollout_final_state(seed)
    history = end.history()
    assert history[:len(s.history())] == s.history() and end.is_terminal()
    replay = _replay(g, history)
    assert replay is not None and _snapshot(replay) == _snapshot(end)
    if len(history) > len(s.history()):
        assert not _replay(g, history[:-1]).is_terminal()  # it did not play on after the end


def _column_set(bits: int) -> set[int]:
    return {col for col in range(7) if (bits >> (7 * col)) & 0x3F}


def _pons_key_from_board(s) -> int:
    """Pons' key rebuilt from the board text: mover's stones + all stones, in the 7-bit column layout."""
    mover = "xo"[s.current_player()]
    current = mask = 0
    for r, row in enumerate(s.board_string().splitlines()):
        for c, ch in enumerate(row):
            bit = 1 << (7 * c + (5 - r))
            if ch != ".":
                mask |= bit
            if ch == mover:
                current |= bit
    return current + mask


@PROPERTY
@given(picks=choices)
def test_connect4_solver_helpers_agree_with_the_rules(picks):
    # the inline helpers of games/connect4.pxd, which solvers cimport, against make/unmake
    s = _play(games.load("connect4"), picks)
    assume(not s.is_terminal())
    possible, winning, opponent_winning, non_losing, key, stones = s._solver_masks()
    assert key == _pons_key_from_board(s) and stones == len(s.history())
    legal = s.legal_actions()
    assert _column_set(possible) == set(legal) and bin(possible).count("1") == len(legal)
    wins, safe = set(), set()
    for a in legal:
        s.apply_action(a)
        if s.is_terminal() and s.returns() != [0.0, 0.0]:
            wins.add(a)
        elif not _wins_at_once(s):
            safe.add(a)
        s.undo_action()
    assert _column_set(possible & winning) == wins
    if not wins:  # Pons' non-losing moves assume the mover cannot win at once
        assert _column_set(non_losing) == safe
    # the opponent's winning cells: after any other quiet move b, the opponent wins in column a
    threats = _column_set(possible & opponent_winning)
    for b in sorted(set(legal) - wins):
        s.apply_action(b)
        if not s.is_terminal():
            for a in set(legal) - {b}:
                s.apply_action(a)
                assert (s.is_terminal() and s.returns() != [0.0, 0.0]) == (a in threats)
                s.undo_action()
        s.undo_action()
