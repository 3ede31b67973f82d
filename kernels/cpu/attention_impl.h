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

/* out[h] = dot(q + h·D, k) for four heads at once: four independent chains instead of one
 * latency-bound chain at a time; each head's sum is the dot above. */
static inline void AF(dot4)(const float *q, const float *k, int D, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int D8 = D & ~7;
    for (int i = 0; i < D8; i += 8) {
        __m256 kv = _mm256_loadu_ps(k + i);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + D + i), kv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 2 * D + i), kv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 3 * D + i), kv, a3);
    }
    const __m256 acc[4] = {a0, a1, a2, a3};
    for (int h = 0; h < 4; h++) {
        float s = AF(hsum8)(acc[h]);
        for (int i = D8; i < D; i++) s = fmaf(q[h * D + i], k[i], s);
        out[h] = s;
    }
}
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

static inline void AF(dot4)(const float *q, const float *k, int D, float *out) {
    for (int h = 0; h < 4; h++) out[h] = AF(dot)(q + h * D, k, D);
}
#endif

static inline void AF(axpy)(float *restrict y, float a, const float *restrict x, int D) {
    for (int i = 0; i < D; i++) y[i] = fmaf(a, x[i], y[i]);
}

/* The first key the query at position t of its sequence sees: t - window + 1 under a sliding
 * window (backend.h), else 0. */
static inline int AF(first_key)(int t, int window) { return window > 0 && t >= window ? t - window + 1 : 0; }

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
            float mx = -INFINITY;
            for (int j = 0; j < L; j++) sc[j] = scale * AF(dot)(q, kb + (size_t)(s0 + j) * ld, D);
            if (softcap > 0) cpu_vsoftcap(sc, sc, (size_t)L, softcap, 1.0f);
            for (int j = 0; j < L; j++)
                if (sc[j] > mx) mx = sc[j];
            double sum = 0;
            cpu_vexpf(sc, sc, L, mx);
            for (int j = 0; j < L; j++) sum += sc[j];
            float inv = (float)(1.0 / sum);
            float *orow = o + (size_t)n * Hq * D + (size_t)h * D;
            memset(orow, 0, (size_t)D * sizeof(float));
            for (int j = 0; j < L; j++) AF(axpy)(orow, sc[j] * inv, vb + (size_t)(s0 + j) * ld, D);
            lse[(size_t)n * Hq + h] = mx + (float)log(sum);
        }
        free(sc);
    }
    free(start);
}

/* One task per (sequence, kv head): it owns dk/dv of that head and dq of its query group, so
 * nothing is shared between threads and the result is deterministic. D_t = sum_j P_tj dP_tj
 * is formed from the same P and dP used for dS (rather than as dO.O): then sum_j dS_tj
 * vanishes to rounding, which keeps small gradients that rely on that cancellation (e.g.
 * k_proj.bias) accurate. */
void AF(attention_bwd)(rlc_backend_t *be, void *dqkv, const void *dout, const void *qkv, const float *lse,
                       const int32_t *cu_seqlens, int nseq, int max_seqlen, int Hq, int Hk, int D, float scale,
                       float softcap, int window) {
    const float *x = qkv, *dO = dout;
    float *dx = dqkv;
    const int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        float *pr = malloc((size_t)(max_seqlen > 0 ? max_seqlen : 1) * 3 * sizeof *pr);
        if (!pr) cpu_scratch_failed(be, "attention_bwd");
#pragma omp for schedule(dynamic, 1)
        for (int task = 0; task < nseq * Hk; task++) {
            if (!pr) continue;
            float *dp = pr + (max_seqlen > 0 ? max_seqlen : 1), *dc = dp + (max_seqlen > 0 ? max_seqlen : 1);
            int s = task / Hk, g = task % Hk;
            int s0 = cu_seqlens[s], L = cu_seqlens[s + 1] - s0;
            const float *kb = x + (size_t)Hq * D + (size_t)g * D;
            const float *vb = x + (size_t)(Hq + Hk) * D + (size_t)g * D;
            float *dkb = dx + (size_t)Hq * D + (size_t)g * D;
            float *dvb = dx + (size_t)(Hq + Hk) * D + (size_t)g * D;
            for (int j = 0; j < L; j++) {
                memset(dkb + (size_t)(s0 + j) * ld, 0, (size_t)D * sizeof(float));
                memset(dvb + (size_t)(s0 + j) * ld, 0, (size_t)D * sizeof(float));
            }
            for (int h = g * grp; h < (g + 1) * grp; h++)
                for (int t = 0; t < L; t++) {
                    int n = s0 + t;
                    const float *q = x + (size_t)n * ld + (size_t)h * D;
                    const float *dor = dO + (size_t)n * Hq * D + (size_t)h * D;
                    float *dq = dx + (size_t)n * ld + (size_t)h * D;
                    float l = lse[(size_t)n * Hq + h];
                    double dd = 0;
                    int j0 = AF(first_key)(t, window);
                    for (int j = j0; j <= t; j++) {
                        const float *k = kb + (size_t)(s0 + j) * ld, *v = vb + (size_t)(s0 + j) * ld;
                        pr[j] = scale * AF(dot)(q, k, D);
                        dp[j] = AF(dot)(dor, v, D);
                    }
                    if (softcap > 0) { /* the capped score, and d(score)/d(scale·dot) */
                        cpu_vsoftcap(pr + j0, pr + j0, (size_t)(t - j0 + 1), softcap, 1.0f);
                        for (int j = j0; j <= t; j++) dc[j] = cpu_softcap_slope(pr[j], softcap);
                    }
                    cpu_vexpf(pr + j0, pr + j0, t - j0 + 1, l); /* P = exp(S - lse) */
                    for (int j = j0; j <= t; j++) dd += (double)pr[j] * dp[j];
                    memset(dq, 0, (size_t)D * sizeof(float));
                    for (int j = j0; j <= t; j++) {
                        const float *k = kb + (size_t)(s0 + j) * ld;
                        float ds = pr[j] * (float)(dp[j] - dd);
                        if (softcap > 0) ds *= dc[j];
                        AF(axpy)(dq, scale * ds, k, D);
                        AF(axpy)(dkb + (size_t)(s0 + j) * ld, scale * ds, q, D);
                        AF(axpy)(dvb + (size_t)(s0 + j) * ld, pr[j], dor, D);
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
                        if (nh == 4) AF(dot4)(q0 + (size_t)h0 * D, k, D, d);
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
                    mx[h] = -INFINITY;
                    for (int j = j0; j <= pos; j++)
                        if (row[j] > mx[h]) mx[h] = row[j];
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
