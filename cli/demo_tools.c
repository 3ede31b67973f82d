/* `rlc demo --task tools`: a task where a tool really helps — multiplying two- and
 * three-digit numbers, which the tiny model cannot do in its head — mixed with problems it
 * does not need one for (--easy-frac of them: a number times 1 or 10), and OTC. The model is
 * warm-started on traces that call the python tool 0-3 times (never 0 for a product; the
 * extra calls redundant: the same product asked again), then trained with GRPO from that same warm start twice,
 * without and with OTC-GRPO on the same seed; held-out pass@1 and tool calls per sample are
 * reported for both (docs/tools.md). --tool-format hermes writes the calls as <tool_call> JSON
 * answered in a ChatML tool turn instead of ```python blocks. */
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
#include "rl/loop.h"
#include "tools/tool.h"

void demo_expr_of(const char *problem, char *out, size_t cap) {
    const char *b = strncmp(problem, "Compute ", 8) ? problem : problem + 8;
    size_t n = strlen(b);
    while (n && (b[n - 1] == '.' || b[n - 1] == ' ')) n--;
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), b);
}

/* A trace with k calls of the python tool in format f, each answered as the engine answers
 * it (rlc_tool_render). */
static char *trace(rlc_tool_format_t f, const char *expr, const char *answer, int k) {
    char *s = malloc(2048);
    if (!s) return NULL;
    size_t n = 0;
    for (int j = 0; j < k && n < 1536; j++) {
        if (f == RLC_TOOL_FMT_HERMES)
            n += (size_t)snprintf(s + n, 2048 - n,
                                  "<tool_call>\n{\"name\": \"python\", \"arguments\": {\"code\": \"print(%s)\"}}\n</tool_call>",
                                  expr);
        else
            n += (size_t)snprintf(s + n, 2048 - n, "```python\nprint(%s)\n```", expr);
        size_t len;
        char *out = rlc_tool_render(f, answer, strlen(answer), &len);
        if (!out) {
            free(s);
            return NULL;
        }
        n += (size_t)snprintf(s + n, 2048 - n, "%s", out);
        free(out);
    }
    snprintf(s + n, 2048 - n, "The answer is \\boxed{%s}.", answer);
    return s;
}

/* n problems of the task: a share easy_frac of "a * 1" / "a * 10" (a of 2-3 digits: no tool
 * needed), the rest products of two 2-3 digit numbers, in a seeded random order. */
static int tools_problems(data_set_t *ds, long n, double easy_frac, uint64_t seed) {
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_digits = 2;
    o.max_digits = 3;
    o.min_operands = o.max_operands = 2;
    o.ops = "*";
    long n_easy = lround((double)n * easy_frac);
    data_set_t hard = {0};
    int rc = data_synth_arith(&hard, n - n_easy, &o, seed);
    cJSON *meta = cJSON_CreateObject();
    if (!rc && (!meta || !cJSON_AddStringToObject(meta, "task", "arith") || !cJSON_AddTrueToObject(meta, "easy")))
        rc = RLC_ENOMEM;
    rlc_rng_t rng;
    rlc_rng_init(&rng, seed, 91);
    for (long i = 0, h = 0; !rc && i < n; i++) {
        /* an easy problem with probability (easy left) / (all left): a uniform interleaving */
        if ((long)rlc_rng_below(&rng, (uint32_t)(n - i)) < n_easy - (i - h)) {
            long a = 10 + (long)rlc_rng_below(&rng, 990), k = rlc_rng_below(&rng, 2) ? 10 : 1;
            char id[48], prob[64], ans[32];
            snprintf(id, sizeof id, "easy-%llx-%ld", (unsigned long long)seed, i);
            snprintf(prob, sizeof prob, "Compute %ld * %ld.", a, k);
            snprintf(ans, sizeof ans, "%ld", a * k);
            rc = data_set_add(ds, id, prob, ans, NULL, meta);
        } else {
            data_row_t *r = &hard.rows[h++];
            rc = data_set_add(ds, r->id, r->problem, r->answer, r->solution, r->meta);
        }
    }
    cJSON_Delete(meta);
    data_set_free(&hard);
    return rc;
}

/* Warm-start traces (easy problems 0-3 calls: 10/40/30/20 %; products 1-3: 50/30/20 %), GRPO
 * and held-out problems, disjoint. */
static int tools_data(const demo_opts_t *d, char **sft, char **rl, char **heldout) {
    data_set_t a = {0}, b = {0}, ev = {0};
    long r1 = 0, r2 = 0, r3 = 0;
    int rc = tools_problems(&ev, d->n_eval, d->easy_frac, (uint64_t)d->seed * 5 + 1);
    if (!rc) rc = tools_problems(&b, d->n_rl, d->easy_frac, (uint64_t)d->seed * 5 + 2);
    if (!rc) rc = tools_problems(&a, d->n_train, d->easy_frac, (uint64_t)d->seed * 5 + 3);
    if (!rc) rc = data_set_exclude(&a, &ev, &r1);
    if (!rc) rc = data_set_exclude(&b, &ev, &r2);
    if (!rc) rc = data_set_exclude(&b, &a, &r3);
    rlc_rng_t rng;
    rlc_rng_init(&rng, (uint64_t)d->seed, 77);
    rlc_tool_format_t f = RLC_TOOL_FMT_CODE;
    if (!rc) rc = rlc_tools_parse_format(d->tool_format, &f);
    for (int i = 0; i < a.n && !rc; i++) {
        char expr[64];
        demo_expr_of(a.rows[i].problem, expr, sizeof expr);
        uint32_t u = rlc_rng_below(&rng, 10);
        int k = u < 1 ? 0 : u < 5 ? 1 : u < 8 ? 2 : 3;
        /* a product is never answered without the tool: such a trace would teach guessing */
        if (k == 0 && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a.rows[i].meta, "easy"))) k = 1;
        free(a.rows[i].solution);
        if (!(a.rows[i].solution = trace(f, expr, a.rows[i].answer, k))) rc = RLC_ENOMEM;
    }
    *sft = fs_join(d->dir, "tools_sft.jsonl");
    *rl = fs_join(d->dir, "tools_rl.jsonl");
    *heldout = fs_join(d->dir, "tools_heldout.jsonl");
    if (!rc && (!*sft || !*rl || !*heldout)) rc = RLC_ENOMEM;
    if (!rc && (!a.n || !b.n || !ev.n)) rc = rlc_errc(RLC_EINVAL, "no problems left after removing overlaps");
    if (!rc) rc = data_set_write_jsonl(&a, *sft);
    if (!rc) rc = data_set_write_jsonl(&b, *rl);
    if (!rc) rc = data_set_write_jsonl(&ev, *heldout);
    if (!rc)
        LOG_INFO("data: %d warm-start traces (0-3 python calls, 1-3 for products), %d GRPO and %d held-out problems, %.0f%% of them "
                 "a number times 1 or 10 (%ld duplicates removed)",
                 a.n, b.n, ev.n, 100 * d->easy_frac, r1 + r2 + r3);
    data_set_free(&a), data_set_free(&b), data_set_free(&ev);
    return rc;
}

/* GRPO from the warm start, with OTC or without; the run lives in DIR/<name>. */
static int tools_grpo(const demo_opts_t *d, const char *ckpt, const char *rl, const char *heldout, const char *otc,
                      const char *name, const demo_result_t *start, demo_result_t *res) {
    /* a hermes call and its tool turn take about four times the tokens of a code block */
    int hermes = !strcmp(d->tool_format, "hermes");
    const char *kv[][2] = {{"tools", "python"},
                           {"tool_format", d->tool_format},
                           {"otc", otc},
                           {"max_tool_calls", "4"},
                           {"max_new_tokens", hermes ? "448" : "160"}};
    LOG_INFO("GRPO %s OTC: %ld steps, %ld prompts x %ld samples per step", strcmp(otc, "off") ? "with" : "without",
             d->rl_steps, d->prompts, d->group);
    return demo_grpo(d, ckpt, rl, heldout, kv, 5, name, start, res);
}

int demo_tools(const demo_opts_t *d, double t0) {
    char *sft = NULL, *rl = NULL, *heldout = NULL, *ckpt = NULL;
    char *init = fs_join(d->dir, "tools_init"), *sft_run = fs_join(d->dir, "tools_sft");
    int rc = init && sft_run ? 0 : RLC_ENOMEM;
    LOG_INFO("[1/4] tiny Qwen2-shaped model and multiplication problems (2-3 digit operands; %.0f%% times 1 or 10)",
             100 * d->easy_frac);
    if (!rc) rc = write_model(init, d->seed, (int)d->hidden, (int)d->layers, d->arch);
    if (!rc) rc = tools_data(d, &sft, &rl, &heldout);
    if (!rc) rc = demo_sft(d, init, sft, sft_run, &ckpt);
    demo_result_t off = {0}, on = {0};
    if (!rc) LOG_INFO("[3/4] GRPO from the same warm start, without and with OTC");
    if (!rc) rc = tools_grpo(d, ckpt, rl, heldout, "off", "grpo_no_otc", NULL, &off);
    if (!rc) rc = tools_grpo(d, ckpt, rl, heldout, "grpo", "grpo_otc", &off, &on);
    if (!rc) {
        printf("\n[4/4] results (%s; held-out: %ld problems never trained on, 4 samples each, T=%.1f)\n", d->dir,
               d->n_eval, d->temperature);
        printf("  %-22s %14s %14s %18s %18s\n", "", "pass@1 before", "pass@1 after", "calls/sample before",
               "calls/sample after");
        const demo_result_t *r[2] = {&off, &on};
        const char *nm[2] = {"GRPO", "GRPO + OTC-GRPO"};
        for (int i = 0; i < 2; i++)
            printf("  %-22s %13.1f%% %13.1f%% %18.2f %18.2f   (%.0f s)\n", nm[i], 100 * r[i]->before, 100 * r[i]->after,
                   r[i]->calls_before, r[i]->calls_after, r[i]->seconds);
        double cut = off.calls_after > 0 ? 1 - on.calls_after / off.calls_after : NAN;
        printf("  OTC: %.0f%% fewer tool calls per sample than GRPO alone, pass@1 %+.1f points\n", 100 * cut,
               100 * (on.after - off.after));
        printf("  runs: %s/grpo_no_otc, %s/grpo_otc (metrics.jsonl: tool_calls_mean, otc_factor_mean, ...)\n", d->dir,
               d->dir);
        printf("  total time: %.1f s\n", rlc_now() - t0);
    }
    free(sft), free(rl), free(heldout), free(ckpt), free(init), free(sft_run);
    return rc;
}
