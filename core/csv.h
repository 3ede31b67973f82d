/* CSV and TSV files as rows of JSON objects (core/csv.c), for the row reader (core/json.h):
 * a file named *.csv or *.tsv (or *.csv.gz, *.tsv.gz) reads as pandas' read_csv would give
 * it to to_json: a header of column names, quoted fields, numbers by column (True/False
 * stay text), empty fields as null. */
#pragma once
#include <stddef.h>

#include <cjson/cJSON.h>

/* ',' for a *.csv path, '\t' for *.tsv (either possibly .gz), 0 for any other. */
int rlc_csv_delim(const char *path);

/* The records of text[0..n) after its header as an array (*rows) whose items are row
 * objects (delim ',' becomes ';' or a tab when the header line holds no comma but those),
 * or strings giving why a record is malformed (more fields than the header);
 * (*lines)[k] is the line item k starts on. A quoted field left open is an error naming
 * `path` and its line. Both malloc'd; the caller frees them. */
int rlc_csv_parse(const char *text, size_t n, char delim, const char *path, cJSON **rows, long **lines);
