/* Memory planning: a layout collects named buffers (bytes each), assigns aligned offsets
 * inside one block, and prints a report (MiB per buffer); the block itself is allocated
 * once by whoever owns it (host malloc or a backend's device alloc). A bump arena over a
 * host block serves scratch allocations that live for one call. */
#pragma once
#include <stddef.h>

#define RLC_ALIGN 256

typedef struct {
    char name[64];
    size_t bytes, offset;
} rlc_layout_entry_t;

typedef struct {
    rlc_layout_entry_t *e;
    int n, cap;
    size_t total;
} rlc_layout_t;

void rlc_layout_init(rlc_layout_t *l);
/* Returns the entry index or a negative error. */
int rlc_layout_add(rlc_layout_t *l, const char *name, size_t bytes);
void rlc_layout_free(rlc_layout_t *l);
/* Print "title: total MiB" and one line per buffer >= min_mib (INFO level). */
void rlc_layout_report(const rlc_layout_t *l, const char *title, double min_mib);

typedef struct {
    char *base;
    size_t cap, used, peak;
} rlc_arena_t;

int rlc_arena_init(rlc_arena_t *a, size_t cap);
void rlc_arena_free(rlc_arena_t *a);
/* Aligned bump allocation; NULL (and an error message) when the arena is full. */
void *rlc_arena_alloc(rlc_arena_t *a, size_t bytes);
static inline size_t rlc_arena_mark(const rlc_arena_t *a) { return a->used; }
static inline void rlc_arena_reset(rlc_arena_t *a, size_t mark) { a->used = mark; }
