# Alpha-beta search for the bitboard chess board (games/chessboard.pyx), in C.
# Constants, the table entry, limits and stop codes: mcts/_ab_common.pxd.
from libc.stdint cimport uint64_t, uint16_t, int32_t, uint8_t
from libc.math cimport log

from games.chessboard cimport CBoard
from mcts._ab_common cimport ABEntry, ABLimits, ABTable
from mcts._nnue cimport NNUEStack

ctypedef struct CABContext:
    CBoard b                              # the position being searched (make/unmake on it)
    ABTable tt                            # transposition table: pairs (depth-preferred, always-replace)
    uint8_t age                           # current search generation (6 bits)
    ABLimits lim                          # nodes, limits, stop request and reason
    int prune                             # 1: null move, reverse futility and LMR on; 0: full width (mate search)
    int seldepth                          # deepest ply reached
    int root_best                         # root move (chessboard move) of the running iteration, -1 none
    int root_best_score                   # its score
    uint16_t killers[128][2]              # two quiet moves that cut off at each ply
    int32_t history[2][64][64]            # quiet-move history by colour, from, to
    uint16_t pv[128][128]                 # triangular principal-variation table
    int pv_len[128]                       # its lengths
    NNUEStack* nn                         # the learned evaluation's accumulators, NULL: hand-written evaluation


cdef extern from "<pthread.h>" nogil:
    ctypedef int pthread_t     # opaque to Cython: the C type is the platform's


ctypedef struct CABHelper:
    CABContext* c                         # its own context: board, killers, history, stack, counters;
                                          # its table is the main context's (shared, lock-free entries)
    int first_depth                       # iterative deepening from this depth (varied between helpers)
    int max_depth                         # ... to this one
    int depth_done                        # deepest completed iteration of the current search
    pthread_t thread                      # its C thread while a search runs
    int running                           # the thread was started and not yet joined


cdef class ChessAlphaBeta:
    cdef CABContext* c          # the search context (calloc'd: the board and tables are large)
    cdef CABHelper* helpers     # Lazy SMP: threads - 1 helper searchers (NULL with one thread)
    cdef int n_helpers
    cdef public object game     # the game searched
    cdef public int aspiration  # half-width of the aspiration window in centipawns (0: none)
    cdef size_t tt_bytes        # transposition-table size
    cdef readonly object nnue   # the mcts._nnue.ChessNNUE evaluating, or None (hand-written evaluation)
    cdef void _free_helpers(self) noexcept

cdef int chess_evaluate(const CBoard* b) noexcept nogil   # static evaluation, centipawns for the side to move
cdef int qsearch(CABContext* c, int ply, int alpha, int beta) noexcept nogil  # capture search (evasions in check) from c.b
cdef int see(const CBoard* b, uint16_t m) noexcept nogil     # material won by the exchange m starts

cdef inline double chess_scale() noexcept nogil:
    """Centipawns at which a chess value is tanh(1): 800 / ln 10, so that the shared map equals the
    logistic 2 / (1 + 10^(-cp/400)) - 1 (Python mirror: mcts._score.CHESS_SCALE)."""
    return 800.0 / log(10.0)
