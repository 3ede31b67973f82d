/* How the training commands (`rlc train`, `rlc sft`) run under mpirun/srun: quiet and tag
 * every rank but 0 from the start, open the data-parallel communicator, and turn the result
 * into one error line and an exit code on every rank. */
#pragma once
#include "dist/dist.h"

/* Before any output: ranks other than 0 (as the launcher's environment says) log warnings
 * and errors only, tagged "[rank r]". */
void cli_dist_early(void);
/* Print an error line for this process ("[rank r] rlc: error: ..." on ranks > 0); returns 1. */
int cli_dist_fail(void);
/* dist_open(kind); on failure prints the error and returns 1 (the exit code), else 0. */
int cli_dist_open(const char *kind, dist_comm_t **out);
/* The exit code for rc (0, 130 when interrupted, else 1), after printing its message once:
 * by rank 0 when every rank knows the error (dist_agree), else by the rank that has it.
 * Then closes the communicator (ending the job if this rank failed alone). */
int cli_dist_finish(dist_comm_t *c, int rc);
