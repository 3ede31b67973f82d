/* Matmuls: row-major [N, IC] x [OC, IC]^T products mapped onto column-major cuBLASLt calls
 * (bf16 A/B, fp32 compute, bf16 or fp32 D, bias epilogue, 32 MiB workspace). Descriptors and
 * the heuristic's algorithm are cached per (shape, types, pointer alignment). The heuristic
 * is asked with the BIAS epilogue's pointer already on the descriptor (a NULL one may get no
 * algorithm, or one chosen for another alignment), and only for bias vectors aligned to 16
 * bytes or more: a less aligned one is added by add_bias_k after a GEMM without it. In the
 * CPU emulation build kernels/cuda/emu_cublaslt.h stands in for cuBLASLt (strictly), so the
 * layout mapping and the descriptor setup are tested too.
 * While be->row_invariant is set, matmul_fwd goes to the row-invariant kernel of gemm_rows.cu
 * (SIMT) or gemm_rows_tc.cu (tensor cores), as RLC_CUDA_ROWINV chose.
 * Exports: cu_matmul_fwd, cu_matmul_bwd, cu_gemm, cu_gemm_cache_free, mm_fwd, mm_dinp, mm_dw. */
#include "kernels/cuda/matmul.cuh"

#include <string.h>

#include "kernels/cuda/gemm_rows_tc.cuh"
#include "kernels/cuda/rmsnorm.cuh" /* cu_colsum_add for the bias gradient */

namespace RLC_CU_NS {

enum { GEMM_CACHE_MAX = 256 };

/* Largest power of two (<= 256) dividing the address: the heuristic must only pick kernels
 * whose vector loads that alignment allows. */
static int align_of(const void *p) {
    int a = 256;
    while (a > 1 && ((uintptr_t)p % (uintptr_t)a)) a >>= 1;
    return a;
}


struct gemm_key {
    int ta, tb, m, n, k, lda, ldb, ldd, dt, bias, beta, alA, alB, alD, alBias;
};

struct gemm_entry {
    gemm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
};

static void entry_destroy(gemm_entry *e) {
    if (e->desc) cublasLtMatmulDescDestroy(e->desc);
    if (e->la) cublasLtMatrixLayoutDestroy(e->la);
    if (e->lb) cublasLtMatrixLayoutDestroy(e->lb);
    if (e->ld) cublasLtMatrixLayoutDestroy(e->ld);
    memset(e, 0, sizeof *e);
}

void cu_gemm_cache_free(cu_impl *im) {
    for (int i = 0; i < im->gemm_cached; i++) entry_destroy(&im->gemm_cache[i]);
    free(im->gemm_cache);
    im->gemm_cache = NULL;
    im->gemm_cached = 0;
}

/* Build descriptors and ask the heuristic for the best algorithm; 0 ok. `bias` (the first
 * call's vector, of the key's alignment) is on the descriptor before the heuristic runs. */
static int entry_build(cu_impl *im, gemm_entry *e, const gemm_key &k, const void *bias) {
    memset(e, 0, sizeof *e);
    e->key = k;
    cudaDataType_t dt = k.dt == GEMM_F32 ? CUDA_R_32F : CUDA_R_16BF;
    cublasOperation_t opa = k.ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = k.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(im, cublasLtMatmulDescCreate(&e->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    if (im->err) return -1;
    CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    if (k.bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        cudaDataType_t bt = CUDA_R_16BF;
        CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    CUBLAS_CHECK(im, cublasLtMatrixLayoutCreate(&e->la, CUDA_R_16BF, k.ta ? k.k : k.m, k.ta ? k.m : k.k, k.lda));
    CUBLAS_CHECK(im, cublasLtMatrixLayoutCreate(&e->lb, CUDA_R_16BF, k.tb ? k.n : k.k, k.tb ? k.k : k.n, k.ldb));
    CUBLAS_CHECK(im, cublasLtMatrixLayoutCreate(&e->ld, dt, k.m, k.n, k.ldd));
    if (im->err) return -1;
    cublasLtMatmulPreference_t pref = NULL;
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceCreate(&pref));
    if (im->err) return -1;
    uint32_t al[4] = {(uint32_t)k.alA, (uint32_t)k.alB, (uint32_t)k.alD, (uint32_t)k.alD};
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                          &im->lt_ws_size, sizeof im->lt_ws_size));
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0],
                                                          sizeof al[0]));
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1],
                                                          sizeof al[1]));
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2],
                                                          sizeof al[2]));
    CUBLAS_CHECK(im, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[3],
                                                          sizeof al[3]));
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    memset(&res, 0, sizeof res);
    if (!im->err) {
        cublasStatus_t st =
            cublasLtMatmulAlgoGetHeuristic(im->lt, e->desc, e->la, e->lb, e->ld, e->ld, pref, 1, &res, &nres);
        if (st != CUBLAS_STATUS_SUCCESS || nres == 0)
            cu_fail(im, RLC_EUNSUP,
                    "cuBLASLt: no algorithm for m=%d n=%d k=%d (trans %c%c, lda %d ldb %d ldd %d, %s out, "
                    "alignment %d/%d/%d bytes, bias %d): %s",
                    k.m, k.n, k.k, k.ta ? 'T' : 'N', k.tb ? 'T' : 'N', k.lda, k.ldb, k.ldd,
                    k.dt == GEMM_F32 ? "f32" : "bf16", k.alA, k.alB, k.alD, k.alBias, cublasLtGetStatusString(st));
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (im->err) {
        entry_destroy(e);
        return -1;
    }
    e->algo = res.algo;
    return 0;
}

void cu_gemm(cu_impl *im, const gemm_t &g) {
    if (g.m <= 0 || g.n <= 0 || im->err) return;
    if (g.bias && align_of(g.bias) < 16) { /* mm_fwd routes these to add_bias_k */
        cu_fail(im, RLC_EINVAL, "cuBLASLt: a bias epilogue needs a 16-byte aligned vector");
        return;
    }
    gemm_key k;
    memset(&k, 0, sizeof k);
    k.ta = g.ta;
    k.tb = g.tb;
    k.m = g.m;
    k.n = g.n;
    k.k = g.k;
    k.lda = g.lda;
    k.ldb = g.ldb;
    k.ldd = g.ldd;
    k.dt = g.dt;
    k.bias = g.bias != NULL;
    k.beta = g.beta != 0.f;
    k.alA = align_of(g.A);
    k.alB = align_of(g.B);
    k.alD = align_of(g.D);
    k.alBias = g.bias ? align_of(g.bias) : 0;
    gemm_entry *e = NULL, tmp;
    for (int i = 0; i < im->gemm_cached; i++)
        if (!memcmp(&im->gemm_cache[i].key, &k, sizeof k)) {
            e = &im->gemm_cache[i];
            break;
        }
    bool owned = false;
    if (!e) {
        if (!im->gemm_cache) im->gemm_cache = (gemm_entry *)calloc(GEMM_CACHE_MAX, sizeof(gemm_entry));
        if (im->gemm_cache && im->gemm_cached < GEMM_CACHE_MAX) {
            e = &im->gemm_cache[im->gemm_cached];
            if (entry_build(im, e, k, g.bias)) return;
            im->gemm_cached++;
        } else { /* cache full: build, use once, drop */
            e = &tmp;
            if (entry_build(im, e, k, g.bias)) return;
            owned = true;
        }
    }
    if (g.bias) {
        const void *bp = g.bias;
        CUBLAS_CHECK(im, cublasLtMatmulDescSetAttribute(e->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp));
    }
    CUBLAS_CHECK(im, cublasLtMatmul(im->lt, e->desc, &g.alpha, g.A, e->la, g.B, e->lb, &g.beta, g.D, e->ld, g.D, e->ld,
                                    &e->algo, im->lt_ws, im->lt_ws_size, im->stream));
    if (owned) entry_destroy(e);
}

/* out[n, o] += bias[o] (bf16 or f32 rows): the bias of a GEMM whose bias vector the epilogue
 * cannot take (aligned below 16 bytes). */
template <class T> __global__ void add_bias_k(T *out, const bf16 *bias, int N, int OC) {
    size_t total = (size_t)N * OC;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        stf(out + i, ldf(out + i) + __bfloat162float(bias[i % OC]));
}

#ifdef RLC_CUDA_EMU
/* For the emulated tests: what the cuBLASLt stand-in's heuristic was shown. */
extern "C" void rlc_cuda_emu_lt_log(long *heuristics, long *bias_calls, long *bias_null, int *min_bias_align) {
    const rlc_emu::lt_log_t &l = rlc_emu::lt_log();
    *heuristics = l.heuristics;
    *bias_calls = l.bias_calls;
    *bias_null = l.bias_null;
    *min_bias_align = l.min_bias_align;
}
#endif

void mm_fwd(cu_impl *im, void *out, gemm_dt dt, const bf16 *inp, const bf16 *w, const bf16 *bias, int N, int IC,
            int OC, float alpha) {
    /* The bias epilogue reads the vector with wide loads; a view into the parameter buffer
     * that is not 16-byte aligned gets a separate add instead. */
    bool separate = bias && ((uintptr_t)bias % 16);
    gemm_t g = {true, false, OC, N, IC, w, IC, inp, IC, out, dt, OC, alpha, 0.f, separate ? NULL : bias};
    cu_gemm(im, g);
    if (separate && !im->err) {
        unsigned grid = grid_for((size_t)N * OC, 256);
        if (dt == GEMM_F32) RLC_LAUNCH(add_bias_k<float>, grid, 256, 0, im->stream, (float *)out, bias, N, OC);
        else RLC_LAUNCH(add_bias_k<bf16>, grid, 256, 0, im->stream, (bf16 *)out, bias, N, OC);
        LAUNCH_CHECK(im);
    }
}

void mm_dinp(cu_impl *im, bf16 *dinp, const bf16 *dout, const bf16 *w, int N, int IC, int OC) {
    gemm_t g = {false, false, IC, N, OC, w, IC, dout, OC, dinp, GEMM_BF16, IC, 1.f, 0.f, NULL};
    cu_gemm(im, g);
}

void mm_dw(cu_impl *im, float *dw, const bf16 *dout, const bf16 *inp, int N, int IC, int OC) {
    if (N <= 0) return;
    gemm_t g = {false, true, IC, OC, N, inp, IC, dout, OC, dw, GEMM_F32, IC, 1.f, 1.f, NULL};
    cu_gemm(im, g);
}

void cu_matmul_fwd(rlc_backend_t *be, void *out, const void *inp, const void *w, const void *bias, int N, int IC,
                   int OC) {
    cu_impl *im = IM(be);
    if (N <= 0 || OC <= 0) return;
    if (IC <= 0) {
        cu_fail(im, RLC_EINVAL, "matmul: IC must be positive (got %d)", IC);
        return;
    }
    if (cu_row_invariant(be)) { /* generation: a fixed order per row, whatever the batch */
        cu_gemm_rowinv(im, out, false, (const bf16 *)inp, (const bf16 *)w, (const bf16 *)bias, N, IC, OC);
        return;
    }
    mm_fwd(im, out, GEMM_BF16, (const bf16 *)inp, (const bf16 *)w, (const bf16 *)bias, N, IC, OC, 1.f);
}

void cu_matmul_bwd(rlc_backend_t *be, void *dinp, void *dw, void *dbias, const void *dout, const void *inp,
                   const void *w, int N, int IC, int OC) {
    cu_impl *im = IM(be);
    if (N <= 0 || IC <= 0 || OC <= 0) return;
    if (dinp) mm_dinp(im, (bf16 *)dinp, (const bf16 *)dout, (const bf16 *)w, N, IC, OC);
    if (dw) mm_dw(im, (float *)dw, (const bf16 *)dout, (const bf16 *)inp, N, IC, OC);
    if (dbias) cu_colsum_add(im, (float *)dbias, (const bf16 *)dout, N, OC);
}

} // namespace RLC_CU_NS
