/* `rlc info --model`: a checkpoint's summary without loading its weights (cli/info_model.c). */
#pragma once

/* spec: a model directory or a run (rl_model_resolve). Prints text or, with json, one JSON
 * object; 0 or a negative error (the message set). */
int info_model(const char *spec, int json);
