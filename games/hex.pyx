"""Hex on an N x N rhombus (N = 3..19), with a C interface (see ``_cgame.pxd``).

Conventions follow OpenSpiel's ``hex(board_size=N)``: the action of the cell at row r, column c (from
0, row 0 at the top) is ``r * N + c``; player 0 ("x", black) moves first and joins the top and bottom
rows; player 1 ("o", white) joins the left and right columns. Row r is drawn shifted right by r half
cells, so cell (r, c) touches (r-1, c), (r-1, c+1), (r, c-1), (r, c+1), (r+1, c-1) and (r+1, c).

Text uses benzene coordinates (letter = column from ``a``, number = row from 1): action 0 is ``"a1"``.

Swap (pie) rule, with ``swap=True``: as in OpenSpiel, action ``N * N`` ("swap") is legal only as the
second move; it replaces the first stone by a stone of player 1 on the mirror cell (row and column
exchanged), after which player 0 moves again. Moves alternate players as always (player = move count
mod 2), so the history of actions stays a plain list of ints.
"""
from libc.stdint cimport uint64_t, int16_t, int8_t
from libc.string cimport memcpy, memset

import re

import numpy as np

from games._cgame cimport CGame, CState, TERMINAL_PLAYER, splitmix64
from games._errors import ActionOutOfRangeError, IllegalActionError, InvalidActionError, InvalidStateError

cdef enum:
    HEX_MIN_SIZE = 3
    HEX_MAX_SIZE = 19
    HEX_MAX_CELLS = 361              # HEX_MAX_SIZE ** 2
    HEX_BOTH_EDGES = 3               # Hex.edges of a group that joins its player's two edges
    HEX_NO_WINNER = -1

ctypedef struct Hex:
    uint64_t key                        # Zobrist key of the stones
    int16_t parent[HEX_MAX_CELLS]       # union-find forest over the stones (a root is its own parent)
    int16_t moves[HEX_MAX_CELLS + 1]    # actions played (the swap action included)
    int16_t num_moves                   # actions played; the player to move is num_moves & 1
    int8_t cells[HEX_MAX_CELLS]         # 0 empty, 1 player 0's stone, 2 player 1's stone; index r * size + c
    int8_t edges[HEX_MAX_CELLS]         # at a root: bit 0 / bit 1 set when the group touches its player's
                                        # first (top / left) / second (bottom / right) edge
    int8_t size                         # N
    int8_t swap                         # whether the swap rule is on
    int8_t winner                       # 0 or 1 once a player has joined their edges, else HEX_NO_WINNER

# Zobrist keys of the stones [player, cell] and of player 1 to move
cdef uint64_t[2][HEX_MAX_CELLS] ZOBRIST
cdef uint64_t ZOBRIST_TO_MOVE

cdef uint64_t _seed = 0x48657820
cdef int _i, _p
for _p in range(2):
    for _i in range(HEX_MAX_CELLS):
        ZOBRIST[_p][_i] = splitmix64(&_seed)
ZOBRIST_TO_MOVE = splitmix64(&_seed)


cdef inline int hex_find(Hex* h, int x) noexcept nogil:
    # path halving
    while h.parent[x] != x:
        h.parent[x] = h.parent[h.parent[x]]
        x = h.parent[x]
    return x

cdef inline int hex_join(Hex* h, int root, int other) noexcept nogil:
    """Merges the group of stone `other` into the group whose root is `root`; returns the new root."""
    other = hex_find(h, other)
    if other == root:
        return root
    # the newest stone becomes the root of the merged group; path halving keeps the trees shallow
    h.parent[other] = <int16_t> root
    h.edges[root] |= h.edges[other]
    return root

cdef inline void hex_reset(Hex* h, int size, bint swap) noexcept nogil:
    memset(h, 0, sizeof(Hex))
    h.size = <int8_t> size
    h.swap = swap
    h.winner = HEX_NO_WINNER

cdef inline void hex_place(Hex* h, int cell, int player) noexcept nogil:
    """Puts a stone of `player` on the empty `cell`, joins it to its friends, sets the winner."""
    cdef int n = h.size
    cdef int r = cell // n, c = cell - r * n
    cdef int8_t me = <int8_t> (player + 1)
    cdef int root = cell
    h.cells[cell] = me
    h.parent[cell] = <int16_t> cell
    h.key ^= ZOBRIST[player][cell]
    if player == 0:
        h.edges[cell] = (1 if r == 0 else 0) | (2 if r == n - 1 else 0)
    else:
        h.edges[cell] = (1 if c == 0 else 0) | (2 if c == n - 1 else 0)
    if r > 0:
        if h.cells[cell - n] == me:
            root = hex_join(h, root, cell - n)
        if c < n - 1 and h.cells[cell - n + 1] == me:
            root = hex_join(h, root, cell - n + 1)
    if c > 0 and h.cells[cell - 1] == me:
        root = hex_join(h, root, cell - 1)
    if c < n - 1 and h.cells[cell + 1] == me:
        root = hex_join(h, root, cell + 1)
    if r < n - 1:
        if c > 0 and h.cells[cell + n - 1] == me:
            root = hex_join(h, root, cell + n - 1)
        if h.cells[cell + n] == me:
            root = hex_join(h, root, cell + n)
    if h.edges[root] == HEX_BOTH_EDGES:
        h.winner = player

cdef inline void hex_do_swap(Hex* h) noexcept nogil:
    """The swap move: player 0's first stone becomes player 1's on the mirror cell."""
    cdef int n = h.size
    cdef int cell = h.moves[0]
    cdef int r = cell // n, c = cell - r * n
    h.cells[cell] = 0
    h.key ^= ZOBRIST[0][cell]
    hex_place(h, c * n + r, 1)


cdef bint hex_is_terminal(const void* st) noexcept nogil:
    return (<const Hex*> st).winner != HEX_NO_WINNER

cdef int hex_legal(const void* st, int* out) noexcept nogil:
    cdef const Hex* h = <const Hex*> st
    cdef int cells = <int> h.size * h.size
    cdef int n = 0, i
    if h.winner != HEX_NO_WINNER:
        return 0
    for i in range(cells):
        if h.cells[i] == 0:
            out[n] = i
            n += 1
    if h.swap and h.num_moves == 1:
        out[n] = cells
        n += 1
    return n

cdef void hex_apply(void* st, int action) noexcept nogil:
    cdef Hex* h = <Hex*> st
    if action == <int> h.size * h.size:
        hex_do_swap(h)
    else:
        hex_place(h, action, h.num_moves & 1)
    h.moves[h.num_moves] = <int16_t> action
    h.num_moves += 1

cdef int hex_player(const void* st) noexcept nogil:
    cdef const Hex* h = <const Hex*> st
    if h.winner != HEX_NO_WINNER:
        return TERMINAL_PLAYER
    return h.num_moves & 1

cdef uint64_t hex_hash(const void* st) noexcept nogil:
    cdef const Hex* h = <const Hex*> st
    return h.key ^ (ZOBRIST_TO_MOVE if h.num_moves & 1 else 0)

cdef double hex_returns0(const void* st) noexcept nogil:
    cdef int w = (<const Hex*> st).winner
    if w == HEX_NO_WINNER:
        return 0.0
    return 1.0 if w == 0 else -1.0

cdef double hex_rollout(void* st, uint64_t* rng) noexcept nogil:
    # Keeps the empty cells in an array and draws one uniformly each move (swap-remove), so no legal
    # move list is built per move; the swap option, when open, is drawn like any other action.
    cdef Hex* h = <Hex*> st
    cdef int16_t[HEX_MAX_CELLS] empty
    cdef int cells = <int> h.size * h.size
    cdef int n = 0, i, cell
    if h.winner != HEX_NO_WINNER:
        return hex_returns0(st)
    for i in range(cells):
        if h.cells[i] == 0:
            empty[n] = <int16_t> i
            n += 1
    if h.swap and h.num_moves == 1:
        i = <int> (((splitmix64(rng) >> 32) * <uint64_t> (n + 1)) >> 32)
        if i == n:
            hex_apply(st, cells)
            n = 0
            for i in range(cells):
                if h.cells[i] == 0:
                    empty[n] = <int16_t> i
                    n += 1
    while h.winner == HEX_NO_WINNER:
        i = <int> (((splitmix64(rng) >> 32) * <uint64_t> n) >> 32)
        cell = empty[i]
        n -= 1
        empty[i] = empty[n]
        hex_place(h, cell, h.num_moves & 1)
        h.moves[h.num_moves] = <int16_t> cell
        h.num_moves += 1
    return 1.0 if h.winner == 0 else -1.0


# one function table per (swap, size): the action space depends on both
cdef CGame[2][HEX_MAX_SIZE + 1] HEX_GAMES

cdef int _sw, _n
for _sw in range(2):
    for _n in range(HEX_MAX_SIZE + 1):
        HEX_GAMES[_sw][_n].state_size = sizeof(Hex)
        HEX_GAMES[_sw][_n].num_actions = _n * _n + _sw
        HEX_GAMES[_sw][_n].max_legal = _n * _n
        HEX_GAMES[_sw][_n].max_game_length = _n * _n + _sw
        HEX_GAMES[_sw][_n].legal_actions = hex_legal
        HEX_GAMES[_sw][_n].apply_action = hex_apply
        HEX_GAMES[_sw][_n].undo_action = NULL
        HEX_GAMES[_sw][_n].current_player = hex_player
        HEX_GAMES[_sw][_n].hash = hex_hash
        HEX_GAMES[_sw][_n].is_terminal = hex_is_terminal
        HEX_GAMES[_sw][_n].returns0 = hex_returns0
        HEX_GAMES[_sw][_n].rollout = hex_rollout

_LETTERS = "abcdefghijklmnopqrs"
_MOVE_RE = re.compile(r"([a-z])([0-9]{1,2})")
_SWAP_WORDS = ("swap", "swap-pieces")


def _restore_hex(cls, game, bytes data):
    """Unpickles a HexState (used by multiprocessing and Ray)."""
    cdef HexState s = cls.__new__(cls)
    if len(data) != sizeof(Hex):
        raise ValueError(f"pickled {cls.__name__} has {len(data)} bytes, expected {sizeof(Hex)}")
    memcpy(&s.s, <const char*> data, sizeof(Hex))
    if not HEX_MIN_SIZE <= s.s.size <= HEX_MAX_SIZE:
        raise ValueError(f"pickled {cls.__name__} has board size {s.s.size}")
    s.game = game
    s.cgame = &HEX_GAMES[1 if s.s.swap else 0][s.s.size]
    return s


cdef class HexState(CState):
    """A Hex position. Serialised as its moves in benzene coordinates, e.g. ``"a1 b3 swap c2"``."""
    cdef Hex s   # the position

    def __cinit__(self):
        hex_reset(&self.s, HEX_MAX_SIZE, False)
        self.data = &self.s
        self.cgame = &HEX_GAMES[0][HEX_MAX_SIZE]

    cdef void _start(self, int size, bint swap):
        hex_reset(&self.s, size, swap)
        self.cgame = &HEX_GAMES[1 if swap else 0][size]

    cdef CState _new_like(self):
        cdef HexState s = HexState.__new__(type(self))
        s.game = self.game
        s.cgame = self.cgame
        return s

    def __reduce__(self):
        return (_restore_hex, (type(self), self.game, (<char*> &self.s)[:sizeof(Hex)]))

    @property
    def board_size(self):
        """N, the number of rows and of columns."""
        return self.s.size

    def history(self):
        """The actions played, in order (``N * N`` is the swap)."""
        return [self.s.moves[i] for i in range(self.s.num_moves)]

    def observation(self):
        """float32 ``[3, N, N]``: the mover's stones, the opponent's, the mover's id (row 0 at the top)."""
        cdef int n = self.s.size
        cdef int p = self.s.num_moves & 1
        out = np.empty((3, n, n), dtype=np.float32)
        cdef float[:, :, ::1] v = out
        cdef int8_t own = <int8_t> (p + 1), other = <int8_t> (2 - p), cell
        cdef int r, c
        for r in range(n):
            for c in range(n):
                cell = self.s.cells[r * n + c]
                v[0, r, c] = cell == own
                v[1, r, c] = cell == other
                v[2, r, c] = p
        return out

    def _cell_name(self, int cell):
        return f"{_LETTERS[cell % self.s.size]}{cell // self.s.size + 1}"

    def action_to_string(self, action):
        """Benzene text of an action: ``"a1"`` for action 0 (column letter, row number), ``"swap"``.

        Raises:
            ActionOutOfRangeError: ``action`` is not in ``[0, num_actions)``.
        """
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < self.cgame.num_actions:
            raise ActionOutOfRangeError(f"Hex action {action!r} is outside [0, {self.cgame.num_actions})")
        if action == self.s.size * self.s.size:
            return "swap"
        return self._cell_name(action)

    def _parse(self, text):
        """The action of a move's text, or an error message (syntax and board only, not legality)."""
        cdef int n = self.s.size
        t = str(text).strip().lower()
        if t in _SWAP_WORDS:
            if not self.s.swap:
                return None, "the swap rule is off in this game"
            return n * n, None
        m = _MOVE_RE.fullmatch(t)
        if m is None:
            return None, "give a cell as column letter and row number, e.g. 'c3'"
        col = _LETTERS.find(m.group(1))
        row = int(m.group(2)) - 1
        if not (0 <= col < n and 0 <= row < n):
            return None, f"the cell is off the {n}x{n} board"
        return row * n + col, None

    def string_to_action(self, text):
        """The action of a move written in benzene coordinates (``"c3"``) or ``"swap"``.

        Raises:
            InvalidActionError: the text is not a cell of this board (or is "swap" with the rule off).
            IllegalActionError: the cell is taken, the swap comes at the wrong time, or the game is over.
        """
        a, err = self._parse(text)
        if err is not None:
            raise InvalidActionError(f"cannot read a Hex move from {text!r}: {err}")
        if a not in self.legal_actions():
            raise IllegalActionError(f"illegal Hex move {text!r} in position {self.serialize()!r}")
        return a

    def serialize(self):
        """The moves in benzene coordinates, separated by spaces ('' for the empty board)."""
        return " ".join(self.action_to_string(self.s.moves[i]) for i in range(self.s.num_moves))

    def board_string(self):
        """The rhombus: column letters on top, each row shifted right by one more space."""
        cdef int n = self.s.size, r, c
        lines = ["    " + " ".join(_LETTERS[:n])]
        for r in range(n):
            cells = " ".join(".xo"[self.s.cells[r * n + c]] for c in range(n))
            lines.append(f"{' ' * r}{r + 1:>3} {cells}")
        return "\n".join(lines)

    def to_text(self):
        """The board, who joins which edges, whose turn it is and the moves so far."""
        if self.s.winner != HEX_NO_WINNER:
            status = f"game over: {'xo'[self.s.winner]} wins"
        else:
            status = f"{'xo'[self.s.num_moves & 1]} to move"
        return (f"{self.board_string()}\nx joins top and bottom, o joins left and right\n{status}\n"
                f"moves: {self.serialize() or '(none)'}")

    def __repr__(self):
        return f"HexState({self.s.size}, {self.serialize()!r})"


def _make_hex(board_size, swap):
    return HexGame(board_size=board_size, swap=swap)


class HexGame:
    """Hex on an N x N board: 2 players, ``N * N`` actions (plus 1 for the swap), planes ``[3, N, N]``.

    Args:
        board_size: N, from 3 to 19.
        swap: whether the swap (pie) rule is on.

    Raises:
        ValueError: ``board_size`` is not an integer in [3, 19].
    """

    name = "hex"
    num_players = 2
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True

    def __init__(self, *, board_size=11, swap=False):
        if isinstance(board_size, bool) or not isinstance(board_size, (int, np.integer)) \
                or not HEX_MIN_SIZE <= board_size <= HEX_MAX_SIZE:
            raise ValueError(f"Hex board_size={board_size!r} is not an integer in [{HEX_MIN_SIZE}, {HEX_MAX_SIZE}]")
        self.board_size = int(board_size)
        self.swap = bool(swap)
        self.params = {"board_size": self.board_size, "swap": self.swap}
        cells = self.board_size * self.board_size
        self.num_actions = cells + (1 if self.swap else 0)
        self.max_game_length = self.num_actions
        self.observation_shape = (3, self.board_size, self.board_size)

    def new_initial_state(self):
        """The empty board, player 0 (x) to move."""
        cdef HexState s = HexState()
        s._start(self.board_size, self.swap)
        s.game = self
        return s

    def deserialize(self, text):
        """The position after the moves ``text`` in benzene coordinates (``"a1 b3 c2"``; '' is the start).

        Raises:
            InvalidStateError: a token is not a cell of this board, or a move is illegal.
        """
        cdef HexState s = self.new_initial_state()
        for i, token in enumerate(str(text).replace(",", " ").split()):
            a, err = s._parse(token)
            if err is not None:
                raise InvalidStateError(f"Hex move string {text!r}: move {i + 1} {token!r}: {err}")
            if a not in s.legal_actions():
                why = "the game is over" if s.is_terminal() else (
                    "the swap is only legal as the second move" if a == self.board_size ** 2 else "the cell is taken")
                raise InvalidStateError(f"Hex move string {text!r}: move {i + 1} {token!r} is illegal: {why}")
            hex_apply(&s.s, a)
        return s

    def __eq__(self, other):
        return isinstance(other, HexGame) and self.params == other.params

    def __hash__(self):
        return hash(("hex", self.board_size, self.swap))

    def __repr__(self):
        return f"HexGame(board_size={self.board_size}, swap={self.swap})"

    def __reduce__(self):
        return (_make_hex, (self.board_size, self.swap))
