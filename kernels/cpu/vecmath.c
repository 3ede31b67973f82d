/* Vectorised expf for the CPU kernels: glibc's libmvec 8-wide AVX2 expf where the library
 * and the CPU have it (RLC_HAVE_MVEC is set by kernels/CMakeLists.txt), scalar expf
 * otherwise. One implementation per machine, so results stay deterministic. */
#include <math.h>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/mvec.h"

#ifdef RLC_MVEC

__attribute__((target("avx2,fma"))) static void vexpf_avx2(float *y, const float *x, int n, float shift) {
    __m256 s = _mm256_set1_ps(shift);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
    for (; i < n; i++) y[i] = expf(x[i] - shift);
}

void cpu_vexpf(float *y, const float *x, int n, float shift) {
    if (cpu_isa() >= CPU_ISA_AVX2) {
        vexpf_avx2(y, x, n, shift);
        return;
    }
    for (int i = 0; i < n; i++) y[i] = expf(x[i] - shift);
}
#else
void cpu_vexpf(float *y, const float *x, int n, float shift) {
    for (int i = 0; i < n; i++) y[i] = expf(x[i] - shift);
}
#endif
