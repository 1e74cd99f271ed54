# The C-level game interface that the search cores (mcts/) drive without Python.
#
# A game with a C interface keeps its whole position in one plain struct (no pointers), so a search
# copies a position with memcpy ("copy-make") and needs no allocation per node. The game fills one
# static CGame table of function pointers; every function is `noexcept nogil`.
from libc.stdint cimport uint64_t

cdef enum:
    TERMINAL_PLAYER = -4     # current_player() of a finished game (OpenSpiel's kTerminalPlayerId)

ctypedef struct CGame:
    int state_size           # bytes of the position struct; memcpy copies a position
    int num_actions          # size of the action space (actions are 0 .. num_actions - 1)
    int max_legal            # most legal actions any position can have (buffer size for legal_actions)
    int max_game_length      # most actions any game can last
    int (*legal_actions)(const void* state, int* out) noexcept nogil   # writes the legal actions, ascending; returns their count (0 when terminal)
    void (*apply_action)(void* state, int action) noexcept nogil       # plays a legal action (unchecked)
    void (*undo_action)(void* state) noexcept nogil                    # takes back the last action; NULL when the game has no undo
    int (*current_player)(const void* state) noexcept nogil            # 0 or 1, TERMINAL_PLAYER when the game is over
    uint64_t (*hash)(const void* state) noexcept nogil                 # 64-bit key of the position (same position, same key)
    bint (*is_terminal)(const void* state) noexcept nogil              # whether the game is over
    double (*returns0)(const void* state) noexcept nogil               # player 0's return of a finished game, in [-1, 1]
    double (*rollout)(void* state, uint64_t* rng) noexcept nogil       # plays uniformly random actions to the end, returns player 0's return; NULL: the generic one is used


cdef class CState:
    cdef const CGame* cgame  # the game's function table
    cdef void* data          # the position struct, owned by the subclass
    cdef public object game  # the Python Game that made this state

    cdef CState _new_like(self)                       # an uninitialised state of the same class and game
    cdef CState _from_data(self, const void* data)    # a new state holding a copy of `data`


cdef uint64_t splitmix64(uint64_t* x) noexcept nogil          # fast 64-bit PRNG step (seeded by any value)
cdef double generic_rollout(const CGame* g, void* state, uint64_t* rng) noexcept nogil  # random playout through legal_actions/apply_action; player 0's return
cdef double cgame_rollout(const CGame* g, void* state, uint64_t* rng) noexcept nogil    # g.rollout when set, else generic_rollout
