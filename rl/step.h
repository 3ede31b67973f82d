/* The pieces of one training step that the rl/ stages share (private to rl/): the packed sequence
 * buffer and its micro-batches (batch.c), the run context, the rollout of a step (rollout.c),
 * the update (update.c) and the run-directory files (loop.c, sft.c). Where each stage
 * lives: docs/training.md, "Where a step lives". */
#pragma once
#include <stdint.h>

#include "data/dataset.h"
#include "data/template.h"
#include "dist/dist.h"
#include "gen/engine.h"
#include "model/optim.h"
#include "rewards/reward.h"
#include "rl/algo.h"
#include "rl/ckpt.h"
#include "rl/config.h"
#include "tools/tool.h"
#include "rl/metrics.h"
#include "rl/tboard.h"
#include "rl/rundir.h"
#include "tokenizer/tok.h"

/* ------------------------------------------------------------------ batch.c */

/* Sequences for training. Row t of a sequence predicts token t+1; per-row arrays hold
 * what the loss needs for that prediction (mask = 1 when token t+1 is trainable). */
typedef struct {
    int32_t *ids, *cu, *r0; /* r0[s]: the row of sequence s that predicts its first completion token */
    float *mask, *adv, *old_logp, *ref_logp, *values, *rew_tok, *ret;
    float *eng_logp; /* the engine's log-prob of the token the row predicts (0 on tool output and prompt) */
    float *is_w;     /* importance weights of an off-policy step's rows (is_correction) */
    int nseq, ntok, cap_tok, cap_seq;
} seqbuf_t;

void sb_free(seqbuf_t *b);
/* Append prompt + completion; trainable[i] (NULL = all) marks completion tokens trained. */
int sb_add(seqbuf_t *b, const int32_t *prompt, int np, const int32_t *comp, int nc, const uint8_t *trainable);
/* A view of sequences [s0, s1) as a model batch (cu rebased into `cu_local`, s1-s0+1 slots). */
rlc_batch_t sb_view(const seqbuf_t *b, int s0, int s1, int32_t *cu_local);

/* How sequences are grouped into forward/backward passes: up to `seqs` sequences and, when
 * tokens > 0, at most `tokens` tokens (verl's dynamic batch size); a sequence longer than
 * the token budget runs alone. Any grouping gives the same loss and gradients (the
 * aggregation denominators are global), only memory and speed change. */
typedef struct {
    int seqs;
    long tokens;
} micro_t;

/* End of the micro-batch starting at sequence s (< s1). */
int micro_end(const seqbuf_t *b, int s, int s1, const micro_t *mb);
/* Tokens in the largest micro-batch of sequences [s0, s1). */
int sb_max_micro_tokens(const seqbuf_t *b, int s0, int s1, const micro_t *mb);
/* Reserve the activations of the largest possible micro-batch (sequences of up to seq_len
 * tokens) up front, so a batch that cannot fit fails now rather than hours in. */
int reserve_acts(rlc_model_t *m, const micro_t *mb, int seq_len, int train);
/* The start-up memory report: every buffer, free memory, and the largest micro-batch that
 * would fit beside what is allocated now. */
void report_memory(rlc_model_t *m, const micro_t *mb, int seq_len);
/* Forward (no gradient) over sequences in micro-batches: per-row log-probs (LM head) or
 * values (score head) into out (global rows). */
int sb_forward(rlc_model_t *m, const seqbuf_t *b, const micro_t *mb, float inv_temp, int head, float *out);
/* The same with the forward's options (exact_on_policy: fo->exact, fo->temperature). */
int sb_forward_opts(rlc_model_t *m, const seqbuf_t *b, const micro_t *mb, const rlc_fwd_opts_t *fo, float *out);

/* A 64-bit mix of two words (seeds of sampling and of the optimizer's rounding). */
uint64_t rl_mix64(uint64_t a, uint64_t b);

/* ------------------------------------------------------------------ the run (loop.c) */

typedef struct {
    const rl_config_t *cfg;
    rlc_backend_t *be;
    rlc_model_t *policy, *ref, *critic; /* critic: PPO's value model, or OREAL's token reward model */
    rlc_optim_t *opt, *copt;
    tok_t *tok;
    gen_engine_t *eng;
    rlc_reward_t *reward;
    data_set_t data, eval_data;
    data_iter_t it;
    data_tpl_t tpl;
    int extract_flags;
    rlc_tools_t *tools;  /* NULL when no tools are enabled */
    const char *const *tool_markers;
    int n_tool_markers;
    int *otc_n;          /* per data row: fewest tool calls of a correct sample so far (-1: none) */
    rl_jsonl_writer_t metrics, samples;
    rl_tb_t tb;        /* rank 0 with `tensorboard`: the event file (else closed) */
    dist_comm_t *comm; /* borrowed */
    int rank0;         /* this rank writes the run directory */
    rl_rundir_t rundir; /* rank 0: the run directory's lock */
} rl_ctx_t;

/* metrics.jsonl (and samples.jsonl when samples != NULL) of a run directory, cut back to
 * keep_step when >= 0 (a resumed run), flushed per line and fsynced with checkpoints. */
int rl_open_run_files(const char *run_dir, long keep_step, rl_jsonl_writer_t *metrics, rl_jsonl_writer_t *samples);
/* Make the run's JSONL lines durable up to this point (called before each checkpoint). */
void rl_sync_writer(rl_jsonl_writer_t *w);

/* The checkpoint subdirectory of c->critic: "critic" (ppo) or "reward_model" (oreal). */
const char *rl_aux_name(const rl_config_t *cfg);

/* ------------------------------------------------------------------ rollout.c */

typedef struct {
    const data_row_t *row;
    int req;
    int32_t *prompt;
    int n_prompt;
    char *prompt_text;
    int kidx; /* position among the step's kept groups of all ranks (the global batch order) */
    uint64_t seed; /* the sampling seed of the group's global slot */
} group_t;

/* A step's rollout: generated, scored and filtered until prompts_per_step groups are kept
 * (or the round cap). A rank keeps the groups it generated; n_glob counts the kept groups
 * of all ranks. The statistics are summed over ranks. */
typedef struct {
    group_t *groups; /* kept by this rank, in global order (kidx ascending) */
    int n_groups, n_glob;
    float *reward, *correct; /* [n_groups * G] */
    float **dense;     /* [n_groups * G]: per completion token dense reward terms, NULL when none */
    float *term_base;  /* [n_groups * G]: MRT's termination baseline J_-1 (NAN: none), or NULL */
    int dense_any;     /* some sample of some rank has a nonzero dense term (agreed) */
    rl_filter_stats_t fst;
    long hist[65];
    long tokens_gen, rounds, seen_groups;
    double acc_sum, reward_sum;
    long n_scored;
    rlc_metrics_t rmetrics;
} rollout_t;

/* Generate, score and filter (collective). */
int rl_rollout(rl_ctx_t *c, long step, rollout_t *R);

/* ------------------------------------------------------------------ MRT (mrt.c) */

/* The forced-termination text for an answer format ("boxed", "think", "answer_line"):
 * mrt_termination when set, else the authors' text with an answer header for the format. */
const char *rl_mrt_termination(const rl_config_t *cfg, const char *format);
/* MRT over this rank's `mine` groups of a round. Sample k = g·G + i is ro[k] (its completion
 * text and tokens), held in the engine as sample i of request g[g].req, whose first
 * g[g].n_prompt tokens are the prompt and the next ro[k].n_tokens the completion (forks
 * share those KV pages). α·progress_j is added at the last token of each episode into tok[k]
 * (ro[k].n_tokens entries); base (may be NULL) receives each sample's group J_-1 where
 * computed. Metrics "mrt/..." and the time "t_mrt" into ms. */
int rl_mrt_score(rl_ctx_t *c, const rlc_reward_ctx_t *rctx, const group_t *g, const rlc_rollout_t *ro, int mine,
                 float *const *tok, float *base, rlc_metrics_t *ms);
/* rlc_reward_sample_fn over a gen_engine_t (rewards/reward.h). */
int rl_reward_sample(void *engine, const char *const *prompts, int n_prompts, int k, double temperature,
                     int max_new_tokens, uint64_t seed, char **out);

/* ------------------------------------------------------------------ tool use (tooluse.c) */

/* The run's tools from the config (none: c->tools stays NULL) and OTC's per-question n,
 * restored from a checkpoint's extra state ("otc_n": {row id: n}). */
int rl_tools_setup(rl_ctx_t *c, const rl_train_state_t *st);
/* After scoring `mine` groups of a round: tool metrics, and OTC shaping of the correct
 * samples' rewards (rw) with the per-question n. */
int rl_tools_score(rl_ctx_t *c, const group_t *g, const rlc_rollout_t *ro, float *rw, const float *cr, int mine,
                   rlc_metrics_t *ms);
/* tool_prompt: the enabled tools described in the prompts of both sets, ahead of encoding,
 * where tool_prompt_in says (rl/toolprompt.h). */
int rl_tools_prompt_rows(rl_ctx_t *c);
/* The per-question n made equal on every rank (the minimum). Collective. */
int rl_tools_sync(rl_ctx_t *c);
/* extra (borrowed) plus "otc_n" for the checkpoint; extra itself when there is nothing to add,
 * else a new object the caller frees (NULL on allocation failure). */
cJSON *rl_tools_state_json(const rl_ctx_t *c, cJSON *extra);
void rl_rollout_free(rl_ctx_t *c, rollout_t *R);
/* Per-sequence values of the global batch (the kept groups of every rank, in global order)
 * from each rank's own: global[kidx·G + i] = local[j·G + i]. Collective. */
int rl_gather_seq_values(dist_comm_t *comm, const rollout_t *R, int G, const float *local, float *global);
/* The rollout's sequences packed into b, and the step's generation statistics (reward
 * mean/std, lengths, truncation) into mt, over every rank. rew_glob (grown as needed)
 * receives the global batch's rewards. Collective. */
int rl_rollout_pack(rl_ctx_t *c, const rollout_t *R, seqbuf_t *b, float **rew_glob, rl_step_metrics_t *mt);
/* The first log_samples kept groups of the step to samples.jsonl (rank 0 writes). Collective. */
int rl_log_samples(rl_ctx_t *c, const rollout_t *R, long step);

/* ------------------------------------------------------------------ update.c */

/* The gradients summed over ranks, then the optimizer step every rank takes identically.
 * rc is this rank's result so far (agreed first, so nobody waits in the reduction). */
int rl_reduce_and_step(dist_comm_t *comm, rlc_model_t *m, rlc_optim_t *opt, int rc, float lr, uint32_t seed,
                       double *gnorm);
/* ZeRO (rl/zero.c; rl_reduce_and_step runs the optimizer's stage): an optimizer whose state
 * covers this rank's shard when stage > 0 and there are several ranks ("what" names it in
 * the log), with the gradient exchange (rl/gradsync.c) attached when there are several
 * ranks. A sharded state is checkpointed per rank (rl_ckpt_write_shards). */
typedef struct {
    int stage;     /* zero_stage */
    int overlap;   /* overlap_comm */
    size_t bucket; /* reduce_bucket_mb in gradient elements */
} rl_zero_cfg_t;
int rl_zero_optim_create(dist_comm_t *comm, const rl_zero_cfg_t *z, rlc_model_t *m, const rlc_adamw_cfg_t *cfg,
                         const char *what, rlc_optim_t **out);
/* Before an update's micro-batches (instead of zeroing the gradients): n_micro is the number
 * of backward passes this rank will run before rl_reduce_and_step. Collective at stage 2. */
int rl_grad_begin(rlc_optim_t *opt, int n_micro);
/* reduce_bucket_mb in f32 gradient elements. */
size_t rl_bucket_elems(double mb);
/* The micro-batches of sequences [s0, s1) (micro_end's cuts). */
int sb_count_micro(const seqbuf_t *b, int s0, int s1, const micro_t *mb);
/* One optimizer update of the score-head model (c->critic with c->copt: PPO's critic, OREAL's
 * token reward model) over sequences [s0, s1): per micro-batch the score head's values v
 * (n tokens, the first at b->cu[s]) go to grad, which writes their gradient dv (and keeps its
 * loss in user); backward; then the gradients summed over ranks and the step. Collective. */
typedef void (*rl_score_grad_fn)(void *user, const seqbuf_t *b, int s, int e, int base, const float *v, float *dv,
                                 int n);
int rl_score_update(rl_ctx_t *c, seqbuf_t *b, int s0, int s1, const micro_t *mb, float lr, uint32_t seed,
                    rl_score_grad_fn grad, void *user);
/* Advantages, then the step's optimizer updates (policy, and the critic for PPO) over the
 * packed batch b; the loss statistics, gradient norm and value loss go into mt. rew_glob:
 * the global batch's rewards. Collective. */
int rl_update(rl_ctx_t *c, rollout_t *R, seqbuf_t *b, const float *rew_glob, long step, float lr,
              rl_step_metrics_t *mt);

/* ------------------------------------------------------------------ oreal.c */

/* OREAL before the policy updates: keep_pairs masking, RLOO advantages of ±1 correctness on
 * b->adv, the token reward model's scores (b->values) and token weights (b->rew_tok), its
 * online BCE update (lr scaled by oreal_rm_lr / lr), metrics "oreal/..." into R->rmetrics,
 * and the policy loss's global counts in *lc. Collective. */
int rl_oreal_prepare(rl_ctx_t *c, rollout_t *R, seqbuf_t *b, long step, float lr, rl_oreal_loss_cfg_t *lc);
