# Exact Connect Four solver on bitboards (the method of Pascal Pons' solver).
#
# Layout: 7 bits per column (6 cells from the bottom + 1 sentinel bit), column c at bits 7c .. 7c+5.
from libc.stdint cimport uint64_t

from games.connect4 cimport C4_WIDTH, C4_HEIGHT, C4_CELLS   # the board's size, as the game has it

cdef enum:
    C4_MIN_SCORE = -18     # lowest score of a non-terminal position: -(42 / 2) + 3
    C4_MAX_SCORE = 18      # highest score: (42 + 1) / 2 - 3

ctypedef struct C4Pos:
    uint64_t current       # stones of the player to move
    uint64_t mask          # all stones
    int moves              # stones on the board

# The solver's own helpers on C4Pos (cdef in _c4solver.pyx); the struct-free bit helpers are in
# games/connect4.pxd.
cdef bint c4_can_play(const C4Pos* p, int col) noexcept nogil     # whether the column has room
cdef void c4_play_col(C4Pos* p, int col) noexcept nogil           # drops a stone of the mover in a column (unchecked)
cdef bint c4_is_winning_col(const C4Pos* p, int col) noexcept nogil  # whether dropping in `col` wins at once
cdef uint64_t c4_possible(const C4Pos* p) noexcept nogil         # the playable cell of each non-full column
cdef bint c4_last_move_won(const C4Pos* p) noexcept nogil         # whether the player who just moved has a four


cdef class Connect4Solver:
    cdef uint64_t* table         # transposition table: (key << 8) | stored bound, 0 = empty
    cdef uint64_t table_mask     # number of entries - 1 (a power of two)
    cdef int table_bits          # log2 of the number of entries
    cdef public long long nodes  # nodes visited since the last reset()

    cdef uint64_t _index(self, uint64_t key) noexcept nogil                     # table slot of a position key
    cdef int _negamax(self, const C4Pos* p, int alpha, int beta) noexcept nogil   # null/narrow-window search, no immediate win for the mover
    cdef int _solve(self, const C4Pos* p, bint weak) noexcept nogil               # the window-narrowing loop
