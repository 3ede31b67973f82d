/* `rlc info`: version, compiled backends and the devices found. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "rlc_version.h"

int cmd_info(int argc, char **argv) {
    cli_opt_t opts[1];
    int rc = cli_parse(argc, argv, opts, 0, "rlc info", "Print the version, compiled backends and devices.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    printf("rlc %s\n", RLC_VERSION);
    return 0;
}
