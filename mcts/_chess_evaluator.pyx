"""``ChessEvaluator``: the C chess evaluation of ``mcts._chess_ab`` as a batched evaluator, for MCTS
on chess without a network.

Values: a quiescence search (captures and promotions, evasions in check) over the material and
piece-square evaluation, in centipawns, mapped to [-1, 1] by the shared score-to-value map
(``mcts._score.score_to_value`` at ``CHESS_SCALE``); with ``quiescence=False`` the static evaluation
alone. Priors: a softmax over the legal moves of a cheap ordering score (the static exchange value of
captures and promotions divided by ``temperature``; quiet moves 0), so winning captures are tried
first; ``temperature=0`` gives uniform priors. The batch is copied into C once and evaluated in one
loop with the GIL released: no Python work per leaf beyond the copy.
"""
from libc.stdint cimport uint16_t
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy
from libc.math cimport exp

import numpy as np

from games.chessboard cimport (
    CBoard, ChessBoardState, cb_generate, cb_move_to_action, cb_terminal_value, CB_WHITE, CB_CASTLE, CB_EP,
    CB_EMPTY, CB_MAX_MOVES, CB_NUM_ACTIONS,
)
from mcts._ab_common cimport AB_INF, ABLimits, ab_score_to_value
from mcts._chess_ab cimport CABContext, chess_evaluate, chess_scale, qsearch, see


cdef inline bint _tactical(const CBoard* b, uint16_t m) noexcept nogil:
    cdef int flag = m >> 12
    return flag == CB_EP or (1 <= flag <= 4) or (flag != CB_CASTLE and b.board[(m >> 6) & 63] != CB_EMPTY)


cdef void _evaluate_one(CABContext* c, const CBoard* board, float* priors, float* value, bint quiescence,
                        double temperature, double scale) noexcept nogil:
    cdef uint16_t moves[CB_MAX_MOVES]
    cdef double logits[CB_MAX_MOVES]
    cdef int n, i, result, n_legal, score
    cdef double top, total
    result = cb_terminal_value(board, &n_legal)
    if result != 2:   # finished (the protocol sends none, but a batch may): the result, no priors
        value[0] = result if board.turn == CB_WHITE else -result
        return
    n = cb_generate(board, moves)
    top = 0.0
    for i in range(n):
        logits[i] = 0.0
        if temperature > 0 and _tactical(board, moves[i]):
            logits[i] = see(board, moves[i]) / temperature
        if i == 0 or logits[i] > top:
            top = logits[i]
    total = 0.0
    for i in range(n):
        logits[i] = exp(logits[i] - top)
        total += logits[i]
    for i in range(n):
        priors[cb_move_to_action(moves[i])] = <float> (logits[i] / total)
    if quiescence:
        memcpy(&c.b, board, sizeof(CBoard))
        c.lim.nodes = 0
        c.lim.stopped = 0
        c.seldepth = 0
        score = qsearch(c, 0, -AB_INF, AB_INF)
    else:
        score = chess_evaluate(board)
    value[0] = <float> ab_score_to_value(score, scale)


cdef class ChessEvaluator:
    """Batched chess evaluator in C (see the module docstring): ``evaluate(states) -> (priors [B, 4672],
    values [B])``, for bitboard states (``games.load("chess")``) and python-chess adapter states
    (converted with ``games.chessboard.from_board``).

    Args:
        quiescence: resolve captures before evaluating (default); False: the static evaluation.
        temperature: centipawns of exchange gain per unit of prior logit (0: uniform priors).

    Raises:
        ValueError: temperature < 0.
    """

    cdef CABContext* c          # scratch search context for the quiescence search
    cdef public bint quiescence
    cdef public double temperature
    num_actions = CB_NUM_ACTIONS

    def __cinit__(self, *, bint quiescence=True, double temperature=300.0):
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.c = <CABContext*> calloc(1, sizeof(CABContext))
        if self.c == NULL:
            raise MemoryError("cannot allocate the evaluation context")
        self.c.prune = 1
        self.quiescence = quiescence
        self.temperature = temperature

    def __dealloc__(self):
        free(self.c)

    def evaluate(self, states):
        """Evaluates a batch: float32 priors ``[B, 4672]`` (probabilities over the legal moves) and
        values ``[B]`` in [-1, 1] for each side to move.

        Raises:
            ValueError: a state is not a chess state.
        """
        from games.chess import ChessState
        from games.chessboard import from_board
        cdef Py_ssize_t n = len(states), i
        priors = np.zeros((n, CB_NUM_ACTIONS), dtype=np.float32)
        values = np.zeros(n, dtype=np.float32)
        if n == 0:
            return priors, values
        cdef float[:, ::1] p = priors
        cdef float[::1] v = values
        cdef CBoard* boards = <CBoard*> malloc(n * sizeof(CBoard))
        if boards == NULL:
            raise MemoryError(f"cannot copy a batch of {n} positions")
        cdef ChessBoardState s
        cdef bint q = self.quiescence
        cdef double t = self.temperature, scale = chess_scale()
        try:
            for i in range(n):
                st = states[i]
                if isinstance(st, ChessState):
                    st = from_board(st.board)
                elif not isinstance(st, ChessBoardState):
                    raise ValueError(f"ChessEvaluator evaluates chess states, got {st!r}")
                s = <ChessBoardState> st
                memcpy(&boards[i], &s.s, sizeof(CBoard))
            with nogil:
                for i in range(n):
                    _evaluate_one(self.c, &boards[i], &p[i, 0], &v[i], q, t, scale)
        finally:
            free(boards)
        return priors, values

    def __repr__(self):
        return f"ChessEvaluator(quiescence={bool(self.quiescence)}, temperature={self.temperature})"
