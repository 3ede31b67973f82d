/* Every CPU op: forward against a naive formula where one is simple, and backward against
 * central finite differences of L = <r, op(x)> along random directions (double-checked on
 * single coordinates too). */
#include "testutil.h"

#include "core/err.h"
#include "core/philox.h"
#include "kernels/backend.h"

static rlc_backend_t *be;
static rlc_rng_t rng;

static float *randv(size_t n, float scale) {
    float *p = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = (float)(rlc_rng_normal(&rng) * scale);
    return p;
}
static float *zeros(size_t n) { return calloc(n + 1, sizeof(float)); }
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*lossfn_t)(void *ctx);

/* Compare <grad, u> with (L(x+eps u) - L(x-eps u)) / 2eps for a random direction u, then one
 * coordinate. The relative error's floor covers the difference quotient's own noise: fp32 losses
 * round at ~1e-7, which a step of eps turns into ~1e-7/eps (1e-4 at the routing tests' 1e-3,
 * where a gradient that is exactly 0 still shows as that much). */
static void check_dir(const char *what, lossfn_t L, void *ctx, float *x, const float *grad, size_t n, float eps,
                      double tol) {
    float *u = randv(n, 1.0f), *x0 = malloc(n * sizeof(float));
    memcpy(x0, x, n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = x0[i] + eps * u[i];
    double lp = L(ctx);
    for (size_t i = 0; i < n; i++) x[i] = x0[i] - eps * u[i];
    double lm = L(ctx);
    memcpy(x, x0, n * sizeof(float));
    double fd = (lp - lm) / (2.0 * eps), an = dotd(grad, u, n);
    double err = fabs(fd - an) / fmax(fmax(1e-3, 1e-5 / eps), fabs(fd) + fabs(an));
    if (err > tol) fail_msg("%s: directional derivative fd=%.6g analytic=%.6g (rel err %.3g)", what, fd, an, err);
    /* and one coordinate */
    size_t i = rlc_rng_below(&rng, (uint32_t)n);
    x[i] = x0[i] + eps;
    lp = L(ctx);
    x[i] = x0[i] - eps;
    lm = L(ctx);
    x[i] = x0[i];
    fd = (lp - lm) / (2.0 * eps);
    err = fabs(fd - grad[i]) / fmax(fmax(1e-2, 1e-4 / eps), fabs(fd) + fabs(grad[i]));
    if (err > tol) fail_msg("%s[%zu]: fd=%.6g analytic=%.6g", what, i, fd, (double)grad[i]);
    free(u);
    free(x0);
}

/* ---------- rmsnorm ---------- */
typedef struct {
    int N, C;
    float *x, *w, *r, *out, *rstd;
} norm_ctx;
static double norm_loss(void *p) {
    norm_ctx *c = p;
    be->rmsnorm_fwd(be, c->out, c->rstd, c->x, c->w, c->N, c->C, 1e-6f);
    return dotd(c->out, c->r, (size_t)c->N * c->C);
}
/* off: the backend's norm offset (Gemma's weight 1 + w) */
static void rmsnorm_run(float off) {
    be->norm_offset = off;
    norm_ctx c = {.N = 5, .C = 24};
    size_t nc = (size_t)c.N * c.C;
    c.x = randv(nc, 1);
    c.w = randv(c.C, 1);
    c.r = randv(nc, 1);
    c.out = zeros(nc);
    c.rstd = zeros(c.N);
    norm_loss(&c);
    /* forward vs formula */
    for (int n = 0; n < c.N; n++) {
        double ss = 0;
        for (int k = 0; k < c.C; k++) ss += (double)c.x[n * c.C + k] * c.x[n * c.C + k];
        double r = 1.0 / sqrt(ss / c.C + 1e-6);
        for (int k = 0; k < c.C; k++)
            assert_true(fabs(c.out[n * c.C + k] - (c.w[k] + off) * c.x[n * c.C + k] * r) < 1e-5);
    }
    float *dx = randv(nc, 1), *dx0 = malloc(nc * 4), *dw = zeros(c.C);
    memcpy(dx0, dx, nc * 4); /* dinp accumulates: start from non-zero */
    be->rmsnorm_bwd(be, dx, dw, c.r, c.x, c.w, c.rstd, c.N, c.C);
    for (size_t i = 0; i < nc; i++) dx[i] -= dx0[i];
    check_dir("rmsnorm dx", norm_loss, &c, c.x, dx, nc, 1e-2f, 2e-3);
    check_dir("rmsnorm dw", norm_loss, &c, c.w, dw, c.C, 1e-2f, 2e-3);
    /* fused residual variant */
    float *a = randv(nc, 1), *b = randv(nc, 1), *res = zeros(nc), *o2 = zeros(nc), *r2 = zeros(c.N);
    be->residual_rmsnorm_fwd(be, res, o2, r2, a, b, c.w, c.N, c.C, 1e-6f);
    for (size_t i = 0; i < nc; i++) assert_true(res[i] == a[i] + b[i]);
    be->rmsnorm_fwd(be, c.out, c.rstd, res, c.w, c.N, c.C, 1e-6f);
    assert_memory_equal(o2, c.out, nc * 4);
    free(a), free(b), free(res), free(o2), free(r2), free(dx), free(dx0), free(dw);
    free(c.x), free(c.w), free(c.r), free(c.out), free(c.rstd);
    be->norm_offset = 0;
}
static void test_rmsnorm(void **s) {
    (void)s;
    rmsnorm_run(0.0f);
    rmsnorm_run(1.0f);
}

/* ---------- qk_norm (Qwen3) ---------- */
typedef struct {
    int N, Hq, Hk, D, ld;
    float *x, *wq, *wk, *r, *buf;
} qkn_ctx;
/* L = <r, qk_norm(x)> over whole rows (the value heads and padding pass through). */
static double qkn_loss(void *p) {
    qkn_ctx *c = p;
    size_t n = (size_t)c->N * c->ld;
    memcpy(c->buf, c->x, n * sizeof(float));
    be->qk_norm_fwd(be, c->buf, NULL, NULL, c->wq, c->wk, c->N, c->Hq, c->Hk, c->D, c->ld, 1e-6f);
    return dotd(c->buf, c->r, n);
}
static void qk_norm_run(float off) {
    be->norm_offset = off;
    qkn_ctx c = {.N = 3, .Hq = 4, .Hk = 2, .D = 8};
    c.ld = (c.Hq + 2 * c.Hk) * c.D + 2;
    int H = c.Hq + c.Hk;
    size_t n = (size_t)c.N * c.ld, nr = (size_t)c.N * H * c.D;
    c.x = randv(n, 1), c.wq = randv(c.D, 1), c.wk = randv(c.D, 1), c.r = randv(n, 1), c.buf = zeros(n);
    float *y = zeros(n), *raw = zeros(nr), *rstd = zeros((size_t)c.N * H);
    memcpy(y, c.x, n * sizeof(float));
    be->qk_norm_fwd(be, y, raw, rstd, c.wq, c.wk, c.N, c.Hq, c.Hk, c.D, c.ld, 1e-6f);
    for (int t = 0; t < c.N; t++) /* forward vs the formula, per head; the rest unchanged */
        for (int i = 0; i < c.ld; i++) {
            int h = i / c.D, d = i % c.D;
            const float *xh = c.x + (size_t)t * c.ld + (size_t)h * c.D;
            if (h >= H) {
                assert_true(y[(size_t)t * c.ld + i] == c.x[(size_t)t * c.ld + i]);
                continue;
            }
            double ss = 0;
            for (int k = 0; k < c.D; k++) ss += (double)xh[k] * xh[k];
            double want = ((h < c.Hq ? c.wq : c.wk)[d] + off) * xh[d] / sqrt(ss / c.D + 1e-6);
            assert_true(fabs(y[(size_t)t * c.ld + i] - want) < 1e-5);
            assert_true(raw[((size_t)t * H + h) * c.D + d] == xh[d]);
        }
    /* backward: dqkv holds r (dL/dy) on entry, dL/dx on the q/k heads after */
    float *dq = zeros(n), *dwq = randv(c.D, 1), *dwk = randv(c.D, 1), *wq0 = malloc(c.D * 4), *wk0 = malloc(c.D * 4);
    memcpy(dq, c.r, n * sizeof(float));
    memcpy(wq0, dwq, c.D * 4), memcpy(wk0, dwk, c.D * 4); /* dw accumulates: start from non-zero */
    be->qk_norm_bwd(be, dq, dwq, dwk, raw, c.wq, c.wk, rstd, c.N, c.Hq, c.Hk, c.D, c.ld);
    for (int k = 0; k < c.D; k++) dwq[k] -= wq0[k], dwk[k] -= wk0[k];
    check_dir("qk_norm dx", qkn_loss, &c, c.x, dq, n, 1e-2f, 2e-3);
    check_dir("qk_norm dwq", qkn_loss, &c, c.wq, dwq, c.D, 1e-2f, 2e-3);
    check_dir("qk_norm dwk", qkn_loss, &c, c.wk, dwk, c.D, 1e-2f, 2e-3);
    free(y), free(raw), free(rstd), free(dq), free(dwq), free(dwk), free(wq0), free(wk0);
    free(c.x), free(c.wq), free(c.wk), free(c.r), free(c.buf);
    be->norm_offset = 0;
}
static void test_qk_norm(void **s) {
    (void)s;
    qk_norm_run(0.0f);
    qk_norm_run(1.0f);
}

/* ---------- embedding ---------- */
static void test_embedding(void **s) {
    (void)s;
    int N = 7, C = 6, V = 5;
    int32_t ids[7] = {0, 3, 3, 4, 1, 3, 0};
    float *w = randv((size_t)V * C, 1), *out = zeros((size_t)N * C), *d = randv((size_t)N * C, 1);
    be->embedding_fwd(be, out, ids, w, N, C);
    for (int n = 0; n < N; n++) assert_memory_equal(out + n * C, w + ids[n] * C, C * 4);
    float *dw = zeros((size_t)V * C);
    be->embedding_bwd(be, dw, d, ids, N, C);
    for (int v = 0; v < V; v++)
        for (int k = 0; k < C; k++) {
            double e = 0;
            for (int n = 0; n < N; n++)
                if (ids[n] == v) e += d[n * C + k];
            assert_true(fabs(dw[v * C + k] - e) < 1e-6);
        }
    free(w), free(out), free(d), free(dw);
}

/* ---------- rope ---------- */
/* R: rotated dims per head (D, or fewer as under Phi-3's partial_rotary_factor); ms: the factor
 * on cos and sin (yarn's / LongRoPE's attention factor); il: pairs (2i, 2i+1) (interleaved) */
static void rope_case(int R, float ms, int il) {
    int N = 6, H = 3, D = 8, ld = 40; /* 3 rotated heads inside wider rows */
    int32_t pos[6] = {0, 1, 2, 7, 100, 5000};
    float inv[4];
    for (int i = 0; i < R / 2; i++) inv[i] = 1.0f / powf(10000.0f, 2.0f * i / R);
    float *x = randv((size_t)N * ld, 1), *y = malloc((size_t)N * ld * 4);
    memcpy(y, x, (size_t)N * ld * 4);
    be->rope_fwd(be, y, pos, inv, N, H, D, R, ms, ld, il);
    for (int n = 0; n < N; n++) {
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < R / 2; i++) {
                float ang = (float)pos[n] * inv[i];
                int ia = n * ld + h * D + (il ? 2 * i : i), ib = ia + (il ? 1 : R / 2);
                float a = x[ia], b = x[ib];
                assert_true(fabs(y[ia] - ms * (a * cosf(ang) - b * sinf(ang))) < 1e-5);
                assert_true(fabs(y[ib] - ms * (b * cosf(ang) + a * sinf(ang))) < 1e-5);
            }
            for (int i = R; i < D; i++) assert_true(y[n * ld + h * D + i] == x[n * ld + h * D + i]); /* passed */
        }
        for (int k = H * D; k < ld; k++) assert_true(y[n * ld + k] == x[n * ld + k]); /* untouched */
    }
    /* bwd is the transpose: <R x, g> == <x, R^T g> */
    float *g = randv((size_t)N * ld, 1), *gt = malloc((size_t)N * ld * 4);
    memcpy(gt, g, (size_t)N * ld * 4);
    be->rope_bwd(be, gt, pos, inv, N, H, D, R, ms, ld, il);
    assert_true(fabs(dotd(y, g, (size_t)N * ld) - dotd(x, gt, (size_t)N * ld)) < 1e-3);
    free(x), free(y), free(g), free(gt);
}

static void test_rope(void **s) {
    (void)s;
    rope_case(8, 1.0f, 0);
    rope_case(4, 1.0f, 0);  /* partial: half of each head turns */
    rope_case(4, 1.25f, 0); /* and scaled (Phi-4-mini: partial rotary under LongRoPE) */
    rope_case(8, 0.8f, 0);
    rope_case(8, 1.0f, 1); /* interleaved pairs (ERNIE 4.5) */
    rope_case(4, 1.0f, 1); /* interleaved over the first half */
}

/* ---------- attention ---------- */
typedef struct {
    int N, Hq, Hk, D, nseq, maxlen, window;
    float cap; /* > 0: soft-capped scores (Gemma 2) */
    int32_t cu[4];
    float *qkv, *r, *out, *lse;
} att_ctx;
static double att_loss(void *p) {
    att_ctx *c = p;
    be->attention_fwd(be, c->out, c->lse, c->qkv, c->cu, c->nseq, c->maxlen, c->N, c->Hq, c->Hk, c->D,
                      1.0f / sqrtf((float)c->D), c->cap, c->window);
    return dotd(c->out, c->r, (size_t)c->N * c->Hq * c->D);
}
/* Every query of c against a double-precision softmax over the keys it sees: those of its
 * sequence at or before it, and with a window W > 0 only its last W. */
static void att_naive_check(const att_ctx *c) {
    int ld = (c->Hq + 2 * c->Hk) * c->D, grp = c->Hq / c->Hk;
    for (int s = 0; s < c->nseq; s++)
        for (int n = c->cu[s]; n < c->cu[s + 1]; n++)
            for (int h = 0; h < c->Hq; h++) {
                int g = h / grp, j0 = c->cu[s];
                if (c->window > 0 && n - c->window + 1 > j0) j0 = n - c->window + 1;
                double sc[16], mx = -1e30, sum = 0;
                for (int j = j0; j <= n; j++) {
                    double d = 0;
                    for (int i = 0; i < c->D; i++)
                        d += (double)c->qkv[n * ld + h * c->D + i] * c->qkv[j * ld + (c->Hq + g) * c->D + i];
                    sc[j - j0] = d / sqrt(c->D);
                    if (c->cap > 0) sc[j - j0] = c->cap * tanh(sc[j - j0] / c->cap);
                    if (sc[j - j0] > mx) mx = sc[j - j0];
                }
                for (int j = j0; j <= n; j++) sum += exp(sc[j - j0] - mx);
                assert_true(fabs(c->lse[n * c->Hq + h] - (mx + log(sum))) < 1e-5);
                for (int i = 0; i < c->D; i++) {
                    double o = 0;
                    for (int j = j0; j <= n; j++)
                        o += exp(sc[j - j0] - mx) / sum * c->qkv[j * ld + (c->Hq + c->Hk + g) * c->D + i];
                    assert_true(fabs(c->out[n * c->Hq * c->D + h * c->D + i] - o) < 1e-5);
                }
            }
}
/* Full causal attention and sliding windows of 1 (each token sees itself), 3 (narrower than
 * the longest sequence) and 6 (as long as it: the same as full attention); then full and
 * windowed attention with soft-capped scores (a cap of 0.6 bends tanh hard at these scores). */
static void test_attention(void **s) {
    (void)s;
    const int windows[] = {0, 1, 3, 6, 0, 3};
    float *full_out = NULL, *qkv = randv(11 * 8 * 8, 1), *r = randv(11 * 4 * 8, 1);
    for (int w = 0; w < 6; w++) {
        att_ctx c = {.Hq = 4, .Hk = 2, .D = 8, .nseq = 3, .maxlen = 6, .window = windows[w], .cu = {0, 6, 7, 11}};
        c.cap = w >= 4 ? 0.6f : 0.0f;
        c.N = c.cu[3];
        int ld = (c.Hq + 2 * c.Hk) * c.D;
        c.qkv = qkv, c.r = r;
        c.out = zeros((size_t)c.N * c.Hq * c.D);
        c.lse = zeros((size_t)c.N * c.Hq);
        att_loss(&c);
        att_naive_check(&c);
        /* single-token sequence attends only to itself: out = v */
        for (int h = 0; h < c.Hq; h++)
            for (int i = 0; i < c.D; i++)
                assert_true(fabs(c.out[6 * c.Hq * c.D + h * c.D + i] -
                                 c.qkv[6 * ld + (c.Hq + c.Hk + h / 2) * c.D + i]) < 1e-6);
        size_t no = (size_t)c.N * c.Hq * c.D;
        if (!c.window && !c.cap) full_out = zeros(no), memcpy(full_out, c.out, no * sizeof(float));
        if (c.window == 6) assert_memory_equal(full_out, c.out, no * sizeof(float)); /* bitwise */
        if (c.window == 3 || c.cap) assert_memory_not_equal(full_out, c.out, no * sizeof(float));
        float *dqkv = randv((size_t)c.N * ld, 1); /* garbage: bwd must overwrite */
        be->attention_bwd(be, dqkv, c.r, c.qkv, c.out, c.lse, c.cu, c.nseq, c.maxlen, c.N, c.Hq, c.Hk, c.D,
                          1.0f / sqrtf((float)c.D), c.cap, c.window);
        /* tanh's curvature at a cap of 0.6 needs a finer step (at 1e-2 the difference quotient is off by 2.5e-3) */
        check_dir(c.cap ? "attention dqkv (soft-capped)" : "attention dqkv", att_loss, &c, c.qkv, dqkv,
                  (size_t)c.N * ld, c.cap ? 3e-3f : 1e-2f, 2e-3);
        free(dqkv), free(c.out), free(c.lse);
    }
    free(full_out), free(qkv), free(r);
}

/* ---------- swiglu ---------- */
typedef struct {
    int N, F;
    float *gu, *r, *out;
} sw_ctx;
static double sw_loss(void *p) {
    sw_ctx *c = p;
    be->swiglu_fwd(be, c->out, c->gu, c->N, c->F);
    return dotd(c->out, c->r, (size_t)c->N * c->F);
}
static void test_swiglu(void **s) {
    (void)s;
    sw_ctx c = {.N = 4, .F = 10};
    c.gu = randv((size_t)c.N * 2 * c.F, 2);
    c.r = randv((size_t)c.N * c.F, 1);
    c.out = zeros((size_t)c.N * c.F);
    sw_loss(&c);
    float g = c.gu[3], u = c.gu[c.F + 3];
    assert_true(fabs(c.out[3] - g / (1 + exp(-g)) * u) < 1e-6);
    float *d = zeros((size_t)c.N * 2 * c.F);
    be->swiglu_bwd(be, d, c.r, c.gu, c.N, c.F);
    check_dir("swiglu", sw_loss, &c, c.gu, d, (size_t)c.N * 2 * c.F, 1e-2f, 2e-3);
    free(d), free(c.gu), free(c.r), free(c.out);
}

/* ---------- mixture of experts: routing and combination ---------- */
typedef struct {
    int N, E, K, norm;
    float *z, *p, *w, *dw;
    int32_t *idx;
} route_ctx;
static double route_loss(void *v) {
    route_ctx *c = v;
    be->moe_route_fwd(be, c->p, c->w, c->idx, c->z, c->N, c->E, c->K, c->norm);
    return dotd(c->w, c->dw, (size_t)c->N * c->K);
}
/* The forward against softmax and a sort by hand; the backward against finite differences
 * (the picks stay put under the small steps: the logits are well apart). */
static void route_run(int E, int K, int norm) {
    route_ctx c = {.N = 6, .E = E, .K = K, .norm = norm};
    size_t ne = (size_t)c.N * E, nk = (size_t)c.N * K;
    c.z = randv(ne, 2), c.p = zeros(ne), c.w = zeros(nk), c.dw = randv(nk, 1);
    c.idx = calloc(nk, sizeof(int32_t));
    route_loss(&c);
    for (int n = 0; n < c.N; n++) {
        const float *z = c.z + (size_t)n * E;
        double mx = -INFINITY, sum = 0, picked = 0;
        for (int e = 0; e < E; e++) mx = fmax(mx, z[e]);
        for (int e = 0; e < E; e++) sum += exp(z[e] - mx);
        for (int k = 0; k < K; k++) {
            int e = c.idx[n * K + k], above = 0;
            for (int j = 0; j < E; j++) above += z[j] > z[e];
            assert_int_equal(above, k); /* the k-th largest */
            picked += exp(z[e] - mx) / sum;
        }
        for (int k = 0; k < K; k++) {
            double want = exp(z[c.idx[n * K + k]] - mx) / sum / (norm ? picked : 1.0);
            assert_true(fabs(c.w[n * K + k] - want) < 1e-6);
        }
    }
    float *dz = zeros(ne);
    be->moe_route_bwd(be, dz, c.dw, c.p, c.w, c.idx, c.N, E, K, norm);
    check_dir(norm ? "moe route (renormalised)" : "moe route", route_loss, &c, c.z, dz, ne, 1e-3f, 3e-3);
    free(dz), free(c.z), free(c.p), free(c.w), free(c.dw), free(c.idx);
}

/* Routing with a correction bias (GLM-4.5's sigmoid scores, ERNIE 4.5's softmax ones): the
 * forward against a reference written another way (the allowed groups are those with fewer than
 * TG groups ranked above them; the k-th pick has exactly k allowed experts ranked above it); the
 * backward against finite differences. */
typedef struct {
    int N;
    rlc_moe_route_t r;
    float *z, *bias, *s, *w, *dw;
    int32_t *idx;
} rsig_ctx;
static double rsig_loss(void *v) {
    rsig_ctx *c = v;
    be->moe_route_biased_fwd(be, c->s, c->w, c->idx, c->z, c->bias, c->N, &c->r);
    return dotd(c->w, c->dw, (size_t)c->N * c->r.K);
}
/* A token's scores in double, and its choice values (scores + bias). */
static void rsig_ref(const float *z, const float *bias, int E, int softmax, double *sc, double *ch) {
    double mx = -INFINITY, sum = 0;
    for (int e = 0; e < E; e++) mx = fmax(mx, z[e]);
    for (int e = 0; e < E; e++) sum += exp(z[e] - mx);
    for (int e = 0; e < E; e++) sc[e] = softmax ? exp(z[e] - mx) / sum : 1 / (1 + exp(-z[e]));
    for (int e = 0; e < E; e++) ch[e] = sc[e] + (bias ? bias[e] : 0); /* DeepSeek-V2: no bias */
}
/* Each group's score: the sum of its two largest choice values (gmax: its largest). */
static void rsig_groups(const double *ch, int E, int G, int gmax, double *gsc) {
    int gs = E / G;
    for (int g = 0; g < G; g++) {
        double b1 = -INFINITY, b2 = -INFINITY;
        for (int j = g * gs; j < (g + 1) * gs; j++) {
            if (ch[j] > b1) b2 = b1, b1 = ch[j];
            else if (ch[j] > b2) b2 = ch[j];
        }
        gsc[g] = gmax ? b1 : b1 + b2;
    }
}
static int rsig_allowed(const double *ch, int E, int G, int TG, int gmax, int e) {
    int above = 0;
    double sc[64];
    rsig_groups(ch, E, G, gmax, sc);
    for (int g = 0; g < G; g++) above += sc[g] > sc[e / (E / G)];
    return above < TG;
}
/* The smallest gap between two of a token's choice values or two of its group scores. */
static double rsig_gap(const float *z, const float *bias, const rlc_moe_route_t *r) {
    double sc[64], ch[64], gsc[64], gap = INFINITY;
    rsig_ref(z, bias, r->E, r->softmax, sc, ch);
    rsig_groups(ch, r->E, r->G, r->group_max, gsc);
    for (int a = 0; a < r->E; a++)
        for (int b = 0; b < a; b++) gap = fmin(gap, fabs(ch[a] - ch[b]));
    for (int a = 0; a < r->G; a++)
        for (int b = 0; b < a; b++) gap = fmin(gap, fabs(gsc[a] - gsc[b]));
    return gap;
}
static void route_biased_run(rlc_moe_route_t r) {
    rsig_ctx c = {.N = 7, .r = r};
    int E = r.E, K = r.K;
    size_t ne = (size_t)c.N * E, nk = (size_t)c.N * K;
    c.z = randv(ne, 2), c.s = zeros(ne), c.w = zeros(nk);
    c.bias = r.group_max ? NULL : randv((size_t)E, r.softmax ? 0.5f / E : 0.5f); /* DeepSeek-V2's has none */
    c.dw = randv(nk, 1);
    for (int n = 0; n < c.N; n++) /* no near ties, so the picks stay put under the finite differences' steps */
        while (rsig_gap(c.z + (size_t)n * E, c.bias, &r) < (r.softmax ? 1e-3 : 4e-3))
            for (int e = 0; e < E; e++) c.z[(size_t)n * E + e] = (float)(rlc_rng_normal(&rng) * 2);
    c.idx = calloc(nk, sizeof(int32_t));
    rsig_loss(&c);
    int bias_mattered = 0;
    for (int n = 0; n < c.N; n++) {
        double ch[64], sg[64], sum = 0;
        rsig_ref(c.z + (size_t)n * E, c.bias, E, r.softmax, sg, ch);
        for (int k = 0; k < K; k++) {
            int e = c.idx[n * K + k], above = 0;
            assert_true(rsig_allowed(ch, E, r.G, r.TG, r.group_max, e));
            for (int j = 0; j < E; j++) above += rsig_allowed(ch, E, r.G, r.TG, r.group_max, j) && ch[j] > ch[e];
            assert_int_equal(above, k);
            for (int j = 0; j < E; j++) bias_mattered |= sg[j] > sg[e] && ch[j] < ch[e];
            sum += sg[e];
        }
        for (int k = 0; k < K; k++) {
            double want = sg[c.idx[n * K + k]] / (r.norm ? sum : 1.0) * r.scale;
            assert_true(fabs(c.w[n * K + k] - want) < 2e-6 * r.scale);
        }
    }
    assert_true(bias_mattered || !c.bias); /* some pick was passed over by the scores alone */
    float *dz = zeros(ne);
    be->moe_route_biased_bwd(be, dz, c.dw, c.s, c.w, c.idx, c.N, &r);
    char what[64];
    snprintf(what, sizeof what, "moe %s route%s", r.softmax ? "softmax-biased" : "sigmoid",
             r.norm ? " (renormalised)" : "");
    check_dir(what, rsig_loss, &c, c.z, dz, ne, 1e-3f, 3e-3);
    free(dz), free(c.z), free(c.bias), free(c.s), free(c.w), free(c.dw), free(c.idx);
}

typedef struct {
    int N, K, C;
    float *y, *w, *r, *out;
    int32_t *inv;
} comb_ctx;
static double comb_loss(void *v) {
    comb_ctx *c = v;
    be->moe_combine_fwd(be, c->out, c->y, c->w, c->inv, c->N, c->K, c->C);
    return dotd(c->out, c->r, (size_t)c->N * c->C);
}
typedef struct {
    int N, C;
    float *y, *z, *r, *out0, *out;
} gate_ctx;
static double gate_loss(void *v) {
    gate_ctx *c = v;
    memcpy(c->out, c->out0, (size_t)c->N * c->C * sizeof(float));
    be->moe_gate_add_fwd(be, c->out, c->y, c->z, c->N, c->C);
    return dotd(c->out, c->r, (size_t)c->N * c->C);
}
static void test_moe(void **s) {
    (void)s;
    route_run(8, 2, 1);
    route_run(6, 3, 0);
    route_run(5, 5, 1); /* every expert picked: the renormalised weights are the probabilities */
    /*                                E   K  G  TG norm softmax scale norm_min */
    route_biased_run((rlc_moe_route_t){8, 3, 4, 2, 1, 0, 2.5f, 0, 0});  /* the best 2 of 4 groups */
    route_biased_run((rlc_moe_route_t){12, 4, 1, 1, 1, 0, 1.0f, 0, 0}); /* no groups */
    route_biased_run((rlc_moe_route_t){24, 5, 6, 3, 0, 0, 1.5f, 0, 0}); /* not renormalised */
    route_biased_run((rlc_moe_route_t){12, 3, 1, 1, 1, 1, 1.0f, 1e-12f, 0}); /* ERNIE 4.5: softmax scores */
    route_biased_run((rlc_moe_route_t){16, 4, 4, 2, 0, 1, 2.0f, 1e-12f, 0}); /* softmax in groups, not renormalised */
    route_biased_run((rlc_moe_route_t){16, 3, 8, 3, 0, 1, 1.5f, 1e-12f, 1}); /* DeepSeek-V2: no bias, groups' best */
    comb_ctx c = {.N = 4, .K = 3, .C = 7};
    size_t R = (size_t)c.N * c.K;
    c.y = randv(R * c.C, 1), c.w = randv(R, 1), c.r = randv((size_t)c.N * c.C, 1), c.out = zeros((size_t)c.N * c.C);
    c.inv = calloc(R, sizeof(int32_t));
    for (size_t i = 0; i < R; i++) c.inv[i] = (int32_t)((i * 5) % R); /* 5 is prime to 12: a permutation */
    comb_loss(&c);
    double want = 0;
    for (int k = 0; k < c.K; k++) want += c.w[c.K + k] * c.y[(size_t)c.inv[c.K + k] * c.C + 2];
    assert_true(fabs(c.out[c.C + 2] - want) < 1e-6);
    float *dy = zeros(R * c.C), *dw = zeros(R);
    be->moe_combine_bwd(be, dy, dw, c.r, c.y, c.w, c.inv, c.N, c.K, c.C);
    check_dir("moe combine dy", comb_loss, &c, c.y, dy, R * c.C, 1e-2f, 2e-3);
    check_dir("moe combine dw", comb_loss, &c, c.w, dw, R, 1e-2f, 2e-3);
    free(dy), free(dw), free(c.y), free(c.w), free(c.r), free(c.out), free(c.inv);
    /* the shared expert's gated add: out += sigmoid(z) y */
    gate_ctx gc = {.N = 5, .C = 6};
    size_t nc = (size_t)gc.N * gc.C;
    gc.y = randv(nc, 1), gc.z = randv((size_t)gc.N, 2), gc.r = randv(nc, 1), gc.out0 = randv(nc, 1);
    gc.out = zeros(nc);
    gate_loss(&gc);
    assert_true(fabs(gc.out[7] - (gc.out0[7] + gc.y[7] / (1 + exp(-gc.z[1])))) < 1e-6);
    float *gdy = zeros(nc), *gdz = zeros((size_t)gc.N);
    be->moe_gate_add_bwd(be, gdy, gdz, gc.r, gc.y, gc.z, gc.N, gc.C);
    check_dir("moe gate dy", gate_loss, &gc, gc.y, gdy, nc, 1e-2f, 2e-3);
    check_dir("moe gate dz", gate_loss, &gc, gc.z, gdz, (size_t)gc.N, 1e-2f, 2e-3);
    /* dz over z and dy over y (in place) give the same */
    float *gdz2 = zeros((size_t)gc.N), *gdy2 = zeros(nc);
    be->moe_gate_add_bwd(be, gdy2, gdz2, gc.r, gc.y, gc.z, gc.N, gc.C);
    memcpy(gdz, gc.z, (size_t)gc.N * 4);
    memcpy(gdy, gc.y, nc * 4);
    be->moe_gate_add_bwd(be, gdy, gdz, gc.r, gdy, gdz, gc.N, gc.C);
    assert_memory_equal(gdz, gdz2, (size_t)gc.N * 4);
    assert_memory_equal(gdy, gdy2, nc * 4);
    free(gdy), free(gdz), free(gdz2), free(gdy2), free(gc.y), free(gc.z), free(gc.r), free(gc.out0), free(gc.out);
}

/* ---------- geglu (Gemma) ---------- */
static double gg_loss(void *p) {
    sw_ctx *c = p;
    be->geglu_fwd(be, c->out, c->gu, c->N, c->F);
    return dotd(c->out, c->r, (size_t)c->N * c->F);
}
static void test_geglu(void **s) {
    (void)s;
    sw_ctx c = {.N = 4, .F = 10};
    c.gu = randv((size_t)c.N * 2 * c.F, 3);
    c.r = randv((size_t)c.N * c.F, 1);
    c.out = zeros((size_t)c.N * c.F);
    gg_loss(&c);
    for (int i = 0; i < c.N * c.F; i++) { /* PyTorch's gelu(approximate='tanh'), in double */
        int n = i / c.F, f = i % c.F;
        double g = c.gu[(size_t)n * 2 * c.F + f], u = c.gu[(size_t)n * 2 * c.F + c.F + f];
        double want = 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) * u;
        assert_true(fabs(c.out[i] - want) < 1e-5 * (1 + fabs(want)));
    }
    float *d = zeros((size_t)c.N * 2 * c.F);
    be->geglu_bwd(be, d, c.r, c.gu, c.N, c.F);
    check_dir("geglu", gg_loss, &c, c.gu, d, (size_t)c.N * 2 * c.F, 1e-2f, 2e-3);
    free(d), free(c.gu), free(c.r), free(c.out);
}

/* ---------- matmul ---------- */
typedef struct {
    int N, IC, OC;
    float *x, *w, *b, *r, *out;
} mm_ctx;
static double mm_loss(void *p) {
    mm_ctx *c = p;
    be->matmul_fwd(be, c->out, c->x, c->w, c->b, c->N, c->IC, c->OC);
    return dotd(c->out, c->r, (size_t)c->N * c->OC);
}
static void test_matmul(void **s) {
    (void)s;
    mm_ctx c = {.N = 5, .IC = 7, .OC = 3};
    c.x = randv((size_t)c.N * c.IC, 1);
    c.w = randv((size_t)c.OC * c.IC, 1);
    c.b = randv(c.OC, 1);
    c.r = randv((size_t)c.N * c.OC, 1);
    c.out = zeros((size_t)c.N * c.OC);
    mm_loss(&c);
    double e = c.b[2];
    for (int k = 0; k < c.IC; k++) e += (double)c.x[4 * c.IC + k] * c.w[2 * c.IC + k];
    assert_true(fabs(c.out[4 * c.OC + 2] - e) < 1e-5);
    float *dx = zeros((size_t)c.N * c.IC), *dw = randv((size_t)c.OC * c.IC, 1), *db = randv(c.OC, 1);
    float *dw0 = malloc((size_t)c.OC * c.IC * 4), *db0 = malloc(c.OC * 4);
    memcpy(dw0, dw, (size_t)c.OC * c.IC * 4);
    memcpy(db0, db, c.OC * 4);
    be->matmul_bwd(be, dx, dw, db, c.r, c.x, c.w, c.N, c.IC, c.OC);
    for (int i = 0; i < c.OC * c.IC; i++) dw[i] -= dw0[i]; /* accumulated */
    for (int i = 0; i < c.OC; i++) db[i] -= db0[i];
    check_dir("matmul dx", mm_loss, &c, c.x, dx, (size_t)c.N * c.IC, 1e-2f, 1e-3);
    check_dir("matmul dw", mm_loss, &c, c.w, dw, (size_t)c.OC * c.IC, 1e-2f, 1e-3);
    check_dir("matmul db", mm_loss, &c, c.b, db, c.OC, 1e-2f, 1e-3);
    free(dx), free(dw), free(db), free(dw0), free(db0), free(c.x), free(c.w), free(c.b), free(c.r), free(c.out);
}

/* ---------- fused LM head ---------- */
typedef struct {
    int N, C, V;
    float inv_temp, cap;
    int32_t *tg;
    float *h, *w, *a, *b, *logp, *ent;
} lm_ctx;
static double lm_loss(void *p) {
    lm_ctx *c = p;
    be->lmhead_fwd(be, c->logp, c->ent, c->h, c->w, c->tg, c->N, c->C, c->V, c->inv_temp, c->cap);
    return dotd(c->logp, c->a, c->N) + dotd(c->ent, c->b, c->N);
}
/* cap > 0: Gemma 2's soft-capped logits */
static void lmhead_case(float cap) {
    lm_ctx c = {.N = 6, .C = 8, .V = 11, .inv_temp = 1.0f / 0.7f, .cap = cap};
    int32_t tg[6] = {3, -1, 0, 10, 5, 5};
    c.tg = tg;
    c.h = randv((size_t)c.N * c.C, 1);
    c.w = randv((size_t)c.V * c.C, 1);
    c.a = randv(c.N, 1);
    c.b = randv(c.N, 1);
    c.logp = zeros(c.N);
    c.ent = zeros(c.N);
    lm_loss(&c);
    for (int n = 0; n < c.N; n++) {
        if (tg[n] < 0) {
            assert_true(c.logp[n] == 0 && c.ent[n] == 0);
            continue;
        }
        double z[11], mx = -1e30, sum = 0, H = 0;
        for (int v = 0; v < c.V; v++) {
            z[v] = 0;
            for (int k = 0; k < c.C; k++) z[v] += (double)c.h[n * c.C + k] * c.w[v * c.C + k];
            if (c.cap > 0) z[v] = c.cap * tanh(z[v] / c.cap);
            z[v] *= c.inv_temp;
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < c.V; v++) sum += exp(z[v] - mx);
        for (int v = 0; v < c.V; v++) {
            double lp = z[v] - mx - log(sum);
            H -= exp(lp) * lp;
        }
        assert_true(fabs(c.logp[n] - (z[tg[n]] - mx - log(sum))) < 1e-5);
        assert_true(fabs(c.ent[n] - H) < 1e-5);
    }
    float *dh = randv((size_t)c.N * c.C, 1), *dw = zeros((size_t)c.V * c.C), *lp2 = zeros(c.N), *en2 = zeros(c.N);
    be->lmhead_bwd(be, dh, dw, lp2, en2, c.a, c.b, c.h, c.w, c.tg, c.N, c.C, c.V, c.inv_temp, c.cap);
    assert_true(max_abs_diff(lp2, c.logp, c.N) < 1e-6);
    assert_true(max_abs_diff(en2, c.ent, c.N) < 1e-6);
    for (int k = 0; k < c.C; k++) assert_true(dh[1 * c.C + k] == 0); /* ignored row: zero gradient */
    check_dir("lmhead dh", lm_loss, &c, c.h, dh, (size_t)c.N * c.C, 1e-2f, 2e-3);
    check_dir("lmhead dw", lm_loss, &c, c.w, dw, (size_t)c.V * c.C, 1e-2f, 2e-3);
    /* logits op */
    float *lg = zeros((size_t)c.N * c.V);
    be->logits(be, lg, c.h, c.w, c.N, c.C, c.V);
    double z = 0;
    for (int k = 0; k < c.C; k++) z += (double)c.h[2 * c.C + k] * c.w[4 * c.C + k];
    assert_true(fabs(lg[2 * c.V + 4] - z) < 1e-5);
    if (c.cap > 0) { /* the softcap op on those logits, against double */
        float *lc = zeros((size_t)c.N * c.V);
        memcpy(lc, lg, (size_t)c.N * c.V * sizeof(float));
        be->softcap(be, lc, (size_t)c.N * c.V, c.cap);
        for (int i = 0; i < c.N * c.V; i++) assert_true(fabs(lc[i] - c.cap * tanh((double)lg[i] / c.cap)) < 1e-6);
        free(lc);
    }
    free(lg), free(dh), free(dw), free(lp2), free(en2), free(c.h), free(c.w), free(c.a), free(c.b), free(c.logp),
        free(c.ent);
}
static void test_lmhead(void **s) {
    (void)s;
    lmhead_case(0.0f);
    lmhead_case(1.5f);
}

/* ---------- AdamW and reductions ---------- */
static void test_adamw(void **s) {
    (void)s;
    size_t n = 100;
    float *p = randv(n, 1), *g = randv(n, 1), *m = zeros(n), *v = zeros(n);
    double P[100], M[100] = {0}, Vv[100] = {0};
    for (size_t i = 0; i < n; i++) P[i] = p[i];
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
    for (int step = 1; step <= 3; step++) {
        be->adamw(be, p, NULL, g, m, v, n, lr, b1, b2, eps, wd, step, gs, 0);
        for (size_t i = 0; i < n; i++) {
            double gi = (double)g[i] * gs;
            M[i] = b1 * M[i] + (1 - b1) * gi;
            Vv[i] = b2 * Vv[i] + (1 - b2) * gi * gi;
            double mh = M[i] / (1 - pow(b1, step)), vh = Vv[i] / (1 - pow(b2, step));
            P[i] -= lr * (mh / (sqrt(vh) + eps) + wd * P[i]);
        }
    }
    for (size_t i = 0; i < n; i++) assert_true(fabs(p[i] - P[i]) < 1e-5);
    double ss;
    be->sumsq(be, &ss, g, RLC_BUF_GRAD, n);
    assert_true(fabs(ss - dotd(g, g, n)) < 1e-4);
    be->scale(be, g, RLC_BUF_GRAD, n, 2.0f);
    double ss2;
    be->sumsq(be, &ss2, g, RLC_BUF_GRAD, n);
    assert_true(fabs(ss2 - 4 * ss) < 1e-3);
    free(p), free(g), free(m), free(v);
}

static int setup(void **s) {
    (void)s;
    rlc_rng_init(&rng, 7, 0);
    return rlc_backend_create(&be, "cpu", 0, 2);
}
static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    return 0;
}

/* Device names: bad ones are clear errors; a GPU that is not there is "unsupported". */
static void test_backend_names(void **s) {
    (void)s;
    rlc_backend_t *b = NULL;
    assert_int_equal(rlc_backend_create(&b, "gpu", 0, 1), RLC_EINVAL);
    assert_int_equal(rlc_backend_create(&b, "cuda:", 0, 1), RLC_EINVAL);
    assert_int_equal(rlc_backend_create(&b, "cuda:x", 0, 1), RLC_EINVAL);
    assert_int_equal(rlc_backend_create(&b, "cuda:-1", 0, 1), RLC_EINVAL);
    assert_null(b);
    if (rlc_backend_cuda_devices(NULL, 0) == 0) {
        int rc = rlc_backend_create(&b, "cuda:0", 0, 1);
        assert_true(rc == RLC_EUNSUP);
        assert_null(b);
    }
    assert_int_equal(rlc_backend_create(&b, "cpu", 0, 1), 0);
    assert_non_null(b->mem_info);
    rlc_backend_destroy(b);
}

/* lmhead_keep / lmhead_use: a kept forward's logits give the backward exactly what
 * recomputing gives; another lmhead call in between drops them (the backward then
 * recomputes, so stale logits are never used). */
static void test_lmhead_keep(void **s) {
    (void)s;
    const int N = 37, C = 16, V = 53;
    int32_t tg[37];
    for (int n = 0; n < N; n++) tg[n] = n % 5 == 4 ? -1 : (n * 7) % V;
    float *h = randv((size_t)N * C, 1), *h2 = randv((size_t)N * C, 1), *w = randv((size_t)V * C, 1);
    float *a = randv(N, 1), *b = randv(N, 1), *lp = zeros(N), *en = zeros(N);
    float *dh[3], *dw[3];
    for (int i = 0; i < 3; i++) dh[i] = zeros((size_t)N * C), dw[i] = zeros((size_t)V * C);
    /* 0: plain (recomputed) */
    be->lmhead_fwd(be, lp, en, h, w, tg, N, C, V, 1.3f, 0.0f);
    be->lmhead_bwd(be, dh[0], dw[0], NULL, NULL, a, b, h, w, tg, N, C, V, 1.3f, 0.0f);
    /* 1: kept */
    be->lmhead_keep = 1;
    be->lmhead_fwd(be, lp, en, h, w, tg, N, C, V, 1.3f, 0.0f);
    unsigned id = be->lmhead_kept;
    be->lmhead_keep = 0;
    assert_true(id != 0);
    be->lmhead_use = id;
    be->lmhead_bwd(be, dh[1], dw[1], NULL, NULL, a, b, h, w, tg, N, C, V, 1.3f, 0.0f);
    assert_memory_equal(dh[1], dh[0], (size_t)N * C * 4);
    assert_memory_equal(dw[1], dw[0], (size_t)V * C * 4);
    /* 2: logits of other rows kept, then a plain forward before the backward: the id is
     * stale, and using it would give the other rows' gradients */
    be->lmhead_keep = 1;
    be->lmhead_fwd(be, lp, en, h2, w, tg, N, C, V, 1.3f, 0.0f);
    id = be->lmhead_kept;
    be->lmhead_keep = 0;
    be->lmhead_fwd(be, lp, en, h, w, tg, N, C, V, 1.3f, 0.0f);
    assert_int_equal(be->lmhead_kept, 0);
    be->lmhead_use = id;
    be->lmhead_bwd(be, dh[2], dw[2], NULL, NULL, a, b, h, w, tg, N, C, V, 1.3f, 0.0f);
    assert_memory_equal(dh[2], dh[0], (size_t)N * C * 4);
    assert_memory_equal(dw[2], dw[0], (size_t)V * C * 4);
    /* 3: an id is used once (the block becomes gradients): a second backward recomputes */
    be->lmhead_keep = 1;
    be->lmhead_fwd(be, lp, en, h, w, tg, N, C, V, 1.3f, 0.0f);
    id = be->lmhead_kept;
    be->lmhead_keep = 0;
    for (int k = 0; k < 2; k++) {
        memset(dw[2], 0, (size_t)V * C * 4);
        be->lmhead_use = id;
        be->lmhead_bwd(be, dh[2], dw[2], NULL, NULL, a, b, h, w, tg, N, C, V, 1.3f, 0.0f);
        assert_memory_equal(dh[2], dh[0], (size_t)N * C * 4);
        assert_memory_equal(dw[2], dw[0], (size_t)V * C * 4);
    }
    be->lmhead_use = 0;
    for (int i = 0; i < 3; i++) free(dh[i]), free(dw[i]);
    free(h), free(h2), free(w), free(a), free(b), free(lp), free(en);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm), cmocka_unit_test(test_embedding), cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention), cmocka_unit_test(test_swiglu), cmocka_unit_test(test_geglu),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_lmhead), cmocka_unit_test(test_adamw), cmocka_unit_test(test_backend_names),
        /* last: the tests share one random stream, and the earlier ones keep theirs */
        cmocka_unit_test(test_qk_norm), cmocka_unit_test(test_lmhead_keep), cmocka_unit_test(test_moe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
