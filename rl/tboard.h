/* TensorBoard event files (`tensorboard: true`): RUN/tensorboard/events.out.tfevents.<time>.<host>.<pid>
 * in the TFRecord framing (length, masked CRC32C of it, the record, masked CRC32C of it) of
 * hand-encoded Event protobufs: a file_version event, one event per step with every numeric
 * metric as a simple_value scalar, logged samples as text summaries (the text plugin's
 * tensor form), and on resume a SessionLog START at the resumed step, which makes TensorBoard
 * drop the events a crash left past it, so a resumed run continues the same curves.
 * Flushed and fsynced with each checkpoint. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef struct {
    FILE *f;
    char *path;
} rl_tb_t;

/* resume_step >= 0: a resumed run (the SessionLog START event). */
int rl_tb_open(rl_tb_t *tb, const char *run_dir, long resume_step);
/* Every number of a metrics row (nested objects flattened with "/"; arrays skipped). */
int rl_tb_scalars(rl_tb_t *tb, long step, double wall_time, const cJSON *row);
int rl_tb_text(rl_tb_t *tb, long step, double wall_time, const char *tag, const char *text);
int rl_tb_flush(rl_tb_t *tb);
void rl_tb_close(rl_tb_t *tb);

/* The pieces, for tests and readers: CRC32C (Castagnoli) and TensorBoard's mask of it. */
uint32_t rl_crc32c(const void *data, size_t n);
uint32_t rl_tb_mask(uint32_t crc);
