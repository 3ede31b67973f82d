/* Fuzz target: a model's config.json (model/config.c) on arbitrary bytes: parse (keeping the
 * numbers' literals, as the loader does) and validate, then what the loader computes from an
 * accepted config (RoPE frequencies, the attention scale and RoPE's attention factor, the
 * soft-caps, the experts, the parameter count), which must be finite where the config was. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/json.h"
#include "core/log.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) rlc_log_set_level(RLC_LOG_QUIET), init = 1;
    cJSON *j = rlc_json_parse_lit((const char *)data, size, "config.json");
    if (!j) return 0;
    rlc_model_config_t c;
    if (rlc_config_from_json(&c, j, "config.json")) return 0; /* j is the config's either way */
    if (c.head_dim > 0 && c.head_dim <= 65536) {
        float *inv = malloc((size_t)(c.head_dim / 2 + 1) * sizeof *inv);
        if (inv) {
            rlc_config_inv_freq(&c, inv);
            for (int i = 0; i < c.rotary_dim / 2; i++)
                if (!isfinite(inv[i])) {
                    fprintf(stderr, "fuzz_model_config: inv_freq[%d] = %g\n", i, inv[i]);
                    abort();
                }
            free(inv);
        }
    }
    float s = rlc_config_attn_scale(&c), ms = rlc_config_rope_mscale(&c);
    if (!isfinite(s) || s <= 0 || !isfinite(ms) || ms <= 0) {
        fprintf(stderr, "fuzz_model_config: attention scale %g, rope factor %g\n", s, ms);
        abort();
    }
    if (c.num_layers < 1 || c.num_layers > RLC_MAX_LAYERS) abort();
    if (c.rotary_dim < 2 || c.rotary_dim > c.head_dim || c.rotary_dim % 2) abort();
    if (!(c.attn_softcap >= 0) || !isfinite(c.attn_softcap) || !(c.final_softcap >= 0) || !isfinite(c.final_softcap))
        abort();
    if (c.layer_moe) { /* a mixture of experts within what the MoE ops take */
        if (c.num_experts < 1 || c.num_experts > 512 || c.experts_per_tok < 1 || c.experts_per_tok > c.num_experts ||
            c.experts_per_tok > 32 || c.moe_intermediate_size < 1)
            abort();
        if (c.moe_biased && (c.moe_groups < 1 || c.num_experts % c.moe_groups || c.moe_groups > 256 ||
                              (c.num_experts / c.moe_groups < 2 && !c.moe_group_max) ||
                              c.moe_topk_groups < 1 || c.moe_topk_groups > c.moe_groups ||
                              c.experts_per_tok > c.moe_topk_groups * (c.num_experts / c.moe_groups) ||
                              !(c.moe_scale > 0) || !isfinite(c.moe_scale) || c.moe_shared_size < 0))
            abort(); /* GLM-4.5's groups within what moe_route_biased_fwd takes */
        for (int l = 0; l < c.num_layers; l++) (void)rlc_config_layer_moe(&c, l);
        if (rlc_config_mlp_width(&c) < c.intermediate_size) abort();
    }
    if (c.mla) { /* MLA's heads fit the padded width the kernels run; ranks within bounds */
        int qk = c.qk_nope_dim + c.qk_rope_dim;
        if (c.head_dim < qk || c.head_dim < c.v_head_dim || c.head_dim > 1024 || c.head_dim % 2 ||
            c.rotary_dim != c.qk_rope_dim || c.num_kv_heads != c.num_heads || c.q_lora_rank < 0 ||
            c.q_lora_rank > 65536 || c.kv_lora_rank < 1 || c.kv_lora_rank > 65536 || c.v_head_dim < 1 ||
            c.qkv_bias || c.o_bias || c.mlp_bias)
            abort();
        if (rlc_config_mla_a(&c) < 1 || rlc_config_o_width(&c) < 1) abort();
    }
    if (c.max_context < 1 || c.max_context > c.max_position_embeddings) abort(); /* LongRoPE, Llama 4, DSA */
    if (c.fp8 && (c.fp8_block[0] < 0 || c.fp8_block[0] > 65536 || c.fp8_block[1] < 0 || c.fp8_block[1] > 65536 ||
                  !c.fp8_block[0] != !c.fp8_block[1]))
        abort(); /* an FP8 checkpoint's block size: none, or two in range */
    (void)rlc_config_num_params(&c);
    rlc_config_free(&c);
    return 0;
}
