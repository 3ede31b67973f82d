/* Reader for tests/fixtures/math/grading_table.tsv (expect, gold, prediction, note), shared
 * by the grader test, the fuzz seeds and the grader benchmark. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int expect; /* 1 = equivalent, 0 = not */
    char *gold, *pred, *note;
    int line;
} grade_case_t;

/* Returns the number of cases (malloc'd array in *out, free with grade_cases_free), -1 on
 * a missing file, -2 - line on a malformed row. */
static inline int grade_cases_load(const char *path, grade_case_t **out) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    grade_case_t *v = NULL;
    int n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len || line[0] == '#') continue;
        char *fields[4] = {0};
        int nf = 0;
        for (char *p = line; nf < 4;) {
            fields[nf++] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            p = t + 1;
        }
        if (nf < 3 || (strcmp(fields[0], "Y") && strcmp(fields[0], "N"))) {
            free(line);
            fclose(f);
            for (int i = 0; i < n; i++) free(v[i].gold), free(v[i].pred), free(v[i].note);
            free(v);
            return -2 - lineno;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, sizeof *v * (size_t)cap);
        }
        v[n].expect = fields[0][0] == 'Y';
        v[n].gold = strdup(fields[1]);
        v[n].pred = strdup(fields[2]);
        v[n].note = fields[3] ? strdup(fields[3]) : NULL;
        v[n].line = lineno;
        n++;
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

static inline void grade_cases_free(grade_case_t *v, int n) {
    for (int i = 0; i < n; i++) free(v[i].gold), free(v[i].pred), free(v[i].note);
    free(v);
}
