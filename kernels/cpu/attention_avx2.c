/* The attention kernels (attention_impl.h) built with AVX2 and FMA enabled; entered only
 * when the CPU has them (the dispatch in attention.c). */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define ATTN_ISA avx2
#include "kernels/cpu/attention_impl.h"
#else
typedef int rlc_attention_avx2_unused; /* a translation unit may not be empty */
#endif
