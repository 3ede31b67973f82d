/* `rlc demo`: the whole pipeline on a machine with nothing downloaded. A tiny Qwen2-shaped
 * model is created, warm-started by SFT on worked multi-digit arithmetic, then trained
 * with GRPO on the same task; held-out pass@1 (problems never trained on) is measured
 * before and after, with the reward curve. With --model/--data it runs GRPO on a real model
 * and dataset instead. */
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
#include "data/synth.h"
#include "dist/dist.h"
#include "model/model.h"
#include "rl/algo.h"
#include "rl/ckpt.h"
#include "rl/config.h"
#include "rl/loop.h"
#include "rl/rundir.h"
#include "rl/sft.h"
#include "cli/demo.h"

extern const unsigned char rlc_demo_tokenizer_json[], rlc_demo_tokenizer_config[];
extern const size_t rlc_demo_tokenizer_json_len, rlc_demo_tokenizer_config_len;


void on_rl_step(void *user, const rl_step_metrics_t *m) {
    curve_t *c = user;
    if (c->n < 4096) c->reward[c->n++] = m->acc;
}

/* "▁▂▃▄▅▆▇█" sparkline of v[0..n) (bucketed to at most 60 columns). */
void sparkline(const double *v, int n, char *out, size_t cap) {
    static const char *bars[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    int cols = n < 60 ? n : 60;
    size_t k = 0;
    out[0] = 0;
    for (int c = 0; c < cols; c++) {
        int a = c * n / cols, b = (c + 1) * n / cols;
        double s = 0;
        for (int i = a; i < b; i++) s += v[i];
        double x = b > a ? s / (b - a) : 0;
        int lvl = (int)floor(x * 8);
        if (lvl < 0) lvl = 0;
        if (lvl > 7) lvl = 7;
        size_t L = strlen(bars[lvl]);
        if (k + L + 1 >= cap) break;
        memcpy(out + k, bars[lvl], L);
        k += L;
        out[k] = 0;
    }
}

/* The demo architectures: model_type, class, and what each adds to the common keys (Gemma 2
 * and 3: head_dim and its attention scalar spelled out, since their config classes' defaults are
 * 256, and every second layer sliding over 128 tokens; Gemma 2 soft-caps its attention scores
 * and logits at Gemma2Config's 50 and 30). */
static const struct {
    const char *arch, *type, *cls, *extra;
    /* a mixture of experts: 1, 8 experts of width 1.5 x hidden, 2 per token (the dense width, active);
     * 2, GLM-4.5's: 8 of width hidden, 2 per token by sigmoid scores within the best 2 of 4 groups,
     * a shared expert of width hidden, the first layer dense; 3, ERNIE 4.5's: the same widths, 2 per
     * token by softmax scores plus the correction bias, a shared expert, the first layer dense; 4,
     * DeepSeek-V3's: GLM-4.5's experts and routing under multi-head latent attention (query rank
     * 3/4 hidden, latent 1/2, rope and nope 1/8 each and values 1/4 of hidden per head, 4 kv heads) */
    int moe;
} DEMO_ARCHS[] = {
    {"qwen2", "qwen2", "Qwen2ForCausalLM", "\"hidden_act\":\"silu\"", 0},
    {"llama", "llama", "LlamaForCausalLM", "\"hidden_act\":\"silu\"", 0},
    {"gemma3", "gemma3_text", "Gemma3ForCausalLM",
     "\"head_dim\":%d,\"query_pre_attn_scalar\":%d,\"sliding_window\":128,\"sliding_window_pattern\":2", 0},
    {"olmo2", "olmo2", "Olmo2ForCausalLM", "\"hidden_act\":\"silu\"", 0},
    {"gemma2", "gemma2", "Gemma2ForCausalLM", "\"head_dim\":%d,\"query_pre_attn_scalar\":%d,\"sliding_window\":128", 0},
    {"qwen3_moe", "qwen3_moe", "Qwen3MoeForCausalLM", "\"head_dim\":%d,\"hidden_act\":\"silu\"", 1},
    {"glm4_moe", "glm4_moe", "Glm4MoeForCausalLM",
     "\"head_dim\":%d,\"hidden_act\":\"silu\",\"attention_bias\":true", 2},
    {"ernie4_5", "ernie4_5", "Ernie4_5ForCausalLM", "\"head_dim\":%d,\"hidden_act\":\"silu\"", 0},
    {"glm4", "glm4", "Glm4ForCausalLM", "\"head_dim\":%d,\"hidden_act\":\"silu\"", 0},
    {"ernie4_5_moe", "ernie4_5_moe", "Ernie4_5_MoeForCausalLM", "\"head_dim\":%d,\"hidden_act\":\"silu\"", 3},
    {"deepseek_v3", "deepseek_v3", "DeepseekV3ForCausalLM",
     "\"q_lora_rank\":%d,\"kv_lora_rank\":%d,\"qk_rope_head_dim\":%d,\"qk_nope_head_dim\":%d,\"v_head_dim\":%d", 4},
};

static int demo_arch(const char *arch) {
    for (int i = 0; i < (int)(sizeof DEMO_ARCHS / sizeof *DEMO_ARCHS); i++)
        if (!strcmp(DEMO_ARCHS[i].arch, arch ? arch : "qwen2")) return i;
    return rlc_errc(RLC_EINVAL, "--arch: qwen2, llama, gemma3, olmo2, gemma2, glm4, ernie4_5, qwen3_moe, glm4_moe, "
                    "ernie4_5_moe or deepseek_v3 (got '%s')", arch);
}

int write_model(const char *dir, long seed, int hidden, int layers, const char *arch) {
    int a = demo_arch(arch);
    if (a < 0) return a;
    int rc = fs_mkdir_p(dir);
    if (rc) return rc;
    char cfg[1024], extra[384];
    int mla = DEMO_ARCHS[a].moe == 4, n;
    if (mla)
        n = snprintf(extra, sizeof extra, DEMO_ARCHS[a].extra, hidden * 3 / 4, hidden / 2, hidden / 8, hidden / 8,
                     hidden / 4);
    else
        n = snprintf(extra, sizeof extra, DEMO_ARCHS[a].extra, hidden / 4, hidden / 4);
    if (DEMO_ARCHS[a].moe == 1)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 ",\"num_experts\":8,\"num_experts_per_tok\":2,\"norm_topk_prob\":true,\"moe_intermediate_size\":%d",
                 hidden * 3 / 2);
    if (DEMO_ARCHS[a].moe == 2 || mla)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 ",\"n_routed_experts\":8,\"num_experts_per_tok\":2,\"n_group\":4,\"topk_group\":2,"
                 "\"n_shared_experts\":1,\"first_k_dense_replace\":1,\"moe_intermediate_size\":%d",
                 hidden);
    if (DEMO_ARCHS[a].moe == 3)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 ",\"moe_num_experts\":8,\"moe_k\":2,\"moe_num_shared_experts\":1,\"moe_layer_start_index\":1,"
                 "\"moe_intermediate_size\":%d",
                 hidden);
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"%s\"],\"model_type\":\"%s\",\"vocab_size\":512,"
             "\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":4,"
             "\"num_key_value_heads\":%d,\"max_position_embeddings\":512,\"rms_norm_eps\":1e-06,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":true,%s,"
             "\"bos_token_id\":null,\"eos_token_id\":[511,509],\"pad_token_id\":509,\"torch_dtype\":\"float32\"}",
             DEMO_ARCHS[a].cls, DEMO_ARCHS[a].type, hidden, hidden * 3, layers, mla ? 4 : 2, extra);
    cJSON *j = rlc_json_parse_lit(cfg, strlen(cfg), "demo config"); /* 10000.0 saved as 10000.0 */
    if (!j) return RLC_ENOMEM;
    rlc_backend_t *be = NULL;
    rlc_model_t *m = NULL;
    rc = rlc_backend_create(&be, "cpu", 0, 1);
    if (!rc) rc = rlc_model_create(&m, j, be, (uint64_t)seed, 0.02f);
    if (!rc) rc = rlc_model_save(m, dir, NULL);
    char *p = NULL;
    if (!rc && !(p = fs_join(dir, "tokenizer.json"))) rc = RLC_ENOMEM;
    if (!rc) rc = fs_write_atomic(p, rlc_demo_tokenizer_json, rlc_demo_tokenizer_json_len);
    free(p);
    p = NULL;
    if (!rc && !(p = fs_join(dir, "tokenizer_config.json"))) rc = RLC_ENOMEM;
    if (!rc) rc = fs_write_atomic(p, rlc_demo_tokenizer_config, rlc_demo_tokenizer_config_len);
    free(p);
    rlc_model_free(m);
    rlc_backend_destroy(be);
    cJSON_Delete(j);
    return rc;
}

/* Three disjoint problem sets: the warm start's, GRPO's (fresh problems, as in real RL), and
 * the held-out set pass@1 is measured on. */
static int write_data(const char *dir, long n_sft, long n_rl, long n_eval, long seed, int min_digits, int max_digits,
                      const char *ops, double column_frac, char **sft, char **rl, char **heldout) {
    data_arith_opts_t o;
    data_arith_opts_default(&o);
    o.min_digits = min_digits;
    o.max_digits = max_digits;
    o.min_operands = 2;
    o.max_operands = 2;
    o.ops = ops;
    data_set_t a = {0}, b = {0}, ev = {0};
    long r1 = 0, r2 = 0, r3 = 0;
    int rc = data_synth_arith(&ev, n_eval, &o, (uint64_t)seed * 3 + 1);
    if (!rc) rc = data_synth_arith(&b, n_rl, &o, (uint64_t)seed * 3 + 3);
    /* The warm-start solutions mix two styles: the direct "a + b = c" and the worked column
     * by column one. Only the answers of the GRPO and held-out sets are used. */
    o.column_frac = column_frac;
    if (!rc) rc = data_synth_arith(&a, n_sft, &o, (uint64_t)seed * 3 + 2);
    if (!rc) rc = data_set_exclude(&a, &ev, &r1);
    if (!rc) rc = data_set_exclude(&b, &ev, &r2);
    if (!rc) rc = data_set_exclude(&b, &a, &r3);
    *sft = fs_join(dir, "sft.jsonl");
    *rl = fs_join(dir, "rl.jsonl");
    *heldout = fs_join(dir, "heldout.jsonl");
    if (!rc && (!*sft || !*rl || !*heldout)) rc = RLC_ENOMEM;
    if (!rc && (!a.n || !b.n)) rc = rlc_errc(RLC_EINVAL, "no problems left after removing overlaps (widen the task)");
    if (!rc) rc = data_set_write_jsonl(&a, *sft);
    if (!rc) rc = data_set_write_jsonl(&b, *rl);
    if (!rc) rc = data_set_write_jsonl(&ev, *heldout);
    if (!rc)
        LOG_INFO("data: %d warm-start, %d GRPO and %d held-out problems, pairwise disjoint (%ld duplicates removed)",
                 a.n, b.n, ev.n, r1 + r2 + r3);
    data_set_free(&a);
    data_set_free(&b);
    data_set_free(&ev);
    return rc;
}

/* Mean of a per-row value over the rows of a run's JSONL file (metrics.jsonl or
 * samples.jsonl) in the first and in the last `span` steps; `value` returns 0 when a row
 * has none. NAN for a window without rows. */
static void jsonl_window(const char *run, const char *file, long steps, long span,
                         int (*value)(const cJSON *row, const void *user, double *v), const void *user, double *first,
                         double *last) {
    *first = *last = NAN;
    char *p = fs_join(run, file);
    rlc_jsonl_t r;
    if (!p || rlc_jsonl_open(&r, p)) {
        free(p);
        return;
    }
    double n[2] = {0, 0}, sum[2] = {0, 0}, v;
    cJSON *row;
    while (rlc_jsonl_next(&r, &row) > 0) {
        const cJSON *st = cJSON_GetObjectItem(row, "step");
        if (cJSON_IsNumber(st) && value(row, user, &v)) {
            int k = st->valuedouble <= span ? 0 : st->valuedouble > steps - span ? 1 : -1;
            if (k >= 0) n[k]++, sum[k] += v;
        }
        cJSON_Delete(row);
    }
    rlc_jsonl_close(&r);
    free(p);
    if (n[0]) *first = sum[0] / n[0];
    if (n[1]) *last = sum[1] / n[1];
}

/* A logged completion written column by column: 1, else 0. */
static int is_column(const cJSON *row, const void *user, double *v) {
    (void)user;
    const cJSON *comp = cJSON_GetObjectItem(row, "completion");
    if (!cJSON_IsString(comp)) return 0;
    *v = strstr(comp->valuestring, "column by column") != NULL;
    return 1;
}

/* A numeric metric named by user. */
static int metric_value(const cJSON *row, const void *user, double *v) {
    const cJSON *x = cJSON_GetObjectItem(row, (const char *)user);
    if (!cJSON_IsNumber(x)) return 0;
    *v = x->valuedouble;
    return 1;
}

/* --task tools runs the recipe measured in bench/RESULTS.md unless a flag says otherwise. */
static void tools_defaults(const cli_opt_t *opts, int nopts, demo_opts_t *d) {
    const struct {
        const char *flag;
        long *v;
        long def;
    } ints[] = {{"--sft-steps", &d->sft_steps, 2400}, {"--rl-steps", &d->rl_steps, 60},
                {"--eval-size", &d->n_eval, 100},     {"--prompts-per-step", &d->prompts, 8}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!cli_opt(opts, nopts, ints[i].flag)->seen) *ints[i].v = ints[i].def;
    if (!cli_opt(opts, nopts, "--rl-lr")->seen) d->rl_lr = 5e-5;
}

/* Returns 1 after --help. */
static int demo_parse(int argc, char **argv, demo_opts_t *d) {
    *d = (demo_opts_t){.dir = "demo_run", .ops = "+-", .task = "arith", .algo = "grpo", .seed = 1, .sft_steps = 1200, .rl_steps = 200,
                       .n_train = 3000, .n_rl = 3000, .n_eval = 500, .hidden = 128, .layers = 4, .arch = "qwen2", .min_digits = 1,
                       .max_digits = 2, .group = 8, .prompts = 16, .sft_lr = 3e-3, .rl_lr = 2e-4,
                       .temperature = 1.0, .column_frac = 0.5, .easy_frac = 1.0 / 3, .tool_format = "code"};
    cli_opt_t opts[] = {
        {"--dir", OPT_STR, &d->dir, "working directory (model, data, runs)", 0, 0},
        {"--task", OPT_STR, &d->task,
         "arith; tools: multiplication with a python tool, GRPO without and with OTC (docs/tools.md; its own defaults: "
         "--sft-steps 2400 --rl-steps 60 --rl-lr 5e-5 --eval-size 100 --prompts-per-step 8); mrt: "
         "solutions that re-check themselves, GRPO without and with the MRT progress bonus (docs/rewards.md)",
         0, 0},
        {"--model", OPT_STR, &d->model, "run GRPO on this Hugging Face model instead of the tiny one", 0, 0},
        {"--data", OPT_STR, &d->data, "training JSONL (with --model)", 0, 0},
        {"--eval-data", OPT_STR, &d->eval_data, "held-out JSONL (with --model)", 0, 0},
        {"--template", OPT_STR, &d->template_name, "prompt template (with --model) [default: qwen-math-cot]", 0, 0},
        {"--sft-steps", OPT_INT, &d->sft_steps, "warm-start steps", 0, 0},
        {"--rl-steps", OPT_INT, &d->rl_steps, "GRPO steps", 0, 0},
        {"--train-size", OPT_INT, &d->n_train, "synthetic warm-start problems", 0, 0},
        {"--rl-size", OPT_INT, &d->n_rl, "synthetic GRPO problems (disjoint from the warm-start ones)", 0, 0},
        {"--eval-size", OPT_INT, &d->n_eval, "synthetic held-out problems", 0, 0},
        {"--min-digits", OPT_INT, &d->min_digits, "digits per operand, at least", 0, 0},
        {"--max-digits", OPT_INT, &d->max_digits, "digits per operand, at most", 0, 0},
        {"--ops", OPT_STR, &d->ops, "operators drawn from (subset of +-*)", 0, 0},
        {"--column-frac", OPT_FLOAT, &d->column_frac, "warm-start solutions worked column by column (the rest direct)",
         0, 0},
        {"--easy-frac", OPT_FLOAT, &d->easy_frac,
         "--task tools: share of problems that need no tool (a number times 1 or 10); the rest are products of two "
         "2-3 digit numbers",
         0, 0},
        {"--tool-format", OPT_STR, &d->tool_format,
         "--task tools: how the traces and the policy call the tool: code (```python blocks) or hermes (<tool_call> "
         "JSON, answered in a ChatML tool turn)",
         0, 0},
        {"--sft-lr", OPT_FLOAT, &d->sft_lr, "warm-start learning rate", 0, 0},
        {"--rl-lr", OPT_FLOAT, &d->rl_lr, "GRPO learning rate", 0, 0},
        {"--temperature", OPT_FLOAT, &d->temperature, "sampling temperature (rollouts and held-out pass@1)", 0, 0},
        {"--group-size", OPT_INT, &d->group, "GRPO samples per prompt", 0, 0},
        {"--prompts-per-step", OPT_INT, &d->prompts, "GRPO prompts per step", 0, 0},
        {"--hidden", OPT_INT, &d->hidden, "tiny model width", 0, 0},
        {"--layers", OPT_INT, &d->layers, "tiny model depth", 0, 0},
        {"--arch", OPT_STR, &d->arch,
         "tiny model architecture: qwen2, llama, gemma3 (post-norms, GeGLU, sliding layers), olmo2 (norms after the "
         "blocks only), gemma2 (gemma3's layers without q/k norms, soft-capped scores and logits), qwen3_moe (a "
         "mixture of 8 experts, 2 per token), glm4_moe (8 experts, 2 per token by sigmoid scores within expert "
         "groups, a shared expert, half-rotary heads), ernie4_5 (interleaved RoPE), ernie4_5_moe (8 experts, 2 "
         "per token by softmax scores plus a correction bias, a shared expert), glm4 (four norms a layer, "
         "interleaved half-rotary heads) or deepseek_v3 (glm4_moe's experts under multi-head latent attention)", 0, 0},
        {"--seed", OPT_INT, &d->seed, "seed for the model, data and sampling", 0, 0},
        {"--algo", OPT_STR, &d->algo,
         "the arith task's algorithm: grpo, or oreal (token reward model trained online; docs/training.md)", 0, 0},
        {"--threads", OPT_INT, &d->threads, "CPU threads (0 = all cores)", 0, 0},
        {"--quick", OPT_FLAG, &d->quick, "a much shorter run (smoke test; no learning claim)", 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), "rlc demo [options]",
                       "Warm-start a tiny model on worked arithmetic, train it with GRPO, and report held-out\n"
                       "pass@1 before and after (problems never trained on). --model/--data run GRPO on your own.");
    if (rc) return rc;
    dist_launch_t launch;
    dist_launch_detect(&launch, NULL);
    if (launch.world > 1) /* N copies would write one directory */
        return rlc_errc(RLC_EINVAL, "rlc demo runs in one process; start it without mpirun/srun (found %s=%d)",
                        launch.source, launch.world);
    if (!strcmp(d->task, "tools")) tools_defaults(opts, (int)(sizeof opts / sizeof opts[0]), d);
    if (d->quick) {
        d->sft_steps = d->sft_steps < 30 ? d->sft_steps : 30;
        d->rl_steps = d->rl_steps < 3 ? d->rl_steps : 3;
        d->n_train = d->n_train < 500 ? d->n_train : 500;
        d->n_rl = d->n_rl < 500 ? d->n_rl : 500;
        d->n_eval = d->n_eval < 20 ? d->n_eval : 20;
    }
    if ((d->model != NULL) != (d->data != NULL)) return rlc_errc(RLC_EINVAL, "--model and --data go together");
    int arch = demo_arch(d->arch);
    if (arch < 0) return arch;
    if (strcmp(d->task, "arith") && strcmp(d->task, "tools") && strcmp(d->task, "mrt"))
        return rlc_errc(RLC_EINVAL, "--task: arith, tools or mrt (got '%s')", d->task);
    if (strcmp(d->task, "arith") && d->model) return rlc_errc(RLC_EINVAL, "--task %s runs on the tiny model only", d->task);
    if (!(d->easy_frac >= 0 && d->easy_frac < 1)) return rlc_errc(RLC_EINVAL, "--easy-frac: in [0, 1) (got %g)", d->easy_frac);
    if (strcmp(d->tool_format, "code") && strcmp(d->tool_format, "hermes"))
        return rlc_errc(RLC_EINVAL, "--tool-format: code or hermes (the demo's tokenizer has no Llama 3 tokens; got '%s')",
                        d->tool_format);
    if (strcmp(d->tool_format, "code") && strcmp(d->task, "tools"))
        return rlc_errc(RLC_EINVAL, "--tool-format goes with --task tools");
    if (strcmp(d->algo, "grpo") && strcmp(d->algo, "oreal"))
        return rlc_errc(RLC_EINVAL, "--algo: grpo or oreal (got '%s')", d->algo);
    if (strcmp(d->algo, "grpo") && strcmp(d->task, "arith"))
        return rlc_errc(RLC_EINVAL, "--algo %s goes with --task arith", d->algo);
    return 0;
}

/* Set a key from a number (the demo's values are all in range). */
int set_num(rl_config_t *cfg, const char *key, double v) {
    char num[64];
    snprintf(num, sizeof num, "%.17g", v);
    return rl_config_set(cfg, key, num, "demo");
}

/* Sequences per forward/backward: the largest divisor of the step's batch up to 64. */
static long micro_of(long batch) {
    long m = batch < 64 ? batch : 64;
    while (m > 1 && batch % m) m--;
    return m;
}

int demo_grpo(const demo_opts_t *d, const char *ckpt, const char *rl, const char *heldout, const char *const (*kv)[2],
              int n_kv, const char *name, const demo_result_t *start, demo_result_t *res) {
    rl_config_t cfg;
    rl_config_init(&cfg);
    char *run = fs_join(d->dir, name);
    int rc = run ? 0 : RLC_ENOMEM;
    if (!rc) fs_rm_rf(run);
    const char *strs[][2] = {{"model", ckpt},          {"data", rl},           {"eval_data", heldout},
                             {"run_dir", run},          {"template", "raw"},
                             {"max_new_tokens", "160"}, {"kl_coef", "0"},      {"clip_high", "0.28"},
                             {"weight_decay", "0"},     {"save_every", "0"},   {"keep_last", "1"},
                             {"log_samples", "4"},      {"dynamic_sampling", "false"}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && !rc; i++) rc = rl_config_set(&cfg, strs[i][0], strs[i][1], "demo");
    struct {
        const char *k;
        double v;
    } nums[] = {{"group_size", (double)d->group}, {"prompts_per_step", (double)d->prompts},
                {"micro_batch", (double)micro_of(d->group * d->prompts)},
                {"temperature", d->temperature},  {"lr", d->rl_lr},
                {"total_steps", (double)d->rl_steps}, {"seed", (double)d->seed},
                {"threads", (double)d->threads}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && !rc; i++) rc = set_num(&cfg, nums[i].k, nums[i].v);
    for (int i = 0; i < n_kv && !rc; i++) rc = rl_config_set(&cfg, kv[i][0], kv[i][1], "demo");
    res->curve.n = 0;
    rl_run_opts_t ro = {.on_step = on_rl_step, .user = &res->curve, .quiet = 1, .skip_eval_before = start != NULL};
    double t0 = rlc_now();
    if (!rc) rc = rl_train(&cfg, &ro);
    if (start) {
        res->before = start->before, res->calls_before = start->calls_before, res->tokens_before = start->tokens_before;
    } else {
        res->before = ro.eval_before, res->calls_before = ro.eval_calls_before, res->tokens_before = ro.eval_tokens_before;
    }
    res->after = ro.eval_after, res->calls_after = ro.eval_calls_after, res->tokens_after = ro.eval_tokens_after;
    res->seconds = rlc_now() - t0;
    free(run);
    rl_config_free(&cfg);
    return rc;
}

/* The warm start: SFT of the tiny model on the worked solutions; *ckpt its checkpoint. */
int demo_sft(const demo_opts_t *d, const char *init, const char *train, const char *sft_run, char **ckpt) {
    LOG_INFO("[2/4] warm start: %ld SFT steps on worked solutions", d->sft_steps);
    rl_sft_opts_t so;
    int rc = rl_sft_defaults(&so);
    char num[64];
    struct {
        const char *k;
        double v;
    } nums[] = {{"steps", (double)d->sft_steps}, {"batch_size", 32}, {"micro_batch", 32}, {"lr", d->sft_lr},
                {"min_lr_ratio", 0.1}, {"warmup_steps", 20}, {"seed", (double)d->seed},
                {"threads", (double)d->threads}, {"keep_last", 1}, {"save_every", 0}, {"weight_decay", 0}};
    if (!rc) rc = rl_sft_set(&so, "model", init, "demo");
    if (!rc) rc = rl_sft_set(&so, "data", train, "demo");
    if (!rc) rc = rl_sft_set(&so, "run_dir", sft_run, "demo");
    if (!rc) rc = rl_sft_set(&so, "template", "raw", "demo");
    if (!rc) rc = rl_sft_set(&so, "device", "cpu", "demo");
    /* tool traces: the outputs are the tool's, not the model's to learn (as in the rollouts) */
    if (!rc && !strcmp(d->task, "tools")) rc = rl_sft_set(&so, "mask_tool_output", "true", "demo");
    if (!rc && !strcmp(d->task, "tools")) rc = rl_sft_set(&so, "tool_format", d->tool_format, "demo");
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && !rc; i++) {
        snprintf(num, sizeof num, "%.17g", nums[i].v);
        rc = rl_sft_set(&so, nums[i].k, num, "demo");
    }
    so.quiet = 1;
    fs_rm_rf(sft_run);
    if (!rc) rc = rl_sft(&so);
    rl_sft_free(&so);
    long step = 0;
    if (!rc) rc = rl_ckpt_latest(sft_run, 0, ckpt, &step) ? rlc_errc(RLC_EIO, "SFT wrote no checkpoint") : 0;
    return rc;
}

/* The tiny model, its data and warm start, and the GRPO settings that go with them. */
static int demo_tiny(const demo_opts_t *d, rl_config_t *cfg, char **rl_data_out) {
    char *train = NULL, *rl_data = NULL, *heldout = NULL, *sft_ckpt = NULL;
    char *init = fs_join(d->dir, "init"), *sft_run = fs_join(d->dir, "sft");
    int rc = (!init || !sft_run) ? RLC_ENOMEM : 0;
    LOG_INFO("[1/4] tiny %s-shaped model (hidden %ld, %ld layers, vocab 512) and synthetic arithmetic",
             d->arch ? d->arch : "qwen2", d->hidden, d->layers);
    if (!rc) rc = write_model(init, d->seed, (int)d->hidden, (int)d->layers, d->arch);
    if (!rc)
        rc = write_data(d->dir, d->n_train, d->n_rl, d->n_eval, d->seed, (int)d->min_digits, (int)d->max_digits,
                        d->ops, d->column_frac, &train, &rl_data, &heldout);
    if (!rc) rc = demo_sft(d, init, train, sft_run, &sft_ckpt);
    const char *strs[][2] = {{"model", sft_ckpt},  {"data", rl_data},         {"eval_data", heldout},
                             {"template", "raw"},  {"dynamic_sampling", "true"}, {"micro_batch", "64"},
                             {"max_new_tokens", "96"}, {"kl_coef", "0"},     {"clip_high", "0.28"},
                             {"weight_decay", "0"}, {"save_every", "0"},     {"keep_last", "1"},
                             {"log_samples", "4"}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && !rc; i++) rc = rl_config_set(cfg, strs[i][0], strs[i][1], "demo");
    if (!rc) rc = set_num(cfg, "group_size", (double)d->group);
    if (!rc) rc = set_num(cfg, "prompts_per_step", (double)d->prompts);
    if (!rc) rc = set_num(cfg, "temperature", d->temperature);
    if (!rc) rc = set_num(cfg, "lr", d->rl_lr);
    free(train), free(heldout), free(init), free(sft_run), free(sft_ckpt);
    *rl_data_out = rl_data;
    return rc;
}

static void demo_report(const demo_opts_t *d, const rl_config_t *cfg, const rl_run_opts_t *ro, const curve_t *curve,
                        const char *rl_run, double t0) {
    char line[1024];
    sparkline(curve->reward, curve->n, line, sizeof line);
    printf("\n[4/4] results (%s)\n", d->dir);
    printf("  training accuracy per step: %s  (%.2f -> %.2f)\n", line, curve->n ? curve->reward[0] : NAN,
           curve->n ? curve->reward[curve->n - 1] : NAN);
    if (d->model && !d->eval_data) {
        printf("  no --eval-data given: no held-out measurement\n");
    } else {
        if (d->model)
            printf("  held-out pass@1 (%s, 4 samples each, T=%.1f):\n", d->eval_data, cfg->temperature);
        else
            printf("  held-out pass@1 (%ld problems never trained on, 4 samples each, T=%.1f):\n", d->n_eval,
                   cfg->temperature);
        const char *an = cfg->algo == RL_ADV_OREAL ? "OREAL" : "GRPO";
        printf("    before %s: %.1f%%\n    after %s:  %.1f%%   (%+.1f points)\n", an, 100 * ro->eval_before, an,
               100 * ro->eval_after, 100 * (ro->eval_after - ro->eval_before));
    }
    if (cfg->algo == RL_ADV_OREAL) {
        long span = d->rl_steps < 60 ? (d->rl_steps + 1) / 3 : 20;
        double a0, a1, c0, c1;
        jsonl_window(rl_run, "metrics.jsonl", d->rl_steps, span, metric_value, "oreal/rm_acc", &a0, &a1);
        jsonl_window(rl_run, "metrics.jsonl", d->rl_steps, span, metric_value, "oreal/correct_frac", &c0, &c1);
        printf("  token reward model, accuracy at predicting correctness of samples it has not trained on:\n"
               "    first %ld steps %.1f%%, last %ld steps %.1f%%  (always guessing the commoner label: %.1f%%, %.1f%%)\n",
               span, 100 * a0, span, 100 * a1, 100 * fmax(c0, 1 - c0), 100 * fmax(c1, 1 - c1));
    }
    if (!d->model) {
        double f0, f1;
        jsonl_window(rl_run, "samples.jsonl", d->rl_steps, d->rl_steps < 60 ? (d->rl_steps + 1) / 3 : 20, is_column,
                     NULL, &f0, &f1);
        if (!isnan(f0) && !isnan(f1))
            printf("  worked (column by column) solutions among logged samples: %.0f%% early -> %.0f%% late\n"
                   "  (the warm start used both styles; %s learned which one earns the reward)\n",
                   100 * f0, 100 * f1, cfg->algo == RL_ADV_OREAL ? "OREAL" : "GRPO");
    }
    printf("  metrics: %s/metrics.jsonl  samples: %s/samples.jsonl  final model: %s/checkpoints/\n", rl_run, rl_run,
           rl_run);
    printf("  report: %s/report/report.md (curves as SVG; rlc report %s)\n", rl_run, rl_run);
    printf("  total time: %.1f s\n", rlc_now() - t0);
}

int cmd_demo(int argc, char **argv) {
    demo_opts_t d;
    int rc = demo_parse(argc, argv, &d);
    if (rc) return rc > 0 ? 0 : cli_fail();
    double t0 = rlc_now();
    if ((rc = fs_mkdir_p(d.dir))) return cli_fail();
    if (!strcmp(d.task, "tools")) return demo_tools(&d, t0) ? cli_fail() : 0;
    if (!strcmp(d.task, "mrt")) return demo_mrt(&d, t0) ? cli_fail() : 0;
    char *rl_data = NULL, *rl_run = NULL;
    rl_config_t cfg;
    rl_config_init(&cfg);
    curve_t curve = {.n = 0};
    rl_run_opts_t ro = {.on_step = on_rl_step, .user = &curve};
    if (!d.model) {
        rc = demo_tiny(&d, &cfg, &rl_data);
    } else {
        static const char *const model_key[1] = {"model"}; /* a model directory or a run */
        rl_config_set(&cfg, "model", d.model, "demo");
        rc = rl_keys_resolve_models(rl_config_table(), &cfg, model_key, 1);
        rl_config_set(&cfg, "data", d.data, "demo");
        if (d.eval_data) rl_config_set(&cfg, "eval_data", d.eval_data, "demo");
        if (d.template_name) rl_config_set(&cfg, "template", d.template_name, "demo");
    }
    if (!rc && !strcmp(d.algo, "oreal")) { /* the reference's settings, scaled to the tiny model (docs/training.md) */
        const char *kv[][2] = {{"algo", "oreal"}, {"kl_coef", "0.01"}, {"kl_estimator", "k3"},
                               {"oreal_rm_warmup_steps", "10"}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0] && !rc; i++) rc = rl_config_set(&cfg, kv[i][0], kv[i][1], "demo");
        if (!rc) rc = set_num(&cfg, "oreal_rm_lr", 4 * cfg.lr); /* 2e-6 vs 5e-7 in the reference */
    }
    if (!rc) {
        rl_run = fs_join(d.dir, d.algo); /* grpo/ or oreal/ */
        if (!rl_run) rc = RLC_ENOMEM;
        if (!rc) fs_rm_rf(rl_run);
        if (!rc) rc = rl_config_set(&cfg, "run_dir", rl_run, "demo");
        if (!rc) rc = set_num(&cfg, "total_steps", (double)d.rl_steps);
        if (!rc) rc = set_num(&cfg, "seed", (double)d.seed);
        if (!rc) rc = set_num(&cfg, "threads", (double)d.threads);
    }
    if (!rc) {
        LOG_INFO("[3/4] GRPO: %ld steps, %ld prompts x %ld samples per step", d.rl_steps, cfg.prompts_per_step,
                 cfg.group_size);
        rc = rl_train(&cfg, &ro);
    }
    if (!rc) demo_report(&d, &cfg, &ro, &curve, rl_run, t0);
    free(rl_data), free(rl_run);
    rl_config_free(&cfg);
    return rc ? cli_fail() : 0;
}
