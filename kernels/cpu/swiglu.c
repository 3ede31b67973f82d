/* Gated MLP activations on the fused gate|up projection, gu = [g | u] per row: SwiGLU
 * out = silu(g) * u, and Gemma's GeGLU out = gelu_tanh(g) * u (PyTorch's tanh approximation,
 * gelu_pytorch_tanh). The exponentials and tanh of a row are vectorised (cpu_vexpf,
 * cpu_vsoftcap: libmvec where the machine has AVX2), a row at a time, so each row's result is
 * the same whatever else is in the batch. */
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"

/* One call's rows: gu [N, 2F] (gate then up), dout [N, F] in backward, out [N, F] or dgu [N, 2F]. */
typedef struct {
    float *out;
    const float *gu, *dy;
    int F;
} glu_ctx_t;

/* Run row(c, scratch, n) for each of N rows on the backend's threads, each thread with its own
 * scratch row of F floats (op names a failed allocation). */
static void glu_rows(rlc_backend_t *be, const char *op, const glu_ctx_t *c, int N,
                     void (*row)(const glu_ctx_t *c, float *scratch, int n)) {
#pragma omp parallel num_threads(CPU_THREADS(be))
    {
        float *t = malloc((size_t)(c->F > 0 ? c->F : 1) * sizeof *t);
        if (!t) cpu_scratch_failed(be, op);
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++)
            if (t) row(c, t, n);
        free(t);
    }
}

/* e[i] = exp(-g[i]) for a row of gates. */
static void exp_neg_row(float *e, const float *g, int F) {
    for (int i = 0; i < F; i++) e[i] = -g[i];
    cpu_vexpf(e, e, F, 0.0f);
}

static void swiglu_fwd_row(const glu_ctx_t *c, float *e, int n) {
    int F = c->F;
    const float *g = c->gu + (size_t)n * 2 * F, *u = g + F;
    float *orow = c->out + (size_t)n * F;
    exp_neg_row(e, g, F);
    for (int i = 0; i < F; i++) orow[i] = g[i] / (1.0f + e[i]) * u[i];
}

void cpu_swiglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    glu_ctx_t c = {out, gu, NULL, F};
    glu_rows(be, "swiglu_fwd", &c, N, swiglu_fwd_row);
}

static void swiglu_bwd_row(const glu_ctx_t *c, float *e, int n) {
    int F = c->F;
    const float *g = c->gu + (size_t)n * 2 * F, *u = g + F, *dyr = c->dy + (size_t)n * F;
    float *dg = c->out + (size_t)n * 2 * F, *du = dg + F;
    exp_neg_row(e, g, F);
    for (int i = 0; i < F; i++) {
        float s = 1.0f / (1.0f + e[i]);
        float silu = g[i] * s;
        du[i] = dyr[i] * silu;
        dg[i] = dyr[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
}

void cpu_swiglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    glu_ctx_t c = {dgu, gu, dout, F};
    glu_rows(be, "swiglu_bwd", &c, N, swiglu_bwd_row);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

/* t[i] = tanh(sqrt(2/pi) (g + 0.044715 g^3)) for a row of gates, vectorised (cpu_vsoftcap with
 * cap = mul = 1 is tanh itself). */
static void gelu_tanh_row(float *t, const float *g, int F) {
    for (int i = 0; i < F; i++) t[i] = GELU_K * (g[i] + GELU_C * g[i] * g[i] * g[i]);
    cpu_vsoftcap(t, t, (size_t)F, 1.0f, 1.0f);
}

static void geglu_fwd_row(const glu_ctx_t *c, float *t, int n) {
    int F = c->F;
    const float *g = c->gu + (size_t)n * 2 * F, *u = g + F;
    float *orow = c->out + (size_t)n * F;
    gelu_tanh_row(t, g, F);
    for (int i = 0; i < F; i++) orow[i] = 0.5f * g[i] * (1.0f + t[i]) * u[i];
}

void cpu_geglu_fwd(rlc_backend_t *be, void *out, const void *gu, int N, int F) {
    glu_ctx_t c = {out, gu, NULL, F};
    glu_rows(be, "geglu_fwd", &c, N, geglu_fwd_row);
}

static void geglu_bwd_row(const glu_ctx_t *c, float *tr, int n) {
    int F = c->F;
    const float *g = c->gu + (size_t)n * 2 * F, *u = g + F, *dyr = c->dy + (size_t)n * F;
    float *dg = c->out + (size_t)n * 2 * F, *du = dg + F;
    gelu_tanh_row(tr, g, F);
    for (int i = 0; i < F; i++) {
        float v = g[i], t = tr[i];
        float gelu = 0.5f * v * (1.0f + t);
        float dgelu = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
        du[i] = dyr[i] * gelu;
        dg[i] = dyr[i] * u[i] * dgelu;
    }
}

void cpu_geglu_bwd(rlc_backend_t *be, void *dgu, const void *dout, const void *gu, int N, int F) {
    glu_ctx_t c = {dgu, gu, dout, F};
    glu_rows(be, "geglu_bwd", &c, N, geglu_bwd_row);
}
