"""Hex solver: depth-first proof-number search (DFPN) with virtual connections, fill-in and proof sets.

The search (Nagai's df-pn, with the 1 + epsilon threshold trick of Pawlewicz and Lew) runs in C
without the GIL over bitboards of at most 8 x 8 cells. Every position it meets is *evaluated* once,
and the result kept in the transposition table (keyed by a Zobrist hash of the stones and the side
to move), by this Hex knowledge, each rule sound (docs/hex.md gives the arguments):

* Fill-in: dead cells (a stone there is useless to both players, read from the ring of neighbours)
  and captured pairs are filled; the filled position has the same value, and moves to filled cells
  are never better than the best other move.
* H-search (Anshelevich) for each player on the filled position: points are the player's groups,
  the player's two edges and the empty cells; adjacent points (and bridged empty cells) are fully
  connected; the AND rule joins two full connections with disjoint carriers through a middle point
  (a full connection through a group or an edge, a semi connection keyed by an empty middle); the
  OR rule turns semi connections whose carriers have an empty intersection into a full connection.
  It finds bridges, the bridge to an edge, the ziggurat and their combinations.
* The player to move wins with a full or a semi connection between its edges; it loses when the
  opponent has a full one; otherwise it must play in the intersection of the carriers of the
  opponent's semi connections between the opponent's edges.
* Proof sets: a proven position keeps the cells its proof relies on; once one move is proven to
  lose, every other move outside the opponent's proof set loses too.

Entry point: :func:`solve_hex` (also ``mcts.AlphaBeta(HexGame).solve``).
"""
from __future__ import annotations

import threading
import time

from libc.stdint cimport int8_t, int16_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport abs, calloc, free
from libc.string cimport memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

from games._cgame cimport splitmix64
from mcts._c4solver import UnsolvableError
from mcts._limit import SearchResult

cdef extern from *:
    """
    static inline int hx_popcount(unsigned long long x) { return __builtin_popcountll(x); }
    static inline int hx_lowest(unsigned long long x) { return __builtin_ctzll(x); }
    #include <sched.h>
    static inline void hx_spin_lock(unsigned char* l) {
        int spins = 0;
        while (__atomic_test_and_set(l, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
                if (++spins > 256) { sched_yield(); spins = 0; }
            }
        }
    }
    static inline void hx_spin_unlock(unsigned char* l) { __atomic_clear(l, __ATOMIC_RELEASE); }
    static inline long long hx_atomic_add64(long long* p, long long v) { return __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
    static inline void hx_atomic_add16(unsigned short* p, int v) { __atomic_fetch_add(p, (unsigned short) v, __ATOMIC_RELAXED); }
    static inline int hx_atomic_load_int(int* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline unsigned short hx_atomic_load16(unsigned short* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline void hx_atomic_store_int(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
    """
    int hx_popcount(unsigned long long x) nogil
    int hx_lowest(unsigned long long x) nogil
    void hx_spin_lock(unsigned char* l) nogil
    void hx_spin_unlock(unsigned char* l) nogil
    long long hx_atomic_add64(long long* p, long long v) nogil
    void hx_atomic_add16(unsigned short* p, int v) nogil
    int hx_atomic_load_int(int* p) nogil
    unsigned short hx_atomic_load16(unsigned short* p) nogil
    void hx_atomic_store_int(int* p, int v) nogil

cdef enum:
    HX_RING_BLACK = -1       # off the board across black's edge (top or bottom)
    HX_RING_WHITE = -2       # off the board across white's edge (left or right)
    HX_RING_CORNER = -3      # off the board at a corner (belongs to no edge)
    HX_UNKNOWN = 0           # evaluation: the knowledge does not decide the position
    HX_WIN = 1               # the player to move wins
    HX_LOSS = 2              # the player to move loses

cdef uint32_t HX_INF = 0x3FFFFFFF        # a proven (dis)proof number
cdef uint32_t HX_MAX_FINITE = 0x3FFFFFFE  # sums of unproven numbers saturate here
cdef int HX_TIME_CHECK = 256             # evaluations between clock reads


# --- geometry -------------------------------------------------------------------------------------

cdef void hx_geometry(HxGeometry* g, int n) noexcept nogil:
    cdef int r, c, cell, j, rr, cc
    cdef int dr[6]
    cdef int dc[6]
    # circular order around (r, c); consecutive entries are adjacent to each other
    dr[0] = -1; dc[0] = 0
    dr[1] = -1; dc[1] = 1
    dr[2] = 0; dc[2] = 1
    dr[3] = 1; dc[3] = 0
    dr[4] = 1; dc[4] = -1
    dr[5] = 0; dc[5] = -1
    memset(g, 0, sizeof(HxGeometry))
    g.n = n
    for cell in range(n * n):
        r = cell // n
        c = cell - r * n
        g.all_cells |= (<uint64_t> 1) << cell
        if c != 0:
            g.not_first_col |= (<uint64_t> 1) << cell
        if c != n - 1:
            g.not_last_col |= (<uint64_t> 1) << cell
        if r == 0:
            g.edge_cells[0][0] |= (<uint64_t> 1) << cell
        if r == n - 1:
            g.edge_cells[0][1] |= (<uint64_t> 1) << cell
        if c == 0:
            g.edge_cells[1][0] |= (<uint64_t> 1) << cell
        if c == n - 1:
            g.edge_cells[1][1] |= (<uint64_t> 1) << cell
        for j in range(6):
            rr = r + dr[j]
            cc = c + dc[j]
            if 0 <= rr < n and 0 <= cc < n:
                g.ring[cell][j] = <int8_t> (rr * n + cc)
                g.neighbours[cell] |= (<uint64_t> 1) << (rr * n + cc)
            elif 0 <= cc < n:
                g.ring[cell][j] = HX_RING_BLACK
            elif 0 <= rr < n:
                g.ring[cell][j] = HX_RING_WHITE
            else:
                g.ring[cell][j] = HX_RING_CORNER
    cdef int a, b, k
    cdef uint64_t common
    for cell in range(n * n):
        for j in range(6):
            a = g.ring[cell][j]
            if a == HX_RING_BLACK:
                g.ring_const[cell] |= HX_BLACK << (2 * j)
            elif a == HX_RING_WHITE:
                g.ring_const[cell] |= HX_WHITE << (2 * j)
            elif a == HX_RING_CORNER:
                g.ring_const[cell] |= HX_NONE << (2 * j)
            else:
                for k in range(6):
                    if g.ring[a][k] == cell:
                        g.ring_back[cell][j] = <int8_t> k
    for cell in range(n * n):
        for j in range(6):
            g.bridge[cell][j] = -1
            a = g.ring[cell][j]
            b = g.ring[cell][(j + 1) % 6]
            if a >= 0 and b >= 0:
                common = g.neighbours[a] & g.neighbours[b] & ~((<uint64_t> 1) << cell)
                if common:
                    g.bridge[cell][j] = <int8_t> hx_lowest(common)
    hx_centre_order(g)


cdef void hx_centre_order(HxGeometry* g) noexcept nogil:
    # insertion sort by the distance from the centre of the rhombus (ties: row-major)
    cdef int n = g.n, i, j, cell, key
    cdef int dist[HX_CELLS]
    cdef int dr, dc
    for cell in range(n * n):
        dr = 2 * (cell // n) - (n - 1)
        dc = 2 * (cell % n) - (n - 1)
        # hex distance of (dr, dc) in doubled coordinates: the rows shift by half a cell
        dist[cell] = max(abs(dr), abs(dc), abs(dr + dc))
        g.order[cell] = <int8_t> cell
    for i in range(1, n * n):
        cell = g.order[i]
        key = dist[cell]
        j = i - 1
        while j >= 0 and dist[g.order[j]] > key:
            g.order[j + 1] = g.order[j]
            j -= 1
        g.order[j + 1] = <int8_t> cell


cdef uint64_t hx_expand(const HxGeometry* g, uint64_t m) noexcept nogil:
    cdef int n = g.n
    cdef uint64_t out = ((m << 1) & g.not_first_col) | ((m >> 1) & g.not_last_col)
    out |= (m << n) | (m >> n)
    out |= ((m >> (n - 1)) & g.not_first_col) | ((m << (n - 1)) & g.not_last_col)
    return out & g.all_cells


# Ring codes: 2 bits per ring position j (bits 2j, 2j + 1): HX_EMPTY, HX_BLACK (a black stone or
# black's edge), HX_WHITE, HX_NONE (off the board at a corner: usable by neither player).
cdef enum:
    HX_EMPTY = 0
    HX_BLACK = 1
    HX_WHITE = 2
    HX_NONE = 3

cdef bint HX_DEAD[4096]   # whether a cell with this ring code is dead
cdef uint16_t HX_DEAD_IF[4096]  # bit 2j + colour - 1: ring position j is empty and a stone of colour there kills the cell


cdef bint hx_useless(int code, int colour) noexcept nogil:
    """Whether a stone of `colour` on a cell with ring `code` joins nothing not joined without it.

    The neighbours the colour can use are its stones and the empty ones. The stone is useless when
    every two of them are adjacent (consecutive in the ring) or joined through the colour's stones
    between them in the ring: then any path through the cell has a detour around it.
    """
    cdef int i, j, k, c
    cdef bint ok
    for i in range(6):
        c = (code >> (2 * i)) & 3
        if c != colour and c != HX_EMPTY:
            continue
        for j in range(i + 1, 6):
            c = (code >> (2 * j)) & 3
            if c != colour and c != HX_EMPTY:
                continue
            ok = True   # clockwise from i to j
            for k in range(i + 1, j):
                if (code >> (2 * k)) & 3 != colour:
                    ok = False
                    break
            if ok:
                continue
            ok = True   # the other way round
            k = (j + 1) % 6
            while k != i:
                if (code >> (2 * k)) & 3 != colour:
                    ok = False
                    break
                k = (k + 1) % 6
            if not ok:
                return False
    return True


cdef void hx_dead_table() noexcept nogil:
    # dead: useless to both players (a cell in no minimal winning set of either). The test reads
    # only the ring's stones, so it stays true as stones are added: a dead cell stays dead.
    cdef int code, j, colour, with_stone
    for code in range(4096):
        HX_DEAD[code] = hx_useless(code, HX_BLACK) and hx_useless(code, HX_WHITE)
    for code in range(4096):
        HX_DEAD_IF[code] = 0
        for j in range(6):
            if (code >> (2 * j)) & 3 != HX_EMPTY:
                continue
            for colour in range(HX_BLACK, HX_WHITE + 1):
                with_stone = (code & ~(3 << (2 * j))) | (colour << (2 * j))
                if HX_DEAD[with_stone]:
                    HX_DEAD_IF[code] |= 1 << (2 * j + colour - 1)

hx_dead_table()


cdef inline int hx_ring_code(const HxGeometry* g, uint64_t black, uint64_t white, int cell) noexcept nogil:
    cdef int code = g.ring_const[cell], j, v
    for j in range(6):
        v = g.ring[cell][j]
        if v >= 0:
            code |= <int> (((black >> v) & 1) | (((white >> v) & 1) << 1)) << (2 * j)
    return code


cdef inline int hx_with(int code, int j, int colour) noexcept nogil:
    """The ring code with position j holding `colour`."""
    return (code & ~(3 << (2 * j))) | (colour << (2 * j))


cdef uint64_t hx_dead_cells(const HxGeometry* g, uint64_t black, uint64_t white, uint64_t cells) noexcept nogil:
    cdef uint64_t dead = 0, m = cells
    cdef int cell
    while m:
        cell = hx_lowest(m)
        m &= m - 1
        if HX_DEAD[hx_ring_code(g, black, white, cell)]:
            dead |= (<uint64_t> 1) << cell
    return dead


cdef inline int hx_captured_partner(const HxGeometry* g, uint64_t black, uint64_t white, uint64_t empty, int cell,
                                    int code, int colour, int* got) noexcept nogil:
    """The empty neighbour y with which the empty `cell` (ring `code`) forms a captured pair: each of
    the two is dead once the other holds the colour. `colour` 0 tries black then white at each
    neighbour (`got`: the colour that captures); -1 when there is none."""
    cdef int j, y, k, ycode, c
    cdef unsigned int kills = HX_DEAD_IF[code]   # (position, colour) whose stone kills the cell
    if colour == HX_BLACK:
        kills &= 0x555
    elif colour == HX_WHITE:
        kills &= 0xAAA
    while kills:
        j = hx_lowest(kills)
        kills &= kills - 1
        c = (j & 1) + 1
        j >>= 1
        y = g.ring[cell][j]
        if y < 0 or not (empty >> y) & 1:
            continue
        k = g.ring_back[cell][j]
        ycode = hx_ring_code(g, black, white, y)
        if HX_DEAD[hx_with(ycode, k, c)]:
            got[0] = c
            return y
    return -1


cdef uint64_t hx_fill_cells(const HxGeometry* g, uint64_t* black, uint64_t* white, uint64_t todo,
                            int only) noexcept nogil:
    """Fills the dead cells and captured pairs among `todo`, then looks again near each fill (a
    cell's verdict reads its ring and, for a pair, its partner's ring, so only cells within two
    steps of a new stone can change). `only` 0: either colour, a dead cell taking the colour of most
    of its stone neighbours; HX_BLACK or HX_WHITE: that colour's dead cells and captured pairs only.
    Returns the cells filled."""
    cdef uint64_t b = black[0], w = white[0], empty = g.all_cells & ~black[0] & ~white[0], added = 0, bit, new
    cdef int cell, j, y, code, colour, nb, nw
    todo &= empty
    while todo:
        cell = hx_lowest(todo)
        todo &= todo - 1
        bit = (<uint64_t> 1) << cell
        if not (empty & bit):
            continue
        code = hx_ring_code(g, b, w, cell)
        new = 0
        if HX_DEAD[code]:
            new = bit
            colour = only
            if only == 0:
                nb = 0
                nw = 0
                for j in range(6):
                    nb += ((code >> (2 * j)) & 3) == HX_BLACK
                    nw += ((code >> (2 * j)) & 3) == HX_WHITE
                colour = HX_BLACK if nb >= nw else HX_WHITE
        else:
            y = hx_captured_partner(g, b, w, empty, cell, code, only, &colour)
            if y >= 0:
                new = bit | ((<uint64_t> 1) << y)
        if new:
            if colour == HX_BLACK:
                b |= new
            else:
                w |= new
            empty &= ~new
            added |= new
            todo |= hx_expand(g, hx_expand(g, new) | new) & empty
    black[0] = b
    white[0] = w
    return added


cdef inline void hx_fill(const HxGeometry* g, uint64_t* black, uint64_t* white) noexcept nogil:
    """Fills dead and captured cells (value-preserving), one at a time, until none is left.

    Dead (hx_useless for both colours): filled with the colour of most of its stone neighbours
    (either colour keeps the value). Captured pair: adjacent empty x, y such that x is dead once y
    is the player's, and y dead once x is the player's; the player answers a stone on one by the
    other, leaving the intruder dead, so both can be filled with the player's colour.
    """
    hx_fill_cells(g, black, white, g.all_cells, 0)


cdef inline uint64_t hx_own_fill(const HxGeometry* g, uint64_t black, uint64_t white, int player,
                                 uint64_t seed) noexcept nogil:
    """The cells `player` may fill for itself once its stones `seed` stand (they are in `black` /
    `white` already): dead cells and the player's captured pairs, near each new stone.

    Only the player's colour is added, so each step's test (the ring's stones) stays true whatever
    further stones that player gets: the set is monotone in the player's stones.
    """
    return hx_fill_cells(g, &black, &white, hx_expand(g, hx_expand(g, seed) | seed),
                         HX_BLACK if player == 0 else HX_WHITE)


cdef uint64_t hx_inferior(const HxGeometry* g, uint64_t black, uint64_t white, int to_move, uint64_t moves,
                         uint64_t* relied_on) noexcept nogil:
    """The moves left after dropping inferior ones, dominated and vulnerable (`black`, `white`: a
    filled position).

    A move y of the player to move dominates a move x when, with the player's stone on y, x
    becomes a cell the player may fill for itself (hx_own_fill: dead, or one of its captured
    pairs): the position after y then has the value of the one with both stones, which is at
    least as good for the player as the one after x alone (an extra stone never hurts in Hex). So
    x can be dropped while y stays. Cells are taken from the centre out; a dropped cell never
    drops others, so every dropped move has a chain of dominators ending at a kept one. The
    relation reads only rings and is monotone in the player's stones, so it still holds when the
    player (the loser, when the position is lost) holds more stones outside the proof set;
    `relied_on` gets the cells the dropping relies on, for the proof set: the kept moves that
    dropped something and the killers of the vulnerable moves.
    """
    cdef uint64_t kept = moves, bit, added, m, empty = g.all_cells & ~black & ~white
    cdef uint64_t dominators = 0, killers = 0
    cdef int i, j, y, cell, code, their = HX_WHITE if to_move == 0 else HX_BLACK
    relied_on[0] = 0
    if hx_popcount(moves) < 2:
        return moves
    for i in range(g.n * g.n):
        cell = g.order[i]
        bit = (<uint64_t> 1) << cell
        if not (kept & bit):
            continue
        if to_move == 0:
            added = hx_own_fill(g, black | bit, white, 0, bit)
        else:
            added = hx_own_fill(g, black, white | bit, 1, bit)
        added &= kept & ~bit
        if added:
            kept &= ~added
            dominators |= bit
    # Vulnerable moves: x such that an opponent's stone on an empty neighbour y (the killer) makes
    # x dead. Whenever the position is won, some winning move is not vulnerable (each vulnerable
    # winning move x, answered by y, leaves x dead and a winning move in a position with more
    # opponent stones, so such a chain ends at a move that is not vulnerable; docs/hex.md). The
    # dominators stay (the dominated moves lean on them), and the killers join the proof set (a
    # loser's stone there would spoil the kill).
    m = kept & ~dominators
    while m:
        cell = hx_lowest(m)
        m &= m - 1
        code = hx_ring_code(g, black, white, cell)
        for j in range(6):
            y = g.ring[cell][j]
            if y >= 0 and (empty >> y) & 1 and HX_DEAD[hx_with(code, j, their)]:
                kept &= ~((<uint64_t> 1) << cell)
                killers |= (<uint64_t> 1) << y
                break
    relied_on[0] = dominators | killers
    return kept


# --- H-search -------------------------------------------------------------------------------------

cdef inline int hx_pair(int a, int b) noexcept nogil:
    if a > b:
        return b * HX_POINTS + a
    return a * HX_POINTS + b


cdef inline uint64_t hx_point_bit(const HxConnections* h, int p) noexcept nogil:
    # the cell of an empty point (carriers never hold an endpoint); 0 for a group or an edge
    if p >= HX_CELLS:
        return 0
    return ((<uint64_t> 1) << p) & h.empty_cells


cdef inline void hx_mark_partner(HxConnections* h, int a, int b) noexcept nogil:
    if b >= HX_CELLS:
        h.partner_edges[a] |= <uint8_t> (1 << (b - HX_CELLS))
    else:
        h.partner_cells[a] |= (<uint64_t> 1) << b


cdef inline void hx_queue_push(HxConnections* h, int a, int b, uint64_t carrier) noexcept nogil:
    """Queues a new full connection for the AND rule, in the bucket of its carrier's size."""
    cdef int idx = h.queue_tail, size = hx_popcount(carrier)
    if idx >= HX_QUEUE:
        return
    h.queue_tail += 1
    h.queue_a[idx] = <int16_t> a
    h.queue_b[idx] = <int16_t> b
    h.queue_c[idx] = carrier
    h.queue_next[idx] = -1
    if h.bucket_tail[size] >= 0:
        h.queue_next[h.bucket_tail[size]] = idx
    else:
        h.bucket_head[size] = idx
    h.bucket_tail[size] = idx
    if size < h.min_bucket:
        h.min_bucket = size


cdef inline int hx_queue_pop(HxConnections* h) noexcept nogil:
    """The pending full connection with the smallest carrier (first in, first out among equals); -1: none."""
    cdef int idx
    while h.min_bucket <= HX_CELLS and h.bucket_head[h.min_bucket] < 0:
        h.min_bucket += 1
    if h.min_bucket > HX_CELLS:
        return -1
    idx = h.bucket_head[h.min_bucket]
    h.bucket_head[h.min_bucket] = h.queue_next[idx]
    if h.queue_next[idx] < 0:
        h.bucket_tail[h.min_bucket] = -1
    return idx


cdef inline bint hx_add_vc(HxConnections* h, int a, int b, uint64_t carrier) noexcept nogil:
    """Stores a full connection unless a stored one has a subset carrier; queues it for the AND rule."""
    cdef int i = hx_pair(a, b), k, j, n, worst
    cdef uint64_t old
    if hx_point_bit(h, a) and hx_point_bit(h, b) and hx_popcount(carrier) > h.empty_pair_max:
        return False
    n = h.num_vc[i]
    for k in range(n):
        if (h.vc[i][k] & carrier) == h.vc[i][k]:
            return False
    j = 0
    for k in range(n):
        old = h.vc[i][k]
        if (old & carrier) != carrier:
            h.vc[i][j] = old
            j += 1
    n = j
    if n == HX_KEEP_VC:
        worst = 0
        for k in range(1, n):
            if hx_popcount(h.vc[i][k]) > hx_popcount(h.vc[i][worst]):
                worst = k
        if hx_popcount(h.vc[i][worst]) <= hx_popcount(carrier):
            h.num_vc[i] = <uint8_t> n
            return False
        h.vc[i][worst] = carrier
    else:
        h.vc[i][n] = carrier
        n += 1
    h.num_vc[i] = <uint8_t> n
    hx_mark_partner(h, a, b)
    hx_mark_partner(h, b, a)
    hx_queue_push(h, a, b, carrier)
    return True


cdef inline bint hx_has_vc(const HxConnections* h, int a, int b, uint64_t carrier) noexcept nogil:
    """Whether the full connection (a, b) with this carrier is still stored."""
    cdef int i = hx_pair(a, b), k
    for k in range(h.num_vc[i]):
        if h.vc[i][k] == carrier:
            return True
    return False


cdef bint hx_or_search(const uint64_t* carriers, int n, int start, uint64_t inter, uint64_t union,
                       int depth, uint64_t* out) noexcept nogil:
    """Looks for semi connections among carriers[start:] whose carriers meet `inter` in nothing."""
    cdef int k
    cdef uint64_t ni
    for k in range(start, n):
        ni = inter & carriers[k]
        if ni == inter:
            continue
        if ni == 0:
            out[0] = union | carriers[k]
            return True
        if depth > 1 and hx_or_search(carriers, n, k + 1, ni, union | carriers[k], depth - 1, out):
            return True
    return False


cdef void hx_add_sc(HxConnections* h, int a, int b, uint64_t carrier, int key) noexcept nogil:
    """Stores a semi connection (key included in the carrier), then tries the OR rule with it."""
    cdef int i = hx_pair(a, b), k, j, n, worst
    cdef uint64_t old, joined, common
    if hx_point_bit(h, a) and hx_point_bit(h, b) and hx_popcount(carrier) > h.empty_pair_max + 1:
        return
    for k in range(h.num_vc[i]):
        if (h.vc[i][k] & carrier) == h.vc[i][k]:
            return
    n = h.num_sc[i]
    for k in range(n):
        if (h.sc[i][k] & carrier) == h.sc[i][k]:
            return
    j = 0
    common = carrier
    for k in range(n):
        old = h.sc[i][k]
        if (old & carrier) != carrier:
            h.sc[i][j] = old
            h.sc_key[i][j] = h.sc_key[i][k]
            common &= old
            j += 1
    n = j
    # the OR rule over the stored ones and the new one (none can help while a cell lies in all)
    if common == 0 and hx_or_search(&h.sc[i][0], n, 0, carrier, carrier, HX_OR_DEPTH - 1, &joined):
        h.num_sc[i] = <uint8_t> n
        hx_add_vc(h, a, b, joined)
        return
    if n == HX_KEEP_SC:
        worst = 0
        for k in range(1, n):
            if hx_popcount(h.sc[i][k]) > hx_popcount(h.sc[i][worst]):
                worst = k
        if hx_popcount(h.sc[i][worst]) > hx_popcount(carrier):
            h.sc[i][worst] = carrier
            h.sc_key[i][worst] = <int8_t> key
    else:
        h.sc[i][n] = carrier
        h.sc_key[i][n] = <int8_t> key
        n += 1
    h.num_sc[i] = <uint8_t> n


cdef void hx_and_rule(HxConnections* h, int x, int z, uint64_t c1) noexcept nogil:
    """Joins the full connection (x, z, c1) with every full connection (z, y) through the middle z."""
    cdef int y, k, i, n
    cdef uint64_t c2, xbit = hx_point_bit(h, x), zbit = hx_point_bit(h, z)
    # a partner y inside c1, or x itself, joins nothing; a carrier meeting c1 or holding x neither;
    # and neither does a cell adjacent to x (their connection with the empty carrier covers
    # every other), nor an edge x touches
    cdef uint64_t cells = h.partner_cells[z] & ~c1 & ~xbit & ~h.adjacent[x] & ~h.adjacent_groups[x], clash = c1 | xbit
    cdef unsigned int edges = h.partner_edges[z]
    if x >= HX_CELLS:
        edges &= ~(1u << (x - HX_CELLS))
    else:
        if not xbit:
            cells &= ~((<uint64_t> 1) << x)     # x a group: its naming cell
        if h.adjacent[HX_EDGE_A] & xbit:
            edges &= ~1u
        if h.adjacent[HX_EDGE_B] & xbit:
            edges &= ~2u
    if xbit != 0 and (zbit != 0 or hx_popcount(c1) > h.empty_pair_max):
        # three empty cells: only semi connections keyed by z with the carrier {z} (both full
        # connections empty) could follow, and the OR rule makes from those only the bridges,
        # which are stored from the start: only groups and edges are worth joining to here.
        # Nor can x join an empty y through a group once c1 alone is past the carrier bound
        # between two empty cells.
        cells &= h.group_cells
    while cells or edges:
        if cells:
            y = hx_lowest(cells)
            cells &= cells - 1
        else:
            y = HX_CELLS + hx_lowest(edges)
            edges &= edges - 1
        # the pair (z, y) is not the pair (x, y) the rules below add to: its list stays as it is
        i = hx_pair(z, y)
        n = h.num_vc[i]
        for k in range(n):
            c2 = h.vc[i][k]
            if c2 & clash:
                continue
            if zbit == 0:
                hx_add_vc(h, x, y, c1 | c2)
            else:
                hx_add_sc(h, x, y, c1 | c2 | zbit, z)


cdef void hx_edge_connections(HxConnections* h, const HxGeometry* g, uint64_t own, uint64_t opp, int player,
                              HxEdgeResult* out) noexcept nogil:
    cdef uint64_t empty = g.all_cells & ~own & ~opp
    cdef uint64_t edge_a = g.edge_cells[player][0], edge_b = g.edge_cells[player][1]
    cdef uint64_t rest = own, group, grown, m
    cdef int p, q, t, i, k, cell
    cdef int16_t a
    h.searches += 1
    memset(out, 0, sizeof(HxEdgeResult))
    out.sc_key = -1
    out.sc_and = g.all_cells
    memset(h.num_vc, 0, sizeof(h.num_vc))
    memset(h.num_sc, 0, sizeof(h.num_sc))
    memset(h.partner_cells, 0, sizeof(h.partner_cells))
    memset(h.partner_edges, 0, sizeof(h.partner_edges))
    h.num_points = 0
    h.group_cells = 0
    h.empty_cells = empty
    h.queue_tail = 0
    memset(h.bucket_head, 0xFF, sizeof(h.bucket_head))
    memset(h.bucket_tail, 0xFF, sizeof(h.bucket_tail))
    h.min_bucket = HX_CELLS + 1
    h.adjacent[HX_EDGE_A] = edge_a & empty
    h.adjacent[HX_EDGE_B] = edge_b & empty
    h.adjacent_groups[HX_EDGE_A] = 0
    h.adjacent_groups[HX_EDGE_B] = 0
    h.points[0] = HX_EDGE_A
    h.points[1] = HX_EDGE_B
    h.num_points = 2
    # groups: a group on an edge becomes part of that edge's point
    while rest:
        group = rest & (~rest + 1)
        while True:
            grown = group | (hx_expand(g, group) & own)
            if grown == group:
                break
            group = grown
        rest &= ~group
        if (group & edge_a) and (group & edge_b):
            out.joined = True
            out.has_vc = True
            out.vc_carrier = 0
            return
        if group & edge_a:
            p = HX_EDGE_A
        elif group & edge_b:
            p = HX_EDGE_B
        else:
            p = hx_lowest(group)
            h.group_cells |= (<uint64_t> 1) << p
            h.adjacent[p] = 0
            h.adjacent_groups[p] = 0
            h.points[h.num_points] = <int16_t> p
            h.num_points += 1
        h.adjacent[p] |= hx_expand(g, group) & empty
    m = empty
    while m:
        cell = hx_lowest(m)
        m &= m - 1
        h.adjacent[cell] = g.neighbours[cell] & empty
        h.adjacent_groups[cell] = 0
        h.points[h.num_points] = <int16_t> cell
        h.num_points += 1
    # the groups next to each empty cell (the AND rule skips them as partners of that cell)
    m = h.group_cells
    while m:
        p = hx_lowest(m)
        m &= m - 1
        grown = h.adjacent[p]
        while grown:
            cell = hx_lowest(grown)
            grown &= grown - 1
            h.adjacent_groups[cell] |= (<uint64_t> 1) << p
    # adjacent points are fully connected with an empty carrier
    for t in range(h.num_points):
        p = h.points[t]
        m = h.adjacent[p]
        while m:
            q = hx_lowest(m)
            m &= m - 1
            if not hx_point_bit(h, p) or q > p:
                hx_add_vc(h, p, q, 0)
    # two empty cells bridged through two empty cells (found by the rules too; listed first, it
    # keeps larger carriers out)
    m = empty
    while m:
        p = hx_lowest(m)
        m &= m - 1
        for k in range(6):
            q = g.bridge[p][k]
            if q > p and (empty >> q) & 1:
                grown = ((<uint64_t> 1) << g.ring[p][k]) | ((<uint64_t> 1) << g.ring[p][(k + 1) % 6])
                if (grown & empty) == grown:
                    hx_add_vc(h, p, q, grown)
    while True:
        # smallest carriers first (Anshelevich's order): the sets they make supersede larger ones early
        t = hx_queue_pop(h)
        if t < 0:
            break
        p = h.queue_a[t]
        q = h.queue_b[t]
        m = h.queue_c[t]
        if not hx_has_vc(h, p, q, m):
            continue     # replaced by a connection with a smaller carrier: its joins would be supersets
        hx_and_rule(h, p, q, m)
        hx_and_rule(h, q, p, m)
        i = hx_pair(HX_EDGE_A, HX_EDGE_B)
        if h.num_vc[i] or (h.stop_at_semi and h.num_sc[i]):
            break
    i = hx_pair(HX_EDGE_A, HX_EDGE_B)
    if h.num_vc[i]:
        # the smallest carrier: the smallest proof set
        out.has_vc = True
        out.vc_carrier = h.vc[i][0]
        for k in range(1, h.num_vc[i]):
            if hx_popcount(h.vc[i][k]) < hx_popcount(out.vc_carrier):
                out.vc_carrier = h.vc[i][k]
        return
    # semi connections from the smallest carrier up; the union keeps only those that narrow the
    # intersection, so it is all the must-play rule relies on
    cdef bint used[HX_KEEP_SC]
    cdef int j, pick
    out.num_sc = h.num_sc[i]
    for k in range(h.num_sc[i]):
        used[k] = False
    for j in range(h.num_sc[i]):
        pick = -1
        for k in range(h.num_sc[i]):
            if not used[k] and (pick < 0 or hx_popcount(h.sc[i][k]) < hx_popcount(h.sc[i][pick])):
                pick = k
        used[pick] = True
        if j == 0:
            out.sc_key = h.sc_key[i][pick]
            out.sc_carrier = h.sc[i][pick]
        if (out.sc_and & h.sc[i][pick]) != out.sc_and:
            out.sc_and &= h.sc[i][pick]
            out.sc_or |= h.sc[i][pick]


# --- transposition table --------------------------------------------------------------------------
#
# The table is shared by the search threads: each bucket has a spin lock, and entries are copied in
# and out under it (never read through a pointer another thread may be rewriting). A proven entry is
# never overwritten by an open one of the same position (a thread may finish a search from numbers
# that another thread has since proven).

cdef inline void hx_bucket_lock(HxSolver* s, uint64_t key) noexcept nogil:
    hx_spin_lock(&s.locks[key & s.bucket_mask])


cdef inline void hx_bucket_unlock(HxSolver* s, uint64_t key) noexcept nogil:
    hx_spin_unlock(&s.locks[key & s.bucket_mask])


cdef inline bint hx_proven(const HxEntry* e) noexcept nogil:
    return e.phi == 0 or e.delta == 0


cdef bint hx_tt_read(HxSolver* s, uint64_t key, HxEntry* out) noexcept nogil:
    """Copies the entry of `key` into `out`; False when the table does not hold it."""
    cdef HxEntry* b = &s.table[(key & s.bucket_mask) * HX_BUCKET]
    cdef int k
    cdef bint found = False
    hx_bucket_lock(s, key)
    for k in range(HX_BUCKET):
        if b[k].key == key:
            out[0] = b[k]
            found = True
            break
    hx_bucket_unlock(s, key)
    return found


cdef void hx_tt_write(HxSolver* s, HxEntry* e) noexcept nogil:
    """Stores `e` (its key included) in its bucket: over the entry of the same position, or else
    over the bucket's least-worked entry (proven ones kept longer). An open `e` does not replace a
    proven entry of the same position: `e` then becomes that entry."""
    cdef HxEntry* b = &s.table[(e.key & s.bucket_mask) * HX_BUCKET]
    cdef int k, victim = -1
    cdef uint64_t score, best_score = <uint64_t> -1
    hx_bucket_lock(s, e.key)
    for k in range(HX_BUCKET):
        if b[k].key == e.key:
            victim = k
            break
    if victim >= 0 and hx_proven(&b[victim]) and not hx_proven(e):
        e[0] = b[victim]
        hx_bucket_unlock(s, e.key)
        return
    if victim < 0:
        victim = 0
        for k in range(HX_BUCKET):
            score = b[k].work if b[k].key != 0 else 0
            if b[k].key != 0 and hx_proven(&b[k]):
                score += 1 << 20
            if score < best_score:
                best_score = score
                victim = k
    b[victim] = e[0]
    hx_bucket_unlock(s, e.key)


cdef inline double hx_now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline uint64_t hx_key(const HxSolver* s, uint64_t black, uint64_t white, int to_move) noexcept nogil:
    """Zobrist key of a position (never 0, the empty slot's key)."""
    cdef uint64_t key = <uint64_t> 0x9E3779B97F4A7C15
    if to_move:
        key ^= s.zobrist_white
    while black:
        key ^= s.zobrist[0][hx_lowest(black)]
        black &= black - 1
    while white:
        key ^= s.zobrist[1][hx_lowest(white)]
        white &= white - 1
    return key


cdef inline uint64_t hx_winner_stones(uint32_t phi, int to_move, uint64_t black, uint64_t white) noexcept nogil:
    """The stones of the winner of a proven position (phi 0: the player to move wins)."""
    if (phi == 0) == (to_move == 1):
        return white
    return black


cdef void hx_store_filled(HxSolver* s, uint64_t black, uint64_t white, int to_move, uint32_t phi, uint32_t delta,
                          uint64_t moves, uint64_t proof, int best, uint32_t work) noexcept nogil:
    """Stores a proof of a position under its filled position's key too (`black`, `white`: filled).

    Both have the same value; the proof set gains every stone of the winner in the filled position,
    so that it also covers any other position that fills to the same one (a cell the fill-in gives
    the winner is one the loser may not take). Those stones are never empty cells of the position
    itself or of its ancestors outside their own proof sets, so the pruning loses nothing by them.
    """
    cdef HxEntry e
    e.key = hx_key(s, black, white, to_move)
    e.phi = phi
    e.delta = delta
    e.moves = moves & s.geo.all_cells & ~black & ~white
    e.proof = proof | hx_winner_stones(phi, to_move, black, white)
    e.best = <int8_t> best
    e.work = work
    e.decided = work <= 1
    e.opp_sc = True
    e.pruned = True
    hx_tt_write(s, &e)


cdef inline void hx_clock(HxSolver* s, long long count) noexcept nogil:
    """Reads the clock every HX_TIME_CHECK counts and stops the search past the deadline."""
    if s.deadline >= 0 and count % HX_TIME_CHECK == 0 and hx_now() > s.deadline:
        hx_atomic_store_int(&s.aborted, 1)


cdef inline void hx_count_evaluation(HxWorker* w) noexcept nogil:
    """Counts an evaluation and stops the search at the node or time limit."""
    cdef HxSolver* s = w.s
    cdef long long total
    w.nodes += 1
    if s.threads > 1:
        total = hx_atomic_add64(&s.total_nodes, 1)
    else:
        total = w.nodes
    if s.max_nodes >= 0 and total >= s.max_nodes:
        hx_atomic_store_int(&s.aborted, 1)
    hx_clock(s, w.nodes)


cdef int hx_evaluate(HxWorker* w, uint64_t black, uint64_t white, int to_move, bint use_table, bint own_search,
                     bint prune, uint64_t* moves, int* best, uint64_t* proof, bint* opp_sc) noexcept nogil:
    """What the knowledge says of a position: HX_WIN / HX_LOSS / HX_UNKNOWN, the moves to search
    (HX_UNKNOWN), and a proof set (decided) or the set the move pruning relies on (HX_UNKNOWN).

    The knowledge reads the filled position (hx_fill), which has the same value, and in which the
    value after each move to a still-empty cell is the value after that move in the real position;
    moves to filled cells are never better than the best other one. A proof set: the winning
    connection's carrier with the cells the fill-in gave the winner; the win stands whatever the
    loser holds outside it (docs/hex.md).

    With `use_table`, a proof already stored for the filled position (hx_store_filled) is reused
    (`w.eval_work` then holds its work), and a decided filled position is stored for the others
    that fill to it.

    Without `own_search` the H-search of the player to move is skipped: it can only find a win for
    that player (`opp_sc`: whether the opponent has semi connections between its edges).
    """
    cdef HxSolver* s = w.s
    cdef int result
    cdef HxEntry f
    cdef uint64_t black0 = black, white0 = white
    w.eval_work = 1
    opp_sc[0] = True
    hx_count_evaluation(w)
    moves[0] = 0
    best[0] = -1
    hx_fill(&s.geo, &black, &white)
    if use_table and (black != black0 or white != white0):
        if hx_tt_read(s, hx_key(s, black, white, to_move), &f) and hx_proven(&f):
            # f.best: a cell empty in the filled position, or (a full connection: any move wins) none
            best[0] = f.best if f.best >= 0 and not ((black | white) >> f.best) & 1 else -1
            if f.phi == 0 and best[0] < 0:
                best[0] = hx_lowest(s.geo.all_cells & ~black0 & ~white0)
            moves[0] = f.moves
            # the winner's stones of the filled position join the proof set: the fill-in gave some of
            # them, and this position's loser may not take those (f may be a position of its own)
            proof[0] = f.proof | hx_winner_stones(f.phi, to_move, black, white)
            w.eval_work = f.work
            return HX_WIN if f.phi == 0 else HX_LOSS
    result = hx_knowledge(w, black0, white0, black, white, to_move, own_search, prune, moves, best, proof, opp_sc)
    if use_table and result != HX_UNKNOWN and (black != black0 or white != white0):
        hx_store_filled(s, black, white, to_move, 0 if result == HX_WIN else HX_INF,
                        HX_INF if result == HX_WIN else 0, 0, proof[0], best[0], 1)
    return result


cdef int hx_knowledge(HxWorker* w, uint64_t black0, uint64_t white0, uint64_t black, uint64_t white, int to_move,
                      bint own_search, bint prune, uint64_t* moves, int* best, uint64_t* proof, bint* opp_sc) noexcept nogil:
    """hx_evaluate's verdict from the connections of the filled position (`black`, `white`)."""
    cdef const HxGeometry* g = &w.s.geo
    cdef HxEdgeResult mine, theirs
    cdef uint64_t own, opp, empty, m
    cdef uint64_t real_empty = g.all_cells & ~black0 & ~white0
    cdef uint64_t filled_mine, filled_theirs, inferior
    own = white if to_move else black
    opp = black if to_move else white
    empty = g.all_cells & ~black & ~white
    filled_mine = own & ~(white0 if to_move else black0)
    filled_theirs = opp & ~(black0 if to_move else white0)
    # The player's own H-search first when it runs: a win it finds decides the position whatever the
    # opponent's connections are (both searches are sound, so the opponent cannot then hold a full
    # connection), and the opponent's search is saved.
    if own_search:
        # only a win matters here: the first semi connection between the edges ends the search
        w.conn.stop_at_semi = True
        hx_edge_connections(w.conn, g, own, opp, to_move, &mine)
        w.conn.stop_at_semi = False
        if mine.has_vc:
            # with a full connection (or already joined in the filled position) every move wins
            m = mine.vc_carrier & empty
            best[0] = hx_lowest(m if m else real_empty)
            proof[0] = mine.vc_carrier | filled_mine
            return HX_WIN
        if mine.num_sc:
            best[0] = mine.sc_key
            proof[0] = mine.sc_carrier | filled_mine
            return HX_WIN
    hx_edge_connections(w.conn, g, opp, own, 1 - to_move, &theirs)
    if theirs.has_vc:
        proof[0] = theirs.vc_carrier | filled_theirs
        return HX_LOSS
    opp_sc[0] = theirs.num_sc > 0
    # a move outside some semi connection of the opponent loses while that one stands
    proof[0] = theirs.sc_or | filled_theirs
    m = empty & theirs.sc_and
    if m == 0:
        return HX_LOSS
    moves[0] = m
    if prune:
        # inferior moves (dominated, vulnerable) go too; the cells that relies on join the set
        moves[0] = hx_inferior(g, black, white, to_move, m, &inferior)
        proof[0] |= inferior
    return HX_UNKNOWN


cdef void hx_lookup(HxWorker* w, uint64_t black, uint64_t white, int to_move, uint64_t key, HxEntry* e,
                    bint own_search=True) noexcept nogil:
    """The table entry of a position (copied into `e`), evaluating and storing it when it is missing."""
    cdef uint64_t moves, proof
    cdef int best, result
    cdef bint opp_sc
    if hx_tt_read(w.s, key, e):
        return
    result = hx_evaluate(w, black, white, to_move, True, own_search, False, &moves, &best, &proof, &opp_sc)
    e.key = key
    e.pruned = result != HX_UNKNOWN
    e.opp_sc = opp_sc
    e.moves = moves
    e.proof = proof
    e.best = <int8_t> best
    e.work = w.eval_work
    e.decided = result != HX_UNKNOWN and w.eval_work <= 1
    if result == HX_WIN:
        e.phi = 0
        e.delta = HX_INF
    elif result == HX_LOSS:
        e.phi = HX_INF
        e.delta = 0
    else:
        e.phi = 1
        e.delta = <uint32_t> hx_popcount(moves)
    hx_tt_write(w.s, e)


cdef inline uint64_t hx_proof_of(HxSolver* s, uint64_t key) noexcept nogil:
    """The proof set of a proven position in the table (every cell when it is no longer there)."""
    cdef HxEntry e
    if not hx_tt_read(s, key, &e) or not hx_proven(&e):
        return s.geo.all_cells
    return e.proof


cdef inline uint32_t hx_sat(uint64_t x) noexcept nogil:
    return <uint32_t> (x if x < HX_MAX_FINITE else HX_MAX_FINITE)


cdef inline bint hx_stopped(HxSolver* s) noexcept nogil:
    return hx_atomic_load_int(&s.aborted) != 0


cdef inline uint16_t* hx_busy(HxSolver* s, uint64_t key) noexcept nogil:
    """The count of threads searching below a position (hashed: a collision only costs ordering)."""
    return &s.busy[(key >> 40) & (HX_BUSY - 1)]


cdef void hx_mid(HxWorker* w, uint64_t black, uint64_t white, int to_move, uint64_t key,
                 uint32_t th_phi, uint32_t th_delta, uint32_t* out_phi, uint32_t* out_delta) noexcept nogil:
    """Multiple iterative deepening at a position: searches until phi >= th_phi or delta >= th_delta.

    With several threads the position is marked busy while this thread searches below it, so that
    the others, choosing among its siblings, prefer another one (hx_mid_body).
    """
    if w.s.threads > 1:
        hx_atomic_add16(hx_busy(w.s, key), 1)
        hx_mid_body(w, black, white, to_move, key, th_phi, th_delta, out_phi, out_delta)
        hx_atomic_add16(hx_busy(w.s, key), -1)
    else:
        hx_mid_body(w, black, white, to_move, key, th_phi, th_delta, out_phi, out_delta)


cdef void hx_mid_body(HxWorker* w, uint64_t black, uint64_t white, int to_move, uint64_t key,
                      uint32_t th_phi, uint32_t th_delta, uint32_t* out_phi, uint32_t* out_delta) noexcept nogil:
    """hx_mid's search. A move whose position is proven lost (a win for the opponent, with proof
    set P) rules out every other move outside P: a stone there leaves the opponent's proof standing
    (docs/hex.md).

    With several threads the children's numbers are read again from the shared table before each
    choice (another thread may have moved or proven them), and a child another thread is searching
    counts with twice its disproof number (hx_spread), so the threads spread out.
    """
    cdef HxSolver* s = w.s
    cdef HxEntry e, c
    cdef uint64_t moves, prune, bit, proof, keep
    cdef uint64_t child_key[HX_CELLS]
    cdef uint32_t child_phi[HX_CELLS]
    cdef uint32_t child_delta[HX_CELLS]
    cdef int8_t child_move[HX_CELLS]
    cdef bint child_cut[HX_CELLS]
    cdef int n = 0, i, best, cell
    cdef uint32_t phi, delta2, tp, td, most
    cdef uint64_t delta, work0 = w.nodes, filled_black, filled_white, relied
    cdef bint own_search, shared = s.threads > 1
    hx_lookup(w, black, white, to_move, key, &e)
    if not e.pruned and not hx_proven(&e):
        # first expansion: the inferior moves go (left out of the evaluation, which most positions
        # never get past); the cells that relies on join the pruning set
        filled_black = black
        filled_white = white
        hx_fill(&s.geo, &filled_black, &filled_white)
        e.moves = hx_inferior(&s.geo, filled_black, filled_white, to_move, e.moves, &relied)
        e.proof |= relied
        e.pruned = True
        e.delta = <uint32_t> hx_popcount(e.moves)
        hx_tt_write(s, &e)
    moves = e.moves
    prune = e.proof
    out_phi[0] = e.phi
    out_delta[0] = e.delta
    if e.phi == 0 or e.delta == 0 or e.phi >= th_phi or e.delta >= th_delta or hx_stopped(s):
        return
    w.expansions += 1
    # The children's player to move is this position's opponent. Had it no semi connection here,
    # it has none after a move of ours either (a stone of ours never helps it) - except through a
    # fill-in the move triggers or connections H-search misses here and finds there: measured, 0.1%
    # of such children (and 12% of the others). So its H-search is skipped for them: a child it
    # would have called won stays open and its winning move is found when it is expanded.
    own_search = e.opp_sc
    for i in range(s.geo.n * s.geo.n):
        cell = s.geo.order[i]
        if not (moves >> cell) & 1:
            continue     # not a candidate, or ruled out by a sibling's proof set
        bit = (<uint64_t> 1) << cell
        child_key[n] = key ^ s.zobrist[to_move][cell] ^ s.zobrist_white
        if to_move == 0:
            hx_lookup(w, black | bit, white, 1, child_key[n], &c, own_search)
        else:
            hx_lookup(w, black, white | bit, 0, child_key[n], &c, own_search)
        if hx_stopped(s):
            return
        child_move[n] = <int8_t> cell
        child_phi[n] = c.phi
        child_delta[n] = c.delta
        child_cut[n] = False
        n += 1
        if c.delta == 0:
            break   # a move to a lost position: proven
        if c.phi == 0:
            # the other moves outside the opponent's proof set lose too: those to come are skipped,
            # those already listed cut
            hx_cut_outside(s, n, n - 1, child_key, child_move, child_phi, child_delta, child_cut, &moves, &prune)
    while True:
        if shared:
            hx_refresh(s, n, child_key, child_move, child_phi, child_delta, child_cut, &moves, &prune)
        phi = HX_INF
        delta2 = HX_INF
        delta = 0
        most = 0
        best = 0
        for i in range(n):
            if child_delta[i] < phi:
                delta2 = phi
                phi = child_delta[i]
                best = i
            elif child_delta[i] < delta2:
                delta2 = child_delta[i]
            # weak disproof number: the hardest child plus one for each other open one
            if child_phi[i] > most:
                most = child_phi[i]
            if child_phi[i] != 0:
                delta += 1
        if most != 0:
            delta = HX_INF if most >= HX_INF else most + delta - 1
        if phi == 0:
            delta = HX_INF
        elif delta > HX_MAX_FINITE:
            delta = HX_MAX_FINITE
        if phi == 0 or delta == 0 or phi >= th_phi or delta >= th_delta or hx_stopped(s):
            break
        if shared:
            # a thread may go on choosing children other threads have just searched, without
            # evaluating: the clock is read between choices too
            w.loops += 1
            hx_clock(s, w.loops)
            if delta <= phi:
                # the position looks lost for its player (every move to be refuted): the threads
                # share the refutations out; where it looks won they search the same best move
                hx_spread(s, n, child_key, child_delta, th_phi, &best, &delta2)
        # the child may grow until this position's delta reaches its threshold: with weak numbers
        # that is while it stays below the hardest child, and past it one for one
        tp = hx_sat(<uint64_t> th_delta - delta + most)
        if th_delta >= HX_INF:
            tp = HX_INF
        td = hx_sat(<uint64_t> delta2 + 1 + delta2 // 8)
        if delta2 >= HX_INF:
            td = HX_INF
        if td > th_phi:
            td = th_phi
        cell = child_move[best]
        bit = (<uint64_t> 1) << cell
        if to_move == 0:
            hx_mid(w, black | bit, white, 1, child_key[best], tp, td, &child_phi[best], &child_delta[best])
        else:
            hx_mid(w, black, white | bit, 0, child_key[best], tp, td, &child_phi[best], &child_delta[best])
        if child_phi[best] == 0 and not hx_stopped(s):
            hx_cut_outside(s, n, best, child_key, child_move, child_phi, child_delta, child_cut, &moves, &prune)
    if n == 0:
        phi = HX_INF
        delta = 0
    proof = prune
    if phi == 0:
        for i in range(n):
            if child_delta[i] == 0:
                best = i
                break
        proof = ((<uint64_t> 1) << child_move[best]) | hx_proof_of(s, child_key[best])
    elif delta == 0:
        for i in range(n):
            if not child_cut[i]:
                proof |= hx_proof_of(s, child_key[i]) | ((<uint64_t> 1) << child_move[i])
    e.key = key
    e.moves = moves
    e.proof = proof
    e.phi = phi
    e.delta = <uint32_t> delta
    e.work += <uint32_t> min(w.nodes - work0, 0x7FFFFFFF)
    if phi == 0:
        e.best = child_move[best]
    hx_tt_write(s, &e)
    out_phi[0] = e.phi
    out_delta[0] = e.delta
    if hx_proven(&e) and not hx_stopped(s):
        filled_black = black
        filled_white = white
        hx_fill(&s.geo, &filled_black, &filled_white)
        if filled_black != black or filled_white != white:
            hx_store_filled(s, filled_black, filled_white, to_move, e.phi, e.delta, e.moves, e.proof, e.best, e.work)


cdef void hx_spread(HxSolver* s, int n, const uint64_t* child_key, const uint32_t* child_delta, uint32_t th_phi,
                    int* best, uint32_t* delta2) noexcept nogil:
    """With several threads: the child to search when a child another thread is searching counts with
    twice its disproof number (`best`, `delta2`: the plain choice, replaced when
    the other choice can make progress within `th_phi`)."""
    cdef uint32_t eff, best_eff = HX_INF, second = HX_INF
    cdef int i, pick = -1
    if not hx_atomic_load16(hx_busy(s, child_key[best[0]])):
        return
    for i in range(n):
        eff = child_delta[i]
        if eff != 0 and eff < HX_INF and hx_atomic_load16(hx_busy(s, child_key[i])):
            eff = hx_sat(<uint64_t> eff * 2 + 1)
        if eff < best_eff:
            second = best_eff
            best_eff = eff
            pick = i
        elif eff < second:
            second = eff
    if pick >= 0 and pick != best[0] and child_delta[pick] < th_phi and child_delta[pick] <= second:
        best[0] = pick
        delta2[0] = second


cdef void hx_cut_outside(HxSolver* s, int n, int lost, const uint64_t* child_key, const int8_t* child_move,
                         uint32_t* child_phi, uint32_t* child_delta, bint* child_cut, uint64_t* moves,
                         uint64_t* prune) noexcept nogil:
    """The move `lost` loses: so does every other one outside the opponent's proof set (cut). That
    set joins `prune`, the cells the position's pruning relies on: the child's entry may later hold
    another proof (another thread's, or a new one after eviction), and the cut must stay justified
    by the proof set of the position."""
    cdef uint64_t keep = hx_proof_of(s, child_key[lost]) | ((<uint64_t> 1) << child_move[lost])
    cdef int i
    moves[0] &= keep
    prune[0] |= keep
    for i in range(n):
        if not child_cut[i] and child_phi[i] != 0 and not (keep >> child_move[i]) & 1:
            child_cut[i] = True
            child_phi[i] = 0
            child_delta[i] = HX_INF


cdef void hx_refresh(HxSolver* s, int n, const uint64_t* child_key, const int8_t* child_move,
                     uint32_t* child_phi, uint32_t* child_delta, bint* child_cut,
                     uint64_t* moves, uint64_t* prune) noexcept nogil:
    """Reads the children's numbers again from the shared table (other threads search them too); a
    child another thread proved lost for this position's player cuts its siblings as hx_mid does."""
    cdef HxEntry c
    cdef int i
    for i in range(n):
        if child_phi[i] == 0 or not hx_tt_read(s, child_key[i], &c):
            continue     # cut, or proven lost for this position's player, its cut made
        child_phi[i] = c.phi
        child_delta[i] = c.delta
        if c.phi == 0:
            hx_cut_outside(s, n, i, child_key, child_move, child_phi, child_delta, child_cut, moves, prune)


cdef bint hx_has_joined(const HxGeometry* g, uint64_t own, int player) noexcept nogil:
    """Whether the player's stones already join its two edges."""
    cdef uint64_t reach = own & g.edge_cells[player][0], grown
    while True:
        grown = reach | (hx_expand(g, reach) & own)
        if grown == reach:
            break
        reach = grown
    return (reach & g.edge_cells[player][1]) != 0


cdef int hx_solve(HxWorker* w, uint64_t black, uint64_t white, int to_move, uint64_t key) noexcept nogil:
    """Proves the position: HX_WIN / HX_LOSS for the player to move, HX_UNKNOWN when a limit hit first.

    Every thread runs this from the root over the shared table; the first to prove the root stops
    the others.
    """
    cdef uint32_t phi, delta
    cdef HxEntry e
    hx_mid(w, black, white, to_move, key, HX_INF, HX_INF, &phi, &delta)
    if phi != 0 and delta != 0 and hx_tt_read(w.s, key, &e):
        phi = e.phi         # proven by another thread, which stopped this one
        delta = e.delta
    if phi == 0 or delta == 0:
        hx_atomic_store_int(&w.s.aborted, 1)
    if phi == 0:
        return HX_WIN
    if delta == 0:
        return HX_LOSS
    return HX_UNKNOWN


cdef int hx_pv_move(HxWorker* w, uint64_t black, uint64_t white, int to_move, uint64_t key, bint* decided) noexcept nogil:
    """The principal-variation move of a proven position (-1 if unproven); `decided`: by knowledge alone."""
    cdef HxSolver* s = w.s
    cdef HxEntry e, c
    cdef uint64_t m, bit, empty = s.geo.all_cells & ~black & ~white
    cdef int cell, best = -1
    cdef long long most = -1
    hx_lookup(w, black, white, to_move, key, &e)
    decided[0] = e.work <= 1
    if e.phi == 0:
        if e.best >= 0:
            return e.best
        m = e.moves
    elif e.delta == 0:
        m = e.moves if e.moves else empty
        if not e.moves:
            return hx_lowest(empty) if empty else -1
    else:
        return -1
    # a won position without a stored move, or a lost one: look at the children in the table
    while m:
        cell = hx_lowest(m)
        m &= m - 1
        if not hx_tt_read(s, key ^ s.zobrist[to_move][cell] ^ s.zobrist_white, &c):
            continue
        if e.phi == 0 and c.delta == 0:
            return cell
        if e.delta == 0 and c.phi == 0 and <long long> c.work > most:
            most = c.work
            best = cell
    if best < 0 and e.delta == 0 and e.moves:
        best = hx_lowest(e.moves)
    return best


cdef class HexDfpn:
    """Depth-first proof-number search for Hex boards up to 8 x 8 (the state of one board size).

    The transposition table persists between calls (``reset`` clears it), so solving the positions
    of one game in turn reuses earlier proofs. One search at a time per object (it releases the GIL).

    Args:
        board_size: N, from 3 to 8.
        table_bits: log2 of the number of transposition-table buckets (4 entries of 40 bytes each: 40 MiB at 18).
        empty_pair_max: largest carrier H-search keeps between two empty cells (more finds more
            connections and costs more per position).
        threads: search threads sharing the table (each runs the search from the root; a position
            one thread searches below is less attractive to the others, so they spread out). One
            thread gives the same search every time; more give varying ones, each proof sound.

    Raises:
        ValueError: the board size, a table parameter or the thread count is out of range.
    """
    cdef HxSolver* s
    cdef HxWorker* workers
    cdef readonly int board_size
    cdef readonly int threads
    cdef list _helpers

    def __cinit__(self, int board_size, *, int table_bits=18, int empty_pair_max=2, int threads=1):
        cdef uint64_t seed = 0x4865784466706E
        cdef int p, i
        if not 3 <= board_size <= HX_MAX_SIZE:
            raise ValueError(f"the Hex solver handles boards of 3 to {HX_MAX_SIZE} cells a side, got {board_size}")
        if not 4 <= table_bits <= 26:
            raise ValueError(f"table_bits must be in [4, 26], got {table_bits}")
        if not 0 <= empty_pair_max <= 64:
            raise ValueError(f"empty_pair_max must be in [0, 64], got {empty_pair_max}")
        if not 1 <= threads <= 64:
            raise ValueError(f"threads must be in [1, 64], got {threads}")
        self.board_size = board_size
        self.threads = threads
        self._helpers = []
        self.s = <HxSolver*> calloc(1, sizeof(HxSolver))
        self.workers = <HxWorker*> calloc(threads, sizeof(HxWorker))
        if self.s == NULL or self.workers == NULL:
            raise MemoryError("no memory for the Hex solver")
        self.s.threads = threads
        for i in range(threads):
            self.workers[i].s = self.s
            self.workers[i].conn = <HxConnections*> calloc(1, sizeof(HxConnections))
            if self.workers[i].conn == NULL:
                raise MemoryError("no memory for the Hex solver's connection tables")
            self.workers[i].conn.empty_pair_max = empty_pair_max
        self.s.table = <HxEntry*> calloc((<size_t> 1 << table_bits) * HX_BUCKET, sizeof(HxEntry))
        self.s.locks = <uint8_t*> calloc(<size_t> 1 << table_bits, sizeof(uint8_t))
        if self.s.table == NULL or self.s.locks == NULL:
            raise MemoryError(f"no memory for a Hex solver table of 2^{table_bits} buckets")
        self.s.bucket_mask = ((<uint64_t> 1) << table_bits) - 1
        hx_geometry(&self.s.geo, board_size)
        for p in range(2):
            for i in range(HX_CELLS):
                self.s.zobrist[p][i] = splitmix64(&seed)
        self.s.zobrist_white = splitmix64(&seed)

    def __dealloc__(self):
        cdef int i
        if self.workers != NULL:
            for i in range(self.threads):
                free(self.workers[i].conn)
            free(self.workers)
            self.workers = NULL
        if self.s != NULL:
            free(self.s.table)
            free(self.s.locks)
            free(self.s)
            self.s = NULL

    def reset(self) -> None:
        """Forgets every stored position."""
        memset(self.s.table, 0, (self.s.bucket_mask + 1) * HX_BUCKET * sizeof(HxEntry))

    @property
    def nodes(self) -> int:
        """Positions evaluated by the last :meth:`solve_bits` (two H-searches at most each), all threads."""
        return sum(self.workers[i].nodes for i in range(self.threads))

    @property
    def searches(self) -> int:
        """H-searches (one player's connections in one position) run by the last :meth:`solve_bits`."""
        return sum(self.workers[i].conn.searches for i in range(self.threads))

    @property
    def expansions(self) -> int:
        """Positions expanded by the last :meth:`solve_bits`."""
        return sum(self.workers[i].expansions for i in range(self.threads))

    cdef uint64_t _key(self, uint64_t black, uint64_t white, int to_move):
        return hx_key(self.s, black, white, to_move)

    cdef uint64_t _rotate(self, uint64_t cells):
        """The cell set turned by 180 degrees: cell i becomes n * n - 1 - i (Hex's board symmetry)."""
        cdef uint64_t out = 0
        cdef int last = self.board_size * self.board_size - 1
        while cells:
            out |= (<uint64_t> 1) << (last - hx_lowest(cells))
            cells &= cells - 1
        return out

    def _unturn(self, cells: list, turned: bool) -> list:
        """Cells of the searched position as cells of the position asked about (see _canonical)."""
        last = self.board_size * self.board_size - 1
        return [last - c for c in cells] if turned else cells

    def _canonical(self, black: int, white: int) -> tuple[int, int, bool]:
        """(black, white, turned): of a position and its 180-degree turn, the one searched.

        The turn maps each player's edges to themselves, so both have the same value; searching one
        of them (the one whose stone sets read smaller) makes a position and its turn cost the same
        and share one table entry at the root. `turned`: cells of the result read turned.
        """
        rb, rw = self._rotate(black), self._rotate(white)
        if (rb, rw) < (black, white):
            return rb, rw, True
        return black, white, False

    def _check(self, black: int, white: int, to_move: int) -> None:
        cdef object one = 1
        cells = (one << (self.board_size * self.board_size)) - 1
        if black & ~cells or white & ~cells or black & white or black < 0 or white < 0:
            raise ValueError(f"stone sets {black:#x} / {white:#x} do not fit a {self.board_size}x{self.board_size} board")
        if to_move not in (0, 1):
            raise ValueError(f"to_move must be 0 or 1, got {to_move!r}")

    def solve_bits(self, black: int, white: int, to_move: int, *, max_nodes: int | None = None,
                   time_limit: float | None = None) -> int:
        """Proves a position given as stone sets (bit ``r * N + c``).

        Returns:
            int: +1 when the player to move wins, -1 when it loses, 0 when a limit stopped the search.

        Raises:
            ValueError: the stone sets overlap or do not fit the board, or a player has already won.
        """
        self._check(black, white, to_move)
        black, white, _ = self._canonical(black, white)
        cdef uint64_t b = black, w = white
        cdef int tm = to_move, result
        cdef uint64_t key = self._key(b, w, tm)
        if hx_has_joined(&self.s.geo, b, 0) or hx_has_joined(&self.s.geo, w, 1):
            raise UnsolvableError("the game is already over")
        self._join_helpers()   # an interrupted earlier search may have left some running
        cdef int i
        for i in range(self.threads):
            self.workers[i].nodes = 0
            self.workers[i].expansions = 0
            self.workers[i].conn.searches = 0
        self.s.total_nodes = 0
        hx_atomic_store_int(&self.s.aborted, 0)
        memset(self.s.busy, 0, sizeof(self.s.busy))
        # a budget past 2^62 positions can never run out: no limit (and no overflow of the C field)
        self.s.max_nodes = -1 if max_nodes is None or max_nodes >= 1 << 62 else int(max_nodes)
        self.s.deadline = -1.0 if time_limit is None else hx_now() + float(time_limit)
        try:
            for i in range(1, self.threads):
                t = threading.Thread(target=self._help, args=(i, black, white, to_move), daemon=True)
                t.start()
                self._helpers.append(t)
            with nogil:
                result = hx_solve(&self.workers[0], b, w, tm, key)
        finally:
            hx_atomic_store_int(&self.s.aborted, 1)     # the helpers stop at their next position
            self._join_helpers()
        return 1 if result == HX_WIN else (-1 if result == HX_LOSS else 0)

    def _join_helpers(self) -> None:
        """Stops and waits for the helper threads of the last search (started ones only)."""
        hx_atomic_store_int(&self.s.aborted, 1)
        while self._helpers:
            self._helpers[len(self._helpers) - 1].join()    # (no negative indices in this module)
            self._helpers.pop()

    def _help(self, int index, black: int, white: int, int to_move) -> None:
        """A helper thread's search from the root (solve_bits has set the shared state up)."""
        cdef uint64_t b = black, w = white
        cdef uint64_t key = self._key(b, w, to_move)
        with nogil:
            hx_solve(&self.workers[index], b, w, to_move, key)

    def principal_variation(self, black: int, white: int, to_move: int, max_length: int = 64) -> tuple[list[int], bool]:
        """The proven line from a solved position: the winner's proving moves, the loser's most stubborn ones.

        Returns:
            (moves, decided): the cells played, and whether the line ends where the connection
            knowledge alone decides the game (the rest is any play inside the winner's carrier).
        """
        self._check(black, white, to_move)
        black, white, turned = self._canonical(black, white)
        cdef uint64_t b = black, w = white
        cdef int tm = to_move, move
        cdef bint decided = False
        cdef uint64_t key = self._key(b, w, tm)
        line = []
        self.s.aborted = False
        self.s.max_nodes = -1
        self.s.deadline = -1.0
        while len(line) < max_length:
            if hx_has_joined(&self.s.geo, b, 0) or hx_has_joined(&self.s.geo, w, 1):
                return self._unturn(line, turned), False
            move = hx_pv_move(&self.workers[0], b, w, tm, key, &decided)
            if move < 0:
                return self._unturn(line, turned), False
            line.append(move)
            key ^= self.s.zobrist[tm][move] ^ self.s.zobrist_white
            if tm == 0:
                b |= (<uint64_t> 1) << move
            else:
                w |= (<uint64_t> 1) << move
            tm = 1 - tm
            if decided:
                return self._unturn(line, turned), True
        return self._unturn(line, turned), False

    def proof_tree(self, black: int, white: int, to_move: int) -> tuple[int, int]:
        """Size of the proof the table holds for a solved position: for diagnostics.

        Walks the stored proof: the winning move of each won position, every searched move of each
        lost one, down to the positions the knowledge decided (transpositions counted once).

        Returns:
            (positions, depth): the distinct positions of the proof (0 if the position is not
            proven) and its longest line in plies.
        """
        self._check(black, white, to_move)
        black, white, _ = self._canonical(black, white)
        seen: dict[int, int] = {}
        self._walk(black, white, to_move, self._key(black, white, to_move), seen, 0)
        return len(seen), max(seen.values(), default=0)

    cdef _walk(self, uint64_t black, uint64_t white, int to_move, uint64_t key, dict seen, int depth):
        cdef HxEntry e
        cdef uint64_t m, bit
        cdef int cell
        if key in seen or not hx_tt_read(self.s, key, &e) or not hx_proven(&e):
            return
        seen[key] = depth
        if e.decided:
            return
        m = ((<uint64_t> 1) << e.best) if e.phi == 0 and e.best >= 0 else (e.moves if e.delta == 0 else 0)
        while m:
            cell = hx_lowest(m)
            m &= m - 1
            bit = (<uint64_t> 1) << cell
            if to_move == 0:
                self._walk(black | bit, white, 1, key ^ self.s.zobrist[0][cell] ^ self.s.zobrist_white, seen, depth + 1)
            else:
                self._walk(black, white | bit, 0, key ^ self.s.zobrist[1][cell] ^ self.s.zobrist_white, seen, depth + 1)

    def moves(self, black: int, white: int, to_move: int) -> tuple[int, list[int], int]:
        """What the knowledge alone says of a position (no search): for tests and diagnostics.

        Returns:
            (verdict, moves, key): +1 won / -1 lost / 0 open for the player to move; the cells left
            to search after must-play, dead-cell and domination pruning; the winning move when one is known (else -1).
        """
        self._check(black, white, to_move)
        cdef uint64_t m, proof
        cdef int best, result
        cdef bint opp_sc
        result = hx_evaluate(&self.workers[0], black, white, to_move, False, True, True, &m, &best, &proof, &opp_sc)
        cells = [c for c in range(HX_CELLS) if (m >> c) & 1]
        return (1 if result == HX_WIN else (-1 if result == HX_LOSS else 0)), cells, best

    def dead_cells(self, black: int, white: int) -> list[int]:
        """The empty cells the dead-cell rule marks dead."""
        self._check(black, white, 0)
        cdef uint64_t empty = self.s.geo.all_cells & ~(<uint64_t> black) & ~(<uint64_t> white)
        cdef uint64_t d = hx_dead_cells(&self.s.geo, black, white, empty)
        return [c for c in range(HX_CELLS) if (d >> c) & 1]


def state_stone_sets(state) -> tuple[int, int, int, int]:
    """(board size, black's stones, white's stones, player to move) of a Hex state, checked."""
    if getattr(getattr(state, "game", None), "name", "") != "hex" or not hasattr(state, "board_size"):
        raise UnsolvableError(f"solve_hex needs a games.hex state, got {state!r}")
    if state.is_terminal():
        raise UnsolvableError(f"the game is already over in {state!r}")
    n = int(state.board_size)
    if n > HX_MAX_SIZE:
        raise UnsolvableError(f"the Hex solver handles boards up to {HX_MAX_SIZE}x{HX_MAX_SIZE}, got {n}x{n}")
    if getattr(state.game, "swap", False) and len(state.history()) < 2:
        raise UnsolvableError("the swap move is still open in this position: the solver plays Hex without it")
    obs = np.asarray(state.observation())
    to_move = int(state.current_player())
    bits = 1 << np.arange(n * n, dtype=object)
    mine = int((obs[0].reshape(-1).astype(bool) * bits).sum())
    theirs = int((obs[1].reshape(-1).astype(bool) * bits).sum())
    return (n, mine, theirs, to_move) if to_move == 0 else (n, theirs, mine, to_move)


_SOLVERS: dict[tuple[int, int], HexDfpn] = {}   # one solver (and table) per board size and thread count
_SOLVERS_LOCK = threading.Lock()     # a solver runs one search at a time (it releases the GIL)


def solve_hex(state, *, max_nodes: int | None = None, time_limit: float | None = None,
              threads: int = 1) -> SearchResult:
    """Solves a Hex position (boards up to 8 x 8, swap rule closed) by proof-number search.

    Args:
        state: a ``games.hex`` state, not finished.
        max_nodes: stop after evaluating this many positions (None: no limit).
        time_limit: stop after this many seconds (None: no limit).
        threads: search threads (1 to 64) sharing the table: more prove hard positions sooner on
            a machine with the cores for them; the limits count all of them together.

    Returns:
        SearchResult: when proven, ``is_proven``, ``proven_value`` and ``value`` +1 / -1 for the
        player to move, ``best_action`` a winning move (a lost position: the most stubborn
        defence), ``pv`` the proof's main line, ``stop_reason`` "proven"; ``extra`` holds
        ``expansions`` and ``pv_decided`` (the line ends where the connection knowledge decides).
        Unproven within the limits: ``is_proven`` False, ``value`` 0, ``stop_reason`` "nodes" or "time".

    Raises:
        UnsolvableError: not a Hex state, a finished game, a board over 8 x 8, or the swap still open.
        ValueError: a negative limit.
    """
    if max_nodes is not None and (isinstance(max_nodes, bool) or int(max_nodes) != max_nodes or max_nodes < 1):
        raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    n, black, white, to_move = state_stone_sets(state)
    with _SOLVERS_LOCK:
        solver = _SOLVERS.get((n, threads))
        if solver is None:
            solver = _SOLVERS[(n, threads)] = HexDfpn(n, threads=threads)
        start = time.monotonic()
        value = solver.solve_bits(black, white, to_move, max_nodes=max_nodes, time_limit=time_limit)
        seconds = time.monotonic() - start
        nodes, expansions = solver.nodes, solver.expansions
        if value != 0:
            pv, decided = solver.principal_variation(black, white, to_move)
    actions = tuple(state.legal_actions())
    if value == 0:
        reason = "nodes" if max_nodes is not None and nodes >= max_nodes else "time"
        return SearchResult(best_action=actions[0], value=0.0, actions=actions, nodes=nodes,
                            seconds=seconds, is_proven=False, stop_reason=reason,
                            extra={"expansions": expansions})
    return SearchResult(best_action=pv[0], value=float(value), actions=actions, pv=tuple(pv), score=value,
                        depth=len(pv), seldepth=len(pv), nodes=nodes, seconds=seconds, is_proven=True,
                        proven_value=value, stop_reason="proven",
                        extra={"expansions": expansions, "pv_decided": decided})


def is_solvable_hex(state) -> bool:
    """Whether :func:`solve_hex` takes ``state``: an unfinished Hex position up to 8 x 8, swap closed."""
    game = getattr(state, "game", None)
    return (getattr(game, "name", "") == "hex" and getattr(game, "board_size", 99) <= HX_MAX_SIZE
            and not (getattr(game, "swap", False) and len(state.history()) < 2) and not state.is_terminal())


def proof_text(state, *, time_limit: float = 1.0, threads: int = 1) -> str | None:
    """One line on the solver's verdict for the player to move, or None when it proves nothing in time.

    The line names the result, the proof's main line up to where the connection knowledge decides the
    game (its length is the distance given: plies until a virtual connection stands), and the cost.
    """
    if not is_solvable_hex(state):
        return None
    result = solve_hex(state, time_limit=time_limit, threads=threads)
    if not result.is_proven:
        return None
    line = " ".join(state.action_to_string(a) for a in result.pv)
    who = "win" if result.proven_value == 1 else "loss"
    end = "a virtual connection decides" if result.extra.get("pv_decided") else "the game ends"
    return (f"proven {who} for the side to move: main line {line} ({len(result.pv)} plies, after which {end}); "
            f"{result.nodes} positions in {result.seconds:.2f} s")
