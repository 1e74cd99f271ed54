# What every C alpha-beta of plytree shares (mcts/_alphabeta.pyx for games with a C interface,
# mcts/_chess_ab.pyx for the bitboard chess board): score constants, the transposition-table entry with
# its bound kinds and mate-score ply adjustment, the limits block with its stop codes and clock, and the
# score-to-value map. Python mirrors: mcts/_score.py (MATE, MATE_BOUND, INF, MAX_PLY, STOP_REASONS,
# score_to_value). A .pxd only: everything here is an inline function or a declaration.
from libc.stdint cimport uint64_t, int32_t, int16_t, int8_t, uint8_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset, memcpy
from libc.math cimport tanh
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef extern from *:
    """
    /* One volatile write a page: the kernel maps (and zeroes) every page now. A memset would not do:
       compilers drop a memset of zeros after calloc, and turn malloc + memset into calloc. */
    static void ab_touch_pages(void* p, size_t n) {
        volatile char* c = (volatile char*) p;
        size_t i;
        for (i = 0; i < n; i += 4096) c[i] = 0;
    }
    """
    void ab_touch_pages(void* p, size_t n) nogil

cdef extern from *:
    """
    /* One 8-byte word of a shared table entry, read or written whole (never torn by the compiler). */
    static inline uint64_t ab_load_word(const void* p) { return __atomic_load_n((const uint64_t*) p, __ATOMIC_RELAXED); }
    static inline void ab_store_word(void* p, uint64_t v) { __atomic_store_n((uint64_t*) p, v, __ATOMIC_RELAXED); }
    """
    uint64_t ab_load_word(const void* p) nogil
    void ab_store_word(void* p, uint64_t v) nogil

cdef enum:
    AB_MAX_PLY = 128            # deepest ply a search reaches (iteration depth is capped below it)
    AB_MATE = 1000000           # a win k plies from the root scores AB_MATE - k
    AB_MATE_BOUND = 999000      # |score| above this is a forced win or loss
    AB_INF = 1000001            # beyond any score
    AB_TT_EMPTY = 0             # bound kind of an unused entry: a zeroed (calloc'd) table is empty
    AB_TT_UPPER = 1             # score <= the true value's bound: failed low
    AB_TT_LOWER = 2             # score >= bound: failed high
    AB_TT_EXACT = 3             # exact score
    AB_STOP_NONE = 0            # stop codes (ABLimits.stop_reason), named by ab_stop_name
    AB_STOP_NODES = 1
    AB_STOP_TIME = 2
    AB_STOP_STOPPED = 3
    AB_EAGER_ZERO_BYTES = 67108864   # tables up to 64 MB are touched at allocation, cleared in place (ab_table_alloc)
    AB_CLOCK_MASK = 63          # the clock is read every 64 nodes (a vDSO call, ~0.2% of a node's time), whatever the table size

ctypedef struct ABEntry:
    uint64_t key            # full 64-bit position key XOR the data word below (lock-free sharing: ab_entry_read)
    int32_t score           # score, mate scores stored relative to the node (ab_score_to_tt)
    int16_t move            # best or refuting move (the back end's encoding), -1 / 0 if none
    int8_t depth            # remaining depth of the search that stored it
    uint8_t flag_age        # bound kind (2 bits, AB_TT_EMPTY when unused) | search generation << 2

ctypedef struct ABTable:
    ABEntry* entries        # cache-line aligned view into raw
    void* raw               # the calloc'd block (freed by ab_table_free)
    uint64_t count          # entries (a power of two)

ctypedef struct ABLimits:
    long long nodes         # nodes visited in this search
    long long node_limit    # stop at this many nodes (<= 0: no limit)
    double deadline         # CLOCK_MONOTONIC seconds to stop at (<= 0: none)
    int stop_requested      # set from another thread by stop(): read at every node
    int stopped             # the running iteration is unwinding (its result is partial)
    int stop_reason         # AB_STOP_* of the stop


cdef inline double ab_now() noexcept nogil:
    """CLOCK_MONOTONIC seconds (the clock of Python's time.monotonic on Linux)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline bint ab_check_limits(ABLimits* l) noexcept nogil:
    """Counts nothing; marks the search stopped (and why) when a limit is reached. The stop flag and
    the node limit are read at every node, the clock every AB_CLOCK_MASK + 1 nodes."""
    if l.stopped:
        return True
    if l.stop_requested:
        l.stopped = 1
        l.stop_reason = AB_STOP_STOPPED
    elif l.node_limit > 0 and l.nodes >= l.node_limit:
        l.stopped = 1
        l.stop_reason = AB_STOP_NODES
    elif (l.nodes & AB_CLOCK_MASK) == 0 and l.deadline > 0 and ab_now() >= l.deadline:
        l.stopped = 1
        l.stop_reason = AB_STOP_TIME
    return l.stopped


cdef inline void ab_limits_begin(ABLimits* l, long long node_limit, double seconds_left) noexcept nogil:
    """Arms the limits of a new search (seconds_left < 0: no clock) and clears a stop request."""
    l.nodes = 0
    l.stop_requested = 0
    l.node_limit = node_limit
    l.deadline = ab_now() + seconds_left if seconds_left >= 0 else 0.0
    l.stopped = 0
    l.stop_reason = AB_STOP_NONE


cdef inline str ab_stop_name(int code):
    """The driver's name of a stop code ("" when the search was not stopped)."""
    if code == AB_STOP_NODES:
        return "nodes"
    if code == AB_STOP_TIME:
        return "time"
    if code == AB_STOP_STOPPED:
        return "stopped"
    return ""


cdef inline int ab_score_to_tt(int score, int ply) noexcept nogil:
    """A mate score relative to the root becomes relative to the node at ply (for storing)."""
    if score > AB_MATE_BOUND:
        return score + ply
    if score < -AB_MATE_BOUND:
        return score - ply
    return score


cdef inline int ab_score_from_tt(int score, int ply) noexcept nogil:
    """A stored mate score becomes relative to the root again (the inverse of ab_score_to_tt)."""
    if score > AB_MATE_BOUND:
        return score - ply
    if score < -AB_MATE_BOUND:
        return score + ply
    return score


cdef inline bint ab_tt_cutoff(const ABEntry* e, int depth, int alpha, int beta, int ply, int* score) noexcept nogil:
    """Whether an entry at least depth deep decides the node in the window; its score in *score."""
    cdef int flag = e.flag_age & 3
    if e.depth < depth or flag == AB_TT_EMPTY:
        return False
    score[0] = ab_score_from_tt(e.score, ply)
    return (flag == AB_TT_EXACT or (flag == AB_TT_LOWER and score[0] >= beta)
            or (flag == AB_TT_UPPER and score[0] <= alpha))


cdef inline int ab_bound(int best, int alpha0, int beta) noexcept nogil:
    """Bound kind of a node's result against its original window."""
    if best >= beta:
        return AB_TT_LOWER
    if best > alpha0:
        return AB_TT_EXACT
    return AB_TT_UPPER


# Lock-free sharing (Lazy SMP: several searchers write one table without locks). An entry is two 8-byte
# words: the data (score, move, depth, flag_age) and the key stored XOR the data. Each word is written and
# read whole, but two writers (or a writer and a reader) may interleave between the words; a reader then
# sees the key word of one write and the data word of another, and the XOR no longer gives its key: the
# entry is a miss, never a wrong score. Entries are read through ab_entry_read (a private copy) only.

cdef inline uint64_t ab_entry_data(const ABEntry* e) noexcept nogil:
    """The data word of an entry (score, move, depth and flag_age, as stored)."""
    return ab_load_word(<const char*> e + 8)


cdef inline uint64_t ab_entry_key(const ABEntry* e) noexcept nogil:
    """The position key an entry holds (meaningless for an empty entry)."""
    return ab_load_word(e) ^ ab_load_word(<const char*> e + 8)


cdef inline bint ab_entry_read(const ABEntry* e, uint64_t key, ABEntry* out) noexcept nogil:
    """Copies the entry into *out when it holds key and is used; False otherwise (also for an entry
    torn by writers racing on it: its key check fails)."""
    cdef uint64_t data = ab_load_word(<const char*> e + 8)
    if (ab_load_word(e) ^ data) != key:
        return False
    out.key = key
    memcpy(<char*> out + 8, &data, 8)
    return (out.flag_age & 3) != AB_TT_EMPTY


cdef inline void ab_entry_write(ABEntry* e, uint64_t key, int depth, int flag, int score, int move, int ply,
                                uint8_t age) noexcept nogil:
    """Fills an entry (the mate score made relative to the node, the depth clamped to int8), data word
    first, then the key XOR the data (see ab_entry_read)."""
    cdef ABEntry fresh
    cdef uint64_t data
    fresh.score = ab_score_to_tt(score, ply)
    fresh.move = <int16_t> move
    fresh.depth = <int8_t> (depth if depth < 127 else 127)
    fresh.flag_age = <uint8_t> (flag | (age << 2))
    memcpy(&data, <char*> &fresh + 8, 8)
    ab_store_word(<char*> e + 8, data)
    ab_store_word(e, key ^ data)


cdef inline bint ab_mate_distance(int* alpha, int* beta, int ply) noexcept nogil:
    """Mate-distance pruning: no line from ply beats a mate at the next ply or loses faster than
    one now. Narrows the window; True when it is empty (return *alpha)."""
    if alpha[0] < -(AB_MATE - ply):
        alpha[0] = -(AB_MATE - ply)
    if beta[0] > AB_MATE - ply - 1:
        beta[0] = AB_MATE - ply - 1
    return alpha[0] >= beta[0]


cdef inline uint64_t ab_table_count(size_t nbytes, uint64_t group) noexcept nogil:
    """Most entries, a power-of-two number of groups of group entries, that fit in nbytes (>= 1 group)."""
    cdef uint64_t groups = 1
    while groups * 2 * group * sizeof(ABEntry) <= nbytes:
        groups *= 2
    return groups * group


cdef inline int ab_table_alloc(ABTable* t, uint64_t count) noexcept nogil:
    """Allocates an empty table of count entries, 64-byte aligned. calloc hands large blocks out as
    fresh zero pages (mmap), so this costs no pass over the memory: the kernel zeroes each 4 kB page
    when the search first writes it (about a microsecond a page). Tables up to AB_EAGER_ZERO_BYTES are
    touched here at once instead (at most ~50 ms), so that a search's time is not spent in page faults;
    larger ones (UCI Hash in the hundreds of MB) stay lazy, their faults spread over the searches.
    (Transparent huge pages were tried and dropped: a 2 MB fault took up to 0.25 s on a loaded machine.)
    Returns 0, or -1 when out of memory (the table is then left empty)."""
    cdef size_t nbytes = count * sizeof(ABEntry) + 64
    cdef void* raw = calloc(nbytes, 1)
    if raw == NULL:
        return -1
    if count * sizeof(ABEntry) <= AB_EAGER_ZERO_BYTES:
        ab_touch_pages(raw, nbytes)
    t.raw = raw
    t.entries = <ABEntry*> ((<size_t> raw + 63) & ~(<size_t> 63))
    t.count = count
    return 0


cdef inline void ab_table_free(ABTable* t) noexcept nogil:
    free(t.raw)
    t.raw = NULL
    t.entries = NULL
    t.count = 0


cdef inline int ab_table_clear(ABTable* t) noexcept nogil:
    """Empties a table: in place for a small one (its pages are mapped: a memset, a few ms), else a
    fresh lazy block (no pass over the memory). Returns 0, or -1 when out of memory (table unchanged)."""
    cdef ABTable fresh
    if t.count * sizeof(ABEntry) <= AB_EAGER_ZERO_BYTES:
        memset(t.entries, 0, t.count * sizeof(ABEntry))
        return 0
    if ab_table_alloc(&fresh, t.count) != 0:
        return -1
    ab_table_free(t)
    t[0] = fresh
    return 0




cdef inline double ab_score_to_value(int score, double scale) noexcept nogil:
    """THE score-to-value map (mirrored by mcts._score.score_to_value): a forced win or loss is +-1,
    any other score s becomes tanh(s / scale), scale being the back end's score units at which the
    value reaches tanh(1) = 0.76 (chess: 800 / ln 10 cp, the logistic 2 / (1 + 10^(-cp/400)) - 1)."""
    if score > AB_MATE_BOUND:
        return 1.0
    if score < -AB_MATE_BOUND:
        return -1.0
    return tanh(score / scale)
