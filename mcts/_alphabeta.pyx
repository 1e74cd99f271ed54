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

import time

from mcts._ab_common cimport (
    AB_INF, AB_MATE, AB_MATE_BOUND, AB_MAX_PLY, AB_TT_EMPTY, ABEntry, ab_bound, ab_check_limits, ab_entry_key,
    ab_entry_read, ab_entry_write, ab_limits_begin, ab_mate_distance, ab_score_to_value, ab_stop_name, ab_table_alloc, ab_table_clear, ab_table_count,
    ab_table_free, ab_tt_cutoff,
)

from games._cgame cimport CGame, CState, TERMINAL_PLAYER
from games.connect4 cimport (C4, Connect4State, c4_column_mask, c4_opponent_winning_positions, c4_popcount,
                             c4_possible, c4_winning_positions)

CONNECT4_SCALE = 100.0    # score units of the threat count at which the value is tanh(1)
GENERIC_SCALE = 1000.0    # terminal returns r score 1000 r


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


cdef inline bint _tt_probe(ABContext* c, uint64_t key, ABEntry* out) noexcept nogil:
    """Copies the entry of key into *out; False when the table has none."""
    cdef ABEntry* b = c.tt.entries + (key & (c.tt.count - 1) & ~(<uint64_t> (AB_BUCKET - 1)))
    cdef int i
    for i in range(AB_BUCKET):
        if ab_entry_read(&b[i], key, out):
            return True
    return False


cdef inline void _tt_store(ABContext* c, uint64_t key, int depth, int flag, int score, int move, int ply) noexcept nogil:
    cdef ABEntry* b = c.tt.entries + (key & (c.tt.count - 1) & ~(<uint64_t> (AB_BUCKET - 1)))
    cdef ABEntry* victim = NULL
    cdef int i, worth, best_worth = 1 << 30, age_gap
    for i in range(AB_BUCKET):
        if b[i].flag_age != 0 and ab_entry_key(&b[i]) == key:
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
    ab_entry_write(victim, key, depth, flag, score, move, ply, c.age)


cdef int _negamax(ABContext* c, int ply, int depth, int alpha, int beta, int stm, bint is_pv) noexcept nogil:
    cdef void* s = c.stack + ply * c.size
    cdef void* child
    cdef int* moves
    cdef int* scores
    cdef int n, i, j, a, best, score, best_move, tt_move, alpha0, flag, child_stm, tmp, nply
    cdef uint64_t key
    cdef ABEntry e
    c.pv_len[ply] = 0
    if ply > c.seldepth:
        c.seldepth = ply
    if c.g.is_terminal(s):
        return _terminal_score(c, s, stm, ply)
    if depth <= 0 or ply >= AB_MAX_PLY - 1:
        return _leaf(c, ply)
    c.lim.nodes += 1
    if ab_check_limits(&c.lim):
        return 0
    if ply > 0 and ab_mate_distance(&alpha, &beta, ply):
        return alpha
    alpha0 = alpha
    key = c.g.hash(s)
    tt_move = AB_NO_MOVE
    if _tt_probe(c, key, &e):
        tt_move = e.move
        if ply > 0 and not is_pv and ab_tt_cutoff(&e, depth, alpha, beta, ply, &score):
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
            if score > alpha and score < beta and not c.lim.stopped:
                score = -_negamax(c, ply + 1, depth - 1, -beta, -alpha, child_stm, is_pv)
        if c.lim.stopped:
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
    _tt_store(c, key, depth, ab_bound(best, alpha0, beta), best, best_move, ply)
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
        self.ctx.stack = <char*> malloc((AB_MAX_PLY + 1) * self.ctx.size)
        self.ctx.moves = <int*> malloc(AB_MAX_PLY * self.ctx.max_legal * sizeof(int))
        self.ctx.scores = <int*> malloc(AB_MAX_PLY * self.ctx.max_legal * sizeof(int))
        self.ctx.history = <int*> calloc(2 * self.ctx.num_actions, sizeof(int))
        if self.ctx.stack == NULL or self.ctx.moves == NULL or self.ctx.scores == NULL or self.ctx.history == NULL:
            raise MemoryError("cannot allocate the alpha-beta buffers")
        self.resize(tt_bytes)   # an empty table; history is calloc'd
        memset(self.ctx.killers, 0xFF, sizeof(self.ctx.killers))   # AB_NO_MOVE everywhere

    @staticmethod
    def accepts(state):
        """Whether this back end searches ``state`` (a ``CState``)."""
        return isinstance(state, CState)

    def __dealloc__(self):
        ab_table_free(&self.ctx.tt)
        free(self.ctx.stack)
        free(self.ctx.moves)
        free(self.ctx.scores)
        free(self.ctx.history)

    @property
    def table_bytes(self):
        """Bytes of the transposition table."""
        return self.tt_bytes

    def resize(self, size_t tt_bytes):
        """A new, empty transposition table of at most ``tt_bytes`` (fresh zero pages: no pass over
        the memory). Call it between searches, from any one thread.

        Raises:
            MemoryError: the table cannot be allocated (the old one is kept).
        """
        cdef uint64_t count = ab_table_count(tt_bytes, AB_BUCKET)
        cdef ABTable fresh
        if ab_table_alloc(&fresh, count) != 0:
            raise MemoryError(f"cannot allocate a transposition table of {tt_bytes} bytes")
        ab_table_free(&self.ctx.tt)
        self.ctx.tt = fresh
        self.tt_bytes = count * sizeof(ABEntry)

    def clear(self):
        """Empties the transposition table: in place up to 64 MB (a memset), else a fresh lazily zeroed
        block (no pass over the memory). Call it between searches.

        Raises:
            MemoryError: a fresh block cannot be allocated (the table is kept).
        """
        if ab_table_clear(&self.ctx.tt) != 0:
            raise MemoryError(f"cannot allocate a transposition table of {self.tt_bytes} bytes")

    def reset(self):
        """Forgets the transposition table, killers and history."""
        self.clear()
        memset(self.ctx.history, 0, 2 * self.ctx.num_actions * sizeof(int))
        memset(self.ctx.killers, 0xFF, sizeof(self.ctx.killers))   # AB_NO_MOVE everywhere
        self.ctx.age = 0

    def stop(self):
        """Asks a running search to return (thread-safe: one int written)."""
        self.ctx.lim.stop_requested = 1

    def begin(self, CState root, node_limit=None, deadline=None):
        """Loads the root and the limits of a new search (``deadline`` in ``time.monotonic()``
        seconds) and starts a new table generation."""
        if root.cgame != self.ctx.g:
            raise ValueError(f"state {root!r} is not a position of {self.game!r}")
        memcpy(self.ctx.stack, root.data, self.ctx.size)
        ab_limits_begin(&self.ctx.lim, int(node_limit) if node_limit else 0,
                        max(0.0, deadline - time.monotonic()) if deadline is not None else -1.0)
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
        return score, bool(self.ctx.lim.stopped), self.ctx.root_best, self.ctx.root_best_score, self.ctx.root_done

    def pv(self):
        """The principal variation of the last completed search call."""
        return [self.ctx.pv[0][i] for i in range(self.ctx.pv_len[0])]

    def tt_move(self, CState state):
        """The table's move for a position, or -1."""
        cdef ABEntry e
        return e.move if _tt_probe(&self.ctx, self.ctx.g.hash(state.data), &e) else -1

    @property
    def score_scale(self):
        """Score units at which the value is tanh(1) (see ``mcts._score.score_to_value``)."""
        return CONNECT4_SCALE if self.ctx.kind == AB_KIND_CONNECT4 else GENERIC_SCALE

    def value_of(self, int score):
        """A score as a value in [-1, 1] for the player to move (the shared map; wins and losses are +-1)."""
        return ab_score_to_value(score, self.score_scale)

    @property
    def nodes(self):
        return self.ctx.lim.nodes

    @property
    def seldepth(self):
        return self.ctx.seldepth

    @property
    def stop_reason(self):
        return ab_stop_name(self.ctx.lim.stop_reason)

    def clear_stop(self):
        """Clears a stop request (a new run ignores a stop that came before it)."""
        self.ctx.lim.stop_requested = 0

    @property
    def aspiration_schedule(self):
        """The driver's aspiration windows: (half-width, first depth, growth on a fail, full-open width)."""
        return (50, 3, 4, 4000)

    @property
    def max_depth(self):
        """Deepest iteration the driver may ask for."""
        return AB_MAX_PLY - 2

    @property
    def exact(self):
        """Always full width (this search has no reductions)."""
        return True

    @exact.setter
    def exact(self, value):
        pass
