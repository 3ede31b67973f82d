/* PyTorch torch.save zip files (core/torch_bin.c): every dtype, a scalar, an empty tensor, a
 * slice at a storage offset and two views of one storage read as torch wrote them
 * (tests/fixtures/torch, scripts/make_torch_fixtures.py); what is not a plain state dict of
 * contiguous tensors (a transposed tensor, a non-tensor value, a nested checkpoint, the
 * legacy format), every truncation and every single-byte damage of a file give an error,
 * never a crash. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/torch_bin.h"

/* Element i of t as a double (any dtype). */
static double elem(const rlc_st_tensor_t *t, size_t i) {
    const unsigned char *p = (const unsigned char *)t->data + i * rlc_dtype_size(t->dtype);
    union {
        float f;
        double d;
        int64_t i64;
        int32_t i32;
        int16_t i16;
        int8_t i8;
        uint8_t u8;
        uint16_t h;
    } u;
    memcpy(&u, p, rlc_dtype_size(t->dtype));
    switch (t->dtype) {
    case RLC_DT_F32: return u.f;
    case RLC_DT_F16: return rlc_f16_to_f32(u.h);
    case RLC_DT_BF16: return rlc_bf16_to_f32(u.h);
    case RLC_DT_F64: return u.d;
    case RLC_DT_I64: return (double)u.i64;
    case RLC_DT_I32: return u.i32;
    case RLC_DT_I16: return u.i16;
    case RLC_DT_I8: return u.i8;
    default: return u.u8; /* U8, BOOL */
    }
}

static void test_dtypes(void **s) {
    (void)s;
    rlc_st_t st;
    if (rlc_st_open(&st, fixture("torch/dtypes.bin"))) fail_msg("%s", rlc_errmsg());
    cJSON *want = rlc_json_load_file(fixture("torch/dtypes.json"));
    assert_non_null(want);
    assert_int_equal(st.n, cJSON_GetArraySize(want));
    const cJSON *e;
    cJSON_ArrayForEach(e, want) {
        const rlc_st_tensor_t *t = rlc_st_find(&st, e->string);
        if (!t) fail_msg("tensor %s missing", e->string);
        const cJSON *shape = cJSON_GetObjectItem(e, "shape"), *vals = cJSON_GetObjectItem(e, "values");
        assert_int_equal(t->ndim, cJSON_GetArraySize(shape));
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], cJSON_GetArrayItem(shape, d)->valueint);
        assert_int_equal(t->numel, cJSON_GetArraySize(vals));
        assert_int_equal(t->nbytes, t->numel * rlc_dtype_size(t->dtype));
        for (size_t i = 0; i < t->numel; i++)
            if (elem(t, i) != cJSON_GetArrayItem(vals, (int)i)->valuedouble)
                fail_msg("%s[%zu] = %g, torch wrote %g", e->string, i, elem(t, i),
                         cJSON_GetArrayItem(vals, (int)i)->valuedouble);
    }
    const char *names[] = {"f32", "f16", "bf16", "f64", "i64", "i32", "i16", "i8", "u8", "bool"};
    for (int i = 0; i < 10; i++) assert_int_equal(rlc_st_find(&st, names[i])->dtype, (rlc_dtype_t)i);
    /* the slice lies 3 elements into the storage it shares with the view */
    const rlc_st_tensor_t *sl = rlc_st_find(&st, "slice"), *vw = rlc_st_find(&st, "view");
    assert_ptr_equal(sl->data, (const float *)vw->data + 3);
    cJSON_Delete(want);
    rlc_st_close(&st);
}

static void expect(const char *rel, const char *needle) {
    rlc_st_t st;
    assert_true(rlc_st_open(&st, fixture(rel)) < 0);
    if (!strstr(rlc_errmsg(), needle)) fail_msg("%s: '%s' lacks '%s'", rel, rlc_errmsg(), needle);
}

static void test_refused(void **s) {
    (void)s;
    expect("torch/noncontig.bin", "tensor 'w' is not contiguous");
    expect("torch/object.bin", "'step' is not a tensor");
    expect("torch/nested.bin", "'state_dict' is not a tensor");
    expect("torch/legacy.bin", "legacy (PyTorch < 1.6)");
}

/* Every prefix of a real file, and every byte of it replaced, parse to an error or to valid
 * tensors (whose data lie inside the buffer), never a crash (ASan in the sanitizer build). */
static void test_damage(void **s) {
    (void)s;
    char *buf;
    size_t n;
    assert_int_equal(fs_read_all(fixture("torch/dtypes.bin"), &buf, &n), 0);
    int ok = 0;
    for (size_t cut = 0; cut < n; cut += 7) {
        char *b = malloc(cut + 1);
        memcpy(b, buf, cut);
        rlc_st_tensor_t *t;
        int k;
        if (rlc_torch_parse(b, cut, "cut", &t, &k) == 0) fail_msg("a file cut to %zu bytes parsed", cut);
        free(b);
    }
    for (size_t i = 0; i < n; i++) {
        char *b = malloc(n);
        memcpy(b, buf, n);
        b[i] = (char)(b[i] ^ 0x5a);
        rlc_st_tensor_t *t;
        int k;
        if (rlc_torch_parse(b, n, "flip", &t, &k) == 0) {
            ok++;
            for (int j = 0; j < k; j++) {
                const char *d = t[j].data;
                assert_true(d >= b && d + t[j].nbytes <= b + n);
                free(t[j].name);
            }
            free(t);
        }
        free(b);
    }
    print_message("damaged copies: %d of %zu still parse (damage in tensor bytes or padding)\n", ok, n);
    assert_true(ok > 0 && (size_t)ok < n);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
