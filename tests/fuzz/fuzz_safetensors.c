/* Fuzz target: the safetensors header parser and fp32 conversion on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rlc_st_tensor_t *t;
    int n;
    cJSON *meta;
    if (rlc_st_parse(data, size, "fuzz", &t, &n, &meta) == 0) {
        for (int i = 0; i < n; i++) {
            if (t[i].numel > (1u << 20)) continue;
            float *f = malloc(t[i].numel * sizeof(float) + 1);
            if (f) rlc_st_to_f32(&t[i], f);
            free(f);
            free(t[i].name);
        }
        free(t);
        cJSON_Delete(meta);
    }
    return 0;
}
