# Alpha-beta over the C game interface (games/_cgame.pxd), run in C without the GIL.
# Constants, the table entry, limits and stop codes: mcts/_ab_common.pxd.
from libc.stdint cimport uint64_t, uint8_t

from games._cgame cimport CGame
from mcts._ab_common cimport ABEntry, ABLimits, ABTable

cdef enum:
    AB_NO_MOVE = -1             # sentinel action
    AB_BUCKET = 4               # TT entries per bucket (one 64-byte cache line)
    AB_KIND_GENERIC = 0         # leaf evaluation: terminal scores and a neutral 0
    AB_KIND_CONNECT4 = 1        # leaf evaluation: Connect Four threat count on the game's bitboards

ctypedef struct ABContext:
    const CGame* g          # the game's function table
    int kind                # AB_KIND_* leaf evaluation
    int size                # bytes of a position
    int max_legal           # buffer length of a move list
    int num_actions         # size of the action space
    char* stack             # positions, one per ply: [AB_MAX_PLY + 1][size]
    int* moves              # move lists per ply: [AB_MAX_PLY][max_legal]
    int* scores             # ordering scores per ply: [AB_MAX_PLY][max_legal]
    int* history            # history heuristic: [2][num_actions]
    int killers[128][2]     # two killer actions per ply
    int pv[128][128]        # triangular PV table
    int pv_len[128]         # length of the PV from each ply
    ABTable tt              # transposition table: buckets of AB_BUCKET entries
    uint8_t age             # generation of the current search (6 bits, never 0)
    ABLimits lim            # nodes, limits, stop request and reason
    int seldepth            # deepest ply reached
    int root_best           # best root action of the current iteration (AB_NO_MOVE until one is searched)
    int root_best_score     # its score
    int root_done           # root moves fully searched in the current iteration


cdef class CAlphaBeta:
    cdef ABContext ctx      # everything the C search touches
    cdef object game        # the Python game
    cdef size_t tt_bytes    # size of the table in bytes
