/* The `rlc` binary's entry point; everything else is cli_main (cli/dispatch.c). */
#include "cli/commands.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
