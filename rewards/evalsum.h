/* Evaluation summary arithmetic for `rlc eval` and test-time-scaling reports: pass@1 as the
 * mean over K samples, majority vote maj@K (answers clustered by the math grader), the
 * unbiased pass@k estimator, and breakdowns by subject and level. */
#pragma once
#include <cjson/cJSON.h>

#include "rewards/math/math.h"

/* Unbiased pass@k from n samples with c correct (Chen et al. 2021):
 * 1 - C(n-c, k) / C(n, k), evaluated as a stable product. NAN when k < 1, k > n or c
 * outside [0, n]. */
double rlc_pass_at_k(int n, int c, int k);

typedef struct rlc_evalsum rlc_evalsum_t;

/* k_samples: the K of maj@K / pass@K (samples per item; items may have fewer, then pass@k
 * only averages items with at least k samples). */
int rlc_evalsum_new(int k_samples, rlc_evalsum_t **out);
/* One item: n samples with correct[i] in {0,1} and their extracted answers (NULL or ""
 * abstain from the vote). meta (may be NULL) supplies "subject" (or "type") and "level".
 * item_out (may be NULL) receives {"n", "correct", "pass@1", "maj_answer", "maj_correct"}. */
int rlc_evalsum_add(rlc_evalsum_t *s, const cJSON *meta, int n, const int *correct, const char *const *answers,
                    const math_opts_t *o, cJSON **item_out);
/* Generated tokens and wall time, for the throughput line. */
void rlc_evalsum_add_usage(rlc_evalsum_t *s, long tokens, double seconds);
/* {"items", "samples", "pass@1", "pass@2", ..., "pass@K", "maj@K", "by_subject": {...},
 *  "by_level": {...}, "tokens", "seconds", "tokens_per_second"} */
cJSON *rlc_evalsum_json(const rlc_evalsum_t *s);
void rlc_evalsum_free(rlc_evalsum_t *s);
