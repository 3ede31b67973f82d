/* cuBLASLt is opened at first use, not linked (kernels/cuda/lt_loader.cu): the library is not
 * in the process until the backend asks for it, the forwarded functions are the library's,
 * and a library that cannot be opened gives an error naming it. Runs without a GPU. */
#include <cublasLt.h>

#include "kernels/cuda/lt_loader.cuh"
#include "testutil.h"

static int lt_mapped(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "libcublasLt")) found = 1;
    fclose(f);
    return found;
}

/* First (before anything loads in this process): a child told to open a missing file fails
 * with that path in its error, and every call reports "not initialized". */
static void test_missing_library(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("RLC_CUBLASLT", "/nonexistent/libcublasLt.so.99", 1);
        int ok = rlc_lt_load() == -1 && strstr(rlc_lt_load_error(), "/nonexistent/libcublasLt.so.99") &&
                 strstr(rlc_lt_load_error(), "RLC_CUBLASLT");
        cublasLtHandle_t h;
        ok = ok && cublasLtCreate(&h) == CUBLAS_STATUS_NOT_INITIALIZED && !lt_mapped();
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_loaded_on_first_use(void **state) {
    (void)state;
    assert_false(lt_mapped());
    if (rlc_lt_load()) fail_msg("cuBLASLt did not load: %s", rlc_lt_load_error());
    assert_true(lt_mapped());
    assert_string_equal(rlc_lt_load_error(), "");
}

static void test_forwards_to_library(void **state) {
    (void)state;
    /* the library's own texts (ours, when it is missing, is "cuBLASLt not loaded") */
    const char *ok = cublasLtGetStatusString(CUBLAS_STATUS_SUCCESS);
    const char *bad = cublasLtGetStatusString(CUBLAS_STATUS_INVALID_VALUE);
    assert_true(ok && bad && *ok && *bad);
    assert_string_not_equal(ok, "cuBLASLt not loaded");
    assert_string_not_equal(ok, bad);
    cublasLtMatrixLayout_t l = NULL;
    assert_int_equal(cublasLtMatrixLayoutCreate(&l, CUDA_R_32F, 4, 8, 4), CUBLAS_STATUS_SUCCESS);
    assert_non_null(l);
    assert_int_equal(cublasLtMatrixLayoutDestroy(l), CUBLAS_STATUS_SUCCESS);
    cublasLtMatmulDesc_t d = NULL;
    assert_int_equal(cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F), CUBLAS_STATUS_SUCCESS);
    cublasOperation_t op = CUBLAS_OP_T;
    assert_int_equal(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &op, sizeof op),
                     CUBLAS_STATUS_SUCCESS);
    assert_int_equal(cublasLtMatmulDescDestroy(d), CUBLAS_STATUS_SUCCESS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_loaded_on_first_use),
        cmocka_unit_test(test_forwards_to_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
