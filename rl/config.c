/* The training configuration of `rlc train`: its key table (the single source of truth for
 * defaults, file keys, flags, --help and the resolved config.json; keys shared with `rlc
 * sft` come from rl/keydefs.h) and its validation. The machinery is rl/keys.c. */
#include "rl/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "core/err.h"
#include "core/str.h"
#include "kernels/backend.h"
#include "rl/algo.h"
#include "rl/keydefs.h"
#include "tools/tool.h"

#define K(name, field, type, sect, def, help) RL_KEY(rl_config_t, field, RL_DEF(name, type, sect, def, help))
#define KE(name, field, sect, def, help, choices, ek)                                                                  \
    RL_KEY(rl_config_t, field, RL_DEFE(name, sect, def, help, choices, ek))
#define KS(field, def) RL_KEY(rl_config_t, field, def)

static const rl_config_key_t KEYS[] = {
    KE("algo", algo, S_ALG, "grpo", "advantage estimator (oreal: docs/training.md, OREAL)", "grpo|drgrpo|rloo|reinforce++|ppo|oreal", E_ADV),
    K("group_size", group_size, INT, S_ALG, "8", "G: completions sampled per prompt"),
    K("prompts_per_step", prompts_per_step, INT, S_ALG, "32", "prompts per optimizer step (after filtering)"),
    KS(micro_batch, D_MICRO_BATCH),
    KS(micro_tokens, D_MICRO_TOKENS),
    K("mini_batch", mini_batch, INT, S_ALG, "0",
      "sequences per optimizer update; 0 = the whole step batch (one update per epoch)"),
    K("ppo_epochs", ppo_epochs, INT, S_ALG, "1", "passes over each step's batch"),
    KE("adv_std", adv_std_sample, S_ALG, "sample", "GRPO std: sample (n-1, as verl) or population",
       "population|sample", E_STD),
    K("adv_eps", adv_eps, FLOAT, S_ALG, "1e-06", "GRPO: eps added to the group std"),
    K("clip_low", clip_low, FLOAT, S_ALG, "0.2", "eps_low: ratio clipped below at 1 - eps_low"),
    K("clip_high", clip_high, FLOAT, S_ALG, "0.2", "eps_high: ratio clipped above at 1 + eps_high (DAPO: 0.28)"),
    K("dual_clip", dual_clip, FLOAT, S_ALG, "0", "dual-clip constant c > 1 for A < 0 (3 typical); 0 = off"),
    K("ratio_level", ratio_level, STR, S_ALG, "token",
      "the clipped ratio per token (PPO/GRPO) or per sequence (GSPO: exp of the mean log-ratio)"),
    K("kl_coef", kl_coef, FLOAT, S_ALG, "0.001", "beta of the KL to the reference model; 0 = no reference model"),
    KE("kl_estimator", kl_estimator, S_ALG, "k3", "KL estimator", "k1|k2|k3", E_KL),
    K("entropy_coef", entropy_coef, FLOAT, S_ALG, "0", "entropy bonus coefficient"),
    KE("loss_agg", loss_agg, S_ALG, "token-mean", "loss aggregation over the global batch",
       "token-mean|seq-mean-token-mean|seq-mean-token-sum|seq-mean-token-sum-norm", E_AGG),

    K("dynamic_sampling", dynamic_sampling, BOOL, S_FLT, "false", "DAPO: drop groups whose rewards are all equal"),
    K("balanced_filter", balanced_filter, BOOL, S_FLT, "false",
      "keep only prompts with pass rate in [pass_low, pass_high]"),
    K("pass_low", pass_low, FLOAT, S_FLT, "0.2", "balanced filter: lowest pass rate kept"),
    K("pass_high", pass_high, FLOAT, S_FLT, "0.8", "balanced filter: highest pass rate kept"),
    K("max_gen_rounds", max_gen_rounds, INT, S_FLT, "3", "generation rounds per step to refill a filtered batch"),
    K("overlong_buffer", overlong_buffer, INT, S_FLT, "0", "DAPO overlong shaping buffer L_buf (tokens); 0 = off"),
    K("overlong_max_len", overlong_max_len, INT, S_FLT, "0", "overlong shaping L_max; 0 = max_new_tokens"),
    K("overlong_penalty", overlong_penalty, FLOAT, S_FLT, "1", "overlong penalty factor"),
    K("mask_truncated", mask_truncated, BOOL, S_FLT, "false", "mask truncated completions out of the loss"),

    K("behavior_logprobs", behavior_logprobs, STR, S_ALG, "recompute",
      "the ratio's old log-probs: recompute (a forward before the updates) or engine (the sampler's own)"),
    K("is_correction", is_correction, STR, S_ALG, "none",
      "correct the engine/trainer gap: none, tis (weights min(rho, is_cap)) or mis (drop outside [1/is_cap, is_cap])"),
    K("is_level", is_level, STR, S_ALG, "token", "importance ratios per token or per sequence"),
    K("is_cap", is_cap, FLOAT, S_ALG, "2", "the TIS cap / MIS bound C (> 1)"),
    K("tensorboard", tensorboard, BOOL, S_RUN, "false",
      "also write TensorBoard event files under RUN/tensorboard/ (every metric, samples as text)"),
    KS(zero_stage, D_ZERO_STAGE),
    KS(overlap_comm, D_OVERLAP_COMM),
    KS(reduce_bucket_mb, D_REDUCE_BUCKET_MB),
    K("exact_on_policy", exact_on_policy, BOOL, S_ALG, "false",
      "the policy's training forward through the engine's kernels: its log-probs equal the sampler's bit for bit"),
    K("oreal_rm_lr", oreal_rm_lr, FLOAT, S_OREAL, "2e-06", "OREAL: the token reward model's learning rate (the policy's schedule)"),
    K("oreal_pos_weight", oreal_pos_weight, FLOAT, S_OREAL, "1", "OREAL: weight of the positive samples' behaviour-cloning loss"),
    K("oreal_neg_weight", oreal_neg_weight, FLOAT, S_OREAL, "0.5", "OREAL: weight of the negative samples' policy-gradient loss"),
    K("oreal_keep_pairs", oreal_keep_pairs, BOOL, S_OREAL, "false", "OREAL: train on one random correct and one random wrong sample per prompt"),
    K("oreal_rm_warmup_steps", oreal_rm_warmup_steps, INT, S_OREAL, "10",
      "OREAL: the first steps train only the token reward model (the policy is frozen)"),

    K("gamma", gamma, FLOAT, S_PPO, "1", "GAE discount"),
    K("lam", lam, FLOAT, S_PPO, "0.95", "GAE lambda"),
    K("value_clip", value_clip, FLOAT, S_PPO, "0.2", "value-loss clip range around the old values; 0 = off"),
    K("critic_lr", critic_lr, FLOAT, S_PPO, "1e-05", "critic learning rate"),
    K("critic_model", critic_model, STR, S_PPO, "", "critic init directory; empty = the policy plus a value head"),

    K("lr", lr, FLOAT, S_OPT, "1e-06", "peak learning rate"),
    KE("lr_schedule", lr_schedule, S_OPT, "constant", "schedule after warm-up", "constant|linear|cosine", E_LR),
    KS(warmup_steps, D_WARMUP_STEPS),
    K("min_lr_ratio", min_lr_ratio, FLOAT, S_OPT, "0", "final lr as a fraction of lr (linear / cosine)"),
    K("adam_beta1", adam_beta1, FLOAT, S_OPT, "0.9", "AdamW beta1"),
    K("adam_beta2", adam_beta2, FLOAT, S_OPT, "0.999", "AdamW beta2"),
    K("adam_eps", adam_eps, FLOAT, S_OPT, "1e-08", "AdamW epsilon"),
    KS(weight_decay, D_WEIGHT_DECAY),
    KS(max_grad_norm, D_MAX_GRAD_NORM),

    K("max_new_tokens", max_new_tokens, INT, S_GEN, "1024", "completion length cap (also Dr.GRPO's max length)"),
    K("max_prompt_len", max_prompt_len, INT, S_GEN, "1024", "prompts longer than this are skipped"),
    K("temperature", temperature, FLOAT, S_GEN, "1", "sampling temperature"),
    K("kv_cache_mb", kv_cache_mb, INT, S_GEN, "0",
      "rollout KV cache in MiB; 0 = 256 on the CPU, 90% of the memory left on a GPU"),
    K("top_p", top_p, FLOAT, S_GEN, "1", "nucleus sampling mass"),
    K("top_k", top_k, INT, S_GEN, "0", "top-k sampling; 0 = off"),

    K("tools", tools, STR, S_TOOL, "", "tools the policy may call during rollouts: calculator,python,http; empty = none"),
    KS(tool_format, D_TOOL_FORMAT),
    K("max_tool_calls", max_tool_calls, INT, S_TOOL, "4", "tool calls per sample at most"),
    K("tool_timeout_s", tool_timeout_s, FLOAT, S_TOOL, "5", "wall-clock seconds per tool call"),
    K("tool_max_output_bytes", tool_max_output_bytes, INT, S_TOOL, "2048", "a call's output is cut here"),
    K("tool_workers", tool_workers, INT, S_TOOL, "8", "tool calls run at once"),
    K("tool_python", tool_python, STR, S_TOOL, "python3", "the python tool's interpreter"),
    K("tool_python_mode", tool_python_mode, STR, S_TOOL, "fork",
      "fork: calls forked from a started interpreter (~2 ms); exec: a fresh interpreter per call"),
    K("tool_python_preload", tool_python_preload, STR, S_TOOL, "",
      "modules the fork servers import once before serving, e.g. numpy,sympy"),
    K("tool_http_url", tool_http_url, STR, S_TOOL, "", "the http tool's endpoint"),
    K("tool_prompt", tool_prompt, BOOL, S_TOOL, "false",
      "put the enabled tools' description (in the tool format) before every problem"),
    K("tool_prompt_in", tool_prompt_in, STR, S_TOOL, "problem",
      "with tool_prompt: problem (the description before the problem text) or template (the tools given to the "
      "model's chat template as `tools`; hermes and llama3 formats)"),
    K("otc", otc, STR, S_TOOL, "off", "OTC tool-efficiency shaping of correct samples: off, grpo or ppo"),
    K("otc_c", otc_c, FLOAT, S_TOOL, "0", "OTC smoothing constant c; 0 = max_tool_calls"),
    K("otc_alpha", otc_alpha, FLOAT, S_TOOL, "1", "OTC alpha: r = alpha * r_tool * r for correct samples"),

    K("mrt_alpha", mrt_alpha, FLOAT, S_MRT, "0", "MRT: alpha * progress of each episode at its last token; 0 = off"),
    K("mrt_samples", mrt_samples, INT, S_MRT, "8", "MRT: answers sampled per episode prefix (K)"),
    K("mrt_temperature", mrt_temperature, FLOAT, S_MRT, "0.6", "MRT: temperature of the forced answers"),
    K("mrt_top_p", mrt_top_p, FLOAT, S_MRT, "0.95", "MRT: top-p of the forced answers"),
    K("mrt_answer_tokens", mrt_answer_tokens, INT, S_MRT, "32", "MRT: length cap of a forced answer"),
    K("mrt_max_episodes", mrt_max_episodes, INT, S_MRT, "8", "MRT: episodes per sample at most (more are merged)"),
    K("mrt_merge", mrt_merge, INT, S_MRT, "1", "MRT: merge every k consecutive episodes"),
    K("mrt_gap", mrt_gap, INT, S_MRT, "2", "MRT: a marker within this many paragraphs of the previous cut starts no episode"),
    K("mrt_markers", mrt_markers, STR, S_MRT,
      "Wait|But wait|Alternatively|Is there another way to think about this?|But let me double-check|But hold on",
      "MRT: '|'-separated words that start a new episode at a paragraph's beginning"),
    K("mrt_termination", mrt_termination, STR, S_MRT, "",
      "MRT: text appended to a prefix to force an answer; empty = the default for the answer format"),
    K("mrt_fraction", mrt_fraction, FLOAT, S_MRT, "1", "MRT: share of the step's samples that get the bonus"),
    K("mrt_baseline", mrt_baseline, STR, S_MRT, "group",
      "MRT: group (the estimator's baseline) or termination (A = r - J of the prompt forced to answer)"),

    K("total_steps", total_steps, INT, S_RUN, "100", "optimizer steps to train"),
    KS(seed, D_SEED),
    KS(save_every, D_SAVE_EVERY),
    KS(keep_last, D_KEEP_LAST),
    KS(save_dtype, D_SAVE_DTYPE),
    K("log_samples", log_samples, INT, S_RUN, "4", "completions per step written to samples.jsonl"),
    K("eval_every", eval_every, INT, S_RUN, "0", "held-out evaluation every N steps; 0 = off"),
    KS(recompute, D_RECOMPUTE),
    KS(strict, D_STRICT),
    KS(device, D_DEVICE),
    KS(threads, D_THREADS),
    KS(dist, D_DIST),

    KS(model, D_MODEL),
    K("data", data, STR, S_PATH, "",
      "training prompts: JSONL, JSON array, CSV, parquet, Arrow (.gz too), or a directory of shards"),
    K("run_dir", run_dir, STR, S_PATH, "runs/rl", "run directory: config, metrics, samples, checkpoints"),
    K("ref_model", ref_model, STR, S_PATH, "", "reference model directory; empty = the initial policy"),
    K("template", template_name, STR, S_PATH, "qwen-math-cot", "prompt template: qwen-math-cot, boxed, r1, dapo or raw"),
    K("chat_vars", chat_vars, STR, S_PATH, "",
      "variables for the model's chat template, a JSON object (e.g. {\"enable_thinking\": false})"),
    K("chat_date", chat_date, STR, S_PATH, "",
      "the day chat templates show (date_string, strftime_now): 26 Jul 2024 or 2024-07-26; empty = the day the run "
      "starts, recorded in config.json so a resume renders the same prompts"),
    K("reward", reward, STR, S_PATH, "math", "reward function"),
    K("eval_data", eval_data, STR, S_PATH, "", "held-out prompts for eval_every (the forms data takes)"),
};

static const rl_keytab_t TAB = {KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), offsetof(rl_config_t, set_)};
_Static_assert(sizeof KEYS / sizeof KEYS[0] <= RL_KEYS_MAX, "raise RL_KEYS_MAX");

void rl_config_algo_defaults(rl_config_t *c) {
    /* OREAL's reference runs a k3 KL at 0.01 (the generic default is 0.001) */
    if (c->algo == RL_ADV_OREAL && !rl_keys_was_set(&TAB, c, "kl_coef")) c->kl_coef = 0.01;
    if (c->algo == RL_ADV_OREAL && !rl_keys_was_set(&TAB, c, "kl_estimator")) c->kl_estimator = RL_KL_K3;
}

const rl_config_key_t *rl_config_keys(int *n) {
    if (n) *n = TAB.n;
    return KEYS;
}

const rl_keytab_t *rl_config_table(void) { return &TAB; }

int rl_config_find(const char *name) { return rl_keys_find(&TAB, name); }

int rl_config_init(rl_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    return rl_keys_init(&TAB, cfg);
}

void rl_config_free(rl_config_t *cfg) { rl_keys_free(&TAB, cfg); }

int rl_config_set(rl_config_t *cfg, const char *key, const char *value, const char *origin) {
    return rl_keys_set(&TAB, cfg, key, value, origin);
}

int rl_config_apply_flag(rl_config_t *cfg, const char *name, const char *value) {
    size_t n = strlen(name) + strlen(value ? value : "") + 4;
    char *arg = rlc_malloc(n);
    if (!arg) return RLC_ENOMEM;
    snprintf(arg, n, "%s%s=%s", name[0] == '-' ? "" : "--", name, value ? value : "");
    char *argv[2] = {"", arg};
    int rc = rl_keys_apply_argv(&TAB, cfg, 2, argv, NULL, NULL);
    free(arg);
    return rc;
}

int rl_config_get(const rl_config_t *cfg, const char *key, char *buf, size_t cap) {
    return rl_keys_get(&TAB, cfg, key, buf, cap);
}

int rl_config_load_json(rl_config_t *cfg, const cJSON *obj, const char *what) {
    return rl_keys_load_json(&TAB, cfg, obj, what);
}

int rl_config_load_yaml(rl_config_t *cfg, const char *text, size_t len, const char *what) {
    return rl_keys_load_yaml(&TAB, cfg, text, len, what);
}

int rl_config_load_file(rl_config_t *cfg, const char *path) { return rl_keys_load_file(&TAB, cfg, path); }

int rl_config_from_argv(rl_config_t *cfg, int argc, char **argv, int *rest, int *n_rest) {
    int rc = rl_config_init(cfg);
    if (n_rest) *n_rest = 0;
    return rc ? rc : rl_keys_apply_argv(&TAB, cfg, argc, argv, rest, n_rest);
}

long rl_config_batch_seqs(const rl_config_t *cfg) { return cfg->prompts_per_step * cfg->group_size; }

cJSON *rl_config_to_json(const rl_config_t *cfg) { return rl_keys_to_json(&TAB, cfg); }

int rl_config_write(const rl_config_t *cfg, const char *path) { return rl_keys_write(&TAB, cfg, path); }

void rl_config_print_help(FILE *f) { rl_keys_print_help(&TAB, f); }

/* ---------------------------------------------------------------- validation */

#define BAD(...) return rlc_errc(RLC_EINVAL, "config: " __VA_ARGS__)

/* "cuda:N" with N a GPU number */
static int device_is_cuda_n(const char *d) {
    if (strncmp(d, "cuda:", 5) || !d[5]) return 0;
    for (const char *p = d + 5; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return strlen(d + 5) <= 4;
}

int rl_check_device(const char *d) {
    if (!d || (strcmp(d, "auto") && strcmp(d, "cpu") && strcmp(d, "cuda") && !device_is_cuda_n(d)))
        BAD("device = '%s': choose auto, cpu, cuda or cuda:N", d ? d : "");
    return 0;
}

/* the names dist_kind_parse accepts (checked here without linking dist/) */
int rl_check_dist(const char *d) {
    if (!d || (strcasecmp(d, "auto") && strcasecmp(d, "none") && strcasecmp(d, "mpi") && strcasecmp(d, "nccl")))
        BAD("dist = '%s': choose auto, none, mpi or nccl", d ? d : "");
    return 0;
}

int rl_check_save_dtype(const char *s) {
    if (s && s[0] && strcmp(s, "float32") && strcmp(s, "bfloat16") && strcmp(s, "float16"))
        BAD("save_dtype = '%s': choose float32, bfloat16 or float16 (or empty to keep the loaded dtype)", s);
    return 0;
}

/* The tool keys (docs/tools.md). */
rlc_tools_settings_t rl_config_tools(const rl_config_t *c) {
    return (rlc_tools_settings_t){.tools = c->tools,
                                  .format = c->tool_format,
                                  .python = c->tool_python,
                                  .http_url = c->tool_http_url,
                                  .python_mode = c->tool_python_mode,
                                  .python_preload = c->tool_python_preload,
                                  .max_calls = c->max_tool_calls,
                                  .max_output_bytes = c->tool_max_output_bytes,
                                  .workers = c->tool_workers,
                                  .timeout_s = c->tool_timeout_s};
}

static int validate_tools(const rl_config_t *c) {
    const rlc_tools_settings_t ts = rl_config_tools(c);
    rlc_tools_cfg_t tc;
    if (rlc_tools_cfg_from(&ts, &tc)) return rlc_err_ctx(RLC_EINVAL, "config");
    int tools = tc.tools;
    if (strcmp(c->otc, "off") && strcmp(c->otc, "grpo") && strcmp(c->otc, "ppo"))
        BAD("otc = '%s': choose off, grpo or ppo", c->otc);
    int in_template;
    if (rlc_tools_prompt_in(c->tool_prompt_in, &in_template) ||
        (c->tool_prompt && in_template && rlc_tools_check_template_format(tc.format)))
        return rlc_err_ctx(RLC_EINVAL, "config");
    if (strcmp(c->otc, "off") && !tools) BAD("otc = %s shapes tool calls, but no tools are enabled (tools = ...)", c->otc);
    if (!(c->otc_c >= 0 && c->otc_c <= 1e6)) BAD("otc_c = %g: must lie in [0, 1e6]", c->otc_c);
    if (!(c->otc_alpha > 0 && c->otc_alpha <= 100)) BAD("otc_alpha = %g: must lie in (0, 100]", c->otc_alpha);
    return 0;
}

/* The MRT keys (docs/rewards.md). */
static int validate_mrt(const rl_config_t *c) {
    if (!(c->mrt_alpha >= 0 && c->mrt_alpha <= 100)) BAD("mrt_alpha = %g: must lie in [0, 100] (0 = off)", c->mrt_alpha);
    if (c->mrt_samples < 1 || c->mrt_samples > 256) BAD("mrt_samples = %ld: must lie in [1, 256]", c->mrt_samples);
    if (!(c->mrt_temperature >= 0 && c->mrt_temperature <= 10))
        BAD("mrt_temperature = %g: must lie in [0, 10]", c->mrt_temperature);
    if (!(c->mrt_top_p > 0 && c->mrt_top_p <= 1)) BAD("mrt_top_p = %g: must lie in (0, 1]", c->mrt_top_p);
    if (c->mrt_answer_tokens < 1 || c->mrt_answer_tokens > 65536)
        BAD("mrt_answer_tokens = %ld: must lie in [1, 65536]", c->mrt_answer_tokens);
    if (c->mrt_max_episodes < 1 || c->mrt_max_episodes > 1024)
        BAD("mrt_max_episodes = %ld: must lie in [1, 1024]", c->mrt_max_episodes);
    if (c->mrt_merge < 1 || c->mrt_merge > 1024) BAD("mrt_merge = %ld: must lie in [1, 1024]", c->mrt_merge);
    if (c->mrt_gap < 0 || c->mrt_gap > 1024) BAD("mrt_gap = %ld: must lie in [0, 1024]", c->mrt_gap);
    if (!(c->mrt_fraction >= 0 && c->mrt_fraction <= 1)) BAD("mrt_fraction = %g: must lie in [0, 1]", c->mrt_fraction);
    if (strcmp(c->mrt_baseline, "group") && strcmp(c->mrt_baseline, "termination"))
        BAD("mrt_baseline = '%s': choose group or termination", c->mrt_baseline);
    if (c->mrt_alpha > 0 && c->algo == RL_ADV_GAE && !strcmp(c->mrt_baseline, "termination"))
        BAD("mrt_baseline = termination replaces a group estimator's baseline; ppo has a critic instead");
    int any = 0;
    for (const char *p = c->mrt_markers; *p; p++) any |= *p != '|' && *p != ' ';
    if (c->mrt_alpha > 0 && !any) BAD("mrt_markers is empty: MRT needs the words that start an episode");
    return 0;
}

/* The rollout/trainer keys (docs/training.md, "Rollout and trainer agree"). */
static int validate_gap(const rl_config_t *c) {
    if (strcmp(c->behavior_logprobs, "recompute") && strcmp(c->behavior_logprobs, "engine"))
        BAD("behavior_logprobs = '%s': choose recompute or engine", c->behavior_logprobs);
    if (rl_is_parse(c->is_correction) < 0) BAD("is_correction = '%s': choose none, tis or mis", c->is_correction);
    if (strcmp(c->is_level, "token") && strcmp(c->is_level, "sequence"))
        BAD("is_level = '%s': choose token or sequence", c->is_level);
    if (strcmp(c->ratio_level, "token") && strcmp(c->ratio_level, "sequence"))
        BAD("ratio_level = '%s': choose token or sequence (GSPO)", c->ratio_level);
    if (!(c->is_cap > 1 && c->is_cap <= 1e6)) BAD("is_cap = %g: must lie in (1, 1e6]", c->is_cap);
    if (c->zero_stage == 3) BAD("zero_stage = 3 (parameters sharded too) is not built; use 0, 1 or 2");
    if (c->zero_stage < 0 || c->zero_stage > 3) BAD("zero_stage = %ld: choose 0, 1 or 2", c->zero_stage);
    if (!(c->reduce_bucket_mb > 0 && c->reduce_bucket_mb <= 65536))
        BAD("reduce_bucket_mb = %g: choose a size in (0, 65536] MiB", c->reduce_bucket_mb);
    if (strcmp(c->is_correction, "none") && !strcmp(c->behavior_logprobs, "engine"))
        BAD("is_correction = %s with behavior_logprobs = engine: the ratio is already taken against the engine",
            c->is_correction);
    if (!strcmp(c->behavior_logprobs, "engine") && c->algo == RL_ADV_OREAL)
        BAD("behavior_logprobs = engine: oreal has no ratio to take");
    return 0;
}

/* The OREAL keys, and what OREAL does not combine with. */
static int validate_oreal(const rl_config_t *c) {
    if (!(c->oreal_rm_lr > 0)) BAD("oreal_rm_lr = %g: must be > 0", c->oreal_rm_lr);
    if (!(c->oreal_pos_weight >= 0) || !(c->oreal_neg_weight >= 0))
        BAD("oreal_pos_weight and oreal_neg_weight must be >= 0 (got %g, %g)", c->oreal_pos_weight, c->oreal_neg_weight);
    if (c->oreal_rm_warmup_steps < 0) BAD("oreal_rm_warmup_steps = %ld: must be >= 0", c->oreal_rm_warmup_steps);
    if (c->algo != RL_ADV_OREAL) return 0;
    if (c->group_size < 2) BAD("group_size = %ld: oreal needs G >= 2 (its RLOO baseline and its filter)", c->group_size);
    if (c->mrt_alpha > 0) BAD("oreal takes no MRT bonus: its rewards are +-1 correctness and its token weights its own");
    if (c->dual_clip != 0) BAD("dual_clip: oreal has no clipped surrogate (its ratio is 1 by construction)");
    if (strcmp(c->ratio_level, "token")) BAD("ratio_level: oreal has no clipped surrogate (its ratio is 1)");
    if (c->entropy_coef != 0) BAD("entropy_coef: oreal has no entropy term");
    return 0;
}

int rl_config_validate(const rl_config_t *c) {
    if (validate_tools(c) || validate_mrt(c) || validate_gap(c)) return RLC_EINVAL;
    int group_algo = c->algo == RL_ADV_GRPO || c->algo == RL_ADV_DRGRPO || c->algo == RL_ADV_RLOO;
    if (c->group_size < 1 || c->group_size > 65536) BAD("group_size = %ld: must lie in [1, 65536]", c->group_size);
    if (group_algo && c->group_size < 2)
        BAD("group_size = %ld: %s needs G >= 2 (a lone sample has no group baseline)", c->group_size,
            rl_adv_name(c->algo));
    if (c->prompts_per_step < 1 || c->prompts_per_step > (1L << 20))
        BAD("prompts_per_step = %ld: must lie in [1, %ld]", c->prompts_per_step, 1L << 20);
    if (c->prompts_per_step * c->group_size > (1L << 24))
        BAD("prompts_per_step x group_size = %ld sequences per step: at most %ld", c->prompts_per_step * c->group_size,
            1L << 24);
    if (c->micro_batch < 1) BAD("micro_batch = %ld: must be at least 1", c->micro_batch);
    if (c->micro_tokens < 0) BAD("micro_tokens = %ld: must be 0 (no limit) or a token count", c->micro_tokens);
    if (c->kv_cache_mb < 0 || c->kv_cache_mb > (1L << 24)) BAD("kv_cache_mb = %ld: must be 0 (auto) or a size in MiB", c->kv_cache_mb);
    long batch = rl_config_batch_seqs(c);
    if (batch % c->micro_batch)
        BAD("the batch of %ld sequences (prompts_per_step %ld x group_size %ld) is not divisible by micro_batch %ld",
            batch, c->prompts_per_step, c->group_size, c->micro_batch);
    if (c->mini_batch < 0) BAD("mini_batch = %ld: must be >= 0", c->mini_batch);
    if (c->mini_batch > 0) {
        if (batch % c->mini_batch)
            BAD("the batch of %ld sequences is not divisible by mini_batch %ld", batch, c->mini_batch);
        if (c->mini_batch % c->micro_batch)
            BAD("mini_batch %ld is not a multiple of micro_batch %ld", c->mini_batch, c->micro_batch);
    }
    if (c->ppo_epochs < 1) BAD("ppo_epochs = %ld: must be at least 1", c->ppo_epochs);
    if (!(c->adv_eps >= 0)) BAD("adv_eps = %g: must be >= 0", c->adv_eps);
    if (!(c->clip_low > 0 && c->clip_low < 1)) BAD("clip_low = %g: must lie in (0, 1)", c->clip_low);
    if (!(c->clip_high > 0)) BAD("clip_high = %g: must be > 0", c->clip_high);
    if (c->dual_clip != 0 && !(c->dual_clip > 1)) BAD("dual_clip = %g: must be > 1 (or 0 = off)", c->dual_clip);
    if (!(c->kl_coef >= 0)) BAD("kl_coef = %g: must be >= 0", c->kl_coef);
    if (!(c->entropy_coef >= 0)) BAD("entropy_coef = %g: must be >= 0", c->entropy_coef);
    if (!(c->pass_low >= 0 && c->pass_low <= 1)) BAD("pass_low = %g: must lie in [0, 1]", c->pass_low);
    if (!(c->pass_high >= c->pass_low && c->pass_high <= 1))
        BAD("pass_high = %g: must lie in [pass_low = %g, 1]", c->pass_high, c->pass_low);
    if (c->max_gen_rounds < 1) BAD("max_gen_rounds = %ld: must be at least 1", c->max_gen_rounds);
    if (c->max_new_tokens < 1 || c->max_new_tokens > (1L << 20))
        BAD("max_new_tokens = %ld: must lie in [1, %ld]", c->max_new_tokens, 1L << 20);
    if (c->max_prompt_len < 1 || c->max_prompt_len > (1L << 20))
        BAD("max_prompt_len = %ld: must lie in [1, %ld]", c->max_prompt_len, 1L << 20);
    long lmax = c->overlong_max_len > 0 ? c->overlong_max_len : c->max_new_tokens;
    if (c->overlong_max_len < 0) BAD("overlong_max_len = %ld: must be >= 0", c->overlong_max_len);
    if (c->overlong_buffer < 0 || c->overlong_buffer >= lmax)
        BAD("overlong_buffer = %ld: must lie in [0, L_max = %ld)", c->overlong_buffer, lmax);
    if (!(c->overlong_penalty >= 0)) BAD("overlong_penalty = %g: must be >= 0", c->overlong_penalty);
    if (!(c->gamma >= 0 && c->gamma <= 1)) BAD("gamma = %g: must lie in [0, 1]", c->gamma);
    if (!(c->lam >= 0 && c->lam <= 1)) BAD("lam = %g: must lie in [0, 1]", c->lam);
    if (!(c->value_clip >= 0)) BAD("value_clip = %g: must be >= 0", c->value_clip);
    if (c->algo == RL_ADV_GAE && !(c->critic_lr > 0)) BAD("critic_lr = %g: must be > 0 for ppo", c->critic_lr);
    if (validate_oreal(c)) return RLC_EINVAL;
    if (!(c->lr > 0)) BAD("lr = %g: must be > 0", c->lr);
    if (c->warmup_steps < 0) BAD("warmup_steps = %ld: must be >= 0", c->warmup_steps);
    if (!(c->min_lr_ratio >= 0 && c->min_lr_ratio <= 1)) BAD("min_lr_ratio = %g: must lie in [0, 1]", c->min_lr_ratio);
    if (!(c->adam_beta1 >= 0 && c->adam_beta1 < 1)) BAD("adam_beta1 = %g: must lie in [0, 1)", c->adam_beta1);
    if (!(c->adam_beta2 >= 0 && c->adam_beta2 < 1)) BAD("adam_beta2 = %g: must lie in [0, 1)", c->adam_beta2);
    if (!(c->adam_eps > 0)) BAD("adam_eps = %g: must be > 0", c->adam_eps);
    if (!(c->weight_decay >= 0)) BAD("weight_decay = %g: must be >= 0", c->weight_decay);
    if (!(c->max_grad_norm >= 0)) BAD("max_grad_norm = %g: must be >= 0 (0 = no clipping)", c->max_grad_norm);
    if (!(c->temperature > 0)) BAD("temperature = %g: must be > 0", c->temperature);
    if (!(c->top_p > 0 && c->top_p <= 1)) BAD("top_p = %g: must lie in (0, 1]", c->top_p);
    if (c->top_k < 0) BAD("top_k = %ld: must be >= 0", c->top_k);
    if (c->total_steps < 1) BAD("total_steps = %ld: must be at least 1", c->total_steps);
    if (c->seed < 0) BAD("seed = %ld: must be >= 0", c->seed);
    if (c->save_every < 0) BAD("save_every = %ld: must be >= 0", c->save_every);
    if (c->keep_last < 0) BAD("keep_last = %ld: must be >= 0 (0 = keep all)", c->keep_last);
    int rc = rl_check_save_dtype(c->save_dtype);
    if (rc) return rc;
    if (c->log_samples < 0) BAD("log_samples = %ld: must be >= 0", c->log_samples);
    if (c->eval_every < 0) BAD("eval_every = %ld: must be >= 0", c->eval_every);
    if (c->threads < 0 || c->threads > RLC_MAX_THREADS)
        BAD("threads = %ld: must lie in [0, %d] (0 = all cores)", c->threads, RLC_MAX_THREADS);
    if ((rc = rl_check_device(c->device)) || (rc = rl_check_dist(c->dist))) return rc;
    if (!c->run_dir || !c->run_dir[0]) BAD("run_dir is empty");
    struct tm day;
    if (c->chat_date && c->chat_date[0] && rlc_parse_day(c->chat_date, &day))
        BAD("chat_date = '%s': give a day as 26 Jul 2024 or 2024-07-26", c->chat_date);
    return 0;
}

