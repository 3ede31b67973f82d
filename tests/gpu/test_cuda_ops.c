/* Parity of every CUDA op with the CPU reference, through the backend vtable: the same random
 * inputs (rounded to bf16 so both backends see identical values) go to both, and each output
 * is compared by normalized MSE (sum (gpu-cpu)^2 / sum cpu^2, as llama.cpp's test-backend-ops),
 * with a per-op limit justified where it is set. GPU outputs sit between guard regions that
 * must survive untouched, and "=" outputs start as NaN so unwritten elements fail.
 * Built twice: test_gpu_ops (a real GPU; exits 77 = skipped without one) and test_cuda_emu
 * (the same kernels compiled against kernels/cuda/emu.h and run on the CPU). The decoding
 * ops (paged attention, sampling), launch limits and bad input are in test_cuda_decode.c. */
#include "cuda_harness.h"

#ifdef RLC_CUDA_EMU
void rlc_cuda_emu_lt_log(long *heuristics, long *bias_calls, long *bias_null, int *min_bias_align);
#endif

/* ---------------------------------------------------------------- memory, elementwise */

static void test_memory(void **s) {
    (void)s;
    assert_int_equal(gpu->is_gpu, 1);
    assert_string_equal(gpu->name, "cuda");
    assert_true(strlen(gpu->device_desc) > 0);
    assert_int_equal(gpu->esize[RLC_BUF_PARAM], 2);
    assert_int_equal(gpu->esize[RLC_BUF_ACT], 2);
    assert_int_equal(gpu->esize[RLC_BUF_GRAD], 4);
    assert_int_equal(gpu->esize[RLC_BUF_F32], 4);
    assert_int_equal(gpu->esize[RLC_BUF_I32], 4);
    /* bf16 upload rounds to nearest even; f32 and int32 are exact */
    float x[5] = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f, 3.14159265f, 1e-20f};
    buf_t *a = B(RLC_BUF_ACT, 5), *f = B(RLC_BUF_F32, 5), *i = B(RLC_BUF_I32, 5);
    set(a, x);
    set(f, x);
    int32_t iv[5] = {0, -1, 7, 2147483647, -2147483647};
    set_i(i, iv);
    float *ga = get(gpu, a), *gf = get(gpu, f);
    assert_float_equal(ga[0], 1.0f, 0); /* tie -> even */
    assert_float_equal(ga[1], 1.0f + 4.0f / 256, 0);
    for (int k = 0; k < 5; k++) {
        assert_true(ga[k] == rlc_bf16_to_f32(rlc_f32_to_bf16(x[k])));
        assert_true(gf[k] == x[k]);
    }
    int32_t gi[5];
    assert_int_equal(gpu->download(gpu, gi, i->g, RLC_BUF_I32, 5), 0);
    assert_memory_equal(gi, iv, sizeof iv);
    /* zero and copy stay inside their range */
    gpu->copy(gpu, a->g, f->g, RLC_BUF_F32, 0);
    buf_t *z = B(RLC_BUF_GRAD, 1000), *z2 = B(RLC_BUF_GRAD, 1000);
    free(fill(z, 1.0f));
    gpu->zero(gpu, z->g, RLC_BUF_GRAD, 1000);
    cpu->zero(cpu, z->c, RLC_BUF_GRAD, 1000);
    cmp("zero", z, 0);
    free(fill(z, 1.0f));
    gpu->copy(gpu, z2->g, z->g, RLC_BUF_GRAD, 1000);
    cpu->copy(cpu, z2->c, z->c, RLC_BUF_GRAD, 1000);
    cmp("copy", z2, 0);
    /* out of memory: NULL and a message naming the buffer and the size */
    void *p = gpu->alloc(gpu, "huge_test_buffer", (size_t)1 << 50, RLC_BUF_F32);
    assert_null(p);
    assert_non_null(strstr(rlc_errmsg(), "huge_test_buffer"));
    assert_non_null(strstr(rlc_errmsg(), "MiB"));
    gpu_ok(); /* a failed alloc is not a sticky compute error */
    free(ga);
    free(gf);
    bufs_free();
}

static void test_elementwise(void **s) {
    (void)s;
    const size_t n = 100003; /* not a multiple of any block size */
    rlc_buf_kind_t kinds[3] = {RLC_BUF_ACT, RLC_BUF_F32, RLC_BUF_GRAD};
    for (int k = 0; k < 3; k++) {
        buf_t *a = B(kinds[k], n), *b = B(kinds[k], n), *o = B(kinds[k], n);
        free(fill(a, 1.0f));
        free(fill(b, 1.0f));
        cpu->add(cpu, o->c, a->c, b->c, kinds[k], n);
        gpu->add(gpu, o->g, a->g, b->g, kinds[k], n);
        cmp("add", o, kinds[k] == RLC_BUF_ACT ? BF16_ONE : 0);
        cpu->add(cpu, a->c, a->c, b->c, kinds[k], n); /* out aliases a */
        gpu->add(gpu, a->g, a->g, b->g, kinds[k], n);
        cmp("add (aliased)", a, kinds[k] == RLC_BUF_ACT ? BF16_ONE : 0);
        cpu->scale(cpu, b->c, kinds[k], n, -0.37f);
        gpu->scale(gpu, b->g, kinds[k], n, -0.37f);
        cmp("scale", b, kinds[k] == RLC_BUF_ACT ? BF16_ONE : 0);
        if (kinds[k] == RLC_BUF_F32) { /* soft-capping (F32 only): values from -3.5 to 3.5 against a cap of 2 */
            cpu->scale(cpu, a->c, kinds[k], n, 1.7f);
            gpu->scale(gpu, a->g, kinds[k], n, 1.7f);
            cpu->softcap(cpu, a->c, n, 2.0f);
            gpu->softcap(gpu, a->g, n, 2.0f);
            cmp("softcap", a, F32_ORDER); /* tanhf of each backend: a few ulps apart */
        }
        double sc = 0, sg = 0;
        cpu->sumsq(cpu, &sc, b->c, kinds[k], n);
        gpu->sumsq(gpu, &sg, b->g, kinds[k], n);
        gpu_ok();
        double ref = 0;
        float *hb = get(gpu, b);
        for (size_t i = 0; i < n; i++) ref += (double)hb[i] * hb[i];
        print_message("  sumsq kind %d: gpu %.12g cpu %.12g ref %.12g\n", (int)kinds[k], sg, sc, ref);
        assert_true(fabs(sg - ref) <= 1e-9 * ref); /* double accumulation of identical values */
        double sg2 = 0;
        gpu->sumsq(gpu, &sg2, b->g, kinds[k], n);
        assert_true(sg2 == sg); /* fixed reduction order */
        free(hb);
        bufs_free();
    }
    /* ACT <-> F32 */
    buf_t *a = B(RLC_BUF_ACT, n), *f = B(RLC_BUF_F32, n), *f2 = B(RLC_BUF_F32, n);
    free(fill(a, 3.0f));
    cpu->act_to_f32(cpu, f->c, a->c, n);
    gpu->act_to_f32(gpu, f->g, a->g, n);
    cmp("act_to_f32", f, 0);
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)rlc_rng_normal(&rng); /* not bf16-exact: the cast rounds */
    set(f2, x);
    cpu->f32_to_act(cpu, a->c, f2->c, n);
    gpu->f32_to_act(gpu, a->g, f2->g, n);
    cmp("f32_to_act", a, BF16_ONE);
    float *ga = get(gpu, a);
    for (size_t i = 0; i < n; i++)
        if (ga[i] != bfr(x[i])) fail_msg("f32_to_act[%zu]: %g is not the nearest bf16 of %g", i, ga[i], x[i]);
    free(ga);
    free(x);
    bufs_free();
}

/* ---------------------------------------------------------------- embedding */

static void test_embedding(void **s) {
    (void)s;
    const int V = 50, C = 300, N = 203; /* few ids, many tokens: every id repeats */
    buf_t *wte = B(RLC_BUF_PARAM, (size_t)V * C), *out = B(RLC_BUF_ACT, (size_t)N * C);
    buf_t *ids = B(RLC_BUF_I32, N), *dwte = B(RLC_BUF_GRAD, (size_t)V * C), *dout = B(RLC_BUF_ACT, (size_t)N * C);
    free(fill(wte, 1.0f));
    int32_t id[203];
    for (int n = 0; n < N; n++) id[n] = (int32_t)rlc_rng_below(&rng, V);
    id[0] = V - 1;
    set_i(ids, id);
    cpu->embedding_fwd(cpu, out->c, ids->c, wte->c, N, C);
    gpu->embedding_fwd(gpu, out->g, ids->g, wte->g, N, C);
    cmp("embedding_fwd", out, 0); /* a copy: exact */
    free(fill(dout, 1.0f));
    float *d0 = fill(dwte, 1.0f); /* += onto nonzero gradients */
    cpu->embedding_bwd(cpu, dwte->c, dout->c, ids->c, N, C);
    gpu->embedding_bwd(gpu, dwte->g, dout->g, ids->g, N, C);
    /* fp32 sums of identical bf16 values in a different association */
    cmp("embedding_bwd", dwte, F32_ORDER);
    float *r1 = get(gpu, dwte);
    set_g(dwte, d0);
    gpu->embedding_bwd(gpu, dwte->g, dout->g, ids->g, N, C);
    float *r2 = get(gpu, dwte);
    same_bits("embedding_bwd", r1, r2, (size_t)V * C);
    free(r1);
    free(r2);
    free(d0);
    /* a single token */
    cpu->embedding_bwd(cpu, dwte->c, dout->c, ids->c, 1, C);
    gpu->embedding_bwd(gpu, dwte->g, dout->g, ids->g, 1, C);
    cmp("embedding_bwd N=1", dwte, F32_ORDER);
    bufs_free();
}

#include "cuda_norm_cases.h"

/* ---------------------------------------------------------------- rope */

/* R: the rotated dims of each head (D, or fewer under a partial rotary factor); ms: the
 * factor on cos and sin; il: interleaved pairs */
static void rope_case(int R, float ms, int il) {
    const int N = 45, Hq = 4, Hk = 2, D = 64, ld = (Hq + 2 * Hk) * D;
    print_message(" rope D=%d R=%d mscale=%g%s\n", D, R, (double)ms, il ? " interleaved" : "");
    buf_t *x = B(RLC_BUF_ACT, (size_t)N * ld), *pos = B(RLC_BUF_I32, N), *inv = B(RLC_BUF_F32, D / 2);
    float *hx = fill(x, 1.0f);
    int32_t p[45];
    for (int n = 0; n < N; n++) p[n] = n < 20 ? n : (int32_t)rlc_rng_below(&rng, 32768); /* long positions too */
    set_i(pos, p);
    float f[32];
    for (int i = 0; i < D / 2; i++) f[i] = (float)pow(1e6, -2.0 * i / R);
    set(inv, f);
    cpu->rope_fwd(cpu, x->c, pos->c, inv->c, N, Hq + Hk, D, R, ms, ld, il);
    gpu->rope_fwd(gpu, x->g, pos->g, inv->g, N, Hq + Hk, D, R, ms, ld, il);
    cmp("rope_fwd", x, BF16_ONE);
    float *g = get(gpu, x);
    for (int n = 0; n < N; n++) /* the v heads are not rotated, nor a head's dims from R on */
        for (int j = 0; j < ld; j++)
            if ((j >= (Hq + Hk) * D || j % D >= R) && g[(size_t)n * ld + j] != hx[(size_t)n * ld + j])
                fail_msg("rope_fwd touched an unrotated element at [%d,%d]", n, j);
    free(g);
    free(hx);
    free(fill(x, 1.0f));
    cpu->rope_bwd(cpu, x->c, pos->c, inv->c, N, Hq + Hk, D, R, ms, ld, il);
    gpu->rope_bwd(gpu, x->g, pos->g, inv->g, N, Hq + Hk, D, R, ms, ld, il);
    cmp("rope_bwd", x, BF16_ONE);
    bufs_free();
}

static void test_rope(void **s) {
    (void)s;
    rope_case(64, 1.0f, 0);
    rope_case(48, 1.1832f, 0); /* partial rotary factor 0.75 under LongRoPE's attention factor (Phi-4-mini) */
    rope_case(64, 1.0f, 1);    /* interleaved pairs (ERNIE 4.5) */
    rope_case(32, 1.0f, 1);    /* interleaved over half of each head */
}

/* ---------------------------------------------------------------- swiglu */

static void test_swiglu(void **s) {
    (void)s;
    const int N = 33, F = 517;
    buf_t *gu = B(RLC_BUF_ACT, (size_t)N * 2 * F), *out = B(RLC_BUF_ACT, (size_t)N * F);
    buf_t *dout = B(RLC_BUF_ACT, (size_t)N * F), *dgu = B(RLC_BUF_ACT, (size_t)N * 2 * F);
    free(fill(gu, 2.0f));
    cpu->swiglu_fwd(cpu, out->c, gu->c, N, F);
    gpu->swiglu_fwd(gpu, out->g, gu->g, N, F);
    cmp("swiglu_fwd", out, BF16_ONE);
    free(fill(dout, 1.0f));
    cpu->swiglu_bwd(cpu, dgu->c, dout->c, gu->c, N, F);
    gpu->swiglu_bwd(gpu, dgu->g, dout->g, gu->g, N, F);
    cmp("swiglu_bwd", dgu, BF16_ONE);
    bufs_free();
}

/* Gemma's GeGLU (gelu_pytorch_tanh), past the tanh's saturation on both sides. */
static void test_geglu(void **s) {
    (void)s;
    const int N = 29, F = 389;
    buf_t *gu = B(RLC_BUF_ACT, (size_t)N * 2 * F), *out = B(RLC_BUF_ACT, (size_t)N * F);
    buf_t *dout = B(RLC_BUF_ACT, (size_t)N * F), *dgu = B(RLC_BUF_ACT, (size_t)N * 2 * F);
    free(fill(gu, 3.0f));
    cpu->geglu_fwd(cpu, out->c, gu->c, N, F);
    gpu->geglu_fwd(gpu, out->g, gu->g, N, F);
    cmp("geglu_fwd", out, BF16_ONE);
    free(fill(dout, 1.0f));
    cpu->geglu_bwd(cpu, dgu->c, dout->c, gu->c, N, F);
    gpu->geglu_bwd(gpu, dgu->g, dout->g, gu->g, N, F);
    cmp("geglu_bwd", dgu, BF16_ONE);
    bufs_free();
}

/* ---------------------------------------------------------------- matmul */

static void matmul_case(int N, int IC, int OC, int bias) {
    print_message(" matmul N=%d IC=%d OC=%d bias=%d\n", N, IC, OC, bias);
    buf_t *inp = B(RLC_BUF_ACT, (size_t)N * IC), *w = B(RLC_BUF_PARAM, (size_t)OC * IC), *b = B(RLC_BUF_PARAM, OC);
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * OC), *dout = B(RLC_BUF_ACT, (size_t)N * OC);
    buf_t *dinp = B(RLC_BUF_ACT, (size_t)N * IC), *dw = B(RLC_BUF_GRAD, (size_t)OC * IC), *db = B(RLC_BUF_GRAD, OC);
    free(fill(inp, 1.0f));
    free(fill(w, 0.1f));
    free(fill(b, 1.0f));
    cpu->matmul_fwd(cpu, out->c, inp->c, w->c, bias ? b->c : NULL, N, IC, OC);
    gpu->matmul_fwd(gpu, out->g, inp->g, w->g, bias ? b->g : NULL, N, IC, OC);
    cmp("matmul_fwd", out, BF16_ONE);
    free(fill(dout, 1.0f));
    free(fill(dw, 1.0f));
    free(fill(db, 1.0f));
    cpu->matmul_bwd(cpu, dinp->c, dw->c, bias ? db->c : NULL, dout->c, inp->c, w->c, N, IC, OC);
    gpu->matmul_bwd(gpu, dinp->g, dw->g, bias ? db->g : NULL, dout->g, inp->g, w->g, N, IC, OC);
    cmp("matmul_bwd dinp", dinp, BF16_ONE);
    cmp("matmul_bwd dw (+=)", dw, F32_ORDER);
    cmp("matmul_bwd dbias (+=)", db, F32_ORDER);
    /* dinp NULL: only the parameter gradients, accumulating again */
    cpu->matmul_bwd(cpu, NULL, dw->c, NULL, dout->c, inp->c, w->c, N, IC, OC);
    gpu->matmul_bwd(gpu, NULL, dw->g, NULL, dout->g, inp->g, w->g, N, IC, OC);
    cmp("matmul_bwd dw, no dinp", dw, F32_ORDER);
    bufs_free();
}

static void test_matmul(void **s) {
    (void)s;
    matmul_case(64, 128, 192, 1);
    matmul_case(33, 70, 50, 1); /* odd sizes: 2-byte aligned rows */
    matmul_case(5, 64, 896, 0);
    /* a bias view that is only 2-byte aligned (the GEMM then adds it separately) */
    const int N = 16, IC = 64, OC = 48;
    buf_t *inp = B(RLC_BUF_ACT, (size_t)N * IC), *w = B(RLC_BUF_PARAM, (size_t)OC * IC), *b = B(RLC_BUF_PARAM, OC + 1);
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * OC);
    free(fill(inp, 1.0f));
    free(fill(w, 0.1f));
    free(fill(b, 1.0f));
    cpu->matmul_fwd(cpu, out->c, inp->c, w->c, (float *)b->c + 1, N, IC, OC);
    gpu->matmul_fwd(gpu, out->g, inp->g, w->g, (char *)b->g + 2, N, IC, OC);
    cmp("matmul_fwd, unaligned bias", out, BF16_TWO); /* GEMM result rounded, then the bias sum */
    bufs_free();
#ifdef RLC_CUDA_EMU
    /* the cuBLASLt stand-in saw every BIAS-epilogue heuristic with its pointer set, and never
     * a vector aligned below 16 bytes (those went through the separate add) */
    long heur, bias_calls, bias_null;
    int min_align;
    rlc_cuda_emu_lt_log(&heur, &bias_calls, &bias_null, &min_align);
    print_message("  cuBLASLt heuristic: %ld calls, %ld with a bias (%ld NULL), smallest bias alignment %d\n", heur,
                  bias_calls, bias_null, min_align);
    assert_true(bias_calls >= 2);
    assert_int_equal(bias_null, 0);
    assert_true(min_align >= 16);
#endif
}

/* ---------------------------------------------------------------- row-invariant matmul */

/* The row-invariant kernels, each in a backend of its own (RLC_CUDA_ROWINV is read when a
 * backend is created): the SIMT kernel (gemm_rows.cu), the tensor-core kernel
 * (gemm_rows_tc.cu) choosing its launch shape per call, and the tensor-core kernel forced
 * into each of its two shapes, which must give the tc bits as well. They work on `gpu`'s
 * buffers (one device; uploads are synchronous, and every op is followed by its own
 * backend's check(), which waits for its stream). */
enum { NRI = 4 };
static const char *ri_names[NRI] = {"simt", "tc", "tc-split", "tc-tile"};
static rlc_backend_t *ri_be[NRI];

static void ri_ok(rlc_backend_t *be) {
    if (be->check(be)) fail_msg("gpu check(): %s", rlc_errmsg());
}

/* The generation path (be->row_invariant set on both sides; the CPU then uses its own
 * fixed-order kernel) against the CPU. woff shifts the weight and bias views by that many
 * elements: views into the parameter buffer need not be 16-byte aligned. */
static void rowinv_matmul_case(rlc_backend_t *g, int N, int IC, int OC, int bias, int woff) {
    print_message(" row-invariant matmul N=%d IC=%d OC=%d bias=%d weight offset %d\n", N, IC, OC, bias, woff);
    buf_t *inp = B(RLC_BUF_ACT, (size_t)N * IC), *w = B(RLC_BUF_PARAM, (size_t)OC * IC + woff);
    buf_t *b = B(RLC_BUF_PARAM, (size_t)OC + woff), *out = B(RLC_BUF_ACT, (size_t)N * OC);
    free(fill(inp, 1.0f));
    free(fill(w, 0.1f));
    free(fill(b, 1.0f));
    const float *wc = (const float *)w->c + woff, *bc = (const float *)b->c + woff;
    const char *wg = (const char *)w->g + 2 * woff, *bg = (const char *)b->g + 2 * woff;
    cpu->row_invariant = g->row_invariant = 1;
    cpu->matmul_fwd(cpu, out->c, inp->c, wc, bias ? bc : NULL, N, IC, OC);
    g->matmul_fwd(g, out->g, inp->g, wg, bias ? bg : NULL, N, IC, OC);
    cpu->row_invariant = g->row_invariant = 0;
    ri_ok(g);
    cmp("matmul_fwd row-invariant", out, BF16_ONE); /* fp32 sums in another order, one rounding */
    bufs_free();
}

static void rowinv_logits_case(rlc_backend_t *g, int M, int C, int V, int woff) {
    print_message(" row-invariant logits M=%d C=%d V=%d weight offset %d\n", M, C, V, woff);
    buf_t *h = B(RLC_BUF_ACT, (size_t)M * C), *w = B(RLC_BUF_PARAM, (size_t)V * C + woff);
    buf_t *lg = B(RLC_BUF_F32, (size_t)M * V);
    free(fill(h, 1.0f));
    free(fill(w, 0.2f));
    cpu->row_invariant = g->row_invariant = 1;
    cpu->logits(cpu, lg->c, h->c, (const float *)w->c + woff, M, C, V);
    g->logits(g, lg->g, h->g, (const char *)w->g + 2 * woff, M, C, V);
    cpu->row_invariant = g->row_invariant = 0;
    ri_ok(g);
    cmp("logits row-invariant", lg, 1e-10); /* fp32 from identical inputs: summation order only */
    bufs_free();
}

/* Shapes: IC % 8 != 0 (scalar loads, a K tail), IC % 8 == 0 through aligned (16-byte loads)
 * and 2-byte aligned views, IC = 300 and 896 (2 and 7 K segments in the tc kernel), row
 * counts for every launch shape of both kernels (1 .. 8 rows per SIMT warp; tc split tiles of
 * 16, 32, 64 rows, 64-row tiles, two row tiles at N = 70). */
static void test_matmul_row_invariant(void **s) {
    (void)s;
    for (int v = 0; v < NRI; v++) {
        print_message(" -- RLC_CUDA_ROWINV=%s\n", ri_names[v]);
        rlc_backend_t *g = ri_be[v];
        rowinv_matmul_case(g, 37, 67, 45, 1, 0);
        rowinv_matmul_case(g, 7, 67, 45, 0, 1);
        rowinv_matmul_case(g, 5, 64, 96, 1, 0);
        rowinv_matmul_case(g, 1, 64, 96, 1, 1);
        rowinv_matmul_case(g, 2, 896, 130, 1, 0);
        rowinv_matmul_case(g, 20, 896, 70, 0, 0);
        rowinv_matmul_case(g, 70, 300, 45, 1, 1);
        rowinv_logits_case(g, 3, 67, 1003, 0);
        rowinv_logits_case(g, 9, 64, 1003, 1);
        rowinv_logits_case(g, 40, 300, 1003, 0);
    }
}

/* Inputs that make any change of summation order visible even after bf16 rounding:
 * x[:, 0] = +2^18 and x[:, IC-1] = -2^18 while the weights of both columns are equal, so the
 * exact products cancel and what the output keeps of them is the rounding residue of the
 * kernel's particular association. hx [rows, IC], hw [OC, IC], both bf16 values. */
static void cancelling_inputs(float *hx, int rows, float *hw, int OC, int IC) {
    const float BIG = 262144.0f;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < IC; k++)
            hx[(size_t)r * IC + k] = k == 0 ? BIG : k == IC - 1 ? -BIG : bfr((float)rlc_rng_normal(&rng));
    for (int j = 0; j < OC; j++)
        for (int k = 0; k < IC; k++)
            hw[(size_t)j * IC + k] = k == IC - 1 ? hw[(size_t)j * IC] : bfr(0.1f * (float)rlc_rng_normal(&rng));
}

/* Row r of a batch of NB = 70 through the row-invariant path of backend g must be the same bits
 * computed alone or in batches of 3, 7, 20 or 37 at other positions, and through a weight
 * view of other alignment (vector vs scalar loads); the inputs cancel (above), so a different
 * order would show. The batch sizes cross every launch-shape boundary of both kernels. Returns
 * the batch-of-70 output (NB x OC floats) for comparisons between backends. */
enum { RI_NB = 70 };
static float *rowinv_bitwise_case(rlc_backend_t *g, int IC, int OC, int logits) {
    enum { NB = RI_NB, NS = 37 };
    rlc_buf_kind_t out_kind = logits ? RLC_BUF_F32 : RLC_BUF_ACT;
    buf_t *x = B(RLC_BUF_ACT, (size_t)NB * IC), *w = B(RLC_BUF_PARAM, (size_t)OC * IC + 1), *b = B(RLC_BUF_PARAM, OC);
    buf_t *o = B(out_kind, (size_t)NB * OC), *xs = B(RLC_BUF_ACT, (size_t)NS * IC), *os = B(out_kind, (size_t)NS * OC);
    float *hx = malloc((size_t)NB * IC * sizeof(float)), *hw = malloc((size_t)OC * IC * sizeof(float));
    float *hs = malloc((size_t)NS * IC * sizeof(float));
    rlc_rng_init(&rng, 777, (uint64_t)IC * 1000 + (uint64_t)OC); /* the same inputs for every backend */
    cancelling_inputs(hx, NB, hw, OC, IC);
    set_g(x, hx);
    assert_int_equal(gpu->upload(gpu, w->g, RLC_BUF_PARAM, hw, (size_t)OC * IC), 0);
    free(fill(b, 1.0f));
    g->row_invariant = 1;
#define RUN(out, in, wt, n)                                                                                            \
    do {                                                                                                               \
        if (logits)                                                                                                    \
            g->logits(g, (float *)(out), (in), (wt), (n), IC, OC);                                                     \
        else                                                                                                           \
            g->matmul_fwd(g, (out), (in), (wt), b->g, (n), IC, OC);                                                    \
        ri_ok(g);                                                                                                      \
    } while (0)
    RUN(o->g, x->g, w->g, NB);
    float *ref = get(gpu, o), *got = malloc((size_t)NB * OC * sizeof(float));
    const int rows[3] = {0, 6, NB - 1}, ns[5] = {1, 3, 7, 20, NS}, at[5] = {0, 2, 3, 19, 11};
    int bad = 0;
    for (int ri = 0; ri < 3; ri++)
        for (int bi = 0; bi < 5; bi++) {
            int r = rows[ri], n = ns[bi], p = at[bi];
            for (int i = 0; i < n; i++) { /* row r at position p, other rows around it */
                int src = i == p ? r : (r + 1 + i) % NB;
                memcpy(hs + (size_t)i * IC, hx + (size_t)src * IC, (size_t)IC * sizeof(float));
            }
            assert_int_equal(gpu->upload(gpu, xs->g, RLC_BUF_ACT, hs, (size_t)n * IC), 0);
            RUN(os->g, xs->g, w->g, n);
            assert_int_equal(gpu->download(gpu, got, os->g, out_kind, (size_t)n * OC), 0);
            if (memcmp(got + (size_t)p * OC, ref + (size_t)r * OC, (size_t)OC * sizeof(float))) {
                print_message("    row %d: batch of %d (position %d) differs from the batch of %d\n", r, n, p, NB);
                bad++;
            }
        }
    /* the same weights through a view that is only 2-byte aligned: scalar loads, same sums */
    assert_int_equal(gpu->upload(gpu, (char *)w->g + 2, RLC_BUF_PARAM, hw, (size_t)OC * IC), 0);
    RUN(o->g, x->g, (char *)w->g + 2, NB);
    assert_int_equal(gpu->download(gpu, got, o->g, out_kind, (size_t)NB * OC), 0);
    if (memcmp(got, ref, (size_t)NB * OC * sizeof(float))) {
        print_message("    an unaligned weight view changes the result\n");
        bad++;
    }
#undef RUN
    g->row_invariant = 0;
    guards_ok("row-invariant out", o);
    guards_ok("row-invariant out (small batches)", os);
    if (bad) fail_msg("row-invariant %s: %d row(s) depend on the batch", logits ? "logits" : "matmul", bad);
    free(hx);
    free(hw);
    free(hs);
    free(got);
    bufs_free();
    return ref;
}

/* Every kernel on every shape, then: the tc kernel's launch shapes agree bit for bit (the
 * forced split and tile shapes and the per-call choice), and the SIMT kernel really is
 * another order (so the comparisons above can fail). */
static void test_row_invariant_bitwise(void **s) {
    (void)s;
    static const int shapes[][3] = {{67, 45, 0}, {64, 45, 0}, {300, 45, 0}, {896, 45, 0},
                                    {67, 300, 1}, {64, 300, 1}, {300, 300, 1}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const int IC = shapes[c][0], OC = shapes[c][1], logits = shapes[c][2];
        float *ref[NRI];
        for (int v = 0; v < NRI; v++) {
            print_message(" row-invariant %s bitwise: IC=%d OC=%d, RLC_CUDA_ROWINV=%s\n", logits ? "logits" : "matmul",
                          IC, OC, ri_names[v]);
            ref[v] = rowinv_bitwise_case(ri_be[v], IC, OC, logits);
        }
        const size_t bytes = (size_t)RI_NB * OC * sizeof(float);
        for (int v = 2; v < NRI; v++)
            if (memcmp(ref[v], ref[1], bytes)) fail_msg("IC=%d OC=%d: %s and tc differ", IC, OC, ri_names[v]);
        if (!memcmp(ref[0], ref[1], bytes)) fail_msg("IC=%d OC=%d: simt and tc agree bit for bit", IC, OC);
        for (int v = 0; v < NRI; v++) free(ref[v]);
    }
}

/* RLC_CUDA_ROW_INVARIANT=0: the backend ignores the flag (cuBLASLt, or the emulator's loop),
 * bit for bit as with the flag clear; without RLC_CUDA_ROWINV the tc kernel runs (the
 * default); and both row-invariant kernels really switch paths for
 * both ops (on cancelling inputs another summation order changes some outputs; IC = 300
 * splits K for the tc kernel, whose single chain would otherwise match the emulator's loop). */
static void test_row_invariant_knob(void **s) {
    (void)s;
    const int N = 5, IC = 300, OC = 45;
    buf_t *x = B(RLC_BUF_ACT, (size_t)N * IC), *w = B(RLC_BUF_PARAM, (size_t)OC * IC), *b = B(RLC_BUF_PARAM, OC);
    buf_t *o = B(RLC_BUF_ACT, (size_t)N * OC), *lg = B(RLC_BUF_F32, (size_t)N * OC);
    float *hx = malloc((size_t)N * IC * sizeof(float)), *hw = malloc((size_t)OC * IC * sizeof(float));
    cancelling_inputs(hx, N, hw, OC, IC);
    set_g(x, hx);
    set_g(w, hw);
    free(fill(b, 1.0f));
    rlc_backend_t *off = NULL;
    setenv("RLC_CUDA_ROW_INVARIANT", "0", 1);
    int rc = rlc_cuda_backend_create(&off, 0, 2);
    unsetenv("RLC_CUDA_ROW_INVARIANT");
    assert_int_equal(rc, 0);
    for (int v = 0; v < 2; v++)
        for (int op = 0; op < 2; op++) {
            const char *what = op ? "matmul_fwd" : "logits";
            buf_t *ob = op ? o : lg;
            float *r[4];
            for (int i = 0; i < 4; i++) { /* flag clear; set; set on the knob=0 backend; on the default one */
                rlc_backend_t *be = i == 3 ? gpu : i == 2 ? off : ri_be[v];
                be->row_invariant = i > 0;
                if (op)
                    be->matmul_fwd(be, o->g, x->g, w->g, b->g, N, IC, OC);
                else
                    be->logits(be, lg->g, x->g, w->g, N, IC, OC);
                be->row_invariant = 0;
                assert_int_equal(be->check(be), 0);
                r[i] = get(gpu, ob);
            }
            if (!memcmp(r[0], r[1], ob->n * sizeof(float)))
                fail_msg("%s (%s): row_invariant did not change the path", what, ri_names[v]);
            if (memcmp(r[0], r[2], ob->n * sizeof(float)))
                fail_msg("%s: RLC_CUDA_ROW_INVARIANT=0, yet the flag changed the result", what);
            if (v == 1 && memcmp(r[1], r[3], ob->n * sizeof(float)))
                fail_msg("%s: the default backend does not use the tc kernel", what);
            for (int i = 0; i < 4; i++) free(r[i]);
        }
    rlc_backend_destroy(off);
    free(hx);
    free(hw);
    bufs_free();
}

/* ---------------------------------------------------------------- attention */

/* win > 0: a sliding window (backend.h); cap > 0: soft-capped scores */
static void attention_case_cap(int nseq, const int *lens, int Hq, int Hk, int D, int win, float cap) {
    int cu[8] = {0}, N = 0, maxlen = 0;
    for (int i = 0; i < nseq; i++) {
        N += lens[i];
        cu[i + 1] = N;
        if (lens[i] > maxlen) maxlen = lens[i];
    }
    print_message(" attention nseq=%d N=%d max=%d Hq=%d Hk=%d D=%d window=%d softcap=%g\n", nseq, N, maxlen, Hq, Hk, D,
                  win, cap);
    size_t W = (size_t)(Hq + 2 * Hk) * D;
    float scale = 1.0f / sqrtf((float)D);
    buf_t *qkv = B(RLC_BUF_ACT, N * W), *out = B(RLC_BUF_ACT, (size_t)N * Hq * D), *lse = B(RLC_BUF_F32, (size_t)N * Hq);
    buf_t *cus = B(RLC_BUF_I32, nseq + 1), *dout = B(RLC_BUF_ACT, (size_t)N * Hq * D), *dqkv = B(RLC_BUF_ACT, N * W);
    free(fill(qkv, 1.5f)); /* scores of a few units: a peaked but not one-hot softmax */
    set_i(cus, cu);
    cpu->attention_fwd(cpu, out->c, lse->c, qkv->c, cus->c, nseq, maxlen, N, Hq, Hk, D, scale, cap, win);
    gpu->attention_fwd(gpu, out->g, lse->g, qkv->g, cus->g, nseq, maxlen, N, Hq, Hk, D, scale, cap, win);
    cmp("attention_fwd out", out, BF16_ONE);
    cmp("attention_fwd lse", lse, F32_ORDER);
    /* backward from identical inputs: the CPU's out (rounded to bf16) and lse on both sides */
    float *ho = get(cpu, out), *hl = get(cpu, lse);
    for (size_t i = 0; i < out->n; i++) ho[i] = bfr(ho[i]);
    set(out, ho);
    set(lse, hl);
    free(fill(dout, 1.0f));
    cpu->attention_bwd(cpu, dqkv->c, dout->c, qkv->c, out->c, lse->c, cus->c, nseq, maxlen, N, Hq, Hk, D, scale, cap,
                       win);
    gpu->attention_bwd(gpu, dqkv->g, dout->g, qkv->g, out->g, lse->g, cus->g, nseq, maxlen, N, Hq, Hk, D, scale, cap,
                       win);
    /* one rounding of dq/dk/dv; dS = P (dP - delta) loses a little to cancellation */
    cmp("attention_bwd dqkv", dqkv, BF16_TWO);
    float *a = get(gpu, dqkv);
    gpu->attention_bwd(gpu, dqkv->g, dout->g, qkv->g, out->g, lse->g, cus->g, nseq, maxlen, N, Hq, Hk, D, scale, cap,
                       win);
    float *b = get(gpu, dqkv);
    same_bits("attention_bwd", a, b, dqkv->n);
    free(a);
    free(b);
    free(ho);
    free(hl);
    bufs_free();
}

static void attention_case(int nseq, const int *lens, int Hq, int Hk, int D, int win) {
    attention_case_cap(nseq, lens, Hq, Hk, D, win, 0.0f);
}

static void test_attention(void **s) {
    (void)s;
    int l1[3] = {1, 37, 70}; /* a 1-token sequence, partial tiles, several tiles */
    attention_case(3, l1, 4, 2, 64, 0);
    int l2[1] = {100};
    attention_case(1, l2, 2, 2, 128, 0); /* MHA, D = 128 */
    int l3[2] = {33, 32};
    attention_case(2, l3, 6, 1, 80, 0); /* MQA, a head size that is not a power of two (fp32 kernels) */
    attention_case(2, l3, 6, 1, 80, 5); /* sliding window: tiles of 32 skipped and partly masked */
    int l4[2] = {130, 64};
    attention_case(2, l4, 8, 2, 64, 0); /* 3 tiles of 64, 4 query heads per kv head */
    attention_case(2, l4, 8, 2, 64, 40); /* a window of 40: tiles of 64 skipped, straddled */
    attention_case(3, l1, 4, 2, 64, 1);  /* each token sees only itself */
    /* Gemma 2's soft-capped scores (a cap of 1.5: well inside tanh's bend), fp32 and tensor-core kernels */
    attention_case_cap(2, l3, 6, 1, 80, 5, 1.5f);
    attention_case_cap(2, l4, 8, 2, 64, 40, 1.5f);
    attention_case_cap(1, l2, 2, 2, 128, 0, 1.5f);
    /* D 64 and 128 run on tensor cores; the fp32 kernels must stay right for them too */
    rlc_backend_t *tc = gpu, *simple = NULL;
    setenv("RLC_CUDA_ATTN", "simple", 1);
    int rc = rlc_cuda_backend_create(&simple, 0, 2);
    unsetenv("RLC_CUDA_ATTN");
    assert_int_equal(rc, 0);
    gpu = simple;
    print_message(" (fp32 attention kernels, RLC_CUDA_ATTN=simple)\n");
    attention_case(3, l1, 4, 2, 64, 0);
    attention_case(1, l2, 2, 2, 128, 0);
    attention_case(2, l4, 8, 2, 64, 40);
    attention_case_cap(3, l1, 4, 2, 64, 0, 1.5f);
    gpu = tc;
    rlc_backend_destroy(simple);
}

/* ---------------------------------------------------------------- LM head */

static void lmhead_case(int N, int C, int V, int with_dent, float cap) {
    print_message(" lmhead N=%d C=%d V=%d dent=%d softcap=%g\n", N, C, V, with_dent, cap);
    float inv_temp = 1.0f / 0.7f;
    buf_t *h = B(RLC_BUF_ACT, (size_t)N * C), *w = B(RLC_BUF_PARAM, (size_t)V * C), *tg = B(RLC_BUF_I32, N);
    buf_t *logp = B(RLC_BUF_F32, N), *ent = B(RLC_BUF_F32, N), *dlogp = B(RLC_BUF_F32, N), *dent = B(RLC_BUF_F32, N);
    buf_t *dh = B(RLC_BUF_ACT, (size_t)N * C), *dw = B(RLC_BUF_GRAD, (size_t)V * C), *lg = B(RLC_BUF_F32, (size_t)3 * V);
    free(fill(h, 1.0f));
    free(fill(w, 0.2f));
    int32_t t[64];
    for (int n = 0; n < N; n++) t[n] = (n % 5 == 3) ? -1 : (int32_t)rlc_rng_below(&rng, V); /* some masked rows */
    t[0] = V - 1;
    set_i(tg, t);
    cpu->lmhead_fwd(cpu, logp->c, ent->c, h->c, w->c, tg->c, N, C, V, inv_temp, cap);
    gpu->lmhead_fwd(gpu, logp->g, ent->g, h->g, w->g, tg->g, N, C, V, inv_temp, cap);
    /* fp32 logits from identical bf16 inputs: only the summation order differs */
    cmp("lmhead_fwd logp", logp, 1e-8);
    cmp("lmhead_fwd entropy", ent, 1e-8);
    free(fill(dlogp, 1.0f));
    free(fill(dent, 0.1f));
    free(fill(dw, 1.0f));
    cpu->lmhead_bwd(cpu, dh->c, dw->c, logp->c, ent->c, dlogp->c, with_dent ? dent->c : NULL, h->c, w->c, tg->c, N, C,
                    V, inv_temp, cap);
    gpu->lmhead_bwd(gpu, dh->g, dw->g, logp->g, ent->g, dlogp->g, with_dent ? dent->g : NULL, h->g, w->g, tg->g, N, C,
                    V, inv_temp, cap);
    cmp("lmhead_bwd logp", logp, 1e-8);
    cmp("lmhead_bwd entropy", ent, 1e-8);
    /* dz is stored in bf16 before the two GEMMs: one rounding feeding dh (rounded again) and dw */
    cmp("lmhead_bwd dh", dh, BF16_TWO);
    cmp("lmhead_bwd dw (+=)", dw, BF16_ONE);
    cpu->logits(cpu, lg->c, h->c, w->c, 3, C, V);
    gpu->logits(gpu, lg->g, h->g, w->g, 3, C, V);
    cmp("logits", lg, 1e-10);
    bufs_free();
}

static void test_lmhead(void **s) {
    (void)s;
    lmhead_case(20, 64, 1003, 1, 0); /* RLC_CUDA_LMHEAD_CHUNK=7 (set in main): chunks 7, 7, 6 */
    lmhead_case(9, 128, 512, 0, 0);
    lmhead_case(20, 64, 1003, 1, 1.5f); /* Gemma 2's soft-capped logits (logits of a few units, capped at 1.5) */
}

/* ---------------------------------------------------------------- AdamW */

static void test_adamw(void **s) {
    (void)s;
    const size_t n = 10007;
    buf_t *p = B(RLC_BUF_PARAM, n), *g = B(RLC_BUF_GRAD, n), *m = B(RLC_BUF_F32, n), *v = B(RLC_BUF_F32, n);
    buf_t *master = B(RLC_BUF_F32, n);
    float *p0 = fill(p, 0.5f);
    set(master, p0); /* the GPU keeps fp32 master weights; the CPU's PARAM is fp32 itself */
    float *zeros = calloc(n, sizeof(float));
    set(m, zeros);
    set(v, zeros);
    for (int step = 1; step <= 3; step++) {
        free(fill(g, 1.0f));
        cpu->adamw(cpu, p->c, NULL, g->c, m->c, v->c, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step, 0.5f, 1234u + step);
        gpu->adamw(gpu, p->g, master->g, g->g, m->g, v->g, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step, 0.5f,
                   1234u + step);
    }
    cmp("adamw m", m, 1e-12);
    cmp("adamw v", v, 1e-12);
    gpu_ok();
    float *gm = get(gpu, master), *cp = get(cpu, p), *gp = get(gpu, p);
    double e = nmse(gm, cp, n);
    print_message("  %-28s nmse %.3g (limit 1e-12)\n", "adamw master vs cpu param", e);
    assert_true(e <= 1e-12); /* the same fp32 formula in the same order */
    for (size_t i = 0; i < n; i++) { /* the bf16 copy is one of the two neighbours of the master value */
        float lo = rlc_bf16_to_f32((uint16_t)(rlc_f32_to_bf16(gm[i]) - 1));
        float hi = rlc_bf16_to_f32((uint16_t)(rlc_f32_to_bf16(gm[i]) + 1));
        if (!(gp[i] >= fminf(lo, hi) && gp[i] <= fmaxf(lo, hi)))
            fail_msg("adamw: bf16 param[%zu] = %g is not next to master %g", i, gp[i], gm[i]);
    }
    guards_ok("adamw param", p);
    guards_ok("adamw master", master);
    free(gm);
    free(cp);
    free(gp);
    free(p0);
    free(zeros);
    bufs_free();
}

/* Stochastic rounding is unbiased: with lr = 0 the master stays put and the bf16 copy is the
 * upper neighbour with probability equal to the fractional position between neighbours. */
static void test_adamw_stochastic_rounding(void **s) {
    (void)s;
    const size_t n = 4096;
    const int seeds = 64;
    buf_t *p = B(RLC_BUF_PARAM, n), *g = B(RLC_BUF_GRAD, n), *m = B(RLC_BUF_F32, n), *v = B(RLC_BUF_F32, n);
    buf_t *master = B(RLC_BUF_F32, n);
    float *x = malloc(n * sizeof(float)), *zeros = calloc(n, sizeof(float));
    const float lo = 1.0f, ulp = 1.0f / 128, frac = 0.3f;
    for (size_t i = 0; i < n; i++) x[i] = (i % 2 ? -1.0f : 1.0f) * (lo + frac * ulp);
    set(master, x);
    set(g, zeros);
    set(m, zeros);
    set(v, zeros);
    double up = 0;
    float *first = NULL;
    for (int k = 0; k < seeds; k++) {
        gpu->adamw(gpu, p->g, master->g, g->g, m->g, v->g, n, 0.0f, 0.9f, 0.95f, 1e-8f, 0.0f, 1, 1.0f, 77u + k);
        float *gp = get(gpu, p);
        for (size_t i = 0; i < n; i++) {
            float a = fabsf(gp[i]);
            if (a != lo && a != lo + ulp) fail_msg("SR: %g is not a neighbour of %g", gp[i], x[i]);
            up += a == lo + ulp;
        }
        if (k == 0)
            first = gp;
        else
            free(gp);
    }
    double rate = up / ((double)n * seeds);
    print_message("  stochastic rounding: rounded up %.4f of the time (expected %.2f)\n", rate, frac);
    assert_true(fabs(rate - frac) < 0.01); /* 262144 draws: the std error is 0.0009 */
    /* same seed, same bits */
    gpu->adamw(gpu, p->g, master->g, g->g, m->g, v->g, n, 0.0f, 0.9f, 0.95f, 1e-8f, 0.0f, 1, 1.0f, 77u);
    float *again = get(gpu, p);
    same_bits("stochastic rounding", first, again, n);
    gpu_ok();
    free(first);
    free(again);
    free(x);
    free(zeros);
    bufs_free();
}

int main(void) {
    setenv("RLC_CUDA_LMHEAD_CHUNK", "7", 1); /* several LM-head chunks even for small N */
    unsetenv("RLC_CUDA_ROWINV");             /* gpu: the default row-invariant kernel */
    int rc = harness_start("ops");
    if (rc) return rc;
    for (int v = 0; v < NRI; v++) {
        setenv("RLC_CUDA_ROWINV", ri_names[v], 1);
        rc = rlc_cuda_backend_create(&ri_be[v], 0, 2);
        unsetenv("RLC_CUDA_ROWINV");
        if (rc) {
            fprintf(stderr, "backend (RLC_CUDA_ROWINV=%s): %s\n", ri_names[v], rlc_errmsg());
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_memory, setup),      cmocka_unit_test_setup(test_elementwise, setup),
        cmocka_unit_test_setup(test_embedding, setup),   cmocka_unit_test_setup(test_rmsnorm, setup),
        cmocka_unit_test_setup(test_qk_norm, setup),     cmocka_unit_test_setup(test_rope, setup),
        cmocka_unit_test_setup(test_swiglu, setup),
        cmocka_unit_test_setup(test_geglu, setup),
        cmocka_unit_test_setup(test_matmul, setup),      cmocka_unit_test_setup(test_attention, setup),
        cmocka_unit_test_setup(test_lmhead, setup),      cmocka_unit_test_setup(test_adamw, setup),
        cmocka_unit_test_setup(test_adamw_stochastic_rounding, setup),
        cmocka_unit_test_setup(test_matmul_row_invariant, setup),
        cmocka_unit_test_setup(test_row_invariant_bitwise, setup),
        cmocka_unit_test_setup(test_row_invariant_knob, setup),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int v = 0; v < NRI; v++) rlc_backend_destroy(ri_be[v]);
    harness_stop();
    return rc;
}
