/* Rotary position embedding over a head's first R dims (all D, or fewer under a partial rotary
 * factor): for i < R/2, the pair (x_i, x_{i+R/2}) (rotate-half, transformers'
 * apply_rotary_pos_emb) or (x_{2i}, x_{2i+1}) (interleaved: ERNIE 4.5) is rotated by angle
 * pos * inv_freq_i, cos and sin times mscale (an attention factor, 1 without one); dims R..D
 * pass through. The angle is formed in fp32 as transformers
 * does, so long positions round the same way. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

static void rope(rlc_backend_t *be, float *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                 float mscale, int ld, int interleaved, float sign) {
    int half = R / 2, stride = interleaved ? 2 : 1, off = interleaved ? 1 : half; /* pair i: v[i·stride], +off */
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float cs[512], sn[512]; /* head_dim <= 1024 */
        for (int i = 0; i < half; i++) {
            float ang = (float)pos[n] * inv_freq[i];
            cs[i] = cosf(ang) * mscale;
            sn[i] = sign * (sinf(ang) * mscale);
        }
        float *row = x + (size_t)n * ld;
        for (int h = 0; h < H; h++) {
            float *v = row + (size_t)h * D;
            for (int i = 0; i < half; i++) {
                float *pa = v + (size_t)i * stride, *pb = pa + off, a = *pa, b = *pb;
                *pa = a * cs[i] - b * sn[i];
                *pb = b * cs[i] + a * sn[i];
            }
        }
    }
}

void cpu_rope_fwd(rlc_backend_t *be, void *x, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                  float mscale, int ld, int interleaved) {
    rope(be, x, pos, inv_freq, N, H, D, R, mscale, ld, interleaved, 1.0f);
}

void cpu_rope_bwd(rlc_backend_t *be, void *dx, const int32_t *pos, const float *inv_freq, int N, int H, int D, int R,
                  float mscale, int ld, int interleaved) {
    rope(be, dx, pos, inv_freq, N, H, D, R, mscale, ld, interleaved, -1.0f);
}
