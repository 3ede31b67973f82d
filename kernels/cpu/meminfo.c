/* The backend's mem_info op on the CPU: MemAvailable and MemTotal of /proc/meminfo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "kernels/cpu/cpu_ops.h"

/* A "MemAvailable:   123456 kB" line of /proc/meminfo, in bytes; 0 if absent. */
static size_t meminfo_field(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? (size_t)strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

int cpu_mem_info(rlc_backend_t *be, size_t *free_bytes, size_t *total_bytes) {
    (void)be;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return rlc_errc(RLC_EIO, "cannot read /proc/meminfo");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    *total_bytes = meminfo_field(buf, "MemTotal:");
    *free_bytes = meminfo_field(buf, "MemAvailable:");
    if (!*total_bytes) return rlc_errc(RLC_EFMT, "/proc/meminfo has no MemTotal line");
    return 0;
}
