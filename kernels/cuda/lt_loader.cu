/* cuBLASLt, loaded when the CUDA backend first needs it (docs/cuda.md "Loading").
 *
 * Linking libcublasLt into rlc made every process run its static initialisers at start-up:
 * about 75 ms and 200 MB of resident memory on the development machine, paid by every CPU
 * run, every `rlc --help` and every MPI rank. So rlc does not link it: this file defines the
 * cuBLASLt functions the backend calls (their declarations, from cublasLt.h, check the
 * signatures), and each forwards to the library, opened with dlopen on the first call.
 * When it cannot be opened, every call returns CUBLAS_STATUS_NOT_INITIALIZED and
 * rlc_lt_load_error() says why (the backend's create turns this into its one-line error).
 * RLC_CUBLASLT=/path/to/libcublasLt.so.N opens that file instead of searching.
 * The emulated build (emu_cublaslt.h) has its own inline functions: nothing here. */
#ifndef RLC_CUDA_EMU

#include <cublasLt.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/lt_loader.cuh"

#define RLC_LT_STR2(x) #x
#define RLC_LT_STR(x) RLC_LT_STR2(x)
#define RLC_LT_SONAME "libcublasLt.so." RLC_LT_STR(CUBLAS_VER_MAJOR)

namespace {

struct lt_table {
    decltype(&cublasLtCreate) create;
    decltype(&cublasLtDestroy) destroy;
    decltype(&cublasLtGetStatusString) status_string;
    decltype(&cublasLtMatmul) matmul;
    decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
    decltype(&cublasLtMatmulDescCreate) desc_create;
    decltype(&cublasLtMatmulDescDestroy) desc_destroy;
    decltype(&cublasLtMatmulDescSetAttribute) desc_set;
    decltype(&cublasLtMatmulPreferenceCreate) pref_create;
    decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy;
    decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set;
    decltype(&cublasLtMatrixLayoutCreate) layout_create;
    decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
};

lt_table g_lt;
int g_ok;
char g_err[512];
pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The library beside libcudart (the toolkit's lib directory), for when the loader's search
 * path does not hold it. */
void *open_beside_cudart(void) {
    Dl_info info;
    if (!dladdr((void *)&cudaGetDeviceCount, &info) || !info.dli_fname) return NULL;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, RLC_LT_SONAME);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

template <typename F> bool sym(void *h, const char *name, F *slot) {
    *slot = reinterpret_cast<F>(dlsym(h, name));
    if (!*slot) snprintf(g_err, sizeof g_err, "%s lacks %s", RLC_LT_SONAME, name);
    return *slot != nullptr;
}

void load(void) {
    const char *path = getenv("RLC_CUBLASLT"); /* a library elsewhere: that one only */
    bool given = path && *path;
    void *h = dlopen(given ? path : RLC_LT_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(g_err, sizeof g_err, "cannot load %s (%s)%s", given ? path : RLC_LT_SONAME, why ? why : "not found",
                 given ? " (set by RLC_CUBLASLT)" : "");
        if (!given) h = open_beside_cudart();
        if (!h) return;
    }
    g_ok = sym(h, "cublasLtCreate", &g_lt.create) && sym(h, "cublasLtDestroy", &g_lt.destroy) &&
           sym(h, "cublasLtGetStatusString", &g_lt.status_string) && sym(h, "cublasLtMatmul", &g_lt.matmul) &&
           sym(h, "cublasLtMatmulAlgoGetHeuristic", &g_lt.heuristic) &&
           sym(h, "cublasLtMatmulDescCreate", &g_lt.desc_create) &&
           sym(h, "cublasLtMatmulDescDestroy", &g_lt.desc_destroy) &&
           sym(h, "cublasLtMatmulDescSetAttribute", &g_lt.desc_set) &&
           sym(h, "cublasLtMatmulPreferenceCreate", &g_lt.pref_create) &&
           sym(h, "cublasLtMatmulPreferenceDestroy", &g_lt.pref_destroy) &&
           sym(h, "cublasLtMatmulPreferenceSetAttribute", &g_lt.pref_set) &&
           sym(h, "cublasLtMatrixLayoutCreate", &g_lt.layout_create) &&
           sym(h, "cublasLtMatrixLayoutDestroy", &g_lt.layout_destroy);
    if (g_ok) g_err[0] = 0;
}

bool ready(void) {
    pthread_once(&g_once, load);
    return g_ok;
}

} // namespace

int rlc_lt_load(void) { return ready() ? 0 : -1; }
const char *rlc_lt_load_error(void) { return g_err; }

#define LT_FWD(field, ...) return ready() ? g_lt.field(__VA_ARGS__) : CUBLAS_STATUS_NOT_INITIALIZED

extern "C" {
cublasStatus_t CUBLASWINAPI cublasLtCreate(cublasLtHandle_t *h) { LT_FWD(create, h); }
cublasStatus_t CUBLASWINAPI cublasLtDestroy(cublasLtHandle_t h) { LT_FWD(destroy, h); }
const char *CUBLASWINAPI cublasLtGetStatusString(cublasStatus_t s) {
    return ready() ? g_lt.status_string(s) : "cuBLASLt not loaded";
}
cublasStatus_t CUBLASWINAPI cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha,
                                           const void *A, cublasLtMatrixLayout_t la, const void *B,
                                           cublasLtMatrixLayout_t lb, const void *beta, const void *C,
                                           cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
                                           const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_size,
                                           cudaStream_t stream) {
    LT_FWD(matmul, h, d, alpha, A, la, B, lb, beta, C, lc, D, ld, algo, ws, ws_size, stream);
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                                           cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                                                           cublasLtMatrixLayout_t lc, cublasLtMatrixLayout_t ld,
                                                           cublasLtMatmulPreference_t pref, int want,
                                                           cublasLtMatmulHeuristicResult_t res[], int *got) {
    LT_FWD(heuristic, h, d, la, lb, lc, ld, pref, want, res, got);
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t ct,
                                                     cudaDataType_t st) {
    LT_FWD(desc_create, d, ct, st);
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) { LT_FWD(desc_destroy, d); }
cublasStatus_t CUBLASWINAPI cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                                           const void *buf, size_t n) {
    LT_FWD(desc_set, d, a, buf, n);
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) { LT_FWD(pref_create, p); }
cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) { LT_FWD(pref_destroy, p); }
cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                                 cublasLtMatmulPreferenceAttributes_t a,
                                                                 const void *buf, size_t n) {
    LT_FWD(pref_set, p, a, buf, n);
}
cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType t, uint64_t rows,
                                                       uint64_t cols, int64_t ld) {
    LT_FWD(layout_create, l, t, rows, cols, ld);
}
cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) { LT_FWD(layout_destroy, l); }
}

#endif /* RLC_CUDA_EMU */
