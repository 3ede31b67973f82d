/* `rlc tts`: a test-time-scaling sweep over N for sampling-based methods. Samples N_max
 * completions per problem once, grades them, optionally scores them with an outcome reward
 * model (a 1-label score head; score = the head's value at the last token), and reports per
 * N: pass@N, majority@N, best-of-N and weighted majority (with the ORM), tokens and FLOPs,
 * as a markdown table, a JSON summary and an SVG plot (both written atomically). With a
 * process reward model (--prm) each completion's steps (text split at "\n\n") are scored
 * (generic: sigmoid of a 1-label score head at each step's last token; math-shepherd:
 * P("+") over {"+","-"} after each " ки" step tag), aggregated (last/min/prod/mean), and
 * PRM best-of-N and PRM-weighted majority are reported too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/encode.h"
#include "rewards/eval.h"
#include "tts/sweep.h"

/* The ORM's score of one sequence: its score head's value at the last token. */
static int orm_score(rlc_model_t *orm, const int32_t *ids, int n, float *score) {
    int cu[2] = {0, n};
    rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = ids, .cu_seqlens = cu};
    int rc = rlc_batch_check(orm, &b);
    if (rc) return rlc_err_ctx(rc, "--orm (it must share the policy's tokenizer)");
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) return RLC_ENOMEM;
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_SCORE};
    rc = rlc_model_forward(orm, &b, &fo, NULL, NULL, v);
    if (!rc) *score = v[n - 1];
    free(v);
    return rc;
}

enum { PRM_GENERIC, PRM_SHEPHERD };

typedef struct {
    rlc_model_t *m;
    tok_t *tok;   /* math-shepherd: the PRM's own tokenizer */
    int format;   /* PRM_GENERIC or PRM_SHEPHERD */
    int32_t plus, minus;
    const char *dir;
} prm_t;

static double sigm(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

static int prm_parse_format(const char *s, int *fmt) {
    if (!strcmp(s, "generic")) *fmt = PRM_GENERIC;
    else if (!strcmp(s, "math-shepherd")) *fmt = PRM_SHEPHERD;
    else if (!strcmp(s, "qwen-prm"))
        return rlc_errc(RLC_EINVAL, "--prm-format qwen-prm is not supported: Qwen2.5-Math-PRM's reward head is a "
                                    "2-layer MLP, and rlc's model format has only a single linear score head");
    else return rlc_errc(RLC_EINVAL, "--prm-format must be generic or math-shepherd (got '%s')", s);
    return 0;
}

/* The id of a text that must be one token of the PRM's tokenizer (no special tokens added). */
static int prm_single_token(const prm_t *p, const char *text, int32_t *id) {
    int32_t *ids = NULL;
    int n = 0;
    int rc = tok_encode(p->tok, text, strlen(text), 0, &ids, &n);
    if (!rc && n == 1 && ids[0] >= 0 && ids[0] < p->m->cfg.vocab_size) *id = ids[0];
    else rc = RLC_EINVAL;
    free(ids);
    if (rc)
        rlc_errc(RLC_EINVAL, "--prm %s (math-shepherd): \"%s\" is not a single token of the PRM's tokenizer", p->dir,
                 text);
    return rc;
}

static int prm_open(prm_t *p, const char *dir, int format, rlc_backend_t *be) {
    p->dir = dir;
    p->format = format;
    int rc = rlc_model_load(&p->m, dir, be);
    if (rc) return rlc_err_ctx(rc, "--prm %s", dir);
    if (format == PRM_GENERIC) {
        if (p->m->score_labels != 1)
            return rlc_errc(RLC_EINVAL, "--prm %s (generic): needs a score head with 1 label (it has %d)", dir,
                            p->m->score_labels);
        return 0;
    }
    if (p->m->cfg.head != RLC_HEAD_LM)
        return rlc_errc(RLC_EINVAL, "--prm %s (math-shepherd): needs a language-model head (it has a score head)", dir);
    if ((rc = tok_load(&p->tok, dir))) return rlc_err_ctx(rc, "--prm %s (math-shepherd): its tokenizer", dir);
    if ((rc = prm_single_token(p, "+", &p->plus)) || (rc = prm_single_token(p, "-", &p->minus))) return rc;
    return 0;
}

static void prm_close(prm_t *p) {
    if (p->m) rlc_model_free(p->m);
    if (p->tok) tok_free(p->tok);
}

/* The text of token ids (special tokens included when with_special, else contributing
 * nothing) and, per token, the byte offset just past it. *text malloc'd. */
static int token_text(const tok_t *tok, const int32_t *ids, int n, int with_special, char **text, size_t *len,
                      size_t *ends) {
    size_t cap = 64, L = 0;
    char *s = malloc(cap);
    if (!s) return RLC_ENOMEM;
    for (int t = 0; t < n; t++) {
        const char *b = NULL;
        size_t bl = 0;
        if (with_special || !tok_is_special(tok, ids[t])) {
            int rc = tok_token_bytes(tok, ids[t], &b, &bl);
            if (rc) {
                free(s);
                return rc;
            }
        }
        if (L + bl + 1 > cap) {
            cap = 2 * (L + bl + 1);
            char *q = realloc(s, cap);
            if (!q) {
                free(s);
                return RLC_ENOMEM;
            }
            s = q;
        }
        if (bl) memcpy(s + L, b, bl);
        L += bl;
        ends[t] = L;
    }
    s[L] = 0;
    *text = s;
    *len = L;
    return 0;
}

/* Step scores of one completion. text/len: the completion as the concatenated texts of its
 * tokens (special tokens omitted); tok_end: per completion token, the offset past it. */
static int prm_generic_score(prm_t *p, const int32_t *prompt, int plen, const int32_t *comp, int clen,
                             const char *text, size_t len, const size_t *tok_end, float **steps, int *n_steps,
                             long *read) {
    int ns = tts_split_steps(text, len, NULL, NULL, 0);
    *n_steps = ns;
    *read = 0;
    if (ns == 0) return 0;
    size_t *ends = malloc(sizeof(size_t) * (size_t)ns);
    int *pos = malloc(sizeof(int) * (size_t)ns), n = plen + clen, rc = 0;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)n);
    float *v = malloc(sizeof(float) * (size_t)n), *sc = malloc(sizeof(float) * (size_t)ns);
    if (!ends || !pos || !seq || !v || !sc) rc = RLC_ENOMEM;
    if (!rc) {
        tts_split_steps(text, len, NULL, ends, ns);
        tts_step_token_pos(tok_end, clen, ends, ns, pos);
        memcpy(seq, prompt, sizeof(int32_t) * (size_t)plen);
        memcpy(seq + plen, comp, sizeof(int32_t) * (size_t)clen);
        int cu[2] = {0, n};
        rlc_batch_t b = {.n_tokens = n, .nseq = 1, .ids = seq, .cu_seqlens = cu};
        if ((rc = rlc_batch_check(p->m, &b))) rlc_err_ctx(rc, "--prm (generic: it must share the policy's tokenizer)");
        rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_SCORE};
        if (!rc) rc = rlc_model_forward(p->m, &b, &fo, NULL, NULL, v);
        for (int k = 0; k < ns && !rc; k++) sc[k] = (float)sigm(v[plen + (pos[k] >= 0 ? pos[k] : clen - 1)]);
        *read = n;
    }
    free(ends), free(pos), free(seq), free(v);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}

/* Math-Shepherd: "<question> <step 1> ки\n<step 2> ки\n...<step K> ки", tokenized with the
 * PRM's tokenizer; step k's score is P("+") / (P("+") + P("-")) of the next-token
 * distribution at the token that completes its tag. */
static int prm_shepherd_score(prm_t *p, const char *question, const char *text, size_t len, float **steps,
                              int *n_steps, long *read) {
    static const char tag[] = " \xd0\xba\xd0\xb8"; /* " ки" */
    int ns = tts_split_steps(text, len, NULL, NULL, 0);
    *n_steps = ns;
    *read = 0;
    if (ns == 0) return 0;
    int rc = 0, n1 = 0, n0 = 0;
    size_t *st = malloc(sizeof(size_t) * (size_t)ns), *en = malloc(sizeof(size_t) * (size_t)ns);
    size_t *tag_end = malloc(sizeof(size_t) * (size_t)ns), jl = 0, jcap = 0;
    int *pos = malloc(sizeof(int) * (size_t)ns);
    float *sc = malloc(sizeof(float) * (size_t)ns), *lp_plus = NULL, *lp_minus = NULL;
    char *joined = NULL, *q = rlc_utf8_dup_valid(question, strlen(question)), *tt = NULL;
    int32_t *ids1 = NULL, *ids0 = NULL, *tgt = NULL;
    size_t *tend = NULL;
    if (!st || !en || !tag_end || !pos || !sc || !q) rc = RLC_ENOMEM;
    if (!rc) {
        tts_split_steps(text, len, st, en, ns);
        jcap = strlen(q) + 2 + len * 3 + (size_t)ns * (sizeof tag + 1) + 1; /* U+FFFD: 3 bytes per bad byte */
        if (!(joined = malloc(jcap))) rc = RLC_ENOMEM;
    }
    if (!rc) {
        jl = (size_t)snprintf(joined, jcap, "%s ", q);
        for (int k = 0; k < ns && !rc; k++) {
            char *step = rlc_utf8_dup_valid(text + st[k], en[k] - st[k]);
            if (!step) {
                rc = RLC_ENOMEM;
                break;
            }
            jl += (size_t)snprintf(joined + jl, jcap - jl, "%s%s", step, tag);
            tag_end[k] = jl;
            if (k + 1 < ns) joined[jl++] = '\n', joined[jl] = 0;
            free(step);
        }
    }
    /* ids with the tokenizer's special tokens (what the PRM reads) and without (to align
     * token texts with byte offsets); the first is the second after a prefix (BOS). */
    if (!rc) rc = tok_encode(p->tok, joined, jl, 1, &ids1, &n1);
    if (!rc) rc = tok_encode(p->tok, joined, jl, 0, &ids0, &n0);
    int pre = -1;
    for (int k = 0; !rc && k + n0 <= n1 && pre < 0; k++)
        if (!memcmp(ids1 + k, ids0, sizeof(int32_t) * (size_t)n0)) pre = k;
    size_t tl = 0;
    if (!rc && !(tend = malloc(sizeof(size_t) * (size_t)(n0 ? n0 : 1)))) rc = RLC_ENOMEM;
    if (!rc) rc = token_text(p->tok, ids0, n0, 1, &tt, &tl, tend);
    /* a sentencepiece tokenizer's token texts carry the dummy prefix's leading space */
    size_t shift = !rc && tl == jl + 1 && tt[0] == ' ' ? 1 : 0;
    if (!rc && (pre < 0 || tl != jl + shift || memcmp(tt + shift, joined, jl)))
        rc = rlc_errc(RLC_EINVAL, "--prm %s (math-shepherd): cannot align its tokens with the text", p->dir);
    if (!rc) {
        for (int k = 0; k < ns; k++) tag_end[k] += shift;
        tts_step_token_pos(tend, n0, tag_end, ns, pos);
        for (int k = 0; k < ns && !rc; k++)
            if (pos[k] < 0 || tend[pos[k]] != tag_end[k])
                rc = rlc_errc(RLC_EINVAL, "--prm %s (math-shepherd): the step tag \" ки\" merges with the text after it "
                                          "in its tokenizer", p->dir);
    }
    if (!rc && (!(tgt = malloc(sizeof(int32_t) * (size_t)n1)) || !(lp_plus = malloc(sizeof(float) * (size_t)n1)) ||
                !(lp_minus = malloc(sizeof(float) * (size_t)n1))))
        rc = RLC_ENOMEM;
    int cu[2] = {0, n1};
    rlc_batch_t b = {.n_tokens = n1, .nseq = 1, .ids = ids1, .cu_seqlens = cu, .targets = tgt};
    rlc_fwd_opts_t fo = {.inv_temp = 1.0f, .head = RLC_HEAD_LM};
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (int t = 0; t < n1; t++) tgt[t] = -1;
        for (int k = 0; k < ns; k++) tgt[pre + pos[k]] = pass ? p->minus : p->plus;
        if ((rc = rlc_batch_check(p->m, &b))) rlc_err_ctx(rc, "--prm %s", p->dir);
        if (!rc) rc = rlc_model_forward(p->m, &b, &fo, pass ? lp_minus : lp_plus, NULL, NULL);
    }
    for (int k = 0; k < ns && !rc; k++) {
        int t = pre + pos[k];
        sc[k] = (float)sigm((double)lp_plus[t] - (double)lp_minus[t]);
    }
    if (!rc) *read = n1;
    free(st), free(en), free(tag_end), free(pos), free(joined), free(q), free(tt), free(ids1), free(ids0), free(tgt),
        free(tend), free(lp_plus), free(lp_minus);
    if (rc) free(sc);
    else *steps = sc;
    return rc;
}

int cmd_tts(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *plot = NULL, *ns_str = "1,2,4,8,16", *orm_dir = NULL;
    const char *prm_dir = NULL, *prm_format = NULL, *prm_agg = NULL;
    cli_sample_args_t sa;
    cli_sample_args_default(&sa);
    cli_opt_t opts[9 + CLI_SAMPLE_NOPTS] = {
        {"--model", OPT_STR, &model, "Hugging Face model directory (the policy)", 1, 0},
        {"--data", OPT_STR, &data, "JSONL dataset", 1, 0},
        {"--n", OPT_STR, &ns_str, "the sweep: increasing sample counts, e.g. 1,2,4,8,16 [default: 1,2,4,8,16]", 0, 0},
        {"--orm", OPT_STR, &orm_dir, "outcome reward model: HF directory with a 1-label score head", 0, 0},
        {"--out", OPT_STR, &out, "JSON summary (per-N points and per-sample records)", 0, 0},
        {"--plot", OPT_STR, &plot, "SVG plot of accuracy vs N per method", 0, 0},
        {"--prm", OPT_STR, &prm_dir, "process reward model: HF directory (see --prm-format)", 0, 0},
        {"--prm-format", OPT_STR, &prm_format,
         "generic (1-label score head at step ends) or math-shepherd (LM, step tag \" ки\") [default: generic]", 0, 0},
        {"--prm-agg", OPT_STR, &prm_agg, "step-score aggregation: last, min, prod or mean [default: min]", 0, 0},
    };
    int nopts = 9 + cli_sample_opts(opts + 9, &sa);
    int rc = cli_parse(argc, argv, opts, nopts,
                       "rlc tts --model DIR --data FILE.jsonl [--n 1,2,4,8,16] [--orm DIR] [--prm DIR "
                       "[--prm-format F] [--prm-agg A]] [--out S.json] [--plot P.svg] [...]",
                       "Test-time-scaling sweep: sample N_max completions per problem once, then report per N\n"
                       "pass@N, majority@N and, with --orm or --prm, best-of-N and weighted majority, tokens and FLOPs.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    int prm_fmt = PRM_GENERIC;
    tts_agg_t agg = TTS_AGG_MIN;
    if (!prm_dir && (prm_format || prm_agg)) {
        rlc_errc(RLC_EINVAL, "--prm-format and --prm-agg need --prm");
        return cli_fail();
    }
    if ((prm_format && prm_parse_format(prm_format, &prm_fmt)) || (prm_agg && tts_agg_from_name(prm_agg, &agg)))
        return cli_fail();
    int *ns = NULL, n_ns = 0;
    if ((rc = tts_parse_ns(ns_str, &ns, &n_ns))) return cli_fail();
    int K = ns[n_ns - 1];
    data_tpl_t tpl;
    int extract_flags = 0;
    math_opts_t mo;
    math_opts_default(&mo);
    mo.percent = sa.percent;
    if ((rc = data_template_from_name(sa.tpl_name, &tpl)) ||
        (sa.extract && (rc = math_extract_flags_from_str(sa.extract, &extract_flags)))) {
        free(ns);
        return cli_fail();
    }
    if (sa.max_new < 1) {
        free(ns);
        rlc_errc(RLC_EINVAL, "--max-new-tokens must be at least 1");
        return cli_fail();
    }
    data_set_t ds = {0};
    if ((rc = cli_sample_load(data, &sa, &ds))) {
        free(ns);
        return cli_fail();
    }
    cli_model_t cm = {0};
    rlc_model_t *orm = NULL;
    prm_t prm = {0};
    gen_engine_t *e = NULL;
    int P = ds.n;
    int32_t **pids = calloc((size_t)P, sizeof *pids);
    int *plen = calloc((size_t)P, sizeof *plen), *reqs = calloc((size_t)P, sizeof *reqs);
    const char **formats = calloc((size_t)P, sizeof *formats);
    tts_sample_t *tab = calloc((size_t)P * K, sizeof *tab);
    char *answers = calloc((size_t)P * K, MATH_MAX_ANSWER);
    tts_point_t *pts = calloc((size_t)n_ns, sizeof *pts);
    float **psteps = calloc((size_t)P * K, sizeof *psteps);
    int *pnsteps = calloc((size_t)P * K, sizeof *pnsteps);
    cJSON *summary = NULL;
    char *md = NULL, *json_txt = NULL, *svg = NULL;
    if (!pids || !plen || !reqs || !formats || !tab || !answers || !pts || !psteps || !pnsteps) rc = RLC_ENOMEM;
    if (!rc) rc = cli_model_open(&cm, model, sa.device, (int)sa.threads, 1);
    if (!rc && orm_dir) {
        rc = rlc_model_load(&orm, orm_dir, cm.be);
        if (!rc && orm->score_labels != 1)
            rc = rlc_errc(RLC_EINVAL, "--orm %s: needs a score head with 1 label (it has %d)", orm_dir,
                          orm->score_labels);
    }
    if (!rc && prm_dir) rc = prm_open(&prm, prm_dir, prm_fmt, cm.be);
    gen_engine_cfg_t ec = cli_sample_engine_cfg(&sa);
    if (!rc) rc = gen_engine_create(&e, cm.m, cm.tok, &ec);
    gen_params_t gp;
    gen_params_default(&gp);
    gp.n = K;
    gp.temperature = (float)sa.temperature;
    gp.top_p = (float)sa.top_p;
    gp.top_k = (int)sa.top_k;
    gp.max_new_tokens = (int)sa.max_new;
    for (int i = 0; i < P && !rc; i++) {
        rc = data_encode_problem(cm.tok, tpl, sa.family, ds.rows[i].problem, &pids[i], &plen[i], &formats[i]);
        if (!rc) {
            gp.seed = (uint64_t)sa.seed * 1000003ull + (uint64_t)i;
            reqs[i] = gen_submit(e, pids[i], plen[i], &gp, NULL);
            if (reqs[i] < 0) rc = reqs[i];
        }
        if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
    }
    if (!rc) {
        LOG_INFO("sampling %d problems x %d completions (%s template)%s%s", P, K, sa.tpl_name,
                 orm ? ", scoring them with the ORM" : "", prm.m ? ", scoring their steps with the PRM" : "");
        rlc_progress_t pg;
        rlc_progress_begin(&pg, "tts", (long)P * K);
        rc = gen_run(e, &pg);
        rlc_progress_end(&pg);
    }
    int32_t *seq = NULL;
    for (int i = 0; i < P && !rc; i++) {
        int flags = extract_flags ? extract_flags : math_extract_flags_for_format(formats[i]);
        for (int k = 0; k < K && !rc; k++) {
            const gen_output_t *g = gen_output(e, reqs[i], k);
            tts_sample_t *s = &tab[(size_t)i * K + k];
            char *ans = answers + ((size_t)i * K + k) * MATH_MAX_ANSWER;
            s->correct = rlc_grade_row(&ds.rows[i], g->text, flags, &mo, ans, MATH_MAX_ANSWER);
            s->answer = ans;
            s->tokens = g->n_tokens;
            if (orm) {
                int n = plen[i] + g->n_tokens;
                int32_t *t = realloc(seq, sizeof(int32_t) * (size_t)n);
                if (!t) {
                    rc = RLC_ENOMEM;
                    break;
                }
                seq = t;
                memcpy(seq, pids[i], sizeof(int32_t) * (size_t)plen[i]);
                memcpy(seq + plen[i], g->tokens, sizeof(int32_t) * (size_t)g->n_tokens);
                rc = orm_score(orm, seq, n, &s->score);
                s->orm_tokens = n;
                if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
            }
            if (prm.m && !rc) {
                size_t *tend = malloc(sizeof(size_t) * (size_t)(g->n_tokens ? g->n_tokens : 1)), tl = 0;
                char *tt = NULL;
                float **st = &psteps[(size_t)i * K + k];
                int *nst = &pnsteps[(size_t)i * K + k];
                rc = tend ? token_text(cm.tok, g->tokens, g->n_tokens, 0, &tt, &tl, tend) : RLC_ENOMEM;
                if (!rc && prm.format == PRM_GENERIC)
                    rc = prm_generic_score(&prm, pids[i], plen[i], g->tokens, g->n_tokens, tt, tl, tend, st, nst,
                                           &s->prm_tokens);
                else if (!rc)
                    rc = prm_shepherd_score(&prm, ds.rows[i].problem, tt, tl, st, nst, &s->prm_tokens);
                if (!rc) s->prm = (float)tts_aggregate(*st, *nst, agg);
                free(tend);
                free(tt);
                if (rc) rlc_err_ctx(rc, "item %s", ds.rows[i].id);
            }
        }
    }
    free(seq);
    tts_sweep_cfg_t sc = {.n_problems = P, .n_max = K, .scored = orm != NULL,
                          .policy_params = cm.m ? (double)cm.m->n_params : 0,
                          .orm_params = orm ? (double)orm->n_params : 0, .prm_scored = prm.m != NULL,
                          .prm_params = prm.m ? (double)prm.m->n_params : 0,
                          .prm_format = prm_fmt == PRM_SHEPHERD ? "math-shepherd" : "generic",
                          .prm_agg = tts_agg_name(agg)};
    if (!rc) rc = tts_sweep(&sc, tab, ns, n_ns, &mo, pts);
    if (!rc && !(md = tts_sweep_markdown(&sc, pts, n_ns))) rc = RLC_ENOMEM;
    if (!rc && plot && !(svg = tts_sweep_svg(&sc, pts, n_ns))) rc = RLC_ENOMEM;
    if (!rc && out) {
        if (!(summary = tts_sweep_json(&sc, pts, n_ns))) rc = RLC_ENOMEM;
        cJSON *items = rc ? NULL : cJSON_AddArrayToObject(summary, "items");
        for (int i = 0; i < P && items; i++) {
            cJSON *it = cJSON_CreateObject(), *ss = cJSON_CreateArray();
            cJSON_AddStringToObject(it, "id", ds.rows[i].id);
            cJSON_AddStringToObject(it, "answer", ds.rows[i].answer);
            cJSON_AddNumberToObject(it, "prompt_tokens", plen[i]);
            for (int k = 0; k < K; k++) {
                const tts_sample_t *s = &tab[(size_t)i * K + k];
                cJSON *x = cJSON_CreateObject();
                rlc_json_add_text(x, "extracted", s->answer, strlen(s->answer));
                cJSON_AddBoolToObject(x, "correct", s->correct);
                cJSON_AddNumberToObject(x, "tokens", (double)s->tokens);
                if (orm) cJSON_AddNumberToObject(x, "score", s->score);
                if (prm.m) {
                    const float *st = psteps[(size_t)i * K + k];
                    int nst = pnsteps[(size_t)i * K + k];
                    cJSON *a = cJSON_AddArrayToObject(x, "prm_steps");
                    for (int q = 0; q < nst && a; q++) cJSON_AddItemToArray(a, cJSON_CreateNumber(st[q]));
                    cJSON_AddNumberToObject(x, "prm_score", s->prm);
                    cJSON_AddNumberToObject(x, "prm_tokens", (double)s->prm_tokens);
                }
                cJSON_AddItemToArray(ss, x);
            }
            cJSON_AddItemToObject(it, "samples", ss);
            cJSON_AddItemToArray(items, it);
        }
        if (!rc && !(json_txt = rlc_json_print(summary, 1))) rc = RLC_ENOMEM;
    }
    /* Everything is computed before anything is written. */
    if (!rc && out) rc = fs_write_atomic(out, json_txt, strlen(json_txt));
    if (!rc && plot) rc = fs_write_atomic(plot, svg, strlen(svg));
    if (!rc) {
        fputs(md, stdout);
        fflush(stdout);
    }
    free(md);
    free(svg);
    free(json_txt);
    cJSON_Delete(summary);
    for (int i = 0; i < P && pids; i++) {
        free(pids[i]);
        if (e && reqs && reqs[i] >= 0 && !rc) gen_release(e, reqs[i]);
    }
    free(pids);
    free(plen);
    free(reqs);
    free(formats);
    free(tab);
    free(answers);
    free(pts);
    for (size_t q = 0; psteps && q < (size_t)P * K; q++) free(psteps[q]);
    free(psteps);
    free(pnsteps);
    free(ns);
    gen_engine_free(e);
    if (orm) rlc_model_free(orm);
    prm_close(&prm);
    cli_model_close(&cm);
    data_set_free(&ds);
    return rc ? cli_fail() : 0;
}
