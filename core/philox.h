/* Philox-4x32-10 counter-based RNG (Salmon et al. 2011). Header-only and usable from
 * CUDA kernels, so the CPU and GPU backends draw identical numbers from (key, counter):
 * a sampler keys it by the request seed and counts by (token position, draw index), which
 * makes samples independent of batch composition. */
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define RLC_HD __host__ __device__ __forceinline__
#else
#define RLC_HD static inline
#endif

typedef struct {
    uint32_t v[4];
} rlc_philox_out_t;

RLC_HD void rlc_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* counter (c0..c3) and key (k0,k1) -> four 32-bit random words. */
RLC_HD rlc_philox_out_t rlc_philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                       uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        rlc_mulhilo32(0xD2511F53u, c0, &hi0, &lo0);
        rlc_mulhilo32(0xCD9E8D57u, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    rlc_philox_out_t o = {{c0, c1, c2, c3}};
    return o;
}

/* Uniform float in [0, 1) from the top 24 bits. */
RLC_HD float rlc_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
/* Uniform double in [0, 1) from two words (53 bits). */
RLC_HD double rlc_u64_to_unit(uint32_t hi, uint32_t lo) {
    uint64_t x = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
    return (double)(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* A host-side stream: a fixed key (from a 64-bit seed) and a 128-bit counter that
 * advances by one per block of four words. The state is two plain integers, so saving
 * and restoring it (checkpoint resume) is trivial. */
typedef struct {
    uint64_t seed;
    uint64_t counter; /* blocks drawn so far */
    uint64_t stream;  /* distinguishes independent streams under one seed */
    uint32_t buf[4];
    int left;
} rlc_rng_t;

static inline void rlc_rng_init(rlc_rng_t *r, uint64_t seed, uint64_t stream) {
    r->seed = seed;
    r->stream = stream;
    r->counter = 0;
    r->left = 0;
}

static inline uint32_t rlc_rng_u32(rlc_rng_t *r) {
    if (r->left == 0) {
        rlc_philox_out_t o = rlc_philox4x32((uint32_t)r->counter, (uint32_t)(r->counter >> 32), (uint32_t)r->stream,
                                            (uint32_t)(r->stream >> 32), (uint32_t)r->seed, (uint32_t)(r->seed >> 32));
        r->counter++;
        for (int i = 0; i < 4; i++) r->buf[i] = o.v[i];
        r->left = 4;
    }
    return r->buf[4 - r->left--];
}

static inline double rlc_rng_unit(rlc_rng_t *r) {
    uint32_t hi = rlc_rng_u32(r), lo = rlc_rng_u32(r);
    return rlc_u64_to_unit(hi, lo);
}

/* Uniform integer in [0, n) (n > 0), rejection-free for our purposes (n << 2^32). */
static inline uint32_t rlc_rng_below(rlc_rng_t *r, uint32_t n) {
    return (uint32_t)(((uint64_t)rlc_rng_u32(r) * (uint64_t)n) >> 32);
}

/* Standard normal (Box-Muller). */
double rlc_rng_normal(rlc_rng_t *r);

/* SplitMix64's finaliser: a 64-bit seed into a well-mixed 64-bit value (derived seeds). */
static inline uint64_t rlc_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
