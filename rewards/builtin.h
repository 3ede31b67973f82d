/* Constructors of the built-in reward kinds, referenced by the registry in reward.c. Each
 * parses its "options" object (unknown keys rejected) and fills r->score / state / destroy. */
#pragma once
#include "rewards/reward.h"

int rlc_reward_math_create(rlc_reward_t *r, const cJSON *options);
int rlc_reward_format_create(rlc_reward_t *r, const cJSON *options);
int rlc_reward_countdown_create(rlc_reward_t *r, const cJSON *options);
int rlc_reward_http_create(rlc_reward_t *r, const cJSON *options);
int rlc_reward_prm_create(rlc_reward_t *r, const cJSON *options);

/* The gold answer of a rollout as text (string or number field `key` of meta), into buf.
 * Returns 0, or an error naming the rollout index when absent. */
int rlc_reward_gold(const rlc_rollout_t *r, int index, const char *key, char *buf, size_t cap);
/* The completion text a grader should read: everything, or only what follows the last
 * "</think>" when after_think is set and the tag is present. */
const char *rlc_reward_answer_part(const char *completion, int after_think);
/* "extract": "boxed,gsm8k" or ["boxed", "gsm8k"] -> MATH_EXTRACT_* flags (absent: unchanged). */
int rlc_reward_parse_extract(const cJSON *v, int *flags, const char *what);
/* Does `completion` meet the format `require` ("boxed", "answer_line", "think",
 * "answer_tag")? Sets *ok; fails only for an unknown requirement. */
int rlc_format_ok(const char *completion, const char *require, int *ok);
