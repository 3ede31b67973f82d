/* Decode ops: paged attention (prefill, chunked prefill, decode, shuffled pages) equals
 * the training attention; sampling follows its definition (greedy, temperature, top-k,
 * top-p, min-p), matches the softmax in distribution, and is batch-independent. */
#include "testutil.h"

#include "core/philox.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"

static rlc_backend_t *be;

/* window 0: full causal attention; 5: a sliding window that starts mid-page; cap > 0:
 * soft-capped scores */
static void paged_attention_case(int W, float cap) {
    rlc_rng_t r;
    rlc_rng_init(&r, 11, 0);
    const int Hq = 4, Hk = 2, D = 8, ld = (Hq + 2 * Hk) * D, P = 4, MAXP = 8, NPAGES = 16;
    int32_t cu[3] = {0, 7, 20};
    int N = 20;
    float *qkv = malloc((size_t)N * ld * 4), *ref = calloc((size_t)N * Hq * D, 4), *lse = calloc((size_t)N * Hq, 4);
    for (int i = 0; i < N * ld; i++) qkv[i] = (float)rlc_rng_normal(&r);
    be->attention_fwd(be, ref, lse, qkv, cu, 2, 13, N, Hq, Hk, D, 1.0f / sqrtf(D), cap, W);
    /* pages handed out in a scrambled order */
    int32_t bt[2 * 8];
    int perm[16] = {9, 3, 14, 0, 7, 12, 1, 5, 11, 2, 15, 6, 8, 13, 4, 10};
    for (int i = 0; i < 16; i++) bt[i] = perm[i];
    float *kc = calloc((size_t)NPAGES * P * Hk * D, 4), *vc = calloc((size_t)NPAGES * P * Hk * D, 4);
    int32_t slots[20];
    for (int sq = 0; sq < 2; sq++)
        for (int n = cu[sq]; n < cu[sq + 1]; n++) {
            int pos = n - cu[sq];
            slots[n] = bt[sq * MAXP + pos / P] * P + pos % P;
        }
    be->kv_store(be, kc, vc, qkv, slots, N, Hq, Hk, D);
    float *out = calloc((size_t)N * Hq * D, 4);
    int32_t ctx[2] = {7, 13};
    be->paged_attention(be, out, qkv, kc, vc, cu, ctx, bt, MAXP, P, 2, N, Hq, Hk, D, 1.0f / sqrtf(D), cap, 13, W);
    assert_true(max_abs_diff(out, ref, (size_t)N * Hq * D) < 1e-6);
    /* chunked: the last 5 tokens of sequence 1 as queries against 13 cached tokens, and
     * one decode token of sequence 0 (its last) */
    float *qkv2 = malloc((size_t)6 * ld * 4), *out2 = calloc((size_t)6 * Hq * D, 4);
    memcpy(qkv2, qkv + (size_t)6 * ld, (size_t)ld * 4);
    memcpy(qkv2 + ld, qkv + (size_t)15 * ld, (size_t)5 * ld * 4);
    int32_t cu2[3] = {0, 1, 6};
    be->paged_attention(be, out2, qkv2, kc, vc, cu2, ctx, bt, MAXP, P, 2, 6, Hq, Hk, D, 1.0f / sqrtf(D), cap, 13, W);
    assert_true(max_abs_diff(out2, ref + (size_t)6 * Hq * D, (size_t)Hq * D) < 1e-6);
    assert_true(max_abs_diff(out2 + Hq * D, ref + (size_t)15 * Hq * D, (size_t)5 * Hq * D) < 1e-6);
    /* negative slot = not stored */
    float *kc2 = calloc((size_t)NPAGES * P * Hk * D, 4), *vc2 = calloc((size_t)NPAGES * P * Hk * D, 4);
    int32_t sl[2] = {-1, 3};
    be->kv_store(be, kc2, vc2, qkv, sl, 2, Hq, Hk, D);
    for (int i = 0; i < Hk * D; i++) assert_true(kc2[i] == 0 && kc2[3 * Hk * D + i] == qkv[ld + Hq * D + i]);
    free(kc2), free(vc2), free(qkv2), free(out2), free(qkv), free(ref), free(lse), free(kc), free(vc), free(out);
}

static void test_paged_attention(void **s) {
    (void)s;
    paged_attention_case(0, 0.0f);
    paged_attention_case(5, 0.0f);
    paged_attention_case(0, 1.0f);
    paged_attention_case(5, 1.0f);
}

static void draw(const float *logits, int V, rlc_sample_params_t p, int n, int *hist) {
    memset(hist, 0, (size_t)V * sizeof(int));
    for (int i = 0; i < n; i++) {
        int32_t t;
        float lp;
        p.counter = (uint64_t)i;
        be->sample(be, &t, &lp, logits, &p, 1, V);
        assert_true(t >= 0 && t < V);
        hist[t]++;
    }
}

static void test_sample(void **s) {
    (void)s;
    /* p = 0.5, 0.3, 0.15, 0.05 at T = 1 */
    float logits[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int hist[4];
    int32_t t;
    float lp;
    rlc_sample_params_t g = {.temperature = 0};
    be->sample(be, &t, &lp, logits, &g, 1, 4);
    assert_int_equal(t, 0);
    assert_true(fabsf(lp - logf(0.5f)) < 1e-6f);
    rlc_sample_params_t p = {.temperature = 1, .top_p = 1, .seed = 42};
    draw(logits, 4, p, 20000, hist);
    const double want[4] = {0.5, 0.3, 0.15, 0.05};
    for (int v = 0; v < 4; v++)
        if (fabs(hist[v] / 20000.0 - want[v]) > 0.015) fail_msg("token %d drawn %.3f, want %.2f", v, hist[v] / 2e4, want[v]);
    p.top_k = 2;
    draw(logits, 4, p, 2000, hist);
    assert_int_equal(hist[2] + hist[3], 0);
    assert_true(hist[0] > hist[1] && hist[1] > 0);
    p.top_k = 0;
    p.top_p = 0.7f; /* 0.5 < 0.7 <= 0.8: keep {0, 1} */
    draw(logits, 4, p, 2000, hist);
    assert_int_equal(hist[2] + hist[3], 0);
    assert_true(hist[1] > 0);
    p.top_p = 0.85f; /* needs 0.5+0.3+0.15 */
    draw(logits, 4, p, 4000, hist);
    assert_int_equal(hist[3], 0);
    assert_true(hist[2] > 0);
    p.top_p = 0.3f; /* the top token alone */
    draw(logits, 4, p, 500, hist);
    assert_int_equal(hist[0], 500);
    p.top_p = 1;
    p.min_p = 0.4f; /* keep p >= 0.2 */
    draw(logits, 4, p, 2000, hist);
    assert_int_equal(hist[2] + hist[3], 0);
    /* temperature sharpens: at T = 0.25, token 0 dominates */
    rlc_sample_params_t c = {.temperature = 0.25f, .top_p = 1, .seed = 1};
    draw(logits, 4, c, 2000, hist);
    assert_true(hist[0] > 1700);
    be->sample(be, &t, &lp, logits, &c, 1, 4);
    /* logp is under the temperature-scaled softmax */
    double z = 0;
    for (int v = 0; v < 4; v++) z += exp(logits[v] / 0.25);
    assert_true(fabs(lp - (logits[t] / 0.25 - log(z))) < 1e-5);
    /* ties at top-k boundary are kept, as in HF */
    float tie[4] = {1, 2, 2, 0};
    rlc_sample_params_t k1 = {.temperature = 1, .top_p = 1, .top_k = 2, .seed = 3};
    draw(tie, 4, k1, 1000, hist);
    assert_int_equal(hist[0] + hist[3], 0);
    k1.top_k = 1;
    draw(tie, 4, k1, 1000, hist);
    assert_true(hist[1] > 0 && hist[2] > 0); /* both tied maxima stay */
}

static void test_philox_vector_path(void **s) {
    (void)s;
    int r = cpu_philox8_selfcheck();
    assert_true(r >= 0); /* 0: checked equal; 1: no AVX2 path on this CPU */
    if (r == 1) printf("(no AVX2: vector Philox not exercised)\n");
}

static void test_sample_batch_invariant(void **s) {
    (void)s;
    rlc_rng_t r;
    rlc_rng_init(&r, 5, 0);
    const int V = 300, M = 16;
    float *lg = malloc((size_t)M * V * 4);
    for (int i = 0; i < M * V; i++) lg[i] = (float)rlc_rng_normal(&r) * 2;
    rlc_sample_params_t ps[16];
    for (int i = 0; i < M; i++)
        ps[i] = (rlc_sample_params_t){.temperature = 0.5f + 0.1f * (i % 5), .top_p = i % 3 ? 0.9f : 1.0f,
                                      .top_k = i % 4 == 0 ? 20 : 0, .min_p = i % 5 == 1 ? 0.05f : 0,
                                      .seed = 1000 + (uint64_t)i, .counter = (uint64_t)(7 * i)};
    int32_t tb[16], t1;
    float lb[16], l1;
    be->sample(be, tb, lb, lg, ps, M, V);
    for (int i = 0; i < M; i++) {
        be->sample(be, &t1, &l1, lg + (size_t)i * V, &ps[i], 1, V);
        assert_int_equal(t1, tb[i]);
        assert_true(l1 == lb[i]);
    }
    /* a different seed changes some draws (the seed is really used) */
    int diff = 0;
    for (int i = 0; i < M; i++) {
        rlc_sample_params_t q = ps[i];
        q.seed += 99;
        be->sample(be, &t1, &l1, lg + (size_t)i * V, &q, 1, V);
        diff += t1 != tb[i];
    }
    assert_true(diff > 0);
    free(lg);
}

/* The engine's row-invariant matmul: agrees with sgemm, and a row's output is bitwise the
 * same whatever other rows are computed with it (batch sizes 1..37, odd widths, K tails). */
static void test_row_invariant_matmul(void **s) {
    (void)s;
    rlc_rng_t r;
    rlc_rng_init(&r, 21, 0);
    const int Ms = 37, K = 203, N = 71; /* K and N not multiples of 8 or 3 */
    float *x = malloc((size_t)Ms * K * 4), *w = malloc((size_t)N * K * 4), *b = malloc((size_t)N * 4);
    for (int i = 0; i < Ms * K; i++) x[i] = (float)rlc_rng_normal(&r);
    for (int i = 0; i < N * K; i++) w[i] = (float)rlc_rng_normal(&r);
    for (int i = 0; i < N; i++) b[i] = (float)rlc_rng_normal(&r);
    float *ref = malloc((size_t)Ms * N * 4), *all = malloc((size_t)Ms * N * 4), *one = malloc((size_t)N * 4);
    be->matmul_fwd(be, ref, x, w, b, Ms, K, N);
    be->row_invariant = 1;
    be->matmul_fwd(be, all, x, w, b, Ms, K, N);
    assert_true(max_abs_diff(all, ref, (size_t)Ms * N) < 1e-3);
    for (int m = 0; m < Ms; m++) {
        be->matmul_fwd(be, one, x + (size_t)m * K, w, b, 1, K, N);
        assert_memory_equal(one, all + (size_t)m * N, (size_t)N * 4);
    }
    float *part = malloc((size_t)5 * N * 4);
    be->matmul_fwd(be, part, x + 11 * K, w, b, 5, K, N);
    assert_memory_equal(part, all + 11 * N, (size_t)5 * N * 4);
    /* logits (no bias) take the same path */
    float *lg = malloc((size_t)Ms * N * 4);
    be->logits(be, lg, x, w, Ms, K, N);
    be->logits(be, one, x + 20 * K, w, 1, K, N);
    assert_memory_equal(one, lg + 20 * N, (size_t)N * 4);
    be->row_invariant = 0;
    free(x), free(w), free(b), free(ref), free(all), free(one), free(part), free(lg);
}

/* Every instruction-set path of the row-invariant matmul gives the portable path's sums bit
 * for bit (blocks of 8 rows x 6 columns and their leftovers, K tails, one and two threads);
 * the paths this machine lacks are reported as not run. */
static void test_gemm_rows_paths_bitwise(void **s) {
    (void)s;
    rlc_rng_t r;
    rlc_rng_init(&r, 23, 0);
    const int Ms[] = {1, 2, 5, 7, 8, 12, 14, 19, 40}, Ks[] = {5, 64, 203, 520}, Ns[] = {1, 5, 6, 13, 71};
    int best = cpu_isa_supported();
    for (int isa = CPU_ISA_AVX2; isa <= CPU_ISA_AVX512; isa++)
        if (isa > best) print_message("gemm_rows: the %s path is not run (this CPU has %s)\n", cpu_isa_name(isa),
                                      cpu_isa_name(best));
    for (int a = 0; a < 9; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 5; c++) {
                int M = Ms[a], K = Ks[b], N = Ns[c];
                float *x = malloc((size_t)M * K * 4), *w = malloc((size_t)N * K * 4), *bias = malloc((size_t)N * 4);
                float *ref = malloc((size_t)M * N * 4), *got = malloc((size_t)M * N * 4);
                for (int i = 0; i < M * K; i++) x[i] = (float)rlc_rng_normal(&r);
                for (int i = 0; i < N * K; i++) w[i] = (float)rlc_rng_normal(&r);
                for (int i = 0; i < N; i++) bias[i] = (float)rlc_rng_normal(&r);
                cpu_gemm_rows_isa(be, CPU_ISA_PORTABLE, ref, x, w, c & 1 ? bias : NULL, M, K, N);
                for (int isa = CPU_ISA_AVX2; isa <= best; isa++) {
                    memset(got, 0xff, (size_t)M * N * 4);
                    cpu_gemm_rows_isa(be, isa, got, x, w, c & 1 ? bias : NULL, M, K, N);
                    if (memcmp(got, ref, (size_t)M * N * 4))
                        fail_msg("%s differs from portable at M=%d K=%d N=%d", cpu_isa_name(isa), M, K, N);
                }
                free(x), free(w), free(bias), free(ref), free(got);
            }
}

/* The attention kernels' instruction-set paths: AVX2 and AVX-512 equal bit for bit (the same
 * sums, the same libmvec exp); the portable path (scalar expf) within rounding; paged decode
 * attention over the whole context equals the training forward bit for bit on every path.
 * Forward, backward and paged, group sizes 2, 4 and 12 (register tiles of 4 heads and their
 * leftovers), head dimensions 64, 40 and 13 (vector tiles and tails), full attention and a
 * sliding window of W (7: its start moves across 4-token pages), with soft-capped scores
 * (cap > 0) or not. */
static void attention_paths_case(int Hq, int Hk, int D, int W, float cap) {
    rlc_rng_t r;
    rlc_rng_init(&r, 29 + (uint64_t)(Hq * 100 + D), 0);
    int best = cpu_isa_supported();
    const int N = 58, P = 4, MAXP = 16, ld = (Hq + 2 * Hk) * D;
    int32_t cu[4] = {0, 1, 18, 58}, ctx[3] = {1, 17, 40}, bt[3 * 16], slots[58];
    for (int i = 0; i < 3 * MAXP; i++) bt[i] = (i * 7 + 3) % (3 * MAXP); /* scrambled pages */
    float sc = 1.0f / sqrtf((float)D);
    size_t no = (size_t)N * Hq * D, nx = (size_t)N * ld, nc = (size_t)3 * MAXP * P * Hk * D;
    float *qkv = malloc(nx * 4), *dO = malloc(no * 4), *kc = calloc(nc, 4), *vc = calloc(nc, 4);
    for (size_t i = 0; i < nx; i++) qkv[i] = (float)rlc_rng_normal(&r);
    for (size_t i = 0; i < no; i++) dO[i] = (float)rlc_rng_normal(&r);
    for (int sq = 0; sq < 3; sq++)
        for (int n = cu[sq]; n < cu[sq + 1]; n++) slots[n] = bt[sq * MAXP + (n - cu[sq]) / P] * P + (n - cu[sq]) % P;
    be->kv_store(be, kc, vc, qkv, slots, N, Hq, Hk, D);
    float *o[3], *lse[3], *dx[3], *pg[3];
    for (int isa = 0; isa <= best; isa++) {
        const cpu_attn_impl_t *im = cpu_attn_impl(isa);
        o[isa] = malloc(no * 4), lse[isa] = malloc((size_t)N * Hq * 4), dx[isa] = malloc(nx * 4);
        pg[isa] = malloc(no * 4);
        im->fwd(be, o[isa], lse[isa], qkv, cu, 3, 40, N, Hq, Hk, D, sc, cap, W);
        im->bwd(be, dx[isa], dO, qkv, lse[isa], cu, 3, 40, Hq, Hk, D, sc, cap, W);
        im->paged(be, pg[isa], qkv, kc, vc, cu, ctx, bt, MAXP, P, 3, N, Hq, Hk, D, sc, cap, 40, W);
        assert_memory_equal(pg[isa], o[isa], no * 4);
        if (isa == 0) continue;
        assert_true(max_abs_diff(o[isa], o[0], no) < 1e-5);
        assert_true(max_abs_diff(dx[isa], dx[0], nx) < 1e-4);
        if (isa == 2) {
            assert_memory_equal(o[2], o[1], no * 4);
            assert_memory_equal(lse[2], lse[1], (size_t)N * Hq * 4);
            assert_memory_equal(dx[2], dx[1], nx * 4);
        }
    }
    for (int isa = 0; isa <= best; isa++) free(o[isa]), free(lse[isa]), free(dx[isa]), free(pg[isa]);
    free(qkv), free(dO), free(kc), free(vc);
}

static void test_attention_paths(void **s) {
    (void)s;
    const int heads[][2] = {{4, 2}, {8, 2}, {12, 1}}, Ds[] = {64, 40, 13};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int W = 0; W <= 7; W += 7) {
                attention_paths_case(heads[a][0], heads[a][1], Ds[b], W, 0.0f);
                if (W) attention_paths_case(heads[a][0], heads[a][1], Ds[b], W, 2.0f);
            }
    if (cpu_isa_supported() < CPU_ISA_AVX512)
        print_message("attention: paths above %s not run on this CPU\n", cpu_isa_name(cpu_isa_supported()));
}

/* The attention backward's summation order, written out one query at a time (the order the
 * blocked kernel keeps): dots in eight lanes k ≡ j mod 8 with fused multiply-adds, reduced
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); per query P = exp(S - lse), D_t = sum_j P dP in
 * double, scale·dS; then one fused axpy per (query, key) into dq, dk and dv. */
static float ref_dot(const float *a, const float *b, int D) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int D8 = D & ~7;
    for (int k = 0; k < D8; k += 8)
        for (int j = 0; j < 8; j++) l[j] = fmaf(a[k + j], b[k + j], l[j]);
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (int k = D8; k < D; k++) s = fmaf(a[k], b[k], s);
    return s;
}

static void ref_axpy(float *y, float a, const float *x, int D) {
    for (int i = 0; i < D; i++) y[i] = fmaf(a, x[i], y[i]);
}

static void ref_attention_bwd(float *dx, const float *dO, const float *x, const float *lse, const int32_t *cu, int nseq,
                              int Hq, int Hk, int D, float sc, float cap, int W) {
    int ld = (Hq + 2 * Hk) * D, grp = Hq / Hk;
    float p[256], dp[256], dc[256];
    for (int s = 0; s < nseq; s++)
        for (int g = 0; g < Hk; g++) {
            int s0 = cu[s], L = cu[s + 1] - s0;
            const float *kb = x + (size_t)s0 * ld + (size_t)(Hq + g) * D, *vb = kb + (size_t)Hk * D;
            float *dkb = dx + (size_t)s0 * ld + (size_t)(Hq + g) * D, *dvb = dkb + (size_t)Hk * D;
            for (int j = 0; j < L; j++)
                memset(dkb + (size_t)j * ld, 0, D * 4), memset(dvb + (size_t)j * ld, 0, D * 4);
            for (int h = g * grp; h < (g + 1) * grp; h++)
                for (int t = 0; t < L; t++) {
                    const float *q = x + (size_t)(s0 + t) * ld + (size_t)h * D;
                    const float *o = dO + (size_t)(s0 + t) * Hq * D + (size_t)h * D;
                    float *dq = dx + (size_t)(s0 + t) * ld + (size_t)h * D;
                    int j0 = W > 0 && t >= W ? t - W + 1 : 0, n = t - j0 + 1;
                    for (int j = j0; j <= t; j++)
                        p[j] = sc * ref_dot(q, kb + (size_t)j * ld, D), dp[j] = ref_dot(o, vb + (size_t)j * ld, D);
                    if (cap > 0) {
                        cpu_vsoftcap(p + j0, p + j0, (size_t)n, cap, 1.0f);
                        for (int j = j0; j <= t; j++) dc[j] = cpu_softcap_slope(p[j], cap);
                    }
                    cpu_vexpf(p + j0, p + j0, n, lse[(size_t)(s0 + t) * Hq + h]);
                    double dd = 0;
                    for (int j = j0; j <= t; j++) dd += (double)p[j] * dp[j];
                    memset(dq, 0, D * 4);
                    for (int j = j0; j <= t; j++) {
                        float ds = p[j] * (float)(dp[j] - dd);
                        if (cap > 0) ds *= dc[j];
                        ref_axpy(dq, sc * ds, kb + (size_t)j * ld, D);
                        ref_axpy(dkb + (size_t)j * ld, sc * ds, q, D);
                        ref_axpy(dvb + (size_t)j * ld, p[j], o, D);
                    }
                }
        }
}

/* The backward takes queries in blocks of 32 and sums each key's dk/dv a block at a time; on
 * the path this run takes (ctest repeats it under RLC_CPU_ISA=avx2 and =portable) it equals the
 * one-query-at-a-time order above bit for bit: sequences of several blocks (75 and 130 tokens),
 * windows inside a block and across blocks, soft-capped or not, head dimensions with and
 * without a vector tail. */
static void test_attention_bwd_order(void **s) {
    (void)s;
    const int Hq = 6, Hk = 2, Ds[] = {40, 64}, Ws[] = {0, 5, 37};
    int32_t cu[3] = {0, 75, 205};
    const int N = 205;
    for (int d = 0; d < 2; d++)
        for (int w = 0; w < 3; w++)
            for (int c = 0; c < 2; c++) {
                int D = Ds[d], ld = (Hq + 2 * Hk) * D;
                float cap = c ? 1.5f : 0.0f, sc = 1.0f / sqrtf((float)D);
                rlc_rng_t r;
                rlc_rng_init(&r, 41 + (uint64_t)(d * 10 + w), 0);
                size_t nx = (size_t)N * ld, no = (size_t)N * Hq * D;
                float *x = malloc(nx * 4), *dO = malloc(no * 4), *o = malloc(no * 4), *lse = malloc((size_t)N * Hq * 4);
                float *got = malloc(nx * 4), *want = malloc(nx * 4);
                for (size_t i = 0; i < nx; i++) x[i] = (float)rlc_rng_normal(&r);
                for (size_t i = 0; i < no; i++) dO[i] = (float)rlc_rng_normal(&r);
                be->attention_fwd(be, o, lse, x, cu, 2, 130, N, Hq, Hk, D, sc, cap, Ws[w]);
                be->attention_bwd(be, got, dO, x, o, lse, cu, 2, 130, N, Hq, Hk, D, sc, cap, Ws[w]);
                ref_attention_bwd(want, dO, x, lse, cu, 2, Hq, Hk, D, sc, cap, Ws[w]);
                if (memcmp(got, want, nx * 4))
                    fail_msg("attention_bwd (%s path) differs from the one-query order: D=%d window=%d cap=%g",
                             cpu_isa_name(cpu_isa()), D, Ws[w], (double)cap);
                free(x), free(dO), free(o), free(lse), free(got), free(want);
            }
}

/* cpu_vsoftcap, on whichever path RLC_CPU_ISA leaves (this test also runs as _avx2 and
 * _portable): cap·tanh(x / cap)·mul within a few ulps of double precision; tanh itself with
 * cap = mul = 1; and each element the same bits whatever its position and the call's length
 * (the vector tail is padded, not scalar), which the paged attention = training attention
 * and batch-invariance contracts rely on. */
static void test_vsoftcap(void **s) {
    (void)s;
    enum { N = 45 };
    float x[N], y[N], one[1], cap = 2.5f, mul = 1.0f / 0.7f;
    for (int i = 0; i < N; i++) x[i] = -40.0f + 80.0f * (float)i / (N - 1) + 0.013f * (float)i; /* into saturation */
    x[7] = 0, x[8] = 1e-6f, x[9] = -3e-5f;
    cpu_vsoftcap(y, x, N, cap, mul);
    for (int i = 0; i < N; i++) {
        double want = cap * tanh((double)x[i] / cap) * mul;
        if (fabs(y[i] - want) > 4e-7 * (fabs(want) + 1e-3)) fail_msg("softcap(%g) = %.9g, want %.9g", x[i], y[i], want);
        cpu_vsoftcap(one, x + i, 1, cap, mul);
        assert_memory_equal(one, y + i, sizeof one);
    }
    for (int n = 1; n < N; n += 6) { /* other lengths and offsets, in place */
        float z[N];
        memcpy(z, x, sizeof z);
        cpu_vsoftcap(z + 3, z + 3, (size_t)(n < N - 3 ? n : N - 3), cap, mul);
        for (int i = 3; i < 3 + n && i < N; i++) assert_memory_equal(z + i, y + i, sizeof(float));
    }
    cpu_vsoftcap(y, x, N, 1.0f, 1.0f);
    for (int i = 0; i < N; i++)
        if (fabs(y[i] - tanh((double)x[i])) > 3e-7) fail_msg("tanh(%g) = %.9g", x[i], y[i]);
    print_message("vsoftcap on the %s path\n", cpu_isa_name(cpu_isa()));
}

static int setup(void **s) {
    (void)s;
    return rlc_backend_create(&be, "cpu", 0, 2);
}
static int teardown(void **s) {
    (void)s;
    rlc_backend_destroy(be);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paged_attention),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_sample_batch_invariant),
        cmocka_unit_test(test_row_invariant_matmul),
        cmocka_unit_test(test_philox_vector_path),
        cmocka_unit_test(test_gemm_rows_paths_bitwise),
        cmocka_unit_test(test_attention_paths),
        cmocka_unit_test(test_attention_bwd_order),
        cmocka_unit_test(test_vsoftcap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
