/* The RL algorithm layer as pure functions on host arrays (SPECS.md "Advantages", "Policy
 * loss", "KL estimators", "Loss aggregation", "Filtering and shaping", "OTC", "OREAL"):
 * advantages, per-token losses with their gradients w.r.t. the model outputs, global-batch
 * aggregation weights, group filters, reward shaping and LR schedules. No I/O, no state.
 *
 * Layouts. Rewards are per sequence; a group is G consecutive sequences (group g holds
 * sequences [g·G, (g+1)·G)). Token arrays are packed: sequence i owns tokens
 * [cu[i], cu[i+1]) of the response (cu has n_seq + 1 entries, cu[0] = 0). A mask m_t is 1
 * on trainable tokens and 0 on tool output / padding. Sums use double accumulation. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- advantages */

typedef enum {
    RL_ADV_GRPO = 0,    /* (r - mean_g) / (std_g + eps) */
    RL_ADV_DRGRPO,      /* r - mean_g */
    RL_ADV_RLOO,        /* r - mean of the other G-1 */
    RL_ADV_REINFORCEPP, /* r - batch mean, whitened over the batch */
    RL_ADV_GAE,         /* PPO: per-token GAE with a value head */
    RL_ADV_OREAL,       /* OREAL: RLOO on ±1 correctness, token weights from an online token reward model */
    RL_ADV_COUNT
} rl_adv_kind_t;

/* "grpo", "drgrpo" (also "dr_grpo", "dr-grpo"), "rloo", "reinforce++" (also
 * "reinforce_pp"), "ppo" (also "gae"), "oreal"; -1 if unknown. */
int rl_adv_parse(const char *name);
const char *rl_adv_name(int kind);

/* GRPO. sample_std: 1 uses the unbiased (n-1) std as verl does, 0 the population std.
 * n_seq must be a multiple of G >= 1 (G = 1 gives zeros). eps default 1e-6. */
int rl_adv_grpo(const float *r, int n_seq, int G, int sample_std, float eps, float *adv);
/* Dr.GRPO: r - group mean. */
int rl_adv_drgrpo(const float *r, int n_seq, int G, float *adv);
/* RLOO: r_i - (Σ_j r_j - r_i)/(G-1); needs G >= 2. */
int rl_adv_rloo(const float *r, int n_seq, int G, float *adv);
/* REINFORCE++: A = r - baseline, then whitened: (A - mean A)/(std A + eps) with the
 * population std. baseline: the batch mean (G <= 1), or the group mean for G >= 2
 * (OpenRLHF's "reinforce_baseline"). lens (may be NULL): trainable tokens per sequence;
 * when given the whitening statistics are over tokens (each sequence counts lens[i]
 * times, as when whitening per-token advantages), else over sequences. */
int rl_adv_reinforcepp(const float *r, int n_seq, int G, const int *lens, float eps, float *adv);
/* MRT's GRPO variant and any given per-sequence baseline: A_i = r_i - b_i. */
int rl_adv_baseline(const float *r, const float *baseline, int n_seq, float *adv);
/* Copy each sequence's advantage to its tokens (masked tokens get 0 when mask != NULL). */
void rl_adv_to_tokens(const float *adv_seq, const int32_t *cu, int n_seq, const float *mask, float *adv_tok);

/* Dense per-token reward terms into per-token advantages of the group estimators (GRPO,
 * Dr.GRPO, RLOO, REINFORCE++): adds to adv[t] (which holds the sequence's advantage on its
 * tokens) the return-to-go of the dense terms minus a positional group baseline:
 *   R_i(k) = Σ_{s>=k} d_i(s)  (k = position in sequence i's response, γ = 1),
 *   A_i(k) += R_i(k) - b_i(k),  b_i(k) = mean over the group's sequences of R_j(k)
 *   (RLOO: over the other G-1), with R_j(k) = 0 past sequence j's end; G <= 1: b = 0.
 * No division by a standard deviation: the dense terms keep the scale their reward gives
 * them (α for MRT), and a group whose dense totals agree does not divide by ~0.
 * Rows layout: sequence i owns rows [cu[i], cu[i+1]) and its response starts at row r0[i]
 * (r0 NULL: at cu[i]); rows before r0[i] are ignored. A term on a masked row (tool output)
 * is credited to the previous trainable row of the sequence (dropped when there is none);
 * masked rows get no dense advantage. */
int rl_adv_dense(int kind, const float *dense, const float *mask, const int32_t *cu, const int32_t *r0, int n_seq,
                 int G, float *adv);
/* PPO GAE over each sequence's tokens, backwards: δ_t = r_t + γ V_{t+1} - V_t,
 * A_t = δ_t + γλ A_{t+1}, V after the last token = 0, returns = A + V. Tokens with mask 0
 * (tool output) are skipped as if absent: the recursion bridges over them, they get A = 0
 * and return = V, and a reward placed on one is credited to the previous trainable token.
 * mask may be NULL (all trainable). */
int rl_adv_gae(const float *rew_tok, const float *values, const float *mask, const int32_t *cu, int n_seq,
               float gamma, float lam, float *adv, float *ret);
/* In place: x <- (x - mean)/(std + eps) over tokens with mask != 0 (population std);
 * masked tokens are left untouched. shift_mean = 0 keeps the mean (scales only). */
void rl_whiten(float *x, const float *mask, size_t n, int shift_mean, float eps);

/* ---------------------------------------------------------------- policy loss */

/* Bits of the per-token clip indicator. */
enum {
    RL_CLIPPED_HIGH = 1, /* A > 0 and ratio > 1 + eps_high: the clip bound is the active term */
    RL_CLIPPED_LOW = 2,  /* A < 0 and ratio < 1 - eps_low */
    RL_CLIPPED_DUAL = 4, /* A < 0 and the dual-clip cap -A·c is active */
};

typedef struct {
    float eps_low, eps_high; /* 0.2 / 0.2 (DAPO clip-higher: eps_high 0.28) */
    float dual_clip;         /* c > 1 enables the dual clip for A < 0 (3 typical); <= 0 off */
} rl_clip_t;

/* Per token: ratio = exp(clamp(logp - old_logp, ±20));
 * L = max(-A·ratio, -A·clip(ratio, 1-eps_low, 1+eps_high)), then min(L, -A·c) for A < 0.
 * Outputs (each may be NULL): loss[n], dloss[n] = dL/dlogp, clip[n] (RL_CLIPPED_* bits),
 * ratio_out[n]. The gradient is exact: 0 where a clip is active or the log-ratio clamp
 * saturates, else -A·ratio. */
void rl_policy_loss(const float *logp, const float *old_logp, const float *adv, size_t n, const rl_clip_t *c,
                    float *loss, float *dloss, uint8_t *clip, float *ratio_out);
/* GSPO's sequence-level ratio (Zheng et al. 2025, "Group Sequence Policy Optimization"): for
 * each sequence i (rows [cu[i], cu[i+1])), d_i = the mean of logp − old_logp over its tokens
 * with mask > 0, and old_out[t] = logp[t] − d_i for all its rows, so that the token loss above
 * sees ratio = exp(d_i) = s_i on every token of the sequence, clips it as one, and hands back
 * dL/dlogp_t = −A·s_i where unclipped — GSPO-token's gradient (s_i·A/|y_i| per token once the
 * seq-mean-token-mean weights apply). A sequence without trainable tokens gets d = 0. */
void rl_seq_ratio_old(const float *logp, const float *old_logp, const float *mask, const int32_t *cu, int n_seq,
                      float *old_out);

/* ---------------------------------------------------------------- KL */

typedef enum { RL_KL_K1 = 0, RL_KL_K2, RL_KL_K3, RL_KL_COUNT } rl_kl_kind_t;
/* "k1" ("kl"), "k2" ("mse"), "k3" ("low_var_kl"); -1 if unknown. */
int rl_kl_parse(const char *name);
const char *rl_kl_name(int kind);
/* d = clamp(logp - ref_logp, ±20): k1 = d, k2 = d²/2, k3 = exp(-d) + d - 1; dkl = dk/dlogp
 * (0 where the clamp saturates). kl or dkl may be NULL. */
void rl_kl(int kind, const float *logp, const float *ref_logp, size_t n, float *kl, float *dkl);

/* ---------------------------------------------------------------- aggregation */

typedef enum {
    RL_AGG_TOKEN_MEAN = 0,         /* Σ m·L / Σ m (global) */
    RL_AGG_SEQ_MEAN_TOKEN_MEAN,    /* mean_i (Σ_t m·L / Σ_t m) */
    RL_AGG_SEQ_MEAN_TOKEN_SUM,     /* mean_i Σ_t m·L */
    RL_AGG_SEQ_MEAN_TOKEN_SUM_NORM /* Σ m·L / (n_seq · max_response_len)  (Dr.GRPO) */,
    RL_AGG_COUNT
} rl_agg_mode_t;

/* "token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"
 * (underscores accepted); -1 if unknown. */
int rl_agg_parse(const char *name);
const char *rl_agg_name(int mode);

/* Denominators of the whole global batch (all micro-batches of an optimizer step, and all
 * data-parallel ranks once their counts are summed). Zero-initialize, add each micro-batch,
 * sum across ranks (the three fields are plain sums), then compute weights. */
typedef struct {
    double n_tokens;    /* Σ m over the global batch */
    double n_seq_valid; /* sequences with at least one trainable token */
    double n_seq;       /* all sequences (Dr.GRPO's fixed denominator) */
} rl_agg_count_t;

void rl_agg_count_add(rl_agg_count_t *g, const float *mask, const int32_t *cu, int n_seq);
/* Per-token weights w_t such that the aggregate over the global batch is Σ_{micro-batches}
 * Σ_t w_t·L_t exactly: token-mean m/N_tok; seq-mean-token-mean m/(T_i·n_valid);
 * seq-mean-token-sum m/n_valid; seq-mean-token-sum-norm m/(n_seq·max_response_len).
 * T_i = Σ_t m within sequence i (a sequence never spans micro-batches). A zero denominator
 * gives zero weights (nothing to train on). max_response_len is used by the last mode only. */
int rl_agg_weights(int mode, const float *mask, const int32_t *cu, int n_seq, const rl_agg_count_t *g,
                   int max_response_len, float *w);
/* Direct aggregate of one (whole) batch, the reference the weights reproduce. */
double rl_agg_value(int mode, const float *loss, const float *mask, const int32_t *cu, int n_seq,
                    int max_response_len);

/* ---------------------------------------------------------------- total per-token loss */

typedef struct {
    rl_clip_t clip;
    float kl_coef;      /* β_kl; 0 skips the reference log-probs entirely */
    int kl_kind;        /* rl_kl_kind_t */
    float entropy_coef; /* β_ent */
} rl_loss_cfg_t;

/* Sums over the tokens seen (accumulate across micro-batches: the functions add into it).
 * Weighted sums use the aggregation weights, so pg/kl/ent are the aggregated values. */
typedef struct rl_loss_stats {
    double loss, pg, kl, ent; /* Σ w·(...) */
    double n_tok;             /* trainable tokens (m > 0) */
    double clip_high, clip_low, clip_dual;
    double ratio_sum, ratio_max, ratio_min; /* over trainable tokens; min/max start at ±inf via rl_loss_stats_init */
    double kl_tok;                          /* Σ m·k (token-mean KL, independent of the agg mode) */
    double ent_tok;                         /* Σ m·H */
} rl_loss_stats_t;

void rl_loss_stats_init(rl_loss_stats_t *s);

/* Total = Σ w_t·(L_pg + β_kl·KL - β_ent·H). Writes the model's backward inputs:
 * dlogp[n] = w·(dL_pg/dlogp + β_kl·dKL/dlogp), dent[n] = -β_ent·w (NULL allowed when
 * β_ent = 0). ref_logp may be NULL when β_kl = 0; entropy may be NULL (not logged then and
 * β_ent must be 0). Returns RLC_EINVAL on inconsistent arguments. */
int rl_token_loss(const rl_loss_cfg_t *cfg, size_t n, const float *logp, const float *old_logp,
                  const float *ref_logp, const float *adv, const float *entropy, const float *mask, const float *w,
                  float *dlogp, float *dent, rl_loss_stats_t *st);

/* The same with per-token importance weights is_w (NULL = 1) on the policy-gradient term
 * only: dlogp = w·(is_w·dL_pg/dlogp + β_kl·dKL/dlogp). */
int rl_token_loss_is(const rl_loss_cfg_t *cfg, size_t n, const float *logp, const float *old_logp,
                     const float *ref_logp, const float *adv, const float *entropy, const float *mask, const float *w,
                     const float *is_w, float *dlogp, float *dent, rl_loss_stats_t *st);

/* ---------------------------------------------------------------- rollout/trainer gap (gap.c) */

/* Sums over tokens with mask != 0 of d = train − engine (log-probs of the same sampled
 * tokens): |d|, max |d|, the k3 estimate of KL(engine ‖ trainer) e^d − 1 − d; and per
 * sequence (rows [cu[i], cu[i+1])) the log-ratio Σ_t d, signed and absolute. */
typedef struct {
    double n_tok, abs_sum, abs_max, k3_sum, n_seq, seq_sum, seq_abs_sum;
} rl_gap_t;
void rl_gap_add(rl_gap_t *g, const float *train, const float *engine, const float *mask, const int32_t *cu,
                int n_seq);

/* Importance-sampling correction between the trainer's behaviour log-probs and the engine's. */
typedef enum { RL_IS_NONE = 0, RL_IS_TIS, RL_IS_MIS, RL_IS_COUNT } rl_is_mode_t;
int rl_is_parse(const char *name); /* "none" | "tis" | "mis"; -1 if unknown */
const char *rl_is_name(int mode);
/* w[t] per row: ρ = exp(behav − engine) per token, or exp(Σ over the sequence's masked-in
 * tokens) for all of its tokens (seq_level). TIS: min(ρ, C); MIS: 1 if 1/C <= ρ <= C, else
 * 0. Masked rows and mode none get 1. Returns the number of tokens capped (TIS) or masked
 * (MIS). */
long rl_is_weights(int mode, int seq_level, double C, const float *behav, const float *engine, const float *mask,
                   const int32_t *cu, int n_seq, float *w);

/* ---------------------------------------------------------------- value loss (PPO critic) */

/* L = 0.5·max((V-R)², (V_old + clamp(V - V_old, ±clip) - R)²); clip <= 0 disables clipping
 * (L = 0.5 (V-R)²). dloss = dL/dV; clipped[t] = 1 where the clipped term is active. */
void rl_value_loss(const float *v, const float *v_old, const float *ret, size_t n, float clip, float *loss,
                   float *dloss, uint8_t *clipped);

/* ---------------------------------------------------------------- filtering and shaping */

/* Group pass rates p_g = fraction of the G sequences with correct[i] > 0.5. */
void rl_pass_rates(const float *correct, int n_groups, int G, float *p);
/* Histogram by number correct: hist[k] += groups with k of G correct (hist has G+1 bins). */
void rl_pass_hist_add(const float *p, int n_groups, int G, long *hist);

typedef struct {
    int dynamic_sampling; /* drop groups whose rewards are all equal */
    int balanced;         /* keep groups with p_low <= p <= p_high */
    float p_low, p_high;
} rl_filter_cfg_t;

typedef struct {
    long seen, kept, zero_var, out_of_window; /* groups (a group failing both counts as zero_var) */
} rl_filter_stats_t;

/* keep[g] = 1 for the groups that pass. correct may be NULL when !balanced. Returns the
 * number kept; stats (may be NULL) accumulate across refill rounds. */
int rl_filter_groups(const rl_filter_cfg_t *cfg, const float *rewards, const float *correct, int n_groups, int G,
                     uint8_t *keep, rl_filter_stats_t *st);

/* DAPO overlong penalty for a completion of `len` tokens: 0 if len <= L_max - L_buf,
 * ((L_max - L_buf) - len)/L_buf inside the buffer, -1 beyond L_max. L_buf <= 0: 0 up to
 * L_max and -1 beyond. */
float rl_overlong_penalty(int len, int L_max, int L_buf);
/* rewards[i] += factor · penalty(lens[i]). */
void rl_overlong_apply(float *rewards, const int *lens, int n_seq, int L_max, int L_buf, float factor);
/* Zero the mask of every truncated sequence (truncated[i] != 0). Returns how many. */
int rl_mask_truncated(float *mask, const int32_t *cu, int n_seq, const uint8_t *truncated);

/* ---------------------------------------------------------------- LR schedule */

typedef enum { RL_LR_CONSTANT = 0, RL_LR_LINEAR, RL_LR_COSINE, RL_LR_COUNT } rl_lr_sched_t;
int rl_lr_parse(const char *name);
const char *rl_lr_name(int kind);
/* LR for optimizer step `step` (0-based). Warm-up: base·(step+1)/warmup for step < warmup.
 * After it, progress q = (step - warmup)/(total - warmup) clamped to [0, 1] and
 * lr = base·(min_ratio + (1 - min_ratio)·f(q)), f = 1 (constant), 1 - q (linear),
 * (1 + cos πq)/2 (cosine). */
double rl_lr_at(int sched, double base, long step, long warmup, long total, double min_ratio);

/* ---------------------------------------------------------------- OTC (tool-call efficiency) */

/* OTC-PPO: cos(m·π/(2m + c)). */
double rl_otc_ppo(int m, double c);
/* OTC-GRPO with n = fewest calls among the group's correct trajectories:
 * f = 0 (m = n = 0), m (n = 0), 2nm/(m+n); r = 1 if f = n = 0, cos(mπ/(2m+c)) if n = 0,
 * sin(fπ/(2n)) otherwise. */
double rl_otc_grpo(int m, int n, double c);
/* For each group: n = min calls over correct members (none correct: nothing changes);
 * correct members get r = α·r_tool·r (grpo != 0: OTC-GRPO, else OTC-PPO); wrong keep r. */
void rl_otc_apply(float *rewards, const int *calls, const float *correct, int n_seq, int G, int grpo, double c,
                  double alpha);
/* The same for one group of G with the question's n kept across steps (as the paper does):
 * *n_best is the fewest calls seen so far among the question's correct samples (-1: none
 * yet), lowered by this group's correct samples, and used for them. factor[i] (may be
 * NULL) receives the r_tool applied to sample i (1 for wrong ones). */
void rl_otc_group(float *rewards, const int *calls, const float *correct, int G, int grpo, double c, double alpha,
                  int *n_best, float *factor);

/* ---------------------------------------------------------------- OREAL token weights */

/* For one sequence of T tokens with token-RM outputs w_t: p_t = sigmoid((Σ_{s<=t} w_s)/t)
 * (t from 1), out_t = max(2p_t - 1, 0) for a positive (correct) sample and
 * max(1 - 2p_t, 0) for a negative one. */
void rl_oreal_weights(const float *w, int T, int positive, float *out);
/* The token-RM's sequence loss BCE_with_logits(mean_t w_t, label) and dL/dw_t. */
double rl_oreal_rm_loss(const float *w, int T, int label, float *dw);

typedef struct {
    double n_pos, n_neg;         /* global counts of trainable tokens of positive / negative samples */
    double n_tok;                /* global trainable tokens (the KL's token mean) */
    float pos_weight, neg_weight; /* 1.0 and 0.5 in the reference */
    float kl_coef;               /* 0 skips ref_logp */
    int kl_kind;
} rl_oreal_loss_cfg_t;

/* OREAL's per-token policy loss over n tokens (SPECS "Token-level reward model"). A token
 * with adv > 0 belongs to a positive (correct) sample: behaviour cloning, L = −logp·w·A /
 * n_pos · pos_weight; adv < 0, a negative one: policy gradient, L = −exp(logp − sg(logp))·A·w
 * / n_neg · neg_weight (= −A·w/n_neg·neg_weight in value, the same gradient); plus
 * kl_coef·KL / n_tok. w: the detached OREAL token weights; mask 0 tokens contribute nothing.
 * dlogp receives dL/dlogp; st accumulates loss, pg, kl, token counts. */
int rl_oreal_token_loss(const rl_oreal_loss_cfg_t *cfg, size_t n, const float *logp, const float *ref_logp,
                        const float *adv, const float *w, const float *mask, float *dlogp, rl_loss_stats_t *st);
