/* `rlc train --tensorboard` on the tiny fixture: a C reader of the event files (TFRecord
 * framing with masked CRC32C checked, the Event / Summary protobuf fields decoded) finds the
 * file_version event, every numeric metric of every metrics.jsonl line as a scalar at its step
 * with its value, the logged samples as text summaries, and after a resume a second file that
 * starts with a SessionLog START at the resumed step; `rlc train` names the event file and
 * the report at its end; CRC32C against its published check value. (scripts/check_tensorboard.py
 * reads the same files with the tensorboard package.) */
#include <dirent.h>
#include <math.h>

#include "testutil.h"

#include "core/fs.h"
#include "core/json.h"
#include "rl/tboard.h"

typedef struct {
    long step;
    char tag[128];
    double value;
    int is_text, is_version, is_start;
    char text[256];
} ev_t;

static uint64_t rd_varint(const uint8_t *p, size_t n, size_t *i) {
    uint64_t v = 0;
    for (int s = 0; *i < n && s < 64; s += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7F) << s;
        if (!(b & 0x80)) break;
    }
    return v;
}

/* Field walker: calls back on each (field, wire, pointer, length/value). */
typedef void (*field_fn)(void *u, int field, int wire, const uint8_t *p, size_t len, uint64_t v);
static void walk(const uint8_t *p, size_t n, field_fn f, void *u) {
    size_t i = 0;
    while (i < n) {
        uint64_t k = rd_varint(p, n, &i);
        int field = (int)(k >> 3), wire = (int)(k & 7);
        if (wire == 0) f(u, field, wire, NULL, 0, rd_varint(p, n, &i));
        else if (wire == 1) f(u, field, wire, p + i, 8, 0), i += 8;
        else if (wire == 5) f(u, field, wire, p + i, 4, 0), i += 4;
        else if (wire == 2) {
            size_t len = (size_t)rd_varint(p, n, &i);
            assert_true(i + len <= n);
            f(u, field, wire, p + i, len, 0);
            i += len;
        } else fail_msg("unexpected wire type %d", wire);
    }
}

typedef struct {
    ev_t *evs;
    int n, cap;
    long step;
    ev_t cur;
} rd_t;

static void on_tensor(void *u, int field, int wire, const uint8_t *p, size_t len, uint64_t v) {
    ev_t *e = u;
    (void)wire;
    if (field == 1) assert_int_equal(v, 7); /* DT_STRING */
    if (field == 8) snprintf(e->text, sizeof e->text, "%.*s", (int)len, (const char *)p);
}

static void on_value(void *u, int field, int wire, const uint8_t *p, size_t len, uint64_t v) {
    ev_t *e = u;
    (void)wire, (void)v;
    if (field == 1) snprintf(e->tag, sizeof e->tag, "%.*s", (int)len, (const char *)p);
    if (field == 2) {
        float f;
        memcpy(&f, p, 4);
        e->value = f;
    }
    if (field == 9) e->is_text = len > 0 && memmem(p, len, "text", 4) != NULL; /* plugin_name "text" */
    if (field == 8) walk(p, len, on_tensor, e);
}

static void push(rd_t *r, const ev_t *e) {
    if (r->n == r->cap) r->evs = realloc(r->evs, sizeof *r->evs * (size_t)(r->cap = r->cap ? 2 * r->cap : 256));
    r->evs[r->n++] = *e;
}

static void on_summary(void *u, int field, int wire, const uint8_t *p, size_t len, uint64_t v) {
    rd_t *r = u;
    (void)wire, (void)v;
    if (field != 1) return;
    ev_t e = {.step = r->step};
    walk(p, len, on_value, &e);
    push(r, &e);
}

static void on_event(void *u, int field, int wire, const uint8_t *p, size_t len, uint64_t v) {
    rd_t *r = u;
    (void)wire;
    if (field == 2) r->step = (long)v;
    if (field == 3) {
        ev_t e = {.step = r->step, .is_version = len == 13 && !memcmp(p, "brain.Event:2", 13)};
        push(r, &e);
    }
    if (field == 5) walk(p, len, on_summary, r);
    if (field == 6) {
        ev_t e = {.step = r->step, .is_start = len == 2 && p[0] == 0x08 && p[1] == 1};
        push(r, &e);
    }
}

/* Every record of an event file, CRCs checked. */
static void read_events(const char *path, rd_t *r) {
    char *buf;
    size_t n;
    assert_int_equal(fs_read_all(path, &buf, &n), 0);
    const uint8_t *p = (const uint8_t *)buf;
    size_t i = 0;
    while (i < n) {
        uint64_t len;
        uint32_t c1, c2;
        assert_true(i + 12 <= n);
        memcpy(&len, p + i, 8);
        memcpy(&c1, p + i + 8, 4);
        assert_int_equal(c1, rl_tb_mask(rl_crc32c(p + i, 8)));
        assert_true(i + 12 + len + 4 <= n);
        memcpy(&c2, p + i + 12 + len, 4);
        assert_int_equal(c2, rl_tb_mask(rl_crc32c(p + i + 12, len)));
        r->step = 0;
        walk(p + i + 12, len, on_event, r);
        i += 12 + len + 4;
    }
    free(buf);
}

/* The event files of a run, oldest first (names sort by creation second, then host). */
static int event_files(const char *run, char files[4][512]) {
    char *dir = fs_join(run, "tensorboard");
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 4)
        if (!strncmp(de->d_name, "events.out.tfevents.", 20)) snprintf(files[n++], 512, "%s/%s", dir, de->d_name);
    closedir(d);
    free(dir);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (strcmp(files[a], files[b]) > 0) {
                char t[512];
                strcpy(t, files[a]), strcpy(files[a], files[b]), strcpy(files[b], t);
            }
    return n;
}

static const ev_t *find(const rd_t *r, long step, const char *tag) {
    for (int i = 0; i < r->n; i++)
        if (r->evs[i].step == step && !strcmp(r->evs[i].tag, tag)) return &r->evs[i];
    return NULL;
}

static void test_tensorboard(void **s) {
    (void)s;
    assert_int_equal(rl_crc32c("123456789", 9), 0xE3069283u); /* the CRC-32C check value */
    char *d = test_tmpdir(), *data = fs_join(d, "d.jsonl"), *run = fs_join(d, "run"), log[65536];
    test_write_sum_problems(data, 40);
    const char *common = "--template raw --group-size 4 --prompts-per-step 3 --micro-batch 3 --max-new-tokens 12 "
                         "--lr 1e-3 --threads 1 --seed 2 --log-samples 2 --tensorboard";
    if (test_run(log, sizeof log, "%s train --model %s --data %s --run-dir %s %s --total-steps 20 --save-every 10",
                 rlc_bin(), fixture("models/qwen2-tiny"), data, run, common))
        fail_msg("train: %s", log);
    assert_non_null(strstr(log, "TensorBoard events: "));
    assert_non_null(strstr(log, "report/report.md"));
    char files[4][512];
    assert_int_equal(event_files(run, files), 1);
    rd_t r = {0};
    read_events(files[0], &r);
    assert_true(r.n > 0 && r.evs[0].is_version);
    /* every number of every metrics line, at its step */
    char *mp = fs_join(run, "metrics.jsonl");
    rlc_jsonl_t j;
    cJSON *row;
    int rows = 0, scalars = 0;
    assert_int_equal(rlc_jsonl_open(&j, mp), 0);
    while (rlc_jsonl_next(&j, &row) > 0) {
        long step = (long)cJSON_GetObjectItem(row, "step")->valuedouble;
        for (const cJSON *it = row->child; it; it = it->next) {
            if (!cJSON_IsNumber(it) || !strcmp(it->string, "step") || !isfinite(it->valuedouble)) continue;
            const ev_t *e = find(&r, step, it->string);
            if (!e) fail_msg("step %ld: no scalar %s", step, it->string);
            assert_true(fabs(e->value - (float)it->valuedouble) <= 1e-6 * fabs(it->valuedouble) + 1e-30);
            scalars++;
        }
        rows++;
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&j);
    assert_int_equal(rows, 20);
    assert_true(scalars > 20 * 15);
    const ev_t *t = find(&r, 1, "samples/0");
    assert_non_null(t);
    assert_true(t->is_text && strstr(t->text, "reward"));
    /* resume from step 10 to 24: a second file starting with SessionLog START at step 20 */
    if (test_run(log, sizeof log, "%s train --resume %s --total-steps 24 --save-every 10", rlc_bin(), run))
        fail_msg("resume: %s", log);
    assert_int_equal(event_files(run, files), 2);
    rd_t r2 = {0};
    read_events(files[0], &r2); /* the resumed run's file is the one that starts a session */
    if (!(r2.n >= 2 && r2.evs[1].is_start)) {
        free(r2.evs);
        memset(&r2, 0, sizeof r2);
        read_events(files[1], &r2);
    }
    assert_true(r2.n >= 2 && r2.evs[0].is_version && r2.evs[1].is_start && r2.evs[1].step == 20);
    assert_non_null(find(&r2, 24, "reward_mean"));
    assert_null(find(&r2, 20, "reward_mean"));
    free(r.evs), free(r2.evs), free(mp);
    snprintf(log, sizeof log, "rm -rf %s", d);
    assert_int_equal(system(log), 0);
    free(d), free(data), free(run);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tensorboard)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
