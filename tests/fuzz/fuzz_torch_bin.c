/* Fuzz target: PyTorch's torch.save zip reader and its restricted unpickler on arbitrary
 * bytes; every tensor it accepts must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "core/torch_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rlc_st_tensor_t *t;
    int n;
    if (rlc_torch_parse(data, size, "fuzz", &t, &n) == 0) {
        for (int i = 0; i < n; i++) {
            const uint8_t *d = t[i].data;
            if (t[i].nbytes && (d < data || d + t[i].nbytes > data + size)) abort();
            free(t[i].name);
        }
        free(t);
    }
    return 0;
}
