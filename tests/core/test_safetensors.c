/* safetensors: write → read round trip, byte-identical rewrite, sharded index, and every
 * kind of corrupt header gives a clear error instead of a crash. */
#include "testutil.h"

#include <math.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/safetensors.h"

static char *g_dir;

static int setup(void **s) {
    (void)s;
    g_dir = test_tmpdir();
    return 0;
}
static int teardown(void **s) {
    (void)s;
    fs_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

static char *path(const char *name) { return fs_join(g_dir, name); }

static void write_two(const char *p) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, -1.25f, 3.0e-3f};
    rlc_st_wtensor_t t[2] = {
        {.name = "z.weight", .dtype = RLC_DT_F32, .ndim = 2, .shape = {2, 3}, .f32 = a},
        {.name = "a.bias", .dtype = RLC_DT_BF16, .ndim = 1, .shape = {3}, .f32 = b},
    };
    static const char *const meta[] = {"format", "pt", NULL};
    assert_int_equal(rlc_st_write(p, t, 2, meta), 0);
}

static void test_roundtrip(void **s) {
    (void)s;
    char *p = path("m.safetensors");
    write_two(p);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, p), 0);
    assert_int_equal(st.n, 2);
    const rlc_st_tensor_t *z = rlc_st_find(&st, "z.weight");
    assert_non_null(z);
    assert_int_equal(z->ndim, 2);
    assert_int_equal(z->shape[1], 3);
    float buf[6];
    assert_int_equal(rlc_st_to_f32(z, buf), 0);
    assert_true(buf[5] == 6.0f);
    const rlc_st_tensor_t *b = rlc_st_find(&st, "a.bias");
    assert_int_equal(b->dtype, RLC_DT_BF16);
    assert_int_equal(rlc_st_to_f32(b, buf), 0);
    assert_true(buf[1] == -1.25f);
    assert_true(fabsf(buf[2] - 3.0e-3f) < 2e-5f);
    assert_null(rlc_st_find(&st, "missing"));
    assert_non_null(st.metadata);
    /* rewrite raw → identical bytes */
    rlc_st_wtensor_t w[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].name = st.t[i].name;
        w[i].dtype = st.t[i].dtype;
        w[i].ndim = st.t[i].ndim;
        memcpy(w[i].shape, st.t[i].shape, sizeof w[i].shape);
        w[i].raw = st.t[i].data;
    }
    char *p2 = path("m2.safetensors");
    static const char *const meta[] = {"format", "pt", NULL};
    assert_int_equal(rlc_st_write(p2, w, 2, meta), 0);
    rlc_st_close(&st);
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(fs_read_all(p, &x, &nx), 0);
    assert_int_equal(fs_read_all(p2, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    uint64_t hl = 0;
    memcpy(&hl, x, 8);
    assert_int_equal(hl % 8, 0); /* header padded to 8 bytes */
    free(x);
    free(y);
    free(p);
    free(p2);
}

static void test_sharded(void **s) {
    (void)s;
    char *d = path("sharded");
    fs_mkdir_p(d);
    float a[2] = {1, 2}, b[2] = {3, 4};
    rlc_st_wtensor_t ta = {.name = "a", .dtype = RLC_DT_F32, .ndim = 1, .shape = {2}, .f32 = a};
    rlc_st_wtensor_t tb = {.name = "b", .dtype = RLC_DT_F16, .ndim = 1, .shape = {2}, .f32 = b};
    char *s1 = fs_join(d, "model-00001-of-00002.safetensors"), *s2 = fs_join(d, "model-00002-of-00002.safetensors");
    assert_int_equal(rlc_st_write(s1, &ta, 1, NULL), 0);
    assert_int_equal(rlc_st_write(s2, &tb, 1, NULL), 0);
    char *idx = fs_join(d, "model.safetensors.index.json");
    const char *j = "{\"metadata\":{},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                    "\"b\":\"model-00002-of-00002.safetensors\"}}";
    assert_int_equal(fs_write_atomic(idx, j, strlen(j)), 0);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, d), 0);
    assert_int_equal(st.n, 2);
    float out[2];
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "b"), out), 0);
    assert_true(out[1] == 4.0f);
    rlc_st_close(&st);
    /* weight_map naming a tensor that is not in the shard */
    const char *bad = "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\","
                      "\"b\":\"model-00002-of-00002.safetensors\"}}";
    assert_int_equal(fs_write_atomic(idx, bad, strlen(bad)), 0);
    assert_true(rlc_st_open(&st, d) < 0);
    assert_non_null(strstr(rlc_errmsg(), "missing"));
    const char *esc = "{\"weight_map\":{\"a\":\"../../etc/passwd\"}}";
    assert_int_equal(fs_write_atomic(idx, esc, strlen(esc)), 0);
    assert_true(rlc_st_open(&st, d) < 0);
    free(s1);
    free(s2);
    free(idx);
    free(d);
}

/* Build a file: 8-byte length + header text + data bytes. */
static void raw_file(const char *p, const char *header, size_t declared_len, size_t data_bytes) {
    size_t hl = strlen(header);
    if (!declared_len) declared_len = hl;
    size_t total = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)declared_len >> (8 * i));
    memcpy(buf + 8, header, hl);
    assert_int_equal(fs_write_atomic(p, buf, total), 0);
    free(buf);
}

static void expect_bad(const char *header, size_t declared, size_t data, const char *needle) {
    char *p = path("bad.safetensors");
    raw_file(p, header, declared, data);
    rlc_st_t st;
    int rc = rlc_st_open(&st, p);
    if (rc == 0) fail_msg("expected an error for header %s", header);
    if (!strstr(rlc_errmsg(), needle)) fail_msg("error '%s' lacks '%s'", rlc_errmsg(), needle);
    free(p);
}

/* Tensors under a wrapper's prefix renamed (a multimodal checkpoint's language model): found
 * by their new names, the others untouched; a rename onto an existing name is an error. */
static void test_rename_prefix(void **s) {
    (void)s;
    char *p = path("prefixed.safetensors");
    float a[1] = {1}, b[1] = {2}, c[1] = {3};
    rlc_st_wtensor_t t[3] = {{.name = "lm.model.x", .dtype = RLC_DT_F32, .ndim = 1, .shape = {1}, .f32 = a},
                             {.name = "lm.model.y", .dtype = RLC_DT_F32, .ndim = 1, .shape = {1}, .f32 = b},
                             {.name = "model.y", .dtype = RLC_DT_F32, .ndim = 1, .shape = {1}, .f32 = c}};
    assert_int_equal(rlc_st_write(p, t, 3, NULL), 0);
    rlc_st_t st;
    float v;
    assert_int_equal(rlc_st_open(&st, p), 0);
    assert_int_equal(rlc_st_rename_prefix(&st, "vision.", "model.", p), 0); /* nothing under it */
    assert_int_equal(rlc_st_rename_prefix(&st, "lm.model.", "a.", p), 2);
    assert_null(rlc_st_find(&st, "lm.model.x"));
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "a.x"), &v), 0);
    assert_true(v == 1);
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "a.y"), &v), 0);
    assert_true(v == 2);
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "model.y"), &v), 0);
    assert_true(v == 3);
    assert_true(rlc_st_rename_prefix(&st, "a.", "model.", p) < 0); /* a.y -> model.y exists */
    assert_non_null(strstr(rlc_errmsg(), "duplicate tensor 'model.y'"));
    rlc_st_close(&st);
    free(p);
}

static void test_corrupt(void **s) {
    (void)s;
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t gl = strlen(good);
    expect_bad(good, gl, 4, "beyond file end");                         /* truncated data */
    expect_bad(good, gl + 100, 8, "header length");                     /* header length beyond file */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 0, 8, "malformed JSON");
    expect_bad("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8,
               "has dtype 'Q4', which rlc does not read");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8, "need 12");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8, "invalid data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8, "invalid shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               0, 12, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, 8, "lacks dtype, shape or data_offsets");
    expect_bad("[1,2]", 0, 0, "does not start");
    /* tiny file */
    char *p = path("tiny.safetensors");
    assert_int_equal(fs_write_atomic(p, "abc", 3), 0);
    rlc_st_t st;
    assert_true(rlc_st_open(&st, p) < 0);
    assert_non_null(strstr(rlc_errmsg(), "truncated"));
    free(p);
    /* non-float conversion */
    p = path("ints.safetensors");
    int32_t iv[2] = {1, 2};
    rlc_st_wtensor_t t = {.name = "i", .dtype = RLC_DT_I32, .ndim = 1, .shape = {2}, .raw = iv};
    assert_int_equal(rlc_st_write(p, &t, 1, NULL), 0);
    assert_int_equal(rlc_st_open(&st, p), 0);
    float f[2];
    assert_true(rlc_st_to_f32(rlc_st_find(&st, "i"), f) < 0);
    rlc_st_close(&st);
    free(p);
}

/* The FP8 dtypes read by name from a header and decoded: float8_e4m3fn (bias 7, subnormals, 448
 * its largest, S.1111.111 NaN) checked on all 256 bytes against the formula, float8_e5m2 (an
 * fp16's top byte) and float8_e8m0fnu (2^(b - 127)) on known values. */
static void test_fp8(void **s) {
    (void)s;
    unsigned char all[256], e5[6] = {0x3C, 0xBC, 0x7B, 0x01, 0x7C, 0x00}, e8[4] = {127, 0, 254, 130};
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    char *p = path("f8.safetensors");
    rlc_st_wtensor_t t[3] = {{.name = "a", .dtype = RLC_DT_F8_E4M3, .ndim = 1, .shape = {256}, .raw = all},
                             {.name = "b", .dtype = RLC_DT_F8_E5M2, .ndim = 1, .shape = {6}, .raw = e5},
                             {.name = "c", .dtype = RLC_DT_F8_E8M0, .ndim = 1, .shape = {4}, .raw = e8}};
    assert_int_equal(rlc_st_write(p, t, 3, NULL), 0);
    rlc_st_t st;
    assert_int_equal(rlc_st_open(&st, p), 0);
    float v[256];
    assert_int_equal(rlc_st_find(&st, "a")->dtype, RLC_DT_F8_E4M3);
    assert_string_equal(rlc_dtype_name(RLC_DT_F8_E4M3), "F8_E4M3");
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "a"), v), 0);
    for (int b = 0; b < 256; b++) {
        int e = (b >> 3) & 15, m = b & 7;
        double want = e ? (1 + m / 8.0) * pow(2, e - 7) : m / 8.0 * pow(2, -6);
        if (b & 0x80) want = -want;
        if (e == 15 && m == 7) assert_true(isnan(v[b]));
        else if (v[b] != (float)want) fail_msg("e4m3 0x%02x: %g, not %g", b, (double)v[b], want);
    }
    assert_true(v[0x7E] == 448.0f && v[0xFE] == -448.0f && v[0x38] == 1.0f && v[0x01] == 0x1p-9f);
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "b"), v), 0);
    assert_true(v[0] == 1.0f && v[1] == -1.0f && v[2] == 57344.0f && v[3] == 0x1p-16f && isinf(v[4]) && v[5] == 0);
    assert_int_equal(rlc_st_to_f32(rlc_st_find(&st, "c"), v), 0);
    assert_true(v[0] == 1.0f && v[1] == 0x1p-127f && v[2] == 0x1p127f && v[3] == 8.0f);
    rlc_st_close(&st);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_rename_prefix),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_fp8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
