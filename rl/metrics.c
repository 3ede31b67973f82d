/* Run reporting: JSONL writers for metrics and samples (durable per line, torn tails
 * repaired), resume truncation, and the one-line step log. */
#include "rl/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/str.h"
#include "rl/algo.h"

/* ---------------------------------------------------------------- JSONL writer */

/* Cut a file back to its last newline (a crash mid-line leaves a torn tail). */
static int drop_torn_tail(int fd, const char *path) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) return rlc_err_errno("cannot stat %s", path);
    off_t end = sb.st_size;
    char buf[4096];
    while (end > 0) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - start), start);
        if (n != end - start) return rlc_err_errno("cannot read %s", path);
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') {
                off_t keep = start + i + 1;
                if (keep != sb.st_size && ftruncate(fd, keep) != 0) return rlc_err_errno("cannot truncate %s", path);
                return 0;
            }
        end = start;
    }
    if (sb.st_size && ftruncate(fd, 0) != 0) return rlc_err_errno("cannot truncate %s", path);
    return 0;
}

int rl_jsonl_writer_open(rl_jsonl_writer_t *w, const char *path) {
    memset(w, 0, sizeof *w);
    w->fsync_each = 1;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return rlc_err_errno("cannot open %s", path);
    int rc = drop_torn_tail(fd, path);
    if (!rc && !(w->path = rlc_strdup(path))) rc = RLC_ENOMEM;
    if (!rc && !(w->f = fdopen(fd, "a"))) rc = rlc_err_errno("cannot open %s", path);
    if (rc) {
        close(fd);
        free(w->path);
        w->path = NULL;
    }
    return rc;
}

int rl_jsonl_writer_put(rl_jsonl_writer_t *w, const cJSON *obj) {
    if (!w->f) return rlc_errc(RLC_EINVAL, "JSONL writer is not open");
    char *txt = rlc_json_print(obj, 0);
    if (!txt) return RLC_ENOMEM;
    int rc = 0;
    if (fputs(txt, w->f) < 0 || fputc('\n', w->f) == EOF || fflush(w->f) != 0)
        rc = rlc_err_errno("write to %s failed", w->path);
    else if (w->fsync_each && fsync(fileno(w->f)) != 0 && errno != EINVAL)
        rc = rlc_err_errno("fsync %s failed", w->path);
    free(txt);
    return rc;
}

void rl_jsonl_writer_close(rl_jsonl_writer_t *w) {
    if (w->f) fclose(w->f);
    free(w->path);
    memset(w, 0, sizeof *w);
}

int rl_jsonl_truncate_steps(const char *path, long max_step) {
    if (!fs_exists(path)) return 0;
    char *text;
    size_t len;
    int rc = fs_read_all(path, &text, &len);
    if (rc) return rc;
    char *out = rlc_malloc(len + 1);
    if (!out) {
        free(text);
        return RLC_ENOMEM;
    }
    size_t n = 0;
    int dropped = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        int keep = 0;
        if (nl) { /* an unterminated last line is torn */
            cJSON *o = cJSON_ParseWithLength(line, ll);
            const cJSON *s = o ? cJSON_GetObjectItemCaseSensitive(o, "step") : NULL;
            keep = o && (!cJSON_IsNumber(s) || s->valuedouble <= (double)max_step);
            cJSON_Delete(o);
        }
        if (keep) {
            memcpy(out + n, line, ll);
            n += ll;
            out[n++] = '\n';
        } else if (!rlc_is_blank(line, ll)) {
            dropped++;
        }
        line += ll + (nl ? 1 : 0);
    }
    rc = dropped ? fs_write_atomic(path, out, n) : 0;
    free(out);
    free(text);
    return rc ? rc : dropped;
}

/* ---------------------------------------------------------------- step metrics */

void rl_step_metrics_init(rl_step_metrics_t *m) {
    memset(m, 0, sizeof *m);
    double *d[] = {&m->reward_mean, &m->reward_std, &m->acc, &m->kept_frac, &m->loss, &m->pg_loss, &m->kl,
                   &m->entropy, &m->clip_frac, &m->clip_frac_low, &m->clip_frac_high, &m->clip_frac_dual,
                   &m->ratio_mean, &m->ratio_max, &m->value_loss, &m->value_clip_frac, &m->grad_norm, &m->lr,
                   &m->resp_len_mean, &m->resp_len_max, &m->truncated_frac, &m->t_rollout, &m->t_score,
                   &m->t_train, &m->t_total, &m->tok_per_s, &m->gap_mean, &m->gap_max, &m->gap_seq,
                   &m->gap_kl, &m->is_frac};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) *d[i] = NAN;
    m->tokens_gen = m->tokens_train = m->gen_rounds = -1;
}

void rl_step_metrics_add_loss(rl_step_metrics_t *m, const rl_loss_stats_t *st, int n_updates, int have_kl) {
    double u = n_updates > 0 ? n_updates : 1, n = st->n_tok;
    m->loss = st->loss / u;
    m->pg_loss = st->pg / u;
    if (n <= 0) return;
    m->kl = have_kl ? st->kl_tok / n : NAN;
    m->entropy = st->ent_tok / n;
    m->clip_frac_high = st->clip_high / n;
    m->clip_frac_low = st->clip_low / n;
    m->clip_frac_dual = st->clip_dual / n;
    m->clip_frac = (st->clip_high + st->clip_low + st->clip_dual) / n;
    m->ratio_mean = st->ratio_sum / n;
    m->ratio_max = st->ratio_max;
}

static void put_num(cJSON *o, const char *k, double v) {
    if (!isnan(v)) cJSON_AddNumberToObject(o, k, v);
}

static void put_long(cJSON *o, const char *k, long v) {
    if (v >= 0) cJSON_AddNumberToObject(o, k, (double)v);
}

cJSON *rl_step_metrics_json(const rl_step_metrics_t *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "step", (double)m->step);
    put_num(o, "reward_mean", m->reward_mean);
    put_num(o, "reward_std", m->reward_std);
    put_num(o, "acc", m->acc);
    put_num(o, "kept_frac", m->kept_frac);
    if (m->pass_hist && m->n_hist > 0) {
        cJSON *h = cJSON_AddArrayToObject(o, "pass_hist");
        for (int i = 0; h && i < m->n_hist; i++) cJSON_AddItemToArray(h, cJSON_CreateNumber((double)m->pass_hist[i]));
    }
    put_long(o, "gen_rounds", m->gen_rounds);
    put_num(o, "loss", m->loss);
    put_num(o, "pg_loss", m->pg_loss);
    put_num(o, "kl", m->kl);
    put_num(o, "entropy", m->entropy);
    put_num(o, "clip_frac", m->clip_frac);
    put_num(o, "clip_frac_low", m->clip_frac_low);
    put_num(o, "clip_frac_high", m->clip_frac_high);
    put_num(o, "clip_frac_dual", m->clip_frac_dual);
    put_num(o, "ratio_mean", m->ratio_mean);
    put_num(o, "ratio_max", m->ratio_max);
    put_num(o, "logp_gap_mean", m->gap_mean);
    put_num(o, "logp_gap_max", m->gap_max);
    put_num(o, "logp_gap_seq", m->gap_seq);
    put_num(o, "logp_gap_kl", m->gap_kl);
    put_num(o, "is_frac", m->is_frac);
    put_num(o, "value_loss", m->value_loss);
    put_num(o, "value_clip_frac", m->value_clip_frac);
    put_num(o, "grad_norm", m->grad_norm);
    put_num(o, "lr", m->lr);
    put_num(o, "resp_len_mean", m->resp_len_mean);
    put_num(o, "resp_len_max", m->resp_len_max);
    put_num(o, "truncated_frac", m->truncated_frac);
    put_long(o, "tokens_gen", m->tokens_gen);
    put_long(o, "tokens_train", m->tokens_train);
    put_num(o, "t_rollout", m->t_rollout);
    put_num(o, "t_score", m->t_score);
    put_num(o, "t_train", m->t_train);
    put_num(o, "t_total", m->t_total);
    put_num(o, "tok_per_s", m->tok_per_s);
    for (const cJSON *e = m->extra ? m->extra->child : NULL; e; e = e->next)
        if (e->string && !cJSON_GetObjectItemCaseSensitive(o, e->string))
            cJSON_AddItemToObject(o, e->string, cJSON_Duplicate(e, 1));
    return o;
}

int rl_metrics_put(rl_jsonl_writer_t *w, const rl_step_metrics_t *m) {
    cJSON *o = rl_step_metrics_json(m);
    if (!o) return rlc_errc(RLC_ENOMEM, "out of memory formatting metrics");
    int rc = rl_jsonl_writer_put(w, o);
    cJSON_Delete(o);
    return rc;
}

/* %.<prec>g without exponent padding: 1e-06 -> 1e-6, 2.5e+03 -> 2.5e3. */
static void fmt_g(char *out, size_t cap, double v, int prec) {
    char t[40];
    snprintf(t, sizeof t, "%.*g", prec, v);
    char *e = strchr(t, 'e');
    if (!e) {
        snprintf(out, cap, "%s", t);
        return;
    }
    char mant[40];
    size_t ml = (size_t)(e - t);
    memcpy(mant, t, ml);
    mant[ml] = 0;
    const char *x = e + 1;
    int neg = *x == '-';
    if (*x == '-' || *x == '+') x++;
    while (*x == '0' && x[1]) x++;
    snprintf(out, cap, "%se%s%s", mant, neg ? "-" : "", x);
}

typedef struct {
    char *buf;
    size_t cap, n;
} sb_t;

static void sb_add(sb_t *s, const char *fmt, ...) RLC_PRINTF(2, 3);
static void sb_add(sb_t *s, const char *fmt, ...) {
    if (s->n >= s->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->buf + s->n, s->cap - s->n, fmt, ap);
    va_end(ap);
    if (k > 0) s->n = s->n + (size_t)k < s->cap ? s->n + (size_t)k : s->cap - 1;
}

int rl_step_line(const rl_step_metrics_t *m, char *buf, size_t cap) {
    if (!cap) return 0;
    sb_t s = {buf, cap, 0};
    buf[0] = 0;
    char a[64];
    sb_add(&s, "step %ld", m->step);
    if (!isnan(m->reward_mean)) {
        sb_add(&s, " | reward %.2f", m->reward_mean);
        if (!isnan(m->reward_std)) sb_add(&s, "\xC2\xB1%.2f", m->reward_std);
    }
    if (!isnan(m->acc)) sb_add(&s, " | acc %.2f", m->acc);
    if (!isnan(m->kept_frac) && m->kept_frac < 1) sb_add(&s, " | kept %.2f", m->kept_frac);
    if (!isnan(m->kl)) {
        fmt_g(a, sizeof a, m->kl, 2);
        sb_add(&s, " | kl %s", a);
    }
    if (!isnan(m->entropy)) sb_add(&s, " | ent %.2f", m->entropy);
    if (!isnan(m->clip_frac)) sb_add(&s, " | clip %.2f", m->clip_frac);
    if (!isnan(m->gap_mean)) {
        fmt_g(a, sizeof a, m->gap_mean, 2);
        sb_add(&s, " | gap %s", a);
    }
    if (!isnan(m->value_loss)) {
        fmt_g(a, sizeof a, m->value_loss, 3);
        sb_add(&s, " | vloss %s", a);
    }
    if (!isnan(m->grad_norm)) sb_add(&s, " | gnorm %.2f", m->grad_norm);
    if (!isnan(m->lr)) {
        fmt_g(a, sizeof a, m->lr, 3);
        sb_add(&s, " | lr %s", a);
    }
    if (!isnan(m->t_total)) sb_add(&s, " | %.1f s", m->t_total);
    if (!isnan(m->tok_per_s)) sb_add(&s, " | %.0f tok/s", m->tok_per_s);
    return (int)s.n;
}

/* ---------------------------------------------------------------- samples */

int rl_samples_put(rl_jsonl_writer_t *w, const rl_sample_t *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return rlc_errc(RLC_ENOMEM, "out of memory formatting a sample");
    cJSON_AddNumberToObject(o, "step", (double)s->step);
    cJSON_AddNumberToObject(o, "index", (double)s->index);
    cJSON_AddStringToObject(o, "prompt", s->prompt ? s->prompt : "");
    cJSON_AddStringToObject(o, "completion", s->completion ? s->completion : "");
    if (s->answer) cJSON_AddStringToObject(o, "answer", s->answer);
    cJSON_AddNumberToObject(o, "reward", s->reward);
    if (s->correct >= 0) cJSON_AddBoolToObject(o, "correct", s->correct);
    cJSON_AddNumberToObject(o, "n_tokens", (double)s->n_tokens);
    cJSON_AddBoolToObject(o, "truncated", s->truncated != 0);
    for (const cJSON *e = s->extra ? s->extra->child : NULL; e; e = e->next)
        if (e->string && !cJSON_GetObjectItemCaseSensitive(o, e->string))
            cJSON_AddItemToObject(o, e->string, cJSON_Duplicate(e, 1));
    int rc = rl_jsonl_writer_put(w, o);
    cJSON_Delete(o);
    return rc;
}
