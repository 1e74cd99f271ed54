"""MCTS with PUCT selection over a tree of C structs (see ``_puct.pxd`` and docs/mcts.md).

One core, three drivers:

* C game + ``RolloutEvaluator`` / ``UniformEvaluator``: the whole search (select, evaluate in C, expand,
  back up) runs in one GIL-free loop; Python runs only every ``info_interval`` seconds for callbacks.
* C game + any other evaluator: leaves are selected in C (copy-make from the root position), handed to
  the evaluator in one batch as ``CState`` objects, then expanded and backed up in C.
* Python game (e.g. chess on python-chess): the same tree code, walked through ``clone`` / ``apply_action``.

Values: each node keeps ``value_sum`` from the view of player ``view`` (the player to move at its
parent, so a parent compares its children directly). Players are read from ``current_player`` of the
game; nothing assumes that players alternate.
"""
from libc.math cimport INFINITY, exp, isnan, log, sqrt
from libc.stdint cimport int32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from games._cgame cimport CGame, CState, TERMINAL_PLAYER, cgame_rollout, splitmix64

import math

import numpy as np

from mcts._errors import EvaluatorOutputError, require_two_player_zero_sum
from mcts._evaluators import RolloutEvaluator, UniformEvaluator
from mcts._limit import Limit, SearchResult, StopReason
from mcts.budget import move_time

cdef double NEG_BIG = -1e300

_STOP_NAMES = {
    STOP_SIMULATIONS: StopReason.SIMULATIONS,
    STOP_NODES: StopReason.NODES,
    STOP_TIME: StopReason.TIME,
    STOP_PROVEN: StopReason.PROVEN,
    STOP_STOPPED: StopReason.STOPPED,
    STOP_PRUNED: StopReason.PRUNED,
    STOP_MEMORY: StopReason.MEMORY,
}
_FINAL_SELECTIONS = ("visits", "lcb", "sample")
_NO_LIMIT = 1 << 62
cdef long long NO_LIMIT_C = 1LL << 62


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double> ts.tv_sec + <double> ts.tv_nsec * 1e-9


def monotonic() -> float:
    """The clock the search uses for deadlines (CLOCK_MONOTONIC, seconds)."""
    return _now()


def node_size() -> int:
    """Bytes per tree node (``sizeof(Node)``)."""
    return sizeof(Node)


def considered_visits(int num_considered, int num_simulations):
    """mctx's sequential-halving schedule: for each simulation, the visit count a considered root
    action must have to be chosen. Returns a list of ``num_simulations`` ints."""
    if num_considered <= 1:
        return list(range(num_simulations))
    log2max = int(math.ceil(math.log2(num_considered)))
    sequence = []
    visits = [0] * num_considered
    n = num_considered
    while len(sequence) < num_simulations:
        extra = max(1, int(num_simulations / (log2max * n)))
        for _ in range(extra):
            sequence.extend(visits[:n])
            for i in range(n):
                visits[i] += 1
        n = max(2, n // 2)
    return sequence[:num_simulations]


def _same_position(a, b):
    """Whether two states of one game hold the same position: equal hashes, and equal position
    bytes (C games: the whole struct, history included) or equal serializations and histories."""
    cdef CState ca, cb
    if a.hash() != b.hash():
        return False
    if isinstance(a, CState) and isinstance(b, CState):
        ca = <CState> a
        cb = <CState> b
        return (ca.cgame == cb.cgame
                and memcmp(ca.data, cb.data, ca.cgame.state_size) == 0)
    if a.serialize() != b.serialize():
        return False
    history_a = getattr(a, "history", None)
    history_b = getattr(b, "history", None)
    if history_a is None or history_b is None:
        return history_a is history_b
    return list(history_a()) == list(history_b())


def _serialised(evaluate):
    """``evaluate`` behind a lock: one call at a time from the pipelined driver's worker threads."""
    import threading
    lock = threading.Lock()

    def call(states):
        with lock:
            return evaluate(states)
    return call


cdef inline int _flip(int proven) noexcept nogil:
    if proven == PROVEN_WIN:
        return PROVEN_LOSS
    if proven == PROVEN_LOSS:
        return PROVEN_WIN
    return proven


cdef class MCTS:
    """Monte Carlo tree search with PUCT selection, batched leaf evaluation and an MCTS-solver.

    Args:
        game: the game (two players, zero-sum, no chance, sequential moves).
        evaluator: a batched :class:`mcts.Evaluator`. ``RolloutEvaluator`` and ``UniformEvaluator``
            run in C on games with a C interface.
        c_puct: c_init of the exploration constant ``c = c_puct + c_puct_factor * log((N + c_puct_base) / c_puct_base)``.
        c_puct_base: see ``c_puct``.
        c_puct_factor: see ``c_puct`` (0 gives a constant c_puct).
        batch_size: leaves selected (with virtual loss) per evaluator call.
        threads: evaluator batches in flight at once (games with a C interface and a Python
            evaluator, e.g. ``models.OnnxEvaluator``). With 1 (the default) the tree waits for each
            batch, and the search is deterministic. With N > 1 the evaluator runs on N worker threads
            and the search pipelines: while batches are evaluated (onnxruntime and torch release the
            GIL), the tree gathers the next batch with virtual loss and expands each batch as it
            returns, so the evaluator never waits for the tree. Evaluators whose ``thread_safe``
            attribute is true (``OnnxEvaluator``, ``TorchEvaluator``) get up to N calls at once; others
            one at a time, still overlapped with the tree. Other paths search as with 1.
        seed: seeds every random choice (noise, gumbel, sampling, C rollouts).
        memory_limit: bytes the tree may take (the root and its children always fit).
        fpu_reduction: an unvisited child's Q is the parent's Q minus
            ``fpu_reduction * sqrt(sum of the visited children's priors)``.
        dirichlet_alpha: Dirichlet noise at the root (self-play); None for none.
        dirichlet_fraction: weight of the noise in the root priors.
        temperature: temperature of ``final_selection="sample"`` (0 picks the most visited).
        final_selection: ``"visits"``, ``"lcb"`` (lower confidence bound) or ``"sample"``.
        gumbel: Gumbel-top-k root selection with sequential halving (mctx ``gumbel_muzero_policy``).
        gumbel_considered: actions the Gumbel root considers (k).
        gumbel_value_scale, gumbel_maxvisit_init: mctx's sigma(q) = (maxvisit_init + max N) * value_scale * q.
        solver: MCTS-solver (proven wins, losses and draws propagate; the search stops once the
            root is proven).
        tree_reuse: keep the subtree when ``run`` gets a state that follows from the last root.
        smart_pruning: with a simulation limit, stop when the runner-up cannot catch up.
        on_info: called with an interim :class:`SearchResult` every ``info_interval`` seconds.
        should_stop: budget hook ``(visits_best, visits_second, simulations_left) -> bool`` called
            every iteration of a batched search and every ~5 ms of a C search; True stops it.
        info_interval: seconds between ``on_info`` calls.

    Stopping: ``stop()`` may come from any thread at any time; one issued before ``run`` is
    honoured by the next ``run`` (after the root's first evaluation, so the result still has a
    move), and the flag is cleared when ``run`` returns (the same convention as ``AlphaBeta``).

    Raises:
        UnsupportedGameError: the game is not two-player zero-sum with sequential moves and no chance.
        ValueError: the evaluator has no ``evaluate``, or a setting is out of range.
    """

    def __cinit__(self):
        self.nodes = NULL
        self.num_nodes = 0
        self.capacity = 0
        self.gumbel_table = NULL
        self.gumbel_score = NULL
        self.gumbel_children = 0
        self.stop_flag = 0

    def __dealloc__(self):
        free(self.nodes)
        free(self.gumbel_table)
        free(self.gumbel_score)

    def __init__(self, game, evaluator, *, double c_puct=1.25, double c_puct_base=19652.0,
                 double c_puct_factor=1.0, int batch_size=16, seed=0, memory_limit=1 << 30,
                 double fpu_reduction=0.25, dirichlet_alpha=None, double dirichlet_fraction=0.25,
                 double temperature=1.0, str final_selection="visits", bint gumbel=False,
                 int gumbel_considered=16, double gumbel_value_scale=0.1,
                 double gumbel_maxvisit_init=50.0, bint solver=True, bint tree_reuse=True,
                 bint smart_pruning=False, on_info=None, should_stop=None, double info_interval=0.1,
                 int threads=1):
        require_two_player_zero_sum(game, "MCTS")
        if not callable(getattr(evaluator, "evaluate", None)):
            raise ValueError(f"evaluator {evaluator!r} has no evaluate(states) method")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not 1 <= threads <= 256:
            raise ValueError(f"threads must be in 1..256, got {threads}")
        if c_puct < 0 or c_puct_base <= 0 or c_puct_factor < 0:
            raise ValueError(f"c_puct {c_puct}, c_puct_base {c_puct_base}, c_puct_factor {c_puct_factor}: need c_puct >= 0, base > 0, factor >= 0")
        if final_selection not in _FINAL_SELECTIONS:
            raise ValueError(f"final_selection must be one of {_FINAL_SELECTIONS}, got {final_selection!r}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if dirichlet_alpha is not None and not dirichlet_alpha > 0:
            raise ValueError(f"dirichlet_alpha must be positive or None, got {dirichlet_alpha!r}")
        if not 0.0 <= dirichlet_fraction <= 1.0:
            raise ValueError(f"dirichlet_fraction must be in [0, 1], got {dirichlet_fraction}")
        if gumbel_considered < 1:
            raise ValueError(f"gumbel_considered must be at least 1, got {gumbel_considered}")
        if isinstance(memory_limit, bool) or not isinstance(memory_limit, int) or memory_limit < 0:
            raise ValueError(f"memory_limit must be a non-negative number of bytes, got {memory_limit!r}")
        if info_interval <= 0:
            raise ValueError(f"info_interval must be positive, got {info_interval}")
        self.game = game
        self.evaluator = evaluator
        self.num_actions = int(game.num_actions)
        self.c_puct = c_puct
        self.c_puct_base = c_puct_base
        self.c_puct_factor = c_puct_factor
        self.batch_size = batch_size
        self.threads = threads
        self.seed = seed
        self.memory_limit = memory_limit
        self.fpu_reduction = fpu_reduction
        self.dirichlet_alpha = dirichlet_alpha
        self.dirichlet_fraction = dirichlet_fraction
        self.temperature = temperature
        self.final_selection = final_selection
        self.gumbel = gumbel
        self.gumbel_considered = gumbel_considered
        self.gumbel_value_scale = gumbel_value_scale
        self.gumbel_maxvisit_init = gumbel_maxvisit_init
        self.solver = solver
        self.tree_reuse = tree_reuse
        self.smart_pruning = smart_pruning
        self.on_info = on_info
        self.should_stop = should_stop
        self.info_interval = info_interval
        self.num_rollouts = 1
        if type(evaluator) is RolloutEvaluator:
            self.num_rollouts = evaluator.num_rollouts
        self.reset()

    # ------------------------------------------------------------------ public API

    def reset(self) -> None:
        """Forgets the tree (and re-seeds the random generators)."""
        self.num_nodes = 0
        self.tree_full = False
        self.max_nodes = <int> min(max(self.memory_limit // sizeof(Node), 1), 2**31 - 1)
        seed = 0 if self.seed is None else int(self.seed)
        ev_seed = getattr(self.evaluator, "seed", None)
        mix = np.random.SeedSequence([seed & 0xFFFFFFFFFFFF, 0 if ev_seed is None else int(ev_seed) & 0xFFFFFFFF])
        self.rng = <uint64_t> int(mix.generate_state(1, np.uint64)[0])
        self._np_rng = np.random.default_rng(seed)
        self._last_state = None
        self._last_history = None

    def stop(self) -> None:
        """Makes a running ``run`` return its best result so far (thread-safe, within a few ms).

        Called while no ``run`` is running, it makes the next ``run`` return right after the
        root's first evaluation; ``run`` clears the request when it returns."""
        self.stop_flag = 1

    @property
    def node_size(self) -> int:
        """Bytes per node."""
        return sizeof(Node)

    @property
    def tree_nodes(self) -> int:
        """Nodes in the tree now."""
        return self.num_nodes

    @property
    def tree_bytes(self) -> int:
        """Bytes the tree's node array takes."""
        return self.capacity * sizeof(Node)

    def run(self, state, limit: Limit) -> SearchResult:
        """Searches from ``state`` until a limit of ``limit`` (or ``stop()``) ends the search.

        The root is always evaluated once, so a result always has a move. With ``tree_reuse``, a
        state that provably follows from the previous root keeps the matching subtree: its history
        extends the previous root's by actions found in the tree, and the position reached by
        playing them from the previous root equals ``state`` (hash, and the position's bytes for C
        games, else its serialization and history). Any other state starts a fresh tree.

        Args:
            state: a state of ``self.game`` (not modified).
            limit: simulations, nodes (created in this run), time (seconds, hard) and/or clocks.

        Returns:
            SearchResult for the player to move at ``state``.

        Raises:
            ValueError: ``limit`` is not a ``Limit``, or the state belongs to another game.
            EvaluatorOutputError: the evaluator returned arrays of the wrong shape.
        """
        try:
            return self._run(state, limit)
        finally:
            self.stop_flag = 0  # a stop belongs to the run it reached (or the next, if none ran)

    def _run(self, state, limit):
        cdef double t0 = _now()
        if not isinstance(limit, Limit):
            raise ValueError(f"limit must be an mcts.Limit, got {limit!r}")
        if getattr(getattr(state, "game", None), "num_actions", self.num_actions) != self.num_actions:
            raise ValueError(f"state {state!r} is not a state of {self.game!r}")
        if state.is_terminal():
            return self._terminal_result(state, t0)
        player = int(state.current_player())
        self._prepare_root(state, player)
        # from here on the tree's root is `state`, whatever happens to this run
        self._last_state = None
        self._last_history = None
        if self.tree_reuse and not self.gumbel:
            try:
                self._last_history = list(state.history())
                self._last_state = state.clone()
            except AttributeError:
                self._last_state = None
        self.sims = 0
        self.selections = 0
        self.collisions = 0
        self.max_depth = 0
        self.start_nodes = self.num_nodes
        self.use_gumbel = False
        self._evaluator_calls = 0
        self._evaluated = 0
        max_sims = _NO_LIMIT if limit.simulations is None else int(limit.simulations)
        max_nodes = _NO_LIMIT if limit.nodes is None else int(limit.nodes)
        seconds = move_time(limit, player)
        deadline = INFINITY if seconds is None else t0 + float(seconds)
        if limit.is_unbounded and not limit.infinite and self.should_stop is None:
            raise ValueError(f"limit {limit!r} sets no bound; give simulations, nodes, time or infinite=True")
        self._t0 = t0
        is_c = isinstance(state, CState)
        kind = EV_PYTHON
        if is_c and type(self.evaluator) is RolloutEvaluator:
            kind = EV_C_ROLLOUT
        elif is_c and type(self.evaluator) is UniformEvaluator:
            kind = EV_C_UNIFORM
        self.ev_kind = kind
        if kind != EV_PYTHON:
            reason = self._drive_c(<CState> state, max_sims, max_nodes, deadline)
        elif is_c and self.threads > 1:
            reason = self._drive_pipelined_c(<CState> state, max_sims, max_nodes, deadline)
        elif is_c:
            reason = self._drive_batched_c(<CState> state, max_sims, max_nodes, deadline)
        else:
            reason = self._drive_python(state, max_sims, max_nodes, deadline)
        self.use_gumbel = self._gumbel_active
        result = self._result(reason)
        self.use_gumbel = False
        return result

    # ------------------------------------------------------------------ root, reuse

    def _terminal_result(self, state, double t0):
        player = state.current_player()
        returns = state.returns()
        # a finished game has no player to move: report player 0's view... unless the caller knows better
        r = float(returns[0])
        proven = 1 if r > 0 else (-1 if r < 0 else 0)
        return SearchResult(best_action=-1, value=r, is_proven=True, proven_value=proven,
                            stop_reason=StopReason.TERMINAL, seconds=_now() - t0)

    def _prepare_root(self, state, int player):
        cdef int node = -1
        if self.tree_reuse and not self.gumbel and self.num_nodes > 0:
            node = self._reusable_node(state)
        if node < 0:
            if self._new_root(player) == -2:
                raise MemoryError("MCTS: cannot allocate the root node")
            return
        self._reroot(node, player)

    def _reusable_node(self, state):
        """The node of the tree whose position provably is ``state``, or -1.

        The candidate path is what ``state``'s history adds to the last root's history. Each of its
        actions must be a child in the tree: the tree holds only actions that were legal where they
        were generated, so replaying them on a copy of the last root is safe (an arbitrary action,
        played unchecked on an unrelated C position, would corrupt memory). The position reached
        must then equal ``state``.
        """
        last = self._last_state
        old = self._last_history
        if last is None or old is None or type(last) is not type(state):
            return -1
        try:
            history = list(state.history())
        except AttributeError:
            return -1
        if len(history) < len(old) or history[:len(old)] != old:
            return -1
        cdef int node = ROOT
        probe = last.clone()
        for a in history[len(old):]:
            node = self._find_child_c(node, a)
            if node < 0:
                return -1
            probe.apply_action(a)
        return node if _same_position(probe, state) else -1

    cdef int _find_child_c(self, int node, int action) noexcept:
        cdef int i
        cdef Node* nd = &self.nodes[node]
        for i in range(nd.num_children):
            if self.nodes[nd.first_child + i].action == action:
                return nd.first_child + i
        return -1

    def _find_child(self, int node, int action):
        return self._find_child_c(node, action)

    def _reroot(self, int node, int player):
        """Makes ``node`` the root, compacting its subtree to the front of a new array (BFS order,
        so every node's children stay one block)."""
        cdef Node* new
        cdef int i, j, k, count, ofc
        if node != ROOT:
            new = <Node*> malloc(self.capacity * sizeof(Node))
            if new == NULL:
                raise MemoryError("MCTS: cannot allocate the reused tree")
            new[0] = self.nodes[node]
            new[0].parent = NO_PARENT
            new[0].action = -1
            count = 1
            i = 0
            while i < count:
                k = new[i].num_children
                if k > 0:
                    ofc = new[i].first_child   # still the old index: the node is copied but not yet relinked
                    new[i].first_child = count
                    memcpy(&new[count], &self.nodes[ofc], k * sizeof(Node))
                    for j in range(k):
                        new[count + j].parent = i
                    count += k
                i += 1
            free(self.nodes)
            self.nodes = new
            self.num_nodes = count
            self.tree_full = False
        cdef Node* root = &self.nodes[ROOT]
        if root.view != player:
            root.value_sum = -root.value_sum
            root.proven = _flip(root.proven)
            root.view = player
        for i in range(self.num_nodes):
            self.nodes[i].virtual_loss = 0
            self.nodes[i].flags &= ~FLAG_PENDING

    # ------------------------------------------------------------------ tree primitives (nogil)

    cdef int _grow(self, int needed) noexcept nogil:
        cdef long long want = <long long> self.num_nodes + needed
        cdef long long cap
        cdef Node* p
        if want <= self.capacity:
            return 0
        if want > self.max_nodes:
            return -1
        cap = max(<long long> self.capacity * 2, want, <long long> 1024)
        if cap > self.max_nodes:
            cap = self.max_nodes
        p = <Node*> realloc(self.nodes, cap * sizeof(Node))
        if p == NULL:
            return -2
        self.nodes = p
        self.capacity = <int> cap
        return 0

    cdef int _new_root(self, int player) noexcept nogil:
        cdef int r
        self.num_nodes = 0
        self.tree_full = False
        r = self._grow(1)
        if r != 0:
            return r
        cdef Node* n = &self.nodes[ROOT]
        n.value_sum = 0.0
        n.prior = 1.0
        n.parent = NO_PARENT
        n.first_child = NO_CHILD
        n.visits = 0
        n.virtual_loss = 0
        n.action = -1
        n.num_children = 0
        n.proven_plies = 0
        n.view = <signed char> player
        n.proven = PROVEN_NONE
        n.flags = 0
        self.num_nodes = 1
        return 0

    cdef int _expand(self, int node, int player, int n, const int* actions, const float* priors, int stride) noexcept nogil:
        cdef int i, r, fc
        cdef double total = 0.0, p
        cdef Node* c
        if n <= 0 or self.nodes[node].num_children > 0:
            return 0
        if node == ROOT and self.max_nodes < self.num_nodes + n:
            self.max_nodes = self.num_nodes + n      # the root's children always fit
        r = self._grow(n)
        if r != 0:
            if r == -1:
                self.tree_full = True
            return r
        if priors != NULL:
            for i in range(n):
                p = priors[actions[i] * stride]
                if p > 0:
                    total += p
        fc = self.num_nodes
        for i in range(n):
            c = &self.nodes[fc + i]
            if total > 0 and not isnan(total):
                p = priors[actions[i] * stride]
                c.prior = <float> (p / total if p > 0 else 0.0)
            else:
                c.prior = <float> (1.0 / n)
            c.value_sum = 0.0
            c.parent = node
            c.first_child = NO_CHILD
            c.visits = 0
            c.virtual_loss = 0
            c.action = actions[i]
            c.num_children = 0
            c.proven_plies = 0
            c.view = <signed char> player
            c.proven = PROVEN_NONE
            c.flags = 0
        self.num_nodes += n
        self.nodes[node].first_child = fc
        self.nodes[node].num_children = <short> n
        return 0

    cdef int _select_child(self, int node) noexcept nogil:
        cdef Node* p = &self.nodes[node]
        cdef Node* ch
        cdef int fc = p.first_child, n = p.num_children, i, best = -1, c
        cdef int view, n_eff
        cdef double parent_n, parent_q, visited_mass = 0.0, fpu, cpuct, u_scale, q, score, best_score = -INFINITY
        if node == ROOT and self.use_gumbel:
            c = self._gumbel_child()
            if c >= 0:
                return c
        view = self.nodes[fc].view
        parent_n = p.visits + p.virtual_loss
        parent_q = 0.0
        if p.visits > 0:
            parent_q = p.value_sum / p.visits
            if p.view != view:
                parent_q = -parent_q
        for i in range(n):
            ch = &self.nodes[fc + i]
            if ch.visits + ch.virtual_loss > 0:
                visited_mass += ch.prior
        fpu = parent_q - self.fpu_reduction * sqrt(visited_mass)
        cpuct = self.c_puct + self.c_puct_factor * log((parent_n + self.c_puct_base) / self.c_puct_base)
        u_scale = cpuct * sqrt(parent_n if parent_n > 1 else 1.0)
        for i in range(n):
            ch = &self.nodes[fc + i]
            n_eff = ch.visits + ch.virtual_loss
            if ch.proven == PROVEN_WIN:
                return fc + i
            if ch.proven == PROVEN_DRAW:
                score = 0.0        # exact value, nothing left to explore: no exploration bonus
            elif ch.proven == PROVEN_LOSS:
                score = -1e6       # taken only when every move loses (then the parent is proven)
            else:
                if n_eff > 0:
                    q = (ch.value_sum - ch.virtual_loss) / n_eff
                else:
                    q = fpu
                score = q + u_scale * ch.prior / (1.0 + n_eff)
            if score > best_score:
                best_score = score
                best = i
        return fc + best

    cdef int _gumbel_child(self) noexcept nogil:
        cdef Node* root = &self.nodes[ROOT]
        cdef int fc = root.first_child, k = root.num_children, i, best = -1, fallback = -1
        cdef int target, n_eff, min_eff = 2**30
        cdef double s, best_s = -INFINITY, fb_s = -INFINITY
        cdef double* cq
        if self.selections >= self.gumbel_len or k != self.gumbel_children:
            return -1
        target = self.gumbel_table[self.selections]
        self.selections += 1
        cq = <double*> malloc(k * sizeof(double))
        if cq == NULL:
            return -1
        self._completed_q(cq)
        for i in range(k):
            if self.gumbel_score[i] == -INFINITY:
                continue
            if self.solver and self.nodes[fc + i].proven == PROVEN_LOSS:
                continue
            s = self.gumbel_score[i] + cq[i]
            n_eff = self.nodes[fc + i].visits + self.nodes[fc + i].virtual_loss
            if n_eff == target and s > best_s:
                best_s = s
                best = i
            # fallback (a batch or the solver broke the schedule): least visited, then best score
            if n_eff < min_eff or (n_eff == min_eff and s > fb_s):
                min_eff = n_eff
                fb_s = s
                fallback = i
        free(cq)
        if best < 0:
            best = fallback
        if best < 0:
            return -1
        return fc + best

    cdef void _completed_q(self, double* out) noexcept nogil:
        cdef Node* root = &self.nodes[ROOT]
        cdef Node* ch
        cdef int fc = root.first_child, k = root.num_children, i, max_n = 0
        cdef double sum_visits = 0.0, sum_prior = 0.0, weighted = 0.0, mixed, lo = INFINITY, hi = -INFINITY, scale
        for i in range(k):
            ch = &self.nodes[fc + i]
            if ch.visits > 0:
                sum_visits += ch.visits
                sum_prior += ch.prior
                if ch.visits > max_n:
                    max_n = ch.visits
        for i in range(k):
            ch = &self.nodes[fc + i]
            if ch.visits > 0:
                weighted += ch.prior * (ch.value_sum / ch.visits) / (sum_prior if sum_prior > 1e-8 else 1e-8)
        mixed = (self.root_raw_value + sum_visits * weighted) / (sum_visits + 1.0)
        for i in range(k):
            ch = &self.nodes[fc + i]
            out[i] = ch.value_sum / ch.visits if ch.visits > 0 else mixed
            if out[i] < lo:
                lo = out[i]
            if out[i] > hi:
                hi = out[i]
        scale = (self.gumbel_maxvisit_init + max_n) * self.gumbel_value_scale
        for i in range(k):
            out[i] = scale * (out[i] - lo) / (hi - lo if hi - lo > 1e-8 else 1e-8)

    cdef void _backup(self, int node, double value0) noexcept nogil:
        cdef Node* nd
        while node != NO_PARENT:
            nd = &self.nodes[node]
            if nd.virtual_loss > 0:
                nd.virtual_loss -= 1
            nd.visits += 1
            nd.value_sum += value0 if nd.view == 0 else -value0
            node = nd.parent

    cdef void _undo_virtual_loss(self, int node) noexcept nogil:
        cdef Node* nd
        while node != NO_PARENT:
            nd = &self.nodes[node]
            if nd.virtual_loss > 0:
                nd.virtual_loss -= 1
            node = nd.parent

    cdef double _node_value0(self, int node) noexcept nogil:
        cdef Node* nd = &self.nodes[node]
        cdef double v
        if (nd.flags & FLAG_TERMINAL) and nd.visits > 0:
            v = nd.value_sum / nd.visits
        elif nd.proven == PROVEN_WIN:
            v = 1.0
        elif nd.proven == PROVEN_LOSS:
            v = -1.0
        else:
            v = 0.0
        return v if nd.view == 0 else -v

    cdef void _set_terminal(self, int node, double r0) noexcept nogil:
        cdef Node* nd = &self.nodes[node]
        cdef double v = r0 if nd.view == 0 else -r0
        nd.flags |= FLAG_TERMINAL | FLAG_EVALUATED
        nd.proven_plies = 0
        if self.solver:
            nd.proven = PROVEN_WIN if v > 0 else (PROVEN_LOSS if v < 0 else PROVEN_DRAW)

    cdef bint _check_proven(self, int node) noexcept nogil:
        cdef Node* nd = &self.nodes[node]
        cdef Node* ch
        cdef int fc = nd.first_child, i, mover, best = PROVEN_NONE, res, win_plies = 1 << 30, max_plies = 0
        cdef bint all_known = True
        if nd.num_children == 0 or nd.proven != PROVEN_NONE:
            return False
        mover = self.nodes[fc].view
        for i in range(nd.num_children):
            ch = &self.nodes[fc + i]
            res = ch.proven
            if res == PROVEN_NONE:
                all_known = False
                continue
            if res > best:
                best = res
            if res == PROVEN_WIN and ch.proven_plies < win_plies:
                win_plies = ch.proven_plies
            if ch.proven_plies > max_plies:
                max_plies = ch.proven_plies
        if best == PROVEN_WIN:
            res = PROVEN_WIN
            max_plies = win_plies
        elif all_known:
            res = best
        else:
            return False
        nd.proven = <unsigned char> (res if nd.view == mover else _flip(res))
        nd.proven_plies = <short> (max_plies + 1 if max_plies < 32000 else 32000)
        return True

    cdef void _propagate_proof(self, int node) noexcept nogil:
        cdef int p = self.nodes[node].parent
        while p != NO_PARENT and self._check_proven(p):
            p = self.nodes[p].parent

    cdef void _root_top_two(self, int* best, int* second) noexcept nogil:
        cdef Node* root = &self.nodes[ROOT]
        cdef int i, v
        best[0] = 0
        second[0] = 0
        for i in range(root.num_children):
            v = self.nodes[root.first_child + i].visits
            if v > best[0]:
                second[0] = best[0]
                best[0] = v
            elif v > second[0]:
                second[0] = v

    cdef bint _pruned(self, long long sims_left) noexcept nogil:
        cdef int best, second
        if self.nodes[ROOT].num_children == 0:
            return False
        if self.nodes[ROOT].num_children == 1:
            return True
        self._root_top_two(&best, &second)
        return best - second > sims_left

    cdef int _leaf_outcome(self, int leaf, bint terminal, double r0) noexcept nogil:
        cdef Node* nd = &self.nodes[leaf]
        if (nd.flags & FLAG_TERMINAL) or nd.proven != PROVEN_NONE:
            self._backup(leaf, self._node_value0(leaf))
            self.sims += 1
            return 1
        if nd.flags & FLAG_PENDING:
            self._undo_virtual_loss(leaf)
            self.collisions += 1
            return 2
        if terminal:
            self._set_terminal(leaf, r0)
            self._backup(leaf, r0)
            self.sims += 1
            if self.solver:
                self._propagate_proof(leaf)
            return 1
        nd.flags |= FLAG_PENDING
        return 0

    # ------------------------------------------------------------------ C-game drivers (nogil)

    cdef int _select_leaf_c(self, const CGame* g, const void* root_pos, void* scratch) noexcept nogil:
        cdef int node = ROOT, child, depth = 0
        memcpy(scratch, root_pos, g.state_size)
        self.nodes[ROOT].virtual_loss += 1
        while self.nodes[node].num_children > 0 and self.nodes[node].proven == PROVEN_NONE:
            child = self._select_child(node)
            g.apply_action(scratch, self.nodes[child].action)
            self.nodes[child].virtual_loss += 1
            node = child
            depth += 1
        if depth > self.max_depth:
            self.max_depth = depth
        return node

    cdef int _search_c(self, const CGame* g, const void* root_pos, void* scratch, int* legal,
                       long long max_sims, long long max_nodes, double deadline, double info_at,
                       bint prune) noexcept nogil:
        cdef int leaf, player, n, r, i
        cdef double t, v0
        cdef char* spare = <char*> scratch + g.state_size
        while True:
            if self.stop_flag and self.nodes[ROOT].num_children > 0:
                return STOP_STOPPED
            if self.sims >= max_sims:
                return STOP_SIMULATIONS
            if self.num_nodes - self.start_nodes >= max_nodes:
                return STOP_NODES
            if self.solver and self.nodes[ROOT].proven != PROVEN_NONE:
                return STOP_PROVEN
            t = _now()
            if t >= deadline:
                return STOP_TIME
            if t >= info_at:
                return STOP_INFO
            if prune and self._pruned(max_sims - self.sims):
                return STOP_PRUNED
            leaf = self._select_leaf_c(g, root_pos, scratch)
            if (self.nodes[leaf].flags & FLAG_TERMINAL) or self.nodes[leaf].proven != PROVEN_NONE:
                self._leaf_outcome(leaf, False, 0.0)
                continue
            if g.is_terminal(scratch):
                self._leaf_outcome(leaf, True, g.returns0(scratch))
                continue
            player = g.current_player(scratch)
            n = g.legal_actions(scratch, legal)
            r = self._expand(leaf, player, n, legal, NULL, 0)
            if r == -2:
                self._undo_virtual_loss(leaf)
                return STOP_MEMORY
            self.nodes[leaf].flags |= FLAG_EVALUATED
            v0 = 0.0
            if self.ev_kind == EV_C_ROLLOUT:
                for i in range(self.num_rollouts):
                    memcpy(spare, scratch, g.state_size)
                    v0 += cgame_rollout(g, spare, &self.rng)
                v0 /= self.num_rollouts
            if leaf == ROOT:
                self.root_raw_value = v0 if player == 0 else -v0
            self._backup(leaf, v0)
            self.sims += 1

    cdef int _gather_c(self, const CGame* g, const void* root_pos, void* scratch, char* leaf_pos,
                       int* leaves, int batch, long long max_sims) noexcept nogil:
        cdef int count = 0, attempt, leaf, out
        cdef bint terminal
        cdef double r0
        for attempt in range(batch):
            if self.sims + count >= max_sims or (self.stop_flag and self.nodes[ROOT].num_children > 0):
                break
            if self.solver and self.nodes[ROOT].proven != PROVEN_NONE:
                break
            leaf = self._select_leaf_c(g, root_pos, scratch)
            terminal = False
            r0 = 0.0
            if not (self.nodes[leaf].flags & FLAG_TERMINAL) and self.nodes[leaf].proven == PROVEN_NONE:
                terminal = g.is_terminal(scratch)
                if terminal:
                    r0 = g.returns0(scratch)
            out = self._leaf_outcome(leaf, terminal, r0)
            if out == 0:
                memcpy(leaf_pos + count * g.state_size, scratch, g.state_size)
                leaves[count] = leaf
                count += 1
        return count

    cdef int _expand_batch_c(self, const CGame* g, const char* leaf_pos, const int* leaves, int count,
                             const float* priors, const float* values, int* legal) noexcept nogil:
        cdef int i, leaf, player, n, r, status = 0
        cdef double v, v0
        cdef const char* pos
        for i in range(count):
            leaf = leaves[i]
            pos = leaf_pos + i * g.state_size
            player = g.current_player(pos)
            n = g.legal_actions(pos, legal)
            r = self._expand(leaf, player, n, legal, priors + <long long> i * self.num_actions, 1)
            if r == -2:
                status = -2
            self.nodes[leaf].flags = (self.nodes[leaf].flags & ~FLAG_PENDING) | FLAG_EVALUATED
            v = values[i]
            if isnan(v):
                v = 0.0
            v = -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)
            v0 = v if player == 0 else -v
            if leaf == ROOT:
                self.root_raw_value = v
            self._backup(leaf, v0)
            self.sims += 1
        return status

    # ------------------------------------------------------------------ drivers (Python side)

    def _hooks(self, double now, long long max_sims):
        """Calls on_info / should_stop when due; returns True when should_stop asks to stop."""
        if self.on_info is not None and now >= self._next_info:
            self._next_info = now + self.info_interval
            self.use_gumbel = self._gumbel_active
            interim = self._result(StopReason.NONE)
            self.on_info(interim)
        if self.should_stop is not None and self.num_nodes > 0:
            best, second = self._top_two()
            left = -1 if max_sims >= _NO_LIMIT else max_sims - self.sims
            if self.should_stop(best, second, left):
                return True
        return False

    def _top_two(self):
        cdef int best, second
        self._root_top_two(&best, &second)
        return best, second

    def _after_root_expanded(self, long long max_sims, long long max_nodes):
        """Root noise and the gumbel schedule, once the root has children."""
        cdef Node* root = &self.nodes[ROOT]
        cdef int k = root.num_children, fc = root.first_child, i
        self._gumbel_active = False
        if k == 0:
            return
        if self.dirichlet_alpha is not None and self.dirichlet_fraction > 0:
            noise = self._np_rng.dirichlet([float(self.dirichlet_alpha)] * k)
            f = self.dirichlet_fraction
            for i in range(k):
                self.nodes[fc + i].prior = <float> ((1 - f) * self.nodes[fc + i].prior + f * noise[i])
        if self.gumbel and k > 1:
            budget = max_sims if max_sims < _NO_LIMIT else (max_nodes if max_nodes < _NO_LIMIT else 200)
            budget = max(int(budget) - 1, 1)
            m = min(self.gumbel_considered, k)
            priors = np.array([self.nodes[fc + i].prior for i in range(k)], dtype=np.float64)
            logits = np.log(np.maximum(priors, 1e-30))
            g = self._np_rng.gumbel(size=k)
            score = g + logits
            top = np.argsort(-score, kind="stable")[:m]
            free(self.gumbel_score)
            free(self.gumbel_table)
            self.gumbel_table = NULL
            self.gumbel_score = <double*> malloc(k * sizeof(double))
            table = considered_visits(m, budget)
            self.gumbel_table = <int*> malloc(max(len(table), 1) * sizeof(int))
            if self.gumbel_score == NULL or self.gumbel_table == NULL:
                raise MemoryError("MCTS: gumbel arrays")
            for i in range(k):
                self.gumbel_score[i] = -INFINITY
            for i in top:
                self.gumbel_score[i] = score[i]
            for i in range(len(table)):
                self.gumbel_table[i] = table[i]
            self.gumbel_len = len(table)
            self.gumbel_children = k
            self._gumbel_considered_set = set(int(i) for i in top)
            self._gumbel_active = True
        self.use_gumbel = self._gumbel_active

    def _drive_c(self, CState state, long long max_sims, long long max_nodes, double deadline):
        cdef const CGame* g = state.cgame
        cdef char* scratch = <char*> malloc(2 * g.state_size)
        cdef int* legal = <int*> malloc(max(g.max_legal, 1) * sizeof(int))
        cdef int reason
        cdef double info_at, tick
        cdef bint prune = self.smart_pruning and max_sims < _NO_LIMIT
        if scratch == NULL or legal == NULL:
            free(scratch)
            free(legal)
            raise MemoryError("MCTS: scratch buffers")
        self._gumbel_active = False
        self._next_info = self._t0 + self.info_interval
        tick = self.info_interval
        if self.should_stop is not None:
            tick = min(tick, 0.005)
        try:
            if self.nodes[ROOT].num_children == 0:
                with nogil:
                    reason = self._search_c(g, state.data, scratch, legal, self.sims + 1, NO_LIMIT_C, INFINITY, INFINITY, False)
            self._after_root_expanded(max_sims, max_nodes)
            while True:
                info_at = INFINITY if (self.on_info is None and self.should_stop is None) else _now() + tick
                with nogil:
                    reason = self._search_c(g, state.data, scratch, legal, max_sims, max_nodes, deadline, info_at, prune)
                if reason != STOP_INFO:
                    return _STOP_NAMES[reason]
                if self._hooks(_now(), max_sims):
                    return StopReason.BUDGET
        finally:
            free(scratch)
            free(legal)

    def _loop_checks(self, long long max_sims, long long max_nodes, double deadline, bint prune):
        if self.stop_flag:
            return StopReason.STOPPED
        if self.sims >= max_sims:
            return StopReason.SIMULATIONS
        if self.num_nodes - self.start_nodes >= max_nodes:
            return StopReason.NODES
        if self.solver and self.nodes[ROOT].proven != PROVEN_NONE:
            return StopReason.PROVEN
        t = _now()
        if t >= deadline:
            return StopReason.TIME
        if prune and self._pruned(max_sims - self.sims):
            return StopReason.PRUNED
        if (self.on_info is not None or self.should_stop is not None) and self._hooks(t, max_sims):
            return StopReason.BUDGET
        return None

    def _evaluate(self, states):
        """One evaluator call; returns contiguous float32 priors ``[B, num_actions]`` and values ``[B]``."""
        return self._checked_output(self.evaluator.evaluate(states), len(states))

    def _checked_output(self, output, int b):
        """An evaluator's ``(priors, values)`` for ``b`` states as contiguous float32 arrays, counted."""
        priors, values = output
        self._evaluator_calls += 1
        self._evaluated += b
        priors = np.ascontiguousarray(priors, dtype=np.float32)
        values = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        if priors.shape != (b, self.num_actions) or values.shape != (b,):
            raise EvaluatorOutputError(
                f"{self.evaluator!r} returned priors {priors.shape} and values {values.shape} for {b} states; "
                f"expected ({b}, {self.num_actions}) and ({b},)")
        return priors, values

    cdef object _call_evaluator(self, CState state, const char* leaf_pos, const int* leaves, int count):
        """The evaluator's output for the ``count`` leaves gathered into ``leaf_pos``, in one call (on an
        error the leaves are released and the error propagates)."""
        cdef size_t ss = state.cgame.state_size
        cdef int i
        states = [state._from_data(leaf_pos + i * ss) for i in range(count)]
        try:
            return self.evaluator.evaluate(states)
        except BaseException:
            self._abandon([leaves[i] for i in range(count)])
            raise

    cdef int _expand_outputs(self, const CGame* g, const char* leaf_pos, const int* leaves, int count, object output,
                             int* legal) except -3:
        """Checks an evaluator's output for the gathered leaves and expands and backs them up (nogil);
        returns 0, or -2 when memory ran out. A bad output releases the leaves and raises."""
        cdef float[:, ::1] pv
        cdef float[::1] vv
        cdef int status, i
        try:
            priors, values = self._checked_output(output, count)
        except BaseException:
            self._abandon([leaves[i] for i in range(count)])
            raise
        pv = priors
        vv = values
        with nogil:
            status = self._expand_batch_c(g, leaf_pos, leaves, count, &pv[0, 0], &vv[0], legal)
        return status

    def _abandon(self, leaves):
        """Undoes the virtual loss and pending marks of leaves that will not be evaluated."""
        for leaf in leaves:
            self._undo_virtual_loss(leaf)
            self.nodes[leaf].flags &= ~FLAG_PENDING

    def _drive_batched_c(self, CState state, long long max_sims, long long max_nodes, double deadline):
        cdef const CGame* g = state.cgame
        cdef int batch = self.batch_size, count, status
        cdef char* scratch = <char*> malloc(g.state_size)
        cdef char* leaf_pos = <char*> malloc(batch * g.state_size)
        cdef int* leaves = <int*> malloc(batch * sizeof(int))
        cdef int* legal = <int*> malloc(max(g.max_legal, 1) * sizeof(int))
        cdef float[:, ::1] pv
        cdef float[::1] vv
        cdef bint prune = self.smart_pruning and max_sims < _NO_LIMIT
        cdef bint first = self.nodes[ROOT].num_children == 0
        if scratch == NULL or leaf_pos == NULL or leaves == NULL or legal == NULL:
            free(scratch); free(leaf_pos); free(leaves); free(legal)
            raise MemoryError("MCTS: batch buffers")
        self._gumbel_active = False
        self._next_info = self._t0 + self.info_interval
        if not first:
            self._after_root_expanded(max_sims, max_nodes)
        try:
            while True:
                if not first:
                    reason = self._loop_checks(max_sims, max_nodes, deadline, prune)
                    if reason is not None:
                        return reason
                with nogil:
                    count = self._gather_c(g, state.data, scratch, leaf_pos, leaves, batch,
                                           self.sims + 1 if first else max_sims)
                if count > 0:
                    status = self._expand_outputs(g, leaf_pos, leaves, count,
                                                  self._call_evaluator(state, leaf_pos, leaves, count), legal)
                    if status == -2:
                        return StopReason.MEMORY
                if first:
                    first = False
                    self._after_root_expanded(max_sims, max_nodes)
        finally:
            free(scratch); free(leaf_pos); free(leaves); free(legal)

    def _drive_pipelined_c(self, CState state, long long max_sims, long long max_nodes, double deadline):
        """The batched C-game search with ``threads`` batches in flight (see the class docstring).

        Every tree operation (gathering with virtual loss, expansion, backup) stays on this thread;
        the worker threads only run ``evaluator.evaluate`` on copies of the leaf positions. A leaf
        of a batch in flight is pending: a later gather that reaches it counts a collision and
        undoes its virtual loss, as within one batch."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor
        cdef const CGame* g = state.cgame
        cdef int batch = self.batch_size, slots = self.threads, count, status = 0, slot, i
        cdef size_t base
        cdef long long in_flight = 0
        cdef size_t ss = g.state_size
        cdef char* scratch = <char*> malloc(ss)
        cdef char* leaf_pos = <char*> malloc(slots * batch * ss)
        cdef int* leaves = <int*> malloc(slots * batch * sizeof(int))
        cdef int* legal = <int*> malloc(max(g.max_legal, 1) * sizeof(int))
        cdef float[:, ::1] pv
        cdef float[::1] vv
        cdef bint prune = self.smart_pruning and max_sims < _NO_LIMIT
        if scratch == NULL or leaf_pos == NULL or leaves == NULL or legal == NULL:
            free(scratch); free(leaf_pos); free(leaves); free(legal)
            raise MemoryError("MCTS: batch buffers")
        self._gumbel_active = False
        self._next_info = self._t0 + self.info_interval
        pending = deque()                 # (slot, count, future), oldest first
        free_slots = list(range(slots - 1, -1, -1))
        reason = None
        call = self.evaluator.evaluate
        if not getattr(self.evaluator, "thread_safe", False):
            # one call at a time (still overlapped with the tree's gathering): the evaluator did not
            # declare that concurrent calls are safe (e.g. ChessEvaluator's one C context)
            call = _serialised(call)
        pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="mcts-eval")
        try:
            if self.nodes[ROOT].num_children == 0:
                # the root alone, synchronously: noise and the gumbel schedule need its children
                with nogil:
                    count = self._gather_c(g, state.data, scratch, leaf_pos, leaves, 1, self.sims + 1)
                if count > 0:
                    status = self._expand_outputs(g, leaf_pos, leaves, count,
                                                  self._call_evaluator(state, leaf_pos, leaves, count), legal)
                    if status == -2:
                        return StopReason.MEMORY
            self._after_root_expanded(max_sims, max_nodes)
            while True:
                if reason is None:
                    reason = self._loop_checks(max_sims, max_nodes, deadline, prune)
                if reason is None and free_slots:
                    slot = free_slots.pop()
                    with nogil:
                        count = self._gather_c(g, state.data, scratch, leaf_pos + slot * batch * ss,
                                               leaves + slot * batch, batch, max_sims - in_flight)
                    if count > 0:
                        base = slot * batch * ss
                        states = [state._from_data(leaf_pos + base + i * ss) for i in range(count)]
                        pending.append((slot, count, pool.submit(call, states)))
                        in_flight += count
                        continue     # keep the pipeline full
                    free_slots.append(slot)
                if not pending:
                    if reason is not None:
                        return reason
                    continue         # nothing gathered (terminal or proven leaves were backed up): again
                slot, count, future = pending.popleft()
                try:
                    output = future.result()
                except BaseException:
                    self._abandon([leaves[slot * batch + i] for i in range(count)])
                    raise
                in_flight -= count
                status = self._expand_outputs(g, leaf_pos + slot * batch * ss, leaves + slot * batch, count,
                                              output, legal)
                free_slots.append(slot)
                if status == -2 and reason is None:
                    reason = StopReason.MEMORY   # drain the batches in flight, then stop
        finally:
            # on an error: the batches still in flight are waited for and their leaves released
            for slot, count, future in pending:
                try:
                    future.result()
                except BaseException:
                    pass
                self._abandon([leaves[slot * batch + i] for i in range(count)])
            pool.shutdown(wait=True)
            free(scratch); free(leaf_pos); free(leaves); free(legal)

    def _drive_python(self, state, long long max_sims, long long max_nodes, double deadline):
        cdef int leaf, node, child, depth, out, i, n, player, r
        cdef bint prune = self.smart_pruning and max_sims < _NO_LIMIT
        cdef bint first = self.nodes[ROOT].num_children == 0
        cdef float[:, ::1] pv
        cdef int[::1] av
        self._gumbel_active = False
        self._next_info = self._t0 + self.info_interval
        if not first:
            self._after_root_expanded(max_sims, max_nodes)
        while True:
            if not first:
                reason = self._loop_checks(max_sims, max_nodes, deadline, prune)
                if reason is not None:
                    return reason
            limit_sims = self.sims + 1 if first else max_sims
            leaves = []
            states = []
            for _ in range(1 if first else self.batch_size):
                if self.sims + len(leaves) >= limit_sims or (self.stop_flag and not first):
                    break
                if self.solver and self.nodes[ROOT].proven != PROVEN_NONE:
                    break
                s = state.clone()
                node = ROOT
                depth = 0
                self.nodes[ROOT].virtual_loss += 1
                while self.nodes[node].num_children > 0 and self.nodes[node].proven == PROVEN_NONE:
                    child = self._select_child(node)
                    s.apply_action(self.nodes[child].action)
                    self.nodes[child].virtual_loss += 1
                    node = child
                    depth += 1
                if depth > self.max_depth:
                    self.max_depth = depth
                terminal = False
                r0 = 0.0
                if not (self.nodes[node].flags & FLAG_TERMINAL) and self.nodes[node].proven == PROVEN_NONE:
                    if s.is_terminal():
                        terminal = True
                        r0 = float(s.returns()[0])
                out = self._leaf_outcome(node, terminal, r0)
                if out == 0:
                    leaves.append(node)
                    states.append(s)
            if leaves:
                try:
                    priors, values = self._evaluate(states)
                except BaseException:
                    self._abandon(leaves)
                    raise
                pv = priors
                for i in range(len(leaves)):
                    leaf = leaves[i]
                    s = states[i]
                    player = s.current_player()
                    legal = np.ascontiguousarray(s.legal_actions(), dtype=np.int32)
                    av = legal
                    n = legal.shape[0]
                    r = self._expand(leaf, player, n, &av[0] if n > 0 else NULL, &pv[i, 0], 1)
                    self.nodes[leaf].flags = (self.nodes[leaf].flags & ~FLAG_PENDING) | FLAG_EVALUATED
                    v = float(values[i])
                    v = 0.0 if v != v else min(1.0, max(-1.0, v))
                    if leaf == ROOT:
                        self.root_raw_value = v
                    self._backup(leaf, v if player == 0 else -v)
                    self.sims += 1
                    if r == -2:
                        return StopReason.MEMORY
            if first:
                first = False
                self._after_root_expanded(max_sims, max_nodes)

    # ------------------------------------------------------------------ results

    def _choose(self):
        """The root child index to play (into the root's children), or -1."""
        cdef Node* root = &self.nodes[ROOT]
        cdef int k = root.num_children, fc = root.first_child, i
        if k == 0:
            return -1
        visits = np.array([self.nodes[fc + i].visits for i in range(k)], dtype=np.float64)
        proven = [self.nodes[fc + i].proven for i in range(k)]
        cand = list(range(k))
        if self.solver:
            plies = [self.nodes[fc + i].proven_plies for i in range(k)]
            wins = [i for i in cand if proven[i] == PROVEN_WIN]
            if wins:       # the shortest proven win
                return min(wins, key=lambda i: (plies[i], -visits[i]))
            safe = [i for i in cand if proven[i] != PROVEN_LOSS]
            if safe:
                cand = safe
            else:          # every move loses: resist longest
                return max(cand, key=lambda i: (plies[i], visits[i]))
        if self.use_gumbel and self.gumbel_children == k:
            cq_arr = np.zeros(k, dtype=np.float64)
            self._fill_completed_q(cq_arr)
            considered = [i for i in cand if i in self._gumbel_considered_set] or cand
            top = max(visits[i] for i in considered)
            best, best_score = -1, -math.inf
            for i in considered:
                if visits[i] == top and self.gumbel_score[i] + cq_arr[i] > best_score:
                    best, best_score = i, self.gumbel_score[i] + cq_arr[i]
            if best >= 0:
                return best
        if self.final_selection == "sample" and self.temperature > 0:
            w = visits[cand] ** (1.0 / self.temperature)
            if w.sum() > 0 and np.all(np.isfinite(w)):
                return cand[int(self._np_rng.choice(len(cand), p=w / w.sum()))]
        if self.final_selection == "lcb":
            top = max(visits[i] for i in cand)
            best, best_lcb = -1, -math.inf
            for i in cand:
                n = visits[i]
                if n <= 0 or n < 0.1 * top:
                    continue
                q = self.nodes[fc + i].value_sum / n
                lcb = q - 1.96 * math.sqrt(max(1.0 - q * q, 0.01) / n)
                if lcb > best_lcb:
                    best, best_lcb = i, lcb
            if best >= 0:
                return best
        return max(cand, key=lambda i: (visits[i], self._q(fc + i), self.nodes[fc + i].prior))

    def _fill_completed_q(self, double[::1] out):
        self._completed_q(&out[0])

    def _q(self, int node):
        cdef Node* nd = &self.nodes[node]
        return nd.value_sum / nd.visits if nd.visits > 0 else -math.inf

    def _result(self, reason):
        cdef Node* root = &self.nodes[ROOT]
        cdef int k = root.num_children, fc = root.first_child, i, node, c
        actions = tuple(int(self.nodes[fc + i].action) for i in range(k))
        visits = tuple(int(self.nodes[fc + i].visits) for i in range(k))
        q_values = tuple(float(self.nodes[fc + i].value_sum / self.nodes[fc + i].visits)
                         if self.nodes[fc + i].visits > 0 else math.nan for i in range(k))
        priors = tuple(float(self.nodes[fc + i].prior) for i in range(k))
        pick = self._choose()
        best = actions[pick] if pick >= 0 else -1
        pv = []
        node = ROOT
        c = fc + pick if pick >= 0 else -1
        while c >= 0:
            pv.append(int(self.nodes[c].action))
            node = c
            c = self._pv_child(node)
        proven_value = None
        if root.proven != PROVEN_NONE:
            proven_value = {PROVEN_WIN: 1, PROVEN_LOSS: -1, PROVEN_DRAW: 0}[root.proven]
        value = float(proven_value) if proven_value is not None else (
            root.value_sum / root.visits if root.visits > 0 else 0.0)
        seconds = _now() - self._t0
        extra = {"collisions": self.collisions, "evaluator_calls": self._evaluator_calls,
                 "evaluated_states": self._evaluated, "tree_nodes": self.num_nodes,
                 "root_visits": int(root.visits), "node_size": int(sizeof(Node)),
                 "gumbel": bool(self.use_gumbel)}
        return SearchResult(
            best_action=best, value=float(value), actions=actions, visits=visits, q_values=q_values,
            priors=priors, pv=tuple(pv), depth=len(pv), seldepth=self.max_depth, simulations=self.sims,
            nodes=self.num_nodes - self.start_nodes, seconds=seconds, is_proven=proven_value is not None,
            proven_value=proven_value, stop_reason=reason, tree_full=bool(self.tree_full), extra=extra)

    cdef int _pv_child_c(self, int node) noexcept:
        cdef Node* nd = &self.nodes[node]
        cdef int i, best = -1, bv = 0, c, win = -1, win_plies = 1 << 30
        for i in range(nd.num_children):
            c = nd.first_child + i
            if self.solver and self.nodes[c].proven == PROVEN_WIN and self.nodes[c].proven_plies < win_plies:
                win = c
                win_plies = self.nodes[c].proven_plies
            if self.nodes[c].visits > bv:
                bv = self.nodes[c].visits
                best = c
        return win if win >= 0 else best

    def _pv_child(self, int node):
        return self._pv_child_c(node)

    # ------------------------------------------------------------------ introspection (tests, tools)

    def child_stats(self, actions=()):
        """Visits, value (from the view of the player to move at that node) and proven code of the
        children of the node reached from the root by ``actions``.

        Returns:
            dict action -> (visits, mean value for the node's player to move or NaN, proven code).

        Raises:
            KeyError: the path is not in the tree.
        """
        cdef int node = ROOT, i, c
        if self.num_nodes == 0:
            raise KeyError("empty tree")
        for a in actions:
            node = self._find_child_c(node, a)
            if node < 0:
                raise KeyError(f"action path {list(actions)!r} is not in the tree")
        out = {}
        for i in range(self.nodes[node].num_children):
            c = self.nodes[node].first_child + i
            n = self.nodes[c].visits
            out[int(self.nodes[c].action)] = (int(n), self.nodes[c].value_sum / n if n > 0 else math.nan,
                                              int(self.nodes[c].proven))
        return out

    def check_tree(self):
        """Checks the tree's invariants (for tests and debugging); returns a list of problems, empty when sound.

        Children blocks are contiguous and point back at their parent, every node but the root is some
        node's child, no virtual loss or pending mark is left between searches, and an expanded node
        has at least one visit more than its children together.
        """
        cdef int i, j, k, fc
        cdef long long child_visits, children = 0
        problems = []
        if self.num_nodes == 0:
            return problems
        if self.nodes[ROOT].parent != NO_PARENT:
            problems.append("root has a parent")
        for i in range(self.num_nodes):
            k = self.nodes[i].num_children
            if self.nodes[i].virtual_loss != 0:
                problems.append(f"node {i}: virtual loss {self.nodes[i].virtual_loss} left")
            if self.nodes[i].flags & FLAG_PENDING:
                problems.append(f"node {i}: pending mark left")
            if k == 0:
                continue
            fc = self.nodes[i].first_child
            if fc <= i or fc + k > self.num_nodes:
                problems.append(f"node {i}: children block [{fc}, {fc + k}) out of range")
                continue
            children += k
            child_visits = 0
            for j in range(k):
                if self.nodes[fc + j].parent != i:
                    problems.append(f"node {fc + j}: parent {self.nodes[fc + j].parent}, expected {i}")
                if self.nodes[fc + j].view != self.nodes[fc].view:
                    problems.append(f"node {i}: children disagree on the player to move")
                child_visits += self.nodes[fc + j].visits
            if self.nodes[i].visits < child_visits + 1:
                problems.append(f"node {i}: {self.nodes[i].visits} visits < 1 + children's {child_visits}")
        if children != self.num_nodes - 1:
            problems.append(f"{children} children for {self.num_nodes - 1} non-root nodes")
        return problems
