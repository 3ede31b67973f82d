/* What a key from another trainer is called in rlc (rl/foreign.c). */
#pragma once
#include <stddef.h>

/* 1 with a one-line hint in out ("TRL's num_generations is rlc's group_size", or
 * "--group-size" when flag) when n, a key name as rl/keys.c normalizes it (underscores, no
 * leading dashes), is a TRL GRPOConfig field, a verl override or a verl config section; 0
 * otherwise. *target: the rlc key named (NULL for a section or a name without a
 * counterpart). */
int rl_foreign_hint(const char *n, int flag, const char **target, char *out, size_t cap);
/* The table's entries' rlc keys, by index (NULL: no counterpart), for tests. */
int rl_foreign_count(void);
const char *rl_foreign_rlc_name(int i);
