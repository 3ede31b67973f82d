/* `rlc tts --compute-optimal`: per-problem outcomes of every method at every N, binned by
 * difficulty (tts/optimal.h), reported as tables, JSON and an accuracy-vs-tokens plot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/tts.h"
#include "core/err.h"
#include "tts/optimal.h"

int tts_co_prepare(tts_run_t *r) {
    if (!r->compute_optimal) return 0;
    int m = 0;
    r->co_names[m++] = "majority";
    if (r->orm_dir) r->co_names[m++] = "best-of-N (ORM)", r->co_names[m++] = "weighted (ORM)";
    if (r->prm_dir) r->co_names[m++] = "best-of-N (PRM)", r->co_names[m++] = "weighted (PRM)";
    r->co_search[0] = r->co_search[1] = -1;
    for (int s = 0; s < 2; s++)
        if (r->do_search[s]) r->co_search[s] = m, r->co_names[m++] = s ? "DVTS (weighted)" : "beam (weighted)";
    r->co_m = m;
    size_t n = (size_t)m * r->n_ns * r->P;
    r->co_correct = malloc(n ? n : 1);
    r->co_tokens = calloc(n ? n : 1, sizeof *r->co_tokens);
    if (!r->co_correct || !r->co_tokens) return RLC_ENOMEM;
    memset(r->co_correct, -1, n);
    return 0;
}

void tts_co_record(tts_run_t *r, int method, int n, int p, int correct, long tokens) {
    if (!r->compute_optimal || method < 0) return;
    int k = 0;
    while (k < r->n_ns && r->ns[k] != n) k++;
    if (k == r->n_ns) return;
    size_t q = ((size_t)method * r->n_ns + k) * r->P + p;
    r->co_correct[q] = (signed char)(correct != 0);
    r->co_tokens[q] = tokens;
}

/* The sampling methods at N for problem p (the rules of tts/sweep.h, first N samples). */
static int fill_problem(tts_run_t *r, int p, int *cl) {
    const tts_sample_t *s = r->tab + (size_t)p * r->K;
    int rc = tts_cluster(s, r->K, &r->mo, cl);
    for (int k = 0; k < r->n_ns && !rc; k++) {
        int n = r->ns[k], m = 0;
        long tok = 0;
        for (int i = 0; i < n; i++) tok += s[i].tokens;
        int pick = tts_pick_majority(cl, n);
        tts_co_record(r, m++, n, p, pick >= 0 && s[pick].correct, tok);
        for (int col = 0; col < 2; col++) {
            if (!(col == TTS_COL_ORM ? r->orm_dir != NULL : r->prm_dir != NULL)) continue;
            pick = tts_pick_best_col(s, n, col);
            tts_co_record(r, m++, n, p, pick >= 0 && s[pick].correct, tok);
            pick = tts_pick_weighted_col(s, cl, n, col);
            tts_co_record(r, m++, n, p, pick >= 0 && s[pick].correct, tok);
        }
    }
    return rc;
}

int tts_co_fill_sampling(tts_run_t *r) {
    if (!r->compute_optimal) return 0;
    int *cl = malloc(sizeof(int) * (size_t)r->K), rc = cl ? 0 : RLC_ENOMEM;
    for (int p = 0; p < r->P && !rc; p++) rc = fill_problem(r, p, cl);
    free(cl);
    return rc;
}

int tts_co_report(tts_run_t *r, char **md, cJSON *summary, char **svg) {
    if (!r->compute_optimal) return 0;
    int prm = !strcmp(r->difficulty, "prm"), rc = 0;
    double *diff = malloc(sizeof(double) * (size_t)r->P);
    if (!diff) return RLC_ENOMEM;
    for (int p = 0; p < r->P; p++) { /* higher = easier: pass rate or mean PRM aggregate of the samples */
        double sum = 0;
        for (int i = 0; i < r->K; i++) {
            const tts_sample_t *s = &r->tab[(size_t)p * r->K + i];
            sum += prm ? s->prm : s->correct;
        }
        diff[p] = sum / r->K;
    }
    tts_co_in_t in = {r->co_m, r->n_ns, r->P, (int)r->bins, r->co_names, r->ns, r->co_correct, r->co_tokens, diff,
                      prm ? "mean PRM score" : "pass rate"};
    tts_co_out_t o;
    char *t = NULL;
    if ((rc = tts_compute_optimal(&in, &o))) {
        free(diff);
        return rc;
    }
    if (!(t = tts_co_markdown(&in, &o))) rc = RLC_ENOMEM;
    if (!rc && *md) {
        size_t a = strlen(*md), b = strlen(t);
        char *joined = realloc(*md, a + b + 1);
        if (!joined) rc = RLC_ENOMEM;
        else memcpy(joined + a, t, b + 1), *md = joined;
    }
    cJSON *j = !rc && summary ? tts_co_json(&in, &o) : NULL;
    if (!rc && summary && !j) rc = RLC_ENOMEM;
    if (j) cJSON_AddItemToObject(summary, "compute_optimal", j);
    if (!rc && r->co_plot && !(*svg = tts_co_svg(&in, &o))) rc = RLC_ENOMEM;
    free(t), free(diff);
    tts_co_out_free(&o);
    return rc;
}
