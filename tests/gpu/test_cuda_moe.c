/* Parity of the CUDA mixture-of-experts ops (routing, its backward, the weighted combination
 * and its backward) with the CPU reference, through the backend vtable and the shared harness
 * (cuda_harness.h: bf16-rounded inputs on both sides, NaN-filled outputs between guards).
 * Built twice: test_cuda_emu_moe (the emulator, CI) and test_gpu_moe (a real GPU; 77 without). */
#include "cuda_harness.h"

/* The picks must agree exactly (ties go to the lower expert on both sides), the probabilities
 * and weights to fp32 summation order. */
static void route_case(int N, int E, int K, int norm, float scale) {
    buf_t *z = B(RLC_BUF_ACT, (size_t)N * E), *p = B(RLC_BUF_F32, (size_t)N * E), *w = B(RLC_BUF_F32, (size_t)N * K);
    buf_t *idx = B(RLC_BUF_I32, (size_t)N * K);
    free(fill(z, scale));
    cpu->moe_route_fwd(cpu, p->c, w->c, idx->c, z->c, N, E, K, norm);
    gpu->moe_route_fwd(gpu, p->g, w->g, idx->g, z->g, N, E, K, norm);
    char what[64];
    snprintf(what, sizeof what, "route E=%d K=%d norm=%d probs", E, K, norm);
    cmp(what, p, 1e-12);
    snprintf(what, sizeof what, "route E=%d K=%d norm=%d w", E, K, norm);
    cmp(what, w, 1e-12);
    int32_t *ic = malloc((size_t)N * K * 4), *ig = malloc((size_t)N * K * 4);
    assert_int_equal(cpu->download(cpu, ic, idx->c, RLC_BUF_I32, (size_t)N * K), 0);
    assert_int_equal(gpu->download(gpu, ig, idx->g, RLC_BUF_I32, (size_t)N * K), 0);
    for (int i = 0; i < N * K; i++) {
        if (ic[i] != ig[i])
            fail_msg("route E=%d K=%d: pick %d is expert %d on the GPU, %d on the CPU", E, K, i, ig[i], ic[i]);
        assert_true(ic[i] >= 0 && ic[i] < E);
    }
    /* backward from the CPU's routing (the same inputs on both sides) */
    float *hp = get(cpu, p), *hw = get(cpu, w);
    set(p, hp);
    set(w, hw);
    set_i(idx, ic);
    buf_t *dw = B(RLC_BUF_F32, (size_t)N * K), *dz = B(RLC_BUF_ACT, (size_t)N * E);
    free(fill(dw, 1.0f));
    cpu->moe_route_bwd(cpu, dz->c, dw->c, p->c, w->c, idx->c, N, E, K, norm);
    gpu->moe_route_bwd(gpu, dz->g, dw->g, p->g, w->g, idx->g, N, E, K, norm);
    snprintf(what, sizeof what, "route bwd E=%d K=%d norm=%d", E, K, norm);
    cmp(what, dz, BF16_ONE);
    free(hp), free(hw), free(ic), free(ig);
    bufs_free();
}

static void test_moe_route(void **s) {
    (void)s;
    route_case(37, 8, 2, 1, 2.0f);    /* Mixtral-like */
    route_case(29, 128, 8, 1, 1.0f);  /* Qwen3-MoE: 128 experts, 8 each (ties between bf16 logits) */
    route_case(19, 40, 3, 0, 1.5f);   /* E not a multiple of 32, not renormalised (OLMoE) */
    route_case(5, 300, 32, 1, 0.5f);  /* the largest top-k, experts past 256 */
}

/* Routing with a correction bias (GLM-4.5's sigmoid scores, ERNIE 4.5's softmax ones): the picks
 * equal exactly, scores and weights to fp32 order; the backward from the CPU's routing, also in
 * place over the scores on the GPU. */
static void route_biased_case(int N, rlc_moe_route_t r) {
    int E = r.E, K = r.K;
    buf_t *z = B(RLC_BUF_F32, (size_t)N * E), *bias = B(RLC_BUF_F32, (size_t)E), *s = B(RLC_BUF_F32, (size_t)N * E);
    buf_t *w = B(RLC_BUF_F32, (size_t)N * K), *idx = B(RLC_BUF_I32, (size_t)N * K);
    free(fill(z, 1.5f));
    free(fill(bias, r.softmax ? 0.3f / E : 0.3f)); /* on the scores' scale */
    int nob = r.group_max; /* DeepSeek-V2: no bias */
    cpu->moe_route_biased_fwd(cpu, s->c, w->c, idx->c, z->c, nob ? NULL : bias->c, N, &r);
    gpu->moe_route_biased_fwd(gpu, s->g, w->g, idx->g, z->g, nob ? NULL : bias->g, N, &r);
    char what[96], tag[48];
    snprintf(tag, sizeof tag, "%s E=%d K=%d G=%d/%d", r.softmax ? "softmax" : "sigmoid", E, K, r.TG, r.G);
    snprintf(what, sizeof what, "%s scores", tag);
    cmp(what, s, F32_ORDER);
    snprintf(what, sizeof what, "%s w", tag);
    cmp(what, w, F32_ORDER);
    int32_t *ic = malloc((size_t)N * K * 4), *ig = malloc((size_t)N * K * 4);
    assert_int_equal(cpu->download(cpu, ic, idx->c, RLC_BUF_I32, (size_t)N * K), 0);
    assert_int_equal(gpu->download(gpu, ig, idx->g, RLC_BUF_I32, (size_t)N * K), 0);
    for (int i = 0; i < N * K; i++) {
        if (ic[i] != ig[i]) fail_msg("%s: pick %d is expert %d on the GPU, %d on the CPU", tag, i, ig[i], ic[i]);
        assert_true(ic[i] >= 0 && ic[i] < E);
    }
    float *hs = get(cpu, s), *hw = get(cpu, w);
    set(s, hs);
    set(w, hw);
    set_i(idx, ic);
    buf_t *dw = B(RLC_BUF_F32, (size_t)N * K), *dz = B(RLC_BUF_F32, (size_t)N * E);
    free(fill(dw, 1.0f));
    cpu->moe_route_biased_bwd(cpu, dz->c, dw->c, s->c, w->c, idx->c, N, &r);
    gpu->moe_route_biased_bwd(gpu, dz->g, dw->g, s->g, w->g, idx->g, N, &r);
    snprintf(what, sizeof what, "%s bwd", tag);
    cmp(what, dz, F32_ORDER);
    float *want = get(gpu, dz);
    gpu->moe_route_biased_bwd(gpu, s->g, dw->g, s->g, w->g, idx->g, N, &r); /* over the scores */
    float *got = get(gpu, s);
    same_bits("route bwd in place", got, want, (size_t)N * E);
    free(hs), free(hw), free(ic), free(ig), free(want), free(got);
    bufs_free();
}

static void test_moe_route_biased(void **s) {
    (void)s;
    /*                                E    K  G   TG norm softmax scale norm_min */
    route_biased_case(31, (rlc_moe_route_t){8, 3, 4, 2, 1, 0, 2.5f, 0, 0});    /* the GLM fixture's shape */
    route_biased_case(23, (rlc_moe_route_t){160, 8, 1, 1, 1, 0, 1.0f, 0, 0});  /* GLM-4.5: 160 experts, no groups */
    route_biased_case(17, (rlc_moe_route_t){256, 8, 8, 4, 1, 0, 2.5f, 0, 0});  /* DeepSeek-V3's groups: 4 of 8 */
    route_biased_case(13, (rlc_moe_route_t){40, 5, 20, 3, 0, 0, 1.0f, 0, 0});  /* groups of 2, not renormalised */
    route_biased_case(7, (rlc_moe_route_t){512, 32, 64, 8, 1, 0, 0.5f, 0, 0}); /* the largest E and K, groups of 8 */
    route_biased_case(29, (rlc_moe_route_t){64, 6, 1, 1, 1, 1, 1.0f, 1e-12f, 0}); /* ERNIE-4.5-21B-A3B: softmax */
    route_biased_case(11, (rlc_moe_route_t){300, 12, 1, 1, 1, 1, 1.0f, 1e-12f, 0}); /* softmax past 256 experts */
    /* DeepSeek-V2's group_limited_greedy: softmax, no bias, groups ranked by their best */
    route_biased_case(19, (rlc_moe_route_t){160, 6, 8, 3, 0, 1, 16.0f, 1e-12f, 1}); /* DeepSeek-V2 (236B) */
    route_biased_case(9, (rlc_moe_route_t){64, 4, 64, 5, 0, 1, 1.0f, 1e-12f, 1});   /* groups of one expert */
}

/* A random permutation of the N·K rows as inv, weights given or NULL. */
static void combine_case(int N, int K, int C, int weighted) {
    size_t R = (size_t)N * K;
    buf_t *y = B(RLC_BUF_ACT, R * C), *w = B(RLC_BUF_F32, R), *inv = B(RLC_BUF_I32, R);
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * C);
    free(fill(y, 1.0f));
    float *hw = fill(w, 1.0f);
    int32_t *perm = malloc(R * 4);
    for (size_t i = 0; i < R; i++) perm[i] = (int32_t)i;
    for (size_t i = R - 1; i > 0; i--) {
        size_t j = rlc_rng_below(&rng, (uint32_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    set_i(inv, perm);
    const float *wc = weighted ? w->c : NULL, *wg = weighted ? w->g : NULL;
    cpu->moe_combine_fwd(cpu, out->c, y->c, wc, inv->c, N, K, C);
    gpu->moe_combine_fwd(gpu, out->g, y->g, wg, inv->g, N, K, C);
    char what[64];
    snprintf(what, sizeof what, "combine K=%d C=%d%s", K, C, weighted ? "" : " (w = 1)");
    cmp(what, out, BF16_ONE);
    buf_t *dout = B(RLC_BUF_ACT, (size_t)N * C), *dy = B(RLC_BUF_ACT, R * C), *dw = B(RLC_BUF_F32, R);
    free(fill(dout, 1.0f));
    cpu->moe_combine_bwd(cpu, dy->c, dw->c, dout->c, y->c, wc, inv->c, N, K, C);
    gpu->moe_combine_bwd(gpu, dy->g, dw->g, dout->g, y->g, wg, inv->g, N, K, C);
    snprintf(what, sizeof what, "combine bwd dy K=%d C=%d", K, C);
    cmp(what, dy, BF16_ONE);
    snprintf(what, sizeof what, "combine bwd dw K=%d C=%d", K, C);
    cmp(what, dw, 1e-9);
    free(hw), free(perm);
    bufs_free();
}

/* The shared expert's gated add and its backward (dz also in place over z). */
static void test_moe_gate_add(void **s) {
    (void)s;
    const int N = 21, C = 300;
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * C), *y = B(RLC_BUF_ACT, (size_t)N * C), *z = B(RLC_BUF_ACT, (size_t)N);
    free(fill(out, 1.0f));
    free(fill(y, 1.0f));
    float *hz = fill(z, 2.0f);
    cpu->moe_gate_add_fwd(cpu, out->c, y->c, z->c, N, C);
    gpu->moe_gate_add_fwd(gpu, out->g, y->g, z->g, N, C);
    cmp("gate add", out, BF16_TWO);
    buf_t *dout = B(RLC_BUF_ACT, (size_t)N * C), *dy = B(RLC_BUF_ACT, (size_t)N * C), *dz = B(RLC_BUF_ACT, (size_t)N);
    free(fill(dout, 1.0f));
    cpu->moe_gate_add_bwd(cpu, dy->c, dz->c, dout->c, y->c, z->c, N, C);
    gpu->moe_gate_add_bwd(gpu, dy->g, dz->g, dout->g, y->g, z->g, N, C);
    cmp("gate add bwd dy", dy, BF16_ONE);
    cmp("gate add bwd dz", dz, BF16_ONE);
    float *want = get(gpu, dz), *want_dy = get(gpu, dy);
    gpu->moe_gate_add_bwd(gpu, y->g, z->g, dout->g, y->g, z->g, N, C); /* in place: dy over y, dz over z */
    float *got = get(gpu, z), *got_dy = get(gpu, y);
    same_bits("gate add bwd dz in place", got, want, (size_t)N);
    same_bits("gate add bwd dy in place", got_dy, want_dy, (size_t)N * C);
    free(hz), free(want), free(got), free(want_dy), free(got_dy);
    bufs_free();
}

static void test_moe_combine(void **s) {
    (void)s;
    combine_case(23, 2, 48, 1);
    combine_case(17, 8, 300, 1); /* C past one block of threads */
    combine_case(9, 3, 64, 0);   /* the backward's sum of input gradients */
}

int main(void) {
    int rc = harness_start("mixture of experts");
    if (rc) return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_moe_route, setup),
        cmocka_unit_test_setup(test_moe_route_biased, setup),
        cmocka_unit_test_setup(test_moe_combine, setup),
        cmocka_unit_test_setup(test_moe_gate_add, setup),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_stop();
    return rc;
}
