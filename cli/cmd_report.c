/* `rlc report RUN [RUN...]`: a run's curves as SVG plots and a report.md (rl/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/err.h"
#include "rl/report.h"

int cmd_report(int argc, char **argv) {
    rl_report_opts_t o = {.x = "step", .smooth = 1};
    long smooth = 1;
    cli_list_t more = {0};
    cli_opt_t opts[] = {
        {"--out", OPT_STR, &o.out, "output directory [default: the first run's report/]", 0, 0},
        {"--x", OPT_STR, &o.x, "x axis: step, tokens (generated) or time (wall seconds)", 0, 0},
        {"--smooth", OPT_INT, &smooth, "moving average over this many steps (1 = none)", 0, 0},
        {"--run", OPT_LIST, &more, "a run directory (also positional; repeat to overlay runs)", 0, 0},
    };
    /* run directories may be given positionally: take them out before the option parser */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **runs = calloc((size_t)argc + CLI_LIST_MAX + 1, sizeof *runs);
    if (!rest || !runs) {
        free(rest), free(runs);
        return cli_fail();
    }
    int nr = 0, na = 0;
    rest[na++] = argv[0];
    for (int i = 1; i < argc; i++) {
        int takes = i > 1 && (!strcmp(argv[i - 1], "--out") || !strcmp(argv[i - 1], "--x") ||
                              !strcmp(argv[i - 1], "--smooth") || !strcmp(argv[i - 1], "--run"));
        if (argv[i][0] != '-' && !takes) runs[nr++] = argv[i];
        else rest[na++] = argv[i];
    }
    int rc = cli_parse(na, rest, opts, 4, "rlc report RUN [RUN...] [--out DIR] [--x step|tokens|time] [--smooth K]",
                       "Plot a run's metrics (reward, held-out pass@1, KL, entropy, length, clip fraction, gradient\n"
                       "norm, tool calls, log-prob gap, throughput) as SVG, one file per group with the runs overlaid,\n"
                       "and write report.md with each run's settings, pass@1, speed and a few samples.");
    for (int i = 0; i < more.n; i++) runs[nr++] = more.v[i];
    char *dir = NULL;
    if (rc > 0) rc = 0, nr = -1; /* --help */
    else if (!rc && nr == 0) rc = rlc_errc(RLC_EINVAL, "rlc report needs a run directory (rlc report RUN)");
    o.smooth = (int)smooth;
    if (!rc && nr > 0) rc = rl_report(runs, nr, &o, &dir);
    if (!rc && dir) printf("report: %s/report.md\n", dir);
    free(dir), free(rest), free(runs);
    return rc ? cli_fail() : 0;
}
