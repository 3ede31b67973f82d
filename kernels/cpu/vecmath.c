/* Vectorised expf and tanhf for the CPU kernels: glibc's libmvec 8-wide AVX2 expf / tanhf
 * where the library and the CPU have them (RLC_HAVE_MVEC, RLC_HAVE_MVEC_TANH: set by
 * kernels/CMakeLists.txt), scalar expf / tanhf otherwise. One implementation per machine, so
 * results stay deterministic. */
#include <math.h>
#include <string.h>

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

#if defined(RLC_MVEC) && defined(RLC_HAVE_MVEC_TANH)
__attribute__((target("avx2,fma"))) static inline __m256 softcap8(__m256 x, __m256 cap, __m256 mul) {
    return _mm256_mul_ps(_mm256_mul_ps(cap, _ZGVdN8v_tanhf(_mm256_div_ps(x, cap))), mul);
}

/* The last n % 8 elements go through a zero-padded vector: every element is the same function
 * of its value alone, wherever it sits. */
__attribute__((target("avx2,fma"))) static void vsoftcap_avx2(float *y, const float *x, size_t n, float cap,
                                                              float mul) {
    __m256 c = _mm256_set1_ps(cap), m = _mm256_set1_ps(mul);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, softcap8(_mm256_loadu_ps(x + i), c, m));
    if (i < n) {
        float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        _mm256_storeu_ps(t, softcap8(_mm256_loadu_ps(t), c, m));
        memcpy(y + i, t, (n - i) * sizeof(float));
    }
}
#endif

void cpu_vsoftcap(float *y, const float *x, size_t n, float cap, float mul) {
#if defined(RLC_MVEC) && defined(RLC_HAVE_MVEC_TANH)
    if (cpu_isa() >= CPU_ISA_AVX2) {
        vsoftcap_avx2(y, x, n, cap, mul);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) y[i] = cap * tanhf(x[i] / cap) * mul;
}
