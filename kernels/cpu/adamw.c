/* AdamW, in the same order of operations as torch.optim.AdamW (foreach=False):
 * p *= 1 - lr*wd; m, v moments; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"

void cpu_adamw(rlc_backend_t *be, void *param, float *master, const void *grad, float *m, float *v, size_t n, float lr,
               float b1, float b2, float eps, float wd, int step, float grad_scale, uint32_t seed) {
    (void)master; /* PARAM is fp32 here: the parameters are their own master copy */
    (void)seed;
    float *p = param;
    const float *g = grad;
    /* bias corrections in double, as torch computes them from Python floats */
    double bc1 = 1.0 - pow((double)b1, step), bc2 = 1.0 - pow((double)b2, step);
    float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2), decay = 1.0f - lr * wd;
#pragma omp parallel for num_threads(CPU_THREADS(be)) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        p[i] *= decay;
        m[i] += (1.0f - b1) * (gi - m[i]); /* torch: exp_avg.lerp_(grad, 1 - beta1) */
        v[i] = v[i] * b2 + (1.0f - b2) * (gi * gi);
        p[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}
