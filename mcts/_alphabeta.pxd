# Alpha-beta over the C game interface (games/_cgame.pxd), run in C without the GIL.
from libc.stdint cimport uint64_t, int32_t, int16_t, int8_t, uint8_t

from games._cgame cimport CGame

cdef enum:
    AB_MAX_PLY = 128            # deepest ply a search reaches (iteration depth is capped below it)
    AB_MATE = 1000000           # score of a win at the root; a win at ply p scores AB_MATE - p
    AB_MATE_BOUND = 999000      # |score| above this is a forced win or loss
    AB_INF = 1000001            # beyond any score
    AB_NO_MOVE = -1             # sentinel action
    AB_TT_UPPER = 1             # TT bound kinds
    AB_TT_LOWER = 2
    AB_TT_EXACT = 3
    AB_BUCKET = 4               # TT entries per bucket (one 64-byte cache line)
    AB_KIND_GENERIC = 0         # leaf evaluation: terminal scores and a neutral 0
    AB_KIND_CONNECT4 = 1        # leaf evaluation: Connect Four threat count on the game's bitboards

ctypedef struct ABEntry:
    uint64_t key            # full 64-bit position key (0 = empty)
    int32_t score           # score, mate scores stored relative to the node
    int16_t move            # best or refuting action, AB_NO_MOVE if none
    int8_t depth            # remaining depth of the search that stored it
    uint8_t flag_age        # bound kind (2 bits) | search generation << 2

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
    ABEntry* tt             # transposition table: tt_buckets * AB_BUCKET entries
    uint64_t tt_buckets     # number of buckets (a power of two)
    uint8_t age             # generation of the current search (6 bits)
    long long nodes         # nodes visited in this search
    long long node_limit    # stop at this many nodes (<= 0: no limit)
    double deadline         # CLOCK_MONOTONIC seconds to stop at (<= 0: none)
    int stop_requested      # set from another thread by stop()
    int stopped             # the current iteration was cut short (its result is partial)
    int stop_reason         # 0 none, 1 nodes, 2 time, 3 stop
    int seldepth            # deepest ply reached
    int root_best           # best root action of the current iteration (AB_NO_MOVE until one is searched)
    int root_best_score     # its score
    int root_done           # root moves fully searched in the current iteration


cdef class CAlphaBeta:
    cdef ABContext ctx      # everything the C search touches
    cdef object game        # the Python game
    cdef size_t tt_bytes    # size of the table in bytes
