/* cuBLASLt opened at first use (lt_loader.cu): rlc does not link the library, so a CPU run
 * never pays its start-up. The emulated build has nothing to load. */
#pragma once

#ifdef RLC_CUDA_EMU
static inline int rlc_lt_load(void) { return 0; }
static inline const char *rlc_lt_load_error(void) { return ""; }
#else
#ifdef __cplusplus
extern "C" {
#endif
/* 0 when cuBLASLt is loaded (opened on the first call); -1, with rlc_lt_load_error() saying
 * why, when it cannot be. */
int rlc_lt_load(void);
const char *rlc_lt_load_error(void);
#ifdef __cplusplus
}
#endif
#endif
