/* `rlc grade`: the math grader from the command line. One pair (--gold/--pred prints 1 or 0)
 * or a JSONL file of {"gold", "pred"} lines written back with "correct" and "extracted";
 * both sides are read by the extraction rules (math_grade). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset.h"
#include "rewards/math/math.h"

static int grade_jsonl(const char *path, const char *out_path, const char *gold_key, const char *pred_key, int flags,
                       const math_opts_t *mo, int strict) {
    rlc_jsonl_t r;
    int rc = rlc_jsonl_open(&r, path);
    if (rc) return rc;
    fs_atomic_t a;
    FILE *out = stdout;
    if (out_path) {
        if ((rc = fs_atomic_open(&a, out_path))) {
            rlc_jsonl_close(&r);
            return rc;
        }
        out = a.f;
    }
    long n = 0, ok = 0, skipped = 0;
    char *buf = rlc_malloc(MATH_MAX_ANSWER + 1);
    if (!buf) rc = RLC_ENOMEM;
    while (!rc) {
        cJSON *obj;
        int got = rlc_jsonl_next(&r, &obj);
        if (got == 0) break;
        if (got < 0) {
            if (got == RLC_EIO || strict) {
                rc = got;
                break;
            }
            data_bad_row(&skipped, rlc_errmsg());
            continue;
        }
        char *gold = rlc_json_text(cJSON_GetObjectItemCaseSensitive(obj, gold_key));
        char *pred = rlc_json_text(cJSON_GetObjectItemCaseSensitive(obj, pred_key));
        if (!gold || !pred) {
            rc = rlc_errc(RLC_EFMT, "%s:%ld: missing or non-text field '%s'", path, r.lineno, !gold ? gold_key : pred_key);
            if (!strict) {
                data_bad_row(&skipped, rlc_errmsg());
                rc = 0;
            }
        } else {
            int correct = math_grade(gold, pred, flags, mo, buf, MATH_MAX_ANSWER + 1);
            const char *ans = buf;
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "correct");
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "extracted");
            cJSON_AddBoolToObject(obj, "correct", correct);
            cJSON_AddStringToObject(obj, "extracted", ans);
            char *line = rlc_json_print(obj, 0);
            if (!line) rc = RLC_ENOMEM;
            else if (out_path) {
                rc = fs_atomic_write(&a, line, strlen(line));
                if (!rc) rc = fs_atomic_write(&a, "\n", 1);
            } else if (fprintf(out, "%s\n", line) < 0) {
                rc = rlc_err_errno("writing output");
            }
            free(line);
            n++;
            ok += correct;
        }
        free(gold);
        free(pred);
        cJSON_Delete(obj);
    }
    free(buf);
    rlc_jsonl_close(&r);
    if (out_path) {
        if (rc) fs_atomic_abort(&a);
        else rc = fs_atomic_commit(&a);
    } else {
        fflush(stdout);
    }
    if (rc) return rc;
    LOG_INFO("graded %ld line%s: %ld correct (%.1f%%), %ld malformed skipped", n, n == 1 ? "" : "s", ok,
             n ? 100.0 * (double)ok / (double)n : 0.0, skipped);
    return 0;
}

static const char *src_name(math_src_t s) {
    static const char *const names[] = {"none", "boxed", "answer_tag", "gsm8k", "final_answer",
                                        "answer_line", "last_number", "bare", "math_span", "whole"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* --explain: what each side was read as, by which rule, and its normalized form. */
static void explain_grading(const char *gold, const char *pred, int flags, const char *compared) {
    static char g[MATH_MAX_ANSWER + 1], gl[MATH_MAX_ANSWER + 1], p[MATH_MAX_ANSWER + 1], pl[MATH_MAX_ANSWER + 1];
    static char ng[4 * MATH_MAX_ANSWER], np[4 * MATH_MAX_ANSWER];
    math_src_t gs, ps;
    if (math_extract_read(gold, MATH_EXTRACT_GOLD, g, sizeof g, gl, sizeof gl, &gs) <= 0) g[0] = 0;
    if (math_extract_read(pred, flags, p, sizeof p, pl, sizeof pl, &ps) <= 0) p[0] = 0;
    const char *gans = gl[0] ? gl : g;
    if (math_normalize(gans, ng, sizeof ng)) snprintf(ng, sizeof ng, "(too long)");
    if (math_normalize(compared, np, sizeof np)) snprintf(np, sizeof np, "(too long)");
    fprintf(stderr, "gold read as: %s (%s)\nprediction read as: %s (%s)%s%s\nnormalized gold: %s\nnormalized pred: %s\n",
            gans, src_name(gs), compared[0] ? compared : "(no answer found)", src_name(ps), pl[0] ? "; as a list: " : "",
            pl, ng, np);
}

int cmd_grade(int argc, char **argv) {
    const char *gold = NULL, *pred = NULL, *jsonl = NULL, *out = NULL, *gold_key = "gold", *pred_key = "pred";
    const char *extract = "default";
    int percent = 0, percent_strict = 0, no_chains = 0, strict = 0, explain = 0;
    double rel_tol = 1e-6;
    cli_opt_t opts[] = {
        {"--gold", OPT_STR, &gold, "gold answer (with --pred)", 0, 0},
        {"--pred", OPT_STR, &pred, "predicted answer or a whole solution text", 0, 0},
        {"--jsonl", OPT_STR, &jsonl, "grade every {\"gold\", \"pred\"} line of this file", 0, 0},
        {"--out", OPT_STR, &out, "write the graded JSONL here instead of stdout", 0, 0},
        {"--gold-key", OPT_STR, &gold_key, "JSONL field holding the gold answer", 0, 0},
        {"--pred-key", OPT_STR, &pred_key, "JSONL field holding the prediction", 0, 0},
        {"--extract", OPT_STR, &extract,
         "how the prediction is read: boxed,answer_tag,gsm8k,final_answer,answer_line,bare,math_span,last_number"
         "|markers|default|none (the gold is read by all of them)",
         0, 0},
        {"--percent", OPT_FLAG, &percent, "also accept pred = gold*100 or gold/100 with no % sign anywhere", 0, 0},
        {"--percent-strict", OPT_FLAG, &percent_strict, "a % sign is notation only: 28% = 28 but not 0.28", 0, 0},
        {"--no-chains", OPT_FLAG, &no_chains,
         "compare a = b = c and equations as written (default: the last side, as math-verify)", 0, 0},
        {"--rel-tol", OPT_FLOAT, &rel_tol, "relative tolerance for irrational values", 0, 0},
        {"--strict", OPT_FLAG, &strict, "a malformed JSONL line is fatal (default: warn and skip)", 0, 0},
        {"--explain", OPT_FLAG, &explain, "print the extracted and normalized answers to stderr", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts, "rlc grade --gold ANSWER --pred ANSWER | --jsonl FILE [--out FILE]",
                       "Grade math answers: prints 1 (equivalent) or 0, or grades a JSONL file line by line.\n"
                       "Gold and prediction may be whole solutions: each is reduced to its answer first (\\boxed{}, "
                       "\"final answer\", \"####\", \"The answer is\", \"Answer:\", else the last math span or "
                       "number) as docs/rewards.md describes.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    int flags;
    if (math_extract_flags_from_str(extract, &flags)) return cli_fail();
    flags |= MATH_EXTRACT_WHOLE; /* a prediction no rule reads is compared as it is */
    if (!(rel_tol >= 0 && rel_tol < 1)) {
        rlc_errc(RLC_EINVAL, "--rel-tol must be in [0, 1)");
        return cli_fail();
    }
    math_opts_t mo;
    math_opts_default(&mo);
    mo.percent = percent;
    mo.percent_strict = percent_strict;
    mo.chains = !no_chains;
    mo.rel_tol = rel_tol;
    if (jsonl) {
        if (gold || pred) {
            rlc_errc(RLC_EINVAL, "use either --jsonl or --gold/--pred, not both");
            return cli_fail();
        }
        if (grade_jsonl(jsonl, out, gold_key, pred_key, flags, &mo, strict)) return cli_fail();
        return 0;
    }
    if (!gold || !pred) {
        rlc_errc(RLC_EINVAL, "need --gold and --pred, or --jsonl FILE (see --help)");
        return cli_fail();
    }
    if (out) {
        rlc_errc(RLC_EINVAL, "--out only applies to --jsonl");
        return cli_fail();
    }
    char buf[MATH_MAX_ANSWER + 1];
    int eq = math_grade(gold, pred, flags, &mo, buf, sizeof buf);
    if (explain) explain_grading(gold, pred, flags, buf);
    printf("%d\n", eq);
    return 0;
}
