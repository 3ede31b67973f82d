/* Other trainers' names for rlc's keys (rl/foreign.h): TRL's GRPOConfig fields and verl's
 * dotted overrides, so an unknown key a user brings from either is answered with rlc's name
 * (docs/training.md, "Coming from verl or TRL"). Only names with one rlc counterpart are
 * listed; where the meaning differs the note says how. */
#include "rl/foreign.h"

#include <stdio.h>
#include <string.h>

#include "rl/keys.h"

typedef struct {
    const char *name, *who, *rlc, *note;
} foreign_t;

static const foreign_t NAMES[] = {
    /* TRL GRPOConfig / TrainingArguments */
    {"num_generations", "TRL", "group_size", NULL},
    {"learning_rate", "TRL", "lr", NULL},
    {"beta", "TRL", "kl_coef", NULL},
    {"epsilon", "TRL", "clip_low", NULL},
    {"epsilon_high", "TRL", "clip_high", NULL},
    {"max_completion_length", "TRL", "max_new_tokens", NULL},
    {"max_prompt_length", "TRL", "max_prompt_len", NULL},
    {"num_iterations", "TRL", "ppo_epochs", NULL},
    {"loss_type", "TRL", "loss_agg", "TRL's grpo/bnpo/dr_grpo/dapo are algo and loss_agg choices in rlc"},
    {"scale_rewards", "TRL", "algo", "scale_rewards false is algo drgrpo"},
    {"max_steps", "TRL", "total_steps", NULL},
    {"save_steps", "TRL", "save_every", NULL},
    {"eval_steps", "TRL", "eval_every", NULL},
    {"output_dir", "TRL", "run_dir", NULL},
    {"model_name_or_path", "TRL", "model", NULL},
    {"per_device_train_batch_size", "TRL", "micro_batch", "completions per forward/backward pass"},
    {"lr_scheduler_type", "TRL", "lr_schedule", NULL},
    {"mask_truncated_completions", "TRL", "mask_truncated", NULL},
    {"importance_sampling_level", "TRL", "ratio_level", "sequence is GSPO"},
    {"repetition_penalty", "TRL", NULL, "rlc samples without one"},
    /* verl (ppo_trainer.yaml), as dotted overrides or their last part */
    {"data.train_files", "verl", "data", NULL},
    {"data.val_files", "verl", "eval_data", NULL},
    {"data.train_batch_size", "verl", "prompts_per_step", NULL},
    {"data.max_prompt_length", "verl", "max_prompt_len", NULL},
    {"data.max_response_length", "verl", "max_new_tokens", NULL},
    {"actor_rollout_ref.model.path", "verl", "model", NULL},
    {"actor_rollout_ref.rollout.n", "verl", "group_size", NULL},
    {"actor_rollout_ref.rollout.temperature", "verl", "temperature", NULL},
    {"actor_rollout_ref.rollout.top_p", "verl", "top_p", NULL},
    {"actor_rollout_ref.rollout.top_k", "verl", "top_k", NULL},
    {"actor_rollout_ref.actor.optim.lr", "verl", "lr", NULL},
    {"actor_rollout_ref.actor.ppo_mini_batch_size", "verl", "mini_batch", "rlc counts sequences, verl prompts"},
    {"ppo_mini_batch_size", "verl", "mini_batch", "rlc counts sequences, verl prompts"},
    {"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", "verl", "micro_batch", NULL},
    {"ppo_micro_batch_size_per_gpu", "verl", "micro_batch", NULL},
    {"actor_rollout_ref.actor.ppo_max_token_len_per_gpu", "verl", "micro_tokens", NULL},
    {"ppo_max_token_len_per_gpu", "verl", "micro_tokens", NULL},
    {"actor_rollout_ref.actor.ppo_epochs", "verl", "ppo_epochs", NULL},
    {"actor_rollout_ref.actor.clip_ratio_low", "verl", "clip_low", NULL},
    {"clip_ratio_low", "verl", "clip_low", NULL},
    {"actor_rollout_ref.actor.clip_ratio_high", "verl", "clip_high", NULL},
    {"clip_ratio_high", "verl", "clip_high", NULL},
    {"actor_rollout_ref.actor.clip_ratio_c", "verl", "dual_clip", NULL},
    {"clip_ratio_c", "verl", "dual_clip", NULL},
    {"actor_rollout_ref.actor.kl_loss_coef", "verl", "kl_coef", NULL},
    {"kl_loss_coef", "verl", "kl_coef", NULL},
    {"actor_rollout_ref.actor.kl_loss_type", "verl", "kl_estimator", "low_var_kl is k3"},
    {"kl_loss_type", "verl", "kl_estimator", "low_var_kl is k3"},
    {"actor_rollout_ref.actor.entropy_coeff", "verl", "entropy_coef", NULL},
    {"entropy_coeff", "verl", "entropy_coef", NULL},
    {"actor_rollout_ref.actor.loss_agg_mode", "verl", "loss_agg", NULL},
    {"loss_agg_mode", "verl", "loss_agg", NULL},
    {"actor_rollout_ref.actor.policy_loss.loss_mode", "verl", "ratio_level", "loss_mode gspo is ratio_level sequence"},
    {"loss_mode", "verl", "ratio_level", "loss_mode gspo is ratio_level sequence"},
    {"algorithm.adv_estimator", "verl", "algo", NULL},
    {"adv_estimator", "verl", "algo", NULL},
    {"algorithm.gamma", "verl", "gamma", NULL},
    {"algorithm.lam", "verl", "lam", NULL},
    {"trainer.total_training_steps", "verl", "total_steps", NULL},
    {"total_training_steps", "verl", "total_steps", NULL},
    {"trainer.save_freq", "verl", "save_every", NULL},
    {"save_freq", "verl", "save_every", NULL},
    {"trainer.test_freq", "verl", "eval_every", NULL},
    {"test_freq", "verl", "eval_every", NULL},
    {"trainer.default_local_dir", "verl", "run_dir", NULL},
    {"critic.optim.lr", "verl", "critic_lr", NULL},
    {"critic.model.path", "verl", "critic_model", NULL},
    {"critic.cliprange_value", "verl", "value_clip", NULL},
    {"cliprange_value", "verl", "value_clip", NULL},
};

/* verl's config sections: a YAML of them is nested, rlc's keys are flat. */
static const char *const SECTIONS[] = {"actor_rollout_ref", "algorithm", "trainer", "critic", "reward_model",
                                       "custom_reward_function", "ray_init"};

int rl_foreign_count(void) { return (int)(sizeof NAMES / sizeof *NAMES); }
const char *rl_foreign_rlc_name(int i) { return i >= 0 && i < rl_foreign_count() ? NAMES[i].rlc : NULL; }

int rl_foreign_hint(const char *n, int flag, const char **target, char *out, size_t cap) {
    *target = NULL;
    if (!n || !cap) return 0;
    for (size_t k = 0; k < sizeof NAMES / sizeof *NAMES; k++) {
        const foreign_t *f = &NAMES[k];
        if (strcmp(n, f->name)) continue;
        char r[64];
        *target = f->rlc;
        if (flag && f->rlc) rl_keys_flag_name(f->rlc, r, sizeof r);
        else snprintf(r, sizeof r, "%s", f->rlc ? f->rlc : "");
        if (!f->rlc) snprintf(out, cap, "%s's %s has no counterpart: %s", f->who, f->name, f->note);
        else snprintf(out, cap, "%s's %s is rlc's %s%s%s", f->who, f->name, r, f->note ? "; " : "",
                      f->note ? f->note : "");
        return 1;
    }
    for (size_t k = 0; k < sizeof SECTIONS / sizeof *SECTIONS; k++) {
        size_t l = strlen(SECTIONS[k]);
        if (!strncmp(n, SECTIONS[k], l) && (n[l] == 0 || n[l] == '.')) {
            snprintf(out, cap, "%s is a section of verl's config; rlc's keys are flat: see \"Coming from verl or "
                               "TRL\" in docs/training.md", SECTIONS[k]);
            return 1;
        }
    }
    return 0;
}
