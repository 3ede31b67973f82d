/* The python tool's fork servers (pyfork.c; docs/tools.md "Fork server"). Private to tools/. */
#pragma once
#include <stddef.h>

#include "tools/tool.h"

typedef struct rlc_pyfork rlc_pyfork_t;

/* A pool of up to max_servers servers for the interpreter at `python` (a real path), none
 * started yet; each imports the comma-separated modules of preload (NULL: none) before it
 * serves. NULL where the sandbox has no seccomp program to give the calls (not x86-64)
 * or on allocation failure: the caller runs every call the exec way. */
rlc_pyfork_t *rlc_pyfork_create(const char *python, const char *preload, int max_servers);
void rlc_pyfork_free(rlc_pyfork_t *p);
/* One call on a free server (started if need be), as rlc_python_run does it: the output
 * (stdout + stderr, cut at max_out, with the same notes) malloc'd and *st. NULL when the pool
 * cannot serve (p NULL, or a server failed to start — logged once): run it the exec way. */
char *rlc_pyfork_run(rlc_pyfork_t *p, const char *code, double timeout_s, size_t max_out, rlc_tool_status_t *st);
