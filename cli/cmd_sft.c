/* `rlc sft`: supervised fine-tuning on prompt/response pairs (loss on response tokens only),
 * with the same prompt rendering, run directory, metrics and checkpoints as `rlc train`, and
 * the same data parallelism under mpirun/srun (each rank a share of every batch). Its keys
 * and flags go through the same table machinery and flag grammar as `rlc train`'s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/dist_run.h"
#include "core/err.h"
#include "rl/rundir.h"
#include "rl/sft.h"

static void print_help(void) {
    printf("usage: rlc sft --model DIR --data FILE.jsonl --run-dir DIR [--config FILE] [--KEY VALUE]...\n"
           "       rlc sft --resume RUN_DIR [--KEY VALUE]...\n\n"
           "Supervised fine-tuning (loss on response tokens only); checkpoints are Hugging Face directories.\n"
           "Every key below is a flag (--batch-size 16) and a config-file key (batch_size: 16); flags\n"
           "override the file. Keys shared with rlc train have the same meaning and default.\n\n");
    rl_keys_print_help(rl_sft_table(), stdout);
    printf("\n  %-30s %s\n  %-30s %s\n  %-30s %s\n", "--resume RUN_DIR",
           "continue RUN_DIR from its newest complete checkpoint", "--overwrite",
           "a fresh run may replace an earlier run in --run-dir", "--quiet", "no step lines");
}

/* Flags onto the defaults; --resume and --quiet are run options, not keys. */
static int parse(int argc, char **argv, rl_sft_opts_t *o) {
    int *rest = malloc((size_t)(argc ? argc : 1) * sizeof *rest), n_rest = 0;
    if (!rest) return rlc_errc(RLC_ENOMEM, "out of memory");
    int rc = rl_keys_apply_argv(rl_sft_table(), o, argc, argv, rest, &n_rest);
    for (int k = 0; k < n_rest && !rc; k++) {
        const char *a = argv[rest[k]];
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--overwrite")) {
            o->overwrite = 1;
        } else if (!strcmp(a, "--resume")) {
            if (k + 1 >= n_rest || rest[k + 1] != rest[k] + 1 || !strncmp(argv[rest[k + 1]], "--", 2)) {
                rc = rlc_errc(RLC_EINVAL, "--resume needs a run directory");
                break;
            }
            const char *run = argv[rest[++k]];
            o->resume = 1;
            rc = rl_sft_set(o, "run_dir", run, "--resume");
            if (!rc && !o->model[0]) rc = rl_sft_set(o, "model", run, "--resume");
        } else if (!strncmp(a, "--", 2)) {
            rc = rl_keys_unknown_flag(rl_sft_table(), a);
        } else {
            rc = rlc_errc(RLC_EINVAL, "unexpected argument '%s' (see rlc sft --help)", a);
        }
    }
    free(rest);
    return rc;
}

int cmd_sft(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help();
            return 0;
        }
    cli_dist_early();
    rl_sft_opts_t o;
    int rc = rl_sft_defaults(&o);
    if (!rc) rc = parse(argc, argv, &o);
    if (!rc) rc = rl_sft_validate(&o); /* a bad value is reported before MPI starts */
    static const char *const model_key[1] = {"model"}; /* a model directory, a run or a checkpoint pointer */
    if (!rc) rc = rl_keys_resolve_models(rl_sft_table(), &o, model_key, 1);
    if (rc) {
        rl_sft_free(&o);
        return cli_dist_fail();
    }
    dist_comm_t *comm = NULL;
    if (cli_dist_open(o.dist, &comm)) {
        rl_sft_free(&o);
        return 1;
    }
    o.comm = comm;
    rc = rl_sft(&o);
    rl_sft_free(&o);
    return cli_dist_finish(comm, rc);
}
