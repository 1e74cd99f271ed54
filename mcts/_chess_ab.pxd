# Alpha-beta search for the bitboard chess board (games/chessboard.pyx), in C.
from libc.stdint cimport uint64_t, uint16_t, int32_t, int8_t, uint8_t

from games.chessboard cimport CBoard
from mcts._nnue cimport NNUEStack

cdef enum:
    CAB_MAX_PLY = 128          # deepest ply of the search (quiescence included)
    CAB_MATE = 1000000         # a mate k plies from the root scores CAB_MATE - k (as mcts._ab_search.MATE)
    CAB_MATE_BOUND = 999000    # |score| above this is a forced mate
    CAB_INF = 1000001          # beyond every score
    CAB_EXACT = 0              # transposition-table bound kinds
    CAB_LOWER = 1
    CAB_UPPER = 2
    CAB_EMPTY = 3              # bound kind of an unused entry

ctypedef struct CABEntry:
    uint64_t key          # full hash of the position
    int32_t score         # score (mate scores relative to this node)
    uint16_t move         # best or refuting move (chessboard move), 0 if none
    int8_t depth          # draft searched
    uint8_t bound_age     # bound kind (low 2 bits: CAB_EXACT / CAB_LOWER / CAB_UPPER, CAB_EMPTY) | generation << 2

ctypedef struct CABContext:
    CBoard b                              # the position being searched (make/unmake on it)
    CABEntry* tt                          # transposition table: pairs (depth-preferred, always-replace)
    uint64_t tt_pairs                     # number of pairs, a power of two
    uint8_t age                           # current search generation (6 bits)
    uint64_t nodes                        # nodes visited in this search
    uint64_t node_limit                   # 0: none
    double deadline                       # monotonic seconds, 0: none
    int stop                              # set by stop() or a limit; the search unwinds
    int stop_kind                         # 0 none, 1 stopped, 2 nodes, 3 time
    int prune                             # 1: null move, reverse futility and LMR on; 0: full width (mate search)
    int seldepth                          # deepest ply reached
    int root_best                         # root move (chessboard move) of the running iteration, -1 none
    int root_best_score                   # its score
    uint16_t killers[128][2]              # two quiet moves that cut off at each ply
    int32_t history[2][64][64]            # quiet-move history by colour, from, to
    uint16_t pv[128][128]                 # triangular principal-variation table
    int pv_len[128]                       # its lengths
    NNUEStack* nn                         # the learned evaluation's accumulators, NULL: hand-written evaluation


cdef class ChessAlphaBeta:
    cdef CABContext* c          # the search context (malloc'd: the board and tables are large)
    cdef public object game     # the game searched
    cdef public int aspiration  # half-width of the aspiration window in centipawns (0: none)
    cdef size_t tt_bytes        # transposition-table size
    cdef readonly object nnue   # the mcts._nnue.ChessNNUE evaluating, or None (hand-written evaluation)
