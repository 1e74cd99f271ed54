# The MCTS (PUCT) core: the tree as one array of C structs, and the search object that owns it.
from libc.stdint cimport int8_t, int16_t, int32_t, uint8_t, uint64_t

from games._cgame cimport CGame, CState

cdef enum:
    ROOT = 0                 # index of the root node
    NO_PARENT = -1           # parent of the root
    NO_CHILD = -1            # first_child of a node that is not expanded

cdef enum:
    PROVEN_NONE = 0          # game-theoretic value unknown
    PROVEN_LOSS = 1          # loss for the node's view player
    PROVEN_DRAW = 2          # draw
    PROVEN_WIN = 3           # win for the node's view player

cdef enum:
    FLAG_TERMINAL = 1        # the node's position is a finished game
    FLAG_PENDING = 2         # selected in the current batch, waiting for its evaluation
    FLAG_EVALUATED = 4       # evaluated at least once (left unexpanded only when the tree was full)

cdef enum:
    EV_PYTHON = 0            # leaves go to the evaluator's Python evaluate()
    EV_C_ROLLOUT = 1         # RolloutEvaluator on a C game: playouts in C
    EV_C_UNIFORM = 2         # UniformEvaluator on a C game: uniform priors, value 0, in C

cdef enum:
    STOP_NONE = 0            # keep searching
    STOP_SIMULATIONS = 1     # Limit.simulations reached
    STOP_NODES = 2           # Limit.nodes reached
    STOP_TIME = 3            # Limit.time reached
    STOP_PROVEN = 4          # the root's value is proven
    STOP_STOPPED = 5         # stop() was called
    STOP_PRUNED = 6          # smart pruning: the best action can no longer change
    STOP_MEMORY = 7          # an allocation failed
    STOP_INFO = 8            # not a stop: time to report to on_info / should_stop (C loop returns to Python)

# One tree node: 40 bytes (38 used + 2 of padding) (see docs/mcts.md). Children of a node are one contiguous block.
ctypedef struct Node:
    double value_sum         # sum of backed-up values, from the view of player `view`
    float prior              # prior probability of the action that leads here
    int32_t parent           # index of the parent node, NO_PARENT for the root
    int32_t first_child      # index of the first child, NO_CHILD when not expanded
    int32_t visits           # completed visits (backed-up evaluations)
    int32_t virtual_loss     # selections in flight (each counts as a loss for `view` until backed up)
    int32_t action           # action from the parent that leads here (-1 for the root)
    int16_t num_children     # number of children (legal actions) once expanded
    int16_t proven_plies     # when proven: plies to the end under best play (shortest win, longest loss)
    int8_t view              # player whose view value_sum takes: the parent's player to move (root: its own)
    uint8_t proven           # PROVEN_* from the view of `view`
    uint8_t flags            # FLAG_* bits


cdef class MCTS:
    cdef Node* nodes                 # the tree, nodes[0] is the root
    cdef int num_nodes               # nodes in use
    cdef int capacity                # nodes allocated
    cdef int max_nodes               # nodes the memory limit allows
    cdef bint tree_full              # an expansion was refused because of the memory limit
    cdef uint64_t rng                # splitmix64 state for C-level randomness (rollouts)
    cdef double c_puct               # c_init of the visit-dependent exploration constant
    cdef double c_puct_base          # c_base of c = c_init + c_factor * log((N + c_base) / c_base)
    cdef double c_puct_factor        # c_factor of the same formula
    cdef double fpu_reduction        # first-play urgency: parent Q - fpu_reduction * sqrt(visited prior mass)
    cdef bint solver                 # propagate proven wins, losses and draws
    cdef readonly int num_actions    # size of the game's action space
    cdef int ev_kind                 # EV_* path of the evaluator
    cdef int num_rollouts            # playouts per leaf on the C rollout path
    cdef volatile int stop_flag      # set by stop() from any thread, read by the search loop
    cdef int sims                    # simulations of the current run
    cdef int selections              # leaf selections of the current run (gumbel schedule index)
    cdef int start_nodes             # num_nodes when the current run started
    cdef int max_depth               # deepest selection of the current run
    cdef int collisions              # batch collisions (a leaf selected twice) in the current run
    cdef bint use_gumbel             # gumbel root selection active in the current run
    cdef int gumbel_len              # length of the considered-visits schedule
    cdef int* gumbel_table           # considered-visits schedule, one entry per simulation
    cdef double* gumbel_score        # gumbel + logit per root child (-inf when not considered)
    cdef int gumbel_children         # root children the two arrays above cover
    cdef double root_raw_value       # first evaluation of the root (for gumbel's mixed value), root player's view
    cdef double gumbel_value_scale   # mctx value_scale of sigma(q) = (maxvisit_init + max N) * value_scale * q
    cdef double gumbel_maxvisit_init # mctx maxvisit_init of the same formula
    cdef public object game          # the game being searched
    cdef public object evaluator     # the Evaluator
    cdef public object on_info       # callback with interim SearchResults, or None
    cdef public object should_stop   # callback (visits_best, visits_second, simulations_left) -> bool, or None
    cdef dict __dict__               # plain Python attributes (settings, numpy RNG, reuse bookkeeping)

    cdef int _grow(self, int needed) noexcept nogil                              # makes room for `needed` more nodes: 0, -1 (memory limit), -2 (allocation failed)
    cdef int _new_root(self, int player) noexcept nogil                         # clears the tree to a single root node
    cdef int _expand(self, int node, int player, int n, const int* actions, const float* priors, int stride) noexcept nogil  # adds children (priors[actions[i] * stride] or uniform when NULL); 0 ok, -1 full, -2 allocation failed
    cdef int _select_child(self, int node) noexcept nogil                       # PUCT (or gumbel at the root) choice among node's children
    cdef int _gumbel_child(self) noexcept nogil                                 # gumbel sequential-halving choice at the root, -1 when the schedule is over
    cdef void _completed_q(self, double* out) noexcept nogil                    # mctx completed-by-mix-value Q of the root children, scaled by sigma
    cdef void _backup(self, int node, double value0) noexcept nogil             # adds value0 (player 0's view) along the path, removing one virtual loss per node
    cdef void _undo_virtual_loss(self, int node) noexcept nogil                 # removes one virtual loss along the path (collision)
    cdef double _node_value0(self, int node) noexcept nogil                     # exact value of a terminal/proven node for player 0
    cdef void _set_terminal(self, int node, double r0) noexcept nogil           # marks a terminal node, with player 0's return
    cdef void _propagate_proof(self, int node) noexcept nogil                   # after `node` became proven, proves ancestors that now follow
    cdef object _call_evaluator(self, CState state, const char* leaf_pos, const int* leaves, int count)  # the evaluator's output for gathered leaves (released on an error)
    cdef int _expand_outputs(self, const CGame* g, const char* leaf_pos, const int* leaves, int count, object output, int* legal) except -3  # checks an output, expands and backs up: 0, or -2 out of memory
    cdef bint _check_proven(self, int node) noexcept nogil                      # proves `node` from its children if possible; whether it did
    cdef int _search_c(self, const CGame* g, const void* root_pos, void* scratch, int* legal, long long max_sims, long long max_nodes, double deadline, double info_at, bint prune) noexcept nogil  # the GIL-free loop of the C evaluators; returns STOP_*
    cdef int _gather_c(self, const CGame* g, const void* root_pos, void* scratch, char* leaf_pos, int* leaves, int batch, long long max_sims) noexcept nogil  # selects up to `batch` leaves for one evaluator call (terminal/proven ones backed up at once); returns how many wait
    cdef int _expand_batch_c(self, const CGame* g, const char* leaf_pos, const int* leaves, int count, const float* priors, const float* values, int* legal) noexcept nogil  # expands and backs up evaluated leaves; 0, or -2 when an allocation failed
    cdef int _leaf_outcome(self, int leaf, bint terminal, double r0) noexcept nogil  # handles a selected leaf: 1 backed up (terminal/proven), 2 collision (undone), 0 needs evaluation (marked pending)
    cdef int _select_leaf_c(self, const CGame* g, const void* root_pos, void* scratch) noexcept nogil  # walks from the root on a copy of the position; returns the leaf
    cdef int _find_child_c(self, int node, int action) noexcept              # the child of `node` reached by `action`, or -1
    cdef int _pv_child_c(self, int node) noexcept                             # the principal-variation child of `node` (proven win, else most visited), or -1
    cdef void _root_top_two(self, int* best, int* second) noexcept nogil        # visits of the root's most and second most visited children
    cdef bint _pruned(self, long long sims_left) noexcept nogil                 # smart pruning: the runner-up cannot catch the best within sims_left
