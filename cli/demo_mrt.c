/* `rlc demo --task mrt`: a task where episodes exist. Addition and subtraction (operands of
 * --min-digits to --max-digits digits, 1-2 by default); the warm-start solutions state a
 * result, some then say "Wait, let me check." and work it again before the boxed answer:
 * 30 % answer directly, 40 % are right first and re-check needlessly, 30 % are wrong first
 * and corrected by the re-check. Then GRPO from that same warm start twice on the same seed,
 * without and with the MRT progress bonus (dense, at each episode's last token); held-out
 * pass@1 and completion tokens per sample are reported for both. MRT's claim to test: same
 * or better accuracy with fewer tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/demo.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/philox.h"
#include "data/synth.h"

/* A solution of `kind`: 0 direct, 1 right then a needless re-check, 2 wrong then corrected. */
static char *solution(const char *expr, const char *answer, int kind, long wrong) {
    char *s = malloc(512);
    if (!s) return NULL;
    if (kind == 0)
        snprintf(s, 512, "%s = %s.\n\nThe answer is \\boxed{%s}.", expr, answer, answer);
    else if (kind == 1)
        snprintf(s, 512, "%s = %s.\n\nWait, let me check. %s = %s.\n\nThe answer is \\boxed{%s}.", expr, answer, expr,
                 answer, answer);
    else
        snprintf(s, 512, "%s = %ld.\n\nWait, let me check. %s = %s.\n\nThe answer is \\boxed{%s}.", expr, wrong, expr,
                 answer, answer);
    return s;
}

/* Warm-start solutions, GRPO and held-out problems, disjoint. */
static int mrt_data(const demo_opts_t *d, char **sft, char **rl, char **heldout) {
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_digits = (int)d->min_digits;
    o.max_digits = (int)d->max_digits;
    o.min_operands = o.max_operands = 2;
    o.ops = "+-";
    data_set_t a = {0}, b = {0}, ev = {0};
    long r1 = 0, r2 = 0, r3 = 0;
    int rc = data_synth_arith(&ev, d->n_eval, &o, (uint64_t)d->seed * 7 + 1);
    if (!rc) rc = data_synth_arith(&b, d->n_rl, &o, (uint64_t)d->seed * 7 + 2);
    if (!rc) rc = data_synth_arith(&a, d->n_train, &o, (uint64_t)d->seed * 7 + 3);
    if (!rc) rc = data_set_exclude(&a, &ev, &r1);
    if (!rc) rc = data_set_exclude(&b, &ev, &r2);
    if (!rc) rc = data_set_exclude(&b, &a, &r3);
    rlc_rng_t rng;
    rlc_rng_init(&rng, (uint64_t)d->seed, 91);
    for (int i = 0; i < a.n && !rc; i++) {
        char expr[64];
        demo_expr_of(a.rows[i].problem, expr, sizeof expr);
        uint32_t u = rlc_rng_below(&rng, 10);
        long off = 1 + (long)rlc_rng_below(&rng, 9), wrong = atol(a.rows[i].answer) + (rlc_rng_below(&rng, 2) ? off : -off);
        free(a.rows[i].solution);
        if (!(a.rows[i].solution = solution(expr, a.rows[i].answer, u < 3 ? 0 : u < 7 ? 1 : 2, wrong))) rc = RLC_ENOMEM;
    }
    *sft = fs_join(d->dir, "mrt_sft.jsonl");
    *rl = fs_join(d->dir, "mrt_rl.jsonl");
    *heldout = fs_join(d->dir, "mrt_heldout.jsonl");
    if (!rc && (!*sft || !*rl || !*heldout)) rc = RLC_ENOMEM;
    if (!rc && (!a.n || !b.n || !ev.n)) rc = rlc_errc(RLC_EINVAL, "no problems left after removing overlaps");
    if (!rc) rc = data_set_write_jsonl(&a, *sft);
    if (!rc) rc = data_set_write_jsonl(&b, *rl);
    if (!rc) rc = data_set_write_jsonl(&ev, *heldout);
    if (!rc)
        LOG_INFO("data: %d warm-start solutions (30%% direct, 40%% needless re-check, 30%% corrected), %d GRPO and %d "
                 "held-out problems (%ld duplicates removed)",
                 a.n, b.n, ev.n, r1 + r2 + r3);
    data_set_free(&a), data_set_free(&b), data_set_free(&ev);
    return rc;
}

int demo_mrt(const demo_opts_t *d, double t0) {
    char *sft = NULL, *rl = NULL, *heldout = NULL, *ckpt = NULL;
    char *init = fs_join(d->dir, "mrt_init"), *sft_run = fs_join(d->dir, "mrt_sft");
    int rc = init && sft_run ? 0 : RLC_ENOMEM;
    LOG_INFO("[1/4] tiny Qwen2-shaped model and addition/subtraction problems (%ld-%ld digit operands)", d->min_digits,
             d->max_digits);
    if (!rc) rc = write_model(init, d->seed, (int)d->hidden, (int)d->layers, d->arch);
    if (!rc) rc = mrt_data(d, &sft, &rl, &heldout);
    if (!rc) rc = demo_sft(d, init, sft, sft_run, &ckpt);
    demo_result_t off = {0}, on = {0};
    /* episodes start at "Wait" right after the first paragraph (gap 0); the forced answer
     * continues the way the warm start ends its solutions */
    const char *kv_off[][2] = {{"max_new_tokens", "96"}};
    const char *kv_on[][2] = {{"max_new_tokens", "96"},  {"mrt_alpha", "1"},         {"mrt_samples", "4"},
                              {"mrt_gap", "0"},          {"mrt_answer_tokens", "8"}, {"mrt_temperature", "0.6"},
                              {"mrt_termination", "The answer is \\boxed{"}};
    if (!rc) LOG_INFO("[3/4] GRPO from the same warm start, without and with MRT (%ld steps each)", d->rl_steps);
    if (!rc) rc = demo_grpo(d, ckpt, rl, heldout, kv_off, 1, "grpo_no_mrt", NULL, &off);
    if (!rc) rc = demo_grpo(d, ckpt, rl, heldout, kv_on, 7, "grpo_mrt", &off, &on);
    if (!rc) {
        printf("\n[4/4] results (%s; held-out: %ld problems never trained on, 4 samples each, T=%.1f)\n", d->dir,
               d->n_eval, d->temperature);
        printf("  %-16s %14s %14s %18s %18s\n", "", "pass@1 before", "pass@1 after", "tokens/sample before",
               "tokens/sample after");
        const demo_result_t *r[2] = {&off, &on};
        const char *nm[2] = {"GRPO", "GRPO + MRT"};
        for (int i = 0; i < 2; i++)
            printf("  %-16s %13.1f%% %13.1f%% %18.1f %18.1f   (%.0f s)\n", nm[i], 100 * r[i]->before, 100 * r[i]->after,
                   r[i]->tokens_before, r[i]->tokens_after, r[i]->seconds);
        double cut = off.tokens_after > 0 ? 1 - on.tokens_after / off.tokens_after : NAN;
        printf("  MRT: %.0f%% fewer completion tokens than GRPO alone, pass@1 %+.1f points\n", 100 * cut,
               100 * (on.after - off.after));
        printf("  runs: %s/grpo_no_mrt, %s/grpo_mrt (metrics.jsonl: mrt/progress, mrt/J_first, mrt/J_last, ...)\n",
               d->dir, d->dir);
        printf("  total time: %.1f s\n", rlc_now() - t0);
    }
    free(sft), free(rl), free(heldout), free(ckpt), free(init), free(sft_run);
    return rc;
}
