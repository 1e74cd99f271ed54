# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Misère Nim in Cython against the C game interface (``games/_cgame.pxd``): the worked example of
docs/games.md. The same rules and actions as ``nim_py.py`` (and OpenSpiel's ``nim``).

Three steps: (1) the whole position in one plain struct, (2) the ``noexcept nogil`` functions of the
``CGame`` table over that struct, (3) a ``CState`` subclass for the Python verbs the table does not
cover (text, observation, serialisation). ``mcts.MCTS`` then runs playouts and tree walks in C.
"""
from libc.stdint cimport int8_t, int16_t, uint64_t
from libc.string cimport memset

import numpy as np

from games._cgame cimport CGame, CState, TERMINAL_PLAYER
from games import IllegalActionError, InvalidActionError, InvalidStateError

DEF MAX_PILES = 8
DEF MAX_PILE = 15
DEF MAX_MOVES = MAX_PILES * MAX_PILE

# (1) the position: no pointers, so memcpy copies it
ctypedef struct Nim:
    int8_t piles[MAX_PILES]        # objects left in each pile
    int16_t moves[MAX_MOVES]       # actions played
    int16_t num_moves
    int8_t num_piles
    int8_t max_pile                # largest starting pile: actions are take * num_piles + pile, take < max_pile


# (2) the C interface
cdef bint nim_is_terminal(const void* st) noexcept nogil:
    cdef const Nim* s = <const Nim*> st
    cdef int p
    for p in range(s.num_piles):
        if s.piles[p] > 0:
            return False
    return True

cdef int nim_legal(const void* st, int* out) noexcept nogil:
    cdef const Nim* s = <const Nim*> st
    cdef int n = 0, t, p
    for t in range(s.max_pile):          # ascending: take-major, as OpenSpiel numbers them
        for p in range(s.num_piles):
            if s.piles[p] > t:
                out[n] = t * s.num_piles + p
                n += 1
    return n

cdef void nim_apply(void* st, int action) noexcept nogil:
    cdef Nim* s = <Nim*> st
    s.piles[action % s.num_piles] -= <int8_t> (action // s.num_piles + 1)
    s.moves[s.num_moves] = <int16_t> action
    s.num_moves += 1

cdef void nim_undo(void* st) noexcept nogil:
    cdef Nim* s = <Nim*> st
    s.num_moves -= 1
    cdef int action = s.moves[s.num_moves]
    s.piles[action % s.num_piles] += <int8_t> (action // s.num_piles + 1)

cdef int nim_player(const void* st) noexcept nogil:
    if nim_is_terminal(st):
        return TERMINAL_PLAYER
    return (<const Nim*> st).num_moves & 1

cdef uint64_t nim_hash(const void* st) noexcept nogil:
    cdef const Nim* s = <const Nim*> st
    cdef uint64_t key = s.num_moves & 1
    cdef int p
    for p in range(s.num_piles):
        key = key * 64 + <uint64_t> s.piles[p]
    return key * 0x9E3779B97F4A7C15ULL

cdef double nim_returns0(const void* st) noexcept nogil:
    # misère: whoever took the last object (the player who moved last) loses
    if not nim_is_terminal(st):
        return 0.0
    return -1.0 if ((<const Nim*> st).num_moves - 1) % 2 == 0 else 1.0


# (3) the Python side
cdef class NimCState(CState):
    """A Nim position with a C interface."""
    cdef Nim s

    def __cinit__(self):
        memset(&self.s, 0, sizeof(Nim))
        self.data = &self.s

    cdef CState _new_like(self):
        cdef NimCState c = NimCState.__new__(NimCState)
        c.game = self.game
        c.cgame = self.cgame
        return c

    def __reduce__(self):
        return (_restore, (self.game, self.serialize()))

    def history(self):
        return [self.s.moves[i] for i in range(self.s.num_moves)]

    @property
    def piles(self):
        return [self.s.piles[p] for p in range(self.s.num_piles)]

    def observation(self):
        out = np.zeros(self.game.observation_shape, dtype=np.float32)
        out[np.arange(self.s.num_piles), self.piles] = 1.0
        return out

    def action_to_string(self, int action):
        return f"pile:{action % self.s.num_piles + 1}, take:{action // self.s.num_piles + 1};"

    def string_to_action(self, text):
        for a in self.legal_actions():
            if self.action_to_string(a) == str(text).strip():
                return a
        raise InvalidActionError(f"{text!r} is not a legal Nim move with piles {self.piles}")

    def serialize(self):
        return " ".join(map(str, self.history()))

    def to_text(self):
        status = "game over" if self.is_terminal() else f"player {self.current_player()} to move"
        return f"piles: {' '.join(map(str, self.piles))}\n{status}\nmoves: {self.serialize() or '(none)'}"


def _restore(game, text):
    return game.deserialize(text)


cdef class NimCGame:
    """Misère Nim with up to 8 piles of up to 15 objects; owns the ``CGame`` table of its states."""
    cdef CGame table
    cdef readonly list start
    cdef readonly dict params
    cdef readonly int num_piles, num_actions, max_game_length
    cdef readonly tuple observation_shape
    name = "nim-c"
    num_players = 2
    has_chance = False
    is_simultaneous = False
    is_zero_sum = True

    def __init__(self, piles=(1, 3, 5, 7)):
        self.start = [int(p) for p in piles]
        if not 1 <= len(self.start) <= MAX_PILES or min(self.start) < 0 or max(self.start) > MAX_PILE:
            raise ValueError(f"Nim piles: 1 to {MAX_PILES} sizes in [0, {MAX_PILE}], got {piles!r}")
        self.params = {"piles": list(self.start)}
        self.num_piles = len(self.start)
        self.num_actions = self.num_piles * max(self.start)
        self.max_game_length = sum(self.start)
        self.observation_shape = (self.num_piles, max(self.start) + 1)
        self.table.state_size = sizeof(Nim)
        self.table.num_actions = self.num_actions
        self.table.max_legal = self.num_actions
        self.table.max_game_length = self.max_game_length
        self.table.legal_actions = nim_legal
        self.table.apply_action = nim_apply
        self.table.undo_action = nim_undo
        self.table.current_player = nim_player
        self.table.hash = nim_hash
        self.table.is_terminal = nim_is_terminal
        self.table.returns0 = nim_returns0
        self.table.rollout = NULL          # the generic playout through legal_actions / apply_action

    def new_initial_state(self):
        cdef NimCState s = NimCState()
        cdef int p
        s.game = self
        s.cgame = &self.table
        s.s.num_piles = self.num_piles
        s.s.max_pile = max(self.start)
        for p in range(self.num_piles):
            s.s.piles[p] = self.start[p]
        return s

    def deserialize(self, text):
        s = self.new_initial_state()
        for token in str(text).split():
            try:
                s.apply_action_checked(int(token))
            except (ValueError, IllegalActionError) as exc:
                raise InvalidStateError(f"Nim move string {text!r}: {exc}") from exc
        return s

    def __reduce__(self):
        return (NimCGame, (tuple(self.start),))
