/* The options of `rlc sft` as a key table: the keys it shares with `rlc train` take their
 * one definition from rl/keydefs.h; the keys below are its own (the data fields, length and
 * batch, and the learning-rate defaults a supervised warm start wants: lr 1e-5 with a
 * cosine decay to 10%, where RL starts from 1e-6 and a constant schedule). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "kernels/backend.h"
#include "rl/algo.h"
#include "rl/keydefs.h"
#include "rl/sft.h"
#include "tools/tool.h"

#define K(name, field, type, sect, def, help) RL_KEY(rl_sft_opts_t, field, RL_DEF(name, type, sect, def, help))
#define KS(field, def) RL_KEY(rl_sft_opts_t, field, def)

static const rl_config_key_t SFT_KEYS[] = {
    K("prompt_key", prompt_key, STR, S_SFT, "",
      "prompt field (text or chat messages); empty = messages (a conversation), prompt, else problem"),
    K("response_key", response_key, STR, S_SFT, "",
      "response field (text or one assistant message); empty = completion, response, else solution"),
    K("template", template_name, STR, S_SFT, "raw", "prompt template: qwen-math-cot, boxed, r1, dapo or raw"),
    K("chat_template", chat_family, STR, S_SFT, "", "force a chat template family; empty = the tokenizer's"),
    K("max_len", max_len, INT, S_SFT, "1024", "tokens per example at most (longer ones are truncated)"),
    K("mask_tool_output", mask_tool_output, BOOL, S_SFT, "false",
      "no loss on the tool outputs inside responses (as written by tool_format's engine), as in RL rollouts"),
    KS(tool_format, D_TOOL_FORMAT),

    K("steps", steps, INT, S_ALG, "0", "optimizer steps; 0 = epochs over the data"),
    K("epochs", epochs, INT, S_ALG, "1", "passes over the data when steps is 0"),
    K("batch_size", batch_size, INT, S_ALG, "32", "sequences per optimizer step"),
    KS(micro_batch, D_MICRO_BATCH),
    KS(micro_tokens, D_MICRO_TOKENS),

    K("lr", lr, FLOAT, S_OPT, "1e-05", "peak learning rate"),
    RL_KEY(rl_sft_opts_t, lr_schedule,
           RL_DEFE("lr_schedule", S_OPT, "cosine", "schedule after warm-up", "constant|linear|cosine", E_LR)),
    KS(warmup_steps, D_WARMUP_STEPS),
    K("min_lr_ratio", min_lr_ratio, FLOAT, S_OPT, "0.1", "final lr as a fraction of lr (linear / cosine)"),
    KS(weight_decay, D_WEIGHT_DECAY),
    KS(max_grad_norm, D_MAX_GRAD_NORM),

    KS(seed, D_SEED),
    KS(save_every, D_SAVE_EVERY),
    KS(keep_last, D_KEEP_LAST),
    KS(zero_stage, D_ZERO_STAGE),
    KS(overlap_comm, D_OVERLAP_COMM),
    KS(reduce_bucket_mb, D_REDUCE_BUCKET_MB),
    KS(save_dtype, D_SAVE_DTYPE),
    KS(strict, D_STRICT),
    KS(device, D_DEVICE),
    KS(threads, D_THREADS),
    KS(dist, D_DIST),

    KS(model, D_MODEL),
    K("data", data, STR, S_PATH, "",
      "prompt/response pairs: JSONL, JSON array, CSV, parquet, Arrow, or a directory of shards"),
    K("run_dir", run_dir, STR, S_PATH, "", "run directory: config, metrics, checkpoints"),
};

static const rl_keytab_t TAB = {SFT_KEYS, (int)(sizeof SFT_KEYS / sizeof SFT_KEYS[0]), (size_t)-1};

const rl_keytab_t *rl_sft_table(void) { return &TAB; }

int rl_sft_defaults(rl_sft_opts_t *o) {
    memset(o, 0, sizeof *o);
    return rl_keys_init(&TAB, o);
}

void rl_sft_free(rl_sft_opts_t *o) { rl_keys_free(&TAB, o); }

int rl_sft_set(rl_sft_opts_t *o, const char *key, const char *value, const char *origin) {
    return rl_keys_set(&TAB, o, key, value, origin);
}

#define BAD(...) return rlc_errc(RLC_EINVAL, "sft: " __VA_ARGS__)

int rl_sft_validate(const rl_sft_opts_t *o) {
    if (!o->model || !o->model[0] || !o->data || !o->data[0] || !o->run_dir || !o->run_dir[0])
        return rlc_errc(RLC_EINVAL, "sft needs --model, --data and --run-dir");
    if (o->batch_size < 1 || o->micro_batch < 1 || o->batch_size % o->micro_batch)
        return rlc_errc(RLC_EINVAL, "batch_size (%ld) must be a positive multiple of micro_batch (%ld)", o->batch_size,
                        o->micro_batch);
    if (o->micro_tokens < 0) return rlc_errc(RLC_EINVAL, "micro_tokens must be 0 (no limit) or a token count");
    if (!(o->lr > 0)) return rlc_errc(RLC_EINVAL, "lr must be positive");
    if (o->max_len < 2) return rlc_errc(RLC_EINVAL, "max_len must be at least 2");
    if (o->steps < 0) BAD("steps = %ld: must be >= 0 (0 = epochs over the data)", o->steps);
    if (o->steps == 0 && o->epochs < 1) BAD("epochs = %ld: must be at least 1", o->epochs);
    if (o->warmup_steps < 0) BAD("warmup_steps = %ld: must be >= 0", o->warmup_steps);
    if (!(o->min_lr_ratio >= 0 && o->min_lr_ratio <= 1)) BAD("min_lr_ratio = %g: must lie in [0, 1]", o->min_lr_ratio);
    if (!(o->weight_decay >= 0)) BAD("weight_decay = %g: must be >= 0", o->weight_decay);
    if (!(o->max_grad_norm >= 0)) BAD("max_grad_norm = %g: must be >= 0 (0 = no clipping)", o->max_grad_norm);
    if (o->seed < 0) BAD("seed = %ld: must be >= 0", o->seed);
    if (o->save_every < 0) BAD("save_every = %ld: must be >= 0", o->save_every);
    if (o->keep_last < 0) BAD("keep_last = %ld: must be >= 0 (0 = keep all)", o->keep_last);
    if (o->zero_stage < 0 || o->zero_stage > 2) BAD("zero_stage = %ld: choose 0, 1 or 2", o->zero_stage);
    if (!(o->reduce_bucket_mb > 0 && o->reduce_bucket_mb <= 65536))
        BAD("reduce_bucket_mb = %g: choose a size in (0, 65536] MiB", o->reduce_bucket_mb);
    if (o->threads < 0 || o->threads > RLC_MAX_THREADS)
        BAD("threads = %ld: must lie in [0, %d] (0 = all cores)", o->threads, RLC_MAX_THREADS);
    if (o->batch_size > (1L << 24)) BAD("batch_size = %ld: at most %ld", o->batch_size, 1L << 24);
    if (o->max_len > (1L << 24)) BAD("max_len = %ld: at most %ld", o->max_len, 1L << 24);
    rlc_tool_format_t tf;
    if (rlc_tools_parse_format(o->tool_format, &tf)) return RLC_EINVAL;
    int rc = rl_check_device(o->device);
    if (!rc) rc = rl_check_dist(o->dist);
    if (!rc) rc = rl_check_save_dtype(o->save_dtype);
    return rc;
}
