/* The parity harness shared by the CUDA op tests (test_cuda_ops.c, test_cuda_decode.c): a
 * CPU and a GPU backend, buffers mirrored on both with guard regions around the GPU side,
 * bf16-rounded random fills, and the normalized-MSE comparison. Each test file includes it
 * once (the state is per file). Built against a real GPU or the emulator (RLC_CUDA_EMU). */
#pragma once
#include "testutil.h"

#include "core/err.h"
#include "core/half.h"
#include "core/philox.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_backend.h"

/* Limits. A bf16 store of an fp32 result has relative error up to 2^-9, uniform, so its
 * NMSE is about (2^-9)^2 / 3 = 1.3e-6; BF16_ONE allows ~8x that for one rounding of the
 * output. F32 outputs computed from identical inputs differ only by summation order. */
#define BF16_ONE 1e-5
#define BF16_TWO 3e-5 /* two roundings in series (e.g. a rounded intermediate feeds the output) */
#define F32_ORDER 1e-9

enum { GUARD = 64, MAXBUF = 48 };

static rlc_backend_t *cpu, *gpu;
static rlc_rng_t rng;

typedef struct {
    rlc_buf_kind_t kind;
    size_t n;
    void *c;      /* CPU buffer */
    char *gbase;  /* GPU allocation incl. guards */
    void *g;      /* GPU buffer = gbase + GUARD elements */
    float *guard; /* the guards as first downloaded */
} buf_t;

static buf_t bufs[MAXBUF];
static int nbufs;

static inline size_t esz(rlc_backend_t *be, rlc_buf_kind_t k) { return be->esize[k]; }

static inline void gpu_ok(void) {
    int rc = gpu->check(gpu);
    if (rc) fail_msg("gpu check(): %s", rlc_errmsg());
}

static inline buf_t *B(rlc_buf_kind_t kind, size_t n) {
    assert_true(nbufs < MAXBUF);
    buf_t *b = &bufs[nbufs++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->n = n;
    b->c = cpu->alloc(cpu, "test", n ? n : 1, kind);
    b->gbase = gpu->alloc(gpu, "test", n + 2 * GUARD, kind);
    assert_non_null(b->c);
    assert_non_null(b->gbase);
    b->g = b->gbase + GUARD * esz(gpu, kind);
    /* guards hold a recognisable pattern, the interior NaN (or -1 for int32) */
    size_t tot = n + 2 * GUARD;
    float *h = malloc(tot * sizeof(float));
    for (size_t i = 0; i < tot; i++) {
        if (kind == RLC_BUF_I32) {
            int32_t v = (i < GUARD || i >= GUARD + n) ? (int32_t)(0x5A5A0000 + i) : -1;
            memcpy(&h[i], &v, 4);
        } else {
            h[i] = (i < GUARD || i >= GUARD + n) ? 1000.0f + (float)i : NAN;
        }
    }
    assert_int_equal(gpu->upload(gpu, b->gbase, kind, h, tot), 0);
    assert_int_equal(gpu->download(gpu, h, b->gbase, kind, tot), 0);
    b->guard = malloc(2 * GUARD * sizeof(float));
    memcpy(b->guard, h, GUARD * sizeof(float));
    memcpy(b->guard + GUARD, h + GUARD + n, GUARD * sizeof(float));
    free(h);
    return b;
}

static inline void bufs_free(void) {
    for (int i = 0; i < nbufs; i++) {
        cpu->free(cpu, bufs[i].c);
        gpu->free(gpu, bufs[i].gbase);
        free(bufs[i].guard);
    }
    nbufs = 0;
}

static inline void guards_ok(const char *what, buf_t *b) {
    size_t tot = b->n + 2 * GUARD;
    float *h = malloc(tot * sizeof(float));
    assert_int_equal(gpu->download(gpu, h, b->gbase, b->kind, tot), 0);
    if (memcmp(h, b->guard, GUARD * sizeof(float)) || memcmp(h + GUARD + b->n, b->guard + GUARD, GUARD * sizeof(float)))
        fail_msg("%s: the GPU op wrote outside its output (guard region changed)", what);
    free(h);
}

static inline float bfr(float x) { return rlc_bf16_to_f32(rlc_f32_to_bf16(x)); }

/* Upload the same values to both sides. */
static inline void set(buf_t *b, const float *x) {
    assert_int_equal(cpu->upload(cpu, b->c, b->kind, x, b->n), 0);
    assert_int_equal(gpu->upload(gpu, b->g, b->kind, x, b->n), 0);
}
static inline void set_g(buf_t *b, const float *x) { assert_int_equal(gpu->upload(gpu, b->g, b->kind, x, b->n), 0); }
static inline void set_i(buf_t *b, const int32_t *x) {
    assert_int_equal(cpu->upload(cpu, b->c, RLC_BUF_I32, x, b->n), 0);
    assert_int_equal(gpu->upload(gpu, b->g, RLC_BUF_I32, x, b->n), 0);
}
/* Random normal * scale, rounded to bf16 so that both backends hold the same numbers. */
static inline float *fill(buf_t *b, float scale) {
    float *x = malloc(b->n * sizeof(float) + 4);
    for (size_t i = 0; i < b->n; i++) x[i] = bfr((float)(rlc_rng_normal(&rng) * scale));
    set(b, x);
    return x;
}
static inline float *get(rlc_backend_t *be, buf_t *b) {
    float *x = malloc(b->n * sizeof(float) + 4);
    assert_int_equal(be->download(be, x, be == cpu ? b->c : b->g, b->kind, b->n), 0);
    return x;
}

static inline double nmse(const float *g, const float *c, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)g[i] - (double)c[i];
        num += d * d;
        den += (double)c[i] * c[i];
    }
    if (num != num) return INFINITY;
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

/* Compare a buffer's GPU and CPU contents; also its guards. */
static inline double cmp(const char *what, buf_t *b, double limit) {
    gpu_ok();
    float *g = get(gpu, b), *c = get(cpu, b);
    double e = nmse(g, c, b->n);
    print_message("  %-28s nmse %.3g (limit %.1g)\n", what, e, limit);
    if (!(e <= limit)) {
        for (size_t i = 0, shown = 0; i < b->n && shown < 6; i++)
            if (fabsf(g[i] - c[i]) > 1e-3f * (1.0f + fabsf(c[i])) || g[i] != g[i]) {
                print_message("    [%zu] gpu %.6g cpu %.6g\n", i, g[i], c[i]);
                shown++;
            }
        fail_msg("%s: nmse %.3g over the limit %.1g", what, e, limit);
    }
    guards_ok(what, b);
    free(g);
    free(c);
    return e;
}

/* GPU buffer equal to itself across two runs, bit for bit (determinism). */
static inline void same_bits(const char *what, const float *a, const float *b, size_t n) {
    if (memcmp(a, b, n * sizeof(float))) fail_msg("%s: two identical GPU runs differ", what);
}


static inline int setup(void **s) {
    (void)s;
    bufs_free(); /* a failed test leaves its buffers behind */
    rlc_rng_init(&rng, 20240607, 7);
    return 0;
}

/* Both backends, or 77 (skipped) without a device. */
static inline int harness_start(const char *what) {
    char desc[256];
#ifdef RLC_CUDA_EMU
    const char *which = "CUDA emulator";
#else
    const char *which = "GPU";
#endif
    if (rlc_cuda_device_count(desc, sizeof desc) <= 0) {
        printf("SKIP: no CUDA device (%s)\n", desc);
        return 77;
    }
    if (rlc_cpu_backend_create(&cpu, 2) || rlc_cuda_backend_create(&gpu, 0, 2)) {
        fprintf(stderr, "backend: %s\n", rlc_errmsg());
        return 1;
    }
    printf("%s (%s): %s\n", which, what, desc);
    return 0;
}

static inline void harness_stop(void) {
    rlc_backend_destroy(gpu);
    rlc_backend_destroy(cpu);
}
