/* Multi-head latent attention's op: head_copy, the strided column-block copy (and head sum)
 * that assembles MLA's heads. The CPU reference against a plain loop, then the CUDA kernel's
 * parity with it (copies bit for bit, the head sum to one bf16 rounding). Built twice:
 * test_cuda_emu_mla (the emulator, CI) and test_gpu_mla (a real GPU; 77 without). */
#include "cuda_harness.h"

/* One case: N rows, H heads of W columns; strides as MLA uses them (shs = 0: broadcast). */
static void copy_case(int N, int H, int W, int dld, int dhs, int sld, int shs, int sum) {
    size_t nd = (size_t)N * dld, ns = (size_t)N * sld;
    buf_t *dst = B(RLC_BUF_ACT, nd), *src = B(RLC_BUF_ACT, ns);
    float *xs = fill(src, 1.0f), *xd = fill(dst, 1.0f); /* untouched columns must stay as they were */
    float *want = malloc(nd * sizeof(float));
    memcpy(want, xd, nd * sizeof(float));
    for (int n = 0; n < N; n++)
        for (int j = 0; j < W; j++) {
            double acc = 0;
            for (int h = 0; h < H; h++) {
                float v = xs[(size_t)n * sld + (size_t)h * shs + j];
                acc += v;
                if (!sum) want[(size_t)n * dld + (size_t)h * dhs + j] = v;
            }
            if (sum) want[(size_t)n * dld + j] = (float)acc;
        }
    cpu->head_copy(cpu, dst->c, dld, dhs, src->c, sld, shs, N, H, W, sum);
    gpu->head_copy(gpu, dst->g, dld, dhs, src->g, sld, shs, N, H, W, sum);
    float *c = get(cpu, dst);
    for (size_t i = 0; i < nd; i++) /* the CPU: exact copies; sums within fp32 order of the double sum */
        if (sum ? fabsf(c[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i])) : c[i] != want[i])
            fail_msg("head_copy N=%d H=%d W=%d sum=%d: cpu [%zu] = %g, want %g", N, H, W, sum, i, c[i], want[i]);
    char what[80];
    snprintf(what, sizeof what, "head_copy H=%d W=%d shs=%d sum=%d", H, W, shs, sum);
    if (sum) {
        cmp(what, dst, BF16_ONE);
    } else {
        float *g = get(gpu, dst);
        for (size_t i = 0; i < nd; i++)
            if (memcmp(&g[i], &c[i], sizeof(float))) fail_msg("%s: [%zu] gpu %g cpu %g", what, i, g[i], c[i]);
        guards_ok(what, dst);
        free(g);
    }
    free(xs), free(xd), free(want), free(c);
    bufs_free();
}

static void test_head_copy(void **s) {
    (void)s;
    int H = 5, nope = 12, rope = 8, v = 10, D = nope + rope, L = 24 + rope; /* latent 24 + the shared rope key */
    /* the query heads' rope part out of q [N, H·(nope+rope)] into qkv [N, 3·H·D] */
    copy_case(7, H, rope, 3 * H * D, D, H * (nope + rope), nope + rope, 0);
    /* the shared rope key broadcast to every key head */
    copy_case(7, H, rope, 3 * H * D, D, L, 0, 0);
    /* the values out of kv_b's output [N, H·(nope+v)] */
    copy_case(9, H, v, 3 * H * D, D, H * (nope + v), nope + v, 0);
    /* a contiguous latent out of a strided row (one head) */
    copy_case(11, 1, 24, 24, 0, L, 0, 0);
    /* the backward's sum of the key heads' rope gradients into the shared key */
    copy_case(7, H, rope, L, 0, 3 * H * D, D, 1);
    copy_case(3, 128, 64, 64, 0, 128 * 192, 192, 1); /* DeepSeek-V3's 128 heads */
    copy_case(2000, 3, 40, 3 * 40, 40, 40, 0, 0);     /* many rows (the CPU's threaded loop) */
}

int main(void) {
    int rc = harness_start("multi-head latent attention");
    if (rc) return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_head_copy, setup),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_stop();
    return rc;
}
