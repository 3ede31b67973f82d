/* Sampling exactly as defined by rlc_sample_params_t (kernels/backend.h) and computed by the
 * CPU reference (kernels/cpu/sample.c), one block per row: the max and its lowest index, the
 * log-sum-exp in double, the top-k boundary by a 4 x 8-bit radix select on order-preserving
 * float bits, the top-p threshold by the same radix descent over probabilities with bucket
 * masses summed in 2^-56 fixed point (integer atomics: deterministic), then the Gumbel-max
 * over the kept set with the same Philox words. Same logits and parameters give the same
 * token as the CPU, barring a 1-ulp difference of expf/logf deciding a near-exact tie.
 * Exports: cu_sample. */
#include "kernels/cuda/sample.cuh"

#include <string.h>

namespace RLC_CU_NS {

enum { SAMPLE_THREADS = 512, SW = SAMPLE_THREADS / 32 };

struct arg_t { /* value and index; ties go to the lower index, index -1 loses to everything */
    float v;
    int i;
};
__device__ __forceinline__ arg_t arg_better(arg_t a, arg_t b) {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if (a.v > b.v || (a.v == b.v && a.i < b.i)) return a;
    return b;
}
__device__ arg_t block_argmax(arg_t a, arg_t *sh) {
    for (int o = 16; o > 0; o >>= 1) {
        arg_t b = {__shfl_xor_sync(0xffffffffu, a.v, o), __shfl_xor_sync(0xffffffffu, a.i, o)};
        a = arg_better(a, b);
    }
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = a;
    __syncthreads();
    arg_t r = sh[0];
    for (int w = 1; w < (int)(blockDim.x / 32); w++) r = arg_better(r, sh[w]);
    return r;
}
__device__ double block_sum_d(double v, double *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    double t = 0;
    for (int w = 0; w < (int)(blockDim.x / 32); w++) t += sh[w];
    return t;
}

__device__ __forceinline__ uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
__device__ __forceinline__ float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* float -> uint32 with the same order (for finite values and infinities) */
__device__ __forceinline__ uint32_t ord(float f) {
    uint32_t u = f2u(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float unord(uint32_t u) { return u2f((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u); }

__device__ __forceinline__ float gumbel(const rlc_sample_params_t &p, int i) {
    rlc_philox_out_t r = rlc_philox4x32((uint32_t)(i / 4), (uint32_t)p.counter, (uint32_t)(p.counter >> 32), 0,
                                        (uint32_t)p.seed, (uint32_t)(p.seed >> 32));
    float u = ((float)(r.v[i % 4] >> 8) + 0.5f) * (1.0f / 16777216.0f);
    return -logf(-logf(u));
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
    sample_k(int32_t *tok_out, float *logp_out, const float *logits, const rlc_sample_params_t *params, int V) {
    __shared__ arg_t sha[SW];
    __shared__ double shd[SW];
    __shared__ unsigned hist[256];
    __shared__ unsigned long long mass[256];
    __shared__ uint32_t pick[2];
    const float *x = logits + (size_t)blockIdx.x * V;
    const rlc_sample_params_t p = params[blockIdx.x];
    const int tid = threadIdx.x, nt = blockDim.x;

    arg_t a = {-INFINITY, -1};
    for (int v = tid; v < V; v += nt)
        if (a.i < 0 || x[v] > a.v) a = arg_t{x[v], v};
    a = block_argmax(a, sha);
    const float mx = a.v;
    const int amax = a.i < 0 ? 0 : a.i;
    const float T = p.temperature > 0 ? p.temperature : 1.0f;
    double s = 0;
    for (int v = tid; v < V; v += nt) s += exp((double)((x[v] - mx) / T));
    s = block_sum_d(s, shd);
    const float lse = (float)log(s); /* of (z - max z) */
    if (p.force1 > 0 && p.force1 <= V) { /* the log-prob of a given token, as if drawn */
        if (tid == 0) {
            int t = p.force1 - 1;
            tok_out[blockIdx.x] = t;
            logp_out[blockIdx.x] = p.temperature > 0 ? (x[t] - mx) / T - lse : (x[t] - mx) - lse;
        }
        return;
    }
    if (!(p.temperature > 0)) {
        if (tid == 0) {
            tok_out[blockIdx.x] = amax;
            logp_out[blockIdx.x] = -lse;
        }
        return;
    }
    float zmin = -INFINITY;
    if (p.top_k > 0 && p.top_k < V) { /* the k-th largest z - max z */
        uint32_t prefix = 0, mask = 0, k = (uint32_t)p.top_k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int b = tid; b < 256; b += nt) hist[b] = 0;
            __syncthreads();
            for (int v = tid; v < V; v += nt) {
                uint32_t u = ord((x[v] - mx) / T);
                if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
            }
            __syncthreads();
            if (tid == 0) {
                uint32_t cum = 0;
                int b = 255;
                for (; b > 0; b--) {
                    if (cum + hist[b] >= k) break;
                    cum += hist[b];
                }
                pick[0] = (uint32_t)b;
                pick[1] = k - cum;
            }
            __syncthreads();
            prefix |= pick[0] << shift;
            mask |= 255u << shift;
            k = pick[1];
            __syncthreads();
        }
        zmin = fmaxf(zmin, unord(prefix));
    }
    if (p.min_p > 0) zmin = fmaxf(zmin, logf(p.min_p)); /* p_v >= min_p p_max <=> zs_v >= log(min_p) */
    float tau = -1.0f;                                   /* no top-p threshold */
    if (p.top_p > 0 && p.top_p < 1) {
        /* the largest t with mass(p >= t) >= top_p; p >= 0, so its float bits order it */
        const double FX = 72057594037927936.0; /* 2^56 */
        const unsigned long long need = (unsigned long long)((double)p.top_p * FX);
        unsigned long long acc = 0;
        uint32_t prefix = 0, mask = 0;
        bool keep_all = false;
        for (int shift = 24; shift >= 0 && !keep_all; shift -= 8) {
            for (int b = tid; b < 256; b += nt) mass[b] = 0;
            __syncthreads();
            for (int v = tid; v < V; v += nt) {
                float pv = expf((x[v] - mx) / T - lse);
                uint32_t u = f2u(pv);
                if ((u & mask) == prefix)
                    atomicAdd(&mass[(u >> shift) & 255u], (unsigned long long)((double)pv * FX + 0.5));
            }
            __syncthreads();
            if (tid == 0) {
                int b = 255;
                for (; b >= 0; b--) {
                    if (acc + mass[b] >= need) break;
                    acc += mass[b];
                }
                pick[0] = b < 0 ? 0xffffffffu : (uint32_t)b; /* rounding left the total under top_p */
            }
            __syncthreads();
            if (pick[0] == 0xffffffffu) {
                keep_all = true;
            } else {
                prefix |= pick[0] << shift;
                mask |= 255u << shift;
            }
            __syncthreads();
        }
        tau = keep_all ? 0.0f : u2f(prefix);
    }
    arg_t best = {-INFINITY, -1};
    for (int v = tid; v < V; v += nt) {
        float zs = (x[v] - mx) / T;
        if (zs < zmin || (tau >= 0 && expf(zs - lse) < tau)) continue;
        float key = zs + gumbel(p, v);
        if (key > best.v) best = arg_t{key, v};
    }
    best = block_argmax(best, sha);
    if (tid == 0) {
        int t = best.i >= 0 ? best.i : amax;
        tok_out[blockIdx.x] = t;
        logp_out[blockIdx.x] = (x[t] - mx) / T - lse;
    }
}
RLC_STATIC_SMEM(SW * (sizeof(arg_t) + sizeof(double)) + 256 * (sizeof(unsigned) + sizeof(unsigned long long)) +
                    2 * sizeof(uint32_t),
                sample_k);

void cu_sample(rlc_backend_t *be, int32_t *tokens, float *logp, const float *logits, const rlc_sample_params_t *params,
               int M, int V) {
    cu_impl *im = IM(be);
    if (M <= 0) return;
    if (V <= 0) {
        cu_fail(im, RLC_EINVAL, "sample: vocabulary size must be positive (got %d)", V);
        return;
    }
    size_t pb = ((size_t)M * sizeof(rlc_sample_params_t) + 255) / 256 * 256;
    char *ws = (char *)cu_scratch(im, pb + (size_t)M * 8, "sampling");
    if (!ws) return;
    rlc_sample_params_t *dp = (rlc_sample_params_t *)ws;
    int32_t *dt = (int32_t *)(ws + pb);
    float *dl = (float *)(dt + M);
    CUDA_CHECK(im, cudaMemcpyAsync(dp, params, (size_t)M * sizeof *params, cudaMemcpyHostToDevice, im->stream));
    RLC_LAUNCH(sample_k, M, SAMPLE_THREADS, 0, im->stream, dt, dl, logits, dp, V);
    LAUNCH_CHECK(im);
    CUDA_CHECK(im, cudaMemcpyAsync(tokens, dt, (size_t)M * 4, cudaMemcpyDeviceToHost, im->stream));
    CUDA_CHECK(im, cudaMemcpyAsync(logp, dl, (size_t)M * 4, cudaMemcpyDeviceToHost, im->stream));
    CUDA_CHECK(im, cudaStreamSynchronize(im->stream));
}

} // namespace RLC_CU_NS
