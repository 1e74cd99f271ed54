"""Exact Connect Four solver: bitboards, null-window negamax and a transposition table.

The method is the one Pascal Pons describes for his solver (http://blog.gamesolver.org): columns
tried from the centre out and sorted by the number of winning cells a move creates; the mover's
moves that hand the opponent an immediate win are never searched (the "non-losing moves" mask); a
transposition table of bounds; and the exact score found by a sequence of null-window searches
that narrow ``[min, max]``.

Scores follow Pons' convention (the second column of ``shared/data/connect4/Test_*``): 0 for a draw;
positive when the side to move wins, ``(43 - n) // 2`` when it can win with its stone number ``n``
counted over both players (so a faster win scores higher); negative for a loss, the same way.

Everything below the Python wrappers runs in C without the GIL.
"""
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

# Pons' bitboard helpers that do not depend on the position struct are the game's (connect4.pxd)
from games.connect4 cimport (c4_alignment, c4_board_mask, c4_bottom_mask, c4_bottom_mask_col, c4_column_mask,
                             c4_popcount, c4_top_mask_col, c4_winning_cells)

cdef int[7] COLUMN_ORDER = [3, 2, 4, 1, 5, 0, 6]   # centre first: central columns take part in more fours


class UnsolvableError(ValueError):
    """A position cannot be solved exactly (bad moves, a finished game, or a game too large)."""


cdef inline bint c4_can_play(const C4Pos* p, int col) noexcept nogil:
    return (p.mask & c4_top_mask_col(col)) == 0

cdef inline void c4_play_bit(C4Pos* p, uint64_t move) noexcept nogil:
    # the mover's stones become the opponent's view: current ^= mask turns "stones of the player
    # to move" over to the other player, then the new stone joins the mask (and so the old mover)
    p.current ^= p.mask
    p.mask |= move
    p.moves += 1

cdef inline void c4_play_col(C4Pos* p, int col) noexcept nogil:
    c4_play_bit(p, (p.mask + c4_bottom_mask_col(col)) & c4_column_mask(col))

cdef inline uint64_t c4_possible(const C4Pos* p) noexcept nogil:
    return (p.mask + c4_bottom_mask()) & c4_board_mask()

cdef inline bint c4_is_winning_col(const C4Pos* p, int col) noexcept nogil:
    return (c4_winning_cells(p.current, p.mask) & c4_possible(p) & c4_column_mask(col)) != 0

cdef inline bint _can_win_next(const C4Pos* p) noexcept nogil:
    return (c4_winning_cells(p.current, p.mask) & c4_possible(p)) != 0

cdef bint c4_last_move_won(const C4Pos* p) noexcept nogil:
    return c4_alignment(p.current ^ p.mask)

cdef inline uint64_t _non_losing_moves(const C4Pos* p) noexcept nogil:
    # the mover must block an opponent's immediate win; with two of them it has lost; and it must
    # not play right below a cell where the opponent would win
    cdef uint64_t possible = c4_possible(p)
    cdef uint64_t opp_win = c4_winning_cells(p.current ^ p.mask, p.mask)
    cdef uint64_t forced = possible & opp_win
    if forced:
        if forced & (forced - 1):
            return 0
        possible = forced
    return possible & ~(opp_win >> 1)


# Stored bounds, one byte: an upper bound u as u + 64 (below 128), a lower bound l as l + 192.
cdef enum:
    UPPER_OFFSET = 64
    LOWER_OFFSET = 192


cdef class Connect4Solver:
    """Exact Connect Four solver with its own transposition table (kept between positions: the
    bounds it stores hold for a position whatever the root).

    Args:
        table_bits: log2 of the number of table entries (8 bytes each); 23 gives 64 MiB.
    """

    def __cinit__(self, int table_bits=23):
        if not 10 <= table_bits <= 30:
            raise ValueError(f"table_bits must be in [10, 30], got {table_bits!r}")
        self.table_bits = table_bits
        self.table_mask = ((<uint64_t> 1) << table_bits) - 1
        self.table = <uint64_t*> calloc(<size_t> 1 << table_bits, sizeof(uint64_t))
        if self.table == NULL:
            raise MemoryError(f"cannot allocate a Connect Four table of 2**{table_bits} entries")
        self.nodes = 0

    def __dealloc__(self):
        free(self.table)

    def reset(self):
        """Empties the transposition table and the node counter."""
        memset(self.table, 0, (<size_t> 1 << self.table_bits) * sizeof(uint64_t))
        self.nodes = 0

    @property
    def table_bytes(self):
        """Size of the transposition table in bytes."""
        return (1 << self.table_bits) * 8

    cdef inline uint64_t _index(self, uint64_t key) noexcept nogil:
        return (key * 0x9E3779B97F4A7C15ULL) >> (64 - self.table_bits)

    cdef int _negamax(self, const C4Pos* p, int alpha, int beta) noexcept nogil:
        cdef uint64_t nxt, key, entry, idx, move
        cdef int lo, hi, v, score, i, j, n = 0, col
        cdef uint64_t[7] moves
        cdef int[7] scores
        cdef C4Pos child
        self.nodes += 1
        nxt = _non_losing_moves(p)
        if nxt == 0:
            return -(C4_CELLS - p.moves) // 2          # every move lets the opponent win next
        if p.moves >= C4_CELLS - 2:
            return 0                                   # the last two stones cannot make a four
        lo = -(C4_CELLS - 2 - p.moves) // 2            # the opponent cannot win with its next stone
        if alpha < lo:
            alpha = lo
            if alpha >= beta:
                return alpha
        hi = (C4_CELLS - 1 - p.moves) // 2             # we cannot win with this stone
        key = p.current + p.mask
        idx = self._index(key)
        entry = self.table[idx]
        if entry != 0 and (entry >> 8) == key:
            v = <int> (entry & 0xFF)
            if v >= 128:
                lo = v - LOWER_OFFSET
                if alpha < lo:
                    alpha = lo
                    if alpha >= beta:
                        return alpha
            else:
                v -= UPPER_OFFSET
                if v < hi:
                    hi = v
        if beta > hi:
            beta = hi
            if alpha >= beta:
                return beta
        # moves sorted by how many winning cells they create; insertion from the edge columns in,
        # so that among equal scores the central column comes last and is taken first
        for i in range(6, -1, -1):
            col = COLUMN_ORDER[i]
            move = nxt & c4_column_mask(col)
            if move:
                score = c4_popcount(c4_winning_cells(p.current | move, p.mask))
                j = n
                while j > 0 and scores[j - 1] > score:
                    moves[j] = moves[j - 1]
                    scores[j] = scores[j - 1]
                    j -= 1
                moves[j] = move
                scores[j] = score
                n += 1
        for i in range(n - 1, -1, -1):
            child = p[0]
            c4_play_bit(&child, moves[i])
            score = -self._negamax(&child, -beta, -alpha)
            if score >= beta:
                self.table[idx] = (key << 8) | <uint64_t> (score + LOWER_OFFSET)
                return score
            if score > alpha:
                alpha = score
        self.table[idx] = (key << 8) | <uint64_t> (alpha + UPPER_OFFSET)
        return alpha

    cdef int _solve(self, const C4Pos* p, bint weak) noexcept nogil:
        cdef int lo, hi, med, r
        if _can_win_next(p):
            return (C4_CELLS + 1 - p.moves) // 2
        lo = -(C4_CELLS - p.moves) // 2
        hi = (C4_CELLS + 1 - p.moves) // 2
        if weak:
            lo = -1
            hi = 1
        while lo < hi:
            # probe near zero first: most positions are close to a draw in score
            med = lo + (hi - lo) // 2
            if med <= 0 and lo // 2 < med:
                med = lo // 2
            elif med >= 0 and hi // 2 > med:
                med = hi // 2
            r = self._negamax(p, med, med + 1)
            if r <= med:
                hi = r
            else:
                lo = r
        return lo

    def solve_bitboards(self, uint64_t current, uint64_t mask, int moves, bint weak=False):
        """Exact score of a position given as Pons' bitboards (no four on the board, not full).

        Args:
            current: stones of the player to move (7 bits per column, bottom bit first).
            mask: all stones.
            moves: number of stones.
            weak: only the sign (1 win, 0 draw, -1 loss for the player to move).
        """
        cdef C4Pos p
        cdef int r
        p.current = current
        p.mask = mask
        p.moves = moves
        with nogil:
            r = self._solve(&p, weak)
        if weak:
            return (r > 0) - (r < 0)
        return r

    def solve(self, position, bint weak=False):
        """Exact score of a position: a Pons move string (``"4453"``, columns 1-7), a list of
        columns 0-6, or a Connect Four state of ``games.connect4``.

        Args:
            position: the position (see above).
            weak: only win/draw/loss (1 / 0 / -1), faster.

        Returns:
            int: the score for the player to move (Pons' convention, see the module docstring).

        Raises:
            UnsolvableError: the moves are not a legal game, or the position is already over.
        """
        current, mask, moves, over = bitboards(position)
        if over is not None:
            score = over
        else:
            score = self.solve_bitboards(current, mask, moves, weak)
        if weak:
            return (score > 0) - (score < 0)
        return score

    def analyze(self, position, bint weak=False):
        """Score of each column for the player to move (None for a full column).

        Returns:
            list[int | None]: ``[7]``, the score of playing each column 0-6.
        """
        cdef C4Pos p, child
        current, mask, moves, over = bitboards(position)
        if over is not None:
            raise UnsolvableError(f"the game is over in {position!r}")
        p.current = current
        p.mask = mask
        p.moves = moves
        out = []
        for col in range(7):
            if not c4_can_play(&p, col):
                out.append(None)
            elif c4_is_winning_col(&p, col):
                out.append((C4_CELLS + 1 - p.moves) // 2 if not weak else 1)
            else:
                child = p
                c4_play_col(&child, col)
                if child.moves == C4_CELLS:
                    out.append(0)
                else:
                    out.append(-self.solve_bitboards(child.current, child.mask, child.moves, weak))
        return out


def bitboards(position):
    """``(current, mask, moves, over)`` of a position; ``over`` is the score when the game is over
    (for the player to move: negative after the opponent's four, 0 on a full board), else None.

    Args:
        position: a Pons move string (columns ``1``-``7``), a sequence of columns 0-6, or a state
            with ``history()`` (columns 0-6).

    Raises:
        UnsolvableError: a column is out of range or full, or a move is played after a four.
    """
    cdef C4Pos p
    if isinstance(position, str):
        text = position.strip()
        if not all(c in "1234567" for c in text):
            raise UnsolvableError(f"Connect Four move string {position!r}: use column digits 1-7")
        cols = [int(c) - 1 for c in text]
    elif hasattr(position, "history"):
        cols = list(position.history())
    else:
        cols = list(position)
    p.current = 0
    p.mask = 0
    p.moves = 0
    for i, c in enumerate(cols):
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < 7:
            raise UnsolvableError(f"Connect Four moves {position!r}: move {i + 1} ({c!r}) is not a column 0-6")
        if p.moves > 0 and c4_last_move_won(&p):
            raise UnsolvableError(f"Connect Four moves {position!r}: move {i + 1} is played after a four")
        if not c4_can_play(&p, c):
            raise UnsolvableError(f"Connect Four moves {position!r}: move {i + 1} is in full column {c}")
        c4_play_col(&p, c)
    over = None
    if p.moves > 0 and c4_last_move_won(&p):
        over = -((C4_CELLS + 2 - p.moves) // 2)
    elif p.moves == C4_CELLS:
        over = 0
    return p.current, p.mask, p.moves, over


_DEFAULT = None


def _default_solver():
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Connect4Solver()
    return _DEFAULT


def solve(position, weak=False):
    """Exact score of a Connect Four position with a shared module-level solver (see
    :meth:`Connect4Solver.solve`)."""
    return _default_solver().solve(position, weak)


def solve_moves(moves, weak=False):
    """Exact score of the position after a Pons move string such as ``"4453"`` (columns 1-7)."""
    if not isinstance(moves, str):
        raise UnsolvableError(f"solve_moves needs a string of column digits 1-7, got {moves!r}")
    return _default_solver().solve(moves, weak)
