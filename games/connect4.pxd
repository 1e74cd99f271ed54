# Connect Four 7x6 on bitboards, in the layout of Pascal Pons' solver, shared with solvers (cimport it).
#
# Column c owns bits 7c .. 7c+5 (bottom to top) plus a sentinel bit 7c+6 that is always zero, so that
# `mask + bottom` carries into the sentinel instead of the next column. `current` holds the stones of the
# player to move and `mask` all stones; the opponent's stones are `current ^ mask`. `current + mask` is a
# unique key of the position (Pons). Actions are columns 0..6 (Pons' move digits are action + 1).
from libc.stdint cimport uint64_t, int8_t

from games._cgame cimport CState

cdef enum:
    C4_WIDTH = 7        # columns
    C4_HEIGHT = 6       # rows
    C4_CELLS = 42       # C4_WIDTH * C4_HEIGHT
    C4_NO_WINNER = -1   # value of C4.winner while nobody has four in a row

ctypedef struct C4:
    uint64_t current    # stones of the player to move
    uint64_t mask       # all stones
    int8_t moves[42]    # columns played, in order
    int8_t num_moves    # stones on the board; the player to move is num_moves & 1
    int8_t winner       # 0 or 1 once a player has four in a row, else C4_NO_WINNER


cdef inline uint64_t c4_bottom_mask() noexcept nogil:
    """The bottom cell of every column."""
    return 0x40810204081ULL

cdef inline uint64_t c4_board_mask() noexcept nogil:
    """Every cell of the board (without the sentinel row)."""
    return 0xFDFBF7EFDFBFULL


cdef inline uint64_t c4_bottom_mask_col(int col) noexcept nogil:
    """The bottom cell of column `col`."""
    return (<uint64_t> 1) << (col * 7)

cdef inline uint64_t c4_top_mask_col(int col) noexcept nogil:
    """The top (6th) cell of column `col`."""
    return (<uint64_t> 1) << (5 + col * 7)

cdef inline uint64_t c4_column_mask(int col) noexcept nogil:
    """The six cells of column `col`."""
    return (<uint64_t> 0x3F) << (col * 7)

cdef extern from *:
    int __builtin_popcountll(unsigned long long x) nogil   # gcc / clang; one POPCNT with -mpopcnt

cdef inline int c4_popcount(uint64_t x) noexcept nogil:
    """Number of set bits."""
    return __builtin_popcountll(x)

cdef inline uint64_t c4_key(const C4* p) noexcept nogil:
    """Pons' unique key of the position (fits in 49 bits)."""
    return p.current + p.mask

cdef inline bint c4_can_play(const C4* p, int col) noexcept nogil:
    """Whether column `col` has room."""
    return (p.mask & c4_top_mask_col(col)) == 0

cdef inline bint c4_alignment(uint64_t pos) noexcept nogil:
    """Whether the stones `pos` contain four in a row (any direction)."""
    cdef uint64_t m
    m = pos & (pos >> 7)            # horizontal
    if m & (m >> 14):
        return True
    m = pos & (pos >> 6)            # diagonal down-right
    if m & (m >> 12):
        return True
    m = pos & (pos >> 8)            # diagonal up-right
    if m & (m >> 16):
        return True
    m = pos & (pos >> 1)            # vertical
    if m & (m >> 2):
        return True
    return False

cdef inline bint c4_is_winning_move(const C4* p, int col) noexcept nogil:
    """Whether dropping a stone of the player to move in column `col` (playable) makes four."""
    cdef uint64_t pos = p.current | ((p.mask + c4_bottom_mask_col(col)) & c4_column_mask(col))
    return c4_alignment(pos)

cdef inline void c4_play(C4* p, int col) noexcept nogil:
    """Solver's make: drops the mover's stone in `col` (playable, unchecked) and passes the turn.
    Updates current/mask/num_moves only: neither `moves` nor `winner` (see c4_play_move)."""
    p.current ^= p.mask
    p.mask |= p.mask + c4_bottom_mask_col(col)
    p.num_moves += 1

cdef inline void c4_play_move(C4* p, int col) noexcept nogil:
    """Full make: as c4_play, and records the move and the winner (what the C game interface uses)."""
    if c4_is_winning_move(p, col):
        p.winner = p.num_moves & 1
    p.moves[p.num_moves] = <int8_t> col
    c4_play(p, col)

cdef inline void c4_undo_move(C4* p) noexcept nogil:
    """Takes back the last c4_play_move (there must be one)."""
    cdef int col = p.moves[p.num_moves - 1]
    cdef uint64_t column = p.mask & c4_column_mask(col)
    # the column's stones are contiguous from the bottom: adding the bottom bit carries just above
    # the highest stone, the last one dropped there
    p.mask ^= (column + c4_bottom_mask_col(col)) >> 1
    p.current ^= p.mask
    p.num_moves -= 1
    p.winner = C4_NO_WINNER

cdef inline uint64_t c4_possible(const C4* p) noexcept nogil:
    """The playable cell of each non-full column."""
    return (p.mask + c4_bottom_mask()) & c4_board_mask()

cdef inline uint64_t _c4_line_threats(uint64_t position, int s) noexcept nogil:
    """Cells that complete three stones of `position` along the direction of shift `s`."""
    cdef uint64_t p = (position << s) & (position << (2 * s))
    cdef uint64_t r = p & (position << (3 * s))
    r |= p & (position >> s)
    p = (position >> s) & (position >> (2 * s))
    r |= p & (position << s)
    r |= p & (position >> (3 * s))
    return r

cdef inline uint64_t c4_winning_cells(uint64_t position, uint64_t mask) noexcept nogil:
    """Empty cells where a stone would complete a four of `position` (Pons' compute_winning_position)."""
    cdef uint64_t r = (position << 1) & (position << 2) & (position << 3)   # vertical
    r |= _c4_line_threats(position, 7)   # horizontal
    r |= _c4_line_threats(position, 6)   # diagonal down-right
    r |= _c4_line_threats(position, 8)   # diagonal up-right
    return r & (c4_board_mask() ^ mask)

cdef inline uint64_t c4_winning_positions(const C4* p) noexcept nogil:
    """Empty cells that would give the player to move four in a row."""
    return c4_winning_cells(p.current, p.mask)

cdef inline uint64_t c4_opponent_winning_positions(const C4* p) noexcept nogil:
    """Empty cells that would give the opponent four in a row."""
    return c4_winning_cells(p.current ^ p.mask, p.mask)

cdef inline uint64_t c4_possible_non_losing_moves(const C4* p) noexcept nogil:
    """Playable cells that do not let the opponent win at once (Pons); 0 when every move loses.
    Assumes the mover has no immediate win."""
    cdef uint64_t possible = c4_possible(p)
    cdef uint64_t opp = c4_opponent_winning_positions(p)
    cdef uint64_t forced = possible & opp
    if forced:
        if forced & (forced - 1):
            return 0            # two threats at once: lost
        possible = forced
    return possible & ~(opp >> 1)   # never play just below an opponent's winning cell


cdef class Connect4State(CState):
    cdef C4 s   # the position
