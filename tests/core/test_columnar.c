/* Columnar files read as rows through the row reader: parquet (core/parquet.c) written by
 * pyarrow with every codec, encoding and page version, and Arrow IPC (core/arrow_ipc.c) as
 * Hugging Face datasets' save_to_disk writes it and in the ARROW1 file format, read as exactly
 * the rows of rows.jsonl (nulls at every level, empty and nested lists, structs, booleans,
 * floats, int64, unicode, several row groups or batches); a pandas file; the other types;
 * and damaged files (every truncation, flipped bytes) end in an error or in rows, never a
 * crash. */
#include "testutil.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/parquet_internal.h"

#include <lz4.h>

/* Every row of a file, as one array. */
static int read_all(const char *path, cJSON **rows) {
    *rows = NULL;
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    *rows = cJSON_CreateArray();
    cJSON *o;
    while ((rc = rlc_jsonl_next(&r, &o)) > 0) cJSON_AddItemToArray(*rows, o);
    rlc_jsonl_close(&r);
    if (rc < 0) cJSON_Delete(*rows), *rows = NULL;
    return rc;
}

static void test_fixtures(void **s) {
    (void)s;
    cJSON *want = NULL, *got = NULL;
    assert_int_equal(read_all(fixture("parquet/rows.jsonl"), &want), 0);
    assert_int_equal(cJSON_GetArraySize(want), 11);
    const char *files[] = {"parquet/rows_snappy_v1.parquet", "parquet/rows_gzip_v2.parquet",
                           "parquet/rows_zstd_v2_dict.parquet", "parquet/rows_none_v1.parquet",
                           "parquet/rows_delta_v2.parquet", "parquet/rows_brotli_v1.parquet",
                           "parquet/rows_lz4_v2.parquet", "arrow/hf_saved", "arrow/rows_file.arrow"};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(read_all(fixture(files[i]), &got), 0);
        for (int k = 0; k < cJSON_GetArraySize(want); k++) {
            cJSON *a = cJSON_GetArrayItem(want, k), *b = cJSON_GetArrayItem(got, k);
            if (!cJSON_Compare(a, b, 1)) {
                char *ta = cJSON_PrintUnformatted(a), *tb = b ? cJSON_PrintUnformatted(b) : NULL;
                fail_msg("%s row %d:\n want %s\n got  %s", files[i], k + 1, ta, tb ? tb : "(none)");
            }
        }
        assert_int_equal(cJSON_GetArraySize(got), cJSON_GetArraySize(want));
        /* an int64 beyond a double's exact range keeps its literal, as the JSONL reader does */
        cJSON *idx = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 1), "extra_info"), "index");
        char *t = rlc_json_text(idx);
        assert_string_equal(t, "9007199254740993");
        free(t);
        t = rlc_json_text(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 2), "score"));
        assert_string_equal(t, "-0.00125");
        free(t);
        cJSON_Delete(got);
    }
    cJSON_Delete(want);
    assert_int_equal(read_all(fixture("parquet/flat_pandas.parquet"), &got), 0);
    char *txt = cJSON_PrintUnformatted(got);
    assert_string_equal(txt, "[{\"problem\":\"1 + 1?\",\"answer\":\"2\",\"level\":1},"
                             "{\"problem\":\"2 + 2?\",\"answer\":\"4\",\"level\":2}]");
    free(txt);
    cJSON_Delete(got);
    /* bytes that are not text (an image; a string holding NUL) read as null, text bytes as text */
    assert_int_equal(read_all(fixture("parquet/binary.parquet"), &got), 0);
    txt = cJSON_PrintUnformatted(got);
    assert_string_equal(txt, "[{\"problem\":\"Look.\",\"image\":{\"bytes\":null,\"path\":\"a.png\"},\"nul\":null},"
                             "{\"problem\":\"Plain.\",\"image\":{\"bytes\":\"text\",\"path\":null},\"nul\":\"ok\"}]");
    free(txt);
    cJSON_Delete(got);
}

/* The other value types, from types.parquet (decimals as fixed-length bytes, dictionaries)
 * and types_int.parquet (decimals as INT32/INT64, BYTE_STREAM_SPLIT and DELTA_BYTE_ARRAY over
 * fixed-length values, v2 pages): each reads as types.jsonl's rows, decimals exactly. */
static void test_value_types(void **s) {
    (void)s;
    cJSON *want = NULL, *got = NULL;
    assert_int_equal(read_all(fixture("parquet/types.jsonl"), &want), 0);
    assert_int_equal(cJSON_GetArraySize(want), 3);
    const char *files[] = {"parquet/types.parquet", "parquet/types_int.parquet"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(read_all(fixture(files[i]), &got), 0);
        assert_int_equal(cJSON_GetArraySize(got), 3);
        for (int k = 0; k < 3; k++) {
            char *ta = rlc_json_print(cJSON_GetArrayItem(want, k), 0);
            char *tb = rlc_json_print(cJSON_GetArrayItem(got, k), 0);
            if (strcmp(ta, tb)) fail_msg("%s row %d:\n want %s\n got  %s", files[i], k + 1, ta, tb);
            free(ta), free(tb);
        }
        cJSON_Delete(got);
    }
    cJSON_Delete(want);
}

/* Compressed and dictionary-encoded Arrow: pandas' to_feather (LZ4-frame buffers, a
 * categorical column) and a zstd stream whose dictionaries (top level, in a struct, under a
 * list) are extended by a delta or replaced between batches: the rows of dict_rows.jsonl. */
static void test_arrow_dictionaries(void **s) {
    (void)s;
    cJSON *want = NULL, *got = NULL, *all = cJSON_CreateArray();
    assert_int_equal(read_all(fixture("arrow/dict_rows.jsonl"), &want), 0);
    const char *files[] = {"arrow/dict_lz4.feather", "arrow/dict_zstd_stream.arrow"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(read_all(fixture(files[i]), &got), 0);
        while (got->child) cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(got, got->child));
        cJSON_Delete(got);
    }
    assert_int_equal(cJSON_GetArraySize(all), 8);
    for (int k = 0; k < 8; k++) {
        char *ta = rlc_json_print(cJSON_GetArrayItem(want, k), 0), *tb = rlc_json_print(cJSON_GetArrayItem(all, k), 0);
        if (strcmp(ta, tb)) fail_msg("row %d:\n want %s\n got  %s", k + 1, ta, tb);
        free(ta), free(tb);
    }
    cJSON_Delete(want), cJSON_Delete(all);
    /* a text column of empty values has a data buffer of no bytes (found by fuzz_dataset:
     * pointer arithmetic on its NULL start, which clang's UBSan flags) */
    assert_int_equal(read_all(fixture("arrow/empty_strings.arrow"), &got), 0);
    char *txt = rlc_json_print(got, 0);
    assert_string_equal(txt, "[{\"problem\":\"\",\"answer\":\"1\"},{\"problem\":\"\",\"answer\":\"\"}]");
    free(txt);
    cJSON_Delete(got);
}

/* Parquet's deprecated LZ4 codec (5) as writers framed it: Hadoop's blocks (big-endian lengths,
 * then a raw block, as parquet-mr wrote it), several of them, or one raw block (older
 * parquet-cpp); a damaged one is an error, and LZO is refused by name. */
static void test_lz4_framings(void **s) {
    (void)s;
    char text[3000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + (i * i / 7) % 26);
    char z[4096], framed[8200];
    size_t fn = 0;
    for (size_t at = 0; at < sizeof text; at += 1000) { /* three Hadoop blocks of 1000 bytes */
        int zn = LZ4_compress_default(text + at, z, 1000, (int)sizeof z);
        assert_true(zn > 0);
        uint32_t lens[2] = {1000, (uint32_t)zn};
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < 4; b++) framed[fn++] = (char)(lens[k] >> (24 - 8 * b));
        memcpy(framed + fn, z, (size_t)zn), fn += (size_t)zn;
    }
    uint8_t *out;
    assert_int_equal(pq_decompress(5, (uint8_t *)framed, fn, sizeof text, &out, "x"), 0);
    assert_memory_equal(out, text, sizeof text);
    free(out);
    int zn = LZ4_compress_default(text, z, (int)sizeof text, (int)sizeof z); /* one raw block */
    assert_int_equal(pq_decompress(5, (uint8_t *)z, (size_t)zn, sizeof text, &out, "x"), 0);
    assert_memory_equal(out, text, sizeof text);
    free(out);
    assert_int_equal(pq_decompress(7, (uint8_t *)z, (size_t)zn, sizeof text, &out, "x"), 0);
    free(out);
    assert_int_equal(pq_decompress(5, (uint8_t *)framed, fn - 1, sizeof text, &out, "x"), RLC_EFMT);
    assert_non_null(strstr(rlc_errmsg(), "x: a lz4 page does not decompress"));
    assert_int_equal(pq_decompress(3, (uint8_t *)z, (size_t)zn, sizeof text, &out, "x"), RLC_EUNSUP);
    assert_non_null(strstr(rlc_errmsg(), "compression lzo is not read"));
}

/* A damaged file (found by fuzzing) whose columns disagree: extra_info is null by one column
 * and present by another. The object that replaces the null keeps its key, so no row has a
 * nameless member (which also hid later keys and let them be added twice). */
static void test_columns_disagree(void **s) {
    (void)s;
    cJSON *got = NULL;
    assert_int_equal(read_all(fixture("parquet/damaged_disagree.parquet"), &got), 0);
    cJSON *row;
    cJSON_ArrayForEach(row, got) {
        for (cJSON *a = row->child; a; a = a->next) {
            assert_non_null(a->string);
            assert_true(a->string[0]);
            for (cJSON *b = a->next; b; b = b->next) assert_string_not_equal(a->string, b->string);
        }
    }
    char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 0), "extra_info"));
    assert_string_equal(t, "{\"split\":\"train\"}");
    free(t);
    cJSON_Delete(got);
    /* two columns with one name would be one key twice: refused, naming the file */
    assert_int_equal(read_all(fixture("parquet/dup_names.parquet"), &got), RLC_EFMT);
    assert_non_null(strstr(rlc_errmsg(), "dup_names.parquet: two columns named 'x'"));
    assert_int_equal(read_all(fixture("arrow/dup_names.arrow"), &got), RLC_EFMT);
    assert_non_null(strstr(rlc_errmsg(), "dup_names.arrow: two columns with the same name"));
    /* a batch claiming 2.8e16 rows (found by fuzzing: it ran out of memory) is refused */
    assert_int_equal(read_all(fixture("arrow/damaged_huge_batch.arrow"), &got), RLC_EUNSUP);
    assert_non_null(strstr(rlc_errmsg(), "more than rlc reads"));
}

/* The Arrow types beyond the rows fixture: large strings and lists, fixed-size lists of
 * float32 (shortest literal of the float), uint64 beyond int64, int8, half floats, a map (a
 * list of its entries), a date column left out, a null-typed column. */
static void test_arrow_types(void **s) {
    (void)s;
    cJSON *got = NULL;
    assert_int_equal(read_all(fixture("arrow/types_stream.arrow"), &got), 0);
    /* as printed (numbers by their literals): unsigned 64-bit exact, a float32 by its shortest
     * literal, decimals exact with their scale, a fixed-size binary as text or null, dates,
     * times, timestamps and durations as the integers they hold in their units */
    const char *want[] = {
        "{\"text\":\"large ünï\",\"ll\":[1,2],\"fixed\":[1.5,2],\"u64\":18446744073709551615,\"i8\":-128,"
        "\"half\":1.5,\"m\":[{\"key\":\"a\",\"value\":1}],\"day\":19930,\"dec\":123.45,"
        "\"dec256\":-1234567890123456789012345678901234.56789,\"fbin\":\"abc\",\"ts\":1704164645006,"
        "\"t64\":3723000004000,\"dur\":-5,\"d64\":86400000,\"nothing\":null}",
        "{\"text\":null,\"ll\":[],\"fixed\":[null,-3.25],\"u64\":0,\"i8\":127,\"half\":-0.25,\"m\":[],"
        "\"day\":19930,\"dec\":-0.05,\"dec256\":0.00000,\"fbin\":null,\"ts\":null,\"t64\":null,\"dur\":null,"
        "\"d64\":null,\"nothing\":null}",
        "{\"text\":\"\",\"ll\":null,\"fixed\":[0,0.001],\"u64\":7,\"i8\":null,\"half\":null,\"m\":null,"
        "\"day\":19930,\"dec\":null,\"dec256\":1.00000,\"fbin\":null,\"ts\":-86400000,\"t64\":0,"
        "\"dur\":86400,\"d64\":-86400000,\"nothing\":null}"};
    assert_int_equal(cJSON_GetArraySize(got), 3);
    for (int k = 0; k < 3; k++) {
        char *txt = rlc_json_print(cJSON_GetArrayItem(got, k), 0);
        if (strcmp(txt, want[k])) fail_msg("row %d:\n want %s\n got  %s", k + 1, want[k], txt);
        free(txt);
    }
    /* the values behind the literals */
    cJSON *r0 = cJSON_GetArrayItem(got, 0);
    assert_true(cJSON_GetObjectItem(r0, "dec")->valuedouble == 123.45);
    assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 2), "fixed"), 1)->valuedouble == 0.001);
    cJSON_Delete(got);
}

/* 700 rows through DELTA_BINARY_PACKED (int32 and int64, extremes and wide deltas, several
 * pages), DELTA_BYTE_ARRAY (shared prefixes) and BYTE_STREAM_SPLIT (doubles): the same text
 * for every number and string as the JSONL twin, and the same doubles. */
static void test_delta_encodings(void **s) {
    (void)s;
    cJSON *want = NULL, *got = NULL;
    assert_int_equal(read_all(fixture("parquet/many.jsonl"), &want), 0);
    assert_int_equal(read_all(fixture("parquet/many_delta.parquet"), &got), 0);
    assert_int_equal(cJSON_GetArraySize(got), 700);
    assert_int_equal(cJSON_GetArraySize(want), 700);
    const char *keys[] = {"i32", "i64", "s"};
    for (int k = 0; k < 700; k++) {
        cJSON *a = cJSON_GetArrayItem(want, k), *b = cJSON_GetArrayItem(got, k);
        for (int j = 0; j < 3; j++) {
            char *ta = rlc_json_text(cJSON_GetObjectItem(a, keys[j]));
            char *tb = rlc_json_text(cJSON_GetObjectItem(b, keys[j]));
            if (!ta || !tb || strcmp(ta, tb)) fail_msg("row %d %s: want %s got %s", k + 1, keys[j], ta, tb);
            free(ta), free(tb);
        }
        assert_true(cJSON_GetObjectItem(a, "f")->valuedouble == cJSON_GetObjectItem(b, "f")->valuedouble);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
}

/* Damaged copies of a fixture: each truncation and many flipped bytes end in an error that
 * names the file, or (a flip in a value) in rows; never a crash or a hang. */
static void test_damaged(void **s) {
    (void)s;
    const char *files[] = {"parquet/rows_snappy_v1.parquet", "parquet/rows_zstd_v2_dict.parquet",
                           "parquet/rows_gzip_v2.parquet", "parquet/rows_delta_v2.parquet",
                           "arrow/hf_saved/data-00000-of-00001.arrow", "arrow/rows_file.arrow",
                           "arrow/types_stream.arrow", "parquet/types.parquet", "parquet/types_int.parquet",
                           "parquet/rows_brotli_v1.parquet", "parquet/rows_lz4_v2.parquet",
                           "arrow/dict_lz4.feather", "arrow/dict_zstd_stream.arrow"};
    char *dir = test_tmpdir(), *path = fs_join(dir, "d.parquet");
    for (int fi = 0; fi < (int)(sizeof files / sizeof *files); fi++) {
        char *buf;
        size_t n;
        assert_int_equal(fs_read_all(fixture(files[fi]), &buf, &n), 0);
        cJSON *rows = NULL;
        for (size_t cut = 0; cut < n; cut += 1 + cut / 16) {
            assert_int_equal(fs_write_atomic(path, buf, cut), 0);
            int rc = read_all(path, &rows);
            if (cut >= 4 && !rc) fail_msg("%s cut at %zu read as rows", files[fi], cut);
            if (cut >= 4) assert_non_null(strstr(rlc_errmsg(), "d.parquet"));
            if (!rc) cJSON_Delete(rows);
        }
        uint32_t x = 12345;
        int errors = 0;
        for (int k = 0; k < 1500; k++) {
            char *c = malloc(n);
            memcpy(c, buf, n);
            for (int f = 0; f < 1 + k % 3; f++) {
                x = x * 1103515245u + 12345u;
                size_t at = 4 + (x >> 8) % (n - 8);
                c[at] ^= (char)(1u << (x % 8));
            }
            assert_int_equal(fs_write_atomic(path, c, n), 0);
            int rc = read_all(path, &rows);
            if (!rc) cJSON_Delete(rows);
            errors += rc != 0;
            free(c);
        }
        assert_true(errors > 0);
        free(buf);
    }
    fs_rm_rf(dir);
    free(path);
    free(dir);
}

int main(void) {
    rlc_log_set_level(RLC_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fixtures), cmocka_unit_test(test_value_types),
                                       cmocka_unit_test(test_lz4_framings),
                                       cmocka_unit_test(test_arrow_dictionaries), cmocka_unit_test(test_arrow_types),
                                       cmocka_unit_test(test_columns_disagree),
                                       cmocka_unit_test(test_delta_encodings),
                                       cmocka_unit_test(test_damaged)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
