# The learned chess evaluation (NNUE-style) in C: weights read once from the ONNX file, an accumulator
# stack that a search pushes in make and pops in unmake, and the integer forward pass. See _nnue.pyx.
from libc.stdint cimport int16_t, int8_t, int32_t, uint16_t, uint8_t, uint64_t

from games.chessboard cimport CBoard

cdef enum:
    NNUE_FEATURES = 768        # piece-square features per perspective (feature set psq768)
    NNUE_MAX_HIDDEN = 512      # most accumulator units per perspective
    NNUE_L1 = 16               # units of the first dense layer
    NNUE_L2 = 32               # units of the second dense layer
    NNUE_MAX_OUT = 128         # most outputs (1 logit, or HL-Gauss bins)
    NNUE_STACK = 192           # accumulators a search can stack (deeper than any search ply)
    NNUE_QA = 127              # activation scale (a clipped 1.0 is 127)
    NNUE_QB_SHIFT = 6          # dense weights are int8 at scale 1 << 6
    NNUE_CACHE = 65536         # entries of a stack's evaluation cache (a power of two)

ctypedef struct NNUENet:
    int hidden                 # accumulator units per perspective (a multiple of 16)
    int outputs                # output units
    int hlgauss                # 1: outputs are histogram logits over [-1, 1]; 0: one win-probability logit
    float cp_per_logit         # centipawns of one logit unit (400 / ln 10)
    int16_t* ft_weight         # [768][hidden] accumulator weights (64-byte aligned)
    int16_t* ft_bias           # [hidden]
    int8_t* l1_weight          # [16][2 * hidden]
    int32_t l1_bias[16]        # at scale 127 * 64
    float l2_weight[512]       # [16][32] input-major, int8 values (exact in float)
    int32_t l2_bias[32]
    int32_t psqt_weight[768]   # the piece-square path: one weight per feature at scale 127 * 64
    float out_weight[4224]     # [33][outputs] input-major: rows 0..31 divided by 127 (activations are 0..127), row 32 the piece-square term's
    float out_bias[128]
    float centers[128]         # HL-Gauss bin centers

ctypedef struct NNUEAccumulator:
    int16_t v[2][512]          # sums of the active features' weights, from White's and Black's view
    int32_t psqt[2]            # sums of their piece-square weights, from each view
    int32_t pad[14]            # 64-byte alignment; _nnue.pyx keeps the lazy update record in it (LAZY_*)

ctypedef struct NNUEStack:
    const NNUENet* net         # the network (owned by a ChessNNUE object)
    int top                    # index of the current position's accumulator
    NNUEAccumulator* acc       # [NNUE_STACK] accumulators (64-byte aligned)
    uint64_t* cache            # [NNUE_CACHE] evaluations by position key: key high 32 bits | (uint32) cp

cdef NNUEStack* nnue_stack_new(const NNUENet* net) noexcept nogil          # NULL when out of memory
cdef void nnue_stack_free(NNUEStack* s) noexcept nogil
cdef void nnue_refresh(NNUEStack* s, const CBoard* b) noexcept nogil       # top := 0, sums the board's features
cdef void nnue_push(NNUEStack* s, const CBoard* b, uint16_t m) noexcept nogil   # call before cb_make(b, m)
cdef void nnue_push_null(NNUEStack* s) noexcept nogil                      # call with cb_make_null
cdef void nnue_pop(NNUEStack* s) noexcept nogil                            # call with cb_unmake / cb_unmake_null
cdef int nnue_evaluate(const NNUEStack* s, int turn) noexcept nogil        # centipawns for the side to move
cdef int nnue_evaluate_cached(NNUEStack* s, uint64_t key, int turn) noexcept nogil  # the same, through the cache (key: the position's hash)
cdef void nnue_clear_cache(NNUEStack* s) noexcept nogil
cdef void nnue_logits(const NNUEStack* s, int turn, float* out) noexcept nogil  # the output layer [outputs]


cdef class ChessNNUE:
    cdef NNUENet net           # the integer network
    cdef NNUEStack* stack      # a stack for the Python-level evaluation methods
    cdef readonly str path     # the ONNX file
    cdef readonly dict metadata  # its metadata_props
