/* The fused LM head, chunked over tokens so [N, V] logits never exist at once: per chunk of
 * T tokens, cuBLASLt writes z = inv_temp * h w^T as fp32 [T, V] into the workspace, one block
 * per row computes max / sum-exp / E[z] in one online pass (log-prob of the target, entropy
 * = lse - E[z]), and for the backward writes dz (bf16) in a second pass; two more GEMMs give
 * dh (=) and dw (+=; skipped when NULL, as on the CPU). logits (generation) takes the
 * row-invariant kernel (gemm_rows.cu or gemm_rows_tc.cu, RLC_CUDA_ROWINV) while
 * be->row_invariant is set.
 * Exports: cu_lmhead_fwd, cu_lmhead_bwd, cu_logits. */
#include "kernels/cuda/lmhead.cuh"

#include "kernels/cuda/gemm_rows_tc.cuh"
#include "kernels/cuda/matmul.cuh"

namespace RLC_CU_NS {

enum { LM_THREADS = 512 };

struct sm_stat { /* online softmax state: max m, s = sum e^(z-m), sz = sum e^(z-m) z */
    float m, s, sz;
};

__device__ __forceinline__ sm_stat sm_merge(sm_stat a, sm_stat b) {
    float m = fmaxf(a.m, b.m);
    if (m == -INFINITY) return a;
    float ea = expf(a.m - m), eb = expf(b.m - m);
    sm_stat r = {m, a.s * ea + b.s * eb, a.sz * ea + b.sz * eb};
    return r;
}

/* d z / d (h w^T) at a logit z = inv_temp · softcap_val(h w^T, cap): inv_temp, times the
 * capping's slope (z is capped at inv_temp·cap) when cap > 0. */
__device__ __forceinline__ float lm_slope(float z, float inv_temp, float cap) {
    return cap > 0.f ? inv_temp * softcap_slope(z, inv_temp * cap) : inv_temp;
}

/* One block per row of the chunk. dz == NULL: forward only. dlogp/dent index the chunk. With
 * cap > 0 the chunk holds h w^T, soft-capped and scaled in place by the first pass (each
 * thread rewrites the entries it later reads again). */
__global__ void lm_row_k(float *z, int V, const int32_t *tgt, float *logp, float *ent, bf16 *dz,
                         const float *dlogp, const float *dent, float inv_temp, float cap, int *flag) {
    __shared__ sm_stat sh[LM_THREADS / 32];
    int r = blockIdx.x;
    float *zr = z + (size_t)r * V;
    int t = tgt[r];
    bool skip = t < 0 || t >= V;
    if (t >= V && threadIdx.x == 0) atomicOr(flag, FLAG_BAD_TARGET);
    if (skip) { /* defined as logp = entropy = 0 and no gradient */
        if (threadIdx.x == 0) {
            if (logp) logp[r] = 0.f;
            if (ent) ent[r] = 0.f;
        }
        if (dz)
            for (int v = threadIdx.x; v < V; v += blockDim.x) dz[(size_t)r * V + v] = __float2bfloat16_rn(0.f);
        return;
    }
    sm_stat st = {-INFINITY, 0.f, 0.f};
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float x = zr[v];
        if (cap > 0.f) zr[v] = x = inv_temp * softcap_val(x, cap);
        if (x > st.m) {
            float sc = expf(st.m - x);
            st.s = st.s * sc + 1.f;
            st.sz = st.sz * sc + x;
            st.m = x;
        } else {
            float e = expf(x - st.m);
            st.s += e;
            st.sz += e * x;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        sm_stat b = {__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o),
                     __shfl_xor_sync(0xffffffffu, st.sz, o)};
        st = sm_merge(st, b);
    }
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = st;
    __syncthreads();
    st = sh[0];
    for (int w = 1; w < (int)(blockDim.x / 32); w++) st = sm_merge(st, sh[w]);
    float lse = st.m + logf(st.s);
    float H = lse - st.sz / st.s;
    if (threadIdx.x == 0) {
        if (logp) logp[r] = zr[t] - lse;
        if (ent) ent[r] = H;
    }
    if (!dz) return;
    /* d/dz of dl*logp[t] + de*H: dl (1[v=t] - p) - de p (log p + H); times inv_temp for h w^T. */
    float dl = dlogp[r], de = dent ? dent[r] : 0.f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float lp = zr[v] - lse, p = expf(lp);
        float g = dl * ((v == t ? 1.f : 0.f) - p) - de * p * (lp + H);
        dz[(size_t)r * V + v] = __float2bfloat16_rn(lm_slope(zr[v], inv_temp, cap) * g);
    }
}
RLC_STATIC_SMEM(LM_THREADS / 32 * sizeof(sm_stat), lm_row_k);

/* Tokens per chunk: RLC_CUDA_LMHEAD_CHUNK if set, else as many as fit the workspace budget
 * (a multiple of 64 when possible, so the GEMMs keep a good shape). */
static int lm_chunk(cu_impl *im, int N, int V, size_t bytes_per_logit) {
    size_t T = im->lmhead_chunk;
    if (!T) {
        T = im->lmhead_budget / ((size_t)V * bytes_per_logit);
        if (T >= 64) T -= T % 64;
        if (T < 1) T = 1;
    }
    return T < (size_t)N ? (int)T : N;
}

void cu_lmhead_fwd(rlc_backend_t *be, float *logp, float *entropy, const void *h, const void *w,
                   const int32_t *targets, int N, int C, int V, float inv_temp, float softcap) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    if (C <= 0 || V <= 0) {
        cu_fail(im, RLC_EINVAL, "lmhead: C and V must be positive (C=%d V=%d)", C, V);
        return;
    }
    int T = lm_chunk(im, N, V, sizeof(float));
    float *z = (float *)cu_scratch(im, (size_t)T * V * sizeof(float), "LM head logits");
    if (!z) return;
    for (int n0 = 0; n0 < N; n0 += T) {
        int t = N - n0 < T ? N - n0 : T;
        mm_fwd(im, z, GEMM_F32, (const bf16 *)h + (size_t)n0 * C, (const bf16 *)w, NULL, t, C, V,
               softcap > 0 ? 1.f : inv_temp);
        RLC_LAUNCH(lm_row_k, t, LM_THREADS, 0, im->stream, z, V, targets + n0, logp ? logp + n0 : (float *)NULL,
                   entropy ? entropy + n0 : (float *)NULL, (bf16 *)NULL, (const float *)NULL, (const float *)NULL,
                   inv_temp, softcap, im->d_flag);
        LAUNCH_CHECK(im);
    }
}

void cu_lmhead_bwd(rlc_backend_t *be, void *dh, void *dw, float *logp, float *entropy, const float *dlogp,
                   const float *dent, const void *h, const void *w, const int32_t *targets, int N, int C, int V,
                   float inv_temp, float softcap) {
    cu_impl *im = IM(be);
    if (N <= 0) return;
    if (C <= 0 || V <= 0) {
        cu_fail(im, RLC_EINVAL, "lmhead: C and V must be positive (C=%d V=%d)", C, V);
        return;
    }
    int T = lm_chunk(im, N, V, sizeof(float) + sizeof(bf16));
    size_t zbytes = ((size_t)T * V * sizeof(float) + 255) / 256 * 256;
    char *ws = (char *)cu_scratch(im, zbytes + (size_t)T * V * sizeof(bf16), "LM head logits");
    if (!ws) return;
    float *z = (float *)ws;
    bf16 *dz = (bf16 *)(ws + zbytes);
    const bf16 *hb = (const bf16 *)h;
    for (int n0 = 0; n0 < N; n0 += T) {
        int t = N - n0 < T ? N - n0 : T;
        mm_fwd(im, z, GEMM_F32, hb + (size_t)n0 * C, (const bf16 *)w, NULL, t, C, V, softcap > 0 ? 1.f : inv_temp);
        RLC_LAUNCH(lm_row_k, t, LM_THREADS, 0, im->stream, z, V, targets + n0, logp ? logp + n0 : (float *)NULL,
                   entropy ? entropy + n0 : (float *)NULL, dz, dlogp + n0, dent ? dent + n0 : (const float *)NULL,
                   inv_temp, softcap, im->d_flag);
        LAUNCH_CHECK(im);
        if (dh) mm_dinp(im, (bf16 *)dh + (size_t)n0 * C, dz, (const bf16 *)w, t, C, V);
        if (dw) mm_dw(im, (float *)dw, dz, hb + (size_t)n0 * C, t, C, V);
    }
}

void cu_logits(rlc_backend_t *be, float *out, const void *h, const void *w, int M, int C, int V) {
    cu_impl *im = IM(be);
    if (M <= 0 || V <= 0) return;
    if (C <= 0) {
        cu_fail(im, RLC_EINVAL, "logits: C must be positive (got %d)", C);
        return;
    }
    if (cu_row_invariant(be)) { /* generation: each row's logits independent of the batch */
        cu_gemm_rowinv(im, out, true, (const bf16 *)h, (const bf16 *)w, NULL, M, C, V);
        return;
    }
    mm_fwd(im, out, GEMM_F32, (const bf16 *)h, (const bf16 *)w, NULL, M, C, V, 1.f);
}

} // namespace RLC_CU_NS
