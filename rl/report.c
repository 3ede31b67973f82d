/* Run reports: metric curves as SVG and report.md (see report.h). */
#include "rl/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/sbuf.h"
#include "core/svgplot.h"

typedef struct {
    const char *path;
    char label[64];
    cJSON *rows;    /* metrics.jsonl lines */
    cJSON *config;  /* config.json (may be NULL) */
    cJSON *samples; /* samples.jsonl lines (may be empty) */
} run_t;

typedef struct {
    const char *file, *title, *ylabel;
    const char *keys[3];
} group_t;

static const group_t GROUPS[] = {
    {"reward", "Training reward and accuracy", "per sample", {"reward_mean", "acc", NULL}},
    {"heldout", "Held-out pass@1", "pass@1", {"eval_pass1", NULL, NULL}},
    {"kl", "KL to the reference", "KL per token", {"kl", NULL, NULL}},
    {"entropy", "Policy entropy", "nats per token", {"entropy", NULL, NULL}},
    {"length", "Response length", "tokens per sample", {"resp_len_mean", NULL, NULL}},
    {"clip", "Clip fraction", "share of tokens", {"clip_frac", NULL, NULL}},
    {"grad_norm", "Gradient norm before clipping", "L2 norm", {"grad_norm", NULL, NULL}},
    {"tools", "Tool calls per sample", "calls", {"tool_calls_mean", "eval_tool_calls", NULL}},
    {"gap", "Engine/trainer log-prob gap", "mean |d| per token", {"logp_gap_mean", NULL, NULL}},
    {"throughput", "Throughput", "tokens per second", {"tok_per_s", NULL, NULL}},
};
enum { N_GROUPS = sizeof GROUPS / sizeof GROUPS[0] };

static double num(const cJSON *row, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The lines of a JSONL file as an array (a missing optional file: empty). */
static int load_jsonl(const char *path, int required, cJSON **out) {
    *out = cJSON_CreateArray();
    if (!*out) return RLC_ENOMEM;
    if (!required && !fs_exists(path)) return 0;
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    cJSON *row;
    while ((rc = rlc_jsonl_next(&r, &row)) > 0) cJSON_AddItemToArray(*out, row);
    rlc_jsonl_close(&r);
    return rc < 0 ? rc : 0;
}

static int load_run(const char *path, run_t *r) {
    memset(r, 0, sizeof *r);
    r->path = path;
    /* the label: the directory's own name ("runs/a/" -> "a") */
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    snprintf(r->label, sizeof r->label, "%.*s", (int)(end - start), path + start);
    char *mp = fs_join(path, "metrics.jsonl"), *cp = fs_join(path, "config.json"), *sp = fs_join(path, "samples.jsonl");
    int rc = mp && cp && sp ? 0 : RLC_ENOMEM;
    if (!rc && !fs_exists(mp)) rc = rlc_errc(RLC_EIO, "%s: no metrics.jsonl (is it a run directory?)", path);
    if (!rc) rc = load_jsonl(mp, 1, &r->rows);
    if (!rc && !cJSON_GetArraySize(r->rows)) rc = rlc_errc(RLC_EINVAL, "%s: metrics.jsonl has no step yet", mp);
    if (!rc) rc = load_jsonl(sp, 0, &r->samples);
    if (!rc && fs_exists(cp) && !(r->config = rlc_json_load_file(cp))) rc = RLC_EFMT;
    free(mp), free(cp), free(sp);
    return rc;
}

static void free_run(run_t *r) {
    cJSON_Delete(r->rows), cJSON_Delete(r->config), cJSON_Delete(r->samples);
}

/* x of each row: the step, cumulative generated tokens, or cumulative wall time. */
static void xs_of(const run_t *r, const char *x, double *xs) {
    double acc = 0;
    int i = 0;
    for (const cJSON *row = r->rows->child; row; row = row->next, i++) {
        if (!strcmp(x, "tokens")) acc += isfinite(num(row, "tokens_gen")) ? num(row, "tokens_gen") : 0, xs[i] = acc;
        else if (!strcmp(x, "time")) acc += isfinite(num(row, "t_total")) ? num(row, "t_total") : 0, xs[i] = acc;
        else xs[i] = num(row, "step");
    }
}

/* One group's SVG, or NULL in *svg when no run has any of its keys. */
static int group_svg(const group_t *g, const run_t *runs, int n_runs, const rl_report_opts_t *o, char **svg) {
    *svg = NULL;
    rlc_plot_series_t se[24];
    double *buf[24];
    char names[24][96];
    int ns = 0, rc = 0;
    for (int r = 0; r < n_runs && !rc; r++) {
        int n = cJSON_GetArraySize(runs[r].rows);
        for (int k = 0; k < 3 && g->keys[k] && ns < 24; k++) {
            double *x = malloc(sizeof(double) * (size_t)n * 2);
            if (!x) {
                rc = RLC_ENOMEM;
                break;
            }
            double *y = x + n;
            xs_of(&runs[r], o->x, x);
            int m = 0, i = 0;
            for (const cJSON *row = runs[r].rows->child; row; row = row->next, i++) {
                double v = num(row, g->keys[k]);
                if (!isfinite(v) || !isfinite(x[i])) continue;
                x[m] = x[i], y[m] = v;
                m++;
            }
            if (!m) {
                free(x);
                continue;
            }
            for (int j = m - 1; j >= 0 && o->smooth > 1; j--) { /* trailing moving average */
                double s = 0;
                int c = 0;
                for (int q = j; q >= 0 && q > j - o->smooth; q--) s += y[q], c++;
                y[j] = s / c;
            }
            if (n_runs == 1) snprintf(names[ns], sizeof names[ns], "%s", g->keys[k]);
            else if (!g->keys[1]) snprintf(names[ns], sizeof names[ns], "%s", runs[r].label);
            else snprintf(names[ns], sizeof names[ns], "%s: %s", runs[r].label, g->keys[k]);
            buf[ns] = x;
            se[ns] = (rlc_plot_series_t){names[ns], NULL, m, x, y, k > 0};
            ns++;
        }
    }
    if (!rc && ns) {
        const char *xl = !strcmp(o->x, "tokens") ? "generated tokens" : !strcmp(o->x, "time") ? "wall time (s)" : "step";
        rlc_plot_t p = {g->title, xl, g->ylabel, 0, 0, 0, 0};
        if (!(*svg = rlc_plot_svg(&p, se, ns))) rc = RLC_ENOMEM;
    }
    for (int i = 0; i < ns; i++) free(buf[i]);
    return rc;
}

/* "| key | value |" rows of the run's configuration summary. */
static void config_rows(rlc_sbuf_t *b, const cJSON *cfg) {
    static const char *keys[] = {"algo",        "model",          "data",        "reward",   "lr",
                                 "group_size",  "prompts_per_step", "temperature", "max_new_tokens", "kl_coef",
                                 "total_steps", "seed"};
    rlc_sbuf_printf(b, "| setting | value |\n| --- | --- |\n");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
        if (cJSON_IsString(v)) rlc_sbuf_printf(b, "| %s | `%s` |\n", keys[i], v->valuestring);
        else if (cJSON_IsNumber(v)) rlc_sbuf_printf(b, "| %s | %g |\n", keys[i], v->valuedouble);
        else if (cJSON_IsBool(v)) rlc_sbuf_printf(b, "| %s | %s |\n", keys[i], cJSON_IsTrue(v) ? "true" : "false");
    }
}

/* Held-out pass@1 (final and best), throughput and phase times. */
static void run_numbers(rlc_sbuf_t *b, const run_t *r) {
    double last = NAN, best = NAN, tok = 0, ph[4] = {0};
    long last_step = 0, best_step = 0;
    int n = 0, nt = 0;
    static const char *phases[4] = {"t_rollout", "t_score", "t_train", "t_total"};
    for (const cJSON *row = r->rows->child; row; row = row->next) {
        double p = num(row, "eval_pass1"), s = num(row, "step");
        if (isfinite(p)) {
            last = p, last_step = (long)s;
            if (!(p <= best)) best = p, best_step = (long)s;
        }
        if (isfinite(num(row, "tok_per_s"))) tok += num(row, "tok_per_s"), nt++;
        for (int k = 0; k < 4; k++) ph[k] += isfinite(num(row, phases[k])) ? num(row, phases[k]) : 0;
        n++;
    }
    rlc_sbuf_printf(b, "\n- steps logged: %d\n", n);
    if (isfinite(last))
        rlc_sbuf_printf(b, "- held-out pass@1: final %.4f (step %ld), best %.4f (step %ld)\n", last, last_step, best,
                        best_step);
    else rlc_sbuf_printf(b, "- held-out pass@1: not evaluated during the run\n");
    if (nt) rlc_sbuf_printf(b, "- throughput: %.1f tokens/s on average\n", tok / nt);
    rlc_sbuf_printf(b, "- time per step (mean): rollout %.2f s, scoring %.2f s, training %.2f s, total %.2f s\n",
                    ph[0] / n, ph[1] / n, ph[2] / n, ph[3] / n);
}

/* One logged sample as markdown (the completion cut at 600 bytes, valid UTF-8). */
static void sample_md(rlc_sbuf_t *b, const cJSON *s, const char *what) {
    const cJSON *pr = cJSON_GetObjectItem(s, "prompt"), *co = cJSON_GetObjectItem(s, "completion");
    const char *p = cJSON_IsString(pr) ? pr->valuestring : "", *c = cJSON_IsString(co) ? co->valuestring : "";
    size_t cl = strlen(c) < 600 ? strlen(c) : 600, pl = strlen(p) < 300 ? strlen(p) : 300;
    char *cc = rlc_utf8_dup_valid(c, cl), *pp = rlc_utf8_dup_valid(p, pl);
    const char *fence = cc && strstr(cc, "```") ? "~~~" : "```";
    rlc_sbuf_printf(b, "\n**Step %g, %s (reward %g)** — prompt: %s%s\n\n%s\n%s%s\n%s\n", num(s, "step"), what,
                    num(s, "reward"), pp ? pp : "", pl < strlen(p) ? "…" : "", fence, cc ? cc : "",
                    cl < strlen(c) ? "\n…" : "", fence);
    free(cc), free(pp);
}

/* The best and worst reward of the first and the last logged step. */
static void samples_md(rlc_sbuf_t *b, const run_t *r) {
    int n = cJSON_GetArraySize(r->samples);
    if (!n) return;
    double steps[2] = {num(r->samples->child, "step"), num(cJSON_GetArrayItem(r->samples, n - 1), "step")};
    rlc_sbuf_printf(b, "\n### Samples\n");
    for (int k = 0; k < (steps[0] == steps[1] ? 1 : 2); k++) {
        const cJSON *best = NULL, *worst = NULL;
        for (const cJSON *s = r->samples->child; s; s = s->next) {
            if (num(s, "step") != steps[k]) continue;
            if (!best || num(s, "reward") > num(best, "reward")) best = s;
            if (!worst || num(s, "reward") < num(worst, "reward")) worst = s;
        }
        if (best) sample_md(b, best, k ? "late, best reward" : "early, best reward");
        if (worst && worst != best) sample_md(b, worst, k ? "late, worst reward" : "early, worst reward");
    }
}

int rl_report(const char *const *runs, int n_runs, const rl_report_opts_t *o, char **out_dir) {
    *out_dir = NULL;
    if (n_runs < 1) return rlc_errc(RLC_EINVAL, "report: no run given");
    if (strcmp(o->x, "step") && strcmp(o->x, "tokens") && strcmp(o->x, "time"))
        return rlc_errc(RLC_EINVAL, "--x must be step, tokens or time (got '%s')", o->x);
    if (o->smooth < 1) return rlc_errc(RLC_EINVAL, "--smooth must be at least 1");
    run_t *rs = calloc((size_t)n_runs, sizeof *rs);
    char *svg[N_GROUPS] = {0}, *dir = o->out ? rlc_strdup(o->out) : fs_join(runs[0], "report");
    int rc = rs && dir ? 0 : RLC_ENOMEM;
    for (int i = 0; i < n_runs && !rc; i++) rc = load_run(runs[i], &rs[i]);
    for (int g = 0; g < N_GROUPS && !rc; g++) rc = group_svg(&GROUPS[g], rs, n_runs, o, &svg[g]);
    rlc_sbuf_t b = {0};
    if (!rc) {
        rlc_sbuf_printf(&b, "# Run report\n\nRuns:");
        for (int i = 0; i < n_runs; i++) rlc_sbuf_printf(&b, " `%s` (%s)%s", rs[i].label, rs[i].path, i + 1 < n_runs ? "," : "\n");
        rlc_sbuf_printf(&b, "\nx axis: %s%s.\n\n", o->x, o->smooth > 1 ? ", moving average over steps" : "");
        for (int g = 0; g < N_GROUPS; g++)
            if (svg[g]) rlc_sbuf_printf(&b, "![%s](%s.svg)\n\n", GROUPS[g].title, GROUPS[g].file);
        for (int i = 0; i < n_runs; i++) {
            rlc_sbuf_printf(&b, "## %s\n\n", rs[i].label);
            if (rs[i].config) config_rows(&b, rs[i].config);
            run_numbers(&b, &rs[i]);
            samples_md(&b, &rs[i]);
            rlc_sbuf_printf(&b, "\n");
        }
    }
    char *md = rlc_sbuf_done(&b);
    if (!rc && !md) rc = RLC_ENOMEM;
    if (!rc) rc = fs_mkdir_p(dir);
    for (int g = 0; g < N_GROUPS && !rc; g++) {
        if (!svg[g]) continue;
        char name[64];
        snprintf(name, sizeof name, "%s.svg", GROUPS[g].file);
        char *p = fs_join(dir, name);
        rc = p ? fs_write_atomic(p, svg[g], strlen(svg[g])) : RLC_ENOMEM;
        free(p);
    }
    char *mp = rc ? NULL : fs_join(dir, "report.md");
    if (!rc) rc = mp ? fs_write_atomic(mp, md, strlen(md)) : RLC_ENOMEM;
    free(mp), free(md);
    for (int g = 0; g < N_GROUPS; g++) free(svg[g]);
    for (int i = 0; rs && i < n_runs; i++) free_run(&rs[i]);
    free(rs);
    if (rc) free(dir);
    else *out_dir = dir;
    return rc;
}
