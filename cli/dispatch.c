/* The `rlc` command: global flags, then dispatch to a subcommand (cli_main, also called
 * in-process by the CLI fuzz target). Thin by design: parsing and printing only; the work
 * lives in the modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "rlc_version.h"

static const cli_command_t COMMANDS[] = {
    {"demo", cmd_demo, "warm-start a tiny model, train it with GRPO, show held-out accuracy before/after"},
    {"train", cmd_train, "reinforcement learning: GRPO, Dr.GRPO, RLOO, REINFORCE++, PPO"},
    {"sft", cmd_sft, "supervised fine-tuning on prompt/response pairs"},
    {"eval", cmd_eval, "evaluate a model on a math dataset (pass@1, maj@K, pass@k)"},
    {"score", cmd_score, "a reward model's per-step (PRM) or outcome (ORM) scores of solutions, as JSON"},
    {"tts", cmd_tts, "test-time-scaling sweep over N: pass@N, majority, best-of-N / weighted vote with an ORM"},
    {"report", cmd_report, "plot a run's metrics as SVG and write report.md (runs overlaid)"},
    {"generate", cmd_generate, "sample completions with the rollout engine"},
    {"logprobs", cmd_logprobs, "per-token log-probabilities of a text under a model (score a completion)"},
    {"grade", cmd_grade, "grade math answers (a pair, or a JSONL file)"},
    {"data", cmd_data, "how rlc reads a data set (JSONL, parquet, Arrow, shards): counts, first rows, JSONL out"},
    {"tool", cmd_tool, "run one tool call (calculator, python) as the trainer would"},
    {"tokenize", cmd_tokenize, "text (or a chat prompt) to token ids"},
    {"detokenize", cmd_detokenize, "token ids to text"},
    {"init-model", cmd_init_model, "write a randomly initialised model directory from a config.json"},
    {"info", cmd_info, "version, compiled backends and devices found"},
};
static const int NCOMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

static void usage(FILE *f) {
    fprintf(f, "rlc %s: reinforcement learning for reasoning language models\n\n", RLC_VERSION);
    fprintf(f, "usage: rlc [--log-level debug|info|warn|error|quiet] <command> [options]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nrun `rlc <command> --help` for the options of a command.\n");
}

int cli_main(int argc, char **argv) {
    const char *lvl = getenv("RLC_LOG");
    if (lvl && rlc_log_parse_level(lvl) >= 0) rlc_log_set_level(rlc_log_parse_level(lvl));
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("rlc %s\n", RLC_VERSION);
            return 0;
        }
        if (!strcmp(argv[i], "--log-level") && i + 1 < argc && rlc_log_parse_level(argv[i + 1]) >= 0) {
            rlc_log_set_level(rlc_log_parse_level(argv[i + 1]));
            i += 2;
            continue;
        }
        fprintf(stderr, "rlc: error: unknown global option '%s'\n", argv[i]);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (int k = 0; k < NCOMMANDS; k++)
        if (!strcmp(argv[i], COMMANDS[k].name)) return COMMANDS[k].run(argc - i, argv + i);
    fprintf(stderr, "rlc: error: unknown command '%s' (see rlc --help)\n", argv[i]);
    return 2;
}
