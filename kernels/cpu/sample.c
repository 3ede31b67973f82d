/* Token sampling per rlc_sample_params_t (kernels/backend.h): temperature, top-k, top-p,
 * min-p, then Gumbel-max with Philox noise keyed by (seed, token counter, vocab index) so
 * the draw depends on nothing but the row's own logits and parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "kernels/cpu/cpu_ops.h"

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

static inline float gumbel(const rlc_sample_params_t *p, int i) {
    rlc_philox_out_t r = rlc_philox4x32((uint32_t)(i / 4), (uint32_t)p->counter, (uint32_t)(p->counter >> 32), 0,
                                        (uint32_t)p->seed, (uint32_t)(p->seed >> 32));
    float u = ((float)(r.v[i % 4] >> 8) + 0.5f) * (1.0f / 16777216.0f);
    return -logf(-logf(u));
}

static void sample_row(const float *logits, int V, const rlc_sample_params_t *p, float *scratch, int32_t *tok,
                       float *logp) {
    float T = p->temperature > 0 ? p->temperature : 1.0f;
    float mx = -INFINITY;
    int amax = 0;
    for (int v = 0; v < V; v++)
        if (logits[v] > mx) {
            mx = logits[v];
            amax = v;
        }
    double s = 0;
    for (int v = 0; v < V; v++) s += exp((double)((logits[v] - mx) / T));
    float lse = (float)log(s); /* of (z - max z) */
    if (!(p->temperature > 0)) {
        *tok = amax;
        *logp = -lse;
        return;
    }
    /* thresholds on z = logits / T, in the shifted domain zs = (logits - mx) / T <= 0 */
    float zmin = -INFINITY;
    if (p->top_k > 0 && p->top_k < V) {
        for (int v = 0; v < V; v++) scratch[v] = (logits[v] - mx) / T;
        float kth = kth_largest(scratch, V, p->top_k);
        if (kth > zmin) zmin = kth;
    }
    if (p->min_p > 0) {
        float t = logf(p->min_p); /* p_v >= min_p * p_max  <=>  zs_v >= log(min_p) */
        if (t > zmin) zmin = t;
    }
    if (p->top_p > 0 && p->top_p < 1) {
        for (int v = 0; v < V; v++) scratch[v] = expf((logits[v] - mx) / T - lse);
        float tau = top_p_threshold(scratch, V, p->top_p);
        /* p >= tau  <=>  zs >= log(tau) + lse, evaluated on p itself to keep ties exact */
        int best = -1;
        float bestkey = -INFINITY;
        for (int v = 0; v < V; v++) {
            float zs = (logits[v] - mx) / T;
            if (zs < zmin || expf(zs - lse) < tau) continue;
            float key = zs + gumbel(p, v);
            if (key > bestkey) {
                bestkey = key;
                best = v;
            }
        }
        *tok = best >= 0 ? best : amax;
        *logp = (logits[*tok] - mx) / T - lse;
        return;
    }
    int best = -1;
    float bestkey = -INFINITY;
    for (int v = 0; v < V; v++) {
        float zs = (logits[v] - mx) / T;
        if (zs < zmin) continue;
        float key = zs + gumbel(p, v);
        if (key > bestkey) {
            bestkey = key;
            best = v;
        }
    }
    *tok = best >= 0 ? best : amax;
    *logp = (logits[*tok] - mx) / T - lse;
}

void cpu_sample(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits, const rlc_sample_params_t *params,
                int M, int V) {
#pragma omp parallel num_threads(CPU_THREADS(be)) if (M > 1)
    {
        float *scratch = malloc((size_t)V * sizeof(float));
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < M; r++)
            sample_row(logits + (size_t)r * V, V, &params[r], scratch, &tokens[r], &logp[r]);
        free(scratch);
    }
}
