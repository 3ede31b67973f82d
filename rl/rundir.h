/* The rules of a run directory, for `rlc train` and `rlc sft` (rank 0 applies them):
 *  - it is not, and is not inside, a model directory the run reads (the run would overwrite
 *    the model's files);
 *  - one process per run directory: an exclusive lock (flock on RUN/.rlc.lock, holding the
 *    owner's pid) is held for the whole run; a second process fails at once naming it;
 *  - a fresh run does not start in a directory that already holds a run (config.json,
 *    metrics.jsonl or checkpoints/): the user continues it with --resume or starts over
 *    with --overwrite, which removes the earlier run's files first;
 *  - resume picks the newest checkpoint whose every file matches its manifest hash; a
 *    damaged newest one falls back to the newest good one with a warning, and a run whose
 *    checkpoints are all damaged is an error (never a silent start from step 0).
 * Owns: the lock (its file descriptor) until rl_rundir_release. */
#pragma once

typedef struct {
    int fd; /* -1: not held */
} rl_rundir_t;

/* Check run_dir against the model directories (n_models entries, NULL or "" skipped),
 * create it, lock it, and (fresh runs) refuse or clear an earlier run. */
int rl_rundir_claim(rl_rundir_t *rd, const char *run_dir, const char *const *models, int n_models, int resume,
                    int overwrite);
void rl_rundir_release(rl_rundir_t *rd);
/* The checkpoint to resume from: 0 with *dir (malloc'd) and *step; 1 when the run has no
 * checkpoint at all (a warning; training starts at step 0); an error when every checkpoint
 * is damaged. */
int rl_rundir_resume_point(const char *run_dir, char **dir, long *step);

/* Where a model is, for every option that takes one (--model, --ref-model, --critic-model,
 * --orm, --prm, config keys of the same meaning), resolved in one place. spec may be:
 *   - a Hugging Face model directory (config.json with a model type): itself;
 *   - a run directory (it holds checkpoints/): its newest checkpoint that verifies;
 *   - a run's checkpoints/ directory: the same;
 *   - the checkpoints/latest pointer file: the newest checkpoint that verifies;
 *   - RUN@STEP or RUN/checkpoints/step-N: that step's checkpoint, which must verify.
 * Damaged or half-written checkpoints are skipped exactly as --resume skips them. On success
 * *dir (malloc'd) is the model directory to load and *step its step (-1 for a plain model
 * directory); an info line names what `what` resolved to. The error says what was expected
 * and what was found ("run1 is a run directory with no complete checkpoint yet"). */
int rl_model_resolve(const char *spec, const char *what, char **dir, long *step);
/* The same for string keys of a configured struct (rl/keys.h): each non-empty value of
 * keys[0..n) is replaced by the directory it resolves to (the key names it in messages). */
struct rl_keytab;
int rl_keys_resolve_models(const struct rl_keytab *t, void *obj, const char *const *keys, int n);
