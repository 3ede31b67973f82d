/* The attention kernels' bodies — causal GQA attention over packed varlen qkv (forward and
 * backward) and attention of new tokens over the paged KV cache — compiled once per
 * instruction-set path: attention.c (portable, and the dispatch), attention_avx2.c and
 * attention_avx512.c (built with those ISAs enabled), each defining ATTN_ISA first. The
 * arithmetic is written once, with its order fixed in the source (dot products in eight
 * lanes k ≡ j mod 8 with fused multiply-adds, the lanes reduced in a fixed tree; fused
 * y += a·x elementwise), so every path computes the same sums; the compiler only chooses the
 * vector width. What the paths do not share is cpu_vexpf and cpu_vsoftcap (libmvec where AVX2
 * is present, scalar expf / tanhf on the portable path). Soft-capped scores (softcap > 0,
 * Gemma 2) are capped a row at a time by cpu_vsoftcap, which maps each value alone, so the
 * paged path's rows and the training forward's give the same bits.
 *
 * Forward saves the log-sum-exp per (token, head); backward recomputes probabilities from it
 * (the contract the flash-style CUDA kernels follow). Each (token, head) of the decode path
 * is computed on its own, so a sequence's result never depends on what else is batched. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

#define ATTN_CAT2(a, b) a##_##b
#define ATTN_CAT(a, b) ATTN_CAT2(a, b)
#define AF(name) ATTN_CAT(name, ATTN_ISA)

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* The tree ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) of the portable dot: the natural vector
 * horizontal sum. */
static inline float AF(hsum8)(__m256 acc) {
    __m128 s1 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    __m128 s2 = _mm_add_ps(s1, _mm_movehl_ps(s1, s1));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* The same sums as the portable dot below: one eight-lane fused accumulator, then hsum8. */
static inline float AF(dot)(const float *a, const float *b, int D) {
    __m256 acc = _mm256_setzero_ps();
    int D8 = D & ~7;
    for (int k = 0; k < D8; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
    float s = AF(hsum8)(acc);
    for (int k = D8; k < D; k++) s = fmaf(a[k], b[k], s);
    return s;
}

/* out[i] = dot(a + i·as, b + i·bs) for i < 4 at once (four heads against one key, or one query
 * against four keys): four independent chains instead of one latency-bound chain at a time;
 * each sum is the dot above. */
static inline void AF(dot4s)(const float *a, size_t as, const float *b, size_t bs, int D, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int D8 = D & ~7;
    for (int i = 0; i < D8; i += 8) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + as + i), _mm256_loadu_ps(b + bs + i), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 2 * as + i), _mm256_loadu_ps(b + 2 * bs + i), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 3 * as + i), _mm256_loadu_ps(b + 3 * bs + i), a3);
    }
    const __m256 acc[4] = {a0, a1, a2, a3};
    for (int h = 0; h < 4; h++) {
        float s = AF(hsum8)(acc[h]);
        for (int i = D8; i < D; i++) s = fmaf(a[h * as + i], b[h * bs + i], s);
        out[h] = s;
    }
}

/* dot4s for eight pairs: eight chains side by side. */
#define DOT8_ACC(i) a##i = _mm256_fmadd_ps(_mm256_loadu_ps(a + (i) * as + k), _mm256_loadu_ps(b + (i) * bs + k), a##i)
static inline void AF(dot8s)(const float *a, size_t as, const float *b, size_t bs, int D, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int D8 = D & ~7;
    for (int k = 0; k < D8; k += 8) {
        DOT8_ACC(0);
        DOT8_ACC(1);
        DOT8_ACC(2);
        DOT8_ACC(3);
        DOT8_ACC(4);
        DOT8_ACC(5);
        DOT8_ACC(6);
        DOT8_ACC(7);
    }
    const __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (int h = 0; h < 8; h++) {
        float s = AF(hsum8)(acc[h]);
        for (int i = D8; i < D; i++) s = fmaf(a[h * as + i], b[h * bs + i], s);
        out[h] = s;
    }
}
#undef DOT8_ACC
#else
static inline float AF(dot)(const float *a, const float *b, int D) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int D8 = D & ~7;
    for (int k = 0; k < D8; k += 8)
        for (int j = 0; j < 8; j++) l[j] = fmaf(a[k + j], b[k + j], l[j]);
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (int k = D8; k < D; k++) s = fmaf(a[k], b[k], s);
    return s;
}

static inline void AF(dot4s)(const float *a, size_t as, const float *b, size_t bs, int D, float *out) {
    for (int h = 0; h < 4; h++) out[h] = AF(dot)(a + h * as, b + h * bs, D);
}

static inline void AF(dot8s)(const float *a, size_t as, const float *b, size_t bs, int D, float *out) {
    for (int h = 0; h < 8; h++) out[h] = AF(dot)(a + h * as, b + h * bs, D);
}
#endif

/* The largest of a[0..n), NaNs skipped (what `if (a[j] > m) m = a[j]` from -inf finds), eight
 * lanes at a time: a maximum does not depend on the order it is taken in. */
static inline float AF(rowmax)(const float *a, int n) {
    float m = -INFINITY;
    int j = 0;
#if defined(__AVX2__)
    if (n >= 8) {
        __m256 v = _mm256_set1_ps(-INFINITY);
        for (; j + 8 <= n; j += 8) v = _mm256_max_ps(_mm256_loadu_ps(a + j), v); /* a NaN in a keeps v */
        float l[8];
        _mm256_storeu_ps(l, v);
        for (int i = 0; i < 8; i++)
            if (l[i] > m) m = l[i];
    }
#endif
    for (; j < n; j++)
        if (a[j] > m) m = a[j];
    return m;
}

static inline void AF(axpy)(float *restrict y, float a, const float *restrict x, int D) {
    for (int i = 0; i < D; i++) y[i] = fmaf(a, x[i], y[i]);
}

/* The first key the query at position t of its sequence sees: t - window + 1 under a sliding
 * window (backend.h), else 0. */
static inline int AF(first_key)(int t, int window) { return window > 0 && t >= window ? t - window + 1 : 0; }

/* Its dual: the queries ta <= t < tz of [tb, te) that see key j (none when ta >= tz). */
static inline void AF(seen_by)(int j, int tb, int te, int window, int *ta, int *tz) {
    *ta = j > tb ? j : tb;
    *tz = window > 0 && j + window < te ? j + window : te;
}

/* o[h][0..D) = sum_{lo <= j < n} p[h][j] · v_j for the nh heads of a group (p rows pcap apart, v_j
 * at vrow(j)), each element summed over j in increasing order with fused multiply-adds,
 * from 0 — exactly what memset + an axpy per j computes — but in register tiles of up to 4
 * heads × one vector, so the outputs are not reloaded and stored for every j. */
#if defined(__AVX512F__)
#define PV_W 16
#define PV_VEC __m512
#define PV_LOAD _mm512_loadu_ps
#define PV_STORE _mm512_storeu_ps
#define PV_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define PV_SET1 _mm512_set1_ps
#define PV_ZERO _mm512_setzero_ps
#elif defined(__AVX2__) && defined(__FMA__)
#define PV_W 8
#define PV_VEC __m256
#define PV_LOAD _mm256_loadu_ps
#define PV_STORE _mm256_storeu_ps
#define PV_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define PV_SET1 _mm256_set1_ps
#define PV_ZERO _mm256_setzero_ps
#endif

static inline void AF(pv_group)(float *o, size_t ldo, const float *p, size_t pcap, int nh, int lo, int n,
                                const float *vc, const int32_t *bt, int page_size, size_t kvw, size_t voff, int D) {
    int D4 = 0;
    for (int h = 0; h < nh; h++) memset(o + h * ldo, 0, (size_t)D * sizeof(float));
#ifdef PV_W
    /* page by page (its rows stay in L1 while every vector column of the output passes over
     * them), the four heads' partial sums carried in the output rows between pages */
    if (nh == 4) D4 = D - D % PV_W;
    for (int pg = lo / page_size, j0 = pg * page_size; D4 && j0 < n; pg++, j0 += page_size) {
        const float *vp = vc + (size_t)bt[pg] * page_size * kvw + voff;
        int tn = n - j0 < page_size ? n - j0 : page_size, t0 = lo > j0 ? lo - j0 : 0;
        for (int i0 = 0; i0 < D4; i0 += PV_W) {
            PV_VEC a0 = PV_LOAD(o + i0), a1 = PV_LOAD(o + ldo + i0);
            PV_VEC a2 = PV_LOAD(o + 2 * ldo + i0), a3 = PV_LOAD(o + 3 * ldo + i0);
            for (int t = t0; t < tn; t++) {
                PV_VEC v = PV_LOAD(vp + (size_t)t * kvw + i0);
                int j = j0 + t;
                a0 = PV_FMA(PV_SET1(p[j]), v, a0);
                a1 = PV_FMA(PV_SET1(p[pcap + j]), v, a1);
                a2 = PV_FMA(PV_SET1(p[2 * pcap + j]), v, a2);
                a3 = PV_FMA(PV_SET1(p[3 * pcap + j]), v, a3);
            }
            PV_STORE(o + i0, a0);
            PV_STORE(o + ldo + i0, a1);
            PV_STORE(o + 2 * ldo + i0, a2);
            PV_STORE(o + 3 * ldo + i0, a3);
        }
    }
#endif
    if (D4 == D) return;
    for (int j = lo; j < n; j++) {
        const float *v = vc + ((size_t)bt[j / page_size] * page_size + (size_t)(j % page_size)) * kvw + voff;
        for (int h = 0; h < nh; h++) AF(axpy)(o + h * ldo + D4, p[h * pcap + j], v + D4, D - D4);
    }
}

/* out[j] = mul · dot(a, rows + j·rs) for j < n, eight rows at a time (then four). */
static inline void AF(dots)(const float *a, const float *rows, size_t rs, int n, int D, float mul, float *out) {
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        AF(dot8s)(a, 0, rows + (size_t)j * rs, rs, D, out + j);
        for (int i = 0; i < 8; i++) out[j + i] *= mul;
    }
    for (; j + 4 <= n; j += 4) {
        AF(dot4s)(a, 0, rows + (size_t)j * rs, rs, D, out + j);
        for (int i = 0; i < 4; i++) out[j + i] *= mul;
    }
    for (; j < n; j++) out[j] = mul * AF(dot)(a, rows + (size_t)j * rs, D);
}

/* y[0..D) += sum_{r < n} c[r·cs] · rows[r·rs + 0..D), each element summed over r in increasing
 * order with fused multiply-adds: exactly n axpys in a row, but in register tiles, so y is
 * loaded and stored once instead of n times. */
static inline void AF(axpy_rows)(float *restrict y, const float *c, size_t cs, const float *rows, size_t rs, int n,
                                 int D) {
    int i0 = 0;
#ifdef PV_W
    for (; i0 + 4 * PV_W <= D; i0 += 4 * PV_W) {
        PV_VEC a0 = PV_LOAD(y + i0), a1 = PV_LOAD(y + i0 + PV_W);
        PV_VEC a2 = PV_LOAD(y + i0 + 2 * PV_W), a3 = PV_LOAD(y + i0 + 3 * PV_W);
        for (int r = 0; r < n; r++) {
            const float *x = rows + (size_t)r * rs + i0;
            PV_VEC cv = PV_SET1(c[(size_t)r * cs]);
            a0 = PV_FMA(cv, PV_LOAD(x), a0);
            a1 = PV_FMA(cv, PV_LOAD(x + PV_W), a1);
            a2 = PV_FMA(cv, PV_LOAD(x + 2 * PV_W), a2);
            a3 = PV_FMA(cv, PV_LOAD(x + 3 * PV_W), a3);
        }
        PV_STORE(y + i0, a0);
        PV_STORE(y + i0 + PV_W, a1);
        PV_STORE(y + i0 + 2 * PV_W, a2);
        PV_STORE(y + i0 + 3 * PV_W, a3);
    }
    for (; i0 + PV_W <= D; i0 += PV_W) {
        PV_VEC a0 = PV_LOAD(y + i0);
        for (int r = 0; r < n; r++) a0 = PV_FMA(PV_SET1(c[(size_t)r * cs]), PV_LOAD(rows + (size_t)r * rs + i0), a0);
        PV_STORE(y + i0, a0);
    }
#endif
    if (i0 < D)
        for (int r = 0; r < n; r++) AF(axpy)(y + i0, c[(size_t)r * cs], rows + (size_t)r * rs + i0, D - i0);
}

/* axpy_rows for two outputs over the same n rows at once (y1 from c1 and rows1, y2 from c2 and
 * rows2, the coefficients cs apart in both): twice the chains side by side, each output
 * summed as axpy_rows sums it. */
static inline void AF(axpy_rows2)(float *restrict y1, const float *c1, const float *rows1, size_t rs1,
                                  float *restrict y2, const float *c2, const float *rows2, size_t rs2, size_t cs,
                                  int n, int D) {
    int i0 = 0;
#ifdef PV_W
    for (; i0 + 4 * PV_W <= D; i0 += 4 * PV_W) {
        PV_VEC a0 = PV_LOAD(y1 + i0), a1 = PV_LOAD(y1 + i0 + PV_W);
        PV_VEC a2 = PV_LOAD(y1 + i0 + 2 * PV_W), a3 = PV_LOAD(y1 + i0 + 3 * PV_W);
        PV_VEC b0 = PV_LOAD(y2 + i0), b1 = PV_LOAD(y2 + i0 + PV_W);
        PV_VEC b2 = PV_LOAD(y2 + i0 + 2 * PV_W), b3 = PV_LOAD(y2 + i0 + 3 * PV_W);
        for (int r = 0; r < n; r++) {
            const float *x = rows1 + (size_t)r * rs1 + i0, *z = rows2 + (size_t)r * rs2 + i0;
            PV_VEC cv = PV_SET1(c1[(size_t)r * cs]), dv = PV_SET1(c2[(size_t)r * cs]);
            a0 = PV_FMA(cv, PV_LOAD(x), a0);
            a1 = PV_FMA(cv, PV_LOAD(x + PV_W), a1);
            a2 = PV_FMA(cv, PV_LOAD(x + 2 * PV_W), a2);
            a3 = PV_FMA(cv, PV_LOAD(x + 3 * PV_W), a3);
            b0 = PV_FMA(dv, PV_LOAD(z), b0);
            b1 = PV_FMA(dv, PV_LOAD(z + PV_W), b1);
            b2 = PV_FMA(dv, PV_LOAD(z + 2 * PV_W), b2);
            b3 = PV_FMA(dv, PV_LOAD(z + 3 * PV_W), b3);
        }
        PV_STORE(y1 + i0, a0);
        PV_STORE(y1 + i0 + PV_W, a1);
        PV_STORE(y1 + i0 + 2 * PV_W, a2);
        PV_STORE(y1 + i0 + 3 * PV_W, a3);
        PV_STORE(y2 + i0, b0);
        PV_STORE(y2 + i0 + PV_W, b1);
        PV_STORE(y2 + i0 + 2 * PV_W, b2);
        PV_STORE(y2 + i0 + 3 * PV_W, b3);
    }
#endif
    if (i0 == D) return;
    AF(axpy_rows)(y1 + i0, c1, cs, rows1 + i0, rs1, n, D - i0);
    AF(axpy_rows)(y2 + i0, c2, cs, rows2 + i0, rs2, n, D - i0);
}

void AF(attention_fwd)(rlc_backend_t *be, void *out, float *lse, const void *qkv, const int32_t *cu_seqlens, int nseq,
                       int max_seqlen, int N, int Hq, int Hk, int D, float scale, float softcap, int window) {
    const float *x = qkv;
    float *o = out;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    int *start = malloc((size_t)(N > 0 ? N : 1) * sizeof *start);
    if (!start) {
        cpu_scratch_failed(be, "attention_fwd");
        return;
    }
    for (int s = 0; s < nseq; s++)
        for (int n = cu_seqlens[s]; n < cu_seqlens[s + 1]; n++) start[n] = cu_seqlens[s];
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        float *sc = malloc((size_t)(max_seqlen > 0 ? max_seqlen : 1) * sizeof *sc);
        if (!sc) cpu_scratch_failed(be, "attention_fwd");
#pragma omp for schedule(dynamic, 16)
        for (long nh = 0; nh < (long)N * Hq; nh++) {
            if (!sc) continue;
            int n = (int)(nh / Hq), h = (int)(nh % Hq), g = h / grp;
            const float *q = x + (size_t)n * ld + (size_t)h * D;
            const float *kb = x + (size_t)Hq * D + (size_t)g * D;
            const float *vb = x + (size_t)(Hq + Hk) * D + (size_t)g * D;
            int j0 = AF(first_key)(n - start[n], window), s0 = start[n] + j0, L = n - s0 + 1; /* keys s0..n */
            AF(dots)(q, kb + (size_t)s0 * ld, (size_t)ld, L, D, scale, sc);
            if (softcap > 0) cpu_vsoftcap(sc, sc, (size_t)L, softcap, 1.0f);
            float mx = AF(rowmax)(sc, L);
            double sum = 0;
            cpu_vexpf(sc, sc, L, mx);
            for (int j = 0; j < L; j++) sum += sc[j];
            float inv = (float)(1.0 / sum);
            float *orow = o + (size_t)n * Hq * D + (size_t)h * D;
            for (int j = 0; j < L; j++) sc[j] *= inv;
            memset(orow, 0, (size_t)D * sizeof(float));
            AF(axpy_rows)(orow, sc, 1, vb + (size_t)s0 * ld, (size_t)ld, L, D);
            lse[(size_t)n * Hq + h] = mx + (float)log(sum);
        }
        free(sc);
    }
    free(start);
}

/* Queries per block of the backward (each keeps a row of P and of scale·dS over its keys). */
#define BWD_QB 32

/* The block's scores and dP by key: for keys j from the first the block sees, the queries
 * i = t - tb that see j (qc, oc: their q and dO rows, contiguous) take pt[j·BWD_QB + i] =
 * scale·(q·k_j) and ct[j·BWD_QB + i] = dO·v_j, eight or four queries against one key at a time
 * (each sum is the dot above). */
static void AF(bwd_scores)(const float *qc, const float *oc, const float *kb, const float *vb, int ld, int tb,
                           int te, int window, int D, float scale, float *pt, float *ct) {
    for (int j = AF(first_key)(tb, window); j < te; j++) {
        const float *k = kb + (size_t)j * ld, *v = vb + (size_t)j * ld;
        int ta, tz;
        AF(seen_by)(j, tb, te, window, &ta, &tz);
        int i = ta - tb, ie = tz - tb;
        float *pj = pt + (size_t)j * BWD_QB, *cj = ct + (size_t)j * BWD_QB;
        int i1 = i;
        for (; i + 8 <= ie; i += 8) {
            AF(dot8s)(qc + (size_t)i * D, (size_t)D, k, 0, D, pj + i);
            AF(dot8s)(oc + (size_t)i * D, (size_t)D, v, 0, D, cj + i);
        }
        for (; i + 4 <= ie; i += 4) {
            AF(dot4s)(qc + (size_t)i * D, (size_t)D, k, 0, D, pj + i);
            AF(dot4s)(oc + (size_t)i * D, (size_t)D, v, 0, D, cj + i);
        }
        for (; i < ie; i++) pj[i] = AF(dot)(qc + (size_t)i * D, k, D), cj[i] = AF(dot)(oc + (size_t)i * D, v, D);
        for (i = i1; i < ie; i++) pj[i] *= scale;
    }
}

/* One query row of the backward from its scores p[j] and dP cs[j] (keys j0..t): P = exp(S - l)
 * in p, scale·dS in cs, and dq = sum_j cs[j]·k_j (rows of kb, ld apart). dc is scratch for the
 * soft-cap slopes. */
static void AF(bwd_query)(float *dq, const float *kb, int ld, int j0, int t, int D, float scale, float softcap,
                          float l, float *p, float *cs, float *dc) {
    int n = t - j0 + 1;
    if (softcap > 0) { /* the capped score, and d(score)/d(scale·dot) */
        cpu_vsoftcap(p + j0, p + j0, (size_t)n, softcap, 1.0f);
        for (int j = j0; j <= t; j++) dc[j] = cpu_softcap_slope(p[j], softcap);
    }
    cpu_vexpf(p + j0, p + j0, n, l); /* P = exp(S - lse) */
    double dd = 0;
    for (int j = j0; j <= t; j++) dd += (double)p[j] * cs[j];
    for (int j = j0; j <= t; j++) {
        float ds = p[j] * (float)(cs[j] - dd);
        if (softcap > 0) ds *= dc[j];
        cs[j] = scale * ds;
    }
    memset(dq, 0, (size_t)D * sizeof(float));
    AF(axpy_rows)(dq, cs + j0, 1, kb + (size_t)j0 * ld, (size_t)ld, n, D);
}

/* One task per (sequence, kv head): it owns dk/dv of that head and dq of its query group, so
 * nothing is shared between threads and the result is deterministic. D_t = sum_j P_tj dP_tj
 * is formed from the same P and dP used for dS (rather than as dO.O): then sum_j dS_tj
 * vanishes to rounding, which keeps small gradients that rely on that cancellation (e.g.
 * k_proj.bias) accurate. Each head of the group takes its queries in blocks of BWD_QB: every
 * query's row of P and dS is formed (and its dq finished), then each key the block sees takes
 * the block's terms into its dk and dv rows in registers. Every dk/dv element is still summed
 * over the group's heads, then the queries in increasing order (the order of one axpy per
 * query and key), with each row stored once a block instead of once a query. */
void AF(attention_bwd)(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const float *lse,
                       const int32_t *cu_seqlens, int nseq, int max_seqlen, int Hq, int Hk, int D, float scale,
                       float softcap, int window) {
    const float *x = qkv, *dO = dout;
    float *dx = dqkv;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    const size_t cap = max_seqlen > 0 ? (size_t)max_seqlen : 1, ldo = (size_t)Hq * D;
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        /* a query's P, scale·dS and slopes; the block's P and scale·dS by key (a key's terms
         * over the block's queries side by side); the block's q and dO rows, contiguous */
        float *pr = malloc((cap * (2 * BWD_QB + 3) + (size_t)2 * BWD_QB * D) * sizeof *pr);
        if (!pr) cpu_scratch_failed(be, "attention_bwd");
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < nseq * Hk; task++) {
            if (!pr) continue;
            float *cr = pr + cap, *dc = cr + cap, *pt = dc + cap, *ct = pt + cap * BWD_QB, *qc = ct + cap * BWD_QB;
            float *oc = qc + (size_t)BWD_QB * D;
            int s = task / Hk, g = task % Hk;
            int s0 = cu_seqlens[s], L = cu_seqlens[s + 1] - s0;
            const float *kb = x + (size_t)s0 * ld + (size_t)Hq * D + (size_t)g * D;
            const float *vb = kb + (size_t)Hk * D;
            float *dkb = dx + (size_t)s0 * ld + (size_t)Hq * D + (size_t)g * D, *dvb = dkb + (size_t)Hk * D;
            for (int j = 0; j < L; j++) {
                memset(dkb + (size_t)j * ld, 0, (size_t)D * sizeof(float));
                memset(dvb + (size_t)j * ld, 0, (size_t)D * sizeof(float));
            }
            for (int h = g * grp; h < (g + 1) * grp; h++) {
                const float *qh = x + (size_t)s0 * ld + (size_t)h * D, *doh = dO + (size_t)s0 * ldo + (size_t)h * D;
                for (int tb = 0; tb < L; tb += BWD_QB) {
                    int te = tb + BWD_QB < L ? tb + BWD_QB : L;
                    for (int t = tb; t < te; t++) {
                        memcpy(qc + (size_t)(t - tb) * D, qh + (size_t)t * ld, (size_t)D * sizeof(float));
                        memcpy(oc + (size_t)(t - tb) * D, doh + (size_t)t * ldo, (size_t)D * sizeof(float));
                    }
                    AF(bwd_scores)(qc, oc, kb, vb, ld, tb, te, window, D, scale, pt, ct);
                    for (int t = tb; t < te; t++) {
                        int j0 = AF(first_key)(t, window), i = t - tb;
                        for (int j = j0; j <= t; j++)
                            pr[j] = pt[(size_t)j * BWD_QB + i], cr[j] = ct[(size_t)j * BWD_QB + i];
                        AF(bwd_query)(dx + (size_t)(s0 + t) * ld + (size_t)h * D, kb, ld, j0, t, D, scale, softcap,
                                      lse[(size_t)(s0 + t) * Hq + h], pr, cr, dc);
                        for (int j = j0; j <= t; j++)
                            pt[(size_t)j * BWD_QB + i] = pr[j], ct[(size_t)j * BWD_QB + i] = cr[j];
                    }
                    for (int j = AF(first_key)(tb, window); j < te; j++) {
                        int ta, tz;
                        AF(seen_by)(j, tb, te, window, &ta, &tz);
                        if (ta >= tz) continue;
                        size_t r = (size_t)j * BWD_QB + (size_t)(ta - tb);
                        AF(axpy_rows2)(dkb + (size_t)j * ld, ct + r, qc + (size_t)(ta - tb) * D, (size_t)D,
                                       dvb + (size_t)j * ld, pt + r, oc + (size_t)(ta - tb) * D, (size_t)D, 1, tz - ta,
                                       D);
                    }
                }
            }
        }
        free(pr);
    }
}

/* One task per (token, kv head): each cached K/V row is read once for the whole group of
 * query heads sharing it. */
void AF(paged_attention)(rlc_backend_t *be, void *out, const void *qkv, const void *k_cache, const void *v_cache,
                         const int32_t *cu_q, const int32_t *ctx_len, const int32_t *block_table, int max_pages,
                         int page_size, int nseq, int N, int Hq, int Hk, int D, float scale, float softcap,
                         int max_ctx, int window) {
    const float *x = qkv, *kc = k_cache, *vc = v_cache;
    float *o = out;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    const size_t kvw = (size_t)Hk * D;
    int *seq_of = malloc((size_t)(N > 0 ? N : 1) * sizeof *seq_of);
    if (!seq_of) {
        cpu_scratch_failed(be, "paged_attention");
        return;
    }
    for (int s = 0; s < nseq; s++)
        for (int n = cu_q[s]; n < cu_q[s + 1]; n++) seq_of[n] = s;
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        int cap = max_ctx > 0 ? max_ctx : 1;
        float *sc = malloc(((size_t)cap + 1) * grp * sizeof *sc);
        if (!sc) cpu_scratch_failed(be, "paged_attention");
#pragma omp for schedule(dynamic, 4)
        for (long ng = 0; ng < (long)N * Hk; ng++) {
            if (!sc) continue;
            float *mx = sc + (size_t)cap * grp; /* per query head of the group */
            int n = (int)(ng / Hk), g = (int)(ng % Hk), s = seq_of[n];
            int qlen = cu_q[s + 1] - cu_q[s];
            int pos = ctx_len[s] - qlen + (n - cu_q[s]);
            const int32_t *bt = block_table + (size_t)s * max_pages;
            const float *q0 = x + (size_t)n * ld + (size_t)g * grp * D;
            int j0 = AF(first_key)(pos, window); /* cache positions j0..pos */
            for (int h = 0; h < grp; h++) mx[h] = -INFINITY;
            for (int pg = j0 / page_size, j = j0; j <= pos; pg++) {
                const float *kp = kc + (size_t)bt[pg] * page_size * kvw + (size_t)g * D;
                for (int t = j % page_size; t < page_size && j <= pos; t++, j++) {
                    const float *k = kp + (size_t)t * kvw;
                    float d[4];
                    for (int h0 = 0; h0 < grp; h0 += 4) {
                        int nh = grp - h0 < 4 ? grp - h0 : 4;
                        if (nh == 4) AF(dot4s)(q0 + (size_t)h0 * D, (size_t)D, k, 0, D, d);
                        else
                            for (int h = 0; h < nh; h++) d[h] = AF(dot)(q0 + (size_t)(h0 + h) * D, k, D);
                        for (int h = 0; h < nh; h++) {
                            float v = scale * d[h];
                            sc[(size_t)(h0 + h) * cap + j] = v;
                            if (v > mx[h0 + h]) mx[h0 + h] = v;
                        }
                    }
                }
            }
            for (int h = 0; h < grp; h++) {
                double sum = 0;
                float *row = sc + (size_t)h * cap;
                if (softcap > 0) { /* capped as the training forward caps its rows, then the max again */
                    cpu_vsoftcap(row + j0, row + j0, (size_t)(pos - j0 + 1), softcap, 1.0f);
                    mx[h] = AF(rowmax)(row + j0, pos - j0 + 1);
                }
                cpu_vexpf(row + j0, row + j0, pos - j0 + 1, mx[h]);
                for (int j = j0; j <= pos; j++) sum += row[j];
                float iv = (float)(1.0 / sum);
                for (int j = j0; j <= pos; j++) row[j] *= iv;
            }
            float *og = o + (size_t)n * Hq * D + (size_t)g * grp * D;
            for (int h0 = 0; h0 < grp; h0 += 4)
                AF(pv_group)(og + (size_t)h0 * D, (size_t)D, sc + (size_t)h0 * cap, (size_t)cap,
                             grp - h0 < 4 ? grp - h0 : 4, j0, pos + 1, vc, bt, page_size, kvw, (size_t)g * D, D);
        }
        free(sc);
    }
    free(seq_of);
}
