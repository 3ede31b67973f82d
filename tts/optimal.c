/* Compute-optimal choice of test-time method per difficulty bin (see optimal.h). */
#include "tts/optimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/sbuf.h"
#include "core/svgplot.h"

static const double *g_diff; /* qsort context: difficulty of each problem */

static int by_easiest(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (g_diff[i] != g_diff[j]) return g_diff[i] > g_diff[j] ? -1 : 1;
    return (i > j) - (i < j);
}

void tts_co_out_free(tts_co_out_t *o) {
    free(o->bin_of), free(o->bin_size), free(o->bin_lo), free(o->bin_hi), free(o->acc), free(o->winner);
    free(o->all_acc), free(o->all_tok), free(o->opt_acc), free(o->opt_tok);
    memset(o, 0, sizeof *o);
}

static int bin_problems(const tts_co_in_t *in, tts_co_out_t *o) {
    int P = in->n_problems, B = in->n_bins;
    int *order = malloc(sizeof(int) * (size_t)P);
    if (!order) return RLC_ENOMEM;
    for (int p = 0; p < P; p++) order[p] = p;
    g_diff = in->difficulty;
    qsort(order, (size_t)P, sizeof *order, by_easiest);
    for (int b = 0; b < B; b++) o->bin_lo[b] = INFINITY, o->bin_hi[b] = -INFINITY;
    for (int r = 0; r < P; r++) {
        int b = (int)((long)r * B / P), p = order[r];
        o->bin_of[p] = b;
        o->bin_size[b]++;
        o->bin_lo[b] = fmin(o->bin_lo[b], in->difficulty[p]);
        o->bin_hi[b] = fmax(o->bin_hi[b], in->difficulty[p]);
    }
    free(order);
    return 0;
}

/* Accuracy and tokens of every method at every N, per bin and overall. */
static void tally(const tts_co_in_t *in, tts_co_out_t *o, double *tok_bin) {
    int P = in->n_problems, B = in->n_bins, K = in->n_ns;
    for (int mk = 0; mk < in->n_methods * K; mk++) {
        const signed char *c = in->correct + (size_t)mk * P;
        const long *t = in->tokens + (size_t)mk * P;
        int ran = 0, right = 0;
        double tok = 0;
        double *acc = o->acc + (size_t)mk * B, *tb = tok_bin + (size_t)mk * B;
        for (int b = 0; b < B; b++) acc[b] = 0, tb[b] = 0;
        for (int p = 0; p < P; p++) {
            if (c[p] < 0) continue;
            ran++, right += c[p], tok += (double)t[p];
            acc[o->bin_of[p]] += c[p];
            tb[o->bin_of[p]] += (double)t[p];
        }
        for (int b = 0; b < B; b++) acc[b] = ran == P && o->bin_size[b] ? acc[b] / o->bin_size[b] : NAN;
        o->all_acc[mk] = ran == P ? (double)right / P : NAN;
        o->all_tok[mk] = ran == P ? tok : NAN;
    }
}

int tts_compute_optimal(const tts_co_in_t *in, tts_co_out_t *o) {
    memset(o, 0, sizeof *o);
    int P = in->n_problems, B = in->n_bins, K = in->n_ns, M = in->n_methods;
    if (P < 1 || K < 1 || M < 1) return rlc_errc(RLC_EINVAL, "compute-optimal: nothing to analyse");
    if (B < 1 || B > P) return rlc_errc(RLC_EINVAL, "--bins must lie in [1, %d problems] (got %d)", P, B);
    o->bin_of = calloc((size_t)P, sizeof(int));
    o->bin_size = calloc((size_t)B, sizeof(int));
    o->bin_lo = calloc((size_t)B, sizeof(double));
    o->bin_hi = calloc((size_t)B, sizeof(double));
    o->acc = calloc((size_t)M * K * B, sizeof(double));
    o->winner = calloc((size_t)K * B, sizeof(int));
    o->all_acc = calloc((size_t)M * K, sizeof(double));
    o->all_tok = calloc((size_t)M * K, sizeof(double));
    o->opt_acc = calloc((size_t)K, sizeof(double));
    o->opt_tok = calloc((size_t)K, sizeof(double));
    double *tok_bin = calloc((size_t)M * K * B, sizeof(double));
    int rc = 0;
    if (!o->bin_of || !o->bin_size || !o->bin_lo || !o->bin_hi || !o->acc || !o->winner || !o->all_acc || !o->all_tok ||
        !o->opt_acc || !o->opt_tok || !tok_bin)
        rc = RLC_ENOMEM;
    if (!rc) rc = bin_problems(in, o);
    if (!rc) tally(in, o, tok_bin);
    for (int k = 0; k < K && !rc; k++) {
        double right = 0, tok = 0;
        int any = 0;
        for (int b = 0; b < B; b++) {
            int w = -1;
            for (int m = 0; m < M; m++) {
                double a = o->acc[((size_t)m * K + k) * B + b];
                if (isfinite(a) && (w < 0 || a > o->acc[((size_t)w * K + k) * B + b])) w = m;
            }
            o->winner[(size_t)k * B + b] = w;
            if (w < 0) continue;
            any = 1;
            right += o->acc[((size_t)w * K + k) * B + b] * o->bin_size[b];
            tok += tok_bin[((size_t)w * K + k) * B + b];
        }
        o->opt_acc[k] = any ? right / P : NAN;
        o->opt_tok[k] = any ? tok : NAN;
    }
    free(tok_bin);
    if (rc) tts_co_out_free(o);
    return rc;
}

cJSON *tts_co_json(const tts_co_in_t *in, const tts_co_out_t *o) {
    int B = in->n_bins, K = in->n_ns, M = in->n_methods;
    cJSON *j = cJSON_CreateObject(), *bins = cJSON_AddArrayToObject(j, "bins"), *bud = cJSON_AddArrayToObject(j, "budgets");
    if (!j || !bins || !bud) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON_AddStringToObject(j, "difficulty", in->difficulty_name ? in->difficulty_name : "");
    cJSON_AddBoolToObject(j, "in_sample", 1);
    for (int b = 0; b < B; b++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "size", o->bin_size[b]);
        cJSON_AddNumberToObject(x, "difficulty_min", o->bin_lo[b]);
        cJSON_AddNumberToObject(x, "difficulty_max", o->bin_hi[b]);
        cJSON_AddItemToArray(bins, x);
    }
    for (int k = 0; k < K; k++) {
        cJSON *x = cJSON_CreateObject(), *opt = cJSON_AddObjectToObject(x, "compute_optimal");
        cJSON_AddNumberToObject(x, "n", in->ns[k]);
        cJSON_AddNumberToObject(opt, "accuracy", o->opt_acc[k]);
        cJSON_AddNumberToObject(opt, "tokens", o->opt_tok[k]);
        cJSON *ch = cJSON_AddArrayToObject(opt, "choice"), *ms = cJSON_AddObjectToObject(x, "methods");
        for (int b = 0; b < B; b++) {
            int w = o->winner[(size_t)k * B + b];
            cJSON_AddItemToArray(ch, w < 0 ? cJSON_CreateNull() : cJSON_CreateString(in->methods[w]));
        }
        for (int m = 0; m < M; m++) {
            size_t mk = (size_t)m * K + k;
            if (!isfinite(o->all_acc[mk])) continue;
            cJSON *y = cJSON_AddObjectToObject(ms, in->methods[m]), *pb = cJSON_AddArrayToObject(y, "per_bin");
            cJSON_AddNumberToObject(y, "accuracy", o->all_acc[mk]);
            cJSON_AddNumberToObject(y, "tokens", o->all_tok[mk]);
            for (int b = 0; b < B; b++) cJSON_AddItemToArray(pb, cJSON_CreateNumber(o->acc[mk * B + b]));
        }
        cJSON_AddItemToArray(bud, x);
    }
    return j;
}

char *tts_co_markdown(const tts_co_in_t *in, const tts_co_out_t *o) {
    int B = in->n_bins, K = in->n_ns, M = in->n_methods;
    rlc_sbuf_t b = {0};
    rlc_sbuf_printf(&b, "\nCompute-optimal (%d difficulty bins by %s, bin 1 easiest; chosen in-sample)\n\n| N |",
                    B, in->difficulty_name ? in->difficulty_name : "difficulty");
    for (int m = 0; m < M; m++) rlc_sbuf_printf(&b, " %s |", in->methods[m]);
    rlc_sbuf_printf(&b, " compute-optimal | tokens (optimal) |\n|---:|");
    for (int m = 0; m <= M; m++) rlc_sbuf_printf(&b, "---:|");
    rlc_sbuf_printf(&b, "---:|\n");
    for (int k = 0; k < K; k++) {
        rlc_sbuf_printf(&b, "| %d |", in->ns[k]);
        for (int m = 0; m < M; m++) {
            double a = o->all_acc[(size_t)m * K + k];
            if (isfinite(a)) rlc_sbuf_printf(&b, " %.4f |", a);
            else rlc_sbuf_printf(&b, " – |");
        }
        rlc_sbuf_printf(&b, " %.4f | %.0f |\n", o->opt_acc[k], o->opt_tok[k]);
    }
    rlc_sbuf_printf(&b, "\n| N |");
    for (int i = 0; i < B; i++)
        rlc_sbuf_printf(&b, " bin %d (%d, %.2f–%.2f) |", i + 1, o->bin_size[i], o->bin_lo[i], o->bin_hi[i]);
    rlc_sbuf_printf(&b, "\n|---:|");
    for (int i = 0; i < B; i++) rlc_sbuf_printf(&b, "---|");
    rlc_sbuf_printf(&b, "\n");
    for (int k = 0; k < K; k++) {
        rlc_sbuf_printf(&b, "| %d |", in->ns[k]);
        for (int i = 0; i < B; i++) {
            int w = o->winner[(size_t)k * B + i];
            if (w < 0) rlc_sbuf_printf(&b, " – |");
            else rlc_sbuf_printf(&b, " %s %.2f |", in->methods[w], o->acc[((size_t)w * K + k) * B + i]);
        }
        rlc_sbuf_printf(&b, "\n");
    }
    return rlc_sbuf_done(&b);
}

char *tts_co_svg(const tts_co_in_t *in, const tts_co_out_t *o) {
    int K = in->n_ns, M = in->n_methods;
    double *xs = malloc(sizeof(double) * (size_t)(M + 1) * K), *ys = malloc(sizeof(double) * (size_t)(M + 1) * K);
    rlc_plot_series_t *s = calloc((size_t)M + 1, sizeof *s);
    char *svg = NULL;
    if (xs && ys && s) {
        for (int m = 0; m <= M; m++) {
            for (int k = 0; k < K; k++) {
                size_t mk = (size_t)m * K + k;
                xs[mk] = m < M ? o->all_tok[mk] : o->opt_tok[k];
                ys[mk] = m < M ? o->all_acc[mk] : o->opt_acc[k];
            }
            s[m] = (rlc_plot_series_t){m < M ? in->methods[m] : "compute-optimal", m < M ? NULL : "#000000", K,
                                       xs + (size_t)m * K, ys + (size_t)m * K, m == M};
        }
        rlc_plot_t p = {"Accuracy vs generated tokens (compute-optimal per difficulty bin)",
                        "generated tokens (all problems, log scale)", "accuracy", 1, 0, 0, 1};
        svg = rlc_plot_svg(&p, s, M + 1);
    }
    free(xs), free(ys), free(s);
    return svg;
}
