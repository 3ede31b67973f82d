/* `rlc score`: score solutions with a reward model before a long sweep or run — a process
 * reward model's per-step scores (steps split at "\n\n", as `rlc tts` and the prm reward
 * split them) or an outcome model's single score, as JSON: one object for --problem /
 * --solution, one line per row for --jsonl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/json.h"
#include "rewards/prm_formats.h"
#include "rewards/rm.h"
#include "rewards/steps.h"
#include "rl/rundir.h"

typedef struct {
    const tok_t *tok;
    rlc_prm_t prm;
    rlc_orm_t orm;
    int outcome;
} scorer_t;

/* The scores of one (problem, solution) as a JSON object. */
static int score_one(scorer_t *s, const char *problem, const char *solution, cJSON **out) {
    int32_t *p = NULL, *c = NULL;
    int np = 0, nc = 0;
    int rc = tok_encode(s->tok, problem, strlen(problem), 1, &p, &np);
    if (!rc) rc = tok_encode(s->tok, solution, strlen(solution), 0, &c, &nc);
    cJSON *o = rc ? NULL : cJSON_CreateObject();
    if (!rc && !o) rc = RLC_ENOMEM;
    if (!rc && s->outcome) {
        float v;
        long read;
        if (!(rc = rlc_orm_score(&s->orm, p, np, c, nc, &v, &read))) cJSON_AddNumberToObject(o, "score", v);
    } else if (!rc) {
        float *sc = NULL;
        int ns = 0;
        long read = 0;
        rc = rlc_prm_score(&s->prm, s->tok, problem, p, np, c, nc, &sc, &ns, &read);
        int cap = ns ? ns : 1;
        size_t *st = rlc_malloc((size_t)cap * sizeof *st), *en = rlc_malloc((size_t)cap * sizeof *en);
        if (!rc && (!st || !en)) rc = RLC_ENOMEM;
        if (!rc) {
            rlc_prm_steps(s->prm.format, solution, strlen(solution), st, en, cap);
            cJSON *arr = cJSON_AddArrayToObject(o, "steps");
            for (int k = 0; k < ns; k++) {
                cJSON *x = cJSON_CreateObject();
                rlc_json_add_text(x, "text", solution + st[k], en[k] - st[k]);
                cJSON_AddNumberToObject(x, "score", sc[k]);
                cJSON_AddItemToArray(arr, x);
            }
            const char *aggs[4] = {"last", "min", "prod", "mean"};
            cJSON *ag = cJSON_AddObjectToObject(o, "aggregate");
            for (int a = 0; a < 4; a++) cJSON_AddNumberToObject(ag, aggs[a], rlc_step_aggregate(sc, ns, (rlc_step_agg_t)a));
            cJSON_AddNumberToObject(o, "tokens_read", (double)read);
        }
        free(sc), free(st), free(en);
    }
    free(p), free(c);
    if (rc) cJSON_Delete(o), o = NULL;
    *out = o;
    return rc;
}

/* Every row of a JSONL file ({problem|prompt, solution|completion|response}) as a line. */
static int score_file(scorer_t *s, const char *path) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    cJSON *row = NULL;
    while (!rc && (rc = rlc_jsonl_next(&r, &row)) > 0) {
        const char *pk[] = {"problem", "prompt", "question"}, *sk[] = {"solution", "completion", "response"};
        const char *prob = NULL, *sol = NULL;
        for (int i = 0; i < 3 && !prob; i++) prob = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, pk[i]));
        for (int i = 0; i < 3 && !sol; i++) sol = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, sk[i]));
        cJSON *o = NULL;
        if (!prob || !sol)
            rc = rlc_errc(RLC_EFMT, "%s:%ld: needs a problem (or prompt) and a solution (or completion) string", path,
                          r.lineno);
        else
            rc = score_one(s, prob, sol, &o);
        char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
        if (txt) printf("%s\n", txt);
        free(txt);
        cJSON_Delete(o);
        cJSON_Delete(row);
        row = NULL;
    }
    rlc_jsonl_close(&r);
    return rc < 0 ? rc : 0;
}

int cmd_score(int argc, char **argv) {
    const char *model = NULL, *fmt = "generic", *tokp = NULL, *jsonl = NULL, *problem = NULL, *solution = NULL;
    const char *device = "cpu";
    long threads = 0;
    int outcome = 0;
    cli_opt_t opts[] = {
        {"--model", OPT_STR, &model, "the reward model: HF directory (a run or checkpoint pointer works too)", 1, 0},
        {"--prm-format", OPT_STR, &fmt, "generic (1-label score head), math-shepherd, qwen (Qwen2.5-Math-PRM) or skywork [default: generic]", 0, 0},
        {"--outcome", OPT_FLAG, &outcome, "an outcome model (1-label score head): one score per solution", 0, 0},
        {"--tokenizer", OPT_STR, &tokp, "the policy's tokenizer (generic PRMs and ORMs share it) [default: --model's]",
         0, 0},
        {"--problem", OPT_STR, &problem, "the problem text (with --solution)", 0, 0},
        {"--solution", OPT_STR, &solution, "the solution text; steps end at blank lines", 0, 0},
        {"--jsonl", OPT_STR, &jsonl, "rows of {problem, solution}; one JSON line each", 0, 0},
        {"--device", OPT_STR, &device, "cpu, cuda, cuda:N or auto", 0, 0},
        {"--threads", OPT_INT, &threads, "CPU threads (0 = all cores)", 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]),
                       "rlc score --model DIR [--prm-format F | --outcome] (--problem P --solution S | --jsonl F)",
                       "Print a reward model's per-step scores (a PRM) or its score (--outcome) as JSON.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    if ((jsonl != NULL) == (problem != NULL || solution != NULL) || (problem != NULL) != (solution != NULL))
        return rlc_errc(RLC_EINVAL, "give --problem with --solution, or --jsonl"), cli_fail();
    scorer_t s = {.outcome = outcome};
    int pf = RLC_PRM_GENERIC;
    char *dir = NULL;
    long step = -1;
    rlc_backend_t *be = NULL;
    tok_t *tok = NULL;
    if ((rc = rlc_prm_format_parse(fmt, &pf))) return cli_fail();
    if (!(rc = rl_model_resolve(model, "--model", &dir, &step))) rc = rlc_backend_create(&be, device, 0, (int)threads);
    const char *tdir = tokp ? tokp : dir;
    if (!rc && !(outcome == 0 && pf == RLC_PRM_SHEPHERD && !tokp) && !tok_present(tdir))
        rc = rlc_errc(RLC_EINVAL, "%s has no tokenizer: give the policy's with --tokenizer", tdir);
    if (!rc) rc = tok_load(&tok, tdir);
    s.tok = tok;
    if (!rc) rc = outcome ? rlc_orm_open(&s.orm, "--model", dir, be) : rlc_prm_open(&s.prm, "--model", dir, pf, be);
    if (!rc) tok_set_model_vocab(tok, (outcome ? s.orm.m : s.prm.m)->cfg.vocab_size);
    if (!rc && jsonl) {
        rc = score_file(&s, jsonl);
    } else if (!rc) {
        cJSON *o = NULL;
        if (!(rc = score_one(&s, problem, solution, &o))) {
            char *txt = cJSON_Print(o);
            if (txt) printf("%s\n", txt);
            free(txt);
        }
        cJSON_Delete(o);
    }
    if (outcome) rlc_orm_close(&s.orm);
    else if (s.prm.m) rlc_prm_close(&s.prm);
    if (tok) tok_free(tok);
    rlc_backend_destroy(be);
    free(dir);
    return rc ? cli_fail() : 0;
}
