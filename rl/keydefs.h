/* Private to rl/: what the key tables of rl/config.c (`rlc train`) and rl/sft_config.c
 * (`rlc sft`) share — the enum parsers' ids, the --help sections, the entry macros, and the
 * definition (name, type, section, default, help) of every key both commands take, written
 * once here so a shared key cannot drift between the two (one name, one default). */
#pragma once
#include <stddef.h>

#include "rl/keys.h"

/* Which parser an RL_CFG_ENUM key uses (rl/keys.c). */
enum { E_NONE = 0, E_ADV, E_KL, E_AGG, E_LR, E_STD };

#define S_ALG "algorithm"
#define S_FLT "filtering and shaping"
#define S_PPO "PPO critic"
#define S_OPT "optimizer and schedule"
#define S_GEN "generation"
#define S_RUN "run"
#define S_PATH "paths"
#define S_SFT "data (SFT)"
#define S_TOOL "tools"
#define S_MRT "MRT progress bonus"
#define S_OREAL "OREAL"
#define S_DIST "distributed (several ranks)"

/* A table entry for `field` of struct `st` from a definition list
 * (name, type, section, default, help, choices, enum kind). */
#define RL_KEY(st, field, ...) RL_KEY_(offsetof(st, field), __VA_ARGS__)
#define RL_KEY_(off, ...) RL_KEY__(off, __VA_ARGS__)
#define RL_KEY__(off, name, type, sect, def, help, choices, ek) {name, type, sect, def, help, choices, off, ek}
/* A plain or enum key defined in place. */
#define RL_DEF(name, type, sect, def, help) name, RL_CFG_##type, sect, def, help, NULL, E_NONE
#define RL_DEFE(name, sect, def, help, choices, ek) name, RL_CFG_ENUM, sect, def, help, choices, ek

/* ---- keys of both `rlc train` and `rlc sft` */
#define D_MICRO_BATCH RL_DEF("micro_batch", INT, S_ALG, "8", "sequences per forward/backward pass (gradient accumulation unit)")
#define D_MICRO_TOKENS                                                                                                  \
    RL_DEF("micro_tokens", INT, S_ALG, "0",                                                                            \
           "and at most this many tokens per pass (a longer sequence runs alone); 0 = no token limit")
#define D_WARMUP_STEPS RL_DEF("warmup_steps", INT, S_OPT, "0", "linear warm-up steps")
#define D_WEIGHT_DECAY RL_DEF("weight_decay", FLOAT, S_OPT, "0.01", "AdamW decoupled weight decay (matrices only)")
#define D_MAX_GRAD_NORM RL_DEF("max_grad_norm", FLOAT, S_OPT, "1", "clip the global gradient norm; 0 = off")
#define D_SEED RL_DEF("seed", INT, S_RUN, "1", "seed of data order, sampling and initialization")
#define D_SAVE_EVERY                                                                                                    \
    RL_DEF("save_every", INT, S_RUN, "50", "checkpoint every N steps (and at the end); 0 = only at the end")
#define D_KEEP_LAST RL_DEF("keep_last", INT, S_RUN, "3", "checkpoints kept; 0 = all")
#define D_ZERO_STAGE                                                                                                    \
    RL_DEF("zero_stage", INT, S_DIST, "0", "ZeRO sharding across ranks: 0 none, 1 AdamW state sharded, 2 gradients sharded too")
#define D_OVERLAP_COMM                                                                                                  \
    RL_DEF("overlap_comm", BOOL, S_DIST, "true",                                                                          \
           "exchange gradients on a communication thread during backward (several ranks)")
#define D_REDUCE_BUCKET_MB                                                                                              \
    RL_DEF("reduce_bucket_mb", FLOAT, S_DIST, "25", "gradient exchange bucket size in MiB (several ranks)")
#define D_SAVE_DTYPE                                                                                                    \
    RL_DEF("save_dtype", STR, S_RUN, "", "checkpoint weight dtype: float32|bfloat16|float16; empty = as loaded")
#define D_RECOMPUTE RL_DEF("recompute", BOOL, S_RUN, "false", "recompute layer activations in backward (saves memory)")
#define D_STRICT                                                                                                        \
    RL_DEF("strict", BOOL, S_RUN, "false",                                                                              \
           "bad data rows (malformed, unencodable, over-long) are fatal before any work; else warned about and skipped")
#define D_DEVICE RL_DEF("device", STR, S_RUN, "auto", "auto|cpu|cuda|cuda:N")
#define D_THREADS                                                                                                       \
    RL_DEF("threads", INT, S_RUN, "0", "CPU threads; 0 = all (under mpirun: the node's cores shared by its ranks)")
#define D_DIST                                                                                                          \
    RL_DEF("dist", STR, S_RUN, "auto",                                                                                 \
           "data parallel: auto|none|mpi|nccl; auto = MPI when launched by mpirun/srun (NCCL on GPUs), else one "      \
           "process")
#define D_MODEL RL_DEF("model", STR, S_PATH, "", "policy model directory (Hugging Face format)")
#define D_TOOL_FORMAT                                                                                                   \
    RL_DEF("tool_format", STR, S_TOOL, "code", "how calls are written: code (```python), hermes (<tool_call>), tags (<search>), llama3 (Llama 3.1 JSON / <|python_tag|>)")

/* Checks of shared keys, the same in both commands (0 or an error naming the key). */
int rl_check_device(const char *device);
int rl_check_dist(const char *dist);
int rl_check_save_dtype(const char *save_dtype);
