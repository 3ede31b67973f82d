#!/usr/bin/env python3
"""Checks rlc against transformers on random models of shapes no fixture has: per-token
log-probs (fp32) and greedy decoding, sharded bf16/fp16 files with llama3/linear RoPE
scaling, Phi-3/Phi-4 (fused projections, partial rotary, LongRoPE), Gemma, Gemma 2 (soft-capping), Gemma 3,
OLMo 2 and 3, Granite, SmolLM3, Ministral 3, mixtures of experts (Qwen3-MoE, Mixtral, OLMoE, Qwen2-MoE),
multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash, MiniCPM3, Mistral 4, Youtu, Sarvam), Seed-OSS, MiniMax-M2, DeepSeek-V3.2 and GLM-5 within index_topk, EXAONE 4.0, Solar Open,
PyTorch pytorch_model.bin weights (one file, and bf16 shards), and sliding-window models (Mistral,
Qwen2, Qwen3, Gemma 2, Mixtral, Qwen3-MoE, Gemma 3 with a 4.x-style config) far past their window.
Needs PyPI torch + transformers and a built rlc:  python3 scripts/check_shapes.py [build/cli/rlc]
Not part of the suite (tests need no Python); README's "Correctness" quotes its result."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import torch
import transformers as T

HERE = os.path.dirname(os.path.abspath(__file__))
RLC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "cli", "rlc")
TOK = os.path.join(HERE, "..", "tests", "fixtures", "models", "qwen2-tiny")
KINDS = {"llama": (T.LlamaConfig, T.LlamaForCausalLM), "qwen2": (T.Qwen2Config, T.Qwen2ForCausalLM),
         "qwen3": (T.Qwen3Config, T.Qwen3ForCausalLM), "mistral": (T.MistralConfig, T.MistralForCausalLM),
         "phi3": (T.Phi3Config, T.Phi3ForCausalLM), "gemma": (T.GemmaConfig, T.GemmaForCausalLM),
         "gemma2": (T.Gemma2Config, T.Gemma2ForCausalLM),
         "gemma3_text": (T.Gemma3TextConfig, T.Gemma3ForCausalLM), "olmo2": (T.Olmo2Config, T.Olmo2ForCausalLM),
         "olmo3": (T.Olmo3Config, T.Olmo3ForCausalLM), "granite": (T.GraniteConfig, T.GraniteForCausalLM),
         "smollm3": (T.SmolLM3Config, T.SmolLM3ForCausalLM),
         "ministral3": (T.Ministral3Config, T.Ministral3ForCausalLM),
         "qwen3_moe": (T.Qwen3MoeConfig, T.Qwen3MoeForCausalLM), "mixtral": (T.MixtralConfig, T.MixtralForCausalLM),
         "olmoe": (T.OlmoeConfig, T.OlmoeForCausalLM), "qwen2_moe": (T.Qwen2MoeConfig, T.Qwen2MoeForCausalLM),
         "glm4_moe": (T.Glm4MoeConfig, T.Glm4MoeForCausalLM), "dots1": (T.Dots1Config, T.Dots1ForCausalLM),
         "ernie4_5": (T.Ernie4_5Config, T.Ernie4_5ForCausalLM),
         "ernie4_5_moe": (T.Ernie4_5_MoeConfig, T.Ernie4_5_MoeForCausalLM),
         "glm4": (T.Glm4Config, T.Glm4ForCausalLM),
         "deepseek_v3": (T.DeepseekV3Config, T.DeepseekV3ForCausalLM),
         "glm4_moe_lite": (T.Glm4MoeLiteConfig, T.Glm4MoeLiteForCausalLM),
         "deepseek_v2": (T.DeepseekV2Config, T.DeepseekV2ForCausalLM),
         "minicpm3": (T.MiniCPM3Config, T.MiniCPM3ForCausalLM),
         "mistral4": (T.Mistral4Config, T.Mistral4ForCausalLM), "youtu": (T.YoutuConfig, T.YoutuForCausalLM),
         "sarvam_mla": (T.SarvamMLAConfig, T.DeepseekV3ForCausalLM),
         "seed_oss": (T.SeedOssConfig, T.SeedOssForCausalLM),
         "minimax_m2": (T.MiniMaxM2Config, T.MiniMaxM2ForCausalLM),
         "deepseek_v32": (T.DeepseekV32Config, T.DeepseekV32ForCausalLM),
         "glm_moe_dsa": (T.GlmMoeDsaConfig, T.GlmMoeDsaForCausalLM),
         "exaone4": (T.Exaone4Config, T.Exaone4ForCausalLM),
         "solar_open": (T.SolarOpenConfig, T.SolarOpenForCausalLM)}
SHAPES = [
    ("llama", dict(hidden_size=60, num_attention_heads=6, num_key_value_heads=3, intermediate_size=77, vocab_size=301,
                   num_hidden_layers=3, tie_word_embeddings=True, rope_theta=500000.0)),
    ("llama", dict(hidden_size=40, num_attention_heads=4, num_key_value_heads=1, head_dim=20, intermediate_size=33,
                   vocab_size=97, num_hidden_layers=1, rms_norm_eps=1e-6, mlp_bias=True, attention_bias=True)),
    ("qwen2", dict(hidden_size=36, num_attention_heads=3, num_key_value_heads=3, intermediate_size=129,
                   vocab_size=1000, num_hidden_layers=2)),
    ("qwen3", dict(hidden_size=24, num_attention_heads=5, num_key_value_heads=1, head_dim=14, intermediate_size=50,
                   vocab_size=211, num_hidden_layers=2)),
    ("mistral", dict(hidden_size=48, num_attention_heads=8, num_key_value_heads=2, intermediate_size=100,
                     vocab_size=150, num_hidden_layers=2, sliding_window=None)),
    ("qwen2", dict(hidden_size=130, num_attention_heads=5, num_key_value_heads=5, intermediate_size=333,
                   vocab_size=517, num_hidden_layers=2, tie_word_embeddings=False)),
    ("phi3", dict(hidden_size=96, num_attention_heads=6, num_key_value_heads=2, intermediate_size=150,
                  vocab_size=403, num_hidden_layers=2, rope_theta=250000.0, pad_token_id=0)),  # Phi-4's shape of parts
    ("phi3", dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=1, intermediate_size=90,
                  vocab_size=333, num_hidden_layers=3, partial_rotary_factor=0.75, tie_word_embeddings=True,
                  sliding_window=7, pad_token_id=0)),  # Phi-4-mini's partial rotary, Phi-3-mini's sliding window
    ("phi3", dict(hidden_size=96, num_attention_heads=4, num_key_value_heads=2, intermediate_size=120,
                  vocab_size=290, num_hidden_layers=2, partial_rotary_factor=0.75, pad_token_id=0,
                  max_position_embeddings=512, original_max_position_embeddings=64,
                  rope_scaling={"rope_type": "longrope", "short_factor": [1.0 + 0.3 * i for i in range(9)],
                                "long_factor": [2.0 + i for i in range(9)]})),  # Phi-4-mini's LongRoPE
    ("gemma", dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=4, head_dim=32, intermediate_size=90,
                   vocab_size=301, num_hidden_layers=2)),  # Gemma-7B's q width above hidden
    ("gemma3_text", dict(hidden_size=40, num_attention_heads=2, num_key_value_heads=1, head_dim=36,
                         intermediate_size=70, vocab_size=277, num_hidden_layers=3, query_pre_attn_scalar=30,
                         sliding_window=64, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                         rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0,
                                                             "rope_theta": 1e6},
                                          "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}})),
    ("gemma2", dict(hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=20, intermediate_size=70,
                    vocab_size=301, num_hidden_layers=3, query_pre_attn_scalar=24, sliding_window=7,
                    attn_logit_softcapping=2.0, final_logit_softcapping=3.0)),  # caps where tanh bends
    ("gemma2", dict(hidden_size=40, num_attention_heads=2, num_key_value_heads=1, head_dim=72, intermediate_size=64,
                    vocab_size=257, num_hidden_layers=2)),  # Gemma2Config's caps (50, 30) and window
    ("olmo2", dict(hidden_size=56, num_attention_heads=7, num_key_value_heads=7, intermediate_size=100,
                   vocab_size=311, num_hidden_layers=2, rope_theta=500000.0)),  # OLMo 2 7B's MHA
    ("olmo2", dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=12, intermediate_size=64,
                   vocab_size=199, num_hidden_layers=3, attention_bias=True)),  # GQA as 32B, q width 72 != hidden
    ("olmo3", dict(hidden_size=40, num_attention_heads=4, num_key_value_heads=2, intermediate_size=90,
                   vocab_size=257, num_hidden_layers=5, sliding_window=7,
                   rope_scaling={"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 16})),
    ("granite", dict(hidden_size=72, num_attention_heads=6, num_key_value_heads=2, intermediate_size=130,
                     vocab_size=333, num_hidden_layers=3, tie_word_embeddings=True, embedding_multiplier=6.0,
                     residual_multiplier=0.3, attention_multiplier=0.03, logits_scaling=5.5, rope_theta=1e7)),
    ("smollm3", dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2, intermediate_size=80,
                     vocab_size=301, num_hidden_layers=5, no_rope_layer_interval=2,
                     pad_token_id=0)),  # NoPE in layers 1 and 3
    ("ministral3", dict(hidden_size=48, num_attention_heads=4, num_key_value_heads=1, head_dim=20, intermediate_size=70,
                        vocab_size=257, num_hidden_layers=2, max_position_embeddings=512,
                        rope_parameters={"rope_type": "yarn", "rope_theta": 1e6, "factor": 8.0,
                                         "original_max_position_embeddings": 64, "beta_fast": 32.0, "beta_slow": 1.0,
                                         "mscale_all_dim": 1.0, "mscale": 1.0, "llama_4_scaling_beta": 0.1})),
    ("qwen3_moe", dict(hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=16, intermediate_size=70,
                       moe_intermediate_size=20, num_experts=16, num_experts_per_tok=4, norm_topk_prob=False,
                       decoder_sparse_step=2, vocab_size=301, num_hidden_layers=4)),  # sparse layers 1 and 3
    ("qwen3_moe", dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=4, head_dim=24, intermediate_size=90,
                       moe_intermediate_size=24, num_experts=40, num_experts_per_tok=8, norm_topk_prob=True,
                       mlp_only_layers=[0], vocab_size=257, num_hidden_layers=2)),  # Qwen3-30B-A3B's top-8
    ("mixtral", dict(hidden_size=64, num_attention_heads=8, num_key_value_heads=2, intermediate_size=40,
                     num_local_experts=8, num_experts_per_tok=2, vocab_size=257, num_hidden_layers=2)),
    ("olmoe", dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=6, intermediate_size=30, num_experts=12,
                   num_experts_per_tok=4, vocab_size=311, num_hidden_layers=2, pad_token_id=0)),
    ("qwen2_moe", dict(hidden_size=40, num_attention_heads=5, num_key_value_heads=1, intermediate_size=66,
                       moe_intermediate_size=18, shared_expert_intermediate_size=52, num_experts=10,
                       num_experts_per_tok=4, norm_topk_prob=True, decoder_sparse_step=2, vocab_size=277,
                       num_hidden_layers=4)),  # a shared expert beside top-4 of 10, every second layer sparse
    ("glm4_moe", dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=24, intermediate_size=70,
                      moe_intermediate_size=12, n_routed_experts=16, num_experts_per_tok=4, n_group=4, topk_group=2,
                      n_shared_experts=2, routed_scaling_factor=2.5, first_k_dense_replace=1, use_qk_norm=True,
                      attention_bias=True, vocab_size=301, num_hidden_layers=3)),  # DeepSeek-V3-style groups
    ("glm4_moe", dict(hidden_size=40, num_attention_heads=4, num_key_value_heads=1, head_dim=16, intermediate_size=50,
                      moe_intermediate_size=14, n_routed_experts=20, num_experts_per_tok=6, norm_topk_prob=False,
                      first_k_dense_replace=0, partial_rotary_factor=0.75, vocab_size=257,
                      num_hidden_layers=2)),  # no groups, not renormalised, every layer sparse, 3/4 rotary
    ("dots1", dict(hidden_size=56, num_attention_heads=4, num_key_value_heads=2, head_dim=18, intermediate_size=64,
                   moe_intermediate_size=10, n_routed_experts=12, num_experts_per_tok=3, n_shared_experts=2, n_group=6,
                   topk_group=3, first_k_dense_replace=2, norm_topk_prob=True, routed_scaling_factor=2.0,
                   vocab_size=263, num_hidden_layers=3, sliding_window=None)),  # dots.llm1: groups of 2, layer 2 sparse
    ("ernie4_5", dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=1, intermediate_size=90,
                      vocab_size=301, num_hidden_layers=2, tie_word_embeddings=False)),  # head_dim 128 by default
    ("ernie4_5", dict(hidden_size=72, num_attention_heads=6, num_key_value_heads=2, head_dim=20, intermediate_size=100,
                      use_bias=True, vocab_size=257, num_hidden_layers=3)),  # biases everywhere, tied
    ("ernie4_5_moe", dict(hidden_size=56, num_attention_heads=4, num_key_value_heads=1, intermediate_size=70,
                          moe_num_experts=10, moe_k=3, moe_intermediate_size=12, moe_num_shared_experts=2,
                          moe_layer_start_index=1, moe_layer_end_index=3, moe_layer_interval=2, vocab_size=263,
                          num_hidden_layers=4, tie_word_embeddings=False)),  # sparse layers 1 and 3
    ("glm4", dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=1, intermediate_size=90, vocab_size=301,
                  pad_token_id=0, num_hidden_layers=2)),  # GLM-4's defaults: head_dim 128, half rotary, biases
    ("glm4", dict(hidden_size=60, num_attention_heads=6, num_key_value_heads=2, head_dim=20, intermediate_size=70,
                  vocab_size=257, num_hidden_layers=3, attention_bias=False, partial_rotary_factor=1.0, pad_token_id=0,
                  tie_word_embeddings=True)),  # full rotary, no biases, tied
    ("deepseek_v3", dict(hidden_size=56, num_attention_heads=5, num_key_value_heads=5, q_lora_rank=18,
                         kv_lora_rank=22, qk_rope_head_dim=6, qk_nope_head_dim=10, v_head_dim=14, intermediate_size=70,
                         moe_intermediate_size=12, n_routed_experts=12, num_experts_per_tok=3, n_group=4, topk_group=2,
                         n_shared_experts=2, first_k_dense_replace=1, vocab_size=301, num_hidden_layers=3,
                         rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=8.0,
                                              original_max_position_embeddings=32, mscale=1.0, mscale_all_dim=1.0),
                         max_position_embeddings=256)),  # DeepSeek-V3's yarn (mscale_all_dim), odd head counts
    ("deepseek_v3", dict(hidden_size=48, num_attention_heads=3, num_key_value_heads=3, q_lora_rank=None,
                         kv_lora_rank=14, qk_rope_head_dim=4, qk_nope_head_dim=7, v_head_dim=20, intermediate_size=60,
                         moe_intermediate_size=10, n_routed_experts=6, num_experts_per_tok=2, n_group=1, topk_group=1,
                         first_k_dense_replace=0, norm_topk_prob=False, rope_interleave=False, vocab_size=257,
                         num_hidden_layers=2)),  # Moonlight-like: q_proj, an odd nope width, v wider than q/k
    ("glm4_moe_lite", dict(hidden_size=40, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=12,
                           kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=16, intermediate_size=50,
                           moe_intermediate_size=10, n_routed_experts=8, num_experts_per_tok=2, vocab_size=263,
                           num_hidden_layers=3)),  # GLM-4.7-Flash: q/k as wide as v (no padding), layer 0 dense
    ("deepseek_v2", dict(hidden_size=44, num_attention_heads=2, num_key_value_heads=2, q_lora_rank=20,
                         kv_lora_rank=12, qk_rope_head_dim=6, qk_nope_head_dim=10, v_head_dim=14, intermediate_size=50,
                         moe_intermediate_size=8, n_routed_experts=10, num_experts_per_tok=3, n_shared_experts=1,
                         topk_method="greedy", routed_scaling_factor=2.0, first_k_dense_replace=1, vocab_size=271,
                         num_hidden_layers=3)),  # DeepSeek-V2: a query bottleneck, greedy softmax top-3 of 10
    ("minicpm3", dict(hidden_size=60, num_attention_heads=5, num_key_value_heads=5, q_lora_rank=24, kv_lora_rank=18,
                      qk_nope_head_dim=6, qk_rope_head_dim=10, intermediate_size=70, scale_emb=10, scale_depth=1.2,
                      dim_model_base=20, vocab_size=263, num_hidden_layers=3)),  # values 12 < q/k 16, multipliers
    ("mistral4", dict(hidden_size=56, num_attention_heads=3, num_key_value_heads=3, q_lora_rank=16, kv_lora_rank=12,
                      qk_rope_head_dim=6, qk_nope_head_dim=10, v_head_dim=18, intermediate_size=70,
                      moe_intermediate_size=12, n_routed_experts=8, num_experts_per_tok=3, n_group=4, topk_group=2,
                      first_k_dense_replace=1, routed_scaling_factor=1.3, vocab_size=301, num_hidden_layers=3,
                      pad_token_id=0)),  # Mistral 4's default rope (yarn x128, Llama 4 scaling), v wider than q/k
    ("mistral4", dict(hidden_size=40, num_attention_heads=2, num_key_value_heads=2, q_lora_rank=None, kv_lora_rank=10,
                      qk_rope_head_dim=8, qk_nope_head_dim=0, v_head_dim=8, intermediate_size=50,
                      moe_intermediate_size=10, n_routed_experts=6, num_experts_per_tok=2, norm_topk_prob=False,
                      rope_interleave=False, vocab_size=263, num_hidden_layers=2, pad_token_id=0,
                      rope_parameters=dict(rope_type="yarn", rope_theta=50000.0, factor=4.0,
                                           original_max_position_embeddings=64, llama_4_scaling_beta=0.2))),
    ("youtu", dict(hidden_size=40, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=12, kv_lora_rank=14,
                   qk_rope_head_dim=8, qk_nope_head_dim=6, v_head_dim=10, intermediate_size=50, vocab_size=263,
                   num_hidden_layers=2)),  # Youtu-LLM: dense MLA, tied by default
    ("sarvam_mla", dict(hidden_size=48, num_attention_heads=4, kv_lora_rank=16, qk_rope_head_dim=8,
                        qk_nope_head_dim=8, v_head_dim=16, intermediate_size=60, moe_intermediate_size=12,
                        n_routed_experts=8, num_experts_per_tok=2, vocab_size=257, num_hidden_layers=3)),  # q_proj
    ("seed_oss", dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=10, intermediate_size=70,
                      attention_out_bias=True, vocab_size=281, num_hidden_layers=2)),  # Seed-OSS: q/k/v and o biases
    ("minimax_m2", dict(hidden_size=56, num_attention_heads=7, num_key_value_heads=1, head_dim=12, rotary_dim=6,
                        intermediate_size=20, num_local_experts=10, num_experts_per_tok=3, vocab_size=263,
                        num_hidden_layers=2)),  # MiniMax-M2: sigmoid + bias routing, full q/k norms, half rotary
    ("deepseek_v32", dict(hidden_size=48, num_attention_heads=3, num_key_value_heads=3, q_lora_rank=20,
                          kv_lora_rank=14, qk_rope_head_dim=6, qk_nope_head_dim=8, v_head_dim=18, intermediate_size=60,
                          moe_intermediate_size=10, n_routed_experts=8, num_experts_per_tok=2, n_group=2, topk_group=1,
                          first_k_dense_replace=1, index_topk=64, index_head_dim=8, index_n_heads=2, vocab_size=263,
                          num_hidden_layers=3)),  # DeepSeek-V3.2 within index_topk: dense MLA
    ("glm_moe_dsa", dict(hidden_size=40, num_attention_heads=2, num_key_value_heads=2, q_lora_rank=16,
                         kv_lora_rank=12, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=12, intermediate_size=50,
                         moe_intermediate_size=8, n_routed_experts=6, num_experts_per_tok=2, first_k_dense_replace=1,
                         index_topk=64, index_head_dim=8, index_n_heads=2, index_topk_pattern="FSF", vocab_size=271,
                         num_hidden_layers=3)),  # GLM-5: a shared-indexer layer, within index_topk
    ("exaone4", dict(hidden_size=40, num_attention_heads=5, num_key_value_heads=1, head_dim=10, intermediate_size=70,
                     sliding_window=7, sliding_window_pattern=3, vocab_size=263,
                     num_hidden_layers=3)),  # EXAONE 4.0: post-norms, window 7 past it, a NoPE full layer
    ("solar_open", dict(hidden_size=40, num_attention_heads=5, num_key_value_heads=5, head_dim=8,
                        moe_intermediate_size=12, n_routed_experts=6, num_experts_per_tok=3, n_group=3, topk_group=2,
                        vocab_size=271, num_hidden_layers=2)),  # Solar Open: GLM-4.5's routing in every layer
]


def gemma3_v4_config(d, pattern, local_theta, theta, scaling):
    """Rewrite a saved Gemma 3 config.json as the Hub's gemma-3 configs spell it (transformers
    4.x): rope_theta, rope_local_base_freq, rope_scaling and sliding_window_pattern instead of
    rope_parameters and layer_types."""
    p = os.path.join(d, "config.json")
    with open(p) as f:
        c = json.load(f)
    for k in ("rope_parameters", "layer_types", "_sliding_window_pattern"):
        c.pop(k, None)
    c.update(rope_theta=theta, rope_local_base_freq=local_theta, rope_scaling=scaling, sliding_window_pattern=pattern)
    with open(p, "w") as f:
        json.dump(c, f)


def build(M, cfg):
    """The model in eval mode; a mixture of experts on transformers' reference loop (its grouped
    matmul needs 16-byte-aligned strides these odd widths lack)."""
    m = M(cfg).eval()
    if hasattr(cfg, "num_experts_per_tok"):
        m.set_experts_implementation("eager")
    with torch.no_grad():  # GLM-4.5's router bias starts at zero: make it select
        for name, b in m.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.2 * torch.randn_like(b))
        for name, p in m.named_parameters():  # ERNIE's is a parameter without gradient, on the softmax's scale
            if name.endswith("e_score_correction_bias"):
                p.copy_(0.5 / p.shape[-1] * torch.randn_like(p))
    return m


def rlc(*args):
    return subprocess.run([RLC, *args], capture_output=True, text=True)


def save(m, d, **kw):
    m.save_pretrained(d, **kw)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOK, f), d)


def logprob_err(m, d, ids):
    """Largest |rlc - transformers| per-token log-prob, or rlc's error text."""
    with torch.no_grad():
        lp = torch.log_softmax(m(torch.tensor([ids])).logits.double(), -1)[0]
    out = rlc("logprobs", "--model", d, "--ids", " ".join(map(str, ids)), "--json")
    if out.returncode:
        return out.stderr.strip().splitlines()[-1]
    got = [t["logprob"] for t in json.loads(out.stdout)["tokens"]]
    return max(abs(lp[t - 1, ids[t]].item() - g) for t, g in zip(range(1, len(ids)), got))


def greedy_same(m, d, prompt, n):
    with open(os.path.join(d, "p.jsonl"), "w") as f:
        f.write(json.dumps({"ids": prompt}) + "\n")
    out = rlc("generate", "--model", d, "--prompts", os.path.join(d, "p.jsonl"), "--temperature", "0",
              "--max-new-tokens", str(n), "--ignore-eos", "--json")
    if out.returncode:
        return out.stderr.strip()
    with torch.no_grad():
        ref = m.generate(torch.tensor([prompt]), max_new_tokens=n, do_sample=False, eos_token_id=None,
                         pad_token_id=0)[0, len(prompt):].tolist()
    return json.loads(out.stdout)["completions"][0]["ids"] == ref


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp()
    worst, ok = 0.0, True
    for i, (kind, kw) in enumerate(SHAPES):
        C, M = KINDS[kind]
        m = build(M, C(**kw, bos_token_id=1, eos_token_id=2))
        with torch.no_grad():
            for name, p in m.named_parameters():
                p.mul_(3.0)  # sharper distributions than the init's
                if kind.startswith("gemma") and "norm" in name:  # (1 + w) norms start at w = 0
                    p.add_(0.3 * torch.randn_like(p))
        d = os.path.join(tmp, f"shape{i}")
        save(m, d)
        ids = [random.Random(i).randrange(3, kw["vocab_size"]) for _ in range(45)]
        err, same = logprob_err(m, d, ids), greedy_same(m, d, ids[:10], 20)
        print(f"{kind:8s} {json.dumps(kw)[:70]}... log-prob err {err}, greedy equal: {same}")
        ok &= isinstance(err, float) and err < 1e-4 and same is True
        worst = max(worst, err if isinstance(err, float) else 1.0)
    scalings = [(torch.bfloat16, dict(rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                                      max_position_embeddings=1024)),
                (torch.float16, dict(rope_scaling={"rope_type": "linear", "factor": 2.0}))]
    for i, (dt, kw) in enumerate(scalings):
        m = T.LlamaForCausalLM(T.LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                                             intermediate_size=96, vocab_size=300, num_hidden_layers=3,
                                             tie_word_embeddings=i == 0, **kw)).eval()
        d = os.path.join(tmp, f"sharded{i}")
        save(m.to(dt), d, max_shard_size="40KB")
        m32 = T.LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        err = logprob_err(m32, d, [random.Random(i).randrange(3, 300) for _ in range(200)])
        shards = len([f for f in os.listdir(d) if f.endswith(".safetensors")])
        print(f"llama {dt} in {shards} shards, {kw['rope_scaling']['rope_type']} rope: log-prob err {err}")
        ok &= isinstance(err, float) and err < 1e-4
    # PyTorch weights: a random Qwen2 saved with torch.save as pytorch_model.bin (the form of older
    # checkpoints), its tied lm_head included, and a Llama in two .bin shards with an index
    for i, (kind, kw) in enumerate([("qwen2", dict(hidden_size=40, num_attention_heads=5, num_key_value_heads=1,
                                                    intermediate_size=70, vocab_size=300, num_hidden_layers=2)),
                                    ("llama", dict(hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                                                   intermediate_size=50, vocab_size=260, num_hidden_layers=2,
                                                   tie_word_embeddings=False))]):
        C, M = KINDS[kind]
        m = M(C(**kw, bos_token_id=1, eos_token_id=2)).eval()
        d = os.path.join(tmp, f"bin{i}")
        save(m, d)
        os.remove(os.path.join(d, "model.safetensors"))
        sd = {k: v.to(torch.bfloat16 if i else torch.float32) for k, v in m.state_dict().items()}
        if i:
            names = sorted(sd)
            wm = {}
            for s_, part in enumerate([names[: len(names) // 2], names[len(names) // 2:]]):
                fn = f"pytorch_model-0000{s_ + 1}-of-00002.bin"
                torch.save({k: sd[k] for k in part}, os.path.join(d, fn))
                wm.update({k: fn for k in part})
            with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
                json.dump({"metadata": {}, "weight_map": wm}, f)
            m = M.from_pretrained(d, dtype=torch.float32).eval()
        else:
            torch.save(sd, os.path.join(d, "pytorch_model.bin"))
        ids = [random.Random(i).randrange(3, kw["vocab_size"]) for _ in range(40)]
        err, same = logprob_err(m, d, ids), greedy_same(m, d, ids[:8], 16)
        print(f"{kind} from pytorch_model.bin{' shards (bf16)' if i else ''}: log-prob err {err}, greedy equal: {same}")
        ok &= isinstance(err, float) and err < 1e-4 and same is True
        worst = max(worst, err if isinstance(err, float) else 1.0)
    W = 8
    for kind, kw in [("smollm3", dict(use_sliding_window=True, sliding_window=W, no_rope_layers=[1, 0, 1],
                                      pad_token_id=0)),
                     ("mistral", dict(sliding_window=W)),
                     ("qwen2", dict(use_sliding_window=True, sliding_window=W, max_window_layers=1)),
                     ("qwen3", dict(use_sliding_window=True, sliding_window=W - 3,
                                    layer_types=["sliding_attention", "full_attention", "sliding_attention"])),
                     ("gemma2", dict(sliding_window=W, head_dim=8, query_pre_attn_scalar=8,
                                     attn_logit_softcapping=2.0, final_logit_softcapping=4.0)),
                     ("mixtral", dict(sliding_window=W, num_local_experts=4)),
                     ("qwen3_moe", dict(use_sliding_window=True, sliding_window=W, num_experts=6,
                                        num_experts_per_tok=2, moe_intermediate_size=16, norm_topk_prob=True))]:
        C, M = KINDS[kind]
        m = build(M, C(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
                       vocab_size=512, num_hidden_layers=3, bos_token_id=1, eos_token_id=2, **kw))
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(3.0)
        d = os.path.join(tmp, f"sliding_{kind}")
        save(m, d)
        ids = [random.Random(5).randrange(3, 512) for _ in range(6 * W)]
        err, same = logprob_err(m, d, ids), greedy_same(m, d, ids[:W + 2], 4 * W)
        print(f"{kind} sliding window {kw['sliding_window']}: {6 * W} tokens log-prob err {err}, "
              f"greedy ({W + 2} + {4 * W} tokens) equal: {same}")
        ok &= isinstance(err, float) and err < 1e-4 and same is True
        worst = max(worst, err if isinstance(err, float) else 1.0)
    # Gemma 3 past its window, its config in the Hub's (transformers 4.x) spelling: every third
    # layer full, the others sliding with their own rope base; transformers reloads the rewritten
    # directory for the reference
    m = T.Gemma3ForCausalLM(T.Gemma3TextConfig(hidden_size=48, num_attention_heads=4, num_key_value_heads=2,
                                               head_dim=16, intermediate_size=80, vocab_size=512, num_hidden_layers=4,
                                               query_pre_attn_scalar=16, sliding_window=W, bos_token_id=2,
                                               eos_token_id=1, pad_token_id=0)).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.mul_(3.0)
            if "norm" in name:
                p.add_(0.3 * torch.randn_like(p))
    d = os.path.join(tmp, "sliding_gemma3")
    save(m, d)
    gemma3_v4_config(d, 3, 1e4, 1e6, {"rope_type": "linear", "factor": 4.0})
    m = T.Gemma3ForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    assert m.config.layer_types[2] == "full_attention" and m.config.layer_types[1] == "sliding_attention"
    ids = [random.Random(6).randrange(3, 512) for _ in range(6 * W)]
    err, same = logprob_err(m, d, ids), greedy_same(m, d, ids[:W + 2], 4 * W)
    print(f"gemma3 (4.x config) sliding window {W}: {6 * W} tokens log-prob err {err}, "
          f"greedy ({W + 2} + {4 * W} tokens) equal: {same}")
    ok &= isinstance(err, float) and err < 1e-4 and same is True
    worst = max(worst, err if isinstance(err, float) else 1.0)
    shutil.rmtree(tmp)
    print(f"worst log-prob error {worst:.2e}:", "all match" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
