/* Mixture-of-experts routing and combination (the reference the CUDA kernels are checked
 * against): softmax → top-k → optional renormalisation per token, its backward; the routing
 * with a correction bias in the selection (GLM-4.5's sigmoid scores in expert groups, ERNIE
 * 4.5's softmax ones; DeepSeek-V2's softmax ones without a bias, groups ranked by their best) and
 * its backward; the
 * weighted sum of each token's K expert rows with its backward, and a shared expert's
 * sigmoid-gated add (Qwen2-MoE) with its backward. One token per iteration,
 * fp32 throughout, so each token's result depends on its own row only (batch invariance). */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

static float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

/* The k-th pick: the largest choice value among the allowed experts not yet taken, the lower
 * expert on ties (allowed NULL: every expert). */
static int pick_best(const float *ch, const unsigned char *allowed, const unsigned char *taken, int E) {
    int best = -1;
    for (int e = 0; e < E; e++)
        if (!taken[e] && (!allowed || allowed[e]) && (best < 0 || ch[e] > ch[best])) best = e;
    return best;
}

/* Of G groups of E/G experts, mark in allowed the experts of the TG groups whose two best
 * choice values sum highest, or (group_max: DeepSeek-V2) whose best is highest (ties: the lower
 * group). */
static void allowed_groups(const float *ch, int E, int G, int TG, int group_max, unsigned char *allowed) {
    int gs = E / G;
    float gsc[RLC_MOE_MAX_EXPERTS / 2];
    unsigned char gtaken[RLC_MOE_MAX_EXPERTS / 2] = {0};
    for (int g = 0; g < G; g++) {
        float b1 = -INFINITY, b2 = -INFINITY;
        for (int e = g * gs; e < (g + 1) * gs; e++) {
            if (ch[e] > b1) b2 = b1, b1 = ch[e];
            else if (ch[e] > b2) b2 = ch[e];
        }
        gsc[g] = group_max ? b1 : b1 + b2;
    }
    memset(allowed, 0, (size_t)E);
    for (int t = 0; t < TG; t++) {
        int best = pick_best(gsc, NULL, gtaken, G);
        gtaken[best] = 1;
        memset(allowed + (size_t)best * gs, 1, (size_t)gs);
    }
}

/* A row of scores from its logits (s may alias z): sigmoid, or softmax (max-subtracted, fp32). */
static void score_row(float *s, const float *z, int E, int softmax) {
    if (!softmax) {
        for (int e = 0; e < E; e++) s[e] = sigm(z[e]); /* z[e] read before s[e] is written */
        return;
    }
    float mx = -INFINITY, sum = 0;
    for (int e = 0; e < E; e++) mx = z[e] > mx ? z[e] : mx;
    for (int e = 0; e < E; e++) sum += s[e] = expf(z[e] - mx);
    float inv = 1.0f / sum;
    for (int e = 0; e < E; e++) s[e] *= inv;
}

void cpu_moe_route_fwd(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E,
                       int K, int norm) {
    const float *z = logits;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *p = probs + (size_t)n * E;
        score_row(p, z + (size_t)n * E, E, 1);
        /* selection: the k-th pick is the largest probability not yet taken, lower expert on ties */
        unsigned char taken[RLC_MOE_MAX_EXPERTS] = {0};
        float s = 0;
        for (int k = 0; k < K; k++) {
            int best = pick_best(p, NULL, taken, E);
            taken[best] = 1;
            idx[(size_t)n * K + k] = best;
            w[(size_t)n * K + k] = p[best];
            s += p[best];
        }
        if (norm)
            for (int k = 0; k < K; k++) w[(size_t)n * K + k] /= s;
    }
}

/* With s_k the picked probabilities and S their sum: w_k = s_k / S (norm) or s_k, so
 * ds_k = (dw_k - Σ_j dw_j w_j) / S or dw_k; then through the softmax dz_e = p_e (dp_e - Σ_k s_k ds_k),
 * where dp_e is ds_k for the picked expert e = idx_k and 0 elsewhere. */
void cpu_moe_route_bwd(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                       const int32_t *idx, int N, int E, int K, int norm) {
    float *dz = dlogits;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * E, *dwr = dw + (size_t)n * K, *wr = w + (size_t)n * K;
        const int32_t *ir = idx + (size_t)n * K;
        float ds[RLC_MOE_MAX_TOPK], S = 0, dot = 0, sds = 0;
        for (int k = 0; k < K; k++) S += p[ir[k]], dot += dwr[k] * wr[k];
        for (int k = 0; k < K; k++) {
            ds[k] = norm ? (dwr[k] - dot) / S : dwr[k];
            sds += p[ir[k]] * ds[k];
        }
        float *d = dz + (size_t)n * E;
        for (int e = 0; e < E; e++) d[e] = -p[e] * sds;
        for (int k = 0; k < K; k++) d[ir[k]] += p[ir[k]] * ds[k];
    }
}

/* The renormalisation's denominator of picked scores summing to sum. */
static float route_den(const rlc_moe_route_t *r, float sum) {
    return r->softmax ? (sum > r->norm_min ? sum : r->norm_min) : sum + 1e-20f;
}

void cpu_moe_route_biased_fwd(rlc_backend_t *be, float *scores, float *w, int32_t *idx, const float *logits,
                              const float *bias, int N, const rlc_moe_route_t *r) {
    int E = r->E, K = r->K, grouped = r->TG < r->G;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *s = scores + (size_t)n * E, ch[RLC_MOE_MAX_EXPERTS], sum = 0;
        score_row(s, logits + (size_t)n * E, E, r->softmax);
        for (int e = 0; e < E; e++) ch[e] = bias ? s[e] + bias[e] : s[e];
        unsigned char allowed[RLC_MOE_MAX_EXPERTS], taken[RLC_MOE_MAX_EXPERTS] = {0};
        if (grouped) allowed_groups(ch, E, r->G, r->TG, r->group_max, allowed);
        int32_t *ir = idx + (size_t)n * K;
        float *wr = w + (size_t)n * K;
        for (int k = 0; k < K; k++) {
            int best = pick_best(ch, grouped ? allowed : NULL, taken, E);
            taken[best] = 1;
            ir[k] = best;
            wr[k] = s[best];
            sum += s[best];
        }
        float den = route_den(r, sum);
        for (int k = 0; k < K; k++) wr[k] = (r->norm ? wr[k] / den : wr[k]) * r->scale;
    }
}

/* With s_k the picked scores and D their denominator: w_k = scale s_k / D (norm) or scale s_k,
 * so ds_k = (scale dw_k - Σ_j dw_j w_j) / D (scale dw_k / D when a softmax's D is the clamp
 * norm_min, a constant) or scale dw_k; 0 at the other experts (the bias only selects). Through
 * the sigmoid dz = ds s (1 - s); through the softmax dz_e = s_e (ds_e - Σ_k s_k ds_k). */
void cpu_moe_route_biased_bwd(rlc_backend_t *be, float *dlogits, const float *dw, const float *scores, const float *w,
                              const int32_t *idx, int N, const rlc_moe_route_t *r) {
    int E = r->E, K = r->K;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *s = scores + (size_t)n * E, *dwr = dw + (size_t)n * K, *wr = w + (size_t)n * K;
        const int32_t *ir = idx + (size_t)n * K;
        float sk[RLC_MOE_MAX_TOPK], ds[RLC_MOE_MAX_TOPK], sum = 0, dot = 0, sds = 0;
        for (int k = 0; k < K; k++) sk[k] = s[ir[k]], sum += sk[k], dot += dwr[k] * wr[k];
        float D = route_den(r, sum);
        int renorm = r->norm && !(r->softmax && sum <= r->norm_min);
        for (int k = 0; k < K; k++) {
            ds[k] = renorm ? (r->scale * dwr[k] - dot) / D : r->norm ? r->scale * dwr[k] / D : r->scale * dwr[k];
            sds += sk[k] * ds[k];
        }
        float *d = dlogits + (size_t)n * E; /* each score is read before its gradient overwrites it */
        for (int e = 0; e < E; e++) d[e] = r->softmax ? -s[e] * sds : 0.0f;
        for (int k = 0; k < K; k++) d[ir[k]] += r->softmax ? sk[k] * ds[k] : ds[k] * sk[k] * (1.0f - sk[k]);
    }
}

void cpu_moe_combine_fwd(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N, int K,
                         int C) {
    float *o = out;
    const float *yr = y;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *on = o + (size_t)n * C;
        for (int c = 0; c < C; c++) on[c] = 0;
        for (int k = 0; k < K; k++) {
            const float *src = yr + (size_t)inv[(size_t)n * K + k] * C;
            float wk = w ? w[(size_t)n * K + k] : 1.0f;
            for (int c = 0; c < C; c++) on[c] += wk * src[c];
        }
    }
}

void cpu_moe_combine_bwd(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                         const int32_t *inv, int N, int K, int C) {
    float *d = dy;
    const float *g = dout, *yr = y;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *gn = g + (size_t)n * C;
        for (int k = 0; k < K; k++) {
            size_t r = (size_t)inv[(size_t)n * K + k];
            float wk = w ? w[(size_t)n * K + k] : 1.0f, dot = 0;
            const float *src = yr + r * C;
            float *dst = d + r * C;
            for (int c = 0; c < C; c++) {
                dst[c] = wk * gn[c];
                dot += gn[c] * src[c];
            }
            if (dw) dw[(size_t)n * K + k] = dot;
        }
    }
}


void cpu_moe_gate_add_fwd(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C) {
    float *o = out;
    const float *yr = y, *zr = z;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float g = sigm(zr[n]);
        for (int c = 0; c < C; c++) o[(size_t)n * C + c] += g * yr[(size_t)n * C + c];
    }
}

void cpu_moe_gate_add_bwd(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z, int N,
                          int C) {
    float *d = dy, *dzr = dz;
    const float *g0 = dout, *yr = y, *zr = z;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float g = sigm(zr[n]), dot = 0;
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)n * C + c;
            dot += g0[i] * yr[i]; /* y read before dy is written: dy may alias y */
            d[i] = g * g0[i];
        }
        dzr[n] = g * (1.0f - g) * dot;
    }
}
