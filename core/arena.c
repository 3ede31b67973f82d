/* Layout planning and the host bump arena. */
#include "core/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

static size_t align_up(size_t x) { return (x + RLC_ALIGN - 1) / RLC_ALIGN * RLC_ALIGN; }

void rlc_layout_init(rlc_layout_t *l) { memset(l, 0, sizeof *l); }

int rlc_layout_add(rlc_layout_t *l, const char *name, size_t bytes) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 32;
        rlc_layout_entry_t *e = rlc_realloc(l->e, (size_t)nc * sizeof *e);
        if (!e) return RLC_ENOMEM;
        l->e = e;
        l->cap = nc;
    }
    rlc_layout_entry_t *e = &l->e[l->n];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->bytes = bytes;
    e->offset = l->total;
    l->total += align_up(bytes);
    return l->n++;
}

void rlc_layout_free(rlc_layout_t *l) {
    free(l->e);
    memset(l, 0, sizeof *l);
}

void rlc_layout_report(const rlc_layout_t *l, const char *title, double min_mib) {
    LOG_INFO("%s: %.1f MiB", title, (double)l->total / 1048576.0);
    for (int i = 0; i < l->n; i++) {
        double mib = (double)l->e[i].bytes / 1048576.0;
        if (mib >= min_mib) LOG_INFO("  %-28s %10.2f MiB", l->e[i].name, mib);
    }
}

int rlc_arena_init(rlc_arena_t *a, size_t cap) {
    memset(a, 0, sizeof *a);
    a->base = aligned_alloc(RLC_ALIGN, align_up(cap ? cap : 1));
    if (!a->base) return rlc_errc(RLC_ENOMEM, "out of memory allocating a %zu-byte arena", cap);
    a->cap = align_up(cap ? cap : 1);
    return 0;
}

void rlc_arena_free(rlc_arena_t *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *rlc_arena_alloc(rlc_arena_t *a, size_t bytes) {
    size_t need = align_up(bytes);
    if (a->used + need > a->cap) {
        rlc_errc(RLC_ENOMEM, "arena full: %zu bytes asked, %zu of %zu used", bytes, a->used, a->cap);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}
