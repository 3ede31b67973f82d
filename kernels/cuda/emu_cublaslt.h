/* A stand-in for the cuBLASLt subset matmul.cu uses, for the CPU emulation build: handles,
 * matmul descriptors (transposes, the BIAS epilogue and its pointer), matrix layouts,
 * preferences, the algorithm heuristic and cublasLtMatmul itself (a plain loop over the
 * layouts, in stream order). It is as strict as the strictest cuBLASLt versions where they
 * differ, so that faults a real library might forgive show up here:
 *   - the heuristic offers no algorithm for the BIAS epilogue while the descriptor's bias
 *     pointer is NULL, or when that pointer is aligned below 16 bytes;
 *   - an algorithm remembers the bias alignment it was chosen for, and cublasLtMatmul fails
 *     (as a misaligned vector load would fault on a GPU) when a call's bias is less aligned.
 * What the descriptor held at each heuristic call is counted in lt_log() for the tests.
 * Included by emu.h; never part of the rlc binary. */
#pragma once
#include <cstdint>
#include <cstring>

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType_t;
typedef enum { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4 } cublasLtEpilogue_t;
typedef enum {
    CUBLASLT_MATMUL_DESC_TRANSA = 3,
    CUBLASLT_MATMUL_DESC_TRANSB = 4,
    CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
} cublasLtMatmulDescAttributes_t;
typedef enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
} cublasLtMatmulPreferenceAttributes_t;

struct rlc_lt_ctx_t {
    int ok;
};
struct rlc_lt_desc_t {
    int ta, tb, epi;
    const void *bias;
    int bias_type;
};
struct rlc_lt_layout_t {
    int type;
    uint64_t rows, cols;
    int64_t ld;
};
struct rlc_lt_pref_t {
    size_t ws;
    uint32_t align[4];
};
typedef rlc_lt_ctx_t *cublasLtHandle_t;
typedef rlc_lt_desc_t *cublasLtMatmulDesc_t;
typedef rlc_lt_layout_t *cublasLtMatrixLayout_t;
typedef rlc_lt_pref_t *cublasLtMatmulPreference_t;
struct cublasLtMatmulAlgo_t {
    uint64_t data[8]; /* [0] magic, [1] bias alignment the algorithm was chosen for */
};
struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
};

namespace rlc_emu {

constexpr uint64_t kAlgoMagic = 0x6c74656d75ULL;

/* What the heuristic saw: calls, calls whose BIAS epilogue had a NULL bias pointer, and the
 * smallest bias alignment it was shown. */
struct lt_log_t {
    long heuristics, bias_null, bias_calls;
    int min_bias_align;
};
inline lt_log_t &lt_log() {
    static lt_log_t l = {0, 0, 0, 256};
    return l;
}

inline int lt_align(const void *p) {
    int a = 256;
    while (a > 1 && ((uintptr_t)p % (uintptr_t)a)) a >>= 1;
    return a;
}

inline float lt_load(const void *p, int type, size_t i) {
    return type == CUDA_R_32F ? ((const float *)p)[i] : rlc_bf16_to_f32(((const uint16_t *)p)[i]);
}

/* D = alpha op(A) op(B) + beta C (+ bias per row), column-major layouts as cuBLASLt reads them. */
inline void lt_gemm(rlc_lt_desc_t d, rlc_lt_layout_t la, rlc_lt_layout_t lb, rlc_lt_layout_t ld, float alpha,
                    float beta, const void *A, const void *B, void *D) {
    uint64_t m = ld.rows, n = ld.cols, k = d.ta ? la.rows : la.cols;
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) {
            float acc = 0.f;
            for (uint64_t l = 0; l < k; l++) {
                float a = lt_load(A, la.type, d.ta ? l + i * la.ld : i + l * la.ld);
                float b = lt_load(B, lb.type, d.tb ? j + l * lb.ld : l + j * lb.ld);
                acc += a * b;
            }
            size_t o = i + j * ld.ld;
            float v = alpha * acc;
            if (beta != 0.f) v += beta * lt_load(D, ld.type, o);
            if (d.epi == CUBLASLT_EPILOGUE_BIAS) v += lt_load(d.bias, d.bias_type, i);
            if (ld.type == CUDA_R_32F) ((float *)D)[o] = v;
            else ((uint16_t *)D)[o] = rlc_f32_to_bf16(v);
        }
}

} // namespace rlc_emu

inline const char *cublasLtGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    default: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
}
inline cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    *h = new rlc_lt_ctx_t{1};
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t, cudaDataType_t) {
    *d = new rlc_lt_desc_t{0, 0, CUBLASLT_EPILOGUE_DEFAULT, nullptr, CUDA_R_16BF};
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                                     const void *v, size_t n) {
    int iv = 0;
    if (n == sizeof(int)) memcpy(&iv, v, sizeof iv);
    switch (a) {
    case CUBLASLT_MATMUL_DESC_TRANSA: d->ta = iv == CUBLAS_OP_T; break;
    case CUBLASLT_MATMUL_DESC_TRANSB: d->tb = iv == CUBLAS_OP_T; break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE: d->epi = iv; break;
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: d->bias_type = iv; break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
        if (n != sizeof(void *)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&d->bias, v, sizeof(void *));
        break;
    default: return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t t, uint64_t rows,
                                                 uint64_t cols, int64_t ld) {
    if (ld < (int64_t)rows) return CUBLAS_STATUS_INVALID_VALUE;
    *l = new rlc_lt_layout_t{t, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = new rlc_lt_pref_t{0, {1, 1, 1, 1}};
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                           cublasLtMatmulPreferenceAttributes_t a, const void *v,
                                                           size_t n) {
    if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && n == sizeof(size_t)) memcpy(&p->ws, v, n);
    else if (a >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES &&
             n == sizeof(uint32_t))
        memcpy(&p->align[a - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], v, n);
    else return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatmulPreference_t, int want,
                                                     cublasLtMatmulHeuristicResult_t *res, int *nres) {
    *nres = 0;
    if (!h || want < 1) return CUBLAS_STATUS_INVALID_VALUE;
    rlc_emu::lt_log_t &log = rlc_emu::lt_log();
    log.heuristics++;
    int balign = 0;
    if (d->epi == CUBLASLT_EPILOGUE_BIAS) {
        log.bias_calls++;
        if (!d->bias) {
            log.bias_null++;
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
        balign = rlc_emu::lt_align(d->bias);
        if (balign < log.min_bias_align) log.min_bias_align = balign;
        if (balign < 16) return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    memset(res, 0, sizeof *res);
    res->algo.data[0] = rlc_emu::kAlgoMagic;
    res->algo.data[1] = (uint64_t)balign;
    *nres = 1;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
                                     cublasLtMatrixLayout_t la, const void *B, cublasLtMatrixLayout_t lb,
                                     const void *beta, const void *C, cublasLtMatrixLayout_t lc, void *D,
                                     cublasLtMatrixLayout_t ld, const cublasLtMatmulAlgo_t *algo, void *, size_t,
                                     cudaStream_t) {
    if (!h || !algo || algo->data[0] != rlc_emu::kAlgoMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (C != D || lc->ld != ld->ld || lc->type != ld->type) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (d->epi == CUBLASLT_EPILOGUE_BIAS &&
        (!d->bias || (uint64_t)rlc_emu::lt_align(d->bias) < algo->data[1]))
        return CUBLAS_STATUS_INVALID_VALUE; /* a GPU would fault on the misaligned vector load */
    rlc_lt_desc_t dd = *d;
    rlc_lt_layout_t a = *la, b = *lb, o = *ld;
    float al, be;
    memcpy(&al, alpha, sizeof al);
    memcpy(&be, beta, sizeof be);
    rlc_emu::host_op([=]() { rlc_emu::lt_gemm(dd, a, b, o, al, be, A, B, D); });
    return CUBLAS_STATUS_SUCCESS;
}
