/* Flag parser shared by all subcommands. */
#include "cli/args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

const cli_opt_t *cli_opt(const cli_opt_t *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (!strcmp(opts[i].name, name)) return &opts[i];
    return NULL;
}

void cli_print_help(FILE *f, const cli_opt_t *opts, int nopts, const char *usage, const char *desc) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, desc);
    for (int i = 0; i < nopts; i++) {
        const cli_opt_t *o = &opts[i];
        char arg[64] = "";
        switch (o->type) {
        case OPT_STR: snprintf(arg, sizeof arg, " STR"); break;
        case OPT_INT: snprintf(arg, sizeof arg, " N"); break;
        case OPT_FLOAT: snprintf(arg, sizeof arg, " X"); break;
        case OPT_LIST: snprintf(arg, sizeof arg, " STR..."); break;
        case OPT_FLAG: break;
        }
        char def[96] = "";
        if (o->required)
            snprintf(def, sizeof def, " (required)");
        else if (o->type == OPT_STR && *(const char **)o->dst)
            snprintf(def, sizeof def, " [default: %s]", *(const char **)o->dst);
        else if (o->type == OPT_INT)
            snprintf(def, sizeof def, " [default: %ld]", *(long *)o->dst);
        else if (o->type == OPT_FLOAT)
            snprintf(def, sizeof def, " [default: %g]", *(double *)o->dst);
        char left[96];
        snprintf(left, sizeof left, "%s%s", o->name, arg);
        fprintf(f, "  %-26s %s%s\n", left, o->help, def);
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

static int parse_value(cli_opt_t *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) return rlc_errc(RLC_EINVAL, "%s expects an integer, got '%s'", o->name, v);
        if (x < INT_MIN || x > INT_MAX) /* every integer option ends up in an int */
            return rlc_errc(RLC_EINVAL, "%s = %s: out of range (an integer in [%d, %d])", o->name, v, INT_MIN, INT_MAX);
        *(long *)o->dst = x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return rlc_errc(RLC_EINVAL, "%s expects a number, got '%s'", o->name, v);
        *(double *)o->dst = x;
        return 0;
    }
    case OPT_LIST: {
        cli_list_t *l = o->dst;
        if (l->n >= CLI_LIST_MAX) return rlc_errc(RLC_EINVAL, "%s given more than %d times", o->name, CLI_LIST_MAX);
        l->v[l->n++] = v;
        return 0;
    }
    case OPT_FLAG: break;
    }
    return 0;
}

int cli_parse(int argc, char **argv, cli_opt_t *opts, int nopts, const char *usage, const char *desc) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(stdout, opts, nopts, usage, desc);
            return 1;
        }
        char name[128];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (a[0] == '-' && a[1] == '-' && eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        cli_opt_t *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (!strcmp(opts[k].name, name)) o = &opts[k];
        if (!o) {
            if (a[0] != '-') return rlc_errc(RLC_EINVAL, "unexpected argument '%s' (see --help)", a);
            return rlc_errc(RLC_EINVAL, "unknown option '%s' (see --help)", name);
        }
        o->seen = 1;
        if (o->type == OPT_FLAG) {
            if (val) return rlc_errc(RLC_EINVAL, "%s takes no value", o->name);
            *(int *)o->dst = 1;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return rlc_errc(RLC_EINVAL, "%s needs a value", o->name);
            val = argv[++i];
        }
        int rc = parse_value(o, val);
        if (rc) return rc;
    }
    for (int k = 0; k < nopts; k++)
        if (opts[k].required && !opts[k].seen) return rlc_errc(RLC_EINVAL, "missing required option %s", opts[k].name);
    return 0;
}

int cli_check_range(const char *name, long v, long lo, long hi) {
    if (v < lo) return rlc_errc(RLC_EINVAL, "%s = %ld: must be at least %ld", name, v, lo);
    if (v > hi) return rlc_errc(RLC_EINVAL, "%s = %ld: must be at most %ld", name, v, hi);
    return 0;
}

int cli_fail(void) {
    fprintf(stderr, "rlc: error: %s\n", rlc_errmsg());
    return 1;
}
