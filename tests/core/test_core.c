/* core/: errors, fs (atomic writes), JSON/JSONL errors, Philox known answers, half floats. */
#include "testutil.h"

#include <zlib.h>

#include <time.h>

#include "core/arena.h"
#include "core/csv.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/half.h"
#include "core/json.h"
#include "core/log.h"
#include "core/philox.h"
#include "core/str.h"

static void test_err_context(void **s) {
    (void)s;
    int rc = rlc_errc(RLC_EFMT, "bad %s", "thing\nwith newline");
    assert_int_equal(rc, RLC_EFMT);
    assert_string_equal(rlc_errmsg(), "bad thing with newline");
    assert_int_equal(rlc_err_ctx(rc, "loading %s", "x"), RLC_EFMT);
    assert_string_equal(rlc_errmsg(), "loading x: bad thing with newline");
}

static void test_fs_atomic(void **s) {
    (void)s;
    char *d = test_tmpdir();
    char *sub = fs_join(d, "a/b/c");
    assert_int_equal(fs_mkdir_p(sub), 0);
    assert_true(fs_is_dir(sub));
    char *f = fs_join(sub, "x.txt");
    assert_int_equal(fs_write_atomic(f, "hello", 5), 0);
    /* An aborted write leaves the old content and no temp file. */
    fs_atomic_t a;
    assert_int_equal(fs_atomic_open(&a, f), 0);
    assert_int_equal(fs_atomic_write(&a, "partial", 7), 0);
    fs_atomic_abort(&a);
    char *buf;
    size_t n;
    assert_int_equal(fs_read_all(f, &buf, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(buf, "hello");
    free(buf);
    char out[256];
    assert_int_equal(test_run(out, sizeof out, "ls %s | wc -l", sub), 0);
    assert_int_equal(atoi(out), 1);
    char *g = fs_join(sub, "y.txt");
    assert_int_equal(fs_copy_file(f, g), 0);
    assert_int_equal(fs_read_all(g, &buf, &n), 0);
    assert_string_equal(buf, "hello");
    free(buf);
    assert_true(fs_read_all("/nonexistent/zz", &buf, &n) < 0);
    assert_non_null(strstr(rlc_errmsg(), "/nonexistent/zz"));
    assert_int_equal(fs_rm_rf(d), 0);
    assert_false(fs_exists(d));
    free(f);
    free(g);
    free(sub);
    free(d);
}

/* Numbers read with their literals print back as written (50.0 stays a float for Python). */
static void test_json_literals(void **s) {
    (void)s;
    const char *txt = "{\"a\": 50.0, \"b\": [1e-06, 3, -0.50], \"c\": {\"d\": 9007199254740993}, \"e\": \"1.0\"}";
    cJSON *j = rlc_json_parse_lit(txt, strlen(txt), "lit");
    assert_non_null(j);
    char *out = rlc_json_print(j, 0);
    assert_string_equal(out, "{\"a\":50.0,\"b\":[1e-06,3,-0.50],\"c\":{\"d\":9007199254740993},\"e\":\"1.0\"}");
    free(out);
    cJSON_SetNumberValue(cJSON_GetObjectItem(j, "a"), 7); /* a changed value drops its stale literal */
    out = rlc_json_print(j, 0);
    assert_non_null(strstr(out, "\"a\":7,"));
    free(out);
    cJSON_Delete(j);
    assert_null(rlc_json_parse_lit("{\"a\": 1.0,", 11, "bad"));
    assert_non_null(strstr(rlc_errmsg(), "malformed JSON"));
}

static void test_json_errors(void **s) {
    (void)s;
    const char *txt = "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}";
    cJSON *j = rlc_json_parse(txt, strlen(txt), "cfg.json");
    assert_null(j);
    assert_non_null(strstr(rlc_errmsg(), "cfg.json: malformed JSON at line 3"));
    const char *trail = "{\"a\": 1} x";
    assert_null(rlc_json_parse(trail, strlen(trail), "t"));
    const char *ok = "{\"a\": 1, \"b\": \"s\", \"c\": 1.5, \"d\": true}";
    j = rlc_json_parse(ok, strlen(ok), "ok");
    assert_non_null(j);
    long long i;
    double d;
    const char *str;
    int bl;
    assert_int_equal(rlc_json_get_int(j, "a", &i, 1, "ok"), 0);
    assert_int_equal(i, 1);
    assert_true(rlc_json_get_int(j, "c", &i, 1, "ok") < 0); /* 1.5 is not an integer */
    assert_int_equal(rlc_json_get_num(j, "c", &d, 1, "ok"), 0);
    assert_true(rlc_json_get_str(j, "a", &str, 1, "ok") < 0);
    assert_non_null(strstr(rlc_errmsg(), "field 'a' must be a string"));
    assert_int_equal(rlc_json_get_bool(j, "d", &bl, 1, "ok"), 0);
    assert_int_equal(rlc_json_get_num(j, "zz", &d, 0, "ok"), 1);
    assert_true(rlc_json_get_num(j, "zz", &d, 1, "ok") < 0);
    /* a key twice in one object (cJSON reads the first, Python the last) is refused, nested
     * and in objects past the pairwise size too; the same key in two objects is fine */
    const char *dups[] = {"{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"x\": [{\"k\": 1}, {\"k\": 2, \"k\": 2}]}",
                          "{\"a0\":0,\"a1\":1,\"a2\":2,\"a3\":3,\"a4\":4,\"a5\":5,\"a6\":6,\"a7\":7,\"a8\":8,\"a3\":9}"};
    for (int k = 0; k < 3; k++) {
        assert_null(rlc_json_parse(dups[k], strlen(dups[k]), "dup.json"));
        assert_non_null(strstr(rlc_errmsg(), "dup.json: key '"));
        assert_non_null(strstr(rlc_errmsg(), "' given twice in one object"));
    }
    const char *same = "{\"x\": [{\"k\": 1}, {\"k\": 2}], \"k\": {\"k\": 3},"
                       " \"a0\":0,\"a1\":1,\"a2\":2,\"a3\":3,\"a4\":4,\"a5\":5,\"a6\":6,\"a7\":7}";
    cJSON *sj = rlc_json_parse(same, strlen(same), "same");
    assert_non_null(sj);
    cJSON_Delete(sj);
    static const char *const allowed[] = {"a", "b", "c", NULL};
    assert_true(rlc_json_check_keys(j, allowed, "ok") < 0);
    assert_non_null(strstr(rlc_errmsg(), "unknown key 'd'"));
    cJSON_Delete(j);
}

/* Contents given as lists of parts become strings; the rest is refused with a reason. */
static void test_flatten_content(void **s) {
    (void)s;
    const char *ok = "[{\"role\": \"system\", \"content\": \"be brief\"},"
                     " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\", \"image\": null},"
                     " {\"type\": \"text\", \"text\": \"b\"}], \"name\": \"x\"}]";
    cJSON *j = rlc_json_parse(ok, strlen(ok), "ok");
    const char *why = "unset";
    assert_int_equal(rlc_json_flatten_content(j, &why), 0);
    assert_null(why);
    cJSON *u = cJSON_GetArrayItem(j, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "content")->valuestring, "a\nb");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "name")->valuestring, "x"); /* other fields kept */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "content")->valuestring, "be brief");
    cJSON_Delete(j);
    const char *one = "{\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"42\"}]}";
    j = rlc_json_parse(one, strlen(one), "one"); /* one message object */
    assert_int_equal(rlc_json_flatten_content(j, &why), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "content")->valuestring, "42");
    cJSON_Delete(j);
    const struct {
        const char *js, *why;
    } bad[] = {
        {"[{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]", "not text"},
        {"[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": 3}]}]", "is not {"},
        {"[{\"role\": \"user\", \"content\": [\"plain\"]}]", "is not {"},
        {"[{\"role\": \"user\", \"content\": []}]", "empty list"},
        {"[1]", "not an object"},
        {"\"text\"", "not an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = rlc_json_parse(bad[i].js, strlen(bad[i].js), "bad");
        assert_non_null(j);
        why = NULL;
        assert_int_equal(rlc_json_flatten_content(j, &why), 1);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].why));
        cJSON_Delete(j);
    }
}

static void test_jsonl_lines(void **s) {
    (void)s;
    char *d = test_tmpdir();
    char *f = fs_join(d, "x.jsonl");
    const char *content = "{\"a\":1}\n\n{\"a\":2}\r\n{\"a\": 3\n[1,2]\n{\"a\":4}";
    assert_int_equal(fs_write_atomic(f, content, strlen(content)), 0);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, f), 0);
    cJSON *o;
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    cJSON_Delete(o);
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    assert_int_equal(r.lineno, 3);
    cJSON_Delete(o);
    assert_true(rlc_jsonl_next(&r, &o) < 0);
    assert_non_null(strstr(rlc_errmsg(), "x.jsonl:4: malformed JSON"));
    assert_true(rlc_jsonl_next(&r, &o) < 0);
    assert_non_null(strstr(rlc_errmsg(), ":5: expected a JSON object"));
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    cJSON_Delete(o);
    assert_int_equal(rlc_jsonl_next(&r, &o), 0);
    rlc_jsonl_close(&r);
    fs_rm_rf(d);
    free(f);
    free(d);
}

/* Writes `text` gzip-compressed to path. */
static void write_gz(const char *path, const char *text) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
}

/* Reads every row of path: the objects' "a" members as text (joined by ' ', errors as 'E'),
 * the last row's line number in *last. */
static void read_rows(const char *path, char *got, size_t cap, long *last) {
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, path), 0);
    got[0] = 0;
    cJSON *o;
    int rc;
    while ((rc = rlc_jsonl_next(&r, &o)) != 0) {
        char *t = rc > 0 ? rlc_json_text(cJSON_GetObjectItem(o, "a")) : NULL;
        snprintf(got + strlen(got), cap - strlen(got), "%s%s", got[0] ? " " : "", rc > 0 ? (t ? t : "-") : "E");
        if (rc > 0) *last = r.lineno;
        free(t);
        cJSON_Delete(o);
    }
    rlc_jsonl_close(&r);
}

/* One JSON array of objects (pretty-printed, BOM, trailing comma) and gzip-compressed files
 * (JSONL or an array) read as JSONL rows are; an element's index is its line number. */
static void test_jsonl_arrays_gzip(void **s) {
    (void)s;
    char *d = test_tmpdir(), *f = fs_join(d, "x.json"), *g = fs_join(d, "x.gz"), got[256];
    long last = 0;
    const char *arr = "\xEF\xBB\xBF\n [\n  {\"a\": 0.10, \"s\": \"],{\\\"\"},\n"
                      "  {\"a\": \"x\", \"n\": [1, {\"b\": []}]},\n"
                      "  {\"a\": 9007199254740993},\n]\n";
    assert_int_equal(fs_write_atomic(f, arr, strlen(arr)), 0);
    read_rows(f, got, sizeof got, &last);
    assert_string_equal(got, "0.10 x 9007199254740993");
    assert_int_equal(last, 3);
    write_gz(g, arr);
    read_rows(g, got, sizeof got, &last);
    assert_string_equal(got, "0.10 x 9007199254740993");
    write_gz(g, "{\"a\":1}\n\n{\"a\":2}\r\n{\"a\": 3\n[1,2]\n{\"a\":4}");
    read_rows(g, got, sizeof got, &last);
    assert_string_equal(got, "1 2 E E 4");
    assert_int_equal(last, 6);
    /* bad elements are errors of their own; reading goes on */
    const char *bad[][2] = {{"[{\"a\":1}, 5, {\"a\":2}]", "1 E 2"},
                            {"[{\"a\":1},, {\"a\":2}]", "1 E 2"},
                            {"[]", ""},
                            {"  [ ]  \n", ""},
                            {"[{\"a\":1}] x", "1 E"},
                            {"[{\"a\":1}, {\"a\":", "1 E E"},
                            {"[{\"a\":1}", "1 E"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(fs_write_atomic(f, bad[i][0], strlen(bad[i][0])), 0);
        read_rows(f, got, sizeof got, &last);
        if (strcmp(got, bad[i][1])) fail_msg("%s: got '%s', want '%s'", bad[i][0], got, bad[i][1]);
    }
    assert_int_equal(fs_write_atomic(f, "[{\"a\":1}", 8), 0);
    rlc_jsonl_t r;
    cJSON *o;
    assert_int_equal(rlc_jsonl_open(&r, f), 0);
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    cJSON_Delete(o);
    assert_true(rlc_jsonl_next(&r, &o) < 0);
    assert_non_null(strstr(rlc_errmsg(), "x.json: the JSON array is not closed"));
    rlc_jsonl_close(&r);
    /* gzip JSONL streams line by line; a truncated stream gives its rows, then one error */
    static char big[65536];
    big[0] = 0;
    for (int i = 0; i < 2000; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "{\"a\":%u}\n", (unsigned)i * 2654435761u % 1000003u);
    write_gz(g, big);
    char *zb;
    size_t zn;
    assert_int_equal(fs_read_all(g, &zb, &zn), 0);
    assert_int_equal(fs_write_atomic(g, zb, zn / 2), 0);
    free(zb);
    assert_int_equal(rlc_jsonl_open(&r, g), 0);
    int rows = 0, errs = 0, rc;
    while ((rc = rlc_jsonl_next(&r, &o)) != 0) {
        if (rc > 0) rows++, cJSON_Delete(o);
        else if (rc == RLC_EIO) errs++, assert_non_null(strstr(rlc_errmsg(), "damaged or truncated gzip data"));
    }
    rlc_jsonl_close(&r);
    assert_true(rows > 0 && rows < 2000);
    assert_int_equal(errs, 1);
    /* a damaged gzip file is named as one */
    assert_int_equal(fs_write_atomic(g, "\x1f\x8b\x08garbage", 10), 0);
    assert_true(rlc_jsonl_open(&r, g) < 0);
    assert_non_null(strstr(rlc_errmsg(), "x.gz: not a readable gzip file (zlib: "));
    fs_rm_rf(d);
    free(f), free(g), free(d);
}

/* A gzip file that decompresses past the bound (a "zip bomb") is an error, not an exhausted
 * memory: an array as a whole, JSONL line by line (its shorter lines read). */
static void test_jsonl_gzip_bound(void **s) {
    (void)s;
    char *d = test_tmpdir(), *g = fs_join(d, "x.gz"), got[256];
    long last = 0;
    rlc_jsonl_t r;
    cJSON *o;
    size_t was = rlc_jsonl_gz_limit((size_t)1 << 20);
    size_t bn = (size_t)3 << 20;
    char *bomb = malloc(bn + 32);
    assert_non_null(bomb);
    memset(bomb, ' ', bn);
    memcpy(bomb, "[{\"a\":1},", 9);
    strcpy(bomb + bn, "{\"a\":2}]");
    write_gz(g, bomb);
    assert_int_equal(rlc_jsonl_open(&r, g), RLC_EFMT);
    assert_non_null(strstr(rlc_errmsg(), "x.gz: its JSON array decompresses to more than 1 MiB"));
    memcpy(bomb, "{\"a\":1}\n{\"a\":2}\n{\"a\":\"", 22);
    write_gz(g, bomb);
    read_rows(g, got, sizeof got, &last);
    assert_string_equal(got, "1 2 E");
    assert_non_null(strstr(rlc_errmsg(), "x.gz: line 3 decompresses to more than 1 MiB"));
    memset(bomb + 22, 'x', (1 << 20) - 42); /* under the bound: read */
    strcpy(bomb + (1 << 20) - 20, "\"}\n{\"a\":4}\n");
    write_gz(g, bomb);
    assert_int_equal(rlc_jsonl_open(&r, g), 0);
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(rlc_jsonl_next(&r, &o), 1);
        cJSON *a = cJSON_GetObjectItem(o, "a");
        if (i == 3) assert_int_equal(strlen(cJSON_GetStringValue(a)), (1 << 20) - 42);
        else assert_int_equal(a->valueint, i);
        cJSON_Delete(o);
    }
    assert_int_equal(rlc_jsonl_next(&r, &o), 0);
    rlc_jsonl_close(&r);
    free(bomb);
    rlc_jsonl_gz_limit(was);
    fs_rm_rf(d);
    free(g), free(d);
}

/* Header names made unique as pandas' read_csv makes them (its C parser: a renamed column
 * skips names present elsewhere in the header; unnamed columns last), and a header of 3000
 * equal names in linear time. */
static void test_csv_header_names(void **s) {
    (void)s;
    const char *cases[][2] = {
        {"a,a,a.1,,a\n1,2,3,4,5\n", "[\"a\",\"a.2\",\"a.1\",\"Unnamed: 3\",\"a.3\"]"},
        {"x,x.1,x,x\n1,2,3,4\n", "[\"x\",\"x.1\",\"x.2\",\"x.3\"]"},
        {",Unnamed: 0,\n1,2,3\n", "[\"Unnamed: 0.1\",\"Unnamed: 0\",\"Unnamed: 2\"]"},
    };
    for (int k = 0; k < 3; k++) {
        cJSON *rows;
        long *lines;
        assert_int_equal(rlc_csv_parse(cases[k][0], strlen(cases[k][0]), ',', "t.csv", &rows, &lines), 0);
        cJSON *names = cJSON_CreateArray(), *e;
        cJSON_ArrayForEach(e, rows->child) cJSON_AddItemToArray(names, cJSON_CreateString(e->string));
        char *got = cJSON_PrintUnformatted(names);
        if (strcmp(got, cases[k][1])) fail_msg("header %d: %s, pandas gives %s", k, got, cases[k][1]);
        free(got), free(lines);
        cJSON_Delete(names), cJSON_Delete(rows);
    }
    enum { W = 3000 };
    char *big = malloc(4 * W + 8);
    size_t n = 0;
    for (int i = 0; i < W; i++) n += (size_t)sprintf(big + n, "%sc", i ? "," : "");
    n += (size_t)sprintf(big + n, "\n");
    cJSON *rows;
    long *lines;
    assert_int_equal(rlc_csv_parse(big, n, ',', "big.csv", &rows, &lines), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 0); /* a header, no rows */
    free(big), free(lines);
    cJSON_Delete(rows);
}

/* CSV and TSV files (by name; gzip-compressed too) read as pandas' read_csv gives them: the
 * header names the keys (an empty name "Unnamed: i", a repeated one "name.1"), quoted fields
 * hold delimiters, doubled quotes and line breaks, a column of JSON numbers reads as numbers
 * with their literals, others as text ("002" and True/False stay text),
 * empty fields as null; a record of more fields than the header is an error for its line
 * (reading goes on); a quoted field left open is an error naming its line. */
static void test_jsonl_csv(void **s) {
    (void)s;
    char *d = test_tmpdir(), *c = fs_join(d, "a.csv"), *t = fs_join(d, "a.tsv"), *g = fs_join(d, "a.csv.gz");
    const char *csv = "\xEF\xBB\xBFid,n,problem,answer,,ok,answer\r\n"
                      "p1,1983,\"What is 1+1, if \"\"x\"\"=2?\nTwo lines.\",002,a,True,x\r\n"
                      "\r\n"
                      "p2,-1.5e3,Plain,25,,false,y\n"
                      "p3,7,x,1,b,,z,EXTRA\n"
                      "p4,,\"y\"\n";
    const char *want = "{\"id\":\"p1\",\"n\":1983,\"problem\":\"What is 1+1, if \\\"x\\\"=2?\\nTwo lines.\","
                       "\"answer\":\"002\",\"Unnamed: 4\":\"a\",\"ok\":\"True\",\"answer.1\":\"x\"}@2 "
                       "{\"id\":\"p2\",\"n\":-1.5e3,\"problem\":\"Plain\",\"answer\":\"25\",\"Unnamed: 4\":null,"
                       "\"ok\":\"false\",\"answer.1\":\"y\"}@5 E@6 "
                       "{\"id\":\"p4\",\"n\":null,\"problem\":\"y\",\"answer\":null,\"Unnamed: 4\":null,"
                       "\"ok\":null,\"answer.1\":null}@7";
    char tsv[512];
    size_t k = 0;
    for (const char *p = csv; *p; p++) tsv[k++] = *p == ',' ? '\t' : *p; /* no quoted comma matters here */
    tsv[k] = 0;
    char *q = strstr(tsv, "1+1\t if"); /* the quoted comma is text, not a delimiter */
    assert_non_null(q);
    q[3] = ',';
    assert_int_equal(fs_write_atomic(c, csv, strlen(csv)), 0);
    assert_int_equal(fs_write_atomic(t, tsv, strlen(tsv)), 0);
    write_gz(g, csv);
    const char *paths[] = {c, t, g};
    for (int i = 0; i < 3; i++) {
        rlc_jsonl_t r;
        assert_int_equal(rlc_jsonl_open(&r, paths[i]), 0);
        char got[1024] = "";
        cJSON *o;
        int rc;
        while ((rc = rlc_jsonl_next(&r, &o)) != 0) {
            char *txt = rc > 0 ? rlc_json_print(o, 0) : NULL;
            if (rc < 0) assert_non_null(strstr(rlc_errmsg(), ":6: a record of 8 fields; the header has 7"));
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s@%ld", got[0] ? " " : "", txt ? txt : "E",
                     r.lineno);
            free(txt);
            cJSON_Delete(o);
        }
        rlc_jsonl_close(&r);
        if (strcmp(got, want)) fail_msg("%s:\n got  %s\n want %s", paths[i], got, want);
    }
    /* a spreadsheet's CSV separated by ';' (its header holds no comma) */
    const char *semi = "b;a;n\n\"1,5 + 1\";2,5;3\n";
    assert_int_equal(fs_write_atomic(c, semi, strlen(semi)), 0);
    char got[256];
    long last = 0;
    read_rows(c, got, sizeof got, &last);
    assert_string_equal(got, "2,5");
    assert_int_equal(last, 2);
    const char *open_quote = "a,b\n1,\"never closed\n2,3\n";
    assert_int_equal(fs_write_atomic(c, open_quote, strlen(open_quote)), 0);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, c), RLC_EFMT);
    assert_non_null(strstr(rlc_errmsg(), "a.csv:2: a quoted field is not closed before the file ends"));
    fs_rm_rf(d);
    free(c), free(t), free(g), free(d);
}

/* A Hugging Face DatasetDict directory (save_to_disk of several splits) is refused with its
 * splits named and the directory to give; a split's directory reads. */
static void test_jsonl_dataset_dict(void **s) {
    (void)s;
    char *d = test_tmpdir(), *j = fs_join(d, "dataset_dict.json"), *tr = fs_join(d, "train"), *f = NULL;
    const char *dd = "{\"splits\": [\"train\", \"test\"]}";
    assert_int_equal(fs_write_atomic(j, dd, strlen(dd)), 0);
    assert_int_equal(fs_mkdir_p(tr), 0);
    f = fs_join(tr, "rows.jsonl");
    assert_int_equal(fs_write_atomic(f, "{\"a\": 1}\n", 9), 0);
    rlc_jsonl_t r;
    assert_int_equal(rlc_jsonl_open(&r, d), RLC_EINVAL);
    assert_non_null(strstr(rlc_errmsg(), "is a Hugging Face DatasetDict (splits: train, test): give one split's "
                                         "directory, e.g. "));
    assert_non_null(strstr(rlc_errmsg(), "/train"));
    char got[64];
    long last = 0;
    read_rows(tr, got, sizeof got, &last);
    assert_string_equal(got, "1");
    fs_rm_rf(d);
    free(d), free(j), free(tr), free(f);
}

/* Numbers print as the literal they were read as (9007199254740993 and 0.10 stay exact
 * through a read and a write), unless a later change made the literal stale. */
static void test_print_literals(void **s) {
    (void)s;
    char *d = test_tmpdir(), *f = fs_join(d, "n.jsonl");
    const char *row = "{\"big\": 9007199254740993, \"x\": [0.10, 1e2], \"neg\": -0.0}\n";
    assert_int_equal(fs_write_atomic(f, row, strlen(row)), 0);
    rlc_jsonl_t r;
    cJSON *o;
    assert_int_equal(rlc_jsonl_open(&r, f), 0);
    assert_int_equal(rlc_jsonl_next(&r, &o), 1);
    rlc_jsonl_close(&r);
    char *t = rlc_json_print(o, 0);
    assert_string_equal(t, "{\"big\":9007199254740993,\"x\":[0.10,1e2],\"neg\":-0.0}");
    free(t);
    cJSON_SetNumberValue(cJSON_GetObjectItem(o, "big"), 5);
    t = rlc_json_print(o, 0);
    assert_string_equal(t, "{\"big\":5,\"x\":[0.10,1e2],\"neg\":-0.0}");
    free(t);
    t = rlc_json_print(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "x"), 0), 0); /* a number alone */
    assert_string_equal(t, "0.10");
    free(t);
    cJSON_Delete(o);
    fs_rm_rf(d);
    free(f), free(d);
}

/* A directory stands for its data files in name order (shards): other files, hidden files
 * and subdirectories are passed over; path and lineno follow the file being read. */
static void test_jsonl_directory(void **s) {
    (void)s;
    char *d = test_tmpdir(), got[256], p[600];
    long last = 0;
    const char *files[][2] = {{"b.json", "[{\"a\": 3}]"},       {"a.jsonl", "{\"a\": 1}\n{\"a\": 2}\n"},
                              {"notes.txt", "{\"a\": 9}\n"},    {".hidden.jsonl", "{\"a\": 9}\n"},
                              {"c.ndjson", "{\"a\": 4}\n"}};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", d, files[i][0]);
        assert_int_equal(fs_write_atomic(p, files[i][1], strlen(files[i][1])), 0);
    }
    snprintf(p, sizeof p, "%s/d.jsonl.gz", d);
    write_gz(p, "\n{\"a\": 5}\n");
    snprintf(p, sizeof p, "%s/sub.jsonl", d);
    assert_int_equal(fs_mkdir_p(p), 0);
    read_rows(d, got, sizeof got, &last);
    assert_string_equal(got, "1 2 3 4 5");
    assert_int_equal(last, 2); /* the line in d.jsonl.gz */
    rlc_jsonl_t r;
    cJSON *o;
    assert_int_equal(rlc_jsonl_open(&r, d), 0);
    for (int k = 0; k < 3; k++) assert_int_equal(rlc_jsonl_next(&r, &o), 1), cJSON_Delete(o);
    assert_non_null(strstr(r.path, "/b.json"));
    assert_int_equal(r.lineno, 1);
    rlc_jsonl_close(&r);
    assert_int_equal(rlc_jsonl_open(&r, p), RLC_EINVAL); /* sub.jsonl/: no data files */
    assert_non_null(strstr(rlc_errmsg(), "a directory with no data files"));
    fs_rm_rf(d);
    free(d);
}

static void test_philox_kat(void **s) {
    (void)s;
    /* Random123 known-answer vectors for Philox4x32-10. */
    rlc_philox_out_t o = rlc_philox4x32(0, 0, 0, 0, 0, 0);
    assert_int_equal(o.v[0], 0x6627e8d5u);
    assert_int_equal(o.v[1], 0xe169c58du);
    assert_int_equal(o.v[2], 0xbc57ac4cu);
    assert_int_equal(o.v[3], 0x9b00dbd8u);
    o = rlc_philox4x32(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
    assert_int_equal(o.v[0], 0x408f276du);
    assert_int_equal(o.v[3], 0x6d5451fdu);
    o = rlc_philox4x32(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    assert_int_equal(o.v[0], 0xd16cfe09u);
    assert_int_equal(o.v[1], 0x94fdccebu);
    assert_int_equal(o.v[2], 0x5001e420u);
    assert_int_equal(o.v[3], 0x24126ea1u);
    /* Streams: same seed same numbers; restored state continues identically. */
    rlc_rng_t a, b;
    rlc_rng_init(&a, 42, 0);
    rlc_rng_init(&b, 42, 0);
    for (int i = 0; i < 7; i++) rlc_rng_u32(&a);
    rlc_rng_t saved = a;
    uint32_t x = rlc_rng_u32(&a);
    for (int i = 0; i < 7; i++) rlc_rng_u32(&b);
    assert_int_equal(rlc_rng_u32(&b), x);
    assert_int_equal(rlc_rng_u32(&saved), x);
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = rlc_rng_unit(&a);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(fabs(sum / 10000 - 0.5) < 0.02);
}

static void test_half(void **s) {
    (void)s;
    assert_int_equal(rlc_f32_to_bf16(1.0f), 0x3f80);
    assert_true(rlc_bf16_to_f32(0x3f80) == 1.0f);
    /* ties to even: 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125 */
    assert_int_equal(rlc_f32_to_bf16(1.00390625f), 0x3f80);
    assert_int_equal(rlc_f32_to_bf16(1.01171875f), 0x3f82);
    assert_int_equal(rlc_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(rlc_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(rlc_f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(rlc_f32_to_f16(-2.0f), 0xc000);
    assert_true(rlc_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    for (int h = 0; h < 0x7c00; h++) /* every finite positive f16 round-trips */
        assert_int_equal(rlc_f32_to_f16(rlc_f16_to_f32((uint16_t)h)), h);
    for (uint32_t h = 0; h < 0x7f80; h++)
        assert_int_equal(rlc_f32_to_bf16(rlc_bf16_to_f32((uint16_t)h)), h);
}

static void test_utf8_valid(void **s) {
    (void)s;
    const char in[] = "ok \xE4\xB8\xAD \xE4\xB8 x\xFF\xC0\xAF end\xF0\x9F";
    char *o = rlc_utf8_dup_valid(in, sizeof in - 1);
    /* the complete CJK char survives; the cut one, 0xFF, the overlong pair, the cut emoji become U+FFFD */
    assert_string_equal(o, "ok \xE4\xB8\xAD \xEF\xBF\xBD\xEF\xBF\xBD x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end\xEF\xBF\xBD\xEF\xBF\xBD");
    free(o);
    o = rlc_utf8_dup_valid("plain", 5);
    assert_string_equal(o, "plain");
    free(o);
}

/* Days as chat templates show them: both spellings, the weekday filled, no such day refused. */
static void test_parse_day(void **s) {
    (void)s;
    struct tm t;
    assert_int_equal(rlc_parse_day("26 Jul 2024", &t), 0);
    assert_int_equal(t.tm_year, 124);
    assert_int_equal(t.tm_mon, 6);
    assert_int_equal(t.tm_mday, 26);
    assert_int_equal(t.tm_wday, 5); /* a Friday */
    char buf[64];
    strftime(buf, sizeof buf, "%A %d %B %Y, %j", &t);
    assert_string_equal(buf, "Friday 26 July 2024, 208");
    assert_int_equal(rlc_parse_day("2026-12-03", &t), 0);
    assert_int_equal(t.tm_wday, 4);
    assert_int_equal(rlc_parse_day("1 Jan 2030", &t), 0);
    const char *bad[] = {"", "31 Feb 2024", "2024-13-01", "2024-7-26", "26 July 2024", "26 Jul 2024 ", "Jul 26 2024",
                         "26 jul 2024", "00 Jan 2024", "today"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!rlc_parse_day(bad[i], &t)) fail_msg("'%s' was read as a day", bad[i]);
}

static void test_layout(void **s) {
    (void)s;
    rlc_layout_t l;
    rlc_layout_init(&l);
    assert_int_equal(rlc_layout_add(&l, "a", 10), 0);
    assert_int_equal(rlc_layout_add(&l, "b", 1000), 1);
    assert_int_equal(l.e[1].offset % RLC_ALIGN, 0);
    assert_true(l.e[1].offset >= 10);
    assert_true(l.total >= 1010);
    rlc_layout_free(&l);
    rlc_arena_t a;
    assert_int_equal(rlc_arena_init(&a, 1024), 0);
    void *p = rlc_arena_alloc(&a, 600);
    assert_non_null(p);
    assert_null(rlc_arena_alloc(&a, 600));
    rlc_arena_reset(&a, 0);
    assert_non_null(rlc_arena_alloc(&a, 600));
    rlc_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_context), cmocka_unit_test(test_fs_atomic),  cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_literals),
        cmocka_unit_test(test_flatten_content),
        cmocka_unit_test(test_jsonl_lines), cmocka_unit_test(test_jsonl_arrays_gzip),
        cmocka_unit_test(test_jsonl_gzip_bound),
        cmocka_unit_test(test_jsonl_csv), cmocka_unit_test(test_csv_header_names),
        cmocka_unit_test(test_jsonl_dataset_dict),
        cmocka_unit_test(test_jsonl_directory), cmocka_unit_test(test_print_literals),
        cmocka_unit_test(test_philox_kat), cmocka_unit_test(test_half),
        cmocka_unit_test(test_layout), cmocka_unit_test(test_utf8_valid), cmocka_unit_test(test_parse_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
