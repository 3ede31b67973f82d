/* GPU benchmarks of the CUDA backend, each against a PyTorch peer measured in the same run on
 * the same GPU (bench/gpu/peer_torch.py, run right after ours): attention fwd/bwd vs
 * scaled_dot_product_attention (flash), the fused gate|up matmul vs F.linear, the fused LM
 * head vs linear + log_softmax, and a whole training step (fwd + bwd + AdamW) of a
 * Qwen2.5-0.5B-shaped model vs transformers (eager with fused AdamW, and torch.compile), the
 * row-invariant matmuls of generation (SIMT and tensor-core kernels) vs cuBLASLt (our own
 * backend, flag off) at 1 / 64 / 256 rows with GB/s as a fraction of the memory bandwidth
 * and TFLOP/s, side by side, and decode throughput of the rollout
 * engine at batch 1 / 64 / 256 (8 samples share each prompt) vs transformers generate, also
 * as a fraction of the memory-bandwidth roofline.
 * Prints JSON lines {"bench","ours","peer","unit",...}; "peer" is null when PyTorch is absent.
 * Usage: bench_gpu [--quick] [--no-peer] [--only SUBSTR] [--device cuda|cpu] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/philox.h"
#include "gen/engine.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/optim.h"

#ifndef RLC_SRC_DIR
#define RLC_SRC_DIR "."
#endif

static int quick, use_peer = 1;
static const char *only;
static rlc_backend_t *be;
static rlc_rng_t rng;

static int wanted(const char *name) { return !only || strstr(name, only); }

/* Peak dense bf16 FLOP/s of the device, for MFU (RLC_PEAK_TFLOPS overrides). */
static double peak_flops(void) {
    const char *e = getenv("RLC_PEAK_TFLOPS");
    if (e && atof(e) > 0) return atof(e) * 1e12;
    const char *d = be->device_desc;
    if (strstr(d, "H100") && strstr(d, "PCIe")) return 756e12;
    if (strstr(d, "H100") || strstr(d, "H200") || strstr(d, "H800") || strstr(d, "GH200")) return 989.4e12;
    if (strstr(d, "A100") || strstr(d, "A800")) return 312e12;
    return 0;
}

/* Run the PyTorch peer; its last output line is a JSON object. NULL if it is unavailable. */
static cJSON *peer(const char *args) {
    if (!use_peer) return NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "timeout %s python3 %s/bench/gpu/peer_torch.py %s 2>&1",
             getenv("RLC_PEER_TIMEOUT") ? getenv("RLC_PEER_TIMEOUT") : "300", RLC_SRC_DIR, args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char buf[1 << 16];
    size_t n = 0;
    int c;
    while ((c = fgetc(p)) != EOF)
        if (n + 1 < sizeof buf) buf[n++] = (char)c;
    buf[n] = 0;
    int st = pclose(p);
    char *last = NULL;
    for (char *q = buf; (q = strchr(q, '{')); q++)
        if (q == buf || q[-1] == '\n') last = q;
    cJSON *j = last ? cJSON_Parse(last) : NULL;
    if (!j) fprintf(stderr, "bench: peer '%s' gave no result (status %d): %.600s\n", args, st, n > 600 ? buf + n - 600 : buf);
    return j;
}

static double jnum(const cJSON *j, const char *k) {
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void fmt_num(char *out, size_t cap, double v) {
    if (isfinite(v))
        snprintf(out, cap, "%.6g", v);
    else
        snprintf(out, cap, "null");
}

/* A number as JSON (null when not finite), from a small rotating pool of buffers. */
static const char *J(double v) {
    static char pool[8][32];
    static int k;
    char *o = pool[k++ & 7];
    fmt_num(o, 32, v);
    return o;
}

/* Memory bandwidth in bytes/s for the decode roofline (RLC_PEAK_GBPS overrides). */
static double peak_bw(void) {
    const char *e = getenv("RLC_PEAK_GBPS");
    if (e && atof(e) > 0) return atof(e) * 1e9;
    const char *d = be->device_desc;
    if (strstr(d, "H200")) return 4.8e12;
    if (strstr(d, "H100") && strstr(d, "PCIe")) return 2.0e12;
    if (strstr(d, "H100")) return 3.35e12;
    if (strstr(d, "A100")) return strstr(d, "80GB") ? 2.0e12 : 1.55e12;
    return 0;
}

/* One JSON line. higher_better: the ratio reported is ours/peer (throughput) or peer/ours (time). */
static void emit(const char *bench, double ours, double peerv, const char *unit, int higher_better, const char *extra) {
    char o[32], pv[32], r[32];
    fmt_num(o, sizeof o, ours);
    fmt_num(pv, sizeof pv, peerv);
    fmt_num(r, sizeof r, higher_better ? ours / peerv : peerv / ours);
    printf("{\"bench\":\"%s\",\"ours\":%s,\"peer\":%s,\"unit\":\"%s\",\"speedup\":%s,\"device\":\"%s\"%s%s}\n", bench, o,
           pv, unit, r, be->device_desc, extra && *extra ? "," : "", extra ? extra : "");
    fflush(stdout);
}

static int ok(const char *what) {
    int rc = be->check(be);
    if (rc) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", what, rlc_errmsg());
        fflush(stdout);
    }
    return rc == 0;
}

static void *buf_rand(rlc_buf_kind_t kind, size_t n, float scale) {
    void *d = be->alloc(be, "bench", n, kind);
    if (!d) return NULL;
    float *h = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)(rlc_rng_normal(&rng) * scale);
    int rc = be->upload(be, d, kind, h, n);
    free(h);
    if (rc) {
        be->free(be, d);
        return NULL;
    }
    return d;
}

typedef void (*op_fn)(void *ctx);
/* Mean milliseconds per call over `iters` calls after `warm` calls. */
static double time_ms(op_fn f, void *ctx, int warm, int iters) {
    for (int i = 0; i < warm; i++) f(ctx);
    be->sync(be);
    double t0 = rlc_now();
    for (int i = 0; i < iters; i++) f(ctx);
    be->sync(be);
    return (rlc_now() - t0) * 1e3 / iters;
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    int nseq, L, Hq, Hk, D, N;
    void *qkv, *out, *dout, *dqkv;
    float *lse;
    int32_t *cu;
} attn_t;

static void attn_fwd(void *p) {
    attn_t *a = p;
    be->attention_fwd(be, a->out, a->lse, a->qkv, a->cu, a->nseq, a->L, a->N, a->Hq, a->Hk, a->D,
                      1.0f / sqrtf((float)a->D), 0.0f, 0);
}
static void attn_bwd(void *p) {
    attn_t *a = p;
    be->attention_bwd(be, a->dqkv, a->dout, a->qkv, a->out, a->lse, a->cu, a->nseq, a->L, a->N, a->Hq, a->Hk, a->D,
                      1.0f / sqrtf((float)a->D), 0.0f, 0);
}

static void bench_attention(const char *name, int nseq, int L, int Hq, int Hk, int D) {
    char bn[2][96];
    snprintf(bn[0], sizeof bn[0], "attention_fwd/%s", name);
    snprintf(bn[1], sizeof bn[1], "attention_bwd/%s", name);
    if (!wanted(bn[0]) && !wanted(bn[1])) return;
    attn_t a = {nseq, L, Hq, Hk, D, nseq * L, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t W = (size_t)(Hq + 2 * Hk) * D;
    a.qkv = buf_rand(RLC_BUF_ACT, a.N * W, 1.0f);
    a.dout = buf_rand(RLC_BUF_ACT, (size_t)a.N * Hq * D, 1.0f);
    a.out = be->alloc(be, "attn out", (size_t)a.N * Hq * D, RLC_BUF_ACT);
    a.dqkv = be->alloc(be, "attn dqkv", a.N * W, RLC_BUF_ACT);
    a.lse = be->alloc(be, "attn lse", (size_t)a.N * Hq, RLC_BUF_F32);
    a.cu = be->alloc(be, "cu_seqlens", nseq + 1, RLC_BUF_I32);
    if (!a.qkv || !a.dout || !a.out || !a.dqkv || !a.lse || !a.cu) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn[0], rlc_errmsg());
        return;
    }
    int32_t cu[64];
    for (int s = 0; s <= nseq; s++) cu[s] = s * L;
    be->upload(be, a.cu, RLC_BUF_I32, cu, nseq + 1);
    int it = quick ? 2 : 10;
    double fwd = time_ms(attn_fwd, &a, 1, it);
    double bwd = ok(bn[0]) ? time_ms(attn_bwd, &a, 1, it) : NAN;
    if (ok(bn[1])) {
        double flops = 4.0 * nseq * Hq * D * (double)L * L / 2; /* causal: half the score matrix */
        char args[256], ex[256];
        snprintf(args, sizeof args, "attention --nseq %d --seqlen %d --hq %d --hk %d --d %d", nseq, L, Hq, Hk, D);
        cJSON *pj = peer(args);
        double pf = jnum(pj, "fwd_ms"), pb = jnum(pj, "bwd_ms");
        const cJSON *pk = pj ? cJSON_GetObjectItemCaseSensitive(pj, "kernel") : NULL;
        snprintf(ex, sizeof ex, "\"ours_tflops\":%s,\"peer_tflops\":%s,\"peer_kernel\":\"%s\"", J(flops / fwd / 1e9),
                 J(flops / pf / 1e9), cJSON_IsString(pk) ? pk->valuestring : "none");
        emit(bn[0], fwd, pf, "ms", 0, ex);
        snprintf(ex, sizeof ex, "\"ours_tflops\":%s,\"peer_tflops\":%s", J(2.5 * flops / bwd / 1e9),
                 J(2.5 * flops / pb / 1e9));
        emit(bn[1], bwd, pb, "ms", 0, ex);
        cJSON_Delete(pj);
    }
    be->free(be, a.qkv);
    be->free(be, a.dout);
    be->free(be, a.out);
    be->free(be, a.dqkv);
    be->free(be, a.lse);
    be->free(be, a.cu);
}

/* ---------------------------------------------------------------- matmul */

typedef struct {
    int N, IC, OC;
    void *inp, *w, *out, *dout, *dinp, *dw;
} mm_t;
static void mm_fwd(void *p) {
    mm_t *m = p;
    be->matmul_fwd(be, m->out, m->inp, m->w, NULL, m->N, m->IC, m->OC);
}
static void mm_bwd(void *p) {
    mm_t *m = p;
    be->matmul_bwd(be, m->dinp, m->dw, NULL, m->dout, m->inp, m->w, m->N, m->IC, m->OC);
}

static void bench_matmul(const char *name, int N, int IC, int OC) {
    char bn[96];
    snprintf(bn, sizeof bn, "matmul/%s", name);
    if (!wanted(bn)) return;
    mm_t m = {N, IC, OC, NULL, NULL, NULL, NULL, NULL, NULL};
    m.inp = buf_rand(RLC_BUF_ACT, (size_t)N * IC, 1.0f);
    m.w = buf_rand(RLC_BUF_PARAM, (size_t)OC * IC, 0.02f);
    m.dout = buf_rand(RLC_BUF_ACT, (size_t)N * OC, 1.0f);
    m.out = be->alloc(be, "mm out", (size_t)N * OC, RLC_BUF_ACT);
    m.dinp = be->alloc(be, "mm dinp", (size_t)N * IC, RLC_BUF_ACT);
    m.dw = be->alloc(be, "mm dw", (size_t)OC * IC, RLC_BUF_GRAD);
    if (!m.inp || !m.w || !m.dout || !m.out || !m.dinp || !m.dw) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
        return;
    }
    be->zero(be, m.dw, RLC_BUF_GRAD, (size_t)OC * IC);
    int it = quick ? 2 : 20;
    double f = time_ms(mm_fwd, &m, 2, it), b = time_ms(mm_bwd, &m, 2, it);
    if (ok(bn)) {
        double flops = 2.0 * N * IC * (double)OC;
        char args[200], ex[200];
        snprintf(args, sizeof args, "matmul --n %d --ic %d --oc %d", N, IC, OC);
        cJSON *pj = peer(args);
        double pf = jnum(pj, "fwd_ms"), pb = jnum(pj, "bwd_ms");
        snprintf(ex, sizeof ex, "\"ours_tflops\":%s,\"peer_tflops\":%s", J(flops / f / 1e9), J(flops / pf / 1e9));
        char n2[110];
        snprintf(n2, sizeof n2, "%s_fwd", bn);
        emit(n2, f, pf, "ms", 0, ex);
        snprintf(ex, sizeof ex, "\"ours_tflops\":%s,\"peer_tflops\":%s,\"note\":\"ours: fp32 dW accumulate\"",
                 J(2 * flops / b / 1e9), J(2 * flops / pb / 1e9));
        snprintf(n2, sizeof n2, "%s_bwd", bn);
        emit(n2, b, pb, "ms", 0, ex);
        cJSON_Delete(pj);
    }
    be->free(be, m.inp);
    be->free(be, m.w);
    be->free(be, m.dout);
    be->free(be, m.out);
    be->free(be, m.dinp);
    be->free(be, m.dw);
}

/* ---------------------------------------------------------------- LM head */

typedef struct {
    int N, C, V;
    void *h, *w, *dh, *dw;
    float *logp, *ent, *dlogp;
    int32_t *tg;
} lm_t;
static void lm_fwd(void *p) {
    lm_t *l = p;
    be->lmhead_fwd(be, l->logp, l->ent, l->h, l->w, l->tg, l->N, l->C, l->V, 1.0f, 0.0f);
}
static void lm_bwd(void *p) { /* recomputes the logits: forward and backward in one call */
    lm_t *l = p;
    be->lmhead_bwd(be, l->dh, l->dw, l->logp, l->ent, l->dlogp, NULL, l->h, l->w, l->tg, l->N, l->C, l->V, 1.0f, 0.0f);
}

static void bench_lmhead(const char *name, int N, int C, int V) {
    char bn[96];
    snprintf(bn, sizeof bn, "lmhead/%s", name);
    if (!wanted(bn)) return;
    lm_t l = {N, C, V, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    l.h = buf_rand(RLC_BUF_ACT, (size_t)N * C, 1.0f);
    l.w = buf_rand(RLC_BUF_PARAM, (size_t)V * C, 0.02f);
    l.dlogp = buf_rand(RLC_BUF_F32, N, 1.0f / N);
    l.dh = be->alloc(be, "lm dh", (size_t)N * C, RLC_BUF_ACT);
    l.dw = be->alloc(be, "lm dw", (size_t)V * C, RLC_BUF_GRAD);
    l.logp = be->alloc(be, "lm logp", N, RLC_BUF_F32);
    l.ent = be->alloc(be, "lm ent", N, RLC_BUF_F32);
    l.tg = be->alloc(be, "lm targets", N, RLC_BUF_I32);
    if (!l.h || !l.w || !l.dlogp || !l.dh || !l.dw || !l.logp || !l.ent || !l.tg) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
        return;
    }
    int32_t *t = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) t[i] = (int32_t)rlc_rng_below(&rng, V);
    be->upload(be, l.tg, RLC_BUF_I32, t, N);
    free(t);
    be->zero(be, l.dw, RLC_BUF_GRAD, (size_t)V * C);
    int it = quick ? 2 : 5;
    double f = time_ms(lm_fwd, &l, 1, it), fb = time_ms(lm_bwd, &l, 1, it);
    if (ok(bn)) {
        char args[200], n2[110];
        snprintf(args, sizeof args, "lmhead --n %d --c %d --v %d", N, C, V);
        cJSON *pj = peer(args);
        snprintf(n2, sizeof n2, "%s_fwd", bn);
        emit(n2, f, jnum(pj, "fwd_ms"), "ms", 0, "\"what\":\"logp+entropy\"");
        snprintf(n2, sizeof n2, "%s_fwd_bwd", bn);
        emit(n2, fb, jnum(pj, "fwd_bwd_ms"), "ms", 0, "\"what\":\"logp, entropy, dh, dw\"");
        cJSON_Delete(pj);
    }
    be->free(be, l.h);
    be->free(be, l.w);
    be->free(be, l.dlogp);
    be->free(be, l.dh);
    be->free(be, l.dw);
    be->free(be, l.logp);
    be->free(be, l.ent);
    be->free(be, l.tg);
}

/* ---------------------------------------------------------------- row-invariant matmul */

/* The two row-invariant kernels live in backends of their own (RLC_CUDA_ROWINV is read when a
 * backend is created); they run on `be`'s buffers (one device; uploads are synchronous and
 * each timing waits for the stream of the backend that ran the op). On the CPU there is one
 * row-invariant kernel, reported under both names. */
static const char *ri_names[2] = {"simt", "tc"};
static rlc_backend_t *ri_be[2];

static rlc_backend_t *ri_backend(int v) {
    if (!be->is_gpu) return be;
    if (!ri_be[v]) {
        const char *old = getenv("RLC_CUDA_ROWINV");
        char *saved = old ? strdup(old) : NULL;
        setenv("RLC_CUDA_ROWINV", ri_names[v], 1);
        if (rlc_backend_create(&ri_be[v], "cuda", 0, 0)) ri_be[v] = NULL;
        if (saved)
            setenv("RLC_CUDA_ROWINV", saved, 1);
        else
            unsetenv("RLC_CUDA_ROWINV");
        free(saved);
    }
    return ri_be[v];
}

typedef struct {
    rlc_backend_t *b; /* the backend that runs the op */
    int N, IC, OC, logits;
    void *inp, *w, *out;
} ri_t;
static void ri_run(void *p) {
    ri_t *r = p;
    if (r->logits)
        r->b->logits(r->b, r->out, r->inp, r->w, r->N, r->IC, r->OC);
    else
        r->b->matmul_fwd(r->b, r->out, r->inp, r->w, NULL, r->N, r->IC, r->OC);
}
/* time_ms on r->b: its own stream, its own check(). NAN on failure (reported). */
static double ri_time(ri_t *r, int row_invariant, int iters, const char *bn) {
    r->b->row_invariant = row_invariant;
    for (int i = 0; i < 2; i++) ri_run(r);
    r->b->sync(r->b);
    double t0 = rlc_now();
    for (int i = 0; i < iters; i++) ri_run(r);
    r->b->sync(r->b);
    double ms = (rlc_now() - t0) * 1e3 / iters;
    r->b->row_invariant = 0;
    if (r->b->check(r->b)) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
        fflush(stdout);
        return NAN;
    }
    return ms;
}

/* The generation path (be->row_invariant set: a fixed summation order per row, whatever the
 * batch) with each kernel — SIMT FMAs (gemm_rows.cu) and tensor cores (gemm_rows_tc.cu) —
 * against the training path (cuBLASLt, flag clear) on the same shapes, at decode-step sizes
 * of 1, 64 and 256 rows. One line per shape and N: "ours" is the tc kernel (the default),
 * "peer" cuBLASLt, and the extra fields give all three side by side: ms, GB/s (weights +
 * inputs + outputs once), the fraction of the device's memory bandwidth, TFLOP/s, and
 * tc_over_simt (> 1: tc faster). At N = 1 all should be bandwidth bound; by N = 256 the
 * SIMT kernel is bound by fp32 FMAs, the others by tensor-core throughput. */
static void bench_rowinv(const char *name, int IC, int OC, int logits) {
    static const int Ns[3] = {1, 64, 256};
    char bn[3][128];
    int any = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(bn[i], sizeof bn[i], "rowinv_%s/%s_n%d", logits ? "logits" : "matmul", name, Ns[i]);
        any |= wanted(bn[i]);
    }
    if (!any) return;
    rlc_backend_t *vb[2] = {ri_backend(0), ri_backend(1)};
    ri_t r = {NULL, 0, IC, OC, logits, NULL, NULL, NULL};
    r.inp = buf_rand(RLC_BUF_ACT, (size_t)Ns[2] * IC, 1.0f);
    r.w = buf_rand(RLC_BUF_PARAM, (size_t)OC * IC, 0.02f);
    r.out = be->alloc(be, "rowinv out", (size_t)Ns[2] * OC, logits ? RLC_BUF_F32 : RLC_BUF_ACT);
    if (!r.inp || !r.w || !r.out || !vb[0] || !vb[1]) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn[0], rlc_errmsg());
        fflush(stdout);
    }
    for (int i = 0; i < 3 && r.inp && r.w && r.out && vb[0] && vb[1]; i++) {
        if (!wanted(bn[i])) continue;
        r.N = Ns[i];
        int it = quick ? 3 : 50;
        double ms[3]; /* simt, tc, cuBLASLt */
        for (int v = 0; v < 2; v++) {
            r.b = vb[v];
            ms[v] = ri_time(&r, 1, it, bn[i]);
        }
        r.b = be;
        ms[2] = ri_time(&r, 0, it, bn[i]);
        if (!isfinite(ms[0]) || !isfinite(ms[1]) || !isfinite(ms[2])) continue;
        double bytes = 2.0 * OC * IC + 2.0 * r.N * IC + (logits ? 4.0 : 2.0) * r.N * OC;
        double flops = 2.0 * r.N * IC * (double)OC, bw = peak_bw();
        char ex[1024];
        int n = snprintf(ex, sizeof ex, "\"n\":%d,\"ic\":%d,\"oc\":%d,\"ours_impl\":\"%s\"", r.N, IC, OC,
                         be->is_gpu ? "tc" : "the CPU's row-invariant kernel (simt = tc)");
        static const char *who[3] = {"simt", "tc", "peer"};
        for (int v = 0; v < 3 && n > 0 && n < (int)sizeof ex; v++) {
            double gbs = bytes / (ms[v] * 1e-3);
            n += snprintf(ex + n, sizeof ex - (size_t)n, ",\"%s_ms\":%s,\"%s_gbs\":%s,\"%s_bw_frac\":%s,\"%s_tflops\":%s",
                          who[v], J(ms[v]), who[v], J(gbs / 1e9), who[v], J(bw > 0 ? gbs / bw : NAN), who[v],
                          J(flops / (ms[v] * 1e-3) / 1e12));
        }
        if (n > 0 && n < (int)sizeof ex)
            snprintf(ex + n, sizeof ex - (size_t)n, ",\"tc_over_simt\":%s,\"peer_impl\":\"%s\"", J(ms[0] / ms[1]),
                     be->is_gpu ? "cuBLASLt (same backend, row_invariant off)"
                                : "the backend's matmul, row_invariant off");
        emit(bn[i], ms[1], ms[2], "ms", 0, ex);
    }
    if (r.inp) be->free(be, r.inp);
    if (r.w) be->free(be, r.w);
    if (r.out) be->free(be, r.out);
}

/* ---------------------------------------------------------------- training step */

static void bench_train(const char *name, const char *config, int B, int T) {
    char bn[96];
    snprintf(bn, sizeof bn, "train_step/%s", name);
    if (!wanted(bn)) return;
    char path[512];
    snprintf(path, sizeof path, "%s/bench/gpu/%s", RLC_SRC_DIR, config);
    cJSON *cfg = rlc_json_load_file(path);
    rlc_model_t *m = NULL;
    rlc_optim_t *opt = NULL;
    rlc_adamw_cfg_t oc = {1e-5f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    if (!cfg || rlc_model_create(&m, cfg, be, 1, 0.02f) || rlc_model_alloc_grads(m) || rlc_optim_create(&opt, m, &oc)) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
        cJSON_Delete(cfg);
        if (m) rlc_model_free(m);
        return;
    }
    int N = B * T;
    int32_t *ids = malloc((size_t)N * 4), cu[65];
    float *dl = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) ids[i] = (int32_t)rlc_rng_below(&rng, (uint32_t)m->cfg.vocab_size);
    for (int s = 0; s <= B; s++) cu[s] = s * T;
    for (int i = 0; i < N; i++) dl[i] = (i % T == T - 1) ? 0.0f : -1.0f / (float)(N - B); /* token-mean NLL */
    rlc_batch_t b = {.n_tokens = N, .nseq = B, .ids = ids, .cu_seqlens = cu};
    rlc_fwd_opts_t o = {.inv_temp = 1, .train = 1, .head = RLC_HEAD_LM, .skip_head = 1};
    int warm = quick ? 1 : 2, iters = quick ? 2 : 5, rc = 0;
    double t0 = 0, gn = 0;
    for (int it = 0; it < warm + iters && !rc; it++) {
        if (it == warm) {
            be->sync(be);
            t0 = rlc_now();
        }
        rlc_model_zero_grads(m);
        rc = rlc_model_forward(m, &b, &o, NULL, NULL, NULL);
        if (!rc) rc = rlc_model_backward(m, &b, &o, dl, NULL, NULL, NULL, NULL);
        if (!rc) rc = rlc_optim_step(opt, 1e-5f, 1000u + (uint32_t)it, &gn);
        if (!rc) rc = be->check(be);
    }
    if (rc) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
    } else {
        be->sync(be);
        double dt = (rlc_now() - t0) / iters, tps = N / dt;
        const rlc_model_config_t *c = &m->cfg;
        /* 6 flops per parameter per token (fwd + bwd) + causal attention 6 * layers * T * C */
        double flops = 6.0 * (double)m->n_params * N + 6.0 * c->num_layers * (double)T * c->num_heads * c->head_dim * N;
        double peak = peak_flops(), mfu = peak > 0 ? flops / dt / peak : NAN;
        char args[700], ex[512], mf[32];
        snprintf(args, sizeof args, "train --config %s --batch %d --seqlen %d --steps %d%s", path, B, T, iters,
                 getenv("RLC_NO_COMPILE") ? " --no-compile" : "");
        cJSON *pj = peer(args);
        double pe = jnum(pj, "eager_tok_s"), pc = jnum(pj, "compile_tok_s");
        fmt_num(mf, sizeof mf, mfu);
        snprintf(ex, sizeof ex,
                 "\"tokens\":%d,\"params_m\":%.1f,\"step_ms\":%.2f,\"mfu\":%s,\"peer_mfu\":%s,\"grad_norm\":%s,"
                 "\"peer_impl\":\"transformers eager + fused AdamW\"",
                 N, m->n_params / 1e6, dt * 1e3, mf, J(peak > 0 ? flops / (N / pe) / peak : NAN), J(gn));
        emit(bn, tps, pe, "tok/s", 1, ex);
        char n2[110];
        snprintf(n2, sizeof n2, "%s_vs_compile", bn);
        snprintf(ex, sizeof ex, "\"peer_impl\":\"transformers + torch.compile + fused AdamW\"");
        emit(n2, tps, pc, "tok/s", 1, ex);
        cJSON_Delete(pj);
    }
    free(ids);
    free(dl);
    rlc_optim_free(opt);
    rlc_model_free(m);
    cJSON_Delete(cfg);
}

/* ---------------------------------------------------------------- decode throughput */

static void bench_decode(const char *name, const char *config, int B, int L, int NEW) {
    char bn[96];
    snprintf(bn, sizeof bn, "decode/%s_b%d", name, B);
    if (!wanted(bn)) return;
    char path[512];
    snprintf(path, sizeof path, "%s/bench/gpu/%s", RLC_SRC_DIR, config);
    cJSON *cfg = rlc_json_load_file(path);
    rlc_model_t *m = NULL;
    gen_engine_t *e = NULL;
    int G = B < 8 ? B : 8, P = B / G; /* G samples share each prompt's KV pages */
    gen_engine_cfg_t ec = {.page_size = 16, .max_batch_tokens = 4096, .max_seqs = B > 256 ? B : 256};
    ec.num_pages = B * ((L + NEW) / 16 + 2) + 64;
    if (!cfg || rlc_model_create(&m, cfg, be, 1, 0.02f) || gen_engine_create(&e, m, NULL, &ec)) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
        cJSON_Delete(cfg);
        if (m) rlc_model_free(m);
        return;
    }
    int32_t *ids = malloc((size_t)L * 4);
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = G;
    gp.max_new_tokens = NEW;
    gp.ignore_eos = 1;
    gp.temperature = 1.0f;
    int rc = 0;
    /* warm-up: one short request (workspaces, cuBLASLt heuristics) */
    for (int k = 0; k < L; k++) ids[k] = (int32_t)rlc_rng_below(&rng, (uint32_t)m->cfg.vocab_size);
    gen_params_t wp = gp;
    wp.n = 1;
    wp.max_new_tokens = 4;
    int wreq = gen_submit(e, ids, L, &wp, NULL);
    if (wreq < 0 || gen_run(e, NULL)) rc = -1;
    if (wreq >= 0) gen_release(e, wreq);
    be->sync(be);
    double t0 = rlc_now();
    for (int i = 0; i < P && !rc; i++) {
        for (int k = 0; k < L; k++) ids[k] = (int32_t)rlc_rng_below(&rng, (uint32_t)m->cfg.vocab_size);
        gp.seed = (uint64_t)i;
        if (gen_submit(e, ids, L, &gp, NULL) < 0) rc = -1;
    }
    if (!rc) rc = gen_run(e, NULL);
    double dt = rlc_now() - t0;
    if (rc) {
        printf("{\"bench\":\"%s\",\"error\":\"%s\"}\n", bn, rlc_errmsg());
    } else {
        double tps = (double)P * G * NEW / dt;
        /* a decode step streams every weight once (bf16) plus each sequence's KV so far */
        const rlc_model_config_t *c = &m->cfg;
        double kv_tok = 2.0 * 2 * c->num_layers * c->num_kv_heads * c->head_dim; /* bytes per cached token */
        double step_bytes = 2.0 * m->n_params + B * kv_tok * (L + NEW / 2.0);
        double bw = peak_bw(), roof = bw > 0 ? bw / step_bytes * B : NAN;
        char args[700], ex[300];
        snprintf(args, sizeof args, "generate --config %s --prompts %d --g %d --prompt-len %d --new %d", path, P, G, L,
                 NEW);
        cJSON *pj = peer(args);
        snprintf(ex, sizeof ex,
                 "\"batch\":%d,\"samples_per_prompt\":%d,\"prompt_len\":%d,\"new_tokens\":%d,\"roofline_tok_s\":%s,"
                 "\"roofline_frac\":%s,\"peer_impl\":\"transformers generate (bf16, sdpa)\"",
                 B, G, L, NEW, J(roof), J(tps / roof));
        emit(bn, tps, jnum(pj, "tok_s"), "tok/s", 1, ex);
        cJSON_Delete(pj);
    }
    free(ids);
    gen_engine_free(e);
    rlc_model_free(m);
    cJSON_Delete(cfg);
}

int main(int argc, char **argv) {
    const char *dev = "cuda";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--no-peer"))
            use_peer = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            dev = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gpu [--quick] [--no-peer] [--only SUBSTR] [--device cuda|cpu]\n");
            return 2;
        }
    }
    if (rlc_backend_create(&be, dev, 0, 0)) {
        fprintf(stderr, "bench_gpu: %s\n", rlc_errmsg());
        return 77;
    }
    rlc_rng_init(&rng, 42, 0);
    fprintf(stderr, "bench_gpu: %s (%s)%s\n", be->device_desc, be->name, quick ? ", quick shapes" : "");
    if (quick) {
        bench_attention("small", 2, 128, 4, 2, 64);
        bench_matmul("small", 128, 64, 256);
        bench_lmhead("small", 64, 64, 1000);
        bench_rowinv("small", 64, 256, 0);
        bench_rowinv("small_lm_head", 64, 1000, 1);
        bench_train("tiny", "tiny.json", 2, 64);
        bench_decode("tiny", "tiny.json", 1, 16, 8);
        bench_decode("tiny", "tiny.json", 16, 16, 8);
    } else {
        bench_attention("qwen2.5-0.5b", 4, 2048, 14, 2, 64);
        bench_attention("llama3-8b", 2, 4096, 32, 8, 128);
        bench_matmul("qwen2.5-0.5b_gate_up", 8192, 896, 9728);
        bench_lmhead("qwen2.5-0.5b", 8192, 896, 151936);
        bench_rowinv("qwen2.5-0.5b_up", 896, 4864, 0);
        bench_rowinv("qwen2.5-0.5b_down", 4864, 896, 0);
        bench_rowinv("qwen2.5-0.5b_lm_head", 896, 151936, 1);
        bench_train("qwen2.5-0.5b", "qwen2.5-0.5b.json", 4, 2048);
        bench_decode("qwen2.5-0.5b", "qwen2.5-0.5b.json", 1, 128, 256);
        bench_decode("qwen2.5-0.5b", "qwen2.5-0.5b.json", 64, 128, 256);
        bench_decode("qwen2.5-0.5b", "qwen2.5-0.5b.json", 256, 128, 256);
    }
    for (int v = 0; v < 2; v++)
        if (ri_be[v] && ri_be[v] != be) rlc_backend_destroy(ri_be[v]);
    rlc_backend_destroy(be);
    return 0;
}
