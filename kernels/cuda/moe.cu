/* Mixture-of-experts routing and combination. Routing runs one warp per token: the softmax
 * over E experts (lane-strided, fp32), then K rounds of a warp argmax over the experts not yet
 * taken (ties: the lower expert, as the CPU reference). Combination runs one thread per
 * (token, column) summing its K rows in k order; its backward one block per (token, pick)
 * with a block reduction for the weight's gradient; a shared expert's sigmoid-gated add
 * (Qwen2-MoE) one thread per element, its backward one block per row. Every token's result
 * depends on its own row only (batch invariance).
 * GLM-4.5's sigmoid routing runs one warp per token too: group scores by a warp merge of
 * each lane's two best, then argmax rounds over the groups and over the allowed experts.
 * Exports: cu_moe_route_fwd, cu_moe_route_bwd, cu_moe_route_biased_fwd, cu_moe_route_biased_bwd,
 * cu_moe_combine_fwd, cu_moe_combine_bwd, cu_moe_gate_add_fwd, cu_moe_gate_add_bwd. */
#include "kernels/cuda/moe.cuh"

namespace RLC_CU_NS {

enum { MOE_THREADS = 256 };

__device__ __forceinline__ float sigm(float z) { return 1.0f / (1.0f + expf(-z)); }

/* The warp's largest (v, i) pair, the lower index on ties (i = 0x7fffffff: none). */
__device__ __forceinline__ void warp_argmax(float &bv, int &bi) {
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
    }
}

/* A row's softmax over E experts in fp32, lane-strided: each lane writes only its own experts
 * (after reading them: p may alias z). */
template <typename T> __device__ __forceinline__ void warp_softmax(float *p, const T *z, int E, int lane) {
    float mx = -INFINITY, sum = 0.f;
    for (int e = lane; e < E; e += 32) mx = fmaxf(mx, ldf(z + e));
    mx = warp_max(mx);
    for (int e = lane; e < E; e += 32) sum += p[e] = expf(ldf(z + e) - mx);
    float inv = 1.0f / warp_sum(sum);
    for (int e = lane; e < E; e += 32) p[e] *= inv;
}

__global__ void moe_route_fwd_k(float *probs, float *w, int32_t *idx, const bf16 *logits, int E, int K, int norm) {
    int n = blockIdx.x, lane = (int)threadIdx.x;
    float *p = probs + (size_t)n * E;
    warp_softmax(p, logits + (size_t)n * E, E, lane); /* each lane's picks read only its own */
    unsigned taken = 0;                               /* bit j: expert lane + 32 j */
    float s = 0.f;
    for (int k = 0; k < K; k++) {
        float bv = -1.f;
        int bi = 0x7fffffff;
        for (int j = 0, e = lane; e < E; j++, e += 32)
            if (!((taken >> j) & 1u) && p[e] > bv) bv = p[e], bi = e;
        warp_argmax(bv, bi);
        if ((bi & 31) == lane) taken |= 1u << (bi >> 5);
        if (lane == 0) idx[(size_t)n * K + k] = bi, w[(size_t)n * K + k] = bv;
        s += bv;
    }
    if (norm && lane == 0)
        for (int k = 0; k < K; k++) w[(size_t)n * K + k] /= s;
}

__global__ void moe_route_bwd_k(bf16 *dlogits, const float *dw, const float *probs, const float *w,
                                const int32_t *idx, int E, int K, int norm) {
    int n = blockIdx.x, lane = (int)threadIdx.x;
    const float *p = probs + (size_t)n * E;
    int mi = lane < K ? idx[(size_t)n * K + lane] : 0;
    float pk = lane < K ? p[mi] : 0.f, dwk = lane < K ? dw[(size_t)n * K + lane] : 0.f;
    float wk = lane < K ? w[(size_t)n * K + lane] : 0.f;
    float S = warp_sum(pk), dot = warp_sum(dwk * wk);
    float ds = norm ? (dwk - dot) / S : dwk;
    float sds = warp_sum(lane < K ? pk * ds : 0.f);
    int ik[RLC_MOE_MAX_TOPK];
    float dk[RLC_MOE_MAX_TOPK];
    for (int k = 0; k < K; k++) ik[k] = __shfl_sync(0xffffffffu, mi, k), dk[k] = __shfl_sync(0xffffffffu, ds, k);
    bf16 *d = dlogits + (size_t)n * E;
    for (int e = lane; e < E; e += 32) {
        float acc = -p[e] * sds;
        for (int k = 0; k < K; k++)
            if (ik[k] == e) acc += p[e] * dk[k];
        d[e] = __float2bfloat16_rn(acc);
    }
}

/* The renormalisation's denominator of picked scores summing to sum (rlc_moe_route_t). */
__device__ __forceinline__ float route_den(const rlc_moe_route_t &r, float sum) {
    return r.softmax ? fmaxf(sum, r.norm_min) : sum + 1e-20f;
}

/* Routing with a correction bias (or none: bias NULL), one warp per token: the scores written
 * lane-strided (each lane re-reads only its own); the groups' top-two sums (or their best:
 * group_max) by a warp merge per group into shared memory; TG rounds of a warp argmax over the
 * groups, then K over the allowed experts not yet taken. */

__global__ void moe_route_biased_fwd_k(float *scores, float *w, int32_t *idx, const float *logits, const float *bias,
                                       rlc_moe_route_t r) {
    __shared__ float gsc[RLC_MOE_MAX_EXPERTS / 2];
    __shared__ unsigned char gsel[RLC_MOE_MAX_EXPERTS / 2];
    int n = blockIdx.x, lane = (int)threadIdx.x, E = r.E, K = r.K, G = r.G, TG = r.TG, gs = E / G;
    const float *z = logits + (size_t)n * E;
    float *s = scores + (size_t)n * E;
    if (r.softmax) warp_softmax(s, z, E, lane); /* scores may alias logits */
    else
        for (int e = lane; e < E; e += 32) s[e] = sigm(z[e]);
    for (int g = lane; g < G; g += 32) gsel[g] = TG >= G;
    __syncwarp();
    for (int g = 0; TG < G && g < G; g++) {
        float b1 = -INFINITY, b2 = -INFINITY; /* this lane's two best of group g, then the warp's */
        for (int e = g * gs + lane; e < (g + 1) * gs; e += 32) {
            float c = bias ? s[e] + bias[e] : s[e];
            if (c > b1) b2 = b1, b1 = c;
            else if (c > b2) b2 = c;
        }
        for (int o = 16; o > 0; o >>= 1) {
            float o1 = __shfl_xor_sync(0xffffffffu, b1, o), o2 = __shfl_xor_sync(0xffffffffu, b2, o);
            float hi = fmaxf(b1, o1), lo = fmaxf(fminf(b1, o1), fmaxf(b2, o2));
            b1 = hi, b2 = lo;
        }
        if (lane == 0) gsc[g] = r.group_max ? b1 : b1 + b2;
    }
    __syncwarp();
    for (int t = 0; TG < G && t < TG; t++) {
        float bv = -INFINITY;
        int bi = 0x7fffffff;
        for (int g = lane; g < G; g += 32)
            if (!gsel[g] && (gsc[g] > bv || bi == 0x7fffffff)) bv = gsc[g], bi = g;
        warp_argmax(bv, bi);
        __syncwarp();
        if (lane == 0) gsel[bi] = 1;
        __syncwarp();
    }
    unsigned taken = 0; /* bit j: expert lane + 32 j */
    float sum = 0.f;
    for (int k = 0; k < K; k++) {
        float bv = -INFINITY;
        int bi = 0x7fffffff;
        for (int j = 0, e = lane; e < E; j++, e += 32) {
            float c = bias ? s[e] + bias[e] : s[e];
            if (!((taken >> j) & 1u) && gsel[e / gs] && (c > bv || bi == 0x7fffffff)) bv = c, bi = e;
        }
        warp_argmax(bv, bi);
        if ((bi & 31) == lane) taken |= 1u << (bi >> 5);
        float sk = s[bi]; /* every lane wrote its own s before the barriers above */
        if (lane == 0) idx[(size_t)n * K + k] = bi, w[(size_t)n * K + k] = sk;
        sum += sk;
    }
    float den = route_den(r, sum);
    if (lane == 0)
        for (int k = 0; k < K; k++) {
            float v = w[(size_t)n * K + k];
            w[(size_t)n * K + k] = (r.norm ? v / den : v) * r.scale;
        }
}
RLC_STATIC_SMEM(RLC_MOE_MAX_EXPERTS / 2 * (sizeof(float) + 1), moe_route_biased_fwd_k);

/* One warp per token: lane k < K holds pick k. Every lane reads its pick's score first; then
 * each lane writes its own experts' gradients (the softmax's -s_e Σ s_k ds_k read from s_e
 * there, or 0) and, after a barrier, each pick's lane adds its own (dlogits may alias scores). */
__global__ void moe_route_biased_bwd_k(float *dl, const float *dw, const float *scores, const float *w,
                                       const int32_t *idx, rlc_moe_route_t r) {
    int n = blockIdx.x, lane = (int)threadIdx.x, E = r.E, K = r.K;
    int mi = lane < K ? idx[(size_t)n * K + lane] : 0;
    float sk = lane < K ? scores[(size_t)n * E + mi] : 0.f, dwk = lane < K ? dw[(size_t)n * K + lane] : 0.f;
    float wk = lane < K ? w[(size_t)n * K + lane] : 0.f;
    float sum = warp_sum(sk), dot = warp_sum(dwk * wk), D = route_den(r, sum);
    int renorm = r.norm && !(r.softmax && sum <= r.norm_min);
    float ds = renorm ? (r.scale * dwk - dot) / D : r.norm ? r.scale * dwk / D : r.scale * dwk;
    float sds = warp_sum(lane < K ? sk * ds : 0.f);
    const float *s = scores + (size_t)n * E;
    float *d = dl + (size_t)n * E;
    for (int e = lane; e < E; e += 32) d[e] = r.softmax ? -s[e] * sds : 0.f; /* s[e] read before d[e] overwrites it */
    __syncwarp();
    if (lane < K) d[mi] += r.softmax ? sk * ds : ds * sk * (1.0f - sk);
}

__global__ void moe_combine_fwd_k(bf16 *out, const bf16 *y, const float *w, const int32_t *inv, int K, int C) {
    int n = blockIdx.x, c = (int)(blockIdx.y * blockDim.x + threadIdx.x);
    if (c >= C) return;
    float acc = 0.f;
    for (int k = 0; k < K; k++)
        acc += (w ? w[(size_t)n * K + k] : 1.0f) * ldf(y + (size_t)inv[(size_t)n * K + k] * C + c);
    out[(size_t)n * C + c] = __float2bfloat16_rn(acc);
}

__global__ void moe_combine_bwd_k(bf16 *dy, float *dw, const bf16 *dout, const bf16 *y, const float *w,
                                  const int32_t *inv, int C) {
    __shared__ float sh[32];
    int K = (int)gridDim.y;
    size_t tok = blockIdx.x, pick = blockIdx.y, r = (size_t)inv[tok * K + pick];
    float wk = w ? w[tok * K + pick] : 1.0f, dot = 0.f;
    for (int c = (int)threadIdx.x; c < C; c += blockDim.x) {
        float g = ldf(dout + tok * C + c);
        dy[r * C + c] = __float2bfloat16_rn(wk * g);
        dot += g * ldf(y + r * C + c);
    }
    dot = block_sum(dot, sh);
    if (dw && threadIdx.x == 0) dw[tok * K + pick] = dot;
}
RLC_STATIC_SMEM(32 * sizeof(float), moe_combine_bwd_k);

__global__ void moe_gate_add_fwd_k(bf16 *out, const bf16 *y, const bf16 *z, int C) {
    int n = blockIdx.x, c = (int)(blockIdx.y * blockDim.x + threadIdx.x);
    if (c >= C) return;
    size_t i = (size_t)n * C + c;
    out[i] = __float2bfloat16_rn(ldf(out + i) + sigm(ldf(z + n)) * ldf(y + i));
}

/* One block per row; z[n] is read by every thread before the block reduction's barriers, so
 * thread 0 may overwrite it with dz[n] after (dz may alias z); each element of y is read by
 * the thread that then writes dy there (dy may alias y). */
__global__ void moe_gate_add_bwd_k(bf16 *dy, bf16 *dz, const bf16 *dout, const bf16 *y, const bf16 *z, int C) {
    __shared__ float sh[32];
    size_t n = blockIdx.x;
    float g = sigm(ldf(z + n)), dot = 0.f;
    for (int c = (int)threadIdx.x; c < C; c += blockDim.x) {
        float d = ldf(dout + n * C + c);
        dot += d * ldf(y + n * C + c); /* y read before dy is written: dy may alias y */
        dy[n * C + c] = __float2bfloat16_rn(g * d);
    }
    dot = block_sum(dot, sh);
    if (threadIdx.x == 0) dz[n] = __float2bfloat16_rn(g * (1.0f - g) * dot);
}
RLC_STATIC_SMEM(32 * sizeof(float), moe_gate_add_bwd_k);

void cu_moe_route_fwd(rlc_backend_t *be, float *probs, float *w, int32_t *idx, const void *logits, int N, int E, int K,
                      int norm) {
    cu_impl *im = IM(be);
    if (N <= 0 || E <= 0 || K <= 0) return;
    RLC_LAUNCH(moe_route_fwd_k, N, 32, 0, im->stream, probs, w, idx, (const bf16 *)logits, E, K, norm);
    LAUNCH_CHECK(im);
}

void cu_moe_route_bwd(rlc_backend_t *be, void *dlogits, const float *dw, const float *probs, const float *w,
                      const int32_t *idx, int N, int E, int K, int norm) {
    cu_impl *im = IM(be);
    if (N <= 0 || E <= 0 || K <= 0) return;
    RLC_LAUNCH(moe_route_bwd_k, N, 32, 0, im->stream, (bf16 *)dlogits, dw, probs, w, idx, E, K, norm);
    LAUNCH_CHECK(im);
}

void cu_moe_route_biased_fwd(rlc_backend_t *be, float *scores, float *w, int32_t *idx, const float *logits,
                             const float *bias, int N, const rlc_moe_route_t *r) {
    cu_impl *im = IM(be);
    if (N <= 0 || r->E <= 0 || r->K <= 0 || r->G <= 0) return;
    RLC_LAUNCH(moe_route_biased_fwd_k, N, 32, 0, im->stream, scores, w, idx, logits, bias, *r);
    LAUNCH_CHECK(im);
}

void cu_moe_route_biased_bwd(rlc_backend_t *be, float *dlogits, const float *dw, const float *scores, const float *w,
                             const int32_t *idx, int N, const rlc_moe_route_t *r) {
    cu_impl *im = IM(be);
    if (N <= 0 || r->E <= 0 || r->K <= 0) return;
    RLC_LAUNCH(moe_route_biased_bwd_k, N, 32, 0, im->stream, dlogits, dw, scores, w, idx, *r);
    LAUNCH_CHECK(im);
}

void cu_moe_combine_fwd(rlc_backend_t *be, void *out, const void *y, const float *w, const int32_t *inv, int N, int K,
                        int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    dim3 grid((unsigned)N, cdiv(C, MOE_THREADS));
    RLC_LAUNCH(moe_combine_fwd_k, grid, MOE_THREADS, 0, im->stream, (bf16 *)out, (const bf16 *)y, w, inv, K, C);
    LAUNCH_CHECK(im);
}

void cu_moe_combine_bwd(rlc_backend_t *be, void *dy, float *dw, const void *dout, const void *y, const float *w,
                        const int32_t *inv, int N, int K, int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || K <= 0 || C <= 0) return;
    dim3 grid((unsigned)N, (unsigned)K);
    RLC_LAUNCH(moe_combine_bwd_k, grid, MOE_THREADS, 0, im->stream, (bf16 *)dy, dw, (const bf16 *)dout,
               (const bf16 *)y, w, inv, C);
    LAUNCH_CHECK(im);
}

void cu_moe_gate_add_fwd(rlc_backend_t *be, void *out, const void *y, const void *z, int N, int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    dim3 grid((unsigned)N, cdiv(C, MOE_THREADS));
    RLC_LAUNCH(moe_gate_add_fwd_k, grid, MOE_THREADS, 0, im->stream, (bf16 *)out, (const bf16 *)y, (const bf16 *)z, C);
    LAUNCH_CHECK(im);
}

void cu_moe_gate_add_bwd(rlc_backend_t *be, void *dy, void *dz, const void *dout, const void *y, const void *z, int N,
                         int C) {
    cu_impl *im = IM(be);
    if (N <= 0 || C <= 0) return;
    RLC_LAUNCH(moe_gate_add_bwd_k, N, MOE_THREADS, 0, im->stream, (bf16 *)dy, (bf16 *)dz, (const bf16 *)dout,
               (const bf16 *)y, (const bf16 *)z, C);
    LAUNCH_CHECK(im);
}

} // namespace RLC_CU_NS
