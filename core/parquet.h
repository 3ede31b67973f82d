/* Parquet files read as rows of JSON objects, so a dataset in parquet (verl's format) loads
 * as its JSONL export would: strings, numbers (an exact literal kept in valuestring, as the
 * JSONL reader keeps them; decimals exact with their scale; INT96 timestamps as nanoseconds),
 * booleans and nulls; structs become objects, lists arrays, maps lists of {key, value}.
 * Codecs: all but LZO; encodings: PLAIN, dictionaries, DELTA_* and BYTE_STREAM_SPLIT; data
 * pages v1 and v2. A damaged file is an error naming it, never a crash. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* 1 if the first bytes are parquet's magic "PAR1". */
int rlc_parquet_is(const uint8_t *head, size_t n);
/* Every row of the file as an array of objects (*rows; the caller deletes it). */
int rlc_parquet_read(const char *path, cJSON **rows);
