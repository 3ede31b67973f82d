/* Fused LM head: logits for a chunk of tokens, then log-softmax, the target's log-prob,
 * the entropy and (backward) the logit gradient, then the two matmuls for dh and dw.
 * Only a [chunk, V] block of logits ever exists (about 64 MiB: 524 rows of a 32k vocabulary,
 * 110 of Qwen's 152k; at 16 MiB the GEMMs' M fell to 131 and 27 rows and OpenBLAS ran the
 * 32k head about 15 % slower on an AMD EPYC). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"

#define WS_FLOATS (16u << 20)

static int chunk_rows(int V) {
    int ch = (int)(WS_FLOATS / (unsigned)V);
    return ch < 1 ? 1 : ch;
}

/* Where the logits of N rows go: the kept block (rows at kept + n0 * V), else the workspace
 * of one chunk (reused per chunk). NULL after a failed allocation (reported). */
static float *logits_base(rlc_backend_t *be, float *kept, int N, int V) {
    if (kept) return kept;
    int ch = chunk_rows(V);
    return cpu_workspace(be, (size_t)(ch < N ? ch : N) * V * sizeof(float) + 64, "lmhead");
}

/* Softmax statistics of one row of scaled logits z (length V): e[v] = exp(z[v] - max z)
 * (vectorised, cpu_vexpf), their sum and the log-sum-exp and entropy, summed in double.
 * Returns the sum. */
static double row_stats(const float *z, float *e, int V, float *lse_out, float *ent_out) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++)
        if (z[v] > mx) mx = z[v];
    cpu_vexpf(e, z, V, mx);
    double s = 0, sz = 0;
    for (int v = 0; v < V; v++) {
        s += e[v];
        sz += (double)e[v] * (double)z[v];
    }
    double lse = (double)mx + log(s);
    *lse_out = (float)lse;
    *ent_out = (float)(lse - sz / s);
    return s;
}

/* z = inv_temp · (h w^T) for a chunk of rows, soft-capped first when softcap > 0. */
static void head_chunk(rlc_backend_t *be, float *ws, const float *h, const float *w, int rows, int C, int V,
                       float inv_temp, float softcap) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, V, C, softcap > 0 ? 1.0f : inv_temp, h, C, w, C, 0.0f,
                ws, V);
    if (softcap > 0) cpu_softcap_mul(be, ws, (size_t)rows * V, softcap, inv_temp);
}

/* d z / d (h w^T) at a logit z of head_chunk: inv_temp, times the capping's slope (z is capped
 * at inv_temp·softcap) when softcap > 0. */
static inline float head_slope(float z, float inv_temp, float softcap) {
    return softcap > 0 ? inv_temp * cpu_softcap_slope(z, inv_temp * softcap) : inv_temp;
}

void cpu_lmhead_fwd(rlc_backend_t *be, float *logp, float *entropy, const void *h, const void *w,
                    const int32_t *targets, int N, int C, int V, float inv_temp, float softcap) {
    int ch = chunk_rows(V), keep = be->lmhead_keep;
    be->lmhead_kept = 0;
    cpu_kept_drop(be);
    /* a training forward keeps its logits for the backward when they fit */
    size_t bytes = (size_t)N * V * sizeof(float);
    float *kept = keep && bytes <= be->lmhead_keep_max ? cpu_kept_buffer(be, (size_t)N * V) : NULL;
    float *base = logits_base(be, kept, N, V);
    if (!base) return;
    const float *H = h;
    for (int n0 = 0; n0 < N; n0 += ch) {
        int rows = N - n0 < ch ? N - n0 : ch;
        float *blk = kept ? base + (size_t)n0 * V : base;
        head_chunk(be, blk, H + (size_t)n0 * C, w, rows, C, V, inv_temp, softcap);
#pragma omp parallel num_threads(CPU_THREADS(be))
        {
            float *e = malloc((size_t)V * sizeof *e);
#pragma omp for schedule(static)
            for (int r = 0; r < rows; r++) {
                int n = n0 + r, t = targets[n];
                logp[n] = 0;
                if (entropy) entropy[n] = 0;
                if (t < 0 || !e) continue;
                const float *z = blk + (size_t)r * V;
                float lse, ent;
                row_stats(z, e, V, &lse, &ent);
                logp[n] = z[t] - lse;
                if (entropy) entropy[n] = ent;
            }
            if (!e) cpu_scratch_failed(be, "lmhead_fwd");
            free(e);
        }
    }
    if (kept) be->lmhead_kept = cpu_kept_set(be, N, V);
}

void cpu_lmhead_bwd(rlc_backend_t *be, void *dh, void *dw, float *logp, float *entropy, const float *dlogp,
                    const float *dent, const void *h, const void *w, const int32_t *targets, int N, int C, int V,
                    float inv_temp, float softcap) {
    int ch = chunk_rows(V);
    /* the training forward's logits when it kept them (the same GEMM calls, the same bits) */
    float *kept = cpu_kept_take(be, be->lmhead_use, N, V);
    cpu_kept_drop(be); /* used once: its rows become gradients below */
    float *base = logits_base(be, kept, N, V);
    if (!base) return;
    const float *H = h;
    float *DH = dh;
    for (int n0 = 0; n0 < N; n0 += ch) {
        int rows = N - n0 < ch ? N - n0 : ch;
        float *blk = kept ? base + (size_t)n0 * V : base;
        if (!kept) head_chunk(be, blk, H + (size_t)n0 * C, w, rows, C, V, inv_temp, softcap);
        /* Turn each row of logits into d(loss)/d(raw logits) in place. */
#pragma omp parallel num_threads(CPU_THREADS(be))
        {
            float *e = malloc((size_t)V * sizeof *e);
            if (!e) cpu_scratch_failed(be, "lmhead_bwd");
#pragma omp for schedule(static)
            for (int r = 0; r < rows; r++) {
                int n = n0 + r, t = targets[n];
                float *z = blk + (size_t)r * V;
                if (t < 0 || !e) {
                    for (int v = 0; v < V; v++) z[v] = 0;
                    if (logp) logp[n] = 0;
                    if (entropy) entropy[n] = 0;
                    continue;
                }
                float lse, ent;
                float inv_s = (float)(1.0 / row_stats(z, e, V, &lse, &ent));
                if (logp) logp[n] = z[t] - lse;
                if (entropy) entropy[n] = ent;
                float gl = dlogp[n], ge = dent ? dent[n] : 0.0f, slope_t = head_slope(z[t], inv_temp, softcap);
                for (int v = 0; v < V; v++) {
                    float lp = z[v] - lse, p = e[v] * inv_s;
                    /* d logp_t/dz_v = [v==t] - p_v ; d H/dz_v = -p_v (log p_v + H) */
                    float g = -gl * p - ge * p * (lp + ent);
                    z[v] = g * head_slope(z[v], inv_temp, softcap);
                }
                z[t] += gl * slope_t;
            }
            free(e);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, C, V, 1.0f, blk, V, w, C, 0.0f,
                    DH + (size_t)n0 * C, C);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, rows, 1.0f, blk, V, H + (size_t)n0 * C, C, 1.0f,
                        dw, C);
    }
}

void cpu_logits(rlc_backend_t *be, float *out, const void *h, const void *w, int M, int C, int V) {
    if (be->row_invariant) {
        cpu_gemm_rows(be, out, h, w, NULL, M, C, V);
        return;
    }
    head_chunk(be, out, h, w, M, C, V, 1.0f, 0.0f);
}
