"""The learned chess evaluation in C: an efficiently updatable network (NNUE-style).

The network (``models.chess_nnue``) sums, per perspective, the weights of the active piece-square
features (feature set ``psq768``) into an accumulator of ``H`` int16 units (and one int32
piece-square sum); a move changes at most
four features, so a search updates the accumulator in make (``nnue_push``: two to four rows added
or subtracted) and restores it in unmake (``nnue_pop``: the previous accumulator is still on the
stack). The forward pass is integer arithmetic: clipped accumulators as uint8, two int8 dense layers
(16 and 32 units) with int32 sums, then a float output layer (one win-probability logit, or HL-Gauss bins over
the value in [-1, 1]), turned into centipawns for the side to move.

The weights are read once from the ONNX model file's initialisers (``mcts._onnx_weights``, no
``onnx`` package or torch at run time) and rounded to the integer scales in its metadata; the file
holds the dequantised weights, so onnxruntime runs the same network in float and the two agree up
to the rounding of the activations (``tests/test_nnue.py``). The hot loops are plain C that the
compiler vectorises (the first dense layer with AVX2 intrinsics), built twice (AVX2 and the
baseline) and picked once at import by the CPU.
"""
from libc.stdint cimport int16_t, int8_t, int32_t, uint16_t, uint8_t, uint64_t, uint32_t
from libc.stdlib cimport free
from libc.string cimport memset, memcpy
from libc.math cimport log, exp

import numpy as np

from games.chessboard cimport (
    CBoard, ChessBoardState, cb_make, cb_unmake, cb_action_to_move, cb_generate, CB_MAX_MOVES,
    CB_WHITE, CB_BLACK, CB_PAWN, CB_ROOK, CB_KING, CB_EMPTY, CB_CASTLE, CB_EP,
)

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>

    static int16_t nnue_zero_row[512] __attribute__((aligned(64)));

    static inline __attribute__((always_inline)) void nnue_update_body(
            int16_t* restrict dst, const int16_t* restrict src, const int16_t* restrict a0,
            const int16_t* restrict a1, const int16_t* restrict r0, const int16_t* restrict r1, int n) {
        for (int i = 0; i < n; i++)
            dst[i] = (int16_t) (src[i] + a0[i] + a1[i] - r0[i] - r1[i]);
    }

    #define NNUE_C_L1 16
    #define NNUE_C_L2 32
    #if defined(__x86_64__) && defined(__GNUC__)
    #include <immintrin.h>
    /* the first dense layer with AVX2: u8 x i8 pairs (maddubs, no saturation: 2 * 127 * 127 < 32767),
       then pairs of i16 into i32 (madd), four outputs reduced together */
    __attribute__((target("avx2"))) static inline void nnue_l1_avx2(const uint8_t* in, int n, const int8_t* w, int32_t* sums) {
        const __m256i ones = _mm256_set1_epi16(1);
        for (int o = 0; o < NNUE_C_L1; o += 4) {
            __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
            __m256i acc2 = _mm256_setzero_si256(), acc3 = _mm256_setzero_si256();
            const int8_t* w0 = w + (o + 0) * n;
            const int8_t* w1 = w + (o + 1) * n;
            const int8_t* w2 = w + (o + 2) * n;
            const int8_t* w3 = w + (o + 3) * n;
            for (int i = 0; i < n; i += 32) {
                __m256i x = _mm256_load_si256((const __m256i*) (in + i));
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i*) (w0 + i))), ones));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i*) (w1 + i))), ones));
                acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i*) (w2 + i))), ones));
                acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i*) (w3 + i))), ones));
            }
            /* horizontal sums of the four accumulators into four lanes */
            __m256i s01 = _mm256_hadd_epi32(acc0, acc1);
            __m256i s23 = _mm256_hadd_epi32(acc2, acc3);
            __m256i s = _mm256_hadd_epi32(s01, s23);
            __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            _mm_storeu_si128((__m128i*) (sums + o), r);
        }
    }
    #endif
    static inline __attribute__((always_inline)) void nnue_l1_plain(const uint8_t* in, int n, const int8_t* w, int32_t* sums) {
        for (int o = 0; o < NNUE_C_L1; o++) {
            const int8_t* wo = w + o * n;
            int32_t s = 0;
            for (int i = 0; i < n; i++)
                s += (int32_t) in[i] * (int32_t) wo[i];
            sums[o] = s;
        }
    }

    static inline __attribute__((always_inline)) void nnue_clip_plain(const int16_t* restrict x, int n, uint8_t* restrict out) {
        for (int i = 0; i < n; i++) {
            int v = x[i];
            out[i] = (uint8_t) (v < 0 ? 0 : (v > 127 ? 127 : v));
        }
    }
    #if defined(__x86_64__) && defined(__GNUC__)
    /* clipped ReLU of 32 int16 at a time into uint8 (packus saturates below 0; the lane shuffle
       undoes packus's interleaving of the two 128-bit halves) */
    __attribute__((target("avx2"))) static inline void nnue_clip_avx2(const int16_t* x, int n, uint8_t* out) {
        const __m256i top = _mm256_set1_epi16(127);
        for (int i = 0; i < n; i += 32) {
            __m256i a = _mm256_min_epi16(_mm256_loadu_si256((const __m256i*) (x + i)), top);
            __m256i b = _mm256_min_epi16(_mm256_loadu_si256((const __m256i*) (x + i + 16)), top);
            _mm256_store_si256((__m256i*) (out + i), _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), 0xD8));
        }
    }
    #endif

    /* The forward pass from the two accumulators. The second dense layer and the output layer run in
       float on exact integers (|sum| <= 16 * 127 * 127 < 2^24), laid out input-major so that the
       compiler vectorises across the outputs. */
    static inline __attribute__((always_inline)) void nnue_forward_body(
            const int16_t* restrict own, const int16_t* restrict other, int h,
            const int8_t* restrict w1, const int32_t* restrict b1,
            const float* restrict w2, const int32_t* restrict b2,
            const float* restrict wo, const float* restrict bo, int k, float ps, float* restrict out, int avx2) {
        uint8_t in[1024] __attribute__((aligned(64)));
        int32_t sums[NNUE_C_L1];
        float h1[NNUE_C_L1];
        float acc2[NNUE_C_L2];
        float h2[NNUE_C_L2];
    #if defined(__x86_64__) && defined(__GNUC__)
        if (avx2) {
            nnue_clip_avx2(own, h, in);
            nnue_clip_avx2(other, h, in + h);
            nnue_l1_avx2(in, 2 * h, w1, sums);
        } else
    #endif
        {
            nnue_clip_plain(own, h, in);
            nnue_clip_plain(other, h, in + h);
            nnue_l1_plain(in, 2 * h, w1, sums);
        }
        for (int o = 0; o < NNUE_C_L1; o++) {
            int32_t v = (sums[o] + b1[o] + 32) >> 6;
            h1[o] = (float) (v < 0 ? 0 : (v > 127 ? 127 : v));
        }
        for (int o = 0; o < NNUE_C_L2; o++)
            acc2[o] = 0.0f;
        for (int i = 0; i < NNUE_C_L1; i++) {
            const float x = h1[i];
            const float* w = w2 + i * NNUE_C_L2;
            for (int o = 0; o < NNUE_C_L2; o++)
                acc2[o] += x * w[o];
        }
        for (int o = 0; o < NNUE_C_L2; o++) {
            int32_t v = ((int32_t) acc2[o] + b2[o] + 32) >> 6;
            h2[o] = (float) (v < 0 ? 0 : (v > 127 ? 127 : v));
        }
        if (k == 1) {
            float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int i = 0; i < NNUE_C_L2; i += 8)
                for (int l = 0; l < 8; l++)
                    lanes[l] += h2[i + l] * wo[i + l];
            out[0] = bo[0] + ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
                     + ps * wo[NNUE_C_L2];
            return;
        }
        for (int j = 0; j < k; j++)
            out[j] = bo[j] + ps * wo[NNUE_C_L2 * k + j];
        for (int i = 0; i < NNUE_C_L2; i++) {
            const float x = h2[i];
            const float* w = wo + i * k;
            for (int j = 0; j < k; j++)
                out[j] += x * w[j];
        }
    }

    #if defined(__x86_64__) && defined(__GNUC__)
    __attribute__((target("avx2"))) static void nnue_update_avx2(int16_t* dst, const int16_t* src, const int16_t* a0,
            const int16_t* a1, const int16_t* r0, const int16_t* r1, int n) {
        nnue_update_body(dst, src, a0, a1, r0, r1, n);
    }
    __attribute__((target("avx2"))) static void nnue_forward_avx2(const int16_t* own, const int16_t* other, int h,
            const int8_t* w1, const int32_t* b1, const float* w2, const int32_t* b2,
            const float* wo, const float* bo, int k, float ps, float* out) {
        nnue_forward_body(own, other, h, w1, b1, w2, b2, wo, bo, k, ps, out, 1);
    }
    #endif
    static void nnue_update_base(int16_t* dst, const int16_t* src, const int16_t* a0,
            const int16_t* a1, const int16_t* r0, const int16_t* r1, int n) {
        nnue_update_body(dst, src, a0, a1, r0, r1, n);
    }
    static void nnue_forward_base(const int16_t* own, const int16_t* other, int h,
            const int8_t* w1, const int32_t* b1, const float* w2, const int32_t* b2,
            const float* wo, const float* bo, int k, float ps, float* out) {
        nnue_forward_body(own, other, h, w1, b1, w2, b2, wo, bo, k, ps, out, 0);
    }

    /* the mean of a histogram's bin centers under softmax(logits): exp by 2^(x log2 e) with a degree-5
       polynomial for the fraction (relative error ~2e-6), vectorised over the bins */
    static inline __attribute__((always_inline)) float nnue_histmean_body(const float* restrict logits,
            const float* restrict centers, int k) {
        float z[128] __attribute__((aligned(64)));
        float mx = logits[0];
        for (int j = 1; j < k; j++)
            mx = logits[j] > mx ? logits[j] : mx;
        for (int j = 0; j < k; j++) {
            float t = (logits[j] - mx) * 1.4426950409f;
            t = t < -100.0f ? -100.0f : t;   /* keeps z and z * center normal (denormals are slow) */
            int32_t n = (int32_t) t;                 /* t <= 0: truncation rounds up */
            n -= (float) n > t;
            float f = t - (float) n;
            float p = 1.0f + f * (0.6931471806f + f * (0.2402265070f + f * (0.0555041087f
                      + f * (0.0096181291f + f * 0.0013333558f))));
            union { int32_t i; float x; } scale;
            scale.i = (n + 127) << 23;
            z[j] = p * scale.x;
        }
        float lanes_t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        float lanes_v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int j = 0;
        for (; j + 8 <= k; j += 8)
            for (int l = 0; l < 8; l++) {
                lanes_t[l] += z[j + l];
                lanes_v[l] += z[j + l] * centers[j + l];
            }
        float total = 0.0f, v = 0.0f;
        for (int l = 0; l < 8; l++) {
            total += lanes_t[l];
            v += lanes_v[l];
        }
        for (; j < k; j++) {
            total += z[j];
            v += z[j] * centers[j];
        }
        return v / total;
    }
    #if defined(__x86_64__) && defined(__GNUC__)
    __attribute__((target("avx2"))) static float nnue_histmean_avx2(const float* logits, const float* centers, int k) {
        return nnue_histmean_body(logits, centers, k);
    }
    #endif
    static float nnue_histmean_base(const float* logits, const float* centers, int k) {
        return nnue_histmean_body(logits, centers, k);
    }
    typedef float (*nnue_histmean_fn)(const float*, const float*, int);
    static nnue_histmean_fn nnue_histmean_impl = nnue_histmean_base;

    typedef void (*nnue_update_fn)(int16_t*, const int16_t*, const int16_t*, const int16_t*, const int16_t*,
                                   const int16_t*, int);
    typedef void (*nnue_forward_fn)(const int16_t*, const int16_t*, int, const int8_t*, const int32_t*,
                                    const float*, const int32_t*, const float*, const float*, int, float, float*);
    static nnue_update_fn nnue_update_impl = nnue_update_base;
    static nnue_forward_fn nnue_forward_impl = nnue_forward_base;

    /* picks the AVX2 builds when the CPU has AVX2; returns 1 then */
    static int nnue_select_isa(void) {
    #if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) {
            nnue_update_impl = nnue_update_avx2;
            nnue_forward_impl = nnue_forward_avx2;
            nnue_histmean_impl = nnue_histmean_avx2;
            return 1;
        }
    #endif
        return 0;
    }
    static void* nnue_aligned_alloc(size_t size) {
        return aligned_alloc(64, (size + 63) / 64 * 64);
    }
    """
    int16_t* nnue_zero_row
    void nnue_update_impl(int16_t* dst, const int16_t* src, const int16_t* a0, const int16_t* a1,
                          const int16_t* r0, const int16_t* r1, int n) nogil
    void nnue_forward_impl(const int16_t* own, const int16_t* other, int h, const int8_t* w1, const int32_t* b1,
                           const float* w2, const int32_t* b2, const float* wo, const float* bo, int k,
                           float ps, float* out) nogil
    float nnue_histmean_impl(const float* logits, const float* centers, int k) nogil
    int nnue_select_isa()
    void* nnue_aligned_alloc(size_t size) nogil

AVX2 = bool(nnue_select_isa())   # whether the vector builds run on this CPU

cdef int MAX_CP = 30000          # evaluations stay far below mate scores

# ---------------------------------------------------------------------------------------------------
# features

cdef inline int feature(int perspective, int code, int sq) noexcept nogil:
    """Index of a piece (code = type + 6 * colour) on sq, from a colour's view."""
    cdef int colour = code // 6
    return (0 if colour == perspective else 384) + (code % 6) * 64 + (sq if perspective == CB_WHITE else sq ^ 56)


cdef inline const int16_t* row(const NNUENet* net, int perspective, int code, int sq) noexcept nogil:
    return net.ft_weight + feature(perspective, code, sq) * net.hidden


cdef NNUEStack* nnue_stack_new(const NNUENet* net) noexcept nogil:
    cdef NNUEStack* s = <NNUEStack*> nnue_aligned_alloc(sizeof(NNUEStack))
    if s == NULL:
        return NULL
    s.acc = <NNUEAccumulator*> nnue_aligned_alloc(NNUE_STACK * sizeof(NNUEAccumulator))
    s.cache = <uint64_t*> nnue_aligned_alloc(NNUE_CACHE * sizeof(uint64_t))
    if s.acc == NULL or s.cache == NULL:
        free(s.acc)
        free(s.cache)
        free(s)
        return NULL
    s.net = net
    s.top = 0
    nnue_clear_cache(s)
    return s


cdef void nnue_stack_free(NNUEStack* s) noexcept nogil:
    if s != NULL:
        free(s.acc)
        free(s.cache)
        free(s)


cdef void nnue_clear_cache(NNUEStack* s) noexcept nogil:
    # key bits 0xFFFFFFFF with a value no evaluation has (MAX_CP + 1) mark an empty slot
    cdef int i
    for i in range(NNUE_CACHE):
        s.cache[i] = (<uint64_t> 0xFFFFFFFF << 32) | <uint32_t> (MAX_CP + 1)


cdef void nnue_refresh(NNUEStack* s, const CBoard* b) noexcept nogil:
    cdef const NNUENet* net = s.net
    cdef int h = net.hidden, p, sq, code
    cdef NNUEAccumulator* a = &s.acc[0]
    s.top = 0
    a.pad[LAZY_STATE] = 1
    for p in range(2):
        memcpy(a.v[p], net.ft_bias, h * sizeof(int16_t))
        a.psqt[p] = 0
    for sq in range(64):
        code = b.board[sq]
        if code == CB_EMPTY:
            continue
        for p in range(2):
            nnue_update_impl(a.v[p], a.v[p], row(net, p, code, sq), nnue_zero_row, nnue_zero_row, nnue_zero_row, h)
            a.psqt[p] += net.psqt_weight[feature(p, code, sq)]


# Lazy updates: make records the move's feature changes in the new accumulator (its ``pad`` words:
# LAZY_STATE 0 pending / 1 computed, the add and remove counts, then feature codes ``code * 64 + sq``),
# and the sums are computed only when the position is evaluated (``nnue_materialise``): a node cut by
# the transposition table or answered by the evaluation cache costs no update.
cdef enum:
    LAZY_STATE = 0
    LAZY_NADD = 1
    LAZY_NREM = 2
    LAZY_ADD = 3
    LAZY_REM = 5


cdef void nnue_push(NNUEStack* s, const CBoard* b, uint16_t m) noexcept nogil:
    cdef int frm = m & 63, to = (m >> 6) & 63, flag = m >> 12
    cdef int us = b.turn, code = b.board[frm], captured, rank0, kto, rto, cap_sq
    cdef NNUEAccumulator* dst = &s.acc[s.top + 1]
    cdef int32_t* d = dst.pad
    s.top += 1
    d[LAZY_STATE] = 0
    if flag == CB_CASTLE:
        rank0 = frm & 56
        kto = rank0 + (6 if to > frm else 2)
        rto = rank0 + (5 if to > frm else 3)
        d[LAZY_REM] = code * 64 + frm
        d[LAZY_REM + 1] = (CB_ROOK + 6 * us) * 64 + to
        d[LAZY_ADD] = code * 64 + kto
        d[LAZY_ADD + 1] = (CB_ROOK + 6 * us) * 64 + rto
        d[LAZY_NADD] = 2
        d[LAZY_NREM] = 2
        return
    d[LAZY_REM] = code * 64 + frm
    d[LAZY_NREM] = 1
    d[LAZY_ADD] = (flag + 6 * us if 1 <= flag <= 4 else code) * 64 + to
    d[LAZY_NADD] = 1
    if flag == CB_EP:
        cap_sq = to - 8 if us == CB_WHITE else to + 8
        d[LAZY_REM + 1] = (CB_PAWN + 6 * (1 - us)) * 64 + cap_sq
        d[LAZY_NREM] = 2
    else:
        captured = b.board[to]
        if captured != CB_EMPTY:
            d[LAZY_REM + 1] = captured * 64 + to
            d[LAZY_NREM] = 2


cdef void nnue_push_null(NNUEStack* s) noexcept nogil:
    cdef int32_t* d = s.acc[s.top + 1].pad
    s.top += 1
    d[LAZY_STATE] = 0
    d[LAZY_NADD] = 0
    d[LAZY_NREM] = 0


cdef void nnue_pop(NNUEStack* s) noexcept nogil:
    s.top -= 1


cdef void nnue_apply(const NNUENet* net, const NNUEAccumulator* src, NNUEAccumulator* dst) noexcept nogil:
    """dst's sums: src's plus the feature changes recorded in dst."""
    cdef const int32_t* d = dst.pad
    cdef int n_add = d[LAZY_NADD], n_rem = d[LAZY_NREM], p
    cdef int add0 = d[LAZY_ADD], add1 = d[LAZY_ADD + 1], rem0 = d[LAZY_REM], rem1 = d[LAZY_REM + 1]
    cdef const int16_t* a0
    cdef const int16_t* a1
    cdef const int16_t* r0
    cdef const int16_t* r1
    if n_add == 0 and n_rem == 0:
        for p in range(2):
            memcpy(dst.v[p], src.v[p], net.hidden * sizeof(int16_t))
            dst.psqt[p] = src.psqt[p]
        return
    for p in range(2):
        a0 = row(net, p, add0 >> 6, add0 & 63)
        a1 = row(net, p, add1 >> 6, add1 & 63) if n_add == 2 else nnue_zero_row
        r0 = row(net, p, rem0 >> 6, rem0 & 63)
        r1 = row(net, p, rem1 >> 6, rem1 & 63) if n_rem == 2 else nnue_zero_row
        nnue_update_impl(dst.v[p], src.v[p], a0, a1, r0, r1, net.hidden)
        dst.psqt[p] = (src.psqt[p] + net.psqt_weight[feature(p, add0 >> 6, add0 & 63)]
                       - net.psqt_weight[feature(p, rem0 >> 6, rem0 & 63)])
        if n_add == 2:
            dst.psqt[p] += net.psqt_weight[feature(p, add1 >> 6, add1 & 63)]
        if n_rem == 2:
            dst.psqt[p] -= net.psqt_weight[feature(p, rem1 >> 6, rem1 & 63)]


cdef void nnue_materialise(NNUEStack* s) noexcept nogil:
    """Computes the pending accumulators from the last computed one up to the top."""
    cdef int j = s.top, k
    while j > 0 and s.acc[j].pad[LAZY_STATE] == 0:
        j -= 1
    for k in range(j + 1, s.top + 1):
        nnue_apply(s.net, &s.acc[k - 1], &s.acc[k])
        s.acc[k].pad[LAZY_STATE] = 1


cdef void nnue_logits(const NNUEStack* s, int turn, float* out) noexcept nogil:
    cdef const NNUENet* net = s.net
    nnue_materialise(<NNUEStack*> s)   # the lazy sums are a cache: filling it leaves the position as it was
    cdef const NNUEAccumulator* a = &s.acc[s.top]
    cdef float ps = <float> ((<double> a.psqt[turn] - <double> a.psqt[1 - turn]) * (0.5 / (NNUE_QA << NNUE_QB_SHIFT)))
    nnue_forward_impl(a.v[turn], a.v[1 - turn], net.hidden, net.l1_weight, net.l1_bias, net.l2_weight,
                      net.l2_bias, net.out_weight, net.out_bias, net.outputs, ps, out)


cdef int nnue_evaluate(const NNUEStack* s, int turn) noexcept nogil:
    cdef float out[NNUE_MAX_OUT]
    cdef const NNUENet* net = s.net
    cdef double p, cp
    nnue_logits(s, turn, out)
    if not net.hlgauss:
        cp = out[0] * net.cp_per_logit
    else:
        p = (nnue_histmean_impl(out, net.centers, net.outputs) + 1.0) * 0.5
        if p < 1e-6:
            p = 1e-6
        elif p > 1.0 - 1e-6:
            p = 1.0 - 1e-6
        cp = net.cp_per_logit * log(p / (1.0 - p))
    if cp > MAX_CP:
        return MAX_CP
    if cp < -MAX_CP:
        return -MAX_CP
    return <int> (cp + 0.5 if cp >= 0 else cp - 0.5)

cdef int nnue_evaluate_cached(NNUEStack* s, uint64_t key, int turn) noexcept nogil:
    """Iterative deepening meets the same positions again: a direct-mapped cache of evaluations."""
    cdef uint64_t* slot = &s.cache[key & (NNUE_CACHE - 1)]
    cdef uint64_t e = slot[0]
    cdef int v
    if (e >> 32) == (key >> 32) and <int32_t> <uint32_t> e != MAX_CP + 1:
        return <int32_t> <uint32_t> e
    v = nnue_evaluate(s, turn)
    slot[0] = ((key >> 32) << 32) | <uint32_t> v
    return v

# ---------------------------------------------------------------------------------------------------
# Python side


cdef const CBoard* _board(state) except NULL:
    if not isinstance(state, ChessBoardState):
        raise ValueError(f"ChessNNUE evaluates bitboard chess states (games.load('chess')), got {state!r}")
    return &(<ChessBoardState> state).s


class NNUEFileError(ValueError):
    """The ONNX file is not a plytree chess NNUE (wrong metadata, feature set or shapes)."""


def _quantised(array, scale, lo, hi):
    return np.clip(np.rint(np.asarray(array, np.float64) * scale), lo, hi)


cdef class ChessNNUE:
    """A learned chess evaluation loaded from its ONNX file (written by ``models.chess_nnue.export_onnx``).

    The C searcher (``mcts._chess_ab``) takes one as its evaluation; the methods here evaluate single
    positions and walk games (tests, tools).

    Args:
        path: the ONNX file.

    Raises:
        FileNotFoundError: no such file.
        NNUEFileError: the file is not a chess NNUE of feature set ``psq768`` with this layout.
    """

    def __cinit__(self, path):
        from mcts._onnx_weights import read_onnx_weights

        self.path = str(path)
        weights, props = read_onnx_weights(path)
        self.metadata = dict(props)
        where = self.path
        if props.get("plytree_kind") != "nnue" or props.get("game") != "chess":
            raise NNUEFileError(f"{where}: not a plytree chess NNUE (metadata plytree_kind={props.get('plytree_kind')!r}, "
                                f"game={props.get('game')!r}); export it with models.chess_nnue.export_onnx")
        if props.get("feature_set") != "psq768":
            raise NNUEFileError(f"{where}: feature set {props.get('feature_set')!r} is not supported (psq768)")
        need = ("ft.weight", "ft.bias", "l1.weight", "l1.bias", "l2.weight", "l2.bias", "psqt.weight", "out.weight",
                "out.bias")
        missing = [k for k in need if k not in weights]
        if missing:
            raise NNUEFileError(f"{where}: initialisers missing: {', '.join(missing)}")
        ft = weights["ft.weight"]
        h = ft.shape[1] if ft.ndim == 2 else -1
        k = weights["out.bias"].shape[0] if weights["out.bias"].ndim == 1 else -1
        shapes = {"ft.weight": (NNUE_FEATURES, h), "ft.bias": (h,), "l1.weight": (2 * h, NNUE_L1), "l1.bias": (NNUE_L1,),
                  "l2.weight": (NNUE_L1, NNUE_L2), "l2.bias": (NNUE_L2,), "psqt.weight": (NNUE_FEATURES, 1),
                  "out.weight": (NNUE_L2 + 1, k), "out.bias": (k,)}
        for name, shape in shapes.items():
            if tuple(weights[name].shape) != shape:
                raise NNUEFileError(f"{where}: {name} has shape {tuple(weights[name].shape)}, expected {shape}")
        if h < 16 or h > NNUE_MAX_HIDDEN or h % 16:
            raise NNUEFileError(f"{where}: {h} accumulator units (need a multiple of 16 up to {NNUE_MAX_HIDDEN})")
        if k < 1 or k > NNUE_MAX_OUT:
            raise NNUEFileError(f"{where}: {k} outputs (1 to {NNUE_MAX_OUT})")
        head = props.get("value_head", "sigmoid")
        if head not in ("sigmoid", "hlgauss") or (head == "sigmoid") != (k == 1):
            raise NNUEFileError(f"{where}: value_head {head!r} does not fit {k} outputs")
        qa = int(props.get("quant_ft", NNUE_QA))
        qb = int(props.get("quant_dense", 1 << NNUE_QB_SHIFT))
        if qa != NNUE_QA or qb != 1 << NNUE_QB_SHIFT:
            raise NNUEFileError(f"{where}: quantisation scales {qa}/{qb}; this build evaluates {NNUE_QA}/{1 << NNUE_QB_SHIFT}")
        self.net.hidden = h
        self.net.outputs = k
        self.net.hlgauss = 1 if head == "hlgauss" else 0
        self.net.cp_per_logit = float(props.get("cp_per_logit", 400.0 / np.log(10.0)))
        self.net.ft_weight = <int16_t*> nnue_aligned_alloc(NNUE_FEATURES * h * sizeof(int16_t))
        self.net.ft_bias = <int16_t*> nnue_aligned_alloc(NNUE_MAX_HIDDEN * sizeof(int16_t))
        self.net.l1_weight = <int8_t*> nnue_aligned_alloc(NNUE_L1 * 2 * h * sizeof(int8_t))
        self.stack = nnue_stack_new(&self.net)
        if self.net.ft_weight == NULL or self.net.ft_bias == NULL or self.net.l1_weight == NULL or self.stack == NULL:
            raise MemoryError("cannot allocate the network")
        cdef int16_t[:, ::1] ftq = _quantised(ft, qa, -32767, 32767).astype(np.int16)
        cdef int16_t[::1] fbq = _quantised(weights["ft.bias"], qa, -32767, 32767).astype(np.int16)
        cdef int8_t[:, ::1] w1 = np.ascontiguousarray(_quantised(weights["l1.weight"], qb, -127, 127).T).astype(np.int8)
        cdef int32_t[::1] b1 = _quantised(weights["l1.bias"], qa * qb, -2147483647, 2147483647).astype(np.int32)
        cdef float[:, ::1] w2 = np.ascontiguousarray(_quantised(weights["l2.weight"], qb, -127, 127), np.float32)
        cdef int32_t[::1] b2 = _quantised(weights["l2.bias"], qa * qb, -2147483647, 2147483647).astype(np.int32)
        wo_rows = np.asarray(weights["out.weight"], np.float64).copy()
        wo_rows[:NNUE_L2] /= NNUE_QA
        cdef float[:, ::1] wo = np.ascontiguousarray(wo_rows, np.float32)
        cdef int32_t[::1] pq = _quantised(weights["psqt.weight"][:, 0], qa * qb, -2147483647, 2147483647).astype(np.int32)
        cdef float[::1] bo = np.ascontiguousarray(weights["out.bias"], np.float32)
        cdef float[::1] centers = (np.linspace(-1.0, 1.0, k + 1)[:-1] + 1.0 / k).astype(np.float32)
        memcpy(self.net.ft_weight, &ftq[0, 0], NNUE_FEATURES * h * sizeof(int16_t))
        memset(self.net.ft_bias, 0, NNUE_MAX_HIDDEN * sizeof(int16_t))
        memcpy(self.net.ft_bias, &fbq[0], h * sizeof(int16_t))
        memcpy(self.net.l1_weight, &w1[0, 0], NNUE_L1 * 2 * h)
        memcpy(self.net.l1_bias, &b1[0], NNUE_L1 * sizeof(int32_t))
        memcpy(self.net.l2_weight, &w2[0, 0], NNUE_L1 * NNUE_L2 * sizeof(float))
        memcpy(self.net.l2_bias, &b2[0], NNUE_L2 * sizeof(int32_t))
        memcpy(self.net.out_weight, &wo[0, 0], k * (NNUE_L2 + 1) * sizeof(float))
        memcpy(self.net.psqt_weight, &pq[0], NNUE_FEATURES * sizeof(int32_t))
        memcpy(self.net.out_bias, &bo[0], k * sizeof(float))
        memcpy(self.net.centers, &centers[0], k * sizeof(float))

    def __dealloc__(self):
        nnue_stack_free(self.stack)
        free(self.net.ft_weight)
        free(self.net.ft_bias)
        free(self.net.l1_weight)

    @property
    def hidden(self):
        """Accumulator units per perspective."""
        return self.net.hidden

    @property
    def value_head(self):
        """``"sigmoid"`` (one logit) or ``"hlgauss"`` (histogram bins)."""
        return "hlgauss" if self.net.hlgauss else "sigmoid"

    @property
    def outputs(self):
        return self.net.outputs

    def evaluate(self, state):
        """Centipawns for the side to move of a bitboard chess state (accumulator computed afresh)."""
        cdef const CBoard* b = _board(state)
        nnue_refresh(self.stack, b)
        return nnue_evaluate(self.stack, b.turn)

    def logits(self, state):
        """float32 ``[outputs]``: the output layer for the side to move (as the ONNX ``value_logits``)."""
        cdef const CBoard* b = _board(state)
        out = np.zeros(self.net.outputs, np.float32)
        cdef float[::1] o = out
        nnue_refresh(self.stack, b)
        nnue_logits(self.stack, b.turn, &o[0])
        return out

    def walk(self, state, actions):
        """Evaluates a game incrementally, as a search does: the accumulator is computed once for
        ``state``, then updated by each action's move (``actions`` must be legal in turn: the unchecked
        fast path); on the way back every popped accumulator is compared with one computed afresh.

        Args:
            state: the bitboard chess state the game starts from (not changed).
            actions: the game's actions.

        Returns:
            ``(logits, cp, mismatches)``: float32 ``[len(actions) + 1, outputs]`` and int32
            ``[len(actions) + 1]`` for the side to move of each position along the game, and the
            number of positions whose incremental accumulator differed from a fresh one.

        Raises:
            ValueError: more actions than the stack holds (``NNUE_STACK - 1``).
        """
        cdef const CBoard* start = _board(state)
        cdef int n = len(actions), i, mismatches = 0, h = self.net.hidden
        if n >= NNUE_STACK:
            raise ValueError(f"walk takes at most {NNUE_STACK - 1} actions, got {n}")
        cdef int[::1] acts = np.asarray(actions, np.int32).reshape(-1) if n else np.zeros(1, np.int32)
        logits = np.zeros((n + 1, self.net.outputs), np.float32)
        cps = np.zeros(n + 1, np.int32)
        cdef float[:, ::1] lg = logits
        cdef int[::1] cp = cps
        cdef CBoard b
        cdef NNUEStack* fresh = nnue_stack_new(&self.net)
        if fresh == NULL:
            raise MemoryError("cannot allocate an accumulator stack")
        cdef uint16_t m
        try:
            memcpy(&b, start, sizeof(CBoard))
            with nogil:
                nnue_refresh(self.stack, &b)
                for i in range(n + 1):
                    nnue_logits(self.stack, b.turn, &lg[i, 0])
                    cp[i] = nnue_evaluate(self.stack, b.turn)
                    if i < n:
                        m = cb_action_to_move(&b, acts[i])
                        nnue_push(self.stack, &b, m)
                        cb_make(&b, m)
                for i in range(n, 0, -1):
                    nnue_refresh(fresh, &b)
                    if (memcmp(fresh.acc[0].v[0], self.stack.acc[self.stack.top].v[0], h * sizeof(int16_t)) != 0
                            or memcmp(fresh.acc[0].v[1], self.stack.acc[self.stack.top].v[1], h * sizeof(int16_t)) != 0
                            or memcmp(fresh.acc[0].psqt, self.stack.acc[self.stack.top].psqt, 2 * sizeof(int32_t)) != 0):
                        mismatches += 1
                    cb_unmake(&b)
                    nnue_pop(self.stack)
        finally:
            nnue_stack_free(fresh)
        return logits, cps, mismatches

    def __repr__(self):
        return f"ChessNNUE({self.path!r}, hidden={self.net.hidden}, value_head={self.value_head!r})"


cdef extern from "string.h":
    int memcmp(const void* a, const void* b, size_t n) nogil
