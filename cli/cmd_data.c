/* `rlc data`: how rlc reads a data set, before a run depends on it. Loads a file or a
 * directory of shards (JSONL, JSON array, CSV, parquet, Arrow, gzip; data_load_jsonl) with a
 * profile, prints what it found (rows kept and skipped, chat prompts, solutions, duplicate
 * ids and problems) and the first rows as rlc sees them, and with --out writes the rows as
 * rlc's own JSONL (a parquet set converted, say). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "data/dataset.h"

/* s on one line, cut to `max` bytes (at a character boundary) with "..." after. */
static void print_short(const char *s, size_t max) {
    size_t n = strlen(s), k = n <= max ? n : max;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    putchar('"');
    for (size_t i = 0; i < k; i++) {
        if (s[i] == '\n') fputs("\\n", stdout);
        else if (s[i] == '"') fputs("\\\"", stdout);
        else if ((unsigned char)s[i] < 0x20) putchar(' ');
        else putchar(s[i]);
    }
    fputs(k < n ? "...\"" : "\"", stdout);
}

/* How many of the rows' `which` strings (0 ids, 1 problems) repeat an earlier one. */
static long repeats(const data_set_t *ds, int which) {
    char **v = malloc(sizeof *v * (size_t)(ds->n ? ds->n : 1));
    if (!v) return -1;
    for (int i = 0; i < ds->n; i++) v[i] = which ? ds->rows[i].problem : ds->rows[i].id;
    qsort(v, (size_t)ds->n, sizeof *v, rlc_cmp_str);
    long r = 0;
    for (int i = 1; i < ds->n; i++) r += !strcmp(v[i], v[i - 1]);
    free(v);
    return r;
}

static void summarize(const char *path, const char *profile, const char *fields, const data_set_t *ds, long skipped,
                      long head) {
    long chat = 0, sol = 0;
    for (int i = 0; i < ds->n; i++) chat += ds->rows[i].messages != NULL, sol += ds->rows[i].solution != NULL;
    printf("data: %s (profile %s)\n", path, profile);
    if (fields[0]) printf("fields (of the first row): %s\n", fields);
    printf("rows: %d kept, %ld skipped as malformed%s\n", ds->n, skipped, skipped ? " (reasons above)" : "");
    printf("prompts: %ld as chat messages, %ld as text; %ld with a reference solution\n", chat, ds->n - chat, sol);
    long dup_id = repeats(ds, 0), dup_problem = repeats(ds, 1);
    if (dup_id > 0) printf("warning: %ld row(s) repeat an earlier id\n", dup_id);
    if (dup_problem > 0) printf("note: %ld row(s) repeat an earlier problem text\n", dup_problem);
    for (long i = 0; i < head && i < ds->n; i++) {
        const data_row_t *r = &ds->rows[i];
        printf("\n[%ld] id ", i + 1);
        print_short(r->id, 60);
        printf("  answer ");
        print_short(r->answer, 60);
        if (r->messages) printf("\n    chat prompt of %d message(s); last user turn:", cJSON_GetArraySize(r->messages));
        printf("\n    problem ");
        print_short(r->problem, 160);
        if (r->solution) {
            printf("\n    solution ");
            print_short(r->solution, 100);
        }
        putchar('\n');
    }
}

int cmd_data(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *profile = "auto", *prompt_key = NULL, *answer_key = NULL;
    long head = 3;
    int strict = 0;
    cli_opt_t opts[] = {
        {"--data", OPT_STR, &data,
         "the data: JSONL, JSON array, CSV, parquet, Arrow (.gz too), or a directory of shards", 1, 0},
        {"--profile", OPT_STR, &profile, "auto, math500, aime, gsm8k, verl or custom", 0, 0},
        {"--prompt-key", OPT_STR, &prompt_key, "field holding the problem (a dotted path; custom)", 0, 0},
        {"--answer-key", OPT_STR, &answer_key, "field holding the gold answer (a dotted path; custom)", 0, 0},
        {"--head", OPT_INT, &head, "rows shown", 0, 0},
        {"--out", OPT_STR, &out, "write the rows as rlc's JSONL here (id, problem or prompt, answer, ...)", 0, 0},
        {"--strict", OPT_FLAG, &strict, "a malformed row is fatal (default: warn and skip)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(argc, argv, opts, nopts, "rlc data --data FILE|DIR [--profile P] [--head N] [--out F.jsonl]",
                       "Show how rlc reads a data set (the rows a run would train or evaluate on), and optionally\n"
                       "write them out as JSONL.");
    if (rc) return rc > 0 ? 0 : cli_fail();
    const char *inputs[1] = {data};
    if (cli_check_range("--head", head, 0, 1L << 30) || cli_check_output("--out", out, inputs, 1)) return cli_fail();
    char fields[240] = "";
    data_load_opts_t lo = {.profile = profile, .prompt_key = prompt_key, .answer_key = answer_key, .strict = strict,
                           .fields = fields, .fields_cap = sizeof fields};
    data_set_t ds;
    long skipped = 0;
    if (data_load_jsonl(data, &lo, &ds, &skipped)) return cli_fail();
    summarize(data, profile, fields, &ds, skipped, head);
    if (out && !(rc = data_set_write_jsonl(&ds, out))) LOG_INFO("wrote %d row(s) to %s", ds.n, out);
    data_set_free(&ds);
    return rc ? cli_fail() : 0;
}
