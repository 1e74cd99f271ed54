# Chess and Chess960 on bitboards, with the C game interface (see _cgame.pxd) and a C API for searches.
#
# Squares are numbered as python-chess (a1 = 0 ... h8 = 63). Colours: 0 white, 1 black. Piece types:
# 0 pawn, 1 knight, 2 bishop, 3 rook, 4 queen, 5 king. A piece code is type + 6 * colour; CB_EMPTY on an
# empty square. A move is 16 bits: from | to << 6 | flag << 12 (flag: CB_NORMAL, a promotion piece type
# 1-4, CB_CASTLE (to = the castling rook's square: king takes rook, as python-chess), CB_EP).
# The position is plain data (no pointers): memcpy copies it. Make/unmake keep an undo ring of the last
# CB_RING plies, which also holds the hashes for the repetition rule.
from libc.stdint cimport uint64_t, uint16_t, int8_t, uint8_t, int32_t

from games._cgame cimport CState

cdef enum:
    CB_WHITE = 0
    CB_BLACK = 1
    CB_PAWN = 0
    CB_KNIGHT = 1
    CB_BISHOP = 2
    CB_ROOK = 3
    CB_QUEEN = 4
    CB_KING = 5
    CB_EMPTY = -1          # board[] of an empty square
    CB_NORMAL = 0          # move flags (1..4 = promotion to that piece type)
    CB_CASTLE = 5
    CB_EP = 6
    CB_RING = 1024         # plies kept for undo and repetition (power of two; >= max_game_length)
    CB_MAX_MOVES = 256     # more than the most legal moves of any position (218)
    CB_NUM_ACTIONS = 4672  # 64 * 73
    CB_NO_SQUARE = -1

ctypedef struct CBUndo:
    uint64_t hash          # polyglot hash of the position before the move
    uint16_t move          # the move played from it
    uint16_t halfmove      # its halfmove clock
    int8_t captured        # piece code captured by the move, CB_EMPTY if none
    int8_t ep              # its en-passant square (python-chess ep_square semantics) or CB_NO_SQUARE
    uint8_t castling       # its castling rights (4 bits)
    uint8_t ep_unhashable  # 1 when its hash holds an en-passant file but no legal ep capture exists

ctypedef struct CBoard:
    uint64_t pieces[6]     # bitboard of each piece type (both colours)
    uint64_t colors[2]     # bitboard of each colour
    uint64_t hash          # polyglot Zobrist hash (= chess.polyglot.zobrist_hash)
    int8_t board[64]       # piece code on each square or CB_EMPTY
    int8_t castle_rook[4]  # rook square of each castling right: white h-side, white a-side, black h-side, black a-side
    int8_t turn            # colour to move
    int8_t ep              # en-passant square after a double push (python-chess ep_square) or CB_NO_SQUARE
    uint8_t castling       # castling rights, bit i = right i of castle_rook
    uint8_t chess960       # 1 for Chess960 (text and FEN differ; rules are the same)
    uint8_t ep_unhashable  # 1 when hash holds an ep file without a legal ep capture (repetition key drops it)
    uint8_t pad
    uint16_t halfmove      # halfmove clock
    uint16_t fullmove      # fullmove number
    int32_t ply            # plies played since the position was loaded
    int32_t undo_count     # plies that can be taken back (at most CB_RING)
    CBUndo undo[1024]      # ring of undo records, the record of ply p at p % CB_RING

# ---- C API (for mcts._chess_ab and other searches); every function is noexcept nogil ----
cdef int cb_generate(const CBoard* b, uint16_t* out) noexcept nogil            # legal moves; returns count
cdef int cb_generate_captures(const CBoard* b, uint16_t* out) noexcept nogil   # legal captures, ep and promotions
cdef void cb_make(CBoard* b, uint16_t m) noexcept nogil                        # plays a legal move
cdef void cb_unmake(CBoard* b) noexcept nogil                                  # takes back the last move
cdef void cb_make_null(CBoard* b) noexcept nogil                               # passes (not in check); undo with cb_unmake_null
cdef void cb_unmake_null(CBoard* b) noexcept nogil                             # takes back cb_make_null
cdef bint cb_in_check(const CBoard* b) noexcept nogil                          # side to move in check
cdef bint cb_gives_check(CBoard* b, uint16_t m) noexcept nogil                 # whether the legal move m checks (make/unmake)
cdef uint64_t cb_attackers(const CBoard* b, int sq, uint64_t occ) noexcept nogil  # pieces of both colours attacking sq
cdef uint64_t cb_rook_attacks(int sq, uint64_t occ) noexcept nogil              # rook attacks from sq
cdef uint64_t cb_bishop_attacks(int sq, uint64_t occ) noexcept nogil            # bishop attacks from sq
cdef int cb_repetitions(const CBoard* b) noexcept nogil                        # earlier occurrences of this position (since the last irreversible move)
cdef bint cb_insufficient_material(const CBoard* b) noexcept nogil             # python-chess is_insufficient_material
cdef int cb_move_to_action(uint16_t m) noexcept nogil                          # move -> action id (0..4671)
cdef uint16_t cb_action_to_move(const CBoard* b, int action) noexcept nogil   # action id -> move (for a legal action)
cdef uint64_t cb_perft(CBoard* b, int depth) noexcept nogil                    # leaf count, bulk-counted at the last ply
cdef int cb_terminal_value(const CBoard* b, int* n_legal) noexcept nogil       # 2 running, else white's result -1/0/+1; fills n_legal


cdef class ChessBoardState(CState):
    cdef CBoard s   # the position
