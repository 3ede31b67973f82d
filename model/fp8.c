/* FP8 checkpoints, dequantized as they are read: a weight stored in float8 (e4m3fn, or e5m2) is
 * multiplied by the scale beside it, w = q x s, which transformers' fp8 integration and
 * DeepSeek's own code apply:
 *   - `<name>_scale_inv` [ceil(R / bR), ceil(C / bC)] per block of quantization_config's
 *     weight_block_size (DeepSeek-V3/R1, Kimi K2, Qwen3-FP8, MiniMax-M2; the last row and column
 *     of blocks may be partial), fp32, bf16 or e8m0 (2^(b - 127); transformers reads u8 so too);
 *   - `<name>_scale` per tensor ([] or [1]) or per channel ([R] or [R, 1]) (compressed-tensors'
 *     float-quantized checkpoints);
 *   - any other grid that tiles the weight evenly (transformers' rule: blocks R/sR x C/sC).
 * The parameters then hold the dequantized values in the model's own dtype, and a save writes
 * them in bf16 without the quantization_config. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/str.h"
#include "model/model.h"

int rlc_fp8_is_scale(const char *name) {
    return rlc_ends_with(name, ".weight_scale_inv") || rlc_ends_with(name, ".weight_scale") ||
           rlc_ends_with(name, ".input_scale");
}

int rlc_fp8_dtype(rlc_dtype_t dt) { return dt == RLC_DT_F8_E4M3 || dt == RLC_DT_F8_E5M2; }

/* The scale tensor's values as fp32 (u8: e8m0 exponents, as transformers reads them). */
static int scale_values(const rlc_st_tensor_t *s, float *v, const char *dir) {
    if (s->dtype == RLC_DT_U8) {
        const unsigned char *b = s->data;
        for (size_t i = 0; i < s->numel; i++) v[i] = b[i] == 255 ? NAN : ldexpf(1.0f, (int)b[i] - 127);
    } else {
        int rc = rlc_st_to_f32(s, v);
        if (rc) return rlc_err_ctx(rc, "%s", dir);
    }
    for (size_t i = 0; i < s->numel; i++)
        if (!isfinite(v[i])) return rlc_errc(RLC_EFMT, "%s: scale '%s' contains NaN or Inf", dir, s->name);
    return 0;
}

/* The block a scale covers: rows *br and columns *bc of the [R, C] weight, its grid sR x sC. */
static int scale_blocks(const rlc_model_config_t *c, const rlc_st_tensor_t *s, int64_t R, int64_t C, int64_t *br,
                        int64_t *bc, int64_t *sc, const char *what, const char *dir) {
    int64_t sR = s->ndim >= 1 ? s->shape[0] : 1, sC = s->ndim == 2 ? s->shape[1] : 1;
    int64_t b0 = c->fp8_block[0], b1 = c->fp8_block[1];
    if (s->numel == 1) sR = sC = 1;
    *sc = sC;
    *br = *bc = 1;
    int ok = s->ndim <= 2 && (int64_t)s->numel == sR * sC;
    if (ok && b0 && sR == (R + b0 - 1) / b0 && sC == (C + b1 - 1) / b1) {
        *br = b0, *bc = b1;
        return 0;
    }
    if (ok && sR > 0 && sC > 0 && R % sR == 0 && C % sC == 0) {
        *br = R / sR, *bc = C / sC;
        return 0;
    }
    return rlc_errc(RLC_EFMT, "%s: scale '%s' (%zu values) does not tile the [%lld,%lld] tensor '%s'%s", dir,
                    s->name, s->numel, (long long)R, (long long)C, what,
                    b0 ? "" : " (no weight_block_size in quantization_config)");
}

int rlc_fp8_dequant(const rlc_model_config_t *c, const rlc_st_t *st, const rlc_st_tensor_t *t, float *w,
                    const char *dir) {
    char nm[160];
    snprintf(nm, sizeof nm, "%s_scale_inv", t->name);
    const rlc_st_tensor_t *s = rlc_st_find(st, nm);
    if (!s) {
        snprintf(nm, sizeof nm, "%s_scale", t->name);
        s = rlc_st_find(st, nm);
    }
    if (!s) return rlc_errc(RLC_EFMT, "%s: FP8 tensor '%s' has no scale ('%s_scale_inv' or '%s_scale')", dir, t->name,
                            t->name, t->name);
    int64_t R = t->ndim == 2 ? t->shape[0] : 1, C = t->ndim == 2 ? t->shape[1] : (int64_t)t->numel, br = 1, bc = 1,
            sC = 1;
    if (t->ndim > 2) return rlc_errc(RLC_EUNSUP, "%s: FP8 tensor '%s' has %d dimensions (2 at most)", dir, t->name,
                                     t->ndim);
    int rc = scale_blocks(c, s, R, C, &br, &bc, &sC, t->name, dir);
    if (rc) return rc;
    float *v = malloc((s->numel ? s->numel : 1) * sizeof *v);
    if (!v) return rlc_errc(RLC_ENOMEM, "%s: out of memory reading '%s'", dir, s->name);
    if (!(rc = scale_values(s, v, dir)))
        for (int64_t i = 0; i < R; i++) {
            const float *row = v + (i / br) * sC;
            float *wr = w + i * C;
            for (int64_t j = 0; j < C; j++) wr[j] *= row[j / bc];
        }
    free(v);
    return rc;
}
