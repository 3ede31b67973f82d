/* Token sampling per rlc_sample_params_t (kernels/backend.h): temperature, top-k, top-p,
 * min-p, then Gumbel-max with Philox noise keyed by (seed, token counter, vocab index) so
 * the draw depends on nothing but the row's own logits and parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/mvec.h"

/* glibc's libmvec gives 8-wide AVX2 expf/logf; the vocabulary-sized passes of the sampler
 * use them when the CPU has AVX2. */
#ifdef RLC_MVEC
#define SAMPLE_VEC 1
static int vec_ok(void) { return cpu_isa() >= CPU_ISA_AVX2; }
#else
static int vec_ok(void) { return 0; }
#endif

/* The k-th largest value of v[0..n) (1-based k), by quickselect on a scratch copy. */
static float kth_largest(float *a, int n, int k) {
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pv = a[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pv) i++;
            while (a[j] < pv) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    return a[want];
}

/* Largest tau with sum(p >= tau) >= top_p: three-way quickselect on the mass. */
static float top_p_threshold(float *a, int n, double top_p) {
    int lo = 0, hi = n;
    double acc = 0;
    float smallest_seen = INFINITY;
    while (lo < hi) {
        float pv = a[lo + (hi - lo) / 2];
        /* partition a[lo:hi] into > pv | == pv | < pv */
        int lt = lo, i = lo, gt = hi;
        double mgt = 0, meq = 0;
        while (i < gt) {
            float v = a[i];
            if (v > pv) {
                a[i] = a[lt];
                a[lt] = v;
                lt++;
                i++;
                mgt += v;
            } else if (v < pv) {
                gt--;
                a[i] = a[gt];
                a[gt] = v;
            } else {
                i++;
                meq += v;
            }
        }
        if (acc + mgt >= top_p && lt > lo) {
            hi = lt; /* the threshold lies among the larger values */
        } else if (acc + mgt + meq >= top_p) {
            return pv;
        } else {
            acc += mgt + meq;
            if (pv < smallest_seen) smallest_seen = pv;
            lo = gt;
        }
    }
    return smallest_seen; /* rounding left the total just under top_p: keep everything seen */
}

/* Exp(1) noise E_i = -log(u_i) for vocabulary entries [i0, i0 + 4): one Philox block. */
static inline void exp_noise4(const rlc_sample_params_t *p, int i0, float *E) {
    rlc_philox_out_t r = rlc_philox4x32((uint32_t)(i0 / 4), (uint32_t)p->counter, (uint32_t)(p->counter >> 32), 0,
                                        (uint32_t)p->seed, (uint32_t)(p->seed >> 32));
    for (int k = 0; k < 4; k++) E[k] = -logf(((float)(r.v[k] >> 8) + 0.5f) * (1.0f / 16777216.0f));
}

#ifdef SAMPLE_VEC
/* Eight Philox4x32-10 blocks at once, counters (c0 + lane, c1, c2, 0), key (k0, k1):
 * out[w][lane] = word w of block lane, bit-identical to rlc_philox4x32. */
__attribute__((target("avx2"))) static inline void mulhilo8(__m256i a, uint32_t m, __m256i *hi, __m256i *lo) {
    __m256i mm = _mm256_set1_epi32((int)m);
    __m256i pe = _mm256_mul_epu32(a, mm);                        /* lanes 0,2,4,6: 64-bit products */
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mm); /* lanes 1,3,5,7 */
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

__attribute__((target("avx2"))) static void philox8(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t k0, uint32_t k1,
                                                    uint32_t out[4][8]) {
    __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32((int)c0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i x1 = _mm256_set1_epi32((int)c1), x2 = _mm256_set1_epi32((int)c2), x3 = _mm256_setzero_si256();
    for (int r = 0; r < 10; r++) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo8(x0, 0xD2511F53u, &hi0, &lo0);
        mulhilo8(x2, 0xCD9E8D57u, &hi1, &lo1);
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32((int)k0));
        __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32((int)k1));
        x0 = n0;
        x1 = lo1;
        x2 = n2;
        x3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    _mm256_storeu_si256((__m256i *)out[0], x0);
    _mm256_storeu_si256((__m256i *)out[1], x1);
    _mm256_storeu_si256((__m256i *)out[2], x2);
    _mm256_storeu_si256((__m256i *)out[3], x3);
}

/* E for entries [i0, i0 + 32): eight Philox blocks, four vector logs */
__attribute__((target("avx2,fma"))) static void exp_noise32_avx2(const rlc_sample_params_t *p, int i0, float *E) {
    uint32_t w[4][8];
    philox8((uint32_t)(i0 / 4), (uint32_t)p->counter, (uint32_t)(p->counter >> 32), (uint32_t)p->seed,
            (uint32_t)(p->seed >> 32), w);
    float u[32];
    for (int b = 0; b < 8; b++)
        for (int k = 0; k < 4; k++) u[4 * b + k] = ((float)(w[k][b] >> 8) + 0.5f) * (1.0f / 16777216.0f);
    for (int v = 0; v < 32; v += 8)
        _mm256_storeu_ps(E + v, _mm256_sub_ps(_mm256_setzero_ps(), _ZGVdN8v_logf(_mm256_loadu_ps(u + v))));
}
#endif

int cpu_philox8_selfcheck(void) {
#ifdef SAMPLE_VEC
    if (!vec_ok()) return 1; /* nothing to check on this CPU */
    uint32_t w[4][8];
    const uint32_t args[3][5] = {{0, 0, 0, 0, 0}, {0xfffffff9u, ~0u, ~0u, ~0u, ~0u}, {12345, 678, 9, 0xdeadbeef, 42}};
    for (int t = 0; t < 3; t++) {
        const uint32_t *a = args[t];
        philox8(a[0], a[1], a[2], a[3], a[4], w);
        for (int b = 0; b < 8; b++) {
            rlc_philox_out_t r = rlc_philox4x32(a[0] + (uint32_t)b, a[1], a[2], 0, a[3], a[4]);
            for (int k = 0; k < 4; k++)
                if (r.v[k] != w[k][b]) return -1;
        }
    }
    return 0;
#else
    return 1;
#endif
}

#ifdef SAMPLE_VEC
__attribute__((target("avx2,fma"))) static void exp_shifted_avx2(const float *logits, int V, float mx, float T,
                                                                  float *e) {
    __m256 vm = _mm256_set1_ps(mx), vt = _mm256_set1_ps(T);
    int v = 0;
    for (; v + 8 <= V; v += 8)
        _mm256_storeu_ps(e + v, _ZGVdN8v_expf(_mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(logits + v), vm), vt)));
    for (; v < V; v++) e[v] = expf((logits[v] - mx) / T);
}

#endif

static void exp_shifted(const float *logits, int V, float mx, float T, float *e, int vec) {
#ifdef SAMPLE_VEC
    if (vec) {
        exp_shifted_avx2(logits, V, mx, T, e);
        return;
    }
#endif
    (void)vec;
    for (int v = 0; v < V; v++) e[v] = expf((logits[v] - mx) / T);
}

/* Gumbel-max as argmax e_i / E_i with e_i = exp(z_i - max z) and E_i = -log(u_i): the same
 * argmax as z_i + g_i, g_i = -log(-log u_i) (exp is monotone), at one log per entry. */
static int gumbel_argmax(const rlc_sample_params_t *p, const float *e, int V, const uint8_t *keep, int vec) {
    int best = -1;
    float bestkey = -1.0f;
    for (int i0 = 0; i0 < V; i0 += 32) {
        int n = V - i0 < 32 ? V - i0 : 32, any = 0;
        for (int k = 0; k < n; k++) any |= !keep || keep[i0 + k];
        if (!any) continue;
        float E[32];
#ifdef SAMPLE_VEC
        if (vec && n == 32)
            exp_noise32_avx2(p, i0, E);
        else
#endif
            for (int b = 0; b < n; b += 4) exp_noise4(p, i0 + b, E + b);
        for (int k = 0; k < n; k++) {
            int i = i0 + k;
            if (keep && !keep[i]) continue;
            float key = e[i] / E[k];
            if (key > bestkey) {
                bestkey = key;
                best = i;
            }
        }
    }
    (void)vec;
    return best;
}

static void sample_row(const float *logits, int V, const rlc_sample_params_t *p, float *e, float *work, uint8_t *keep,
                       int32_t *tok, float *logp) {
    float T = p->temperature > 0 ? p->temperature : 1.0f;
    float mx = -INFINITY;
    int amax = 0;
    for (int v = 0; v < V; v++)
        if (logits[v] > mx) {
            mx = logits[v];
            amax = v;
        }
    /* e_v = exp(zs_v), zs = (logits - max) / T <= 0: kept for the draw */
    double s = 0;
    int vec = vec_ok();
    exp_shifted(logits, V, mx, T, e, vec);
    for (int v = 0; v < V; v++) s += e[v];
    float lse = (float)log(s); /* of zs */
    if (p->force1 > 0 && p->force1 <= V) { /* the log-prob of a given token, as if drawn */
        *tok = p->force1 - 1;
        *logp = p->temperature > 0 ? (logits[*tok] - mx) / T - lse : (logits[*tok] - mx) - lse;
        return;
    }
    if (!(p->temperature > 0)) {
        *tok = amax;
        *logp = -lse;
        return;
    }
    int filtered = 0;
    float zmin = -INFINITY;
    if (p->top_k > 0 && p->top_k < V) {
        for (int v = 0; v < V; v++) work[v] = (logits[v] - mx) / T;
        zmin = kth_largest(work, V, p->top_k);
        filtered = 1;
    }
    if (p->min_p > 0) {
        float t = logf(p->min_p); /* p_v >= min_p * p_max  <=>  zs_v >= log(min_p) */
        if (t > zmin) zmin = t;
        filtered = 1;
    }
    float tau = 0, inv_s = (float)(1.0 / s);
    if (p->top_p > 0 && p->top_p < 1) {
        for (int v = 0; v < V; v++) work[v] = e[v] * inv_s;
        tau = top_p_threshold(work, V, p->top_p);
        filtered = 1;
    }
    if (filtered)
        for (int v = 0; v < V; v++) keep[v] = (logits[v] - mx) / T >= zmin && e[v] * inv_s >= tau;
    int best = gumbel_argmax(p, e, V, filtered ? keep : NULL, vec);
    *tok = best >= 0 ? best : amax;
    *logp = (logits[*tok] - mx) / T - lse;
}

void cpu_sample(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits, const rlc_sample_params_t *params,
                int M, int V) {
#pragma omp parallel num_threads(CPU_THREADS(be)) if (M > 1)
    {
        float *e = malloc((size_t)V * 2 * sizeof(float));
        uint8_t *keep = malloc((size_t)V);
        if (!e || !keep) cpu_scratch_failed(be, "sample");
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < M; r++)
            if (e && keep) sample_row(logits + (size_t)r * V, V, &params[r], e, e + V, keep, &tokens[r], &logp[r]);
        free(e);
        free(keep);
    }
}
