# Hex solver: depth-first proof-number search over bitboards with H-search virtual connections.
#
# Boards up to 8 x 8, so a set of cells is one uint64_t: bit r * n + c is the cell at row r, column c
# (the action of games.hex). Player 0 (black) joins rows 0 and n - 1, player 1 (white) columns 0 and n - 1.
from libc.stdint cimport int8_t, int16_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    HX_MAX_SIZE = 8          # largest board the solver takes (one uint64_t per cell set)
    HX_CELLS = 64            # cells of the largest board
    HX_EDGE_A = 64           # H-search point of the player's first edge (top for black, left for white)
    HX_EDGE_B = 65           # H-search point of the player's second edge
    HX_POINTS = 66           # cells + the two edges
    HX_PAIRS = 4356          # HX_POINTS ** 2
    HX_KEEP_VC = 8           # full connections kept per pair of points (the smallest carriers win)
    HX_KEEP_SC = 16          # semi connections kept per pair
    HX_OR_DEPTH = 4          # most semi connections the OR rule combines
    HX_QUEUE = 32768         # pending new full connections in one H-search
    HX_BUCKET = 4            # transposition-table entries per bucket
    HX_BUSY = 4096           # slots of the table of positions threads are searching below

ctypedef struct HxGeometry:
    int n                        # board side
    uint64_t all_cells           # every cell of the board
    uint64_t not_first_col       # every cell outside column 0
    uint64_t not_last_col        # every cell outside column n - 1
    uint64_t edge_cells[2][2]    # [player][edge]: the cells touching that edge
    uint64_t neighbours[HX_CELLS]  # the cells adjacent to each cell
    int8_t order[HX_CELLS]       # the cells from the centre out (children are tried in this order)
    int8_t bridge[HX_CELLS][6]   # the cell bridged to through ring neighbours j and j + 1, or -1
    int8_t ring[HX_CELLS][6]     # the 6 neighbours in circular order: a cell, or HX_RING_* off the board
    int8_t ring_back[HX_CELLS][6]  # for ring position j holding a cell y: the position of this cell in y's ring
    int ring_const[HX_CELLS]     # the ring code's off-board part (edges and corners)

ctypedef struct HxConnections:
    uint64_t vc[HX_PAIRS][HX_KEEP_VC]   # full-connection carriers of pair (a, b), a < b, index a * HX_POINTS + b
    uint64_t sc[HX_PAIRS][HX_KEEP_SC]   # semi-connection carriers (the key included)
    int8_t sc_key[HX_PAIRS][HX_KEEP_SC] # the key cell of each semi connection
    uint8_t num_vc[HX_PAIRS]            # full connections stored per pair
    uint8_t num_sc[HX_PAIRS]            # semi connections stored per pair
    uint64_t adjacent[HX_POINTS]        # empty cells adjacent to each point
    uint64_t adjacent_groups[HX_POINTS] # for an empty cell: the naming cells of the groups next to it (0 for others)
    uint64_t partner_cells[HX_POINTS]   # the cell points (groups included) each point has a full connection with
    uint8_t partner_edges[HX_POINTS]    # the same for the edges: bit 0 first edge, bit 1 second edge
    uint64_t group_cells                # the cell naming each group point (its lowest stone)
    uint64_t empty_cells                # the empty cells (the points that are cells)
    int16_t points[HX_POINTS]           # the points of this position
    int num_points                      # how many
    int empty_pair_max                  # largest carrier kept between two empty cells (bounds the work)
    int16_t queue_a[HX_QUEUE]           # pending full connections: endpoints and carrier
    int16_t queue_b[HX_QUEUE]
    uint64_t queue_c[HX_QUEUE]
    int queue_next[HX_QUEUE]            # the next pending entry with a carrier of the same size (-1: none)
    int bucket_head[HX_CELLS + 1]       # per carrier size: the first pending entry (-1: none)
    int bucket_tail[HX_CELLS + 1]       # per carrier size: the last pending entry
    int min_bucket                      # no pending entry has a smaller carrier
    int queue_tail                      # entries used
    long long searches                  # H-searches run (a measure of work that load does not disturb)
    bint stop_at_semi                   # stop at the first semi connection between the edges (a win is all that matters)

ctypedef struct HxEdgeResult:
    bint joined            # a group of the player already touches both edges
    bint has_vc            # a full connection joins the two edges
    uint64_t vc_carrier    # the carrier of one such full connection
    int num_sc             # semi connections found between the edges
    uint64_t sc_and        # the intersection of their carriers (the opponent's must-play region)
    uint64_t sc_or         # the union of their carriers
    int sc_key             # the key of one of them (-1 when none)
    uint64_t sc_carrier    # that one's carrier (key included)

ctypedef struct HxEntry:
    uint64_t key           # Zobrist key of the position (0 = empty slot)
    uint64_t moves         # the moves searched here (after pruning)
    uint64_t proof         # proven: the proof set (the result holds whatever the loser holds outside it);
                           # open: the cells the pruning of the moves relies on
    uint32_t phi           # proof number: cost to prove a win for the player to move
    uint32_t delta         # disproof number: cost to prove a loss for the player to move
    uint32_t work          # positions evaluated below this entry (replacement priority)
    int8_t best            # a winning move once proven a win, else -1
    uint8_t opp_sc         # evaluation: the opponent had semi connections between its edges
    uint8_t decided        # proven by the connection knowledge alone, without search
    uint8_t pruned         # open: the inferior moves are gone from `moves` (done when first expanded)

ctypedef struct HxSolver:
    HxGeometry geo               # board geometry
    HxEntry* table               # transposition table: buckets of HX_BUCKET entries (shared by the threads)
    uint8_t* locks               # one spin lock per bucket
    uint64_t bucket_mask         # number of buckets - 1 (a power of two)
    uint64_t zobrist[2][HX_CELLS]  # key of a stone [player][cell]
    uint64_t zobrist_white       # key of white (player 1) to move
    int threads                  # search threads (1: the single-threaded search, no busy marks)
    long long total_nodes        # positions evaluated by all threads (with several threads)
    long long max_nodes          # stop after this many evaluations (< 0: no limit)
    double deadline              # stop at this monotonic time in seconds (< 0: no limit)
    int aborted                  # stop: a limit was hit (results partial) or the root is proven
    uint16_t busy[HX_BUSY]       # per hashed position: threads searching below it

ctypedef struct HxWorker:
    HxSolver* s                  # the shared state
    HxConnections* conn          # this thread's H-search scratch space
    long long nodes              # positions evaluated by this thread (two H-searches at most each)
    long long expansions         # interior positions expanded by this thread
    long long loops              # children chosen by this thread (the clock is read every so many)
    uint32_t eval_work           # evaluation: work of the filled position's stored proof it reused (1: none)


cdef void hx_geometry(HxGeometry* g, int n) noexcept nogil                 # fills the tables of an n x n board
cdef uint64_t hx_expand(const HxGeometry* g, uint64_t m) noexcept nogil     # the cells adjacent to a set
cdef void hx_edge_connections(HxConnections* h, const HxGeometry* g, uint64_t own, uint64_t opp, int player,
                              HxEdgeResult* out) noexcept nogil            # H-search of one player
cdef uint64_t hx_dead_cells(const HxGeometry* g, uint64_t black, uint64_t white,
                            uint64_t cells) noexcept nogil                   # dead cells among `cells`
