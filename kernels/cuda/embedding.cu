/* Token embedding: out[n] = wte[ids[n]] and dwte[ids[n]] += dout[n]. The backward is
 * deterministic without float atomics: (id, n) pairs are sorted (bitonic network on 64-bit
 * keys, so ties keep token order), then one block per distinct id sums its rows in order.
 * Exports: cu_embedding_fwd, cu_embedding_bwd. */
#include "kernels/cuda/embedding.cuh"

namespace RLC_CU_NS {

enum { EMB_THREADS = 256 };

__global__ void embedding_fwd_k(bf16 *out, const int32_t *ids, const bf16 *wte, int C, int *flag) {
    int n = blockIdx.x;
    int id = ids[n];
    bf16 *o = out + (size_t)n * C;
    if (id < 0) {
        if (threadIdx.x == 0) atomicOr(flag, FLAG_BAD_TOKEN);
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = __float2bfloat16_rn(0.f);
        return;
    }
    const bf16 *w = wte + (size_t)id * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = w[c];
}

/* key = id << 32 | n; negative ids become the all-ones key and sort to the end (skipped). */
__global__ void emb_keys_k(uint64_t *keys, const int32_t *ids, int N, int npad, int *flag) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= npad) return;
    uint64_t k = ~0ull;
    if (i < N) {
        int id = ids[i];
        if (id >= 0)
            k = ((uint64_t)(uint32_t)id << 32) | (uint32_t)i;
        else
            atomicOr(flag, FLAG_BAD_TOKEN);
    }
    keys[i] = k;
}

/* One compare-exchange stage (k, j) of the bitonic sorting network, ascending overall. */
__global__ void bitonic_k(uint64_t *keys, int npad, int k, int j) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= npad) return;
    int p = i ^ j;
    if (p <= i) return;
    uint64_t a = keys[i], b = keys[p];
    bool up = (i & k) == 0;
    if ((a > b) == up) {
        keys[i] = b;
        keys[p] = a;
    }
}

/* Block (i, column chunk): if sorted slot i starts a run of one id, sum that run's dout
 * rows in token order and add the sum to dwte[id]. */
__global__ void emb_accum_k(float *dwte, const bf16 *dout, const uint64_t *keys, int npad, int C) {
    int i = blockIdx.x;
    uint64_t k = keys[i];
    if (k == ~0ull) return;
    uint32_t id = (uint32_t)(k >> 32);
    if (i > 0 && (uint32_t)(keys[i - 1] >> 32) == id) return;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.f;
    for (int j = i; j < npad && keys[j] != ~0ull && (uint32_t)(keys[j] >> 32) == id; j++) {
        uint32_t n = (uint32_t)keys[j];
        acc += __bfloat162float(dout[(size_t)n * C + c]);
    }
    dwte[(size_t)id * C + c] += acc;
}

void cu_embedding_fwd(rlc_backend_t *be, void *out, const int32_t *ids, const void *wte, int N, int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    RLC_LAUNCH(embedding_fwd_k, N, EMB_THREADS, 0, im->stream, (bf16 *)out, ids, (const bf16 *)wte, C, im->d_flag);
    LAUNCH_CHECK(im);
}

void cu_embedding_bwd(rlc_backend_t *be, void *dwte, const void *dout, const int32_t *ids, int N, int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    int npad = 1;
    while (npad < N) npad <<= 1;
    uint64_t *keys = (uint64_t *)cu_scratch(im, (size_t)npad * sizeof(uint64_t), "embedding backward");
    if (!keys) return;
    RLC_LAUNCH(emb_keys_k, cdiv(npad, 256), 256, 0, im->stream, keys, ids, N, npad, im->d_flag);
    LAUNCH_CHECK(im);
    for (int k = 2; k <= npad; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) RLC_LAUNCH(bitonic_k, cdiv(npad, 256), 256, 0, im->stream, keys, npad, k, j);
    LAUNCH_CHECK(im);
    dim3 grid((unsigned)npad, cdiv(C, EMB_THREADS));
    RLC_LAUNCH(emb_accum_k, grid, EMB_THREADS, 0, im->stream, (float *)dwte, (const bf16 *)dout, keys, npad, C);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
