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
#include "rl/config.h"
#include "rl/loop.h"

int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: rlc train --model DIR --data FILE.jsonl --run-dir DIR [--config FILE] [--KEY VALUE]...\n"
                   "       rlc train --resume RUN_DIR [--KEY VALUE]...\n\n"
                   "Reinforcement learning on verifiable rewards. Every key below is a flag (--clip-high 0.28) and\n"
                   "a config-file key (clip_high: 0.28); flags override the file. The resolved configuration is\n"
                   "written to RUN_DIR/config.json; metrics.jsonl, samples.jsonl and checkpoints/ go beside it.\n\n");
            rl_config_print_help(stdout);
            printf("\n  --resume RUN_DIR           continue RUN_DIR from its newest complete checkpoint\n");
            return 0;
        }
    cli_dist_early();
    /* --resume RUN_DIR: start from the run's resolved config, then apply the other flags */
    const char *resume = NULL;
    char **args = malloc((size_t)(argc + 3) * sizeof *args);
    if (!args) {
        fprintf(stderr, "rlc: error: out of memory\n");
        return 1;
    }
    int na = 0;
    args[na++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 >= argc) {
                free(args);
                fprintf(stderr, "rlc: error: --resume needs a run directory\n");
                return 1;
            }
            resume = argv[++i];
            continue;
        }
        args[na++] = argv[i];
    }
    char *cfg_path = NULL;
    if (resume) {
        cfg_path = fs_join(resume, "config.json");
        if (!cfg_path || !fs_exists(cfg_path)) {
            fprintf(stderr, "rlc: error: %s has no config.json (is it a run directory?)\n", resume);
            free(cfg_path);
            free(args);
            return 1;
        }
    }
    rl_config_t cfg;
    int rc = rl_config_init(&cfg);
    if (!rc && cfg_path) rc = rl_config_load_file(&cfg, cfg_path);
    if (!rc) {
        /* flags after the saved config; rl_config_from_argv re-initialises, so apply by hand */
        for (int i = 1; i < na && !rc; i++) {
            const char *a = args[i];
            if (strncmp(a, "--", 2)) {
                rc = rlc_errc(RLC_EINVAL, "unexpected argument '%s' (see rlc train --help)", a);
                break;
            }
            const char *eq = strchr(a, '=');
            char name[128];
            if (eq) {
                snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
                if (!strcmp(name, "--config")) rc = rl_config_load_file(&cfg, eq + 1);
                else rc = rl_config_apply_flag(&cfg, name, eq + 1);
                continue;
            }
            snprintf(name, sizeof name, "%s", a);
            int k = rl_config_find(name);
            if (!strcmp(name, "--config")) {
                if (i + 1 >= na) rc = rlc_errc(RLC_EINVAL, "--config needs a file");
                else rc = rl_config_load_file(&cfg, args[++i]);
                continue;
            }
            if (k < 0) {
                rc = rl_config_apply_flag(&cfg, name, "true"); /* produces the unknown-key error */
                break;
            }
            int n;
            const rl_config_key_t *keys = rl_config_keys(&n);
            if (keys[k].type == RL_CFG_BOOL && (i + 1 >= na || !strncmp(args[i + 1], "--", 2)))
                rc = rl_config_apply_flag(&cfg, name, "true");
            else if (i + 1 >= na)
                rc = rlc_errc(RLC_EINVAL, "%s needs a value", name);
            else
                rc = rl_config_apply_flag(&cfg, name, args[++i]);
        }
    }
    if (!rc && resume) rc = rl_config_set(&cfg, "run_dir", resume, "--resume");
    free(cfg_path);
    free(args);
    dist_comm_t *comm = NULL;
    if (!rc) rc = rl_config_validate(&cfg); /* a bad value is reported before MPI starts */
    if (rc) {
        rl_config_free(&cfg);
        return cli_dist_fail();
    }
    if (cli_dist_open(cfg.dist, &comm)) {
        rl_config_free(&cfg);
        return 1;
    }
    rl_run_opts_t o = {.resume = resume != NULL, .comm = comm};
    rc = rl_train(&cfg, &o);
    rl_config_free(&cfg);
    return cli_dist_finish(comm, rc);
}
