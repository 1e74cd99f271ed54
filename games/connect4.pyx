"""Connect Four 7x6 on bitboards, with a C interface (see ``_cgame.pxd``).

Actions are the columns 0-6 and player 0 ("x") moves first, as in OpenSpiel's ``connect_four``. Text
uses Pascal Pons' move digits 1-7 (action + 1): ``action_to_string(3) == "4"`` and a position is
serialised as the digits of its moves from the empty board, e.g. ``"4453"``. The bitboard layout and
the solver's helpers are in ``connect4.pxd`` (cimport them).
"""
from libc.stdint cimport uint64_t, int8_t
from libc.string cimport memset

import numpy as np

from games._cgame cimport CGame, CState, TERMINAL_PLAYER, splitmix64
from games._errors import ActionOutOfRangeError, IllegalActionError, InvalidActionError, InvalidStateError


cdef bint c4_is_terminal(const void* st) noexcept nogil:
    cdef const C4* p = <const C4*> st
    return p.winner != C4_NO_WINNER or p.num_moves == C4_CELLS

cdef int c4_legal(const void* st, int* out) noexcept nogil:
    cdef const C4* p = <const C4*> st
    cdef int n = 0, col
    if c4_is_terminal(st):
        return 0
    for col in range(C4_WIDTH):
        if c4_can_play(p, col):
            out[n] = col
            n += 1
    return n

cdef void c4_apply(void* st, int col) noexcept nogil:
    c4_play_move(<C4*> st, col)

cdef void c4_undo(void* st) noexcept nogil:
    c4_undo_move(<C4*> st)

cdef int c4_player(const void* st) noexcept nogil:
    if c4_is_terminal(st):
        return TERMINAL_PLAYER
    return (<const C4*> st).num_moves & 1

cdef uint64_t c4_hash(const void* st) noexcept nogil:
    # Pons' key is unique per position; the splitmix64 finaliser spreads its 49 bits over 64
    cdef uint64_t z = c4_key(<const C4*> st) + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)

cdef double c4_returns0(const void* st) noexcept nogil:
    cdef int w = (<const C4*> st).winner
    if w == C4_NO_WINNER:
        return 0.0
    return 1.0 if w == 0 else -1.0

cdef double c4_rollout(void* st, uint64_t* rng) noexcept nogil:
    # Keeps the non-full columns in a small array (a column leaves it when it fills) and draws one
    # uniformly, so the playout has the distribution of the generic one without listing legal moves.
    cdef C4* p = <C4*> st
    cdef int[7] cols
    cdef int n = 0, i, col
    cdef uint64_t r = 0, stone
    cdef int bits_left = 0
    if c4_is_terminal(st):
        return c4_returns0(st)
    for col in range(C4_WIDTH):
        if c4_can_play(p, col):
            cols[n] = col
            n += 1
    while True:
        if bits_left == 0:
            r = splitmix64(rng)
            bits_left = 2
        # 32 random bits per move, mapped to [0, n) by a multiply (Lemire; bias below 2e-9)
        i = <int> (((r & 0xFFFFFFFFULL) * <uint64_t> n) >> 32)
        r >>= 32
        bits_left -= 1
        col = cols[i]
        stone = (p.mask + c4_bottom_mask_col(col)) & c4_column_mask(col)
        p.moves[p.num_moves] = <int8_t> col
        if c4_alignment(p.current | stone):
            p.winner = p.num_moves & 1
            c4_play(p, col)
            return 1.0 if p.winner == 0 else -1.0
        c4_play(p, col)
        if p.num_moves == C4_CELLS:
            return 0.0
        if stone & c4_top_mask_col(col):
            n -= 1
            cols[i] = cols[n]


cdef CGame C4_GAME
C4_GAME.state_size = sizeof(C4)
C4_GAME.num_actions = C4_WIDTH
C4_GAME.max_legal = C4_WIDTH
C4_GAME.max_game_length = C4_CELLS
C4_GAME.legal_actions = c4_legal
C4_GAME.apply_action = c4_apply
C4_GAME.undo_action = c4_undo
C4_GAME.current_player = c4_player
C4_GAME.hash = c4_hash
C4_GAME.is_terminal = c4_is_terminal
C4_GAME.returns0 = c4_returns0
C4_GAME.rollout = c4_rollout

_COLUMN_LETTERS = "abcdefg"


cdef class Connect4State(CState):
    """A Connect Four position. Serialised as Pons' move string (columns 1-7), e.g. ``"4453"``."""

    def __cinit__(self):
        memset(&self.s, 0, sizeof(C4))
        self.s.winner = C4_NO_WINNER
        self.data = &self.s
        self.cgame = &C4_GAME

    def history(self):
        """The columns played (0-6), in order."""
        return [self.s.moves[i] for i in range(self.s.num_moves)]

    def observation(self):
        """float32 ``[3, 6, 7]``: the mover's stones, the opponent's, the mover's id; row 0 is the top."""
        out = np.empty((3, C4_HEIGHT, C4_WIDTH), dtype=np.float32)
        cdef float[:, :, ::1] v = out
        cdef uint64_t own = self.s.current, other = self.s.current ^ self.s.mask
        cdef float player = self.s.num_moves & 1
        cdef int r, c, bit
        for r in range(C4_HEIGHT):
            for c in range(C4_WIDTH):
                bit = c * 7 + (C4_HEIGHT - 1 - r)      # row 0 is the top cell of each column
                v[0, r, c] = (own >> bit) & 1
                v[1, r, c] = (other >> bit) & 1
                v[2, r, c] = player
        return out

    def action_to_string(self, action):
        """Pons' digit of a column: ``"1"`` .. ``"7"`` for actions 0-6.

        Raises:
            ActionOutOfRangeError: ``action`` is not a column 0-6.
        """
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < C4_WIDTH:
            raise ActionOutOfRangeError(f"Connect Four action {action!r} is not a column 0-6")
        return str(int(action) + 1)

    def string_to_action(self, text):
        """The action of a column written as ``"1"`` .. ``"7"`` or ``"a"`` .. ``"g"``.

        Raises:
            InvalidActionError: the text names no column.
            IllegalActionError: the column is full or the game is over.
        """
        t = str(text).strip().lower()
        if len(t) == 1 and "1" <= t <= "7":
            a = int(t) - 1
        elif len(t) == 1 and t in _COLUMN_LETTERS:
            a = _COLUMN_LETTERS.index(t)
        else:
            raise InvalidActionError(f"cannot read a Connect Four move from {text!r}: give a column 1-7 or a-g")
        if not c4_can_play(&self.s, a) or c4_is_terminal(&self.s):
            why = "the game is over" if c4_is_terminal(&self.s) else f"column {a + 1} is full"
            raise IllegalActionError(f"illegal Connect Four move {text!r}: {why} (position {self.serialize()!r})")
        return a

    def serialize(self):
        """Pons' move string: the columns played as digits 1-7 ('' for the empty board)."""
        return "".join(str(self.s.moves[i] + 1) for i in range(self.s.num_moves))

    def board_string(self):
        """Six rows of ``x``/``o``/``.``, the top row first."""
        cdef uint64_t x = self.s.current if self.s.num_moves % 2 == 0 else self.s.current ^ self.s.mask
        cdef uint64_t o = x ^ self.s.mask
        cdef int r, c, bit
        rows = []
        for r in range(C4_HEIGHT - 1, -1, -1):
            row = []
            for c in range(C4_WIDTH):
                bit = c * 7 + r
                row.append("x" if (x >> bit) & 1 else ("o" if (o >> bit) & 1 else "."))
            rows.append("".join(row))
        return "\n".join(rows)

    def to_text(self):
        """The board (top row first, columns numbered 1-7 below), whose turn it is and the moves."""
        if c4_is_terminal(&self.s):
            w = self.s.winner
            status = "game over: " + ("draw" if w == C4_NO_WINNER else f"{'xo'[w]} wins")
        else:
            status = f"{'xo'[self.s.num_moves & 1]} to move"
        return f"{self.board_string()}\n1234567\n{status}\nmoves: {self.serialize() or '(none)'}"

    def _solver_masks(self):
        """The solver helpers of ``connect4.pxd`` on this position, as ints (for tests): possible,
        winning_positions, opponent_winning_positions, possible_non_losing_moves, key, popcount(mask)."""
        return (c4_possible(&self.s), c4_winning_positions(&self.s), c4_opponent_winning_positions(&self.s),
                c4_possible_non_losing_moves(&self.s), c4_key(&self.s), c4_popcount(self.s.mask))

    def __repr__(self):
        return f"Connect4State({self.serialize()!r})"


class Connect4Game:
    """Connect Four 7x6: 2 players, 7 actions (columns), observation planes ``[3, 6, 7]``."""

    name = "connect4"
    num_players = 2
    num_actions = C4_WIDTH
    observation_shape = (3, C4_HEIGHT, C4_WIDTH)
    max_game_length = C4_CELLS
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True

    def __init__(self):
        self.params = {}

    def new_initial_state(self):
        """The empty board, player 0 (x) to move."""
        s = Connect4State()
        s.game = self
        return s

    def deserialize(self, text):
        """The position after Pons' move string ``text`` (digits 1-7, e.g. ``"4453"``; '' is the start).

        Raises:
            InvalidStateError: a character is not a digit 1-7, or a move is illegal (full column,
                or the game was already over).
        """
        cdef Connect4State s = self.new_initial_state()
        t = str(text).strip()
        for i, ch in enumerate(t):
            if not "1" <= ch <= "7":
                raise InvalidStateError(f"Connect Four move string {text!r}: {ch!r} at index {i} is not a column 1-7")
            col = int(ch) - 1
            if c4_is_terminal(&s.s):
                raise InvalidStateError(f"Connect Four move string {text!r}: move {ch} at index {i} comes after the end of the game")
            if not c4_can_play(&s.s, col):
                raise InvalidStateError(f"Connect Four move string {text!r}: move {ch} at index {i} is into a full column")
            c4_play_move(&s.s, col)
        return s

    def __repr__(self):
        return "Connect4Game()"

    def __reduce__(self):
        return (Connect4Game, ())
