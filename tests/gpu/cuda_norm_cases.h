/* The normalization ops' parity cases (RMSNorm plain, fused with the residual and backward;
 * Qwen3's per-head q/k norm), included by test_cuda_ops.c: they share its harness state
 * (cuda_harness.h keeps it in static variables of the one translation unit). */
#pragma once
#include "cuda_harness.h"

/* ---------------------------------------------------------------- rmsnorm */

static void rmsnorm_case(int N, int C) {
    print_message(" rmsnorm N=%d C=%d\n", N, C);
    size_t nc = (size_t)N * C;
    buf_t *x = B(RLC_BUF_ACT, nc), *x2 = B(RLC_BUF_ACT, nc), *w = B(RLC_BUF_PARAM, C), *out = B(RLC_BUF_ACT, nc);
    buf_t *rstd = B(RLC_BUF_F32, N), *res = B(RLC_BUF_ACT, nc);
    free(fill(x, 2.0f));
    free(fill(x2, 1.0f));
    float *hw = malloc(C * sizeof(float));
    /* weights around 1 - norm_offset: the scale (offset + w) is around 1 either way */
    for (int c = 0; c < C; c++) hw[c] = bfr(1.0f - cpu->norm_offset + 0.3f * (float)rlc_rng_normal(&rng));
    set(w, hw);
    cpu->rmsnorm_fwd(cpu, out->c, rstd->c, x->c, w->c, N, C, 1e-6f);
    gpu->rmsnorm_fwd(gpu, out->g, rstd->g, x->g, w->g, N, C, 1e-6f);
    cmp("rmsnorm_fwd out", out, BF16_ONE);
    cmp("rmsnorm_fwd rstd", rstd, F32_ORDER);
    cpu->residual_rmsnorm_fwd(cpu, res->c, out->c, rstd->c, x->c, x2->c, w->c, N, C, 1e-5f);
    gpu->residual_rmsnorm_fwd(gpu, res->g, out->g, rstd->g, x->g, x2->g, w->g, N, C, 1e-5f);
    cmp("residual_rmsnorm resid", res, BF16_ONE);
    cmp("residual_rmsnorm out", out, BF16_TWO); /* the GPU normalizes the rounded residual */
    /* likewise, rstd of the rounded residual: each summand rounded (relative 2^-9), so at
     * worst (few columns, one sign) rstd moves by 2^-9 relative, nmse 4e-6 */
    cmp("residual_rmsnorm rstd", rstd, BF16_ONE);
    /* backward from identical inputs: x, w, rstd (the CPU's), dout, and a nonzero dinp/dw */
    float *hr = get(cpu, rstd);
    set(rstd, hr);
    buf_t *dout = B(RLC_BUF_ACT, nc), *dinp = B(RLC_BUF_ACT, nc), *dw = B(RLC_BUF_GRAD, C);
    free(fill(dout, 1.0f));
    free(fill(dinp, 1.0f));
    float *dw0 = fill(dw, 1.0f);
    cpu->rmsnorm_bwd(cpu, dinp->c, dw->c, dout->c, x->c, w->c, rstd->c, N, C);
    gpu->rmsnorm_bwd(gpu, dinp->g, dw->g, dout->g, x->g, w->g, rstd->g, N, C);
    cmp("rmsnorm_bwd dinp (+=)", dinp, BF16_ONE);
    cmp("rmsnorm_bwd dw (+=)", dw, F32_ORDER);
    float *a = get(gpu, dw);
    set_g(dw, dw0);
    gpu->rmsnorm_bwd(gpu, dinp->g, dw->g, dout->g, x->g, w->g, rstd->g, N, C);
    float *b = get(gpu, dw);
    same_bits("rmsnorm_bwd dw", a, b, C);
    free(a);
    free(b);
    free(dw0);
    free(hr);
    free(hw);
    bufs_free();
}

static void test_rmsnorm(void **s) {
    (void)s;
    /* First, before any launch has opted the kernel in (the attribute then stays set for
     * the process): 4 C = 49,152 bytes of dynamic shared memory is within 48 KiB by itself,
     * but with the kernel's 128 static bytes it is not, so the launch needs the opt-in. */
    rmsnorm_case(2, 12260);
    rmsnorm_case(3, 12288);
    rmsnorm_case(1, 7);
    rmsnorm_case(37, 896);
    rmsnorm_case(300, 64); /* more rows than partial blocks: blocks loop over rows */
    rmsnorm_case(3, 13000); /* a dw partial over 48 KiB of shared memory (opt-in) */
    cpu->norm_offset = gpu->norm_offset = 1.0f; /* Gemma's (1 + w) */
    rmsnorm_case(37, 896);
    rmsnorm_case(300, 64);
    cpu->norm_offset = gpu->norm_offset = 0.0f;
}

/* Qwen3's per-head norm of the query and key heads, in place on qkv rows (the value heads
 * and padding past them must not move), forward with and without the saved input, backward
 * with nonzero weight-gradient accumulators, and the backward's dw reproducible bit for bit. */
static void qk_norm_case(int N, int Hq, int Hk, int D) {
    print_message(" qk_norm N=%d Hq=%d Hk=%d D=%d\n", N, Hq, Hk, D);
    int H = Hq + Hk, ld = (Hq + 2 * Hk) * D + 3; /* a row stride with padding */
    size_t nq = (size_t)N * ld, nr = (size_t)N * H * D;
    buf_t *qkv = B(RLC_BUF_ACT, nq), *raw = B(RLC_BUF_ACT, nr), *rstd = B(RLC_BUF_F32, (size_t)N * H);
    buf_t *wq = B(RLC_BUF_PARAM, D), *wk = B(RLC_BUF_PARAM, D);
    float *h0 = fill(qkv, 2.0f);
    float *hw = malloc(D * sizeof(float));
    for (int d = 0; d < D; d++) hw[d] = bfr(1.0f - cpu->norm_offset + 0.3f * (float)rlc_rng_normal(&rng));
    set(wq, hw);
    for (int d = 0; d < D; d++) hw[d] = bfr(1.0f - cpu->norm_offset + 0.3f * (float)rlc_rng_normal(&rng));
    set(wk, hw);
    cpu->qk_norm_fwd(cpu, qkv->c, raw->c, rstd->c, wq->c, wk->c, N, Hq, Hk, D, ld, 1e-6f);
    gpu->qk_norm_fwd(gpu, qkv->g, raw->g, rstd->g, wq->g, wk->g, N, Hq, Hk, D, ld, 1e-6f);
    cmp("qk_norm_fwd qkv", qkv, BF16_ONE);
    cmp("qk_norm_fwd raw", raw, 0);
    cmp("qk_norm_fwd rstd", rstd, F32_ORDER);
    float *hq = get(cpu, qkv);
    for (int n = 0; n < N; n++) /* value heads and padding untouched */
        for (int i = H * D; i < ld; i++) assert_true(hq[(size_t)n * ld + i] == h0[(size_t)n * ld + i]);
    set(qkv, h0); /* inference form: no raw, no rstd */
    cpu->qk_norm_fwd(cpu, qkv->c, NULL, NULL, wq->c, wk->c, N, Hq, Hk, D, ld, 1e-6f);
    gpu->qk_norm_fwd(gpu, qkv->g, NULL, NULL, wq->g, wk->g, N, Hq, Hk, D, ld, 1e-6f);
    cmp("qk_norm_fwd qkv (inference)", qkv, BF16_ONE);
    float *hr = get(cpu, rstd);
    set(rstd, hr);
    buf_t *dq = B(RLC_BUF_ACT, nq), *dwq = B(RLC_BUF_GRAD, D), *dwk = B(RLC_BUF_GRAD, D);
    float *d0 = fill(dq, 1.0f), *wq0 = fill(dwq, 1.0f), *wk0 = fill(dwk, 1.0f);
    cpu->qk_norm_bwd(cpu, dq->c, dwq->c, dwk->c, raw->c, wq->c, wk->c, rstd->c, N, Hq, Hk, D, ld);
    gpu->qk_norm_bwd(gpu, dq->g, dwq->g, dwk->g, raw->g, wq->g, wk->g, rstd->g, N, Hq, Hk, D, ld);
    cmp("qk_norm_bwd dqkv", dq, BF16_ONE);
    cmp("qk_norm_bwd dwq (+=)", dwq, F32_ORDER);
    cmp("qk_norm_bwd dwk (+=)", dwk, F32_ORDER);
    /* OLMo's whole-projection form (one kind of head only): the other weight's gradient is not
     * written on either backend */
    float *gq = get(gpu, dwq), *gk = get(gpu, dwk);
    for (int d = 0; d < D; d++) {
        if (!Hq) assert_true(gq[d] == wq0[d]);
        if (!Hk) assert_true(gk[d] == wk0[d]);
    }
    free(gq), free(gk);
    float *a = get(gpu, dwq);
    set_g(dwq, wq0);
    set_g(dq, d0);
    gpu->qk_norm_bwd(gpu, dq->g, dwq->g, dwk->g, raw->g, wq->g, wk->g, rstd->g, N, Hq, Hk, D, ld);
    float *b = get(gpu, dwq);
    same_bits("qk_norm_bwd dwq", a, b, D);
    free(a), free(b), free(h0), free(hq), free(hw), free(hr), free(d0), free(wq0), free(wk0);
    bufs_free();
}

static void test_qk_norm(void **s) {
    (void)s;
    qk_norm_case(1, 1, 1, 8);
    qk_norm_case(7, 4, 2, 32);
    qk_norm_case(300, 2, 1, 128); /* more rows than partial blocks */
    qk_norm_case(5, 16, 8, 256);
    cpu->norm_offset = gpu->norm_offset = 1.0f; /* Gemma 3's (1 + w) q/k norms */
    qk_norm_case(7, 4, 2, 32);
    qk_norm_case(5, 8, 4, 256);
    cpu->norm_offset = gpu->norm_offset = 0.0f;
    qk_norm_case(7, 1, 0, 96); /* OLMo: the whole q projection (4 heads of 24), then the k one */
    qk_norm_case(300, 0, 1, 40);
}

