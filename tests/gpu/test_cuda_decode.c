/* Parity of the CUDA decoding ops with the CPU reference (kv_store, paged attention, gather,
 * sampling; row invariance of the decode-time ops), the launch limits the driver enforces
 * (static + dynamic shared memory), and the errors bad input must raise (token ids, LM-head
 * targets, attention shapes and cu_seqlens). Same harness and two
 * builds as test_cuda_ops.c: test_gpu_decode on a GPU, test_cuda_emu_decode on the emulator. */
#include "cuda_harness.h"

/* ---------------------------------------------------------------- decoding */

static void test_gather_rows(void **s) {
    (void)s;
    const int R = 20, C = 300, M = 5;
    buf_t *src = B(RLC_BUF_ACT, (size_t)R * C), *dst = B(RLC_BUF_ACT, (size_t)M * C), *rows = B(RLC_BUF_I32, M);
    free(fill(src, 1.0f));
    int32_t r[5] = {3, 0, 19, 3, 7};
    set_i(rows, r);
    cpu->gather_rows(cpu, dst->c, src->c, rows->c, M, C);
    gpu->gather_rows(gpu, dst->g, src->g, rows->g, M, C);
    cmp("gather_rows", dst, 0);
    bufs_free();
}

/* kv_store of the new tokens into a paged cache with shuffled block tables, then attention of
 * decode tokens (qlen 1) and a prefill chunk over it. Pages no sequence owns hold NaN, so a
 * read through a wrong slot fails loudly on either backend. */
static void paged_case_cap(int page, int Hq, int Hk, int D, int win, float cap) {
    enum { NS = 3 };
    int ctx[NS] = {1, 45, 150}, ql[NS] = {1, 1, 20};
    int maxp = 0, npages = 4, cuq[NS + 1] = {0};
    for (int i = 0; i < NS; i++) {
        int np = (ctx[i] + page - 1) / page;
        if (np > maxp) maxp = np;
        npages += np;
        cuq[i + 1] = cuq[i] + ql[i];
    }
    int N = cuq[NS];
    print_message(" paged attention page=%d Hq=%d Hk=%d D=%d N=%d pages=%d window=%d softcap=%g\n", page, Hq, Hk, D, N,
                  npages, win, cap);
    size_t W = (size_t)(Hq + 2 * Hk) * D, kvw = (size_t)Hk * D, slots = (size_t)npages * page;
    /* a random permutation of the pages, dealt to the sequences in order */
    int *perm = malloc(npages * sizeof(int));
    for (int i = 0; i < npages; i++) perm[i] = i;
    for (int i = npages - 1; i > 0; i--) {
        int j = (int)rlc_rng_below(&rng, (uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int32_t *bt = malloc((size_t)NS * maxp * 4), *sl = malloc((size_t)N * 4);
    char *owned = calloc(npages, 1);
    for (int i = 0, k = 0; i < NS; i++)
        for (int p = 0; p < maxp; p++) {
            bt[i * maxp + p] = p < (ctx[i] + page - 1) / page ? perm[k++] : -1;
            if (bt[i * maxp + p] >= 0) owned[bt[i * maxp + p]] = 1;
        }
    for (int i = 0; i < NS; i++)
        for (int j = 0; j < ql[i]; j++) {
            int pos = ctx[i] - ql[i] + j;
            sl[cuq[i] + j] = bt[i * maxp + pos / page] * page + pos % page;
        }
    buf_t *qkv = B(RLC_BUF_ACT, N * W), *kc = B(RLC_BUF_ACT, slots * kvw), *vc = B(RLC_BUF_ACT, slots * kvw);
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * Hq * D), *bcu = B(RLC_BUF_I32, NS + 1), *bctx = B(RLC_BUF_I32, NS);
    buf_t *bbt = B(RLC_BUF_I32, (size_t)NS * maxp), *bsl = B(RLC_BUF_I32, N);
    free(fill(qkv, 1.5f));
    float *hk = fill(kc, 1.5f), *hv = fill(vc, 1.0f);
    for (size_t i = 0; i < slots * kvw; i++)
        if (!owned[i / kvw / page]) hk[i] = hv[i] = NAN;
    set(kc, hk);
    set(vc, hv);
    set_i(bcu, cuq);
    set_i(bctx, ctx);
    set_i(bbt, bt);
    set_i(bsl, sl);
    cpu->kv_store(cpu, kc->c, vc->c, qkv->c, bsl->c, N, Hq, Hk, D);
    gpu->kv_store(gpu, kc->g, vc->g, qkv->g, bsl->g, N, Hq, Hk, D);
    float *gk = get(gpu, kc), *ck = get(cpu, kc);
    if (memcmp(gk, ck, slots * kvw * sizeof(float))) fail_msg("kv_store: caches differ"); /* NaN-safe bitwise */
    guards_ok("kv_store k", kc);
    guards_ok("kv_store v", vc);
    float scale = 1.0f / sqrtf((float)D);
    cpu->paged_attention(cpu, out->c, qkv->c, kc->c, vc->c, bcu->c, bctx->c, bbt->c, maxp, page, NS, N, Hq, Hk, D, scale,
                         cap, 150, win);
    gpu->paged_attention(gpu, out->g, qkv->g, kc->g, vc->g, bcu->g, bctx->g, bbt->g, maxp, page, NS, N, Hq, Hk, D, scale,
                         cap, 150, win);
    cmp("paged_attention", out, BF16_ONE); /* fp32 softmax and sums, one bf16 rounding */
    free(gk);
    free(ck);
    free(hk);
    free(hv);
    free(perm);
    free(bt);
    free(sl);
    free(owned);
    bufs_free();
}

static void paged_case(int page, int Hq, int Hk, int D, int win) { paged_case_cap(page, Hq, Hk, D, win, 0.0f); }

static void test_paged_attention(void **s) {
    (void)s;
    paged_case(16, 4, 2, 64, 0);
    paged_case(8, 2, 1, 128, 0);
    paged_case(16, 34, 2, 64, 0); /* 17 query heads per kv head: the one-block-per-head kernel */
    /* sliding windows (the first position seen mid-page, mid-chunk; 1: only itself), both kernels */
    paged_case(16, 4, 2, 64, 37);
    paged_case(8, 4, 2, 64, 1);
    paged_case(16, 34, 2, 64, 37);
    paged_case(16, 8, 1, 576, 0); /* MLA's latent cache (DeepSeek-V3: 512 + 64 wide, one kv head) */
    /* Gemma 2's soft-capped scores, both kernels */
    paged_case_cap(16, 4, 2, 64, 37, 1.5f);
    paged_case_cap(16, 34, 2, 64, 0, 1.5f);
}

/* A sequence's paged-attention output must be the same bits alone, batched with other
 * sequences (at another row offset, with other context lengths), with its prefill split into
 * chunks (12 query tokens at once vs 5 + 7, the cache already holding all 12), and token by
 * token as decode steps. The cache contents make a change of summation order show through
 * the bf16 output: positions 2i-1 and 2i (i >= 1) share a key (equal scores, equal
 * probabilities) and carry values +2^16 and -2^16 on the even dims, so the exact sum cancels
 * and the output keeps the rounding residue of the kernel's particular association; and the
 * scores rise with the position (key dim 0 = 0.8 j, query dim 0 = 1), so the running max
 * moves on from chunk to chunk and a different chunking rescales differently. */
enum { PI_PS = 4, PI_MAXP = 6, PI_NPAGES = 16, PI_NMAX = 16 };
typedef struct {
    int ctx, qlen; /* context length; query tokens (the last qlen positions) */
    int32_t tab[PI_MAXP];
    float *q;      /* [qlen][W] */
} pi_seq_t;

static void paged_invariance_case(int Hq, int Hk, int D) {
    const float BV = 65536.0f;
    print_message(" paged attention bitwise: Hq=%d Hk=%d D=%d\n", Hq, Hk, D);
    const size_t W = (size_t)(Hq + 2 * Hk) * D, kvw = (size_t)Hk * D, slots = (size_t)PI_NPAGES * PI_PS;
    const size_t OW = (size_t)Hq * D;
    pi_seq_t sq[3] = {{9, 1, {0, 7, 11, -1, -1, -1}, NULL},
                      {12, 12, {5, 2, 9, -1, -1, -1}, NULL},
                      {22, 3, {1, 3, 4, 6, 8, 10}, NULL}};
    buf_t *qkv = B(RLC_BUF_ACT, PI_NMAX * W), *kc = B(RLC_BUF_ACT, slots * kvw), *vc = B(RLC_BUF_ACT, slots * kvw);
    buf_t *out = B(RLC_BUF_ACT, PI_NMAX * OW), *bcu = B(RLC_BUF_I32, 4), *bctx = B(RLC_BUF_I32, 3);
    buf_t *bbt = B(RLC_BUF_I32, 3 * PI_MAXP);
    float *hk = malloc(slots * kvw * sizeof(float)), *hv = malloc(slots * kvw * sizeof(float));
    for (size_t i = 0; i < slots * kvw; i++) {
        hk[i] = bfr((float)rlc_rng_normal(&rng));
        hv[i] = bfr((float)rlc_rng_normal(&rng));
    }
    for (int si = 0; si < 3; si++) {
        pi_seq_t *q = &sq[si];
        for (int j = 0; j < q->ctx; j++) {
            size_t sl = (size_t)q->tab[j / PI_PS] * PI_PS + j % PI_PS;
            size_t prev = j ? (size_t)q->tab[(j - 1) / PI_PS] * PI_PS + (j - 1) % PI_PS : 0;
            for (size_t e = 0; e < kvw; e++) {
                if (e % D == 0) hk[sl * kvw + e] = bfr(0.8f * (float)j);
                if (j >= 2 && j % 2 == 0) hk[sl * kvw + e] = hk[prev * kvw + e]; /* the key of position j-1 */
                if (j && e % 2 == 0) hv[sl * kvw + e] = j % 2 ? BV : -BV;
            }
        }
        q->q = malloc((size_t)q->qlen * W * sizeof(float));
        for (size_t i = 0; i < (size_t)q->qlen * W; i++)
            q->q[i] = i % W < OW && i % D == 0 ? 1.0f : bfr(0.3f * (float)rlc_rng_normal(&rng));
    }
    set_g(kc, hk);
    set_g(vc, hv);
    float scale = 1.0f / sqrtf((float)D);
    float *hq = malloc(PI_NMAX * W * sizeof(float)), *got = malloc(PI_NMAX * OW * sizeof(float));
    float *ref[3];
    /* One call over the listed sequences, each with queries [first, first + n) of its own. */
    int32_t cu[4], ctx[3], bt[3 * PI_MAXP];
#define PAGED(nseq, which, first, n)                                                                                   \
    do {                                                                                                               \
        int N_ = 0;                                                                                                    \
        cu[0] = 0;                                                                                                     \
        for (int k_ = 0; k_ < (nseq); k_++) {                                                                          \
            pi_seq_t *p_ = &sq[(which)[k_]];                                                                           \
            memcpy(hq + (size_t)N_ * W, p_->q + (size_t)(first)[k_] * W, (size_t)(n)[k_] * W * sizeof(float));         \
            N_ += (n)[k_];                                                                                             \
            cu[k_ + 1] = N_;                                                                                           \
            ctx[k_] = p_->ctx - p_->qlen + (first)[k_] + (n)[k_];                                                      \
            memcpy(bt + k_ * PI_MAXP, p_->tab, sizeof p_->tab);                                                        \
        }                                                                                                              \
        assert_int_equal(gpu->upload(gpu, qkv->g, RLC_BUF_ACT, hq, (size_t)N_ * W), 0);                                \
        assert_int_equal(gpu->upload(gpu, bcu->g, RLC_BUF_I32, cu, (size_t)(nseq) + 1), 0);                            \
        assert_int_equal(gpu->upload(gpu, bctx->g, RLC_BUF_I32, ctx, (size_t)(nseq)), 0);                              \
        assert_int_equal(gpu->upload(gpu, bbt->g, RLC_BUF_I32, bt, (size_t)(nseq) * PI_MAXP), 0);                      \
        gpu->paged_attention(gpu, out->g, qkv->g, kc->g, vc->g, bcu->g, bctx->g, bbt->g, PI_MAXP, PI_PS, (nseq), N_,   \
                             Hq, Hk, D, scale, 0.0f, 22, 0);                                                           \
        gpu_ok();                                                                                                      \
        assert_int_equal(gpu->download(gpu, got, out->g, RLC_BUF_ACT, (size_t)N_ * OW), 0);                           \
    } while (0)
    /* each sequence alone, all its query tokens in one step */
    for (int si = 0; si < 3; si++) {
        int w1[1] = {si}, f1[1] = {0}, n1[1] = {sq[si].qlen};
        PAGED(1, w1, f1, n1);
        ref[si] = malloc((size_t)sq[si].qlen * OW * sizeof(float));
        memcpy(ref[si], got, (size_t)sq[si].qlen * OW * sizeof(float));
    }
    int bad = 0;
    /* the three in one batch */
    int w3[3] = {0, 1, 2}, f3[3] = {0, 0, 0}, n3[3] = {sq[0].qlen, sq[1].qlen, sq[2].qlen};
    PAGED(3, w3, f3, n3);
    for (int si = 0, row = 0; si < 3; row += sq[si].qlen, si++)
        if (memcmp(got + (size_t)row * OW, ref[si], (size_t)sq[si].qlen * OW * sizeof(float))) {
            print_message("    sequence %d: batched with the others it differs from alone\n", si);
            bad++;
        }
    /* A's prefill in two chunks (5 tokens at ctx 5, then 7 at ctx 12); every query token of
     * A and of the third sequence as a decode step of its own */
    int wa[1] = {1}, fa[1] = {0}, na[1] = {5};
    PAGED(1, wa, fa, na);
    if (memcmp(got, ref[1], 5 * OW * sizeof(float))) {
        print_message("    the first 5-token chunk of the prefill differs from the 12-token step\n");
        bad++;
    }
    fa[0] = 5, na[0] = 7;
    PAGED(1, wa, fa, na);
    if (memcmp(got, ref[1] + 5 * OW, 7 * OW * sizeof(float))) {
        print_message("    the second 7-token chunk of the prefill differs from the 12-token step\n");
        bad++;
    }
    for (int si = 1; si < 3; si++)
        for (int t = 0; t < sq[si].qlen; t++) {
            int w1[1] = {si}, f1[1] = {t}, n1[1] = {1};
            PAGED(1, w1, f1, n1);
            if (memcmp(got, ref[si] + (size_t)t * OW, OW * sizeof(float))) {
                print_message("    sequence %d, token %d as a decode step differs from the prefill\n", si, t);
                bad++;
            }
        }
#undef PAGED
    guards_ok("paged attention out", out);
    if (bad) fail_msg("paged attention: %d comparison(s) depend on the batch or the chunking", bad);
    for (int si = 0; si < 3; si++) {
        free(sq[si].q);
        free(ref[si]);
    }
    free(hk);
    free(hv);
    free(hq);
    free(got);
    bufs_free();
}

static void test_paged_attention_invariant(void **s) {
    (void)s;
    paged_invariance_case(4, 2, 64);  /* one block per kv head and its query-head group */
    paged_invariance_case(18, 1, 32); /* 18 heads per kv head: one block per query head */
}

/* The other ops of a decode step work row by row: a row computed alone (through views into
 * the batch's input) is the same bits as inside a batch of 37. */
static void row_same(const char *what, buf_t *full, buf_t *one, int r) {
    gpu_ok();
    float *a = get(gpu, full), *b = get(gpu, one);
    if (memcmp(a + (size_t)r * one->n, b, one->n * sizeof(float)))
        fail_msg("%s: row %d alone differs from the batch", what, r);
    guards_ok(what, one);
    free(a);
    free(b);
}

static void test_decode_ops_row_invariant(void **s) {
    (void)s;
    enum { N = 37, C = 96, F = 80, H = 3, D = 32, V = 500 };
    const int LD = (H + 1) * D;
    buf_t *x = B(RLC_BUF_ACT, (size_t)N * C), *x2 = B(RLC_BUF_ACT, (size_t)N * C), *w = B(RLC_BUF_PARAM, C);
    buf_t *out = B(RLC_BUF_ACT, (size_t)N * C), *res = B(RLC_BUF_ACT, (size_t)N * C), *rstd = B(RLC_BUF_F32, N);
    buf_t *out1 = B(RLC_BUF_ACT, C), *res1 = B(RLC_BUF_ACT, C), *rstd1 = B(RLC_BUF_F32, 1);
    buf_t *qk = B(RLC_BUF_ACT, (size_t)N * LD), *qk1 = B(RLC_BUF_ACT, LD), *pos = B(RLC_BUF_I32, N);
    buf_t *inv = B(RLC_BUF_F32, D / 2), *gu = B(RLC_BUF_ACT, (size_t)N * 2 * F), *sw = B(RLC_BUF_ACT, (size_t)N * F);
    buf_t *sw1 = B(RLC_BUF_ACT, F), *lg = B(RLC_BUF_F32, (size_t)N * V);
    free(fill(x, 2.0f));
    free(fill(x2, 1.0f));
    free(fill(w, 1.0f));
    float *hqk = fill(qk, 1.0f);
    free(fill(gu, 2.0f));
    free(fill(lg, 3.0f));
    int32_t p[N];
    for (int n = 0; n < N; n++) p[n] = (int32_t)rlc_rng_below(&rng, 4096);
    set_i(pos, p);
    float f[D / 2];
    for (int i = 0; i < D / 2; i++) f[i] = (float)pow(1e4, -2.0 * i / D);
    set(inv, f);
    gpu->rmsnorm_fwd(gpu, out->g, rstd->g, x->g, w->g, N, C, 1e-6f);
    gpu->swiglu_fwd(gpu, sw->g, gu->g, N, F);
    gpu->rope_fwd(gpu, qk->g, pos->g, inv->g, N, H, D, D, 1.0f, LD, 0);
    rlc_sample_params_t par[N];
    int32_t tok[N];
    float lp[N];
    for (int n = 0; n < N; n++) {
        rlc_sample_params_t q = {n % 3 ? 0.8f : 0.0f, n % 2 ? 0.9f : 1.0f, 0.0f, n % 4 ? 0 : 40, 77u + (uint64_t)n,
                                 (uint64_t)n, 0};
        par[n] = q;
    }
    gpu->sample(gpu, tok, lp, lg->g, par, N, V);
    const int rows[3] = {0, 20, N - 1};
    for (int i = 0; i < 3; i++) {
        int r = rows[i];
        const char *xr = (const char *)x->g + (size_t)r * C * 2;
        gpu->rmsnorm_fwd(gpu, out1->g, rstd1->g, xr, w->g, 1, C, 1e-6f);
        row_same("rmsnorm_fwd out", out, out1, r);
        row_same("rmsnorm_fwd rstd", rstd, rstd1, r);
        gpu->swiglu_fwd(gpu, sw1->g, (const char *)gu->g + (size_t)r * 2 * F * 2, 1, F);
        row_same("swiglu_fwd", sw, sw1, r);
        set_g(qk1, hqk + (size_t)r * LD);
        gpu->rope_fwd(gpu, qk1->g, (const int32_t *)pos->g + r, inv->g, 1, H, D, D, 1.0f, LD, 0);
        row_same("rope_fwd", qk, qk1, r);
        int32_t t1;
        float l1;
        gpu->sample(gpu, &t1, &l1, (const float *)lg->g + (size_t)r * V, &par[r], 1, V);
        gpu_ok();
        if (t1 != tok[r] || memcmp(&l1, &lp[r], sizeof l1)) fail_msg("sample: row %d alone differs from the batch", r);
    }
    gpu->residual_rmsnorm_fwd(gpu, res->g, out->g, rstd->g, x->g, x2->g, w->g, N, C, 1e-5f);
    for (int i = 0; i < 3; i++) {
        int r = rows[i];
        gpu->residual_rmsnorm_fwd(gpu, res1->g, out1->g, rstd1->g, (const char *)x->g + (size_t)r * C * 2,
                                  (const char *)x2->g + (size_t)r * C * 2, w->g, 1, C, 1e-5f);
        row_same("residual_rmsnorm resid", res, res1, r);
        row_same("residual_rmsnorm out", out, out1, r);
        row_same("residual_rmsnorm rstd", rstd, rstd1, r);
    }
    free(hqk);
    bufs_free();
}

/* The sampler's draw recomputed in double (kernels/cpu/sample.c): key_v = e_v / E_v with
 * e_v = exp((x_v - max) / T) and E_v = -log(u_v) from the row's Philox stream, the argmax
 * over the tokens top-k, min-p and top-p keep. Device expf/logf differ from the host's by a
 * few ulps, so a token whose keep decision is within SAMPLE_EPS of its threshold, or whose
 * key is within SAMPLE_EPS (relative) of the winner's, may legitimately go either way on
 * either backend: such a row is a near tie (*robust = 0). Returns the reference token. */
#define SAMPLE_EPS 1e-5

static double sample_noise(const rlc_sample_params_t *p, int v) {
    rlc_philox_out_t r = rlc_philox4x32((uint32_t)(v / 4), (uint32_t)p->counter, (uint32_t)(p->counter >> 32), 0,
                                        (uint32_t)p->seed, (uint32_t)(p->seed >> 32));
    return -log(((double)(r.v[v % 4] >> 8) + 0.5) / 16777216.0);
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* 1 kept, 0 dropped, -1 within SAMPLE_EPS of a threshold. Top-k compares the logits
 * themselves (both backends order the same floats the same way), so it is exact. */
static int sample_keep(const rlc_sample_params_t *p, float xv, float xk, double z, double mass_above) {
    int unsure = 0;
    if (p->top_k > 0 && xv < xk) return 0;
    if (p->min_p > 0) {
        double t = log(p->min_p);
        if (z < t - SAMPLE_EPS) return 0;
        unsure |= z <= t + SAMPLE_EPS;
    }
    if (p->top_p > 0 && p->top_p < 1) {
        if (mass_above > p->top_p + SAMPLE_EPS) return 0;
        unsure |= mass_above >= p->top_p - SAMPLE_EPS;
    }
    return unsure ? -1 : 1;
}

static int sample_reference(const float *x, int V, const rlc_sample_params_t *p, int *robust) {
    double mx = -INFINITY, T = p->temperature, s = 0;
    for (int v = 0; v < V; v++)
        if (x[v] > mx) mx = x[v];
    double *z = malloc(sizeof(double) * V * 3), *pr = z + V, *sorted = z + 2 * V;
    for (int v = 0; v < V; v++) s += exp(z[v] = (x[v] - mx) / T);
    for (int v = 0; v < V; v++) sorted[v] = pr[v] = exp(z[v]) / s;
    qsort(sorted, V, sizeof(double), cmp_desc);
    float xk = -INFINITY; /* the k-th largest logit */
    if (p->top_k > 0 && p->top_k < V) {
        float *xs = malloc(sizeof(float) * V);
        memcpy(xs, x, sizeof(float) * V);
        for (int i = 0; i < p->top_k; i++) /* partial selection: the k largest to the front */
            for (int j = i + 1; j < V; j++)
                if (xs[j] > xs[i]) {
                    float t = xs[i];
                    xs[i] = xs[j];
                    xs[j] = t;
                }
        xk = xs[p->top_k - 1];
        free(xs);
    }
    int best = -1, unsure_best = -1;
    double bk = -1, second = -1, unsure_key = -1;
    for (int v = 0; v < V; v++) {
        double above = 0; /* mass of the strictly more probable tokens (sorted descending) */
        for (int i = 0; i < V && sorted[i] > pr[v]; i++) above += sorted[i];
        int keep = sample_keep(p, x[v], xk, z[v], above);
        if (!keep) continue;
        double key = exp(z[v]) / sample_noise(p, v);
        if (keep < 0) {
            if (key > unsure_key) unsure_key = key, unsure_best = v;
            continue;
        }
        if (key > bk) second = bk, bk = key, best = v;
        else if (key > second) second = key;
    }
    *robust = best >= 0 && second < bk * (1 - SAMPLE_EPS) && unsure_key < bk * (1 - SAMPLE_EPS);
    free(z);
    return best >= 0 ? best : unsure_best;
}

static void test_sample(void **s) {
    (void)s;
    enum { M = 48, V = 1000, NCFG = 8 };
    const rlc_sample_params_t cfg[NCFG] = {
        {0.0f, 1.0f, 0.0f, 0, 0, 0, 0},    {1.0f, 1.0f, 0.0f, 0, 0, 0, 0},  {0.7f, 1.0f, 0.0f, 20, 0, 0, 0},
        {1.3f, 0.9f, 0.0f, 0, 0, 0, 0},    {0.9f, 1.0f, 0.05f, 0, 0, 0, 0}, {0.8f, 0.8f, 0.02f, 50, 0, 0, 0},
        {1.0f, 1.0f, 0.0f, 1, 0, 0, 0},    {1.0f, 0.3f, 0.0f, 7, 0, 0, 0},
    };
    rlc_sample_params_t par[M];
    buf_t *lg = B(RLC_BUF_F32, (size_t)M * V);
    float *x = malloc((size_t)M * V * sizeof(float));
    for (int r = 0; r < M; r++) {
        par[r] = cfg[r % NCFG];
        par[r].seed = 0x1234567800ull + (uint64_t)r * 7919;
        par[r].counter = (uint64_t)r * 3 + ((uint64_t)r << 33);
        for (int v = 0; v < V; v++) {
            float z = (float)(rlc_rng_normal(&rng) * 3.0);
            x[(size_t)r * V + v] = r >= M / 2 ? roundf(z * 2) / 2 : z; /* second half: many exact ties */
        }
    }
    set(lg, x);
    int32_t tc[M], tg[M];
    float lc[M], lgp[M], lca[M], lga[M];
    cpu->sample(cpu, tc, lc, lg->c, par, M, V);
    gpu->sample(gpu, tg, lgp, lg->g, par, M, V);
    gpu_ok();
    int near = 0, same = 0;
    for (int r = 0; r < M; r++) {
        const float *xr = x + (size_t)r * V;
        if (par[r].temperature == 0) { /* greedy: the argmax, the lowest id on ties, on both: a contract */
            int am = 0;
            for (int v = 1; v < V; v++)
                if (xr[v] > xr[am]) am = v;
            if (tc[r] != am || tg[r] != am) fail_msg("sample: greedy row %d: cpu %d gpu %d, argmax %d", r, tc[r], tg[r], am);
        } else {
            int robust, ref = sample_reference(xr, V, &par[r], &robust);
            if (!robust) { /* a near tie: either backend may take either side */
                print_message("    row %d (cfg %d): near tie, cpu %d gpu %d (reference %d)\n", r, r % NCFG, tc[r], tg[r], ref);
                near++;
                continue;
            }
            if (tc[r] != ref || tg[r] != ref)
                fail_msg("sample: row %d (cfg %d): cpu %d gpu %d, the draw is %d (not a near tie)", r, r % NCFG, tc[r],
                         tg[r], ref);
        }
        lca[same] = lc[r], lga[same] = lgp[r], same++;
    }
    double e = nmse(lga, lca, same);
    print_message("  %-28s %d rows equal, %d near ties (within %.0e) skipped, logp nmse %.3g\n", "sample", same, near,
                  SAMPLE_EPS, e);
    assert_true(near <= M / 8); /* near ties are rare: many of them would hide a wrong kernel */
    assert_true(e <= 1e-10);
    free(x);
    bufs_free();
}

/* ---------------------------------------------------------------- launch limits */

/* The GQA kernel's dynamic shared memory (2 G D + 128 G floats, 128 rows of D + 2 bf16 K and
 * V) lands within 1,216 bytes (its static arrays) under 48 KiB at these (G, D): each launch
 * needs the opt-in for static + dynamic, which a dynamic-only decision skipped. Runs first:
 * a larger shape's opt-in would stay set for the process and hide the fault. */
static void test_paged_attention_smem_edge(void **s) {
    (void)s;
    paged_case(16, 30, 2, 64, 0); /* G = 15, D = 64: 48,640 dynamic + 1,216 static bytes */
    paged_case(8, 4, 2, 90, 0); /* G = 2, D = 90: 49,056 + 1,216 */
}

/* ---------------------------------------------------------------- bad input */

static void expect_error(const char *what, const char *needle) {
    int rc = gpu->check(gpu);
    if (rc == 0) fail_msg("%s: check() reported no error", what);
    print_message("  %-28s -> %s\n", what, rlc_errmsg());
    if (!strstr(rlc_errmsg(), needle)) fail_msg("%s: message lacks '%s'", what, needle);
    gpu_ok(); /* reported once, then cleared */
}

static void test_bad_input(void **s) {
    (void)s;
    const int N = 8, C = 16, V = 10;
    buf_t *wte = B(RLC_BUF_PARAM, (size_t)V * C), *out = B(RLC_BUF_ACT, (size_t)N * C), *ids = B(RLC_BUF_I32, N);
    free(fill(wte, 1.0f));
    int32_t id[8] = {1, 2, -3, 4, 5, 6, 7, 8};
    set_i(ids, id);
    gpu->embedding_fwd(gpu, out->g, ids->g, wte->g, N, C);
    expect_error("negative token id", "token id");
    buf_t *tg = B(RLC_BUF_I32, N), *logp = B(RLC_BUF_F32, N);
    int32_t t[8] = {0, 1, 2, 3, 4, 5, 6, 10};
    set_i(tg, t);
    gpu->lmhead_fwd(gpu, logp->g, NULL, out->g, wte->g, tg->g, N, C, V, 1.0f, 0.0f);
    expect_error("target >= V", "target");
    const int Hq = 3, Hk = 2, D = 8;
    buf_t *qkv = B(RLC_BUF_ACT, (size_t)N * (Hq + 2 * Hk) * D), *ao = B(RLC_BUF_ACT, (size_t)N * Hq * D);
    buf_t *lse = B(RLC_BUF_F32, (size_t)N * Hq), *cus = B(RLC_BUF_I32, 3);
    free(fill(qkv, 1.0f));
    int32_t cu[3] = {0, 6, 4}; /* decreasing */
    set_i(cus, cu);
    gpu->attention_fwd(gpu, ao->g, lse->g, qkv->g, cus->g, 2, 8, N, Hq, Hk, D, 0.3f, 0.0f, 0);
    expect_error("Hq not a multiple of Hk", "multiple");
    gpu->attention_fwd(gpu, ao->g, lse->g, qkv->g, cus->g, 2, 8, N, 2, 1, D, 0.3f, 0.0f, 0);
    expect_error("bad cu_seqlens", "cu_seqlens");
    int32_t cu2[3] = {0, 6, 8};
    set_i(cus, cu2);
    gpu->attention_fwd(gpu, ao->g, lse->g, qkv->g, cus->g, 2, 4, N, 2, 1, D, 0.3f, 0.0f, 0);
    expect_error("sequence over max_seqlen", "max_seqlen");
    gpu->attention_fwd(gpu, ao->g, lse->g, qkv->g, cus->g, 2, 6, N, 2, 1, D, 0.3f, 0.0f, 0);
    gpu_ok(); /* and valid input works again */
    bufs_free();
}

int main(void) {
    int rc = harness_start("decode");
    if (rc) return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_paged_attention_smem_edge, setup),
        cmocka_unit_test_setup(test_gather_rows, setup),
        cmocka_unit_test_setup(test_paged_attention, setup),
        cmocka_unit_test_setup(test_paged_attention_invariant, setup),
        cmocka_unit_test_setup(test_decode_ops_row_invariant, setup),
        cmocka_unit_test_setup(test_sample, setup),
        cmocka_unit_test_setup(test_bad_input, setup),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_stop();
    return rc;
}
