/* The instruction-set path of the CPU kernels: the best one the CPU and the OS support
 * (AVX-512 F/BW/VL/DQ, else AVX2+FMA, else portable C), optionally capped by the environment
 * variable RLC_CPU_ISA=avx512|avx2|portable (to compare paths, or to test the lower ones on a
 * machine that has the higher). Decided once per process. Every path of a kernel sums in
 * the same order unless its file says otherwise, so results do not depend on the path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/cpu/cpu_ops.h"

static int detect(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        return CPU_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CPU_ISA_AVX2;
#endif
    return CPU_ISA_PORTABLE;
}

static const char *const names[] = {"portable", "avx2", "avx512"};

int cpu_isa_supported(void) {
    static volatile int best = -1;
    if (best < 0) best = detect();
    return best;
}

static int decide(void) {
    int best = cpu_isa_supported();
    const char *e = getenv("RLC_CPU_ISA");
    if (!e || !*e) return best;
    for (int i = 0; i <= CPU_ISA_AVX512; i++)
        if (!strcmp(e, names[i])) {
            if (i > best) LOG_WARN("RLC_CPU_ISA=%s: this CPU supports only %s; using %s", e, names[best], names[best]);
            return i < best ? i : best;
        }
    LOG_WARN("RLC_CPU_ISA=%s: not one of avx512, avx2, portable; using %s", e, names[best]);
    return best;
}

int cpu_isa(void) {
    static volatile int isa = -1; /* racing first calls compute the same value */
    if (isa < 0) isa = decide();
    return isa;
}

const char *cpu_isa_name(int isa) {
    return isa >= 0 && isa <= CPU_ISA_AVX512 ? names[isa] : "?";
}

void cpu_model_name(char *out, size_t cap) {
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !c) continue;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        size_t n = strcspn(c, "\n");
        snprintf(out, cap, "%.*s", (int)n, c);
        break;
    }
    fclose(f);
}

const char *rlc_cpu_info(char *model, size_t cap) {
    if (model && cap) cpu_model_name(model, cap);
    return cpu_isa_name(cpu_isa());
}
