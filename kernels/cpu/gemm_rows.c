/* Row-invariant matmul for inference: out[M, N] = x[M, K] · w[N, K]^T (+ bias). Every output
 * element is one dot product summed in a fixed order — eight lanes over k (lane j takes
 * k ≡ j mod 8, in increasing k, with fused multiply-adds), a fixed lane reduction, then the
 * k tail — so a row's result never depends on M or on the blocking. The rollout engine uses
 * it for every step (prefill and decode alike), which makes generation batch-invariant by
 * construction, and it reads the weights in place: no packing, which is what small-M decode
 * steps pay most for in a general GEMM. AVX-512 and AVX2+FMA paths with runtime dispatch
 * (kernels/cpu/isa.c); the AVX-512 one keeps the eight-lane order by holding two outputs in
 * each 16-lane register (two weight rows side by side), and the portable path sums in the
 * same order (fmaf), so all three agree bit for bit: a rollout does not depend on which
 * of them the machine takes. */
#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "kernels/cpu/cpu_ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RLC_HAVE_AVX2_PATH 1
#endif

/* The fixed lane reduction: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
static inline float reduce8(const float *l) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

static float dot_portable(const float *a, const float *b, int K) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int K8 = K & ~7;
    for (int k = 0; k < K8; k += 8)
        for (int j = 0; j < 8; j++) l[j] = fmaf(a[k + j], b[k + j], l[j]);
    float s = reduce8(l);
    for (int k = K8; k < K; k++) s = fmaf(a[k], b[k], s);
    return s;
}

static void rows_portable(float *out, const float *x, const float *w, const float *bias, int M, int K, int N, int n0,
                          int n1) {
    for (int n = n0; n < n1; n++)
        for (int m = 0; m < M; m++) {
            float v = dot_portable(x + (size_t)m * K, w + (size_t)n * K, K);
            out[(size_t)m * N + n] = bias ? v + bias[n] : v;
        }
}

#ifdef RLC_HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static inline float hsum_fixed(__m256 v, const float *x, const float *w, int K8,
                                                                   int K) {
    float l[8];
    _mm256_storeu_ps(l, v);
    float s = reduce8(l);
    for (int k = K8; k < K; k++) s = fmaf(x[k], w[k], s);
    return s;
}

/* R (1 or 2) input rows × 3 weight rows, the rows a 4-row block leaves over: 3R chains side
 * by side sharing each weight load, each summed as in the 4-row block (the same bits). */
__attribute__((target("avx2,fma"), always_inline)) static inline void block_rx3_avx2(float *out, const float *x,
                                                                                      const float *w, const float *bias,
                                                                                      int K, int N, int m, int n,
                                                                                      const int R) {
    int K8 = K & ~7;
    const float *w0 = w + (size_t)n * K, *xm = x + (size_t)m * K;
    __m256 a[3][2];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < R; j++) a[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < K8; k += 8) {
        __m256 b[3] = {_mm256_loadu_ps(w0 + k), _mm256_loadu_ps(w0 + K + k), _mm256_loadu_ps(w0 + 2 * (size_t)K + k)};
        for (int j = 0; j < R; j++) {
            __m256 v = _mm256_loadu_ps(xm + (size_t)j * K + k);
            for (int i = 0; i < 3; i++) a[i][j] = _mm256_fmadd_ps(v, b[i], a[i][j]);
        }
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < R; j++) {
            float v = hsum_fixed(a[i][j], xm + (size_t)j * K, w0 + (size_t)i * K, K8, K);
            out[(size_t)(m + j) * N + n + i] = bias ? v + bias[n + i] : v;
        }
}

/* How far ahead of the weight block in use (blk rows) the vector paths pull weight rows in:
 * about 32 KiB, in whole blocks. The block that far ahead streams in from memory while the
 * one in use meets every input-row block (its lines spread evenly over them), so the weights'
 * memory traffic overlaps the arithmetic. */
static int prefetch_rows(int K, int blk) {
    int r = (int)((32 * 1024) / ((size_t)K * sizeof(float))) / blk * blk;
    return r < blk ? blk : r;
}

/* An input-row block's share of the `left` lines still to prefetch, at most per. */
static inline int prefetch_share(int left, int per) { return left < per ? (left > 0 ? left : 0) : per; }

/* Lines per eight-wide step of a block's dot products that spread its npf lines over the
 * K8 / 8 steps; prefetch_some pulls that many of the lines still left from *pf into L2. */
static inline int prefetch_step(int npf, int K8) { return K8 ? (npf + K8 / 8 - 1) / (K8 / 8) : 0; }
static inline void prefetch_some(const char **pf, int *npf, int step) {
    for (int i = 0; i < step && *npf > 0; i++, (*npf)--, *pf += 64) _mm_prefetch(*pf, _MM_HINT_T1);
}

/* Columns [n0, n1) for all rows: blocks of 3 weight rows × 4 input rows (12 accumulators)
 * while the three weight rows stay in L1; leftover rows in blocks of 2 and 1, leftover
 * columns one element at a time, all in the same order. */
__attribute__((target("avx2,fma"))) static void rows_avx2(float *out, const float *x, const float *w, const float *bias,
                                                          int M, int K, int N, int n0, int n1) {
    int K8 = K & ~7, n = n0, nb = n0 + (n1 - n0) / 3 * 3, ahead = prefetch_rows(K, 3), M4 = M & ~3;
    int lines = (int)((size_t)3 * K * sizeof(float) / 64), per = M4 ? (lines + M4 / 4 - 1) / (M4 / 4) : 0;
    for (; n + 3 <= n1; n += 3) {
        const float *w0 = w + (size_t)n * K, *w1 = w0 + K, *w2 = w1 + K;
        int left = n + ahead + 3 <= nb ? lines : 0, m = 0;
        const char *pf = left ? (const char *)(w + (size_t)(n + ahead) * K) : NULL; /* none past the end */
        for (; m + 4 <= M; m += 4, left -= per) {
            const float *x0 = x + (size_t)m * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
            __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            __m256 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            /* this 4-row block's share of the weight block `ahead` rows on (prefetch_rows) */
            int npf = prefetch_share(left, per), step = prefetch_step(npf, K8);
            for (int k = 0; k < K8; k += 8) {
                prefetch_some(&pf, &npf, step);
                __m256 b0 = _mm256_loadu_ps(w0 + k), b1 = _mm256_loadu_ps(w1 + k), b2 = _mm256_loadu_ps(w2 + k);
                __m256 v = _mm256_loadu_ps(x0 + k);
                a00 = _mm256_fmadd_ps(v, b0, a00);
                a10 = _mm256_fmadd_ps(v, b1, a10);
                a20 = _mm256_fmadd_ps(v, b2, a20);
                v = _mm256_loadu_ps(x1 + k);
                a01 = _mm256_fmadd_ps(v, b0, a01);
                a11 = _mm256_fmadd_ps(v, b1, a11);
                a21 = _mm256_fmadd_ps(v, b2, a21);
                v = _mm256_loadu_ps(x2 + k);
                a02 = _mm256_fmadd_ps(v, b0, a02);
                a12 = _mm256_fmadd_ps(v, b1, a12);
                a22 = _mm256_fmadd_ps(v, b2, a22);
                v = _mm256_loadu_ps(x3 + k);
                a03 = _mm256_fmadd_ps(v, b0, a03);
                a13 = _mm256_fmadd_ps(v, b1, a13);
                a23 = _mm256_fmadd_ps(v, b2, a23);
            }
            const __m256 acc[3][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}};
            const float *wr[3] = {w0, w1, w2}, *xr[4] = {x0, x1, x2, x3};
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++) {
                    float v = hsum_fixed(acc[i][j], xr[j], wr[i], K8, K);
                    out[(size_t)(m + j) * N + n + i] = bias ? v + bias[n + i] : v;
                }
        }
        if (m + 2 <= M) block_rx3_avx2(out, x, w, bias, K, N, m, n, 2), m += 2;
        if (m < M) block_rx3_avx2(out, x, w, bias, K, N, m, n, 1);
    }
    for (; n < n1; n++)
        for (int m = 0; m < M; m++) {
            const float *xr = x + (size_t)m * K, *wr = w + (size_t)n * K;
            __m256 a = _mm256_setzero_ps();
            for (int k = 0; k < K8; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(wr + k), a);
            float v = hsum_fixed(a, xr, wr, K8, K);
            out[(size_t)m * N + n] = bias ? v + bias[n] : v;
        }
}

/* Two weight rows' eight-wide chunks side by side: [a[0..8) | b[0..8)]. */
#define RLC_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))
RLC_AVX512 static inline __m512 pair8(const float *a, const float *b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a)), _mm256_loadu_ps(b), 1);
}

/* An accumulator holding the lane sums of x·wa and x·wb (wb = wa + K), reduced and finished
 * as the AVX2 path finishes one. */
RLC_AVX512 static inline void put_pair(__m512 acc, const float *xr, const float *wa, int K8, int K, const float *bias,
                                       float *o) {
    float l[16];
    _mm512_storeu_ps(l, acc);
    float sa = reduce8(l), sb = reduce8(l + 8);
    for (int k = K8; k < K; k++) {
        sa = fmaf(xr[k], wa[k], sa);
        sb = fmaf(xr[k], wa[(size_t)K + k], sb);
    }
    o[0] = bias ? sa + bias[0] : sa;
    o[1] = bias ? sb + bias[1] : sb;
}

#define XROW(j) _mm512_broadcast_f32x8(_mm256_loadu_ps(xm + (size_t)(j) * K + k))

#define FMA3(j)                                       \
    X = XROW(j);                                      \
    a0##j = _mm512_fmadd_ps(X, W0, a0##j);            \
    a1##j = _mm512_fmadd_ps(X, W1, a1##j);            \
    a2##j = _mm512_fmadd_ps(X, W2, a2##j)
#define ZERO8(p)                                                                                        \
    __m512 a##p##0 = _mm512_setzero_ps(), a##p##1 = a##p##0, a##p##2 = a##p##0, a##p##3 = a##p##0,       \
           a##p##4 = a##p##0, a##p##5 = a##p##0, a##p##6 = a##p##0, a##p##7 = a##p##0

/* Eight input rows × six weight rows (three pairs): 24 accumulators for 48 outputs; the npf
 * cache lines from pf (a share of a weight block further on) are pulled into L2 on the way. */
RLC_AVX512 static void block_8x6(float *out, const float *x, const float *w, const float *bias, int K, int N, int m,
                                 int n, const char *pf, int npf) {
    int K8 = K & ~7, step = prefetch_step(npf, K8);
    const float *w0 = w + (size_t)n * K, *xm = x + (size_t)m * K;
    ZERO8(0);
    ZERO8(1);
    ZERO8(2);
    for (int k = 0; k < K8; k += 8) {
        prefetch_some(&pf, &npf, step);
        __m512 W0 = pair8(w0 + k, w0 + K + k), W1 = pair8(w0 + 2 * (size_t)K + k, w0 + 3 * (size_t)K + k);
        __m512 W2 = pair8(w0 + 4 * (size_t)K + k, w0 + 5 * (size_t)K + k), X;
        FMA3(0);
        FMA3(1);
        FMA3(2);
        FMA3(3);
        FMA3(4);
        FMA3(5);
        FMA3(6);
        FMA3(7);
    }
    const __m512 acc[3][8] = {{a00, a01, a02, a03, a04, a05, a06, a07},
                              {a10, a11, a12, a13, a14, a15, a16, a17},
                              {a20, a21, a22, a23, a24, a25, a26, a27}};
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < 8; j++)
            put_pair(acc[p][j], xm + (size_t)j * K, w0 + (size_t)2 * p * K, K8, K, bias ? bias + n + 2 * p : NULL,
                     out + (size_t)(m + j) * N + n + 2 * p);
}

/* R (1, 2 or 4) input rows × six weight rows: the rows an 8-row block leaves over. Each
 * accumulator is one output pair's chain, summed in the order of block_8x6 (the same bits);
 * R rows share each weight load, and the 3R chains run side by side. */
RLC_AVX512 static inline __attribute__((always_inline)) void block_rx6(float *out, const float *x, const float *w,
                                                                       const float *bias, int K, int N, int m, int n,
                                                                       const int R) {
    int K8 = K & ~7;
    const float *w0 = w + (size_t)n * K, *xm = x + (size_t)m * K;
    __m512 a[3][4];
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < R; j++) a[p][j] = _mm512_setzero_ps();
    for (int k = 0; k < K8; k += 8) {
        __m512 W0 = pair8(w0 + k, w0 + K + k), W1 = pair8(w0 + 2 * (size_t)K + k, w0 + 3 * (size_t)K + k);
        __m512 W2 = pair8(w0 + 4 * (size_t)K + k, w0 + 5 * (size_t)K + k);
        for (int j = 0; j < R; j++) {
            __m512 X = XROW(j);
            a[0][j] = _mm512_fmadd_ps(X, W0, a[0][j]);
            a[1][j] = _mm512_fmadd_ps(X, W1, a[1][j]);
            a[2][j] = _mm512_fmadd_ps(X, W2, a[2][j]);
        }
    }
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < R; j++)
            put_pair(a[p][j], xm + (size_t)j * K, w0 + (size_t)2 * p * K, K8, K, bias ? bias + n + 2 * p : NULL,
                     out + (size_t)(m + j) * N + n + 2 * p);
}

/* Columns [n0, n1) for all rows: blocks of 6 weight rows (which stay in L1) met by every whole
 * 8-row block of the input, then by the rows left over in blocks of 4, 2 and 1 (a batch-1
 * decode step is all 1-row blocks); the columns left over take the AVX2 path (the same
 * sums). While a block is used, the block prefetch_rows ahead streams in from memory, spread
 * evenly over its 8-row blocks, so the weights' memory traffic overlaps the arithmetic. */
RLC_AVX512 static void rows_avx512(float *out, const float *x, const float *w, const float *bias, int M, int K,
                                   int N, int n0, int n1) {
    int M8 = M & ~7, nb = n0 + (n1 - n0) / 6 * 6, ahead = prefetch_rows(K, 6);
    int lines = (int)((size_t)6 * K * sizeof(float) / 64), per = M8 ? (lines + M8 / 8 - 1) / (M8 / 8) : 0;
    for (int n = n0; n < nb; n += 6) {
        int left = n + ahead + 6 <= nb ? lines : 0, m = 0;
        const char *pf = left ? (const char *)(w + (size_t)(n + ahead) * K) : NULL;
        for (; m < M8; m += 8, left -= per) {
            int np = prefetch_share(left, per);
            block_8x6(out, x, w, bias, K, N, m, n, pf, np);
            if (np) pf += (size_t)np * 64;
        }
        if (m + 4 <= M) block_rx6(out, x, w, bias, K, N, m, n, 4), m += 4;
        if (m + 2 <= M) block_rx6(out, x, w, bias, K, N, m, n, 2), m += 2;
        if (m < M) block_rx6(out, x, w, bias, K, N, m, n, 1);
    }
    if (nb < n1) rows_avx2(out, x, w, bias, M, K, N, nb, n1);
}
#endif

void cpu_gemm_rows(rlc_backend_t *be, float *out, const float *x, const float *w, const float *bias, int M, int K,
                   int N) {
    cpu_gemm_rows_isa(be, cpu_isa(), out, x, w, bias, M, K, N);
}

void cpu_gemm_rows_isa(rlc_backend_t *be, int isa, float *out, const float *x, const float *w, const float *bias,
                       int M, int K, int N) {
    if (isa > cpu_isa_supported()) isa = cpu_isa_supported();
    /* column ranges per thread, in multiples of 6 (the widest block) so the blocking (not the
     * result, which no blocking changes) is stable */
    int nt = CPU_THREADS(be);
    long work = (long)M * N * K;
    if (work < (1L << 18)) nt = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int blocks = (N + 5) / 6;
        int b0 = (int)((long)blocks * t / T), b1 = (int)((long)blocks * (t + 1) / T);
        int n0 = b0 * 6, n1 = b1 * 6 < N ? b1 * 6 : N;
        if (n0 < n1) {
#ifdef RLC_HAVE_AVX2_PATH
            if (isa == CPU_ISA_AVX512)
                rows_avx512(out, x, w, bias, M, K, N, n0, n1);
            else if (isa == CPU_ISA_AVX2)
                rows_avx2(out, x, w, bias, M, K, N, n0, n1);
            else
#endif
                rows_portable(out, x, w, bias, M, K, N, n0, n1);
        }
    }
}
