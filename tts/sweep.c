/* Test-time-scaling sweep arithmetic and reports (see sweep.h for the rules). */
#include "tts/sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/sbuf.h"
#include "core/svgplot.h"
#include "rewards/evalsum.h"

int tts_cluster(const tts_sample_t *s, int n, const math_opts_t *o, int *cluster) {
    if (n < 0 || (n && (!s || !cluster))) return rlc_errc(RLC_EINVAL, "tts_cluster: bad arguments");
    for (int i = 0; i < n; i++) {
        cluster[i] = -1;
        if (!s[i].answer || !s[i].answer[0]) continue;
        for (int j = 0; j < i && cluster[i] < 0; j++)
            if (cluster[j] == j && math_equal(s[j].answer, s[i].answer, o)) cluster[i] = j;
        if (cluster[i] < 0) cluster[i] = i; /* opens a cluster */
    }
    return 0;
}

int tts_pick_majority(const int *cluster, int n) {
    int best = -1, best_count = 0;
    for (int r = 0; r < n; r++) {
        if (cluster[r] != r) continue; /* r is not a cluster's first member */
        int c = 0;
        for (int i = r; i < n; i++) c += cluster[i] == r;
        if (c > best_count) best = r, best_count = c; /* strict: ties keep the earlier cluster */
    }
    return best;
}

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

static double col_score(const tts_sample_t *s, int col) { return col == TTS_COL_PRM ? s->prm : s->score; }
static double col_weight(const tts_sample_t *s, int col) { return col == TTS_COL_PRM ? s->prm : sigmoid(s->score); }

int tts_pick_best_col(const tts_sample_t *s, int n, int col) {
    int best = n > 0 ? 0 : -1;
    for (int i = 1; i < n; i++)
        if (col_score(&s[i], col) > col_score(&s[best], col)) best = i;
    return best;
}

int tts_pick_weighted_col(const tts_sample_t *s, const int *cluster, int n, int col) {
    int best = -1;
    double best_w = -1;
    for (int r = 0; r < n; r++) {
        if (cluster[r] != r) continue;
        double w = 0;
        for (int i = r; i < n; i++)
            if (cluster[i] == r) w += col_weight(&s[i], col);
        if (w > best_w) best = r, best_w = w;
    }
    return best;
}

int tts_pick_best(const tts_sample_t *s, int n) { return tts_pick_best_col(s, n, TTS_COL_ORM); }

int tts_pick_weighted(const tts_sample_t *s, const int *cluster, int n) {
    return tts_pick_weighted_col(s, cluster, n, TTS_COL_ORM);
}

int tts_sweep(const tts_sweep_cfg_t *c, const tts_sample_t *samples, const int *ns, int n_ns, const math_opts_t *o,
              tts_point_t *out) {
    if (c->n_problems < 1 || c->n_max < 1 || n_ns < 1)
        return rlc_errc(RLC_EINVAL, "tts sweep: needs at least one problem, one sample and one N");
    for (int k = 0; k < n_ns; k++)
        if (ns[k] < 1 || ns[k] > c->n_max)
            return rlc_errc(RLC_EINVAL, "tts sweep: N = %d outside [1, %d]", ns[k], c->n_max);
    int *cluster = malloc(sizeof(int) * (size_t)c->n_max);
    if (!cluster) return RLC_ENOMEM;
    for (int k = 0; k < n_ns; k++) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].n = ns[k];
    }
    for (int p = 0; p < c->n_problems; p++) {
        const tts_sample_t *s = samples + (size_t)p * c->n_max;
        int rc = tts_cluster(s, c->n_max, o, cluster);
        if (rc) {
            free(cluster);
            return rc;
        }
        int correct = 0;
        for (int i = 0; i < c->n_max; i++) correct += s[i].correct != 0;
        for (int k = 0; k < n_ns; k++) {
            int n = ns[k], w;
            out[k].pass += rlc_pass_at_k(c->n_max, correct, n);
            if ((w = tts_pick_majority(cluster, n)) >= 0 && s[w].correct) out[k].maj += 1;
            if (c->scored) {
                if ((w = tts_pick_best(s, n)) >= 0 && s[w].correct) out[k].best_of_n += 1;
                if ((w = tts_pick_weighted(s, cluster, n)) >= 0 && s[w].correct) out[k].weighted += 1;
            }
            if (c->prm_scored) {
                if ((w = tts_pick_best_col(s, n, TTS_COL_PRM)) >= 0 && s[w].correct) out[k].prm_best += 1;
                if ((w = tts_pick_weighted_col(s, cluster, n, TTS_COL_PRM)) >= 0 && s[w].correct)
                    out[k].prm_weighted += 1;
            }
            for (int i = 0; i < n; i++) {
                out[k].tokens += s[i].tokens;
                out[k].orm_tokens += s[i].orm_tokens;
                out[k].prm_tokens += s[i].prm_tokens;
            }
        }
    }
    free(cluster);
    for (int k = 0; k < n_ns; k++) {
        double P = c->n_problems;
        out[k].pass /= P;
        out[k].maj /= P;
        out[k].best_of_n = c->scored ? out[k].best_of_n / P : NAN;
        out[k].weighted = c->scored ? out[k].weighted / P : NAN;
        out[k].prm_best = c->prm_scored ? out[k].prm_best / P : NAN;
        out[k].prm_weighted = c->prm_scored ? out[k].prm_weighted / P : NAN;
        out[k].flops = 2.0 * c->policy_params * (double)out[k].tokens +
                       (c->scored ? 2.0 * c->orm_params * (double)out[k].orm_tokens : 0.0) +
                       (c->prm_scored ? 2.0 * c->prm_params * (double)out[k].prm_tokens : 0.0);
    }
    return 0;
}

cJSON *tts_sweep_json(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts) {
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!j || !arr) {
        cJSON_Delete(j);
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddNumberToObject(j, "problems", c->n_problems);
    cJSON_AddNumberToObject(j, "n_max", c->n_max);
    cJSON_AddBoolToObject(j, "orm", c->scored);
    cJSON_AddNumberToObject(j, "policy_params", c->policy_params);
    if (c->scored) cJSON_AddNumberToObject(j, "orm_params", c->orm_params);
    cJSON_AddBoolToObject(j, "prm", c->prm_scored);
    if (c->prm_scored) {
        cJSON_AddStringToObject(j, "prm_format", c->prm_format ? c->prm_format : "");
        cJSON_AddStringToObject(j, "prm_agg", c->prm_agg ? c->prm_agg : "");
        cJSON_AddNumberToObject(j, "prm_params", c->prm_params);
    }
    for (int k = 0; k < n_pts; k++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "n", pts[k].n);
        cJSON_AddNumberToObject(p, "pass", pts[k].pass);
        cJSON_AddNumberToObject(p, "majority", pts[k].maj);
        if (c->scored) {
            cJSON_AddNumberToObject(p, "best_of_n", pts[k].best_of_n);
            cJSON_AddNumberToObject(p, "weighted_majority", pts[k].weighted);
        }
        if (c->prm_scored) {
            cJSON_AddNumberToObject(p, "prm_best_of_n", pts[k].prm_best);
            cJSON_AddNumberToObject(p, "prm_weighted_majority", pts[k].prm_weighted);
        }
        cJSON_AddNumberToObject(p, "tokens", (double)pts[k].tokens);
        cJSON_AddNumberToObject(p, "orm_tokens", (double)pts[k].orm_tokens);
        if (c->prm_scored) cJSON_AddNumberToObject(p, "prm_tokens", (double)pts[k].prm_tokens);
        cJSON_AddNumberToObject(p, "flops", pts[k].flops);
        cJSON_AddNumberToObject(p, "policy_flops", 2.0 * c->policy_params * (double)pts[k].tokens);
        if (c->scored) cJSON_AddNumberToObject(p, "orm_flops", 2.0 * c->orm_params * (double)pts[k].orm_tokens);
        if (c->prm_scored) cJSON_AddNumberToObject(p, "prm_flops", 2.0 * c->prm_params * (double)pts[k].prm_tokens);
        cJSON_AddItemToArray(arr, p);
    }
    cJSON_AddItemToObject(j, "points", arr);
    if (c->n_search && !(arr = cJSON_AddArrayToObject(j, "search"))) {
        cJSON_Delete(j);
        return NULL;
    }
    for (int k = 0; k < c->n_search; k++) {
        const tts_search_point_t *q = &c->search[k];
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "method", q->method == 1 ? "dvts" : "beam");
        cJSON_AddNumberToObject(p, "n", q->n);
        cJSON_AddNumberToObject(p, "best", q->best);
        cJSON_AddNumberToObject(p, "weighted_majority", q->weighted);
        cJSON_AddNumberToObject(p, "majority", q->majority);
        cJSON_AddNumberToObject(p, "tokens", (double)q->tokens);
        cJSON_AddNumberToObject(p, "prm_tokens", (double)q->prm_tokens);
        cJSON_AddNumberToObject(p, "flops", q->flops);
        cJSON_AddNumberToObject(p, "policy_flops", 2.0 * c->policy_params * (double)q->tokens);
        cJSON_AddNumberToObject(p, "prm_flops", 2.0 * c->prm_params * (double)q->prm_tokens);
        cJSON_AddNumberToObject(p, "iterations", q->iterations);
        cJSON_AddItemToArray(arr, p);
    }
    return j;
}

static void search_markdown(rlc_sbuf_t *b, const tts_sweep_cfg_t *c) {
    if (!c->n_search) return;
    rlc_sbuf_printf(b, "%s| method | N | best score | PRM-weighted maj | majority | tokens | PRM tokens | FLOPs | iterations |\n",
              c->n_max ? "\n" : "");
    rlc_sbuf_printf(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < c->n_search; k++) {
        const tts_search_point_t *q = &c->search[k];
        rlc_sbuf_printf(b, "| %s | %d | %.4f | %.4f | %.4f | %ld | %ld | %.3e | %.1f |\n", q->method == 1 ? "dvts" : "beam",
                  q->n, q->best, q->weighted, q->majority, q->tokens, q->prm_tokens, q->flops, q->iterations);
    }
}

char *tts_sweep_markdown(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts) {
    rlc_sbuf_t b = {0};
    if (!c->n_max) {
        search_markdown(&b, c);
        return rlc_sbuf_done(&b);
    }
    rlc_sbuf_printf(&b, "| N | pass@N | majority@N |%s%s tokens | FLOPs |\n", c->scored ? " best-of-N | weighted maj@N |" : "",
              c->prm_scored ? " PRM best-of-N | PRM weighted maj@N |" : "");
    rlc_sbuf_printf(&b, "|---:|---:|---:|%s%s---:|---:|\n", c->scored ? "---:|---:|" : "", c->prm_scored ? "---:|---:|" : "");
    for (int k = 0; k < n_pts; k++) {
        rlc_sbuf_printf(&b, "| %d | %.4f | %.4f |", pts[k].n, pts[k].pass, pts[k].maj);
        if (c->scored) rlc_sbuf_printf(&b, " %.4f | %.4f |", pts[k].best_of_n, pts[k].weighted);
        if (c->prm_scored) rlc_sbuf_printf(&b, " %.4f | %.4f |", pts[k].prm_best, pts[k].prm_weighted);
        rlc_sbuf_printf(&b, " %ld | %.3e |\n", pts[k].tokens, pts[k].flops);
    }
    search_markdown(&b, c);
    return rlc_sbuf_done(&b);
}

static double method_value(const tts_point_t *p, int m) {
    switch (m) {
    case 0: return p->pass;
    case 1: return p->maj;
    case 2: return p->best_of_n;
    case 3: return p->weighted;
    case 4: return p->prm_best;
    default: return p->prm_weighted;
    }
}

/* One curve of the plot: points (N, accuracy). */
typedef struct {
    const char *name;
    int n;
    double xs[64], ys[64];
} series_t;

/* The curves: the sweep's methods, then the searches' best-score and weighted picks. */
static int plot_series(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts, series_t *out) {
    static const char *names[] = {"pass@N", "majority@N", "best-of-N (ORM)", "weighted maj@N (ORM)",
                                  "best-of-N (PRM)", "weighted maj@N (PRM)", "beam: best", "beam: weighted",
                                  "DVTS: best", "DVTS: weighted"};
    int ns = 0;
    for (int m = 0; m < 6 && c->n_max; m++) {
        if ((m == 2 || m == 3) && !c->scored) continue;
        if ((m == 4 || m == 5) && !c->prm_scored) continue;
        series_t *q = &out[ns++];
        q->name = names[m], q->n = 0;
        for (int k = 0; k < n_pts && q->n < 64; k++) q->xs[q->n] = pts[k].n, q->ys[q->n++] = method_value(&pts[k], m);
    }
    for (int m = 0; m < 4; m++) {
        series_t *q = &out[ns];
        q->name = names[6 + m], q->n = 0;
        for (int k = 0; k < c->n_search && q->n < 64; k++)
            if (c->search[k].method == m / 2)
                q->xs[q->n] = c->search[k].n, q->ys[q->n++] = m % 2 ? c->search[k].weighted : c->search[k].best;
        ns += q->n > 0;
    }
    return ns;
}

char *tts_sweep_svg(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts) {
    series_t se[10];
    rlc_plot_series_t ps[10];
    int n = plot_series(c, pts, n_pts, se);
    for (int i = 0; i < n; i++) ps[i] = (rlc_plot_series_t){se[i].name, NULL, se[i].n, se[i].xs, se[i].ys, 0};
    char title[96];
    snprintf(title, sizeof title, "Accuracy vs N (%d problems)", c->n_problems);
    rlc_plot_t p = {title, "N (samples or beams per problem, log scale)", "accuracy", 1, 1, 0, 1};
    return rlc_plot_svg(&p, ps, n);
}

int tts_parse_ns(const char *s, int **ns, int *n) {
    *ns = NULL;
    *n = 0;
    const char *usage = "--n must be a comma-separated list of increasing integers in [1, 4096], e.g. 1,2,4,8";
    if (!s || !*s) return rlc_errc(RLC_EINVAL, "%s", usage);
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int *v = malloc(sizeof(int) * (size_t)cap), k = 0;
    if (!v) return RLC_ENOMEM;
    const char *p = s;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9') break;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 4096 || (k && x <= v[k - 1])) break;
        v[k++] = (int)x;
        if (*end == 0) {
            *ns = v;
            *n = k;
            return 0;
        }
        if (*end != ',') break;
        p = end + 1;
    }
    free(v);
    return rlc_errc(RLC_EINVAL, "%s (got '%s')", usage, s);
}
