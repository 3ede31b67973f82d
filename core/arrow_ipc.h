/* Arrow IPC files read as rows of JSON objects (core/arrow_ipc.c): the stream format that
 * Hugging Face datasets' save_to_disk writes (data-00000-of-00001.arrow) and the ARROW1 file
 * format. Values as the parquet reader gives them (core/parquet.h): strings, numbers with an
 * exact literal, booleans, nulls, structs as objects, lists (and maps, as lists of their
 * entries) as arrays, decimals exact, dates and times as their integers; byte values that
 * are not text read as null; dictionary-encoded (categorical) columns as their values, and
 * LZ4-frame or zstd compressed batches (Feather v2) inflated. Intervals are left out with a
 * warning; unions are errors. A damaged file is an error naming it, never a crash. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* 1 if the first bytes start an Arrow stream (a continuation mark) or file ("ARROW1"). */
int rlc_arrow_is(const uint8_t *head, size_t n);
/* Every row of the file as an array of objects (*rows; the caller deletes it). */
int rlc_arrow_read(const char *path, cJSON **rows);
