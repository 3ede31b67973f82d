/* Test-time-scaling sweep arithmetic and reports (see sweep.h for the rules). */
#include "tts/sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
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
        cJSON_AddNumberToObject(p, "iterations", q->iterations);
        cJSON_AddItemToArray(arr, p);
    }
    return j;
}

/* A growing malloc'd string; on allocation failure it is freed and stays NULL. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s, b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *sb_done(sbuf_t *b) {
    if (b->failed) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

static void search_markdown(sbuf_t *b, const tts_sweep_cfg_t *c) {
    if (!c->n_search) return;
    sb_printf(b, "%s| method | N | best score | PRM-weighted maj | majority | tokens | PRM tokens | FLOPs | iterations |\n",
              c->n_max ? "\n" : "");
    sb_printf(b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < c->n_search; k++) {
        const tts_search_point_t *q = &c->search[k];
        sb_printf(b, "| %s | %d | %.4f | %.4f | %.4f | %ld | %ld | %.3e | %.1f |\n", q->method == 1 ? "dvts" : "beam",
                  q->n, q->best, q->weighted, q->majority, q->tokens, q->prm_tokens, q->flops, q->iterations);
    }
}

char *tts_sweep_markdown(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts) {
    sbuf_t b = {0};
    if (!c->n_max) {
        search_markdown(&b, c);
        return sb_done(&b);
    }
    sb_printf(&b, "| N | pass@N | majority@N |%s%s tokens | FLOPs |\n", c->scored ? " best-of-N | weighted maj@N |" : "",
              c->prm_scored ? " PRM best-of-N | PRM weighted maj@N |" : "");
    sb_printf(&b, "|---:|---:|---:|%s%s---:|---:|\n", c->scored ? "---:|---:|" : "", c->prm_scored ? "---:|---:|" : "");
    for (int k = 0; k < n_pts; k++) {
        sb_printf(&b, "| %d | %.4f | %.4f |", pts[k].n, pts[k].pass, pts[k].maj);
        if (c->scored) sb_printf(&b, " %.4f | %.4f |", pts[k].best_of_n, pts[k].weighted);
        if (c->prm_scored) sb_printf(&b, " %.4f | %.4f |", pts[k].prm_best, pts[k].prm_weighted);
        sb_printf(&b, " %ld | %.3e |\n", pts[k].tokens, pts[k].flops);
    }
    search_markdown(&b, c);
    return sb_done(&b);
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
    const char *name, *color;
    int n;
    int xs[64];
    double ys[64];
} series_t;

/* The curves: the sweep's methods, then the searches' best-score and weighted picks. */
static int plot_series(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts, series_t *out) {
    static const char *names[] = {"pass@N", "majority@N", "best-of-N (ORM)", "weighted maj@N (ORM)",
                                  "best-of-N (PRM)", "weighted maj@N (PRM)", "beam: best", "beam: weighted",
                                  "DVTS: best", "DVTS: weighted"};
    static const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    int ns = 0;
    for (int m = 0; m < 6 && c->n_max; m++) {
        if ((m == 2 || m == 3) && !c->scored) continue;
        if ((m == 4 || m == 5) && !c->prm_scored) continue;
        series_t *q = &out[ns++];
        q->name = names[m], q->color = colors[m], q->n = 0;
        for (int k = 0; k < n_pts && q->n < 64; k++) q->xs[q->n] = pts[k].n, q->ys[q->n++] = method_value(&pts[k], m);
    }
    for (int m = 0; m < 4; m++) {
        series_t *q = &out[ns];
        q->name = names[6 + m], q->color = colors[6 + m], q->n = 0;
        for (int k = 0; k < c->n_search && q->n < 64; k++)
            if (c->search[k].method == m / 2)
                q->xs[q->n] = c->search[k].n, q->ys[q->n++] = m % 2 ? c->search[k].weighted : c->search[k].best;
        ns += q->n > 0;
    }
    return ns;
}

char *tts_sweep_svg(const tts_sweep_cfg_t *c, const tts_point_t *pts, int n_pts) {
    const int W = 640, H = 400, L = 60, R = 170, T = 30, B = 50;
    const double pw = W - L - R, ph = H - T - B;
    series_t se[10];
    int n_se = plot_series(c, pts, n_pts, se), nmin = 1 << 30, nmax = 0;
    for (int i = 0; i < n_se; i++)
        for (int k = 0; k < se[i].n; k++) nmin = se[i].xs[k] < nmin ? se[i].xs[k] : nmin, nmax = se[i].xs[k] > nmax ? se[i].xs[k] : nmax;
    double lo = nmax ? log2(nmin) : 0, hi = nmax ? log2(nmax) : 1;
    if (hi <= lo) lo -= 1, hi += 1; /* a single N sits in the middle */
    sbuf_t b = {0};
    sb_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
              "<text x=\"%g\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Accuracy vs N (%d problems)</text>\n",
              W, H, W, H, W, H, L + pw / 2, c->n_problems);
    /* axes and grid: y in [0, 1], x log2(N) */
    for (int t = 0; t <= 5; t++) {
        double y = T + ph - ph * t / 5.0;
        sb_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, L + pw, y);
        sb_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 6, y + 4, t / 5.0);
    }
    for (int v = nmin; v <= nmax; v++) { /* a tick at every N some curve has */
        int has = 0;
        for (int i = 0; i < n_se && !has; i++)
            for (int k = 0; k < se[i].n && !has; k++) has = se[i].xs[k] == v;
        if (!has) continue;
        double x = L + pw * (log2(v) - lo) / (hi - lo);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x, T + ph + 18, v);
    }
    sb_printf(&b,
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n"
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">N (samples or beams per problem, log scale)</text>\n"
              "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">accuracy</text>\n",
              L, T + ph, L + pw, T + ph, L, T, L, T + ph, L + pw / 2, H - 12, T + ph / 2, T + ph / 2);
    for (int i = 0; i < n_se; i++) {
        const series_t *q = &se[i];
        sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", q->color);
        for (int k = 0; k < q->n; k++) {
            double x = L + pw * (log2(q->xs[k]) - lo) / (hi - lo), y = T + ph - ph * (isfinite(q->ys[k]) ? q->ys[k] : 0);
            sb_printf(&b, "%s%.1f,%.1f", k ? " " : "", x, y);
        }
        sb_printf(&b, "\"/>\n");
        for (int k = 0; k < q->n; k++) {
            double x = L + pw * (log2(q->xs[k]) - lo) / (hi - lo), y = T + ph - ph * (isfinite(q->ys[k]) ? q->ys[k] : 0);
            sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y, q->color);
        }
        double ly = T + 10 + 20.0 * i;
        sb_printf(&b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                  L + pw + 12, ly, L + pw + 32, ly, q->color, L + pw + 38, ly + 4, q->name);
    }
    sb_printf(&b, "</svg>\n");
    return sb_done(&b);
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
