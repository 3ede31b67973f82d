/* TensorBoard event files by hand: TFRecord framing and the few protobuf fields of Event,
 * Summary, SummaryMetadata and TensorProto that scalars and text need (see tboard.h). */
#include "rl/tboard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"

uint32_t rl_crc32c(const void *data, size_t n) {
    static uint32_t table[256];
    static int init;
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = 1;
    }
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t rl_tb_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* A growing protobuf buffer. */
typedef struct {
    uint8_t *b;
    size_t n, cap;
    int failed;
} pb_t;

static void put(pb_t *p, const void *x, size_t n) {
    if (p->failed || !n) return; /* nothing to copy (x may then be NULL, as an empty string's bytes) */
    if (p->n + n > p->cap) {
        size_t cap = 2 * (p->n + n) + 64;
        uint8_t *q = realloc(p->b, cap);
        if (!q) {
            p->failed = 1;
            return;
        }
        p->b = q, p->cap = cap;
    }
    memcpy(p->b + p->n, x, n);
    p->n += n;
}

static void varint(pb_t *p, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(p, t, (size_t)k);
}

static void key(pb_t *p, int field, int wire) { varint(p, (uint64_t)field << 3 | (uint64_t)wire); }
static void f64(pb_t *p, int field, double v) {
    key(p, field, 1);
    put(p, &v, 8); /* little-endian hosts (x86-64, aarch64) */
}
static void f32(pb_t *p, int field, float v) {
    key(p, field, 5);
    put(p, &v, 4);
}
static void bytes(pb_t *p, int field, const void *x, size_t n) {
    key(p, field, 2);
    varint(p, n);
    put(p, x, n);
}
static void sub(pb_t *p, int field, const pb_t *m) { bytes(p, field, m->b, m->n); }

/* One TFRecord: length, masked crc of the length, data, masked crc of the data. */
static int record(rl_tb_t *tb, const pb_t *ev) {
    if (ev->failed) return RLC_ENOMEM;
    uint64_t len = ev->n;
    uint32_t c1 = rl_tb_mask(rl_crc32c(&len, 8)), c2 = rl_tb_mask(rl_crc32c(ev->b, ev->n));
    if (fwrite(&len, 8, 1, tb->f) != 1 || fwrite(&c1, 4, 1, tb->f) != 1 ||
        (ev->n && fwrite(ev->b, ev->n, 1, tb->f) != 1) || fwrite(&c2, 4, 1, tb->f) != 1)
        return rlc_errc(RLC_EIO, "%s: write failed", tb->path);
    return 0;
}

/* Event{wall_time, step, <field>: m}. */
static int event(rl_tb_t *tb, double wall, long step, int field, const pb_t *m, const char *str) {
    pb_t ev = {0};
    f64(&ev, 1, wall);
    key(&ev, 2, 0);
    varint(&ev, (uint64_t)step);
    if (m) sub(&ev, field, m);
    if (str) bytes(&ev, field, str, strlen(str));
    int rc = record(tb, &ev);
    free(ev.b);
    return rc;
}

static double now_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int rl_tb_open(rl_tb_t *tb, const char *run_dir, long resume_step) {
    memset(tb, 0, sizeof *tb);
    char *dir = fs_join(run_dir, "tensorboard"), host[64] = "localhost", name[160];
    if (!dir) return RLC_ENOMEM;
    int rc = fs_mkdir_p(dir);
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    double w = now_wall();
    snprintf(name, sizeof name, "events.out.tfevents.%ld.%s.%ld", (long)w, host, (long)getpid()); /* unique per run */
    if (!rc && !(tb->path = fs_join(dir, name))) rc = RLC_ENOMEM;
    free(dir);
    if (!rc && !(tb->f = fopen(tb->path, "ab"))) rc = rlc_errc(RLC_EIO, "%s: cannot create", tb->path);
    if (!rc) rc = event(tb, w, 0, 3, NULL, "brain.Event:2"); /* file_version */
    if (!rc && resume_step >= 0) { /* SessionLog{status: START} */
        pb_t sl = {0};
        key(&sl, 1, 0);
        varint(&sl, 1);
        rc = sl.failed ? RLC_ENOMEM : event(tb, w, resume_step, 6, &sl, NULL);
        free(sl.b);
    }
    if (!rc) rc = rl_tb_flush(tb);
    if (rc) rl_tb_close(tb);
    return rc;
}

/* Summary.Value{tag, simple_value} for every number of o (prefix/key for nested objects). */
static void values(pb_t *summ, const cJSON *o, const char *prefix) {
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        char tag[160];
        snprintf(tag, sizeof tag, "%s%s%s", prefix, prefix[0] ? "/" : "", it->string ? it->string : "");
        if (cJSON_IsObject(it)) {
            values(summ, it, tag);
            continue;
        }
        if (!cJSON_IsNumber(it) || !strcmp(tag, "step") || !isfinite(it->valuedouble)) continue;
        pb_t v = {0};
        bytes(&v, 1, tag, strlen(tag));
        f32(&v, 2, (float)it->valuedouble);
        sub(summ, 1, &v);
        summ->failed |= v.failed;
        free(v.b);
    }
}

int rl_tb_scalars(rl_tb_t *tb, long step, double wall_time, const cJSON *row) {
    if (!tb->f) return 0;
    pb_t summ = {0};
    values(&summ, row, "");
    int rc = summ.failed ? RLC_ENOMEM : event(tb, wall_time > 0 ? wall_time : now_wall(), step, 5, &summ, NULL);
    free(summ.b);
    return rc;
}

int rl_tb_text(rl_tb_t *tb, long step, double wall_time, const char *tag, const char *text) {
    if (!tb->f) return 0;
    pb_t pd = {0}, meta = {0}, shape = {0}, tensor = {0}, v = {0}, summ = {0};
    bytes(&pd, 1, "text", 4);              /* PluginData{plugin_name} */
    sub(&meta, 1, &pd);                    /* SummaryMetadata{plugin_data} */
    key(&tensor, 1, 0);                    /* TensorProto{dtype: DT_STRING (7)} */
    varint(&tensor, 7);
    sub(&tensor, 2, &shape);               /* tensor_shape: a scalar */
    bytes(&tensor, 8, text, strlen(text)); /* string_val */
    bytes(&v, 1, tag, strlen(tag));
    sub(&v, 9, &meta);
    sub(&v, 8, &tensor);
    sub(&summ, 1, &v);
    int failed = pd.failed | meta.failed | tensor.failed | v.failed | summ.failed;
    int rc = failed ? RLC_ENOMEM : event(tb, wall_time > 0 ? wall_time : now_wall(), step, 5, &summ, NULL);
    free(pd.b), free(meta.b), free(shape.b), free(tensor.b), free(v.b), free(summ.b);
    return rc;
}

int rl_tb_flush(rl_tb_t *tb) {
    if (!tb->f) return 0;
    if (fflush(tb->f) || fsync(fileno(tb->f))) return rlc_errc(RLC_EIO, "%s: flush failed", tb->path);
    return 0;
}

void rl_tb_close(rl_tb_t *tb) {
    if (tb->f) fclose(tb->f);
    free(tb->path);
    memset(tb, 0, sizeof *tb);
}
