"""Chess and Chess960 on bitboards in Cython: legal move generation, make/unmake, polyglot hashing.

The position (``CBoard``, see ``chessboard.pxd``) is plain data, so searches copy it with memcpy or
play on it with make/unmake. Sliding attacks come from tables indexed by PEXT (builds for a CPU with a
fast BMI2) or by magic multiplication with magics found at import (portable builds: ``PLYTREE_PORTABLE=1``,
CPUs without BMI2, AMD Zen 1/2, other architectures; see setup.py). Move generation is fully legal (pins, checks, en passant skewers, Chess960
castling through attacked squares), never generate-and-test.

Rules follow python-chess, which stays the reference: the hash equals
``chess.polyglot.zobrist_hash(board)``; en passant is hashed when a pawn stands ready to capture (as
polyglot), while the repetition rule compares positions with the en-passant square only when a legal
capture exists (as python-chess ``is_repetition``). Actions and observation planes are those of
``games/chess_encoding.py`` and ``games/chess.py``.
"""
from libc.stdint cimport uint64_t, uint32_t, uint16_t, int8_t, uint8_t, int32_t
from libc.string cimport memset, memcpy

import chess
import numpy as np

import games.chess as _chess
from games._cgame cimport CGame, CState, TERMINAL_PLAYER
from games._errors import IllegalActionError, InvalidActionError, InvalidStateError

cdef extern from *:
    """
    #include <stdint.h>
    /* Slider-table index: PEXT where the build targets BMI2 (setup.py passes -mbmi2 only when the
       build machine has a fast PEXT and PLYTREE_PORTABLE is unset), else magic multiplication with
       magics found at import. Both index tables of the same size (2^popcount(mask) per square). */
    #if defined(__BMI2__)
    #include <immintrin.h>
    #define CB_USE_PEXT 1
    static inline uint64_t cb_slider_index(uint64_t occ, uint64_t mask, uint64_t magic, int shift) {
        (void) magic; (void) shift; return _pext_u64(occ, mask);
    }
    #else
    #define CB_USE_PEXT 0
    static inline uint64_t cb_slider_index(uint64_t occ, uint64_t mask, uint64_t magic, int shift) {
        return ((occ & mask) * magic) >> shift;
    }
    #endif
    static inline int cb_lsb(uint64_t b) { return __builtin_ctzll(b); }
    static inline int cb_msb(uint64_t b) { return 63 - __builtin_clzll(b); }
    static inline int cb_popcount(uint64_t b) { return __builtin_popcountll(b); }
    #define CB_FILE_A 0x0101010101010101ULL
    #define CB_FILE_H 0x8080808080808080ULL
    #define CB_RANK_1 0xFFULL
    #define CB_RANK_8 0xFF00000000000000ULL
    #define CB_LIGHT_SQUARES 0x55AA55AA55AA55AAULL
    #define CB_DARK_SQUARES 0xAA55AA55AA55AA55ULL
    """
    const uint64_t FILE_A "CB_FILE_A"
    const uint64_t FILE_H "CB_FILE_H"
    const uint64_t RANK_1 "CB_RANK_1"
    const uint64_t RANK_8 "CB_RANK_8"
    const uint64_t LIGHT_SQUARES "CB_LIGHT_SQUARES"
    const uint64_t DARK_SQUARES "CB_DARK_SQUARES"
    uint64_t cb_slider_index(uint64_t occ, uint64_t mask, uint64_t magic, int shift) nogil
    const int CB_USE_PEXT
    int cb_lsb(uint64_t b) nogil
    int cb_msb(uint64_t b) nogil
    int cb_popcount(uint64_t b) nogil


# ---------------------------------------------------------------------------------------------------
# tables

cdef uint64_t KNIGHT_ATT[64]
cdef uint64_t KING_ATT[64]
cdef uint64_t PAWN_ATT[2][64]     # squares a pawn of colour c on s attacks
cdef uint64_t ROOK_MASK[64]
cdef uint64_t BISHOP_MASK[64]
cdef uint64_t ROOK_RAYS[64]       # empty-board rook attacks
cdef uint64_t BISHOP_RAYS[64]
cdef uint32_t ROOK_OFF[64]
cdef uint32_t BISHOP_OFF[64]
cdef uint64_t ROOK_MAGIC[64]      # magic multipliers (portable builds; unused with PEXT)
cdef uint64_t BISHOP_MAGIC[64]
cdef int ROOK_SHIFT[64]           # 64 - index bits
cdef int BISHOP_SHIFT[64]
cdef uint64_t ROOK_TABLE[102400]
cdef uint64_t BISHOP_TABLE[5248]
cdef uint64_t BETWEEN[64][64]     # squares strictly between two aligned squares, else 0
cdef uint64_t LINE[64][64]        # the whole line through two aligned squares, else 0
cdef int8_t PAIR_PLANE[4096]      # queen-like / knight plane of (from, to), or -1
cdef int8_t ACTION_TO[4672]       # target square of a queen-like or knight action, or -1

# polyglot keys
cdef uint64_t Z_PIECE[12][64]     # [piece code][square]
cdef uint64_t Z_CASTLE[16]        # [castling rights bits]
cdef uint64_t Z_EP[8]             # [file]
cdef uint64_t Z_TURN              # XORed in when white is to move


cdef uint64_t _slide(int sq, uint64_t occ, int bishop) noexcept nogil:
    cdef int dirs_r[4]
    cdef int dirs_f[4]
    cdef int i, r, f
    cdef uint64_t att = 0
    if bishop:
        dirs_r[:] = [1, 1, -1, -1]
        dirs_f[:] = [1, -1, 1, -1]
    else:
        dirs_r[:] = [1, -1, 0, 0]
        dirs_f[:] = [0, 0, 1, -1]
    for i in range(4):
        r = sq // 8 + dirs_r[i]
        f = sq % 8 + dirs_f[i]
        while 0 <= r < 8 and 0 <= f < 8:
            att |= (<uint64_t> 1) << (r * 8 + f)
            if occ & ((<uint64_t> 1) << (r * 8 + f)):
                break
            r += dirs_r[i]
            f += dirs_f[i]
    return att


cdef uint64_t _pdep(uint64_t x, uint64_t m) noexcept nogil:
    cdef uint64_t r = 0, bit = 1
    while m:
        if x & bit:
            r |= m & (0 - m)
        m &= m - 1
        bit <<= 1
    return r


cdef inline uint64_t _xorshift(uint64_t* state) noexcept nogil:
    state[0] ^= state[0] << 13
    state[0] ^= state[0] >> 7
    state[0] ^= state[0] << 17
    return state[0]


cdef uint64_t _fill_slider(uint64_t* table, int sq, uint64_t mask, int n, int bishop, uint64_t* rng) noexcept nogil:
    """Fills one square's 2^n attack sets; returns the magic (0 with PEXT: index = pext(occ, mask)).
    Portable builds search sparse random magics until no two occupancies with different attacks share
    an index (a few thousand tries at most per square)."""
    cdef uint64_t occ[4096]
    cdef uint64_t att[4096]
    cdef uint32_t stamp[4096]
    cdef uint64_t magic
    cdef uint32_t tries = 0
    cdef int i, shift = 64 - n
    cdef uint64_t idx
    cdef bint ok
    for i in range(1 << n):
        occ[i] = _pdep(<uint64_t> i, mask)
        att[i] = _slide(sq, occ[i], bishop)
    if CB_USE_PEXT:
        for i in range(1 << n):
            table[i] = att[i]
        return 0
    for i in range(1 << n):
        stamp[i] = 0
    while True:
        tries += 1
        magic = _xorshift(rng) & _xorshift(rng) & _xorshift(rng)
        if cb_popcount((mask * magic) & 0xFF00000000000000ULL) < 6:
            continue
        ok = True
        for i in range(1 << n):
            idx = ((occ[i] * magic) >> shift)
            if stamp[idx] != tries:
                stamp[idx] = tries
                table[idx] = att[i]
            elif table[idx] != att[i]:
                ok = False
                break
        if ok:
            return magic


cdef void _init_tables() noexcept nogil:
    cdef int sq, r, f, i, j, dr, df, n, s2, d
    cdef uint64_t edges, m
    cdef uint32_t off
    cdef uint64_t rng = 0x9E3779B97F4A7C15ULL   # fixed seed: the same magics every import
    cdef int kn_df[8]
    cdef int kn_dr[8]
    cdef int q_df[8]
    cdef int q_dr[8]
    kn_df[:] = [1, 2, 2, 1, -1, -2, -2, -1]
    kn_dr[:] = [2, 1, -1, -2, -2, -1, 1, 2]
    q_df[:] = [0, 1, 1, 1, 0, -1, -1, -1]
    q_dr[:] = [1, 1, 0, -1, -1, -1, 0, 1]
    for sq in range(64):
        r = sq // 8
        f = sq % 8
        KNIGHT_ATT[sq] = 0
        KING_ATT[sq] = 0
        for i in range(8):
            if 0 <= r + kn_dr[i] < 8 and 0 <= f + kn_df[i] < 8:
                KNIGHT_ATT[sq] |= (<uint64_t> 1) << ((r + kn_dr[i]) * 8 + f + kn_df[i])
            if 0 <= r + q_dr[i] < 8 and 0 <= f + q_df[i] < 8:
                KING_ATT[sq] |= (<uint64_t> 1) << ((r + q_dr[i]) * 8 + f + q_df[i])
        PAWN_ATT[0][sq] = 0
        PAWN_ATT[1][sq] = 0
        if r < 7:
            if f > 0:
                PAWN_ATT[0][sq] |= (<uint64_t> 1) << (sq + 7)
            if f < 7:
                PAWN_ATT[0][sq] |= (<uint64_t> 1) << (sq + 9)
        if r > 0:
            if f > 0:
                PAWN_ATT[1][sq] |= (<uint64_t> 1) << (sq - 9)
            if f < 7:
                PAWN_ATT[1][sq] |= (<uint64_t> 1) << (sq - 7)
    off = 0
    for sq in range(64):
        r = sq // 8
        f = sq % 8
        edges = (((RANK_1 | RANK_8) & ~(RANK_1 << (8 * r))) | ((FILE_A | FILE_H) & ~(FILE_A << f)))
        ROOK_RAYS[sq] = _slide(sq, 0, 0)
        ROOK_MASK[sq] = ROOK_RAYS[sq] & ~edges
        ROOK_OFF[sq] = off
        n = cb_popcount(ROOK_MASK[sq])
        ROOK_SHIFT[sq] = 64 - n
        ROOK_MAGIC[sq] = _fill_slider(ROOK_TABLE + off, sq, ROOK_MASK[sq], n, 0, &rng)
        off += 1 << n
    off = 0
    for sq in range(64):
        r = sq // 8
        f = sq % 8
        edges = (((RANK_1 | RANK_8) & ~(RANK_1 << (8 * r))) | ((FILE_A | FILE_H) & ~(FILE_A << f)))
        BISHOP_RAYS[sq] = _slide(sq, 0, 1)
        BISHOP_MASK[sq] = BISHOP_RAYS[sq] & ~edges
        BISHOP_OFF[sq] = off
        n = cb_popcount(BISHOP_MASK[sq])
        BISHOP_SHIFT[sq] = 64 - n
        BISHOP_MAGIC[sq] = _fill_slider(BISHOP_TABLE + off, sq, BISHOP_MASK[sq], n, 1, &rng)
        off += 1 << n
    for i in range(64):
        for j in range(64):
            BETWEEN[i][j] = 0
            LINE[i][j] = 0
            if i == j:
                continue
            if ROOK_RAYS[i] & ((<uint64_t> 1) << j):
                LINE[i][j] = (ROOK_RAYS[i] & ROOK_RAYS[j]) | ((<uint64_t> 1) << i) | ((<uint64_t> 1) << j)
                BETWEEN[i][j] = _slide(i, (<uint64_t> 1) << j, 0) & _slide(j, (<uint64_t> 1) << i, 0)
            elif BISHOP_RAYS[i] & ((<uint64_t> 1) << j):
                LINE[i][j] = (BISHOP_RAYS[i] & BISHOP_RAYS[j]) | ((<uint64_t> 1) << i) | ((<uint64_t> 1) << j)
                BETWEEN[i][j] = _slide(i, (<uint64_t> 1) << j, 1) & _slide(j, (<uint64_t> 1) << i, 1)
    for i in range(4096):
        PAIR_PLANE[i] = -1
    for i in range(4672):
        ACTION_TO[i] = -1
    for sq in range(64):
        r = sq // 8
        f = sq % 8
        for d in range(8):
            for n in range(1, 8):
                if 0 <= r + q_dr[d] * n < 8 and 0 <= f + q_df[d] * n < 8:
                    s2 = (r + q_dr[d] * n) * 8 + f + q_df[d] * n
                    PAIR_PLANE[sq * 64 + s2] = d * 7 + n - 1
                    ACTION_TO[sq * 73 + d * 7 + n - 1] = s2
        for d in range(8):
            if 0 <= r + kn_dr[d] < 8 and 0 <= f + kn_df[d] < 8:
                s2 = (r + kn_dr[d]) * 8 + f + kn_df[d]
                PAIR_PLANE[sq * 64 + s2] = 56 + d
                ACTION_TO[sq * 73 + 56 + d] = s2


def _init_keys():
    import chess.polyglot
    arr = chess.polyglot.POLYGLOT_RANDOM_ARRAY
    cdef int c, t, sq, bits, i
    global Z_TURN
    for c in range(2):
        for t in range(6):
            for sq in range(64):
                # polyglot kind: black pawn 0, white pawn 1, black knight 2, ...
                Z_PIECE[t + 6 * c][sq] = <uint64_t> arr[64 * (2 * t + (1 - c)) + sq]
    for bits in range(16):
        Z_CASTLE[bits] = 0
        for i in range(4):
            if bits & (1 << i):
                Z_CASTLE[bits] ^= <uint64_t> arr[768 + i]
    for i in range(8):
        Z_EP[i] = <uint64_t> arr[772 + i]
    Z_TURN = <uint64_t> arr[780]


_init_tables()
SLIDER_INDEX = "pext" if CB_USE_PEXT else "magic"   # how this build indexes its slider tables
_init_keys()

# ---------------------------------------------------------------------------------------------------
# attacks

cdef inline uint64_t bb(int sq) noexcept nogil:
    return (<uint64_t> 1) << sq

cdef uint64_t cb_rook_attacks(int sq, uint64_t occ) noexcept nogil:
    return ROOK_TABLE[ROOK_OFF[sq] + cb_slider_index(occ, ROOK_MASK[sq], ROOK_MAGIC[sq], ROOK_SHIFT[sq])]

cdef uint64_t cb_bishop_attacks(int sq, uint64_t occ) noexcept nogil:
    return BISHOP_TABLE[BISHOP_OFF[sq] + cb_slider_index(occ, BISHOP_MASK[sq], BISHOP_MAGIC[sq], BISHOP_SHIFT[sq])]

cdef inline uint64_t rook_att(int sq, uint64_t occ) noexcept nogil:
    return ROOK_TABLE[ROOK_OFF[sq] + cb_slider_index(occ, ROOK_MASK[sq], ROOK_MAGIC[sq], ROOK_SHIFT[sq])]

cdef inline uint64_t bishop_att(int sq, uint64_t occ) noexcept nogil:
    return BISHOP_TABLE[BISHOP_OFF[sq] + cb_slider_index(occ, BISHOP_MASK[sq], BISHOP_MAGIC[sq], BISHOP_SHIFT[sq])]

cdef uint64_t cb_attackers(const CBoard* b, int sq, uint64_t occ) noexcept nogil:
    return ((PAWN_ATT[1][sq] & b.pieces[CB_PAWN] & b.colors[0])
            | (PAWN_ATT[0][sq] & b.pieces[CB_PAWN] & b.colors[1])
            | (KNIGHT_ATT[sq] & b.pieces[CB_KNIGHT])
            | (KING_ATT[sq] & b.pieces[CB_KING])
            | (rook_att(sq, occ) & (b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]))
            | (bishop_att(sq, occ) & (b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN])))

cdef inline bint attacked_by(const CBoard* b, int sq, int them, uint64_t occ) noexcept nogil:
    """Whether colour `them` attacks sq, sliders seen through occupancy occ."""
    cdef uint64_t enemy = b.colors[them]
    if PAWN_ATT[1 - them][sq] & b.pieces[CB_PAWN] & enemy:
        return True
    if KNIGHT_ATT[sq] & b.pieces[CB_KNIGHT] & enemy:
        return True
    if KING_ATT[sq] & b.pieces[CB_KING] & enemy:
        return True
    if rook_att(sq, occ) & (b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]) & enemy:
        return True
    if bishop_att(sq, occ) & (b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN]) & enemy:
        return True
    return False

cdef inline int king_sq(const CBoard* b, int c) noexcept nogil:
    return cb_lsb(b.pieces[CB_KING] & b.colors[c])

cdef bint cb_in_check(const CBoard* b) noexcept nogil:
    return attacked_by(b, king_sq(b, b.turn), 1 - b.turn, b.colors[0] | b.colors[1])

# ---------------------------------------------------------------------------------------------------
# move generation

cdef inline uint16_t mk(int frm, int to, int flag) noexcept nogil:
    return <uint16_t> (frm | (to << 6) | (flag << 12))

cdef inline bint ep_capture_legal(const CBoard* b, int frm, int ksq) noexcept nogil:
    """Whether the en-passant capture by the pawn on frm leaves the own king (on ksq) safe."""
    cdef int us = b.turn, them = 1 - b.turn
    cdef int ep = b.ep
    cdef int cap = ep - 8 if us == CB_WHITE else ep + 8
    cdef uint64_t occ = ((b.colors[0] | b.colors[1]) ^ bb(frm) ^ bb(cap)) | bb(ep)
    cdef uint64_t enemy = b.colors[them] & ~bb(cap)
    if rook_att(ksq, occ) & (b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]) & enemy:
        return False
    if bishop_att(ksq, occ) & (b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN]) & enemy:
        return False
    if KNIGHT_ATT[ksq] & b.pieces[CB_KNIGHT] & enemy:
        return False
    if PAWN_ATT[us][ksq] & b.pieces[CB_PAWN] & enemy:
        return False
    return True

cdef inline uint64_t ep_capturers(const CBoard* b) noexcept nogil:
    """Own pawns placed to capture en passant (pseudo-legal, as python-chess generate_pseudo_legal_ep)."""
    cdef int us = b.turn
    cdef int ep = b.ep
    if ep < 0 or (b.colors[0] | b.colors[1]) & bb(ep):
        return 0
    if us == CB_WHITE:
        if ep // 8 != 5 or not (b.board[ep - 8] == CB_PAWN + 6):
            return 0
    else:
        if ep // 8 != 2 or not (b.board[ep + 8] == CB_PAWN):
            return 0
    return PAWN_ATT[1 - us][ep] & b.pieces[CB_PAWN] & b.colors[us]

cdef bint has_legal_ep(const CBoard* b) noexcept nogil:
    cdef uint64_t caps = ep_capturers(b)
    cdef int ksq
    if not caps:
        return False
    ksq = king_sq(b, b.turn)
    while caps:
        if ep_capture_legal(b, cb_lsb(caps), ksq):
            return True
        caps &= caps - 1
    return False

cdef inline int add_pawn_moves(uint16_t* out, int n, int frm, int to, bint promo, bint under) noexcept nogil:
    if promo:
        out[n] = mk(frm, to, CB_QUEEN)
        n += 1
        if under:
            out[n] = mk(frm, to, CB_KNIGHT)
            out[n + 1] = mk(frm, to, CB_BISHOP)
            out[n + 2] = mk(frm, to, CB_ROOK)
            n += 3
    else:
        out[n] = mk(frm, to, CB_NORMAL)
        n += 1
    return n

cdef inline uint64_t pinned_pieces(const CBoard* b, int ksq, int us) noexcept nogil:
    cdef int them = 1 - us
    cdef uint64_t occ = b.colors[0] | b.colors[1]
    cdef uint64_t snipers = ((ROOK_RAYS[ksq] & (b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]))
                             | (BISHOP_RAYS[ksq] & (b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN]))) & b.colors[them]
    cdef uint64_t pinned = 0, blockers
    cdef int s
    while snipers:
        s = cb_lsb(snipers)
        snipers &= snipers - 1
        blockers = BETWEEN[ksq][s] & occ
        if blockers and not (blockers & (blockers - 1)) and (blockers & b.colors[us]):
            pinned |= blockers
    return pinned

cdef int gen(const CBoard* b, uint16_t* out, bint captures_only) noexcept nogil:
    """Legal moves (all, or captures/ep/promotions only: queen promotions only for those) into out."""
    cdef int us = b.turn, them = 1 - b.turn
    cdef uint64_t own = b.colors[us], enemy = b.colors[them]
    cdef uint64_t occ = own | enemy
    cdef int ksq = king_sq(b, us)
    cdef uint64_t checkers = cb_attackers(b, ksq, occ) & enemy
    cdef uint64_t pinned, target, att, pieces, p, single, dbl, caps_l, caps_r, promo_rank, allowed
    cdef uint64_t occ_nok = occ ^ bb(ksq)
    cdef int n = 0, frm, to, c, i, rsq, kto, rto
    cdef bint under = not captures_only
    cdef uint64_t quiet_ok = ~(<uint64_t> 0) if not captures_only else 0

    # king moves
    att = KING_ATT[ksq] & ~own
    if captures_only:
        att &= enemy
    while att:
        to = cb_lsb(att)
        att &= att - 1
        if not attacked_by(b, to, them, occ_nok):
            out[n] = mk(ksq, to, CB_NORMAL)
            n += 1
    if checkers and (checkers & (checkers - 1)):
        return n
    if checkers:
        c = cb_lsb(checkers)
        target = BETWEEN[ksq][c] | checkers
    else:
        target = ~own
    pinned = pinned_pieces(b, ksq, us)
    # the capture target, and where quiet moves may go
    cdef uint64_t cap_target = target & enemy
    cdef uint64_t move_target = target & (enemy | (~occ & quiet_ok))

    # knights (a pinned knight never moves)
    pieces = b.pieces[CB_KNIGHT] & own & ~pinned
    while pieces:
        frm = cb_lsb(pieces)
        pieces &= pieces - 1
        att = KNIGHT_ATT[frm] & move_target
        while att:
            out[n] = mk(frm, cb_lsb(att), CB_NORMAL)
            n += 1
            att &= att - 1
    # diagonal sliders
    pieces = (b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN]) & own
    while pieces:
        frm = cb_lsb(pieces)
        pieces &= pieces - 1
        att = bishop_att(frm, occ) & move_target
        if pinned & bb(frm):
            att &= LINE[ksq][frm]
        while att:
            out[n] = mk(frm, cb_lsb(att), CB_NORMAL)
            n += 1
            att &= att - 1
    # straight sliders
    pieces = (b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]) & own
    while pieces:
        frm = cb_lsb(pieces)
        pieces &= pieces - 1
        att = rook_att(frm, occ) & move_target
        if pinned & bb(frm):
            att &= LINE[ksq][frm]
        while att:
            out[n] = mk(frm, cb_lsb(att), CB_NORMAL)
            n += 1
            att &= att - 1

    # pawns: unpinned ones set-wise
    pieces = b.pieces[CB_PAWN] & own
    p = pieces & ~pinned
    if us == CB_WHITE:
        promo_rank = RANK_8
        single = (p << 8) & ~occ
        dbl = ((single & (RANK_1 << 16)) << 8) & ~occ & target
        single &= target
        caps_l = ((p & ~FILE_A) << 7) & cap_target
        caps_r = ((p & ~FILE_H) << 9) & cap_target
        if captures_only:
            single &= promo_rank
            dbl = 0
        while single:
            to = cb_lsb(single)
            single &= single - 1
            n = add_pawn_moves(out, n, to - 8, to, to >= 56, under)
        while dbl:
            to = cb_lsb(dbl)
            dbl &= dbl - 1
            out[n] = mk(to - 16, to, CB_NORMAL)
            n += 1
        while caps_l:
            to = cb_lsb(caps_l)
            caps_l &= caps_l - 1
            n = add_pawn_moves(out, n, to - 7, to, to >= 56, under)
        while caps_r:
            to = cb_lsb(caps_r)
            caps_r &= caps_r - 1
            n = add_pawn_moves(out, n, to - 9, to, to >= 56, under)
    else:
        promo_rank = RANK_1
        single = (p >> 8) & ~occ
        dbl = ((single & (RANK_1 << 40)) >> 8) & ~occ & target
        single &= target
        caps_l = ((p & ~FILE_A) >> 9) & cap_target
        caps_r = ((p & ~FILE_H) >> 7) & cap_target
        if captures_only:
            single &= promo_rank
            dbl = 0
        while single:
            to = cb_lsb(single)
            single &= single - 1
            n = add_pawn_moves(out, n, to + 8, to, to < 8, under)
        while dbl:
            to = cb_lsb(dbl)
            dbl &= dbl - 1
            out[n] = mk(to + 16, to, CB_NORMAL)
            n += 1
        while caps_l:
            to = cb_lsb(caps_l)
            caps_l &= caps_l - 1
            n = add_pawn_moves(out, n, to + 9, to, to < 8, under)
        while caps_r:
            to = cb_lsb(caps_r)
            caps_r &= caps_r - 1
            n = add_pawn_moves(out, n, to + 7, to, to < 8, under)
    # pinned pawns one by one, along the pin line
    p = pieces & pinned
    while p:
        frm = cb_lsb(p)
        p &= p - 1
        allowed = LINE[ksq][frm] & target
        att = PAWN_ATT[us][frm] & enemy & allowed
        to = frm + 8 if us == CB_WHITE else frm - 8
        if not (occ & bb(to)):
            if (allowed & bb(to)) and (not captures_only or (promo_rank & bb(to))):
                att |= bb(to)
            i = to + 8 if us == CB_WHITE else to - 8
            if not captures_only and (frm // 8 == (1 if us == CB_WHITE else 6)) and not (occ & bb(i)) and (allowed & bb(i)):
                out[n] = mk(frm, i, CB_NORMAL)
                n += 1
        while att:
            to = cb_lsb(att)
            att &= att - 1
            n = add_pawn_moves(out, n, frm, to, (promo_rank & bb(to)) != 0, under)
    # en passant, tested by playing it on the occupancy
    att = ep_capturers(b)
    while att:
        frm = cb_lsb(att)
        att &= att - 1
        if ep_capture_legal(b, frm, ksq):
            out[n] = mk(frm, b.ep, CB_EP)
            n += 1
    # castling (king takes own rook), as python-chess generate_castling_moves
    if not captures_only and not checkers and b.castling:
        for i in range(2 * us, 2 * us + 2):
            if not (b.castling & (1 << i)):
                continue
            rsq = b.castle_rook[i]
            if rsq > ksq:
                kto = (ksq & 56) + 6
                rto = (ksq & 56) + 5
            else:
                kto = (ksq & 56) + 2
                rto = (ksq & 56) + 3
            if (occ ^ bb(ksq) ^ bb(rsq)) & (BETWEEN[ksq][kto] | BETWEEN[rsq][rto] | bb(kto) | bb(rto)):
                continue
            att = BETWEEN[ksq][kto]
            c = 0
            while att:
                if attacked_by(b, cb_lsb(att), them, occ_nok):
                    c = 1
                    break
                att &= att - 1
            if c:
                continue
            if attacked_by(b, kto, them, occ ^ bb(ksq) ^ bb(rsq) ^ bb(rto)):
                continue
            out[n] = mk(ksq, rsq, CB_CASTLE)
            n += 1
    return n

cdef int cb_generate(const CBoard* b, uint16_t* out) noexcept nogil:
    return gen(b, out, False)

cdef int cb_generate_captures(const CBoard* b, uint16_t* out) noexcept nogil:
    return gen(b, out, True)

# ---------------------------------------------------------------------------------------------------
# make / unmake

cdef inline void put(CBoard* b, int sq, int code) noexcept nogil:
    b.board[sq] = <int8_t> code
    b.pieces[code % 6] |= bb(sq)
    b.colors[code // 6] |= bb(sq)
    b.hash ^= Z_PIECE[code][sq]

cdef inline void remove(CBoard* b, int sq, int code) noexcept nogil:
    b.board[sq] = CB_EMPTY
    b.pieces[code % 6] &= ~bb(sq)
    b.colors[code // 6] &= ~bb(sq)
    b.hash ^= Z_PIECE[code][sq]

cdef inline void put_nohash(CBoard* b, int sq, int code) noexcept nogil:
    b.board[sq] = <int8_t> code
    b.pieces[code % 6] |= bb(sq)
    b.colors[code // 6] |= bb(sq)

cdef inline void remove_nohash(CBoard* b, int sq, int code) noexcept nogil:
    b.board[sq] = CB_EMPTY
    b.pieces[code % 6] &= ~bb(sq)
    b.colors[code // 6] &= ~bb(sq)

cdef inline void set_ep_state(CBoard* b) noexcept nogil:
    """After b.ep changed: hash the ep file when a pawn stands ready (polyglot), note legality."""
    b.ep_unhashable = 0
    if b.ep >= 0 and ep_capturers(b):
        b.hash ^= Z_EP[b.ep & 7]
        if not has_legal_ep(b):
            b.ep_unhashable = 1

cdef inline bint ep_hashed(const CBoard* b) noexcept nogil:
    return b.ep >= 0 and ep_capturers(b) != 0

cdef void cb_make(CBoard* b, uint16_t m) noexcept nogil:
    cdef CBUndo* u = &b.undo[b.ply & (CB_RING - 1)]
    cdef int frm = m & 63, to = (m >> 6) & 63, flag = m >> 12
    cdef int us = b.turn, them = 1 - b.turn
    cdef int code = b.board[frm]
    cdef int captured = CB_EMPTY
    cdef int i, kto, rto, rank0
    u.hash = b.hash
    u.move = m
    u.halfmove = b.halfmove
    u.ep = b.ep
    u.castling = b.castling
    u.ep_unhashable = b.ep_unhashable
    # the ep file and castling leave the hash; they are hashed in again below
    if b.ep >= 0 and ep_capturers(b):
        b.hash ^= Z_EP[b.ep & 7]
    b.hash ^= Z_CASTLE[b.castling]
    b.halfmove += 1
    if flag == CB_CASTLE:
        rank0 = frm & 56
        if to > frm:
            kto = rank0 + 6
            rto = rank0 + 5
        else:
            kto = rank0 + 2
            rto = rank0 + 3
        remove(b, frm, code)
        remove(b, to, CB_ROOK + 6 * us)
        put(b, kto, code)
        put(b, rto, CB_ROOK + 6 * us)
    else:
        if flag == CB_EP:
            i = to - 8 if us == CB_WHITE else to + 8
            captured = b.board[i]
            remove(b, i, captured)
        elif b.board[to] != CB_EMPTY:
            captured = b.board[to]
            remove(b, to, captured)
        remove(b, frm, code)
        if 1 <= flag <= 4:
            put(b, to, flag + 6 * us)
        else:
            put(b, to, code)
        if code % 6 == CB_PAWN or captured != CB_EMPTY:
            b.halfmove = 0
    u.captured = <int8_t> captured
    # castling rights
    if b.castling:
        if code % 6 == CB_KING:
            b.castling &= ~(3 << (2 * us))
        for i in range(4):
            if b.castle_rook[i] == frm or b.castle_rook[i] == to:
                b.castling &= ~(1 << i)
    b.hash ^= Z_CASTLE[b.castling]
    b.ep = CB_NO_SQUARE
    if code % 6 == CB_PAWN and (to - frm == 16 or frm - to == 16):
        b.ep = (frm + to) // 2
    if us == CB_BLACK:
        b.fullmove += 1
    b.turn = them
    b.hash ^= Z_TURN
    set_ep_state(b)
    b.ply += 1
    if b.undo_count < CB_RING:
        b.undo_count += 1

cdef void cb_unmake(CBoard* b) noexcept nogil:
    b.ply -= 1
    b.undo_count -= 1
    cdef CBUndo* u = &b.undo[b.ply & (CB_RING - 1)]
    cdef uint16_t m = u.move
    cdef int frm = m & 63, to = (m >> 6) & 63, flag = m >> 12
    cdef int us = 1 - b.turn
    cdef int code, kto, rto, rank0
    b.turn = us
    if flag == CB_CASTLE:
        rank0 = frm & 56
        if to > frm:
            kto = rank0 + 6
            rto = rank0 + 5
        else:
            kto = rank0 + 2
            rto = rank0 + 3
        remove_nohash(b, kto, CB_KING + 6 * us)
        remove_nohash(b, rto, CB_ROOK + 6 * us)
        put_nohash(b, frm, CB_KING + 6 * us)
        put_nohash(b, to, CB_ROOK + 6 * us)
    else:
        code = b.board[to]
        remove_nohash(b, to, code)
        if 1 <= flag <= 4:
            code = CB_PAWN + 6 * us
        put_nohash(b, frm, code)
        if u.captured != CB_EMPTY:
            if flag == CB_EP:
                put_nohash(b, to - 8 if us == CB_WHITE else to + 8, u.captured)
            else:
                put_nohash(b, to, u.captured)
    if us == CB_BLACK:
        b.fullmove -= 1
    b.hash = u.hash
    b.halfmove = u.halfmove
    b.ep = u.ep
    b.castling = u.castling
    b.ep_unhashable = u.ep_unhashable

cdef void cb_make_null(CBoard* b) noexcept nogil:
    cdef CBUndo* u = &b.undo[b.ply & (CB_RING - 1)]
    u.hash = b.hash
    u.move = 0
    u.halfmove = b.halfmove
    u.ep = b.ep
    u.castling = b.castling
    u.ep_unhashable = b.ep_unhashable
    u.captured = CB_EMPTY
    if b.ep >= 0 and ep_capturers(b):
        b.hash ^= Z_EP[b.ep & 7]
    b.ep = CB_NO_SQUARE
    b.ep_unhashable = 0
    b.turn = 1 - b.turn
    b.hash ^= Z_TURN
    b.halfmove += 1
    b.ply += 1
    if b.undo_count < CB_RING:
        b.undo_count += 1

cdef void cb_unmake_null(CBoard* b) noexcept nogil:
    b.ply -= 1
    b.undo_count -= 1
    cdef CBUndo* u = &b.undo[b.ply & (CB_RING - 1)]
    b.turn = 1 - b.turn
    b.hash = u.hash
    b.halfmove = u.halfmove
    b.ep = u.ep
    b.ep_unhashable = u.ep_unhashable

cdef bint cb_gives_check(CBoard* b, uint16_t m) noexcept nogil:
    cb_make(b, m)
    cdef bint r = cb_in_check(b)
    cb_unmake(b)
    return r

# ---------------------------------------------------------------------------------------------------
# rules of the end

cdef int cb_repetitions(const CBoard* b) noexcept nogil:
    cdef int n = b.halfmove
    cdef int i, count = 0
    cdef const CBUndo* u
    cdef uint64_t key = b.hash, k
    if n > b.undo_count:
        n = b.undo_count
    if n < 4:
        return 0
    if b.ep_unhashable:
        key ^= Z_EP[b.ep & 7]
    i = 2
    while i <= n:
        u = &b.undo[(b.ply - i) & (CB_RING - 1)]
        k = u.hash
        if u.ep_unhashable:
            k ^= Z_EP[u.ep & 7]
        if k == key:
            count += 1
        i += 2
    return count

cdef bint side_insufficient(const CBoard* b, int c) noexcept nogil:
    cdef uint64_t mine = b.colors[c]
    cdef uint64_t bishops
    if mine & (b.pieces[CB_PAWN] | b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]):
        return False
    if mine & b.pieces[CB_KNIGHT]:
        return cb_popcount(mine) <= 2 and not (b.colors[1 - c] & ~b.pieces[CB_KING] & ~b.pieces[CB_QUEEN])
    if mine & b.pieces[CB_BISHOP]:
        bishops = b.pieces[CB_BISHOP]
        return (not (bishops & DARK_SQUARES) or not (bishops & LIGHT_SQUARES)) and not b.pieces[CB_PAWN] and not b.pieces[CB_KNIGHT]
    return True

cdef bint cb_insufficient_material(const CBoard* b) noexcept nogil:
    return side_insufficient(b, 0) and side_insufficient(b, 1)

cdef int cb_terminal_value(const CBoard* b, int* n_legal) noexcept nogil:
    """2 while the game runs, else white's result (+1, 0, -1). The rules, in python-chess's order:
    checkmate and stalemate, insufficient material, the fifty-move rule (halfmove clock >= 100, as a
    claimed draw) and threefold repetition (as a claimed draw)."""
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int n = gen(b, moves, False)
    n_legal[0] = n
    if n == 0:
        if cb_in_check(b):
            return -1 if b.turn == CB_WHITE else 1
        return 0
    if cb_insufficient_material(b):
        return 0
    if b.halfmove >= 100:
        return 0
    if cb_repetitions(b) >= 2:
        return 0
    return 2

# ---------------------------------------------------------------------------------------------------
# actions

cdef int cb_move_to_action(uint16_t m) noexcept nogil:
    cdef int frm = m & 63, to = (m >> 6) & 63, flag = m >> 12
    if CB_KNIGHT <= flag <= CB_ROOK:
        return frm * 73 + 64 + ((to & 7) - (frm & 7) + 1) * 3 + (flag - 1)
    return frm * 73 + PAIR_PLANE[frm * 64 + to]

cdef uint16_t cb_action_to_move(const CBoard* b, int action) noexcept nogil:
    cdef int frm = action // 73, plane = action % 73
    cdef int to, code, t
    if plane >= 64:
        plane -= 64
        to = frm + (plane // 3 - 1) + (8 if b.turn == CB_WHITE else -8)
        return mk(frm, to & 63, 1 + plane % 3)
    to = ACTION_TO[action]
    if to < 0:
        to = frm
    code = b.board[frm]
    t = code % 6 if code >= 0 else -1
    if t == CB_PAWN:
        if to >= 56 or to < 8:
            return mk(frm, to, CB_QUEEN)
        if to == b.ep and (to & 7) != (frm & 7) and b.board[to] == CB_EMPTY:
            return mk(frm, to, CB_EP)
    elif t == CB_KING and b.board[to] == CB_ROOK + 6 * b.turn:
        return mk(frm, to, CB_CASTLE)
    return mk(frm, to, CB_NORMAL)

cdef void sort_ints(int* a, int n) noexcept nogil:
    cdef int i, j, x
    for i in range(1, n):
        x = a[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x

# ---------------------------------------------------------------------------------------------------
# perft

cdef uint64_t cb_perft(CBoard* b, int depth) noexcept nogil:
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int n, i
    cdef uint64_t total = 0
    if depth <= 0:
        return 1
    n = gen(b, moves, False)
    if depth == 1:
        return n
    for i in range(n):
        cb_make(b, moves[i])
        total += cb_perft(b, depth - 1)
        cb_unmake(b)
    return total

# ---------------------------------------------------------------------------------------------------
# the C game interface

cdef int cg_legal(const void* st, int* out) noexcept nogil:
    cdef const CBoard* b = <const CBoard*> st
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int n = gen(b, moves, False), i
    if n == 0:
        return 0
    if cb_insufficient_material(b) or b.halfmove >= 100 or cb_repetitions(b) >= 2:
        return 0
    for i in range(n):
        out[i] = cb_move_to_action(moves[i])
    sort_ints(out, n)
    return n

cdef void cg_apply(void* st, int action) noexcept nogil:
    cdef CBoard* b = <CBoard*> st
    cb_make(b, cb_action_to_move(b, action))

cdef void cg_undo(void* st) noexcept nogil:
    cb_unmake(<CBoard*> st)

cdef bint cg_is_terminal(const void* st) noexcept nogil:
    cdef int n
    return cb_terminal_value(<const CBoard*> st, &n) != 2

cdef int cg_player(const void* st) noexcept nogil:
    if cg_is_terminal(st):
        return TERMINAL_PLAYER
    return (<const CBoard*> st).turn

cdef uint64_t cg_hash(const void* st) noexcept nogil:
    return (<const CBoard*> st).hash

cdef double cg_returns0(const void* st) noexcept nogil:
    cdef int n
    cdef int v = cb_terminal_value(<const CBoard*> st, &n)
    return 0.0 if v == 2 else <double> v

cdef double cg_rollout(void* st, uint64_t* rng) noexcept nogil:
    cdef CBoard* b = <CBoard*> st
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int n, v
    cdef uint64_t z
    while True:
        v = cb_terminal_value(b, &n)
        if v != 2:
            return <double> v
        n = gen(b, moves, False)
        # splitmix64 step
        rng[0] += 0x9E3779B97F4A7C15ULL
        z = rng[0]
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        z = z ^ (z >> 31)
        cb_make(b, moves[z % <uint64_t> n])

cdef CGame CHESS_GAME
CHESS_GAME.state_size = sizeof(CBoard)
CHESS_GAME.num_actions = CB_NUM_ACTIONS
CHESS_GAME.max_legal = CB_MAX_MOVES
CHESS_GAME.max_game_length = 1000     # the games' adjudication cap (games.chess.MAX_GAME_LENGTH)
CHESS_GAME.legal_actions = cg_legal
CHESS_GAME.apply_action = cg_apply
CHESS_GAME.undo_action = cg_undo
CHESS_GAME.current_player = cg_player
CHESS_GAME.hash = cg_hash
CHESS_GAME.is_terminal = cg_is_terminal
CHESS_GAME.returns0 = cg_returns0
CHESS_GAME.rollout = cg_rollout

# ---------------------------------------------------------------------------------------------------
# Python side

OBSERVATION_SHAPE = (19, 8, 8)
_PIECE_CHARS = "PNBRQKpnbrqk"


cdef void _board_clear(CBoard* b) noexcept nogil:
    memset(b, 0, sizeof(CBoard))
    cdef int i
    for i in range(64):
        b.board[i] = CB_EMPTY
    for i in range(4):
        b.castle_rook[i] = CB_NO_SQUARE
    b.ep = CB_NO_SQUARE
    b.fullmove = 1


cdef void _board_rehash(CBoard* b) noexcept nogil:
    """Recomputes the hash and ep flags of a position set up square by square."""
    cdef int sq
    b.hash = 0
    for sq in range(64):
        if b.board[sq] != CB_EMPTY:
            b.hash ^= Z_PIECE[b.board[sq]][sq]
    b.hash ^= Z_CASTLE[b.castling]
    if b.turn == CB_WHITE:
        b.hash ^= Z_TURN
    set_ep_state(b)


cdef str _termination(const CBoard* b):
    cdef int n
    cdef int v = cb_terminal_value(b, &n)
    if v == 2:
        return None
    if n == 0:
        return "checkmate" if v != 0 else "stalemate"
    if cb_insufficient_material(b):
        return "insufficient material"
    if b.halfmove >= 100:
        return "fifty-move rule"
    return "threefold repetition"


cdef class ChessBoardState(CState):
    """A chess or Chess960 position on bitboards, with the moves played since it was loaded.

    The same protocol, actions, observation, hash and rules as ``games.chess.ChessState`` (python-chess),
    about a hundred times faster. ``apply_action`` is the unchecked fast path; ``apply_action_checked``
    checks. Build one with ``game.new_initial_state()``, ``game.deserialize(fen)``,
    :func:`from_board` or :func:`from_fen`.
    """

    def __cinit__(self):
        _board_clear(&self.s)
        self.data = &self.s
        self.cgame = &CHESS_GAME

    # -- conversion -----------------------------------------------------------------------------

    @classmethod
    def from_board(cls, board, game=None):
        """Same as the module's :func:`from_board`."""
        return from_board(board, game)

    @property
    def board(self):
        """A python-chess board of this position, with the moves since the loaded position on its stack."""
        return self.to_board()

    def to_board(self, bint with_history=True):
        """The python-chess board of this position.

        Args:
            with_history: replay the recorded moves from the loaded position (python-chess then sees
                the repetitions), else a board without a move stack.
        """
        import chess
        from games.chess_encoding import action_to_move
        cdef CBoard root
        cdef int i, n = self.s.undo_count if with_history else 0
        if n == 0:
            return _to_python_chess(&self.s)
        memcpy(&root, &self.s, sizeof(CBoard))
        for i in range(n):
            cb_unmake(&root)
        board = _to_python_chess(&root)
        for a in self.history()[-n:]:
            board.push(action_to_move(a, board))
        return board

    def fen(self, **kwargs):
        """FEN of the position (python-chess ``Board.fen``: X-FEN castling in Chess960; keyword
        arguments go to it, e.g. ``shredder=True``)."""
        return _to_python_chess(&self.s).fen(**kwargs)

    def perft(self, int depth):
        """Leaf count of the legal move tree to ``depth`` plies (bulk counted; draws by rule do not stop it).

        Raises:
            ValueError: negative depth.
        """
        if depth < 0:
            raise ValueError(f"perft depth {depth} must be >= 0")
        cdef CBoard b
        cdef uint64_t r
        memcpy(&b, &self.s, sizeof(CBoard))
        with nogil:
            r = cb_perft(&b, depth)
        return r

    def divide(self, int depth):
        """Perft split by first move, as Stockfish's ``go perft``: ``[(action, leaf count)]`` for every
        legal chess move, ascending actions (bulk counted; draws by rule do not stop it).

        Raises:
            ValueError: depth < 1.
        """
        if depth < 1:
            raise ValueError(f"divide needs depth >= 1, got {depth}")
        cdef CBoard b
        cdef uint16_t moves[CB_MAX_MOVES]
        cdef uint64_t counts[CB_MAX_MOVES]
        cdef int n, i
        memcpy(&b, &self.s, sizeof(CBoard))
        n = gen(&b, moves, False)
        with nogil:
            for i in range(n):
                cb_make(&b, moves[i])
                counts[i] = cb_perft(&b, depth - 1)
                cb_unmake(&b)
        return sorted((cb_move_to_action(moves[i]), counts[i]) for i in range(n))

    # -- moves ----------------------------------------------------------------------------------

    def move_actions(self):
        """Actions of every legal chess move, ascending, ignoring the draw rules (what perft counts)."""
        cdef uint16_t moves[CB_MAX_MOVES]
        cdef int acts[CB_MAX_MOVES]
        cdef int n = gen(&self.s, moves, False), i
        for i in range(n):
            acts[i] = cb_move_to_action(moves[i])
        sort_ints(acts, n)
        return [acts[i] for i in range(n)]

    def undo_action(self):
        """Takes back the last action.

        Raises:
            IndexError: nothing was played since the position was loaded (or the last CB_RING plies
                were already taken back).
        """
        if self.s.undo_count <= 0:
            raise IndexError(f"no action to undo in {self.fen()!r}")
        cb_unmake(&self.s)

    def history(self):
        """Actions played since the loaded position (the last 1024 at most)."""
        cdef int n = self.s.undo_count, i
        return [cb_move_to_action(self.s.undo[(self.s.ply - n + i) & (CB_RING - 1)].move) for i in range(n)]

    def in_check(self):
        """Whether the side to move is in check."""
        return bool(cb_in_check(&self.s))

    def termination(self):
        """Why the game ended ("checkmate", "stalemate", "insufficient material", "fifty-move rule",
        "threefold repetition"), or None while it runs."""
        return _termination(&self.s)

    # -- tensors and text -----------------------------------------------------------------------

    def observation(self):
        """float32 ``[19, 8, 8]`` planes ``[plane, rank, file]``, absolute (see ``games/chess.py``)."""
        obs = np.zeros(OBSERVATION_SHAPE, dtype=np.float32)
        cdef float[:, :, ::1] o = obs
        cdef int sq, code, i
        cdef float clock = self.s.halfmove / 100.0
        for sq in range(64):
            code = self.s.board[sq]
            if code != CB_EMPTY:
                o[code, sq >> 3, sq & 7] = 1.0
        for i in range(64):
            if self.s.turn == CB_WHITE:
                o[12, i >> 3, i & 7] = 1.0
            o[18, i >> 3, i & 7] = clock
        for code in range(4):
            if self.s.castling & (1 << code):
                for i in range(64):
                    o[13 + code, i >> 3, i & 7] = 1.0
        if self.s.ep >= 0 and has_legal_ep(&self.s):
            o[17, self.s.ep >> 3, self.s.ep & 7] = 1.0
        return obs

    def _reference(self):
        from games.chess import ChessState, ChessGame, Chess960Game
        ref_game = Chess960Game() if self.s.chess960 else ChessGame()
        return ChessState.from_board(self.to_board(), ref_game)

    def to_text(self):
        """Board diagram, FEN, side to move and the moves so far in SAN (as ``games.chess``)."""
        return self._reference().to_text()

    def action_to_string(self, action):
        """UCI text of ``action`` here (``"e1g1"`` castling in standard chess, ``"e1h1"`` in Chess960).

        Raises:
            ActionOutOfRangeError: not an int in ``[0, 4672)``.
            IllegalActionError: the action's target square is off the board.
        """
        return self._reference().action_to_string(action)

    def string_to_action(self, text):
        """Parses UCI or SAN text (see ``games.chess.ChessState.string_to_action``).

        Raises:
            InvalidActionError: not a move's text.
            IllegalActionError: not legal here, or the game is over.
        """
        return self._reference().string_to_action(text)

    def serialize(self):
        """FEN of the position (the move history is not kept)."""
        return self.fen()

    def __eq__(self, other):
        if not isinstance(other, ChessBoardState):
            return NotImplemented
        cdef ChessBoardState o = <ChessBoardState> other
        return (self.s.chess960 == o.s.chess960 and _rep_key(&self.s) == _rep_key(&o.s)
                and self.s.halfmove == o.s.halfmove)

    def __hash__(self):
        return self.s.hash

    def __repr__(self):
        return f"ChessBoardState({self.fen()!r}, chess960={bool(self.s.chess960)})"


cdef uint64_t _rep_key(const CBoard* b) noexcept nogil:
    if b.ep_unhashable:
        return b.hash ^ Z_EP[b.ep & 7]
    return b.hash


cdef object _to_python_chess(const CBoard* b):
    import chess
    cdef int i
    board = chess.Board(None, chess960=bool(b.chess960))
    board.pawns = b.pieces[CB_PAWN]
    board.knights = b.pieces[CB_KNIGHT]
    board.bishops = b.pieces[CB_BISHOP]
    board.rooks = b.pieces[CB_ROOK]
    board.queens = b.pieces[CB_QUEEN]
    board.kings = b.pieces[CB_KING]
    board.occupied_co[chess.WHITE] = b.colors[CB_WHITE]
    board.occupied_co[chess.BLACK] = b.colors[CB_BLACK]
    board.occupied = b.colors[0] | b.colors[1]
    board.promoted = 0
    board.turn = b.turn == CB_WHITE
    cdef uint64_t rights = 0
    for i in range(4):
        if b.castling & (1 << i):
            rights |= bb(b.castle_rook[i])
    board.castling_rights = rights
    board.ep_square = b.ep if b.ep >= 0 else None
    board.halfmove_clock = b.halfmove
    board.fullmove_number = b.fullmove
    return board


cdef void _load_root(CBoard* b, board) except *:
    """Fills b from a python-chess board's current position (its move stack is ignored)."""
    import chess
    cdef int sq, c, i, ksq
    _board_clear(b)
    b.chess960 = 1 if board.chess960 else 0
    types = (board.pawns, board.knights, board.bishops, board.rooks, board.queens, board.kings)
    white = board.occupied_co[chess.WHITE]
    for t in range(6):
        bbt = types[t]
        for sq in range(64):
            if (bbt >> sq) & 1:
                c = 0 if (white >> sq) & 1 else 1
                put_nohash(b, sq, t + 6 * c)
    b.turn = CB_WHITE if board.turn == chess.WHITE else CB_BLACK
    rights = board.clean_castling_rights()
    for c in range(2):
        kings = board.kings & board.occupied_co[chess.WHITE if c == 0 else chess.BLACK]
        if not kings:
            continue
        ksq = (kings & -kings).bit_length() - 1
        back = chess.BB_RANK_1 if c == 0 else chess.BB_RANK_8
        for sq in range(64):
            if (rights & back) >> sq & 1:
                i = 2 * c + (0 if sq > ksq else 1)
                b.castle_rook[i] = sq
                b.castling |= 1 << i
    ep = board.ep_square
    b.ep = ep if ep is not None else CB_NO_SQUARE
    b.halfmove = min(board.halfmove_clock, 65535)
    b.fullmove = min(board.fullmove_number, 65535)
    _board_rehash(b)


def from_board(board, game=None):
    """A :class:`ChessBoardState` of a python-chess board; its move stack becomes the history.

    Args:
        board: a python-chess board with a playable position (one king each, no pawns on the first or
            last rank, the side not to move not in check).
        game: the game the state belongs to (default: by ``board.chess960``).

    Raises:
        InvalidStateError: the position is not playable.
    """
    import chess
    from games.chess import _check_status
    from games.chess_encoding import move_to_action
    if game is None:
        game = FastChess960Game() if board.chess960 else FastChessGame()
    root = board.root()
    root.chess960 = bool(game.chess960)
    _check_status(board, board.fen())
    _check_status(root, root.fen())
    cdef ChessBoardState s = ChessBoardState.__new__(ChessBoardState)
    s.game = game
    _load_root(&s.s, root)
    for m in board.move_stack:
        a = move_to_action(m, root)
        cb_make(&s.s, cb_action_to_move(&s.s, a))
        root.push(m)
    return s


def from_fen(fen, game=None, *, chess960=None):
    """A :class:`ChessBoardState` of a FEN (X-FEN or Shredder-FEN castling).

    Raises:
        InvalidStateError: the FEN cannot be parsed or is not playable.
    """
    import chess
    if chess960 is None:
        chess960 = bool(game.chess960) if game is not None else False
    try:
        board = chess.Board(str(fen).strip(), chess960=chess960)
    except ValueError as exc:
        raise InvalidStateError(f"bad FEN {fen!r}: {exc}") from exc
    return from_board(board, game)


class FastChessGame(_chess.ChessGame):
    """Standard chess on the bitboard board: the game of ``games.load("chess")``.

    As :class:`games.chess.ChessGame` (same actions, observation, rules, 1000-ply cap), but its states
    are :class:`ChessBoardState`.
    """

    backend = "cython"

    def new_initial_state(self):
        """The standard starting position."""
        return from_board(chess.Board(chess960=self.chess960), self)

    def deserialize(self, text):
        """The position of a FEN (see ``games.chess.ChessGame.deserialize``).

        Raises:
            InvalidStateError: the FEN cannot be parsed or is not playable.
        """
        return from_fen(text, self)

    def state_from_board(self, board):
        """The state of a python-chess board, its move stack as history."""
        return from_board(board, self)


class FastChess960Game(FastChessGame):
    """Chess960 on the bitboard board: the game of ``games.load("chess960")``."""

    name = "chess960"
    chess960 = True

    def __init__(self, *, chess960=True):
        if not chess960:
            raise ValueError("FastChess960Game(chess960=False): use FastChessGame or games.load('chess')")
        self.params = {"chess960": True}

    def new_initial_state(self, position=None, *, seed=None):
        """A starting position: Scharnagl number 0..959 (518 standard), or a random one (``seed``).

        Raises:
            ValueError: ``position`` is outside 0..959.
        """
        ref = _chess.Chess960Game.new_initial_state(self, position, seed=seed)
        return from_board(ref.board, self)


BACKENDS = ("cython", "python-chess")


def load_chess(*, backend="cython", **params):
    """``games.load("chess")``: the bitboard game, or the python-chess one with ``backend="python-chess"``.

    Raises:
        ValueError: unknown backend.
    """
    if backend == "cython":
        return FastChessGame(**params)
    if backend == "python-chess":
        return _chess.ChessGame(**params)
    raise ValueError(f"chess backend {backend!r} is not one of {BACKENDS}")


def load_chess960(*, backend="cython", **params):
    """``games.load("chess960")``: as :func:`load_chess`, for Chess960."""
    if backend == "cython":
        return FastChess960Game(**params)
    if backend == "python-chess":
        return _chess.Chess960Game(**params)
    raise ValueError(f"chess960 backend {backend!r} is not one of {BACKENDS}")
