/* Declarative flag parsing for subcommands: each command lists its options once, and the
 * same table drives parsing, validation and `--help` (with defaults). */
#pragma once
#include <stdio.h>

typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_FLAG, OPT_LIST } cli_opt_type_t;

/* OPT_LIST: a repeatable string option (e.g. --stop A --stop B). */
#define CLI_LIST_MAX 16
typedef struct {
    const char *v[CLI_LIST_MAX];
    int n;
} cli_list_t;

typedef struct {
    const char *name;  /* "--model" */
    cli_opt_type_t type;
    void *dst;         /* const char **, long *, double *, int *, cli_list_t * */
    const char *help;  /* one line; the default is shown from *dst */
    int required;
    int seen;          /* set by the parser */
} cli_opt_t;

/* Parses argv[1..] (argv[0] is the subcommand). Positional arguments are rejected.
 * Returns 0 ok, 1 if --help was printed (exit 0), or a negative error (message set). */
int cli_parse(int argc, char **argv, cli_opt_t *opts, int nopts, const char *usage, const char *desc);
void cli_print_help(FILE *f, const cli_opt_t *opts, int nopts, const char *usage, const char *desc);
/* Look up an option entry by name (for checking `seen`). */
const cli_opt_t *cli_opt(const cli_opt_t *opts, int nopts, const char *name);
/* 0 when lo <= v <= hi, else an error naming the option and the range. */
int cli_check_range(const char *name, long v, long lo, long hi);
/* Print "rlc: error: <message>" and return the exit code 1 (for `return cli_fail();`). */
int cli_fail(void);
