/* Training configuration: the key table is the single source of truth for defaults, file
 * keys, flags, --help and the resolved config.json, so adding a knob is one table line.
 * Files are flat mappings (JSON object or YAML mapping of scalars); flags override them. */
#include "rl/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "rl/algo.h"

enum { E_NONE = 0, E_ADV, E_KL, E_AGG, E_LR, E_STD };

#define OFF(f) offsetof(rl_config_t, f)
#define K(name, field, type, sect, def, help) {name, RL_CFG_##type, sect, def, help, NULL, OFF(field), E_NONE}
#define KE(name, field, sect, def, help, choices, ek) {name, RL_CFG_ENUM, sect, def, help, choices, OFF(field), ek}

static const char S_ALG[] = "algorithm", S_FLT[] = "filtering and shaping", S_PPO[] = "PPO critic",
                  S_OPT[] = "optimizer and schedule", S_GEN[] = "generation", S_RUN[] = "run",
                  S_PATH[] = "paths";

static const rl_config_key_t KEYS[] = {
    KE("algo", algo, S_ALG, "grpo", "advantage estimator", "grpo|drgrpo|rloo|reinforce++|ppo", E_ADV),
    K("group_size", group_size, INT, S_ALG, "8", "G: completions sampled per prompt"),
    K("prompts_per_step", prompts_per_step, INT, S_ALG, "32", "prompts per optimizer step (after filtering)"),
    K("micro_batch", micro_batch, INT, S_ALG, "8", "sequences per forward/backward pass (gradient accumulation unit)"),
    K("micro_tokens", micro_tokens, INT, S_ALG, "0",
      "and at most this many tokens per pass (a longer sequence runs alone); 0 = no token limit"),
    K("mini_batch", mini_batch, INT, S_ALG, "0",
      "sequences per optimizer update; 0 = the whole step batch (one update per epoch)"),
    K("ppo_epochs", ppo_epochs, INT, S_ALG, "1", "passes over each step's batch"),
    KE("adv_std", adv_std_sample, S_ALG, "sample", "GRPO std: sample (n-1, as verl) or population",
       "population|sample", E_STD),
    K("adv_eps", adv_eps, FLOAT, S_ALG, "1e-06", "GRPO: eps added to the group std"),
    K("clip_low", clip_low, FLOAT, S_ALG, "0.2", "eps_low: ratio clipped below at 1 - eps_low"),
    K("clip_high", clip_high, FLOAT, S_ALG, "0.2", "eps_high: ratio clipped above at 1 + eps_high (DAPO: 0.28)"),
    K("dual_clip", dual_clip, FLOAT, S_ALG, "0", "dual-clip constant c > 1 for A < 0 (3 typical); 0 = off"),
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

    K("gamma", gamma, FLOAT, S_PPO, "1", "GAE discount"),
    K("lam", lam, FLOAT, S_PPO, "0.95", "GAE lambda"),
    K("value_clip", value_clip, FLOAT, S_PPO, "0.2", "value-loss clip range around the old values; 0 = off"),
    K("critic_lr", critic_lr, FLOAT, S_PPO, "1e-05", "critic learning rate"),
    K("critic_model", critic_model, STR, S_PPO, "", "critic init directory; empty = the policy plus a value head"),

    K("lr", lr, FLOAT, S_OPT, "1e-06", "peak learning rate"),
    KE("lr_schedule", lr_schedule, S_OPT, "constant", "schedule after warm-up", "constant|linear|cosine", E_LR),
    K("warmup_steps", warmup_steps, INT, S_OPT, "0", "linear warm-up steps"),
    K("min_lr_ratio", min_lr_ratio, FLOAT, S_OPT, "0", "final lr as a fraction of lr (linear / cosine)"),
    K("adam_beta1", adam_beta1, FLOAT, S_OPT, "0.9", "AdamW beta1"),
    K("adam_beta2", adam_beta2, FLOAT, S_OPT, "0.999", "AdamW beta2"),
    K("adam_eps", adam_eps, FLOAT, S_OPT, "1e-08", "AdamW epsilon"),
    K("weight_decay", weight_decay, FLOAT, S_OPT, "0.01", "AdamW decoupled weight decay (matrices only)"),
    K("max_grad_norm", max_grad_norm, FLOAT, S_OPT, "1", "clip the global gradient norm; 0 = off"),

    K("max_new_tokens", max_new_tokens, INT, S_GEN, "1024", "completion length cap (also Dr.GRPO's max length)"),
    K("max_prompt_len", max_prompt_len, INT, S_GEN, "1024", "prompts longer than this are skipped"),
    K("temperature", temperature, FLOAT, S_GEN, "1", "sampling temperature"),
    K("kv_cache_mb", kv_cache_mb, INT, S_GEN, "0",
      "rollout KV cache in MiB; 0 = 256 on the CPU, 90% of the memory left on a GPU"),
    K("top_p", top_p, FLOAT, S_GEN, "1", "nucleus sampling mass"),
    K("top_k", top_k, INT, S_GEN, "0", "top-k sampling; 0 = off"),

    K("total_steps", total_steps, INT, S_RUN, "100", "optimizer steps to train"),
    K("seed", seed, INT, S_RUN, "1", "seed of data order, sampling and initialization"),
    K("save_every", save_every, INT, S_RUN, "50", "checkpoint every N steps (and at the end); 0 = only at the end"),
    K("keep_last", keep_last, INT, S_RUN, "3", "checkpoints kept; 0 = all"),
    K("save_dtype", save_dtype, STR, S_RUN, "", "checkpoint weight dtype: float32|bfloat16|float16; empty = as loaded"),
    K("log_samples", log_samples, INT, S_RUN, "4", "completions per step written to samples.jsonl"),
    K("eval_every", eval_every, INT, S_RUN, "0", "held-out evaluation every N steps; 0 = off"),
    K("recompute", recompute, BOOL, S_RUN, "false", "recompute layer activations in backward (saves memory)"),
    K("device", device, STR, S_RUN, "auto", "auto|cpu|cuda|cuda:N"),
    K("threads", threads, INT, S_RUN, "0", "CPU threads; 0 = all (under mpirun: the node's cores shared by its ranks)"),
    K("dist", dist, STR, S_RUN, "auto",
      "data parallel: auto|none|mpi|nccl; auto = MPI when launched by mpirun/srun (NCCL on GPUs), else one process"),

    K("model", model, STR, S_PATH, "", "policy model directory (Hugging Face format)"),
    K("data", data, STR, S_PATH, "", "training prompts (JSONL)"),
    K("run_dir", run_dir, STR, S_PATH, "runs/rl", "run directory: config, metrics, samples, checkpoints"),
    K("ref_model", ref_model, STR, S_PATH, "", "reference model directory; empty = the initial policy"),
    K("template", template_name, STR, S_PATH, "qwen-math-cot", "prompt template: qwen-math-cot, boxed, r1, dapo or raw"),
    K("reward", reward, STR, S_PATH, "math", "reward function"),
    K("eval_data", eval_data, STR, S_PATH, "", "held-out prompts for eval_every (JSONL)"),
};

#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

const rl_config_key_t *rl_config_keys(int *n) {
    if (n) *n = NKEYS;
    return KEYS;
}

/* "--clip-high" / "clip-high" / "clip_high" -> "clip_high" */
static void norm_name(const char *in, char *out, size_t cap) {
    while (*in == '-') in++;
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = in[i] == '-' ? '_' : in[i];
    out[i] = 0;
}

int rl_config_find(const char *name) {
    if (!name) return -1;
    char n[96];
    norm_name(name, n, sizeof n);
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(n, KEYS[i].name)) return i;
    return -1;
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* The closest key name if it is close enough to be a typo, else NULL. */
static const char *suggest(const char *name) {
    char n[96];
    norm_name(name, n, sizeof n);
    size_t best = 99;
    const char *bk = NULL;
    for (int i = 0; i < NKEYS; i++) {
        size_t d = edit_distance(n, KEYS[i].name);
        if (d < best) best = d, bk = KEYS[i].name;
    }
    size_t lim = strlen(n) / 3;
    if (lim < 2) lim = 2;
    return best <= lim ? bk : NULL;
}

static int unknown_key(const char *origin, const char *key, int flag) {
    const char *s = suggest(key);
    char hint[128] = "";
    if (s) {
        if (flag) {
            char f[96];
            snprintf(f, sizeof f, "%s", s);
            for (char *p = f; *p; p++)
                if (*p == '_') *p = '-';
            snprintf(hint, sizeof hint, " (did you mean --%s?)", f);
        } else {
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
        }
    }
    if (flag) return rlc_errc(RLC_EINVAL, "unknown flag %s%s", key, hint);
    return rlc_errc(RLC_EINVAL, "%s: unknown key '%s'%s", origin, key, hint);
}

/* ---------------------------------------------------------------- enums */

static int enum_parse(int ek, const char *v) {
    switch (ek) {
    case E_ADV: return rl_adv_parse(v);
    case E_KL: return rl_kl_parse(v);
    case E_AGG: return rl_agg_parse(v);
    case E_LR: return rl_lr_parse(v);
    case E_STD:
        if (!strcasecmp(v, "population") || !strcasecmp(v, "pop")) return 0;
        if (!strcasecmp(v, "sample") || !strcasecmp(v, "unbiased")) return 1;
        return -1;
    }
    return -1;
}

static const char *enum_name(int ek, int v) {
    switch (ek) {
    case E_ADV: return rl_adv_name(v);
    case E_KL: return rl_kl_name(v);
    case E_AGG: return rl_agg_name(v);
    case E_LR: return rl_lr_name(v);
    case E_STD: return v ? "sample" : "population";
    }
    return "?";
}

/* ---------------------------------------------------------------- typed set/get */

static int parse_bool(const char *v, int *out) {
    static const char *const t[] = {"true", "1", "yes", "on"}, *const f[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, t[i])) return *out = 1, 0;
        if (!strcasecmp(v, f[i])) return *out = 0, 0;
    }
    return -1;
}

static int parse_long(const char *v, long *out) {
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno == 0 && end != v && *end == 0) {
        *out = (long)x;
        return 0;
    }
    /* "1e3" and "100.0" are accepted when they are integral */
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) return -1;
    *out = (long)d;
    return 0;
}

static int parse_double(const char *v, double *out) {
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (errno == ERANGE || end == v || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int set_idx(rl_config_t *cfg, int i, const char *v, const char *origin) {
    const rl_config_key_t *k = &KEYS[i];
    void *p = (char *)cfg + k->offset;
    const char *kn = k->name;
    switch (k->type) {
    case RL_CFG_BOOL:
        if (parse_bool(v, (int *)p)) return rlc_errc(RLC_EINVAL, "%s: %s: expected true or false, got '%s'", origin, kn, v);
        return 0;
    case RL_CFG_INT:
        if (parse_long(v, (long *)p)) return rlc_errc(RLC_EINVAL, "%s: %s: expected an integer, got '%s'", origin, kn, v);
        return 0;
    case RL_CFG_FLOAT:
        if (parse_double(v, (double *)p))
            return rlc_errc(RLC_EINVAL, "%s: %s: expected a finite number, got '%s'", origin, kn, v);
        return 0;
    case RL_CFG_ENUM: {
        int e = enum_parse(k->enum_kind, v);
        if (e < 0) return rlc_errc(RLC_EINVAL, "%s: %s: unknown value '%s' (choose %s)", origin, kn, v, k->choices);
        *(int *)p = e;
        return 0;
    }
    case RL_CFG_STR: {
        char *s = rlc_strdup(v);
        if (!s) return RLC_ENOMEM;
        free(*(char **)p);
        *(char **)p = s;
        return 0;
    }
    }
    return rlc_errc(RLC_EINVAL, "%s: %s: bad key type", origin, kn);
}

int rl_config_set(rl_config_t *cfg, const char *key, const char *value, const char *origin) {
    int i = rl_config_find(key);
    if (i < 0) return unknown_key(origin ? origin : "config", key, 0);
    return set_idx(cfg, i, value ? value : "", origin ? origin : "config");
}

int rl_config_apply_flag(rl_config_t *cfg, const char *name, const char *value) {
    int i = rl_config_find(name);
    if (i < 0) return unknown_key("command line", name, 1);
    char origin[112];
    snprintf(origin, sizeof origin, "flag %s%s", name[0] == '-' ? "" : "--", name);
    return set_idx(cfg, i, value ? value : "", origin);
}

static void fmt_double(double d, char *buf, size_t cap) {
    /* shortest %g that reads back exactly */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

int rl_config_get(const rl_config_t *cfg, const char *key, char *buf, size_t cap) {
    int i = rl_config_find(key);
    if (i < 0) return unknown_key("config", key, 0);
    const rl_config_key_t *k = &KEYS[i];
    const void *p = (const char *)cfg + k->offset;
    switch (k->type) {
    case RL_CFG_BOOL: snprintf(buf, cap, "%s", *(const int *)p ? "true" : "false"); break;
    case RL_CFG_INT: snprintf(buf, cap, "%ld", *(const long *)p); break;
    case RL_CFG_FLOAT: fmt_double(*(const double *)p, buf, cap); break;
    case RL_CFG_ENUM: snprintf(buf, cap, "%s", enum_name(k->enum_kind, *(const int *)p)); break;
    case RL_CFG_STR: snprintf(buf, cap, "%s", *(char *const *)p ? *(char *const *)p : ""); break;
    }
    return 0;
}

int rl_config_init(rl_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < NKEYS; i++) {
        int rc = set_idx(cfg, i, KEYS[i].def, "default");
        if (rc) {
            rl_config_free(cfg);
            return rc;
        }
    }
    return 0;
}

void rl_config_free(rl_config_t *cfg) {
    for (int i = 0; i < NKEYS; i++)
        if (KEYS[i].type == RL_CFG_STR) {
            char **p = (char **)((char *)cfg + KEYS[i].offset);
            free(*p);
            *p = NULL;
        }
}

long rl_config_batch_seqs(const rl_config_t *cfg) { return cfg->prompts_per_step * cfg->group_size; }

/* ---------------------------------------------------------------- JSON */

int rl_config_load_json(rl_config_t *cfg, const cJSON *obj, const char *what) {
    if (!cJSON_IsObject(obj)) return rlc_errc(RLC_EINVAL, "%s: the config must be a JSON object of key: value", what);
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        int i = rl_config_find(key);
        if (i < 0) return unknown_key(what, key, 0);
        for (const cJSON *j = obj->child; j != it; j = j->next)
            if (j->string && rl_config_find(j->string) == i)
                return rlc_errc(RLC_EINVAL, "%s: key '%s' given twice", what, key);
        rl_cfg_type_t t = KEYS[i].type;
        char buf[64];
        const char *v = NULL;
        if (cJSON_IsString(it)) {
            v = it->valuestring;
        } else if (cJSON_IsNumber(it) && (t == RL_CFG_INT || t == RL_CFG_FLOAT)) {
            fmt_double(it->valuedouble, buf, sizeof buf);
            v = buf;
        } else if (cJSON_IsBool(it) && t == RL_CFG_BOOL) {
            v = cJSON_IsTrue(it) ? "true" : "false";
        } else if (cJSON_IsNull(it) && t == RL_CFG_STR) {
            v = "";
        } else {
            static const char *const tn[] = {"true or false", "an integer", "a number", "a string", "a string"};
            return rlc_errc(RLC_EINVAL, "%s: %s: expected %s", what, key, tn[t]);
        }
        int rc = set_idx(cfg, i, v, what);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- YAML */

static int yaml_fail(yaml_parser_t *p, const char *what) {
    return rlc_errc(RLC_EFMT, "%s:%zu:%zu: malformed YAML: %s", what, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, p->problem ? p->problem : "parse error");
}

int rl_config_load_yaml(rl_config_t *cfg, const char *text, size_t len, const char *what) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return rlc_errc(RLC_ENOMEM, "%s: cannot initialize the YAML parser", what);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0, depth = 0, done = 0, have_map = 0;
    char *key = NULL;
    size_t key_line = 0;
    unsigned char seen[sizeof KEYS / sizeof KEYS[0]] = {0};
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_fail(&p, what);
            break;
        }
        size_t line = ev.start_mark.line + 1;
        char origin[600];
        snprintf(origin, sizeof origin, "%s:%zu", what, line);
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT: break;
        case YAML_DOCUMENT_START_EVENT:
            if (have_map) rc = rlc_errc(RLC_EINVAL, "%s: only one YAML document is allowed", origin);
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth == 0 && !have_map) {
                depth = 1;
                have_map = 1;
            } else {
                rc = rlc_errc(RLC_EINVAL, "%s: %s: nested mappings are not allowed (keys are flat)", origin,
                              key ? key : "?");
            }
            break;
        case YAML_MAPPING_END_EVENT: depth = 0; break;
        case YAML_SEQUENCE_START_EVENT:
            rc = rlc_errc(RLC_EINVAL, "%s: %s: lists are not allowed (every value is a scalar)", origin,
                          key ? key : "the document");
            break;
        case YAML_ALIAS_EVENT: rc = rlc_errc(RLC_EINVAL, "%s: YAML aliases are not supported", origin); break;
        case YAML_SCALAR_EVENT: {
            const char *val = (const char *)ev.data.scalar.value;
            if (depth == 0) {
                /* A bare scalar document: only an empty one (a comments-only file) is fine. */
                if (ev.data.scalar.length)
                    rc = rlc_errc(RLC_EINVAL, "%s: the config must be a mapping of key: value", origin);
                break;
            }
            if (!key) {
                int i = rl_config_find(val);
                if (i < 0) {
                    rc = unknown_key(origin, val, 0);
                } else if (seen[i]) {
                    rc = rlc_errc(RLC_EINVAL, "%s: key '%s' given twice", origin, val);
                } else {
                    seen[i] = 1;
                    key = rlc_strdup(val);
                    key_line = line;
                    if (!key) rc = RLC_ENOMEM;
                }
            } else {
                int i = rl_config_find(key);
                int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                int is_null = plain && (!strcmp(val, "") || !strcmp(val, "~") || !strcasecmp(val, "null"));
                snprintf(origin, sizeof origin, "%s:%zu", what, key_line);
                if (is_null && KEYS[i].type != RL_CFG_STR)
                    rc = rlc_errc(RLC_EINVAL, "%s: %s: needs a value", origin, key);
                else
                    rc = set_idx(cfg, i, is_null ? "" : val, origin);
                free(key);
                key = NULL;
            }
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
    }
    free(key);
    yaml_parser_delete(&p);
    return rc;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

int rl_config_load_file(rl_config_t *cfg, const char *path) {
    char *text;
    size_t len;
    int rc = fs_read_all(path, &text, &len);
    if (rc) return rlc_err_ctx(rc, "config");
    int json;
    if (ends_with(path, ".json"))
        json = 1;
    else if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
        json = 0;
    else {
        const char *s = text;
        while (isspace((unsigned char)*s)) s++;
        json = *s == '{';
    }
    if (json) {
        cJSON *obj = rlc_json_parse(text, len, path);
        rc = obj ? rl_config_load_json(cfg, obj, path) : RLC_EFMT;
        cJSON_Delete(obj);
    } else {
        rc = rl_config_load_yaml(cfg, text, len, path);
    }
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- argv */

static int is_bool_word(const char *s) {
    int b;
    return s && parse_bool(s, &b) == 0;
}

int rl_config_from_argv(rl_config_t *cfg, int argc, char **argv, int *rest, int *n_rest) {
    int rc = rl_config_init(cfg);
    if (rc) return rc;
    if (n_rest) *n_rest = 0;
    /* The file first, so flags override it wherever they appear. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *path = NULL;
        if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) return rlc_errc(RLC_EINVAL, "--config needs a file");
            path = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            path = a + 9;
        }
        if (path && (rc = rl_config_load_file(cfg, path))) return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        int idx = -1, negate = 0;
        char name[96];
        const char *eq = NULL;
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            if (nl >= sizeof name) nl = sizeof name - 1;
            memcpy(name, a, nl);
            name[nl] = 0;
            idx = rl_config_find(name);
            if (idx < 0 && !strncmp(name, "--no-", 5) && !eq) {
                idx = rl_config_find(name + 5);
                if (idx >= 0 && KEYS[idx].type == RL_CFG_BOOL)
                    negate = 1;
                else
                    idx = -1;
            }
        }
        if (idx < 0) {
            if (rest) {
                rest[(*n_rest)++] = i;
                continue;
            }
            if (a[0] == '-' && a[1] == '-') return unknown_key("command line", a[2] ? name : a, 1);
            return rlc_errc(RLC_EINVAL, "unexpected argument '%s'", a);
        }
        char origin[112];
        snprintf(origin, sizeof origin, "flag %s", name);
        const char *v;
        if (negate)
            v = "false";
        else if (eq)
            v = eq + 1;
        else if (KEYS[idx].type == RL_CFG_BOOL)
            v = (i + 1 < argc && is_bool_word(argv[i + 1])) ? argv[++i] : "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return rlc_errc(RLC_EINVAL, "%s needs a value", name);
        if ((rc = set_idx(cfg, idx, v, origin))) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- validation */

#define BAD(...) return rlc_errc(RLC_EINVAL, "config: " __VA_ARGS__)

/* "cuda:N" with N a GPU number */
static int device_is_cuda_n(const char *d) {
    if (strncmp(d, "cuda:", 5) || !d[5]) return 0;
    for (const char *p = d + 5; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return strlen(d + 5) <= 4;
}

int rl_config_validate(const rl_config_t *c) {
    int group_algo = c->algo == RL_ADV_GRPO || c->algo == RL_ADV_DRGRPO || c->algo == RL_ADV_RLOO;
    if (c->group_size < 1) BAD("group_size = %ld: must be at least 1", c->group_size);
    if (group_algo && c->group_size < 2)
        BAD("group_size = %ld: %s needs G >= 2 (a lone sample has no group baseline)", c->group_size,
            rl_adv_name(c->algo));
    if (c->prompts_per_step < 1) BAD("prompts_per_step = %ld: must be at least 1", c->prompts_per_step);
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
    if (c->max_new_tokens < 1) BAD("max_new_tokens = %ld: must be at least 1", c->max_new_tokens);
    if (c->max_prompt_len < 1) BAD("max_prompt_len = %ld: must be at least 1", c->max_prompt_len);
    long lmax = c->overlong_max_len > 0 ? c->overlong_max_len : c->max_new_tokens;
    if (c->overlong_max_len < 0) BAD("overlong_max_len = %ld: must be >= 0", c->overlong_max_len);
    if (c->overlong_buffer < 0 || c->overlong_buffer >= lmax)
        BAD("overlong_buffer = %ld: must lie in [0, L_max = %ld)", c->overlong_buffer, lmax);
    if (!(c->overlong_penalty >= 0)) BAD("overlong_penalty = %g: must be >= 0", c->overlong_penalty);
    if (!(c->gamma >= 0 && c->gamma <= 1)) BAD("gamma = %g: must lie in [0, 1]", c->gamma);
    if (!(c->lam >= 0 && c->lam <= 1)) BAD("lam = %g: must lie in [0, 1]", c->lam);
    if (!(c->value_clip >= 0)) BAD("value_clip = %g: must be >= 0", c->value_clip);
    if (c->algo == RL_ADV_GAE && !(c->critic_lr > 0)) BAD("critic_lr = %g: must be > 0 for ppo", c->critic_lr);
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
    if (c->save_dtype && c->save_dtype[0] && strcmp(c->save_dtype, "float32") && strcmp(c->save_dtype, "bfloat16") &&
        strcmp(c->save_dtype, "float16"))
        BAD("save_dtype = '%s': choose float32, bfloat16 or float16 (or empty to keep the loaded dtype)",
            c->save_dtype);
    if (c->log_samples < 0) BAD("log_samples = %ld: must be >= 0", c->log_samples);
    if (c->eval_every < 0) BAD("eval_every = %ld: must be >= 0", c->eval_every);
    if (c->threads < 0) BAD("threads = %ld: must be >= 0", c->threads);
    if (!c->device || (strcmp(c->device, "auto") && strcmp(c->device, "cpu") && strcmp(c->device, "cuda") &&
                       !device_is_cuda_n(c->device)))
        BAD("device = '%s': choose auto, cpu, cuda or cuda:N", c->device ? c->device : "");
    /* the names dist_kind_parse accepts (checked here without linking dist/) */
    if (!c->dist || (strcasecmp(c->dist, "auto") && strcasecmp(c->dist, "none") && strcasecmp(c->dist, "mpi") &&
                     strcasecmp(c->dist, "nccl")))
        BAD("dist = '%s': choose auto, none, mpi or nccl", c->dist ? c->dist : "");
    if (!c->run_dir || !c->run_dir[0]) BAD("run_dir is empty");
    return 0;
}

/* ---------------------------------------------------------------- output */

cJSON *rl_config_to_json(const rl_config_t *cfg) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; i < NKEYS; i++) {
        const rl_config_key_t *k = &KEYS[i];
        const void *p = (const char *)cfg + k->offset;
        cJSON *v = NULL;
        switch (k->type) {
        case RL_CFG_BOOL: v = cJSON_CreateBool(*(const int *)p); break;
        case RL_CFG_INT: v = cJSON_CreateNumber((double)*(const long *)p); break;
        case RL_CFG_FLOAT: v = cJSON_CreateNumber(*(const double *)p); break;
        case RL_CFG_ENUM: v = cJSON_CreateString(enum_name(k->enum_kind, *(const int *)p)); break;
        case RL_CFG_STR: {
            const char *s = *(char *const *)p;
            v = cJSON_CreateString(s ? s : "");
            break;
        }
        }
        if (!v) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, k->name, v);
    }
    return o;
}

int rl_config_write(const rl_config_t *cfg, const char *path) {
    cJSON *o = rl_config_to_json(cfg);
    if (!o) return rlc_errc(RLC_ENOMEM, "out of memory writing %s", path);
    char *txt = rlc_json_print(o, 1);
    cJSON_Delete(o);
    if (!txt) return RLC_ENOMEM;
    size_t n = strlen(txt);
    char *buf = rlc_realloc(txt, n + 2);
    if (!buf) {
        free(txt);
        return RLC_ENOMEM;
    }
    buf[n] = '\n';
    buf[n + 1] = 0;
    int rc = fs_write_atomic(path, buf, n + 1);
    free(buf);
    return rc;
}

void rl_config_print_help(FILE *f) {
    static const char *const tn[] = {"", "INT", "FLOAT", "STR", ""};
    const char *sect = NULL;
    for (int i = 0; i < NKEYS; i++) {
        const rl_config_key_t *k = &KEYS[i];
        if (!sect || strcmp(sect, k->section)) {
            sect = k->section;
            fprintf(f, "\n%s:\n", sect);
        }
        char flag[128];
        int n = snprintf(flag, sizeof flag, "--%s", k->name);
        for (int j = 2; j < n; j++)
            if (flag[j] == '_') flag[j] = '-';
        if (k->type == RL_CFG_ENUM)
            snprintf(flag + n, sizeof flag - (size_t)n, " {%s}", k->choices);
        else if (tn[k->type][0])
            snprintf(flag + n, sizeof flag - (size_t)n, " %s", tn[k->type]);
        const char *def = k->def[0] ? k->def : "\"\"";
        if (strlen(flag) > 30)
            fprintf(f, "  %s\n  %-30s %s (default %s)\n", flag, "", k->help, def);
        else
            fprintf(f, "  %-30s %s (default %s)\n", flag, k->help, def);
    }
}
