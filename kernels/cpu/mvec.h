/* glibc's libmvec 8-wide AVX2 expf/logf, where the library has them (RLC_HAVE_MVEC is set by
 * kernels/CMakeLists.txt). Declared for AVX2 code: clang refuses an __m256 argument in a
 * declaration built for the baseline ISA. Callers run them only on an AVX2 CPU. */
#pragma once
#if defined(RLC_HAVE_MVEC) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RLC_MVEC 1
__attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256 x);
__attribute__((target("avx2"))) __m256 _ZGVdN8v_logf(__m256 x);
#ifdef RLC_HAVE_MVEC_TANH
__attribute__((target("avx2"))) __m256 _ZGVdN8v_tanhf(__m256 x);
#endif
#endif
