/* Fuzz target: the JSONL dataset loader (data/dataset.c) on arbitrary bytes, under every
 * profile: text and chat-message prompts, dotted field paths, GSM8K answers; then the tool
 * prefix, and the rows written back and read again (the same count, answers and messages);
 * the same bytes as a CSV file too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "data/dataset.h"

static void fail(const char *what, int profile, int row) {
    fprintf(stderr, "fuzz_dataset: %s (profile %d, row %d): %s\n", what, profile, row, rlc_errmsg());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char in[64], out[64], csv[64];
    if (!in[0]) {
        snprintf(in, sizeof in, "/tmp/rlc_fuzz_ds_%d.jsonl", (int)getpid());
        snprintf(csv, sizeof csv, "/tmp/rlc_fuzz_ds_%d.csv", (int)getpid());
        snprintf(out, sizeof out, "/tmp/rlc_fuzz_ds_%d.out.jsonl", (int)getpid());
        rlc_log_set_level(RLC_LOG_QUIET);
    }
    FILE *f = fopen(in, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *profiles[] = {"auto", "math500", "aime", "gsm8k", "verl"};
    for (int k = 0; k < 5; k++) {
        data_set_t ds;
        data_load_opts_t o = {.profile = profiles[k]};
        if (data_load_jsonl(in, &o, &ds, NULL)) continue;
        if (data_set_prefix_problems(&ds, "TOOLS") || data_set_write_jsonl(&ds, out)) fail("prefix or write", k, 0);
        data_set_t back;
        data_load_opts_t a = {.profile = "auto"};
        if (data_load_jsonl(out, &a, &back, NULL) || back.n != ds.n) fail("read back", k, 0);
        for (int i = 0; i < ds.n; i++)
            if (strcmp(back.rows[i].answer, ds.rows[i].answer) ||
                ((back.rows[i].messages || ds.rows[i].messages) &&
                 !cJSON_Compare(back.rows[i].messages, ds.rows[i].messages, 1)))
                fail("a row read back differs", k, i);
        data_set_free(&back);
        data_set_free(&ds);
    }
    data_load_opts_t c = {.profile = "custom", .prompt_key = "a.b", .answer_key = "c.d.e"};
    data_set_t ds;
    if (!data_load_jsonl(in, &c, &ds, NULL)) data_set_free(&ds);
    remove(in);
    /* the same bytes as a CSV file (core/csv.c): its rows, written back as JSONL, read again */
    f = fopen(csv, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        data_load_opts_t p = {.profile = "custom", .prompt_key = "problem", .answer_key = "answer"};
        if (!data_load_jsonl(csv, &p, &ds, NULL)) {
            data_set_t back;
            data_load_opts_t a = {.profile = "auto"};
            if (data_set_write_jsonl(&ds, out) || data_load_jsonl(out, &a, &back, NULL) || back.n != ds.n)
                fail("csv read back", 5, 0);
            for (int i = 0; i < ds.n; i++)
                if (strcmp(back.rows[i].answer, ds.rows[i].answer) || strcmp(back.rows[i].problem, ds.rows[i].problem))
                    fail("a csv row read back differs", 5, i);
            data_set_free(&back);
            data_set_free(&ds);
        }
        remove(csv);
    }
    remove(out);
    return 0;
}
