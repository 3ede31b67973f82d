/* `rlc train`: GRPO / Dr.GRPO / RLOO / REINFORCE++ / PPO. Every knob is a flag and a config
 * key (--config FILE, JSON or YAML; flags override); --resume RUN_DIR continues a run from
 * its newest complete checkpoint. Under mpirun/srun every rank runs this same command
 * (docs/distributed.md): rank 0 prints and writes, the others log warnings and errors only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/dist_run.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "rl/config.h"
#include "rl/loop.h"
#include "rl/rundir.h"

/* The keys whose values differ between two resolved configurations: {key: new value}. */
static cJSON *changed_keys(const cJSON *before, const cJSON *after) {
    cJSON *d = cJSON_CreateObject();
    for (const cJSON *a = after ? after->child : NULL; a && d; a = a->next) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(before, a->string);
        if (!b || !cJSON_Compare(a, b, 1)) {
            char *was = b ? cJSON_PrintUnformatted(b) : NULL, *now = cJSON_PrintUnformatted(a);
            LOG_INFO("resume: %s = %s (was %s)", a->string, now ? now : "?", was ? was : "unset");
            free(was), free(now);
            cJSON_AddItemToObject(d, a->string, cJSON_Duplicate(a, 1));
        }
    }
    return d;
}

/* The configuration: defaults, or with --resume RUN the run's saved config.json; then the
 * command line's --config files and flags (rl_keys_apply_argv, the one flag grammar). With
 * --resume, *overrides receives the keys the command line changed. */
static int resolve_config(int argc, char **argv, rl_config_t *cfg, rl_run_opts_t *o, cJSON **overrides) {
    int *rest = malloc((size_t)(argc ? argc : 1) * sizeof *rest), n_rest = 0;
    const char *resume = NULL;
    int rc = rl_config_init(cfg);
    if (!rest) rc = rc ? rc : RLC_ENOMEM;
    /* --resume first: its config.json is the base the flags apply onto */
    for (int i = 1; i < argc && !rc; i++)
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)) rc = rlc_errc(RLC_EINVAL, "--resume needs a run directory");
            else resume = argv[++i];
        }
    char *cfg_path = resume ? fs_join(resume, "config.json") : NULL;
    if (!rc && resume && (!cfg_path || !fs_exists(cfg_path)))
        rc = rlc_errc(RLC_EINVAL, "%s has no config.json (is it a run directory?)", resume);
    if (!rc && cfg_path) rc = rl_config_load_file(cfg, cfg_path);
    if (!rc && resume) rc = rl_config_set(cfg, "run_dir", resume, "--resume");
    cJSON *saved = !rc && resume ? rl_config_to_json(cfg) : NULL;
    if (!rc) rc = rl_keys_apply_argv(rl_config_table(), cfg, argc, argv, rest, &n_rest);
    for (int k = 0; k < n_rest && !rc; k++) {
        const char *a = argv[rest[k]];
        if (!strcmp(a, "--resume")) k++; /* its value was taken above */
        else if (!strcmp(a, "--overwrite")) o->overwrite = 1;
        else if (!strncmp(a, "--", 2)) rc = rl_keys_unknown_flag(rl_config_table(), a);
        else rc = rlc_errc(RLC_EINVAL, "unexpected argument '%s' (see rlc train --help)", a);
    }
    if (!rc && resume && strcmp(cfg->run_dir, resume))
        rc = rlc_errc(RLC_EINVAL, "--resume %s with --run-dir %s: a resumed run stays in its directory", resume,
                      cfg->run_dir);
    if (!rc && resume && o->overwrite) rc = rlc_errc(RLC_EINVAL, "--resume and --overwrite contradict each other");
    if (!rc && resume) {
        cJSON *now = rl_config_to_json(cfg);
        *overrides = changed_keys(saved, now);
        cJSON_Delete(now);
    }
    o->resume = resume != NULL;
    cJSON_Delete(saved);
    free(cfg_path);
    free(rest);
    return rc;
}

int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: rlc train --model DIR --data FILE.jsonl --run-dir DIR [--config FILE] [--KEY VALUE]...\n"
                   "       rlc train --resume RUN_DIR [--KEY VALUE]...\n\n"
                   "Reinforcement learning on verifiable rewards. Every key below is a flag (--clip-high 0.28) and\n"
                   "a config-file key (clip_high: 0.28); flags override the file. The resolved configuration is\n"
                   "written to RUN_DIR/config.json; metrics.jsonl, samples.jsonl and checkpoints/ go beside it.\n\n");
            rl_config_print_help(stdout);
            printf("\n  --resume RUN_DIR           continue RUN_DIR from its newest complete checkpoint (its saved\n"
                   "                             config; flags given with it override the keys they name)\n"
                   "  --overwrite                a fresh run may replace an earlier run in --run-dir\n");
            return 0;
        }
    cli_dist_early();
    rl_config_t cfg;
    rl_run_opts_t o = {0};
    cJSON *overrides = NULL;
    int rc = resolve_config(argc, argv, &cfg, &o, &overrides);
    dist_comm_t *comm = NULL;
    if (!rc) rc = rl_config_validate(&cfg); /* a bad value is reported before MPI starts */
    /* model, ref_model, critic_model: a model directory, a run or a checkpoint pointer; the
     * resolved directory is what the run loads and what its config.json records */
    static const char *const model_keys[3] = {"model", "ref_model", "critic_model"};
    if (!rc) rc = rl_keys_resolve_models(rl_config_table(), &cfg, model_keys, 3);
    if (rc) {
        rl_config_free(&cfg);
        cJSON_Delete(overrides);
        return cli_dist_fail();
    }
    if (cli_dist_open(cfg.dist, &comm)) {
        rl_config_free(&cfg);
        cJSON_Delete(overrides);
        return 1;
    }
    o.comm = comm;
    o.overrides = overrides;
    rc = rl_train(&cfg, &o);
    rl_config_free(&cfg);
    cJSON_Delete(overrides);
    return cli_dist_finish(comm, rc);
}
