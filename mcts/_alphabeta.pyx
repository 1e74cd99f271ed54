"""Alpha-beta core for games with a C interface: negamax with a transposition table, principal
variation search, killer and history move ordering and mate scores, run in C without the GIL.

Python drives iterative deepening and aspiration windows (``mcts._ab_search.AlphaBeta``) and calls
:meth:`CAlphaBeta.search` once per iteration and window; each call releases the GIL for its whole
duration. Positions are copied with memcpy (copy-make) into a stack of ``AB_MAX_PLY + 1`` slots, so
the search allocates nothing per node.

Leaf evaluation: a terminal position scores ``AB_MATE - ply`` for a win (fastest win highest, slowest
loss highest among losses), 0 for a draw. Non-terminal horizon leaves score 0, except in Connect Four,
where the game's own bitboards (Pons' layout, ``games/connect4.pxd``) give an immediate-win check and a
threat count.
"""
from libc.stdint cimport uint64_t, int32_t, int16_t, int8_t, uint8_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset
from libc.math cimport tanh
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from games._cgame cimport CGame, CState, TERMINAL_PLAYER
from games.connect4 cimport (C4, Connect4State, c4_column_mask, c4_opponent_winning_positions, c4_popcount,
                             c4_possible, c4_winning_positions)

STOP_REASONS = ("", "nodes", "time", "stopped")


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline bint _check_limits(ABContext* c) noexcept nogil:
    # node limit every node (cheap), clock and stop flag every 1024 nodes (well under a millisecond)
    if c.node_limit > 0 and c.nodes >= c.node_limit:
        c.stopped = 1
        c.stop_reason = 1
    elif (c.nodes & 1023) == 0:
        if c.stop_requested:
            c.stopped = 1
            c.stop_reason = 3
        elif c.deadline > 0 and _now() >= c.deadline:
            c.stopped = 1
            c.stop_reason = 2
    return c.stopped


cdef inline int _terminal_score(const ABContext* c, const void* s, int stm, int ply) noexcept nogil:
    cdef double r = c.g.returns0(s)
    if stm == 1:
        r = -r
    if r > 0.999:
        return AB_MATE - ply
    if r < -0.999:
        return -(AB_MATE - ply)
    return <int> (r * 1000.0)


cdef inline int _c4_eval(const C4* p, int ply) noexcept nogil:
    cdef uint64_t mine = c4_winning_positions(p)
    cdef uint64_t theirs = c4_opponent_winning_positions(p)
    cdef uint64_t possible = c4_possible(p)
    cdef int score
    if mine & possible:
        return AB_MATE - ply - 1            # the mover wins with its next stone
    if theirs & possible and (theirs & possible) & ((theirs & possible) - 1):
        return -(AB_MATE - ply - 2)         # two immediate threats: the opponent wins next
    # threats (empty cells completing a four) and stones in the centre column
    score = 16 * (c4_popcount(mine) - c4_popcount(theirs))
    score += 4 * (c4_popcount(p.current & c4_column_mask(3)) - c4_popcount((p.current ^ p.mask) & c4_column_mask(3)))
    return score


cdef inline int _leaf(ABContext* c, int ply) noexcept nogil:
    if c.kind == AB_KIND_CONNECT4:
        return _c4_eval(<const C4*> (c.stack + ply * c.size), ply)
    return 0


cdef inline ABEntry* _tt_probe(ABContext* c, uint64_t key) noexcept nogil:
    cdef ABEntry* b = c.tt + (key & (c.tt_buckets - 1)) * AB_BUCKET
    cdef int i
    for i in range(AB_BUCKET):
        if b[i].flag_age != 0 and b[i].key == key:
            return &b[i]
    return NULL


cdef inline void _tt_store(ABContext* c, uint64_t key, int depth, int flag, int score, int move, int ply) noexcept nogil:
    cdef ABEntry* b = c.tt + (key & (c.tt_buckets - 1)) * AB_BUCKET
    cdef ABEntry* victim = NULL
    cdef int i, worth, best_worth = 1 << 30, age_gap
    for i in range(AB_BUCKET):
        if b[i].flag_age != 0 and b[i].key == key:
            victim = &b[i]
            if move == AB_NO_MOVE:
                move = victim.move          # keep the old best move when this search found none
            break
        if b[i].flag_age == 0:
            worth = -1000
        else:
            # replace shallow entries first, and entries of older searches before current ones
            age_gap = (c.age - (b[i].flag_age >> 2)) & 63
            worth = b[i].depth - 8 * age_gap
        if worth < best_worth:
            best_worth = worth
            victim = &b[i]
    if score > AB_MATE_BOUND:
        score += ply                        # store mate scores relative to this node
    elif score < -AB_MATE_BOUND:
        score -= ply
    victim.key = key
    victim.score = score
    victim.move = <int16_t> move
    victim.depth = <int8_t> (depth if depth < 127 else 127)
    victim.flag_age = <uint8_t> (flag | (c.age << 2))


cdef int _negamax(ABContext* c, int ply, int depth, int alpha, int beta, int stm, bint is_pv) noexcept nogil:
    cdef void* s = c.stack + ply * c.size
    cdef void* child
    cdef int* moves
    cdef int* scores
    cdef int n, i, j, a, best, score, best_move, tt_move, alpha0, flag, child_stm, tmp, nply
    cdef uint64_t key
    cdef ABEntry* e
    c.pv_len[ply] = 0
    if ply > c.seldepth:
        c.seldepth = ply
    if c.g.is_terminal(s):
        return _terminal_score(c, s, stm, ply)
    if depth <= 0 or ply >= AB_MAX_PLY - 1:
        return _leaf(c, ply)
    c.nodes += 1
    if _check_limits(c):
        return 0
    # mate distance pruning: no line from here beats a win at the next ply
    if ply > 0:
        if alpha < -(AB_MATE - ply):
            alpha = -(AB_MATE - ply)
        if beta > AB_MATE - ply - 1:
            beta = AB_MATE - ply - 1
        if alpha >= beta:
            return alpha
    alpha0 = alpha
    key = c.g.hash(s)
    tt_move = AB_NO_MOVE
    e = _tt_probe(c, key)
    if e != NULL:
        tt_move = e.move
        if ply > 0 and e.depth >= depth and not is_pv:
            score = e.score
            if score > AB_MATE_BOUND:
                score -= ply
            elif score < -AB_MATE_BOUND:
                score += ply
            flag = e.flag_age & 3
            if flag == AB_TT_EXACT or (flag == AB_TT_LOWER and score >= beta) or (flag == AB_TT_UPPER and score <= alpha):
                return score
    moves = c.moves + ply * c.max_legal
    scores = c.scores + ply * c.max_legal
    n = c.g.legal_actions(s, moves)
    for i in range(n):
        a = moves[i]
        if a == tt_move:
            scores[i] = 1 << 30
        elif a == c.killers[ply][0]:
            scores[i] = (1 << 29)
        elif a == c.killers[ply][1]:
            scores[i] = (1 << 29) - 1
        else:
            scores[i] = c.history[stm * c.num_actions + a]
            if c.kind == AB_KIND_CONNECT4:
                scores[i] += 3 - (a - 3 if a > 3 else 3 - a)   # centre columns first among equals
    best = -AB_INF
    best_move = AB_NO_MOVE
    child = c.stack + (ply + 1) * c.size
    for i in range(n):
        # selection sort step: the best-scored remaining move
        j = i
        for tmp in range(i + 1, n):
            if scores[tmp] > scores[j]:
                j = tmp
        if j != i:
            tmp = moves[i]; moves[i] = moves[j]; moves[j] = tmp
            tmp = scores[i]; scores[i] = scores[j]; scores[j] = tmp
        a = moves[i]
        memcpy(child, s, c.size)
        c.g.apply_action(child, a)
        child_stm = c.g.current_player(child)
        if child_stm == TERMINAL_PLAYER:
            child_stm = 1 - stm
        if i == 0:
            score = -_negamax(c, ply + 1, depth - 1, -beta, -alpha, child_stm, is_pv)
        else:
            score = -_negamax(c, ply + 1, depth - 1, -alpha - 1, -alpha, child_stm, False)
            if score > alpha and score < beta and not c.stopped:
                score = -_negamax(c, ply + 1, depth - 1, -beta, -alpha, child_stm, is_pv)
        if c.stopped:
            return 0
        if ply == 0:
            c.root_done += 1
        if score > best:
            best = score
            best_move = a
            if score > alpha:
                alpha = score
                c.pv[ply][0] = a
                nply = c.pv_len[ply + 1]
                for j in range(nply):
                    c.pv[ply][j + 1] = c.pv[ply + 1][j]
                c.pv_len[ply] = nply + 1
                if ply == 0:
                    c.root_best = a
                    c.root_best_score = score
                if score >= beta:
                    if a != tt_move and a != c.killers[ply][0]:
                        c.killers[ply][1] = c.killers[ply][0]
                        c.killers[ply][0] = a
                    c.history[stm * c.num_actions + a] += depth * depth
                    if c.history[stm * c.num_actions + a] > (1 << 27):
                        for j in range(2 * c.num_actions):
                            c.history[j] >>= 1
                    break
    if n == 0:
        return 0   # no legal action in a non-terminal position: cannot happen in a well-formed game
    if ply == 0 and c.root_best == AB_NO_MOVE:
        c.root_best = best_move
        c.root_best_score = best
        c.pv[0][0] = best_move
        c.pv_len[0] = 1
    if best >= beta:
        flag = AB_TT_LOWER
    elif best > alpha0:
        flag = AB_TT_EXACT
    else:
        flag = AB_TT_UPPER
    _tt_store(c, key, depth, flag, best, best_move, ply)
    return best


cdef class CAlphaBeta:
    """The C search state for one game: buffers, transposition table and ordering tables.

    Args:
        game: a game whose states are ``games._cgame.CState``.
        tt_bytes: transposition table size in bytes (rounded down to a power-of-two number of
            64-byte buckets, at least one).
    """

    def __cinit__(self, game, size_t tt_bytes=16 << 20):
        cdef CState probe = game.new_initial_state()
        if not isinstance(probe, CState):
            raise ValueError(f"CAlphaBeta needs a game with a C interface, got {game!r}")
        memset(&self.ctx, 0, sizeof(ABContext))
        self.game = game
        self.ctx.g = probe.cgame
        self.ctx.size = probe.cgame.state_size
        self.ctx.max_legal = probe.cgame.max_legal
        self.ctx.num_actions = probe.cgame.num_actions
        self.ctx.kind = AB_KIND_CONNECT4 if isinstance(probe, Connect4State) else AB_KIND_GENERIC
        cdef uint64_t buckets = 1
        while buckets * 2 * AB_BUCKET * sizeof(ABEntry) <= tt_bytes:
            buckets *= 2
        self.ctx.tt_buckets = buckets
        self.tt_bytes = buckets * AB_BUCKET * sizeof(ABEntry)
        self.ctx.tt = <ABEntry*> calloc(buckets * AB_BUCKET, sizeof(ABEntry))
        self.ctx.stack = <char*> malloc((AB_MAX_PLY + 1) * self.ctx.size)
        self.ctx.moves = <int*> malloc(AB_MAX_PLY * self.ctx.max_legal * sizeof(int))
        self.ctx.scores = <int*> malloc(AB_MAX_PLY * self.ctx.max_legal * sizeof(int))
        self.ctx.history = <int*> calloc(2 * self.ctx.num_actions, sizeof(int))
        if (self.ctx.tt == NULL or self.ctx.stack == NULL or self.ctx.moves == NULL or self.ctx.scores == NULL
                or self.ctx.history == NULL):
            raise MemoryError(f"cannot allocate the alpha-beta buffers ({self.tt_bytes} bytes of table)")
        self.reset()

    def __dealloc__(self):
        free(self.ctx.tt)
        free(self.ctx.stack)
        free(self.ctx.moves)
        free(self.ctx.scores)
        free(self.ctx.history)

    @property
    def table_bytes(self):
        """Bytes of the transposition table."""
        return self.tt_bytes

    def reset(self):
        """Forgets the transposition table, killers and history."""
        memset(self.ctx.tt, 0, self.tt_bytes)
        memset(self.ctx.history, 0, 2 * self.ctx.num_actions * sizeof(int))
        memset(self.ctx.killers, 0xFF, sizeof(self.ctx.killers))   # AB_NO_MOVE everywhere
        self.ctx.age = 0

    def stop(self):
        """Asks a running search to return (thread-safe: one int written)."""
        self.ctx.stop_requested = 1

    def begin(self, CState root, node_limit=None, deadline=None):
        """Loads the root and the limits of a new search (``deadline`` in ``time.monotonic()``
        seconds) and starts a new table generation."""
        if root.cgame != self.ctx.g:
            raise ValueError(f"state {root!r} is not a position of {self.game!r}")
        memcpy(self.ctx.stack, root.data, self.ctx.size)
        self.ctx.nodes = 0
        self.ctx.node_limit = node_limit if node_limit is not None else 0
        self.ctx.deadline = deadline if deadline is not None else 0.0
        self.ctx.stop_requested = 0
        self.ctx.stopped = 0
        self.ctx.stop_reason = 0
        self.ctx.seldepth = 0
        self.ctx.age = (self.ctx.age + 1) & 63
        if self.ctx.age == 0:
            self.ctx.age = 1
        memset(self.ctx.killers, 0xFF, sizeof(self.ctx.killers))

    def search(self, int depth, int alpha, int beta):
        """One fixed-depth negamax of the root with window ``(alpha, beta)``, GIL released.

        Returns:
            tuple: ``(score, stopped, root_best, root_best_score, root_done)``; ``root_best`` is
            the best root action found in this call (-1 if no root move finished).
        """
        cdef int score
        cdef int stm = self.ctx.g.current_player(self.ctx.stack)
        if depth > AB_MAX_PLY - 2:
            depth = AB_MAX_PLY - 2
        self.ctx.root_best = AB_NO_MOVE
        self.ctx.root_best_score = -AB_INF
        self.ctx.root_done = 0
        with nogil:
            score = _negamax(&self.ctx, 0, depth, alpha, beta, stm, True)
        return score, bool(self.ctx.stopped), self.ctx.root_best, self.ctx.root_best_score, self.ctx.root_done

    def pv(self):
        """The principal variation of the last completed search call."""
        return [self.ctx.pv[0][i] for i in range(self.ctx.pv_len[0])]

    def tt_move(self, CState state):
        """The table's move for a position, or -1."""
        cdef ABEntry* e = _tt_probe(&self.ctx, self.ctx.g.hash(state.data))
        return -1 if e == NULL else e.move

    def value_of(self, int score):
        """A score as a value in [-1, 1] for the player to move (wins and losses are +-1)."""
        if score > AB_MATE_BOUND:
            return 1.0
        if score < -AB_MATE_BOUND:
            return -1.0
        if self.ctx.kind == AB_KIND_CONNECT4:
            return float(tanh(score / 100.0))
        return max(-1.0, min(1.0, score / 1000.0))

    @property
    def nodes(self):
        return self.ctx.nodes

    @property
    def seldepth(self):
        return self.ctx.seldepth

    @property
    def stop_reason(self):
        return STOP_REASONS[self.ctx.stop_reason]

    def clear_stop(self):
        """Clears a stop request (a new run ignores a stop that came before it)."""
        self.ctx.stop_requested = 0


MATE = AB_MATE
MATE_BOUND = AB_MATE_BOUND
INF = AB_INF
MAX_PLY = AB_MAX_PLY
