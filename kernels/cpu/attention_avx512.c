/* The attention kernels (attention_impl.h) built with AVX-512 enabled; entered only when the
 * CPU has it (the dispatch in attention.c). */
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#define ATTN_ISA avx512
#include "kernels/cpu/attention_impl.h"
#else
typedef int rlc_attention_avx512_unused; /* a translation unit may not be empty */
#endif
