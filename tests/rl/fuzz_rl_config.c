/* Fuzz target: the training-config readers (YAML, JSON, argv) on arbitrary bytes, followed
 * by validation and the resolved-config writer. The first byte picks the reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "rl/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    rl_config_t c;
    if (mode == 2) {
        /* newline-separated argv */
        char *buf = malloc(len + 1), *argv[33];
        if (!buf) return 0;
        memcpy(buf, text, len);
        buf[len] = 0;
        int argc = 0;
        argv[argc++] = "train";
        for (char *tok = buf; tok && argc < 32;) {
            char *nl = strchr(tok, '\n');
            if (nl) *nl = 0;
            if (strncmp(tok, "--config", 8)) argv[argc++] = tok; /* no file reads from fuzz input */
            tok = nl ? nl + 1 : NULL;
        }
        int rest[33], nrest = 0;
        rl_config_from_argv(&c, argc, argv, (data[0] & 4) ? rest : NULL, (data[0] & 4) ? &nrest : NULL);
        free(buf);
    } else {
        if (rl_config_init(&c)) return 0;
        if (mode == 0) {
            rl_config_load_yaml(&c, text, len, "fuzz.yaml");
        } else {
            cJSON *j = cJSON_ParseWithLength(text, len);
            if (j) rl_config_load_json(&c, j, "fuzz.json");
            cJSON_Delete(j);
        }
    }
    rl_config_validate(&c);
    int n;
    const rl_config_key_t *k = rl_config_keys(&n);
    char v[256];
    for (int i = 0; i < n; i++) rl_config_get(&c, k[i].name, v, sizeof v);
    cJSON *o = rl_config_to_json(&c);
    char *s = o ? rlc_json_print(o, 0) : NULL;
    free(s);
    cJSON_Delete(o);
    rl_config_free(&c);
    return 0;
}
