"""Alpha-beta for chess on the bitboard board (``games.chessboard``), all in C with the GIL released.

Negamax with principal-variation search, a transposition table, iterative deepening with aspiration
windows, check extensions, null-move pruning, reverse futility pruning, late-move reductions,
quiescence on captures and promotions (evasions when in check) with SEE pruning, and move ordering by
TT move, SEE/MVV-LVA, killers and history. The evaluation is material plus piece-square tables,
tapered by game phase, with the numbers of ``mcts._chess_eval`` (the python-chess searcher's).

Scores are centipawns for the side to move; a mate ``k`` plies from the root is ``1_000_000 - k``
(as ``mcts._ab_search``). :class:`ChessAlphaBeta` runs a whole search (``run``); it also offers the
back-end interface of ``mcts._ab_search.AlphaBeta`` (``begin`` / ``search`` / ``pv`` / ``value_of``).
"""
from libc.stdint cimport uint64_t, uint16_t, int32_t, int16_t, int8_t, uint8_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy
from libc.math cimport log

import time

from mcts._ab_common cimport (
    AB_INF, AB_MATE, AB_MATE_BOUND, AB_MAX_PLY, AB_TT_EMPTY, AB_TT_EXACT, AB_TT_LOWER, AB_TT_UPPER, ABEntry,
    ab_bound, ab_check_limits, ab_entry_key, ab_entry_read, ab_entry_write, ab_limits_begin, ab_mate_distance,
    ab_now, ab_score_to_value, ab_stop_name,
    ab_table_alloc, ab_table_clear, ab_table_count, ab_table_free, ab_tt_cutoff,
)

from mcts._nnue cimport (
    ChessNNUE, nnue_stack_new, nnue_stack_free, nnue_refresh, nnue_push, nnue_push_null, nnue_pop, nnue_evaluate_cached,
    nnue_clear_cache,
)
from games.chessboard cimport (
    CBoard, ChessBoardState, cb_generate, cb_generate_captures, cb_make, cb_unmake, cb_make_null,
    cb_unmake_null, cb_in_check, cb_attackers, cb_rook_attacks, cb_bishop_attacks, cb_repetitions,
    cb_insufficient_material, cb_move_to_action, cb_action_to_move,
    CB_WHITE, CB_BLACK, CB_PAWN, CB_KNIGHT, CB_BISHOP, CB_ROOK, CB_QUEEN, CB_KING, CB_EMPTY,
    CB_CASTLE, CB_EP, CB_MAX_MOVES,
)

cdef extern from *:
    """
    static inline int cab_lsb(uint64_t b) { return __builtin_ctzll(b); }
    static inline int cab_popcount(uint64_t b) { return __builtin_popcountll(b); }
    static inline void cab_prefetch(const void* p) { __builtin_prefetch(p); }
    """
    int cab_lsb(uint64_t b) nogil
    int cab_popcount(uint64_t b) nogil
    void cab_prefetch(const void* p) nogil

CHESS_SCALE = chess_scale()   # centipawns at which the value is tanh(1): the logistic 2/(1+10^(-cp/400))-1

# ---------------------------------------------------------------------------------------------------
# evaluation tables (filled from mcts._chess_eval at import)

cdef int EVAL_MG[12][64]      # [piece code][square]: material + square, from White's view (Black negative)
cdef int EVAL_EG[12][64]
cdef int PHASE_W[12]          # phase weight per piece code
cdef int PHASE_TOTAL
cdef int TEMPO
cdef int SEE_VALUE[6]         # piece values for exchanges and ordering
cdef int8_t LMR[64][64]       # late-move reduction by depth and move number


def _init_eval():
    from mcts import _chess_eval as ev
    import chess
    cdef int t, sq, c
    global PHASE_TOTAL, TEMPO
    for c in range(2):
        colour = chess.WHITE if c == 0 else chess.BLACK
        for t in range(6):
            for sq in range(64):
                EVAL_MG[t + 6 * c][sq] = ev.MG_TABLE[colour][t + 1][sq]
                EVAL_EG[t + 6 * c][sq] = ev.EG_TABLE[colour][t + 1][sq]
    for t in range(12):
        PHASE_W[t] = ev.PHASE_WEIGHT[t % 6 + 1]
    PHASE_TOTAL = ev.PHASE_TOTAL
    TEMPO = ev.TEMPO
    SEE_VALUE[:] = [100, 320, 330, 500, 950, 20000]
    cdef int d, m
    for d in range(64):
        for m in range(64):
            LMR[d][m] = 0
            if d >= 1 and m >= 1:
                LMR[d][m] = <int8_t> (0.75 + log(d) * log(m) / 2.25)


_init_eval()


cdef int chess_evaluate(const CBoard* b) noexcept nogil:
    """Tapered material + piece-square score for the side to move, plus the tempo bonus."""
    cdef int mg = 0, eg = 0, phase = 0, sq, code, score
    cdef uint64_t occ = b.colors[0] | b.colors[1]
    while occ:
        sq = cab_lsb(occ)
        occ &= occ - 1
        code = b.board[sq]
        mg += EVAL_MG[code][sq]
        eg += EVAL_EG[code][sq]
        phase += PHASE_W[code]
    if phase > PHASE_TOTAL:
        phase = PHASE_TOTAL
    score = (mg * phase + eg * (PHASE_TOTAL - phase)) // PHASE_TOTAL
    if b.turn == CB_BLACK:
        score = -score
    return score + TEMPO

# the learned evaluation (mcts._nnue) when the context has one: its accumulator follows make/unmake

cdef inline int eval_position(CABContext* c) noexcept nogil:
    if c.nn != NULL:
        return nnue_evaluate_cached(c.nn, c.b.hash, c.b.turn)
    return chess_evaluate(&c.b)

cdef inline void make(CABContext* c, uint16_t m) noexcept nogil:
    if c.nn != NULL:
        nnue_push(c.nn, &c.b, m)
    cb_make(&c.b, m)

cdef inline void unmake(CABContext* c) noexcept nogil:
    if c.nn != NULL:
        nnue_pop(c.nn)
    cb_unmake(&c.b)

cdef inline void make_null(CABContext* c) noexcept nogil:
    if c.nn != NULL:
        nnue_push_null(c.nn)
    cb_make_null(&c.b)

cdef inline void unmake_null(CABContext* c) noexcept nogil:
    if c.nn != NULL:
        nnue_pop(c.nn)
    cb_unmake_null(&c.b)

# ---------------------------------------------------------------------------------------------------
# static exchange evaluation

cdef inline int piece_type_at(const CBoard* b, int sq) noexcept nogil:
    return b.board[sq] % 6 if b.board[sq] != CB_EMPTY else -1

cdef int see(const CBoard* b, uint16_t m) noexcept nogil:
    """Material the side to move wins by the capture sequence that m starts on its target square."""
    cdef int frm = m & 63, to = (m >> 6) & 63, flag = m >> 12
    cdef int gain[32]
    cdef int d = 0, side, attacker_type, sq
    cdef uint64_t occ = b.colors[0] | b.colors[1]
    cdef uint64_t attackers, mine, diag, straight, lowest
    cdef int t
    if flag == CB_CASTLE:
        return 0
    if flag == CB_EP:
        gain[0] = SEE_VALUE[CB_PAWN]
        occ ^= (<uint64_t> 1) << (to - 8 if b.turn == CB_WHITE else to + 8)
    else:
        t = piece_type_at(b, to)
        gain[0] = SEE_VALUE[t] if t >= 0 else 0
    attacker_type = piece_type_at(b, frm)
    if 1 <= flag <= 4:
        gain[0] += SEE_VALUE[flag] - SEE_VALUE[CB_PAWN]
        attacker_type = flag
    diag = b.pieces[CB_BISHOP] | b.pieces[CB_QUEEN]
    straight = b.pieces[CB_ROOK] | b.pieces[CB_QUEEN]
    occ ^= (<uint64_t> 1) << frm
    attackers = cb_attackers(b, to, occ) & occ
    side = 1 - b.turn
    while True:
        d += 1
        gain[d] = SEE_VALUE[attacker_type] - gain[d - 1]
        mine = attackers & b.colors[side]
        if not mine or d >= 31:
            break
        # least valuable attacker
        attacker_type = -1
        for t in range(6):
            lowest = mine & b.pieces[t]
            if lowest:
                attacker_type = t
                break
        if attacker_type == CB_KING and (attackers & b.colors[1 - side]):
            break   # the king cannot capture into a defended square
        occ ^= lowest & (0 - lowest)
        # x-rays behind the piece that left
        attackers |= (cb_bishop_attacks(to, occ) & diag) | (cb_rook_attacks(to, occ) & straight)
        attackers &= occ
        side = 1 - side
    while d > 1:
        d -= 1
        if -gain[d] < gain[d - 1]:
            gain[d - 1] = -gain[d]
    return gain[0]

# ---------------------------------------------------------------------------------------------------
# transposition table

cdef inline ABEntry* tt_pair(CABContext* c, uint64_t key) noexcept nogil:
    return c.tt.entries + (key & (c.tt.count - 1) & ~(<uint64_t> 1))

cdef inline bint tt_probe(CABContext* c, uint64_t key, ABEntry* out) noexcept nogil:
    """Copies the entry of key into *out (the table may be shared: see ab_entry_read); False if none."""
    cdef ABEntry* e = tt_pair(c, key)
    return ab_entry_read(&e[0], key, out) or ab_entry_read(&e[1], key, out)

cdef inline void tt_store(CABContext* c, uint64_t key, int depth, int flag, int score, uint16_t move, int ply) noexcept nogil:
    cdef ABEntry* e = tt_pair(c, key)
    cdef ABEntry* slot
    cdef ABEntry old
    if (ab_entry_key(&e[0]) == key or (e[0].flag_age & 3) == AB_TT_EMPTY or depth >= e[0].depth
            or (e[0].flag_age >> 2) != c.age):
        slot = &e[0]
    else:
        slot = &e[1]
    if move == 0 and ab_entry_read(slot, key, &old):
        move = <uint16_t> old.move
    ab_entry_write(slot, key, depth, flag, score, move, ply, c.age)

# ---------------------------------------------------------------------------------------------------
# search

cdef inline bint is_tactical(const CBoard* b, uint16_t m) noexcept nogil:
    cdef int flag = m >> 12
    return flag == CB_EP or (1 <= flag <= 4) or (flag != CB_CASTLE and b.board[(m >> 6) & 63] != CB_EMPTY)

cdef inline bint non_pawn_material(const CBoard* b) noexcept nogil:
    return (b.colors[b.turn] & (b.pieces[CB_KNIGHT] | b.pieces[CB_BISHOP] | b.pieces[CB_ROOK] | b.pieces[CB_QUEEN])) != 0

cdef inline void pick(uint16_t* moves, int* scores, int i, int n) noexcept nogil:
    cdef int best = i, j, ts
    cdef uint16_t tm
    for j in range(i + 1, n):
        if scores[j] > scores[best]:
            best = j
    if best != i:
        tm = moves[i]
        moves[i] = moves[best]
        moves[best] = tm
        ts = scores[i]
        scores[i] = scores[best]
        scores[best] = ts

cdef int capture_order(const CBoard* b, uint16_t m) noexcept nogil:
    cdef int to = (m >> 6) & 63, flag = m >> 12, victim
    victim = CB_PAWN if flag == CB_EP else piece_type_at(b, to)
    if victim < 0:
        victim = 0
    return SEE_VALUE[victim] * 8 - SEE_VALUE[piece_type_at(b, m & 63)] // 16 + (SEE_VALUE[flag] if 1 <= flag <= 4 else 0)


cdef int qsearch(CABContext* c, int ply, int alpha, int beta) noexcept nogil:
    cdef CBoard* b = &c.b
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int scores[CB_MAX_MOVES]
    cdef int n, i, score, stand, best, flag
    cdef bint in_check
    cdef int j
    c.pv_len[ply] = 0
    c.lim.nodes += 1
    if ply > c.seldepth:
        c.seldepth = ply
    if ab_check_limits(&c.lim):
        return 0
    if ply >= AB_MAX_PLY - 1:
        return eval_position(c)
    if cb_insufficient_material(b):
        return 0
    in_check = cb_in_check(b)
    if in_check:
        n = cb_generate(b, moves)
        if n == 0:
            return -(AB_MATE - ply)
        best = -AB_INF
        for i in range(n):
            scores[i] = capture_order(b, moves[i]) if is_tactical(b, moves[i]) else 0
    else:
        stand = eval_position(c)
        if stand >= beta:
            return stand
        if stand > alpha:
            alpha = stand
        best = stand
        n = cb_generate_captures(b, moves)
        for i in range(n):
            flag = moves[i] >> 12
            if flag != CB_QUEEN and see(b, moves[i]) < 0:
                scores[i] = -AB_INF     # losing capture: skipped
            else:
                scores[i] = capture_order(b, moves[i])
    for i in range(n):
        pick(moves, scores, i, n)
        if scores[i] == -AB_INF:
            break
        make(c, moves[i])
        score = -qsearch(c, ply + 1, -beta, -alpha)
        unmake(c)
        if c.lim.stopped:
            return 0
        if score > best:
            best = score
            if score > alpha:
                alpha = score
                c.pv[ply][0] = moves[i]
                for j in range(c.pv_len[ply + 1]):
                    c.pv[ply][j + 1] = c.pv[ply + 1][j]
                c.pv_len[ply] = c.pv_len[ply + 1] + 1
                if score >= beta:
                    break
    return best


cdef int negamax(CABContext* c, int ply, int depth, int alpha, int beta, bint is_pv, bint can_null) noexcept nogil:
    cdef CBoard* b = &c.b
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef int scores[CB_MAX_MOVES]
    cdef int n, i, score, best, static_eval, r, new_depth, searched, alpha0, flag, j
    cdef uint16_t m, best_move = 0, tt_move = 0
    cdef bint in_check, tactical
    cdef ABEntry e
    cdef uint64_t key
    c.pv_len[ply] = 0
    if ply > 0:
        if b.halfmove >= 100 or cb_insufficient_material(b) or cb_repetitions(b) >= 1:
            return 0
        if ab_mate_distance(&alpha, &beta, ply):
            return alpha
    if ply >= AB_MAX_PLY - 2:
        return eval_position(c)
    in_check = cb_in_check(b)
    if in_check:
        depth += 1          # check extension
    if depth <= 0:
        return qsearch(c, ply, alpha, beta)
    c.lim.nodes += 1
    if ply > c.seldepth:
        c.seldepth = ply
    if ab_check_limits(&c.lim):
        return 0
    key = b.hash
    if tt_probe(c, key, &e):
        tt_move = <uint16_t> e.move
        if not is_pv and ab_tt_cutoff(&e, depth, alpha, beta, ply, &score):
            return score
    n = cb_generate(b, moves)
    if n == 0:
        return -(AB_MATE - ply) if in_check else 0
    if c.prune and not is_pv and not in_check and abs(beta) < AB_MATE_BOUND:
        static_eval = eval_position(c)
        # reverse futility: far above beta near the horizon
        if depth <= 3 and static_eval - 120 * depth >= beta:
            return static_eval
        # null move
        if can_null and depth >= 3 and static_eval >= beta and non_pawn_material(b):
            r = 3 + depth // 4
            make_null(c)
            score = -negamax(c, ply + 1, depth - 1 - r, -beta, -beta + 1, False, False)
            unmake_null(c)
            if c.lim.stopped:
                return 0
            if score >= beta:
                return beta     # never a mate score proven by a pass
    # move ordering
    for i in range(n):
        m = moves[i]
        if m == tt_move:
            scores[i] = 1 << 30
        elif is_tactical(b, m):
            if (m >> 12) == CB_QUEEN or see(b, m) >= 0:
                scores[i] = (1 << 24) + capture_order(b, m)
            else:
                scores[i] = -(1 << 24) + capture_order(b, m)
        elif m == c.killers[ply][0]:
            scores[i] = (1 << 23) + 1
        elif m == c.killers[ply][1]:
            scores[i] = 1 << 23
        else:
            scores[i] = c.history[b.turn][m & 63][(m >> 6) & 63]
    best = -AB_INF
    alpha0 = alpha
    searched = 0
    for i in range(n):
        pick(moves, scores, i, n)
        m = moves[i]
        tactical = is_tactical(b, m)
        make(c, m)
        cab_prefetch(tt_pair(c, b.hash))   # the child probes it soon
        new_depth = depth - 1
        if searched == 0:
            score = -negamax(c, ply + 1, new_depth, -beta, -alpha, is_pv, True)
        else:
            r = 0
            if c.prune and depth >= 3 and not tactical and not in_check and searched >= 3 and not cb_in_check(b):
                r = LMR[depth if depth < 64 else 63][searched if searched < 64 else 63]
                if is_pv:
                    r -= 1
                if scores[i] >= (1 << 23):
                    r -= 1       # killers
                if r < 0:
                    r = 0
                if r > new_depth - 1:
                    r = new_depth - 1 if new_depth > 1 else 0
            score = -negamax(c, ply + 1, new_depth - r, -alpha - 1, -alpha, False, True)
            if score > alpha and r > 0:
                score = -negamax(c, ply + 1, new_depth, -alpha - 1, -alpha, False, True)
            if score > alpha and score < beta and is_pv:
                score = -negamax(c, ply + 1, new_depth, -beta, -alpha, True, True)
        unmake(c)
        if c.lim.stopped:
            return 0
        searched += 1
        if score > best:
            best = score
            best_move = m
            if score > alpha:
                alpha = score
                # triangular PV
                c.pv[ply][0] = m
                for j in range(c.pv_len[ply + 1]):
                    c.pv[ply][j + 1] = c.pv[ply + 1][j]
                c.pv_len[ply] = c.pv_len[ply + 1] + 1
                if ply == 0:
                    c.root_best = m
                    c.root_best_score = score
                if score >= beta:
                    if not tactical:
                        if c.killers[ply][0] != m:
                            c.killers[ply][1] = c.killers[ply][0]
                            c.killers[ply][0] = m
                        c.history[b.turn][m & 63][(m >> 6) & 63] += depth * depth
                        if c.history[b.turn][m & 63][(m >> 6) & 63] > (1 << 22):
                            _age_history(c)
                    break
    tt_store(c, key, depth, ab_bound(best, alpha0, beta), best, best_move, ply)
    return best


cdef void _age_history(CABContext* c) noexcept nogil:
    cdef int s, f, t
    for s in range(2):
        for f in range(64):
            for t in range(64):
                c.history[s][f][t] //= 2

# ---------------------------------------------------------------------------------------------------
# Lazy SMP: helper searchers on C threads over the shared table

ctypedef void* (*cab_thread_main)(void*) noexcept nogil

cdef extern from "<pthread.h>" nogil:
    int pthread_create(pthread_t* thread, const void* attr, cab_thread_main start, void* arg)
    int pthread_join(pthread_t thread, void** ret)

MAX_THREADS = 256


cdef void* helper_main(void* arg) noexcept nogil:
    """A helper's whole search: iterative deepening with full windows from its first depth, until the
    main searcher stops it (or its own clock does). Its results reach the main searcher through the
    table only."""
    cdef CABHelper* h = <CABHelper*> arg
    cdef int depth
    for depth in range(h.first_depth, h.max_depth + 1):
        h.c.root_best = -1
        negamax(h.c, 0, depth, -AB_INF, AB_INF, True, False)
        if h.c.lim.stopped:
            break
        h.depth_done = depth
    return NULL


cdef int helpers_start(CABContext* main, CABHelper* helpers, int n, double seconds_left) noexcept nogil:
    """Loads the main context's root, table, generation and pruning mode into each helper and starts
    its thread. Helper i starts at depth 1 + i % 2 (odd helpers a ply ahead). Returns how many started."""
    cdef int i, s, f, t
    cdef CABContext* c
    for i in range(n):
        c = helpers[i].c
        memcpy(&c.b, &main.b, sizeof(CBoard))
        if c.nn != NULL:
            nnue_refresh(c.nn, &c.b)
        c.tt = main.tt
        c.age = main.age
        c.prune = main.prune
        c.seldepth = 0
        for s in range(2):
            for f in range(64):
                for t in range(64):
                    c.history[s][f][t] //= 8
        ab_limits_begin(&c.lim, 0, seconds_left)
        helpers[i].first_depth = 1 + (i + 1) % 2
        helpers[i].max_depth = AB_MAX_PLY - 8
        helpers[i].depth_done = 0
        if pthread_create(&helpers[i].thread, NULL, helper_main, &helpers[i]) != 0:
            return i
        helpers[i].running = 1
    return n


cdef void helpers_join(CABHelper* helpers, int n) noexcept nogil:
    """Stops every running helper and waits for its thread."""
    cdef int i
    for i in range(n):
        if helpers[i].running:
            helpers[i].c.lim.stop_requested = 1
    for i in range(n):
        if helpers[i].running:
            pthread_join(helpers[i].thread, NULL)
            helpers[i].running = 0

# ---------------------------------------------------------------------------------------------------
# Python side


cdef class ChessAlphaBeta:
    """Alpha-beta in C for the bitboard chess board (``games.load("chess")`` and ``"chess960"``): the
    back end that ``mcts.AlphaBeta`` drives (iterative deepening, aspiration windows, limits and
    interim reports live in that one driver; this class runs one iteration at a time in C).

    The transposition table is allocated as fresh zero pages (no pass over the memory, whatever its
    size) and is kept between searches; :meth:`clear` and :meth:`resize` replace it (the UCI layer calls
    them on ``ucinewgame`` and ``setoption Hash``, from its worker thread, between searches).

    Args:
        game: a game whose states are ``games.chessboard.ChessBoardState``.
        tt_bytes: transposition-table size in bytes (16 bytes an entry, a power of two of them).
        aspiration: half-width of the aspiration window, centipawns (0: full windows).
        eval_file: the learned evaluation, an ONNX file of ``models.chess_nnue`` (or a loaded
            ``mcts._nnue.ChessNNUE``); None: the hand-written evaluation.
        threads: searchers (1 to ``MAX_THREADS``).

    With ``threads`` > 1 the search is Lazy SMP: ``begin`` starts ``threads - 1`` helper searchers on C
    threads (no GIL), each with its own board, killers, history, counters and NNUE accumulator stack,
    all over the one table (lock-free entries: ``mcts/_ab_common.pxd``, ``ab_entry_read``). Helpers
    deepen with full windows, odd ones a ply ahead, and only fill the table; the iterations the driver
    asks for run on the main context, whose result is reported. ``finish`` (the driver calls it when a
    search ends) stops and joins them. ``nodes`` counts every thread; a node limit counts the main
    searcher's nodes. With one thread nothing of this runs and the search is deterministic.

    Raises:
        ValueError: the game's states are not bitboard chess states, tt_bytes < 1024, or threads
            out of range.
        mcts._nnue.NNUEFileError: eval_file is not a chess NNUE.
    """

    def __cinit__(self, game, *, size_t tt_bytes=16 << 20, int aspiration=25, eval_file=None, int threads=1):
        if not isinstance(game.new_initial_state(), ChessBoardState):
            raise ValueError(f"ChessAlphaBeta needs the bitboard chess game (games.load('chess')), got {game!r}")
        self.c = <CABContext*> calloc(1, sizeof(CABContext))
        if self.c == NULL:
            raise MemoryError("cannot allocate the search context")
        self.game = game
        self.aspiration = aspiration
        self.c.prune = 1
        self.helpers = NULL
        self.n_helpers = 0
        self.resize(tt_bytes)
        self.nnue = None
        self.set_eval_file(eval_file)
        self.threads = threads

    @staticmethod
    def accepts(state):
        """Whether this back end searches ``state`` (a ``ChessBoardState``)."""
        return isinstance(state, ChessBoardState)

    def __dealloc__(self):
        self._free_helpers()
        if self.c != NULL:
            nnue_stack_free(self.c.nn)
            ab_table_free(&self.c.tt)
            free(self.c)

    cdef void _free_helpers(self) noexcept:
        cdef int i
        if self.helpers == NULL:
            return
        with nogil:
            helpers_join(self.helpers, self.n_helpers)
        for i in range(self.n_helpers):
            if self.helpers[i].c != NULL:
                nnue_stack_free(self.helpers[i].c.nn)
            free(self.helpers[i].c)
        free(self.helpers)
        self.helpers = NULL
        self.n_helpers = 0

    @property
    def threads(self):
        """Searcher threads (1: the main searcher alone). Set it between searches.

        Raises:
            ValueError: not in 1 .. ``MAX_THREADS``.
            MemoryError: the helpers' contexts cannot be allocated (one thread is kept).
        """
        return self.n_helpers + 1

    @threads.setter
    def threads(self, int n):
        if not 1 <= n <= MAX_THREADS:
            raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {n}")
        cdef int i
        self._free_helpers()
        if n == 1:
            return
        self.helpers = <CABHelper*> calloc(n - 1, sizeof(CABHelper))
        if self.helpers == NULL:
            raise MemoryError("cannot allocate the helper searchers")
        cdef ChessNNUE net = self.nnue
        for i in range(n - 1):
            self.helpers[i].c = <CABContext*> calloc(1, sizeof(CABContext))
            if self.helpers[i].c != NULL and net is not None:
                self.helpers[i].c.nn = nnue_stack_new(&net.net)   # each thread its own accumulators
                if self.helpers[i].c.nn == NULL:
                    free(self.helpers[i].c)
                    self.helpers[i].c = NULL
            if self.helpers[i].c == NULL:
                self.n_helpers = i
                self._free_helpers()
                raise MemoryError("cannot allocate a helper's search context")
        self.n_helpers = n - 1

    def finish(self):
        """Stops the helper searchers of the current search and waits for them (a no-op with one
        thread, or when none runs). The driver calls it when a search ends."""
        if self.helpers != NULL:
            with nogil:
                helpers_join(self.helpers, self.n_helpers)

    def set_eval_file(self, eval_file):
        """Switches the evaluation: an ONNX file of the learned evaluation (or a loaded ``ChessNNUE``),
        or None for the hand-written one (the helper searchers follow). Call it between searches."""
        cdef ChessNNUE net
        if eval_file is None:
            nnue_stack_free(self.c.nn)
            self.c.nn = NULL
            self.nnue = None
            self.threads = self.threads
            return
        net = eval_file if isinstance(eval_file, ChessNNUE) else ChessNNUE(eval_file)
        nnue_stack_free(self.c.nn)
        self.c.nn = nnue_stack_new(&net.net)
        if self.c.nn == NULL:
            self.nnue = None
            raise MemoryError("cannot allocate the accumulator stack")
        self.nnue = net
        self.threads = self.threads   # new helper contexts with their own accumulator stacks

    def resize(self, size_t tt_bytes):
        """A new, empty transposition table of at most ``tt_bytes`` (at least 1024). Costs no pass over
        the memory: the pages are zeroed by the kernel when the search first writes them. Call it between
        searches.

        Raises:
            ValueError: tt_bytes < 1024.
            MemoryError: the table cannot be allocated (the old one is kept).
        """
        if tt_bytes < 1024:
            raise ValueError(f"tt_bytes must be >= 1024, got {tt_bytes}")
        self.finish()
        cdef uint64_t count = ab_table_count(tt_bytes, 2)
        cdef ABTable fresh
        if ab_table_alloc(&fresh, count) != 0:
            raise MemoryError(f"cannot allocate a transposition table of {tt_bytes} bytes")
        ab_table_free(&self.c.tt)
        self.c.tt = fresh
        self.c.age = 0
        self.tt_bytes = count * sizeof(ABEntry)

    def clear(self):
        """Empties the transposition table: in place up to 64 MB (a memset), else a fresh lazily zeroed
        block (no pass over the memory). Call it between searches.

        Raises:
            MemoryError: a fresh block cannot be allocated (the table is kept).
        """
        self.finish()
        if ab_table_clear(&self.c.tt) != 0:
            raise MemoryError(f"cannot allocate a transposition table of {self.tt_bytes} bytes")

    @property
    def table_bytes(self):
        """Bytes of the transposition table."""
        return self.tt_bytes

    def reset(self):
        """Forgets the transposition table, killers and history (``ucinewgame``)."""
        self.clear()
        memset(self.c.killers, 0, sizeof(self.c.killers))
        memset(self.c.history, 0, sizeof(self.c.history))
        if self.c.nn != NULL:
            nnue_clear_cache(self.c.nn)
        cdef int i
        for i in range(self.n_helpers):
            memset(self.helpers[i].c.killers, 0, sizeof(self.c.killers))
            memset(self.helpers[i].c.history, 0, sizeof(self.c.history))
            if self.helpers[i].c.nn != NULL:
                nnue_clear_cache(self.helpers[i].c.nn)

    def stop(self):
        """Makes a running search return its best result so far (thread-safe: ints written)."""
        self.c.lim.stop_requested = 1
        cdef int i
        for i in range(self.n_helpers):
            self.helpers[i].c.lim.stop_requested = 1

    # -- back-end interface of mcts._ab_search.AlphaBeta --------------------------------------

    def begin(self, state, node_limit=None, deadline=None):
        """Loads the root position and the limits (``deadline`` in ``time.monotonic()`` seconds)."""
        if not isinstance(state, ChessBoardState):
            raise ValueError(f"ChessAlphaBeta searches bitboard chess states, got {state!r}")
        self.finish()
        memcpy(&self.c.b, &(<ChessBoardState> state).s, sizeof(CBoard))
        if self.c.nn != NULL:
            nnue_refresh(self.c.nn, &self.c.b)
        # time.monotonic and clock_gettime(CLOCK_MONOTONIC) share a clock on Linux
        ab_limits_begin(&self.c.lim, int(node_limit) if node_limit else 0,
                        max(0.0, deadline - time.monotonic()) if deadline is not None else -1.0)
        self.c.seldepth = 0
        self.c.age = (self.c.age + 1) & 63
        cdef int s, f, t
        for s in range(2):
            for f in range(64):
                for t in range(64):
                    self.c.history[s][f][t] //= 8
        cdef double seconds_left = self.c.lim.deadline - ab_now() if self.c.lim.deadline > 0 else -1.0
        cdef int started
        if self.n_helpers:
            with nogil:
                started = helpers_start(self.c, self.helpers, self.n_helpers, seconds_left)
            if started < self.n_helpers:
                self.finish()
                raise RuntimeError(f"could not start helper thread {started + 1} of {self.n_helpers}")

    def search(self, int depth, int alpha, int beta):
        """One iteration at ``depth`` in the window; returns ``(score, stopped, best, best_score, 0)``
        (best: the action of the root move that last raised alpha, or -1)."""
        cdef int score
        self.c.root_best = -1
        self.c.root_best_score = 0
        with nogil:
            score = negamax(self.c, 0, depth, alpha, beta, True, False)
        best = cb_move_to_action(<uint16_t> self.c.root_best) if self.c.root_best >= 0 else -1
        return score, bool(self.c.lim.stopped), best, self.c.root_best_score, 0

    def pv(self):
        """Principal variation of the last completed iteration, as actions."""
        return [cb_move_to_action(self.c.pv[0][i]) for i in range(self.c.pv_len[0])]

    def clear_stop(self):
        self.c.lim.stop_requested = 0

    @property
    def exact(self):
        """Full-width search (no null move, reverse futility or reductions): mate searches."""
        return not self.c.prune

    @exact.setter
    def exact(self, value):
        self.c.prune = 0 if value else 1

    @property
    def nodes(self):
        """Nodes of the current search, every thread's."""
        cdef long long total = self.c.lim.nodes
        cdef int i
        for i in range(self.n_helpers):
            total += self.helpers[i].c.lim.nodes
        return total

    @property
    def helper_depths(self):
        """Deepest completed iteration of each helper in the current search (empty with one thread)."""
        return [self.helpers[i].depth_done for i in range(self.n_helpers)]

    @property
    def seldepth(self):
        return self.c.seldepth

    @property
    def stop_reason(self):
        return ab_stop_name(self.c.lim.stop_reason)

    def hashfull(self):
        """Permille of the transposition table written by the current search (UCI ``hashfull``):
        the share of the first 1,000 entries that hold a position of this generation."""
        cdef uint64_t i, n = min(<uint64_t> 1000, self.c.tt.count)
        cdef int used = 0
        cdef ABEntry* e
        for i in range(n):
            e = &self.c.tt.entries[i]
            if (e.flag_age & 3) != AB_TT_EMPTY and (e.flag_age >> 2) == self.c.age:
                used += 1
        return (used * 1000) // n if n else 0

    @property
    def score_scale(self):
        """Centipawns at which the value is tanh(1) (see ``mcts._score.score_to_value``)."""
        return CHESS_SCALE

    def value_of(self, int score):
        """A score as a value in [-1, 1] for the side to move (the shared map; mates are +-1)."""
        return ab_score_to_value(score, CHESS_SCALE)

    @property
    def aspiration_schedule(self):
        """The driver's aspiration windows for chess: (half-width cp, first depth, growth, full-open width)."""
        return (self.aspiration, 4, 3, 1500)

    @property
    def max_depth(self):
        """Deepest iteration the driver may ask for (the ply tables hold quiescence beyond it)."""
        return AB_MAX_PLY - 8

    def __repr__(self):
        nnue = f", eval_file={self.nnue.path!r}" if self.nnue is not None else ""
        return f"ChessAlphaBeta(tt_bytes={self.tt_bytes}{nnue}, threads={self.threads})"


# ---------------------------------------------------------------------------------------------------
# self-check of the lock-free table (tests/test_threads.py)

ctypedef struct CABStress:
    ABTable* tt
    uint64_t seed
    long long iterations
    int key_count
    long long reads                       # probes whose key check passed
    long long misses                      # probes that failed it (other key, empty, or torn)
    long long bad                         # passed the check but held another key's data


cdef inline uint64_t _mix(uint64_t x) noexcept nogil:
    """splitmix64's finaliser: the stress test's keys and their data."""
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL
    return x ^ (x >> 31)


cdef void* _stress_main(void* arg) noexcept nogil:
    cdef CABStress* w = <CABStress*> arg
    cdef uint64_t rng = w.seed, key, h
    cdef long long i
    cdef ABEntry got
    cdef ABEntry* slot
    for i in range(w.iterations):
        rng = _mix(rng + 0x9e3779b97f4a7c15ULL)
        key = _mix(<uint64_t> (rng % <uint64_t> w.key_count) + 1)
        h = _mix(key)
        slot = w.tt.entries + (key & (w.tt.count - 1))
        if rng & (<uint64_t> 1 << 40):
            # each key always stores the same data, derived from it
            ab_entry_write(slot, key, <int> (h & 63), AB_TT_EXACT, <int> ((h >> 8) & 0xFFFFF) - 500000,
                           <int> ((h >> 32) & 0x7FFF), 0, <uint8_t> ((h >> 50) & 63))
        elif ab_entry_read(slot, key, &got):
            w.reads += 1
            if (got.depth != <int> (h & 63) or got.score != <int> ((h >> 8) & 0xFFFFF) - 500000
                    or got.move != <int> ((h >> 32) & 0x7FFF) or got.flag_age != (AB_TT_EXACT | (((h >> 50) & 63) << 2))):
                w.bad += 1
        else:
            w.misses += 1
    return NULL


def table_stress(int threads, long long iterations, int entries=16, int key_count=64, uint64_t seed=1):
    """Hammers one shared table from ``threads`` C threads at once: each writes keys with data derived
    from the key and reads keys back, many keys a slot, so that writes race on every slot. Returns
    ``(reads, misses, bad)``: probes whose key check passed, probes that missed, and passed probes
    whose data was not their key's (a torn entry taken for good: must be 0).

    Raises:
        ValueError: threads, iterations, entries or key_count out of range (entries: a power of two).
    """
    if not 1 <= threads <= MAX_THREADS or iterations < 1 or key_count < 1 or entries < 2 or entries & (entries - 1):
        raise ValueError(f"bad stress parameters: threads={threads}, iterations={iterations}, "
                         f"entries={entries} (a power of two >= 2), key_count={key_count}")
    cdef ABTable tt
    cdef int i, started = 0
    cdef CABStress* work = <CABStress*> calloc(threads, sizeof(CABStress))
    cdef pthread_t* handles = <pthread_t*> calloc(threads, sizeof(pthread_t))
    if work == NULL or handles == NULL or ab_table_alloc(&tt, entries) != 0:
        free(work)
        free(handles)
        raise MemoryError("cannot allocate the stress test")
    for i in range(threads):
        work[i].tt = &tt
        work[i].seed = seed * 1000003 + i
        work[i].iterations = iterations
        work[i].key_count = key_count
    with nogil:
        for i in range(threads):
            if pthread_create(&handles[i], NULL, _stress_main, &work[i]) != 0:
                break
            started += 1
        for i in range(started):
            pthread_join(handles[i], NULL)
    reads = sum(work[i].reads for i in range(started))
    misses = sum(work[i].misses for i in range(started))
    bad = sum(work[i].bad for i in range(started))
    free(work)
    free(handles)
    ab_table_free(&tt)
    if started < threads:
        raise RuntimeError(f"could only start {started} of {threads} threads")
    return reads, misses, bad

