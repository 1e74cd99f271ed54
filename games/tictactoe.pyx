"""Tic-tac-toe with a C interface: actions 0-8 row-major from the top left, player 0 is x (as OpenSpiel).

This module is also the smallest example of a game with a C interface (see ``_cgame.pxd``).
"""
from libc.stdint cimport uint16_t, uint64_t, int8_t
from libc.string cimport memset

import numpy as np

from games._cgame cimport CGame, CState, TERMINAL_PLAYER
from games._errors import IllegalActionError, InvalidActionError, InvalidStateError

_DIGITS = "0123456789"

ctypedef struct TTT:
    uint16_t stones[2]   # bit i set: player's stone on cell i
    int8_t moves[9]      # actions played
    int8_t num_moves     # how many

cdef uint16_t[8] LINES = [0x007, 0x038, 0x1C0, 0x049, 0x092, 0x124, 0x111, 0x054]

cdef inline bint _has_line(uint16_t s) noexcept nogil:
    cdef int i
    for i in range(8):
        if (s & LINES[i]) == LINES[i]:
            return True
    return False

cdef inline int _winner(const TTT* t) noexcept nogil:
    # only the player who just moved can have completed a line
    if t.num_moves == 0:
        return -1
    cdef int last = (t.num_moves - 1) & 1
    return last if _has_line(t.stones[last]) else -1

cdef bint ttt_is_terminal(const void* st) noexcept nogil:
    cdef const TTT* t = <const TTT*> st
    return t.num_moves == 9 or _winner(t) >= 0

cdef int ttt_legal(const void* st, int* out) noexcept nogil:
    cdef const TTT* t = <const TTT*> st
    if ttt_is_terminal(st):
        return 0
    cdef uint16_t empty = ~(t.stones[0] | t.stones[1]) & 0x1FF
    cdef int n = 0, i
    for i in range(9):
        if empty & (1 << i):
            out[n] = i
            n += 1
    return n

cdef void ttt_apply(void* st, int a) noexcept nogil:
    cdef TTT* t = <TTT*> st
    t.stones[t.num_moves & 1] |= <uint16_t> (1 << a)
    t.moves[t.num_moves] = <int8_t> a
    t.num_moves += 1

cdef void ttt_undo(void* st) noexcept nogil:
    cdef TTT* t = <TTT*> st
    t.num_moves -= 1
    t.stones[t.num_moves & 1] &= <uint16_t> ~(1 << t.moves[t.num_moves])

cdef int ttt_player(const void* st) noexcept nogil:
    if ttt_is_terminal(st):
        return TERMINAL_PLAYER
    return (<const TTT*> st).num_moves & 1

cdef uint64_t ttt_hash(const void* st) noexcept nogil:
    cdef const TTT* t = <const TTT*> st
    cdef uint64_t z = (<uint64_t> t.stones[0]) | ((<uint64_t> t.stones[1]) << 9)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)

cdef double ttt_returns0(const void* st) noexcept nogil:
    cdef int w = _winner(<const TTT*> st)
    if w < 0:
        return 0.0
    return 1.0 if w == 0 else -1.0

cdef CGame TTT_GAME
TTT_GAME.state_size = sizeof(TTT)
TTT_GAME.num_actions = 9
TTT_GAME.max_legal = 9
TTT_GAME.max_game_length = 9
TTT_GAME.legal_actions = ttt_legal
TTT_GAME.apply_action = ttt_apply
TTT_GAME.undo_action = ttt_undo
TTT_GAME.current_player = ttt_player
TTT_GAME.hash = ttt_hash
TTT_GAME.is_terminal = ttt_is_terminal
TTT_GAME.returns0 = ttt_returns0
TTT_GAME.rollout = NULL


cdef class TicTacToeState(CState):
    """A tic-tac-toe position. Serialised as the string of action digits played, e.g. ``"480"``."""
    cdef TTT s

    def __cinit__(self):
        memset(&self.s, 0, sizeof(TTT))
        self.data = &self.s
        self.cgame = &TTT_GAME

    def history(self):
        return [self.s.moves[i] for i in range(self.s.num_moves)]

    def observation(self):
        """float32 ``[3, 3, 3]``: the mover's stones, the opponent's, the mover's id; cell ``r * 3 + c``."""
        cdef int p = self.s.num_moves & 1
        out = np.empty((3, 3, 3), dtype=np.float32)
        cdef float[:, :, ::1] v = out
        cdef int own = self.s.stones[p], other = self.s.stones[1 - p], i
        for i in range(9):
            v[0, i // 3, i % 3] = (own >> i) & 1
            v[1, i // 3, i % 3] = (other >> i) & 1
            v[2, i // 3, i % 3] = p
        return out

    def action_to_string(self, int action):
        return f"{'xo'[self.s.num_moves & 1]}({action // 3},{action % 3})"

    def string_to_action(self, text):
        t = str(text).strip()
        digits = [c for c in t if c in _DIGITS]   # ASCII only: str.isdigit() takes '²' too
        if len(digits) == 1 and t in _DIGITS:
            a = int(t)
        elif len(digits) == 2:
            a = int(digits[0]) * 3 + int(digits[1])
        else:
            raise InvalidActionError(f"cannot read a tic-tac-toe move from {text!r}: give a cell 0-8 or 'row,col'")
        if not 0 <= a < 9:
            raise InvalidActionError(f"tic-tac-toe move {text!r} is off the board")
        if a not in self.legal_actions():
            raise IllegalActionError(f"illegal tic-tac-toe move {text!r} in position {self.serialize()!r}")
        return a

    def serialize(self):
        return "".join(str(m) for m in self.history())

    def board_string(self):
        rows = []
        for r in range(3):
            row = ""
            for c in range(3):
                i = r * 3 + c
                row += "x" if self.s.stones[0] >> i & 1 else ("o" if self.s.stones[1] >> i & 1 else ".")
            rows.append(row)
        return "\n".join(rows)

    def to_text(self):
        moves = " ".join(f"{'xo'[i & 1]}{m}" for i, m in enumerate(self.history()))
        return f"{self.board_string()}\nmoves: {moves or '(none)'}"

    def __repr__(self):
        return f"TicTacToeState({self.serialize()!r})"


class TicTacToeGame:
    """Tic-tac-toe: 2 players, 9 actions, observation planes ``[3, 3, 3]``."""

    name = "tictactoe"
    num_players = 2
    num_actions = 9
    observation_shape = (3, 3, 3)
    max_game_length = 9
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True

    def __init__(self):
        self.params = {}

    def new_initial_state(self):
        s = TicTacToeState()
        s.game = self
        return s

    def deserialize(self, text):
        s = self.new_initial_state()
        for ch in str(text).strip():
            if ch not in _DIGITS:
                raise InvalidStateError(f"tic-tac-toe move string {text!r}: {ch!r} is not a cell digit")
            a = int(ch)
            if a > 8 or a not in s.legal_actions():
                raise InvalidStateError(f"tic-tac-toe move string {text!r}: move {ch} is illegal")
            s.apply_action(a)
        return s

    def __repr__(self):
        return "TicTacToeGame()"

    def __reduce__(self):
        return (TicTacToeGame, ())
