#!/usr/bin/env python3
"""Make the model parity fixtures under tests/fixtures/models/ with Hugging Face transformers.

For each tiny random model it writes an HF directory <name>/ and reference data <name>.ref/:
  ref.safetensors  ids, cu_seqlens (a packed batch of 3 sequences), per-token log-probs of the
                   next token at T=1 and T=0.7 and entropies (transformers, fp32), the loss
                   L = mean(-logp) - 0.05*mean(entropy) and the gradient of L for every parameter
                   ("grad.<hf name>", transformers in float64 on the same weights), and the loss
                   before each of 10 torch.optim.AdamW steps (fp32).
  gen.json         greedy continuations (transformers generate) of a few prompts.
Score-head models (token classification) get per-token values and the gradient of sum(values*r).

Usage:  python3 scripts/make_fixtures.py                 # regenerate everything (seconds)
        python3 scripts/make_fixtures.py --verify DIR --ref NAME
            load DIR (e.g. a model rlc saved) in transformers and check its log-probs against
            the reference of fixture NAME (exit 1 on mismatch).
        python3 scripts/make_fixtures.py --compare-rlc DIR [--rlc build/cli/rlc]
            load any checkpoint rlc wrote (e.g. after training) in transformers and compare
            its log-probs with `rlc logprobs` on the same directory (exit 1 above 1e-4).
Needs: torch, transformers, safetensors (PyPI). Tests never run this script.
"""
import argparse
import copy
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file, load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models")

SEQ_LENS = [9, 16, 5]
TEMP = 0.7
ENT_COEF = 0.05
ADAM = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, wd=0.1, steps=10)


def qwen2_cfg(**kw):
    from transformers import Qwen2Config
    base = dict(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-6,
                tie_word_embeddings=True, bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return Qwen2Config(**base)


def qwen3_cfg(**kw):
    from transformers import Qwen3Config
    base = dict(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=32, max_position_embeddings=256, rope_theta=1000000.0,
                rms_norm_eps=1e-6, tie_word_embeddings=True, bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return Qwen3Config(**base)


def llama_cfg(**kw):
    from transformers import LlamaConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False,
                bos_token_id=1, eos_token_id=2)
    base.update(kw)
    return LlamaConfig(**base)


def mistral_cfg(**kw):
    from transformers import MistralConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    base.update(kw)
    return MistralConfig(**base)


def phi3_cfg(**kw):
    from transformers import Phi3Config
    base = dict(vocab_size=320, hidden_size=64, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, original_max_position_embeddings=256,
                rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                pad_token_id=0)
    base.update(kw)
    return Phi3Config(**base)


def gemma3_cfg(**kw):
    from transformers import Gemma3TextConfig
    base = dict(vocab_size=288, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, head_dim=24, max_position_embeddings=256, rms_norm_eps=1e-6,
                query_pre_attn_scalar=20, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0)
    base.update(kw)
    return Gemma3TextConfig(**base)


def gemma2_cfg(**kw):
    from transformers import Gemma2Config
    base = dict(vocab_size=288, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-6,
                query_pre_attn_scalar=12, sliding_window=5, attn_logit_softcapping=1.0, final_logit_softcapping=1.5,
                tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0)
    base.update(kw)
    return Gemma2Config(**base)


def gemma_cfg(**kw):
    from transformers import GemmaConfig
    base = dict(vocab_size=288, hidden_size=48, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=1, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-6,
                hidden_act="gelu", tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0)
    base.update(kw)
    return GemmaConfig(**base)


def olmo_cfg(olmo3=False, **kw):
    from transformers import Olmo2Config, Olmo3Config
    base = dict(vocab_size=280, hidden_size=64, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
                bos_token_id=None, eos_token_id=2, pad_token_id=1)
    base.update(kw)
    return (Olmo3Config if olmo3 else Olmo2Config)(**base)


def granite_cfg(**kw):
    from transformers import GraniteConfig
    base = dict(vocab_size=260, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=1, max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=True,
                rope_theta=10000000.0, embedding_multiplier=12.0, residual_multiplier=0.22,
                attention_multiplier=0.015625, logits_scaling=8.0, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    base.update(kw)
    return GraniteConfig(**base)


def ministral3_cfg(**kw):
    from transformers import Ministral3Config
    base = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=24, max_position_embeddings=128, rms_norm_eps=1e-5,
                rope_parameters={"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                                 "original_max_position_embeddings": 32, "beta_fast": 32.0, "beta_slow": 1.0,
                                 "mscale_all_dim": 1.0, "mscale": 1.0, "llama_4_scaling_beta": 0.1},
                bos_token_id=1, eos_token_id=2, pad_token_id=0)
    base.update(kw)
    return Ministral3Config(**base)


def smollm3_cfg(**kw):
    from transformers import SmolLM3Config
    base = dict(vocab_size=270, hidden_size=48, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=5000000.0,
                bos_token_id=1, eos_token_id=2, pad_token_id=0)
    base.update(kw)
    return SmolLM3Config(**base)


def qwen3_moe_cfg(**kw):
    from transformers import Qwen3MoeConfig
    base = dict(vocab_size=256, hidden_size=64, intermediate_size=96, moe_intermediate_size=32, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_experts=8, num_experts_per_tok=2,
                norm_topk_prob=True, mlp_only_layers=[1], max_position_embeddings=256, rope_theta=1000000.0,
                rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return Qwen3MoeConfig(**base)


def mixtral_cfg(**kw):
    from transformers import MixtralConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=1, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=256,
                rope_theta=1000000.0, rms_norm_eps=1e-5, sliding_window=6, tie_word_embeddings=False,
                bos_token_id=1, eos_token_id=2)
    base.update(kw)
    return MixtralConfig(**base)


def olmoe_cfg(**kw):
    from transformers import OlmoeConfig
    base = dict(vocab_size=256, hidden_size=64, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, num_experts=6, num_experts_per_tok=3, norm_topk_prob=False,
                max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2, pad_token_id=1)
    base.update(kw)
    return OlmoeConfig(**base)


def qwen2_moe_cfg(**kw):
    from transformers import Qwen2MoeConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=24,
                shared_expert_intermediate_size=40, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                num_experts=6, num_experts_per_tok=3, norm_topk_prob=False, mlp_only_layers=[1],
                use_sliding_window=True, sliding_window=6, max_window_layers=2, max_position_embeddings=256,
                rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return Qwen2MoeConfig(**base)


def glm4_moe_cfg(**kw):
    from transformers import Glm4MoeConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, head_dim=16, n_routed_experts=8, num_experts_per_tok=3,
                n_shared_experts=2, n_group=4, topk_group=2, first_k_dense_replace=1, routed_scaling_factor=2.5,
                norm_topk_prob=True, use_qk_norm=True, attention_bias=True, partial_rotary_factor=0.5,
                max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2)
    base.update(kw)
    return Glm4MoeConfig(**base)


def dots1_cfg(**kw):
    from transformers import Dots1Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=72, moe_intermediate_size=20, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, head_dim=12, n_routed_experts=6, num_experts_per_tok=2,
                n_shared_experts=1, n_group=3, topk_group=2, first_k_dense_replace=1, routed_scaling_factor=1.5,
                norm_topk_prob=False, attention_bias=True, sliding_window=6, max_window_layers=1,
                max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2)
    base.update(kw)
    return Dots1Config(**base)


def ernie45_cfg(**kw):
    from transformers import Ernie4_5Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, use_bias=True, max_position_embeddings=256, rms_norm_eps=1e-5,
                bos_token_id=1, eos_token_id=2, pad_token_id=0)
    base.update(kw)
    return Ernie4_5Config(**base)


def ernie45_moe_cfg(**kw):
    from transformers import Ernie4_5_MoeConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, moe_num_experts=6, moe_k=2, moe_intermediate_size=16, moe_num_shared_experts=1,
                moe_layer_start_index=1, moe_layer_interval=1, max_position_embeddings=256, rms_norm_eps=1e-5,
                bos_token_id=1, eos_token_id=2, pad_token_id=0)
    base.update(kw)
    return Ernie4_5_MoeConfig(**base)


def glm4_cfg(**kw):
    from transformers import Glm4Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=256, tie_word_embeddings=False,
                bos_token_id=None, eos_token_id=2, pad_token_id=0)
    base.update(kw)
    return Glm4Config(**base)


def deepseek_v3_cfg(**kw):
    from transformers import DeepseekV3Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=20, qk_rope_head_dim=8,
                qk_nope_head_dim=12, v_head_dim=16, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
                n_group=4, topk_group=2, first_k_dense_replace=1, routed_scaling_factor=2.0, norm_topk_prob=True,
                max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2, rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0,
                                                     original_max_position_embeddings=64, beta_fast=32.0,
                                                     beta_slow=1.0, mscale=0.9, mscale_all_dim=0.8))
    base.update(kw)
    return DeepseekV3Config(**base)


def deepseek_v2_cfg(**kw):
    from transformers import DeepseekV2Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=16, qk_rope_head_dim=8,
                qk_nope_head_dim=8, v_head_dim=16, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=2,
                topk_method="group_limited_greedy", n_group=4, topk_group=2, first_k_dense_replace=1,
                routed_scaling_factor=1.5, max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
                bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return DeepseekV2Config(**base)


def minicpm3_cfg(**kw):
    from transformers import MiniCPM3Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=4, q_lora_rank=16, kv_lora_rank=20, qk_nope_head_dim=8, qk_rope_head_dim=8,
                v_head_dim=None, scale_emb=12, scale_depth=1.4, dim_model_base=16, max_position_embeddings=256,
                rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=None, eos_token_id=2,
                rope_parameters=dict(rope_type="longrope", rope_theta=10000.0, original_max_position_embeddings=256,
                                     short_factor=[1.0, 1.1, 1.3, 1.6], long_factor=[1.0, 2.0, 3.0, 4.0]))
    base.update(kw)
    return MiniCPM3Config(**base)


def glm4_moe_lite_cfg(**kw):
    from transformers import Glm4MoeLiteConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=16, kv_lora_rank=24, qk_rope_head_dim=8,
                qk_nope_head_dim=16, v_head_dim=24, n_routed_experts=6, num_experts_per_tok=2, n_shared_experts=1,
                n_group=1, topk_group=1, routed_scaling_factor=1.8, norm_topk_prob=True,
                mlp_layer_types=["dense", "sparse", "dense"], max_position_embeddings=256, rms_norm_eps=1e-5,
                tie_word_embeddings=False, bos_token_id=None, eos_token_id=2)
    base.update(kw)
    return Glm4MoeLiteConfig(**base)


def mistral4_cfg(**kw):
    from transformers import Mistral4Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=20, kv_lora_rank=16, qk_rope_head_dim=8,
                qk_nope_head_dim=8, v_head_dim=12, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
                n_group=4, topk_group=2, first_k_dense_replace=1, routed_scaling_factor=1.5, norm_topk_prob=True,
                max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2, pad_token_id=0,
                rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=8.0,
                                     original_max_position_embeddings=64, beta_fast=32.0, beta_slow=1.0,
                                     mscale=1.0, mscale_all_dim=1.0, llama_4_scaling_beta=0.1))
    base.update(kw)
    return Mistral4Config(**base)


def youtu_cfg(**kw):
    from transformers import YoutuConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=4, q_lora_rank=16, kv_lora_rank=20, qk_rope_head_dim=8, qk_nope_head_dim=12,
                v_head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=2,
                pad_token_id=None)  # with a pad id, transformers' Youtu loading zeroes that embedding row
    base.update(kw)
    return YoutuConfig(**base)


def seed_oss_cfg(**kw):
    from transformers import SeedOssConfig
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=256, tie_word_embeddings=False,
                bos_token_id=None, eos_token_id=2, pad_token_id=None, attention_bias=True, attention_out_bias=True,
                mlp_bias=True, attention_dropout=0.0, residual_dropout=0.0,
                rope_parameters=dict(rope_type="default", rope_theta=1e7))
    base.update(kw)
    return SeedOssConfig(**base)


def minimax_m2_cfg(**kw):
    from transformers import MiniMaxM2Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, rotary_dim=8, num_local_experts=8, num_experts_per_tok=2,
                max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2, pad_token_id=None)
    base.update(kw)
    return MiniMaxM2Config(**base)


def deepseek_v32_cfg(**kw):
    from transformers import DeepseekV32Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, moe_intermediate_size=16, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=20, qk_rope_head_dim=8,
                qk_nope_head_dim=12, v_head_dim=16, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
                n_group=4, topk_group=2, first_k_dense_replace=1, routed_scaling_factor=1.5, norm_topk_prob=True,
                index_topk=32, index_head_dim=8, index_n_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
                tie_word_embeddings=False, bos_token_id=None, eos_token_id=2, pad_token_id=None)
    base.update(kw)
    return DeepseekV32Config(**base)


def exaone4_cfg(**kw):
    from transformers import Exaone4Config
    base = dict(vocab_size=256, hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, sliding_window=4, sliding_window_pattern=2,
                max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None,
                eos_token_id=2, pad_token_id=None)
    base.update(kw)
    return Exaone4Config(**base)


def solar_open_cfg(**kw):
    from transformers import SolarOpenConfig
    base = dict(vocab_size=256, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                head_dim=16, moe_intermediate_size=16, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1,
                n_group=2, topk_group=1, routed_scaling_factor=1.5, max_position_embeddings=256, rms_norm_eps=1e-5,
                tie_word_embeddings=False, bos_token_id=None, eos_token_id=2, pad_token_id=None)
    base.update(kw)
    return SolarOpenConfig(**base)


def checkpoint_grads(model, grads):
    """transformers 5 holds a MoE layer's experts as fused [E, 2I, C] gate|up and [E, C, I] down
    parameters (and Mixtral's block_sparse_moe under mlp.); its checkpoints, and rlc, name each
    expert's projections. Rename and split the gradients to the checkpoint's names."""
    mixtral = model.config.model_type in ("mixtral", "minimax_m2")  # block_sparse_moe, w1/w3/w2
    out = {}
    for k, g in grads.items():
        if ".mlp.experts." not in k and not (mixtral and ".mlp.gate." in k):
            out[k] = g
            continue
        pre = k.split(".mlp.")[0] + (".block_sparse_moe." if mixtral else ".mlp.")
        if k.endswith(".mlp.gate.weight"):
            out[pre + "gate.weight"] = g
            continue
        names = ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj")
        for e in range(g.shape[0]):
            if k.endswith("gate_up_proj"):
                half = g.shape[1] // 2
                out[f"{pre}experts.{e}.{names[0]}.weight"] = g[e, :half].contiguous()
                out[f"{pre}experts.{e}.{names[1]}.weight"] = g[e, half:].contiguous()
            else:
                out[f"{pre}experts.{e}.{names[2]}.weight"] = g[e].contiguous()
    return out


FIXTURES = {
    # Qwen2: tied embeddings, GQA 4/2, q/k/v bias; vocab and special ids match the tiny ChatML
    # tokenizer (tests/fixtures/tokenizers/tiny-chatml), whose files are copied in.
    "qwen2-tiny": dict(make=lambda: qwen2_cfg(eos_token_id=[511, 509], pad_token_id=509), cls="causal",
                       dtype=torch.float32, shard=None, tokenizer="tiny-chatml"),
    # Qwen2: untied, multi-query (1 kv head), sharded checkpoint.
    "qwen2-untied": dict(make=lambda: qwen2_cfg(vocab_size=256, hidden_size=48, num_attention_heads=3,
                                                 num_key_value_heads=1, intermediate_size=96,
                                                 tie_word_embeddings=False, rope_theta=1e6),
                         cls="causal", dtype=torch.float32, shard="60KB"),
    # Llama 3: llama3 rope scaling (original context 32, so the scaled bands matter), bf16 weights.
    "llama3-tiny": dict(make=lambda: llama_cfg(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                               "original_max_position_embeddings": 32},
                                               rope_theta=500000.0),
                        cls="causal", dtype=torch.bfloat16, shard=None),
    # Llama with attention and MLP biases, linear rope scaling, head_dim != hidden/heads, fp16 weights.
    "llama-bias": dict(make=lambda: llama_cfg(attention_bias=True, mlp_bias=True, head_dim=24, num_attention_heads=2,
                                              num_key_value_heads=2,
                                              rope_scaling={"rope_type": "linear", "factor": 2.0}),
                       cls="causal", dtype=torch.float16, shard=None),
    # Qwen3: per-head q/k RMSNorm, head_dim 32 with hidden 64 and 4 heads (q width 128 != hidden),
    # no q/k/v bias, tied embeddings; the tiny ChatML tokenizer.
    "qwen3-tiny": dict(make=lambda: qwen3_cfg(eos_token_id=[511, 509], pad_token_id=509), cls="causal",
                       dtype=torch.bfloat16, shard=None, tokenizer="tiny-chatml"),
    # Qwen2 with yarn rope scaling (Qwen2.5's long-context setting), original context 32 so the
    # correction ramp falls inside the head's frequencies; the attention factor (0.1 ln 4 + 1)
    # scales the rotated q and k.
    "qwen2-yarn": dict(make=lambda: qwen2_cfg(rope_scaling={"type": "yarn", "factor": 4.0,
                                                              "original_max_position_embeddings": 32}),
                       cls="causal", dtype=torch.float32, shard=None),
    # Llama with yarn given every knob: beta_fast/beta_slow, mscale/mscale_all_dim, no truncation.
    "llama-yarn": dict(make=lambda: llama_cfg(rope_scaling={"rope_type": "yarn", "factor": 8.0, "beta_fast": 16,
                                                              "beta_slow": 2, "mscale": 0.8, "mscale_all_dim": 0.5,
                                                              "original_max_position_embeddings": 64,
                                                              "truncate": False},
                                               rope_theta=500000.0),
                       cls="causal", dtype=torch.float32, shard=None),
    # Sliding-window attention past the window: Mistral v0.1-style (every layer slides), a
    # window of 4 under sequences of 5-16 tokens.
    "mistral-sliding": dict(make=lambda: mistral_cfg(sliding_window=4), cls="causal", dtype=torch.float32,
                            shard=None),
    # Qwen2 with use_sliding_window from max_window_layers=1 on: layer 0 full, layer 1 a window of 6.
    "qwen2-sliding": dict(make=lambda: qwen2_cfg(use_sliding_window=True, sliding_window=6, max_window_layers=1),
                          cls="causal", dtype=torch.float32, shard=None),
    # Phi-3 (Phi-4's architecture): fused qkv_proj and gate_up_proj, a partial rotary factor of
    # 0.5 (only the first half of each head turns, as Phi-4-mini's 0.75), a sliding window of 6
    # in every layer (Phi-3-mini has 2047).
    "phi3-tiny": dict(make=lambda: phi3_cfg(partial_rotary_factor=0.5, sliding_window=6), cls="causal",
                      dtype=torch.bfloat16, shard=None),
    # Phi-3.5 / Phi-4-mini: LongRoPE (short factors within the original context of 32, the
    # attention factor from max/original = 4) over a partial rotary factor of 0.75.
    "phi3-longrope": dict(make=lambda: phi3_cfg(partial_rotary_factor=0.75, max_position_embeddings=128,
                                                original_max_position_embeddings=32,
                                                rope_scaling={"rope_type": "longrope",
                                                              "short_factor": [1.0, 1.1, 1.3, 1.7, 2.5, 4.0],
                                                              "long_factor": [1.0, 1.5, 2.5, 4.0, 8.0, 16.0]}),
                          cls="causal", dtype=torch.float32, shard=None),
    # Gemma 3 (text): RMSNorm by (1 + w), embeddings times sqrt(hidden), GeGLU (tanh), q/k norms,
    # post-attention and post-MLP norms, query_pre_attn_scalar 20 (not head_dim 24), layers
    # 0 and 2 sliding (window 5) with their own rope base (local 10000, global 1e6 with linear
    # scaling 4), layer 1 full; head_dim 24 with hidden 64 (q width 96), bf16 weights.
    "gemma3-tiny": dict(make=lambda: gemma3_cfg(sliding_window=5,
                                                layer_types=["sliding_attention", "full_attention",
                                                             "sliding_attention"],
                                                rope_parameters={"full_attention": {"rope_type": "linear",
                                                                                    "factor": 4.0,
                                                                                    "rope_theta": 1e6},
                                                                 "sliding_attention": {"rope_type": "default",
                                                                                       "rope_theta": 10000.0}}),
                        cls="causal", dtype=torch.bfloat16, shard=None),
    # Gemma 2: Gemma's (1 + w) norms, scaled embeddings and GeGLU, post-attention and post-MLP
    # norms, query_pre_attn_scalar 12 (not head_dim 16), layers 0 and 2 sliding (window 5),
    # and soft-capping of the attention scores (1.0) and the logits (1.5): caps far below the
    # real 50 and 30 so that tanh bends at this model's small scores, fp32.
    "gemma2-tiny": dict(make=lambda: gemma2_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Gemma (1): the (1 + w) norms, scaled embeddings and GeGLU with the legacy hidden_act
    # "gelu" (read as the tanh form), multi-query attention, fp32.
    "gemma-tiny": dict(make=lambda: gemma_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # OLMo 2: no norms before the blocks, post-attention and post-MLP norms, q/k norms over the
    # whole projections (widths 64 and 32: grouped-query attention, as OLMo 2 32B), fp32.
    "olmo2-tiny": dict(make=lambda: olmo_cfg(rope_theta=500000.0), cls="causal", dtype=torch.float32, shard=None),
    # OLMo 3: OLMo 2 with sliding layers (3 of every 4 by default: layers 0-2 a window of 5,
    # layer 3 full) whose RoPE stays plain while the full layer's is yarn (as OLMo 3's long-context
    # models), bf16.
    "olmo3-tiny": dict(make=lambda: olmo_cfg(olmo3=True, num_hidden_layers=4, sliding_window=5,
                                             rope_parameters={"full_attention": {"rope_type": "yarn", "factor": 4.0,
                                                                                 "original_max_position_embeddings": 32,
                                                                                 "rope_theta": 500000.0},
                                                              "sliding_attention": {"rope_type": "default",
                                                                                    "rope_theta": 500000.0}}),
                       cls="causal", dtype=torch.bfloat16, shard=None),
    # Granite 3.x: a Llama with multipliers (embeddings x12, block outputs x0.22 before the
    # residual add, attention scale 1/64 instead of 1/4, logits / 8), tied, multi-query, bf16.
    "granite-tiny": dict(make=lambda: granite_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # SmolLM3: a Llama, tied, whose every fourth layer has no RoPE (NoPE: layer 3 here), fp32.
    "smollm3-tiny": dict(make=lambda: smollm3_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Ministral 3: a Mistral with yarn (x4 over an original 32) and the Llama-4 attention scaling,
    # which is 1 below the original context (the batch's sequences are up to 16 tokens), bf16.
    "ministral3-tiny": dict(make=lambda: ministral3_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # Qwen3-MoE: 8 experts of width 32, 2 per token, renormalised (norm_topk_prob, as
    # Qwen3-30B-A3B), layer 1 dense (mlp_only_layers, intermediate 96) between sparse layers
    # 0 and 2; Qwen3's per-head q/k norms, untied, fp32.
    "qwen3moe-tiny": dict(make=lambda: qwen3_moe_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Mixtral: 4 experts (w1/w3/w2 under block_sparse_moe), top-2 always renormalised, a sliding
    # window of 6 in every layer, multi-query attention, bf16 weights.
    "mixtral-tiny": dict(make=lambda: mixtral_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # OLMoE: 6 experts, 3 per token, weights not renormalised, q/k norms over the whole
    # projections (pre-norm layout, unlike OLMo 2), fp32.
    "olmoe-tiny": dict(make=lambda: olmoe_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Qwen2-MoE: top-3 of 6 experts (width 24) not renormalised, plus a shared expert (width 40)
    # gated by a sigmoid, q/k/v biases, layer 1 dense (mlp_only_layers), and its own sliding rule
    # (use_sliding_window below max_window_layers 2: layer 0 a window of 6), fp32.
    "qwen2moe-tiny": dict(make=lambda: qwen2_moe_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # GLM-4.5: top-3 of 8 experts (width 16) by sigmoid scores plus a random correction bias,
    # within the best 2 of 4 groups, renormalised and scaled by 2.5; two shared experts as one
    # of width 32 added ungated; layer 0 dense (first_k_dense_replace); q/k/v biases, per-head
    # q/k norms, RoPE on half of each head (partial_rotary_factor 0.5), fp32.
    "glm4moe-tiny": dict(make=lambda: glm4_moe_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # dots.llm1: GLM-4.5's routing (top-2 of 6 within the best 2 of 3 groups of 2, not
    # renormalised, scaled by 1.5), a shared expert, layer 0 dense; Qwen3's per-head q/k norms
    # with all four attention biases; layers 1 and 2 a window of 6 (from max_window_layers), bf16.
    "dots1-tiny": dict(make=lambda: dots1_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # ERNIE 4.5 (dense, as ERNIE-4.5-0.3B): interleaved RoPE pairs, use_bias on every attention
    # and MLP projection, tied embeddings, theta 500000, fp32.
    "ernie45-tiny": dict(make=lambda: ernie45_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # ERNIE 4.5 MoE (as ERNIE-4.5-21B-A3B): top-2 of 6 by softmax scores plus a correction bias,
    # renormalised, a shared expert, layer 0 dense; interleaved RoPE, tied embeddings, bf16.
    "ernie45moe-tiny": dict(make=lambda: ernie45_moe_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # GLM-4 (GLM-4-9B-0414, GLM-Z1): fused gate|up, four norms a layer (after attention, before and
    # after the MLP), q/k/v biases, RoPE on interleaved pairs over half of each head, eps 1.5625e-7
    # (its config class's defaults), fp32.
    "glm4-tiny": dict(make=lambda: glm4_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # DeepSeek-V3 (multi-head latent attention): queries through a rank-24 bottleneck, keys and
    # values from a rank-20 latent plus a shared rope key of 8 dims, nope 12, values 16 (padded to
    # the q/k width 20 in rlc); yarn x4 with mscale 0.9 / mscale_all_dim 0.8 (the attention scale's
    # mscale squared); interleaved rope; GLM-4.5's routing (top-2 of 8 within 2 of 4 groups, scaled by
    # 2: with 2.5 a routing near-tie made torch's own fp32 and fp64 AdamW curves differ by 2e-4), a
    # shared expert, layer 0 dense, fp32.
    "dsv3-tiny": dict(make=lambda: deepseek_v3_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Moonlight-style DeepSeek-V3 without a query bottleneck (q_proj), values wider than the
    # queries and keys (24 > 8 + 8: q and k padded in rlc), rotate-half rope (rope_interleave
    # false), default rope, no expert groups, bf16.
    "moonlight-tiny": dict(make=lambda: deepseek_v3_cfg(q_lora_rank=None, kv_lora_rank=16, qk_nope_head_dim=8,
                                                        v_head_dim=24, n_group=1, topk_group=1, rope_interleave=False,
                                                        rope_parameters=dict(rope_type="default", rope_theta=50000.0)),
                           cls="causal", dtype=torch.bfloat16, shard=None),
    # DeepSeek-V2-Lite style (deepseek_v2): MLA without a query bottleneck, rope on pairs as complex
    # numbers; softmax routing without a bias, top-2 of 8 within the 2 of 4 groups whose best score
    # is highest (group_limited_greedy), not renormalised, scaled by 1.5; two shared experts; fp32.
    "dsv2-tiny": dict(make=lambda: deepseek_v2_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # MiniCPM3: MLA (rotate-half rope, values hidden / heads = 12 wide, padded to the q/k width 16)
    # in a dense model with Granite-like multipliers: embeddings x12, block outputs x1.4/sqrt(3),
    # hidden states / (48 / 16) before the tied LM head; LongRoPE's short factors; bf16.
    "minicpm3-tiny": dict(make=lambda: minicpm3_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # GLM-4.7-Flash (glm4_moe_lite): MLA (q rank 16, kv rank 24, nope 16, rope 8, values 24),
    # sparse layers by mlp_layer_types (only layer 1), routed scale 1.8, eps 1e-5, fp32.
    "glm47flash-tiny": dict(make=lambda: glm4_moe_lite_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Mistral 4 (mistral4): MLA (q rank 20, kv rank 16, nope 8, rope 8 as partial_rotary_factor 0.5
    # of head_dim 16, values 12 padded to 16), interleaved rope, yarn x8 over an original 64 with
    # Llama 4's query scaling (1 within the original context); softmax routing without a bias, the
    # best 2 of 4 groups ranked by their two best scores, top-2 renormalised, scaled by 1.5 (with 1
    # of 2 groups a near tie made rlc's AdamW curve leave torch's by 1.3e-4 at step 6); a shared
    # expert; layer 0 dense; its experts stacked (transformers 5 has no per-expert names for it);
    # fp32 (transformers routes a bf16 checkpoint in bf16, rlc in fp32).
    "mistral4-tiny": dict(make=lambda: mistral4_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Youtu-LLM (youtu): DeepSeek-V3's MLA in a dense Llama (q rank 16, kv rank 20, nope 12, rope
    # 8, values 16 padded to 20), interleaved rope, a tied head by default; bf16.
    "youtu-tiny": dict(make=lambda: youtu_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # Seed-OSS (seed_oss): a Llama with q/k/v biases (attention_bias), an o_proj bias
    # (attention_out_bias, its own key) and MLP biases, rope theta 1e7; dropouts 0 (the reference's
    # gradients are taken in train mode); bf16.
    "seed-oss-tiny": dict(make=lambda: seed_oss_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # An FP8 checkpoint (Qwen3-FP8 / DeepSeek-V3 style): Qwen3-tiny's shape with every projection in
    # float8_e4m3fn and an fp32 scale per block of 16 x 32 (partial blocks at the edges of the
    # 64-wide, 160-wide and 96-row matrices), quantization_config fp8; the rest bf16.
    "qwen3-fp8": dict(make=lambda: qwen3_cfg(eos_token_id=[511, 509], pad_token_id=509, intermediate_size=150),
                      cls="causal", dtype=torch.bfloat16, shard=None, fp8=(16, 32)),
    # MiniMax-M2 (minimax_m2): Mixtral's experts (block_sparse_moe, w1/w3/w2, every layer sparse,
    # top-2 of 8) routed by sigmoid scores plus a correction bias (the block's
    # e_score_correction_bias), renormalised; q/k norms over the whole projections (OLMo's); rope
    # over rotary_dim 8 of head_dim 16 (rotate-half); fp32.
    "minimax-m2-tiny": dict(make=lambda: minimax_m2_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # DeepSeek-V3.2 (deepseek_v32): DeepSeek-V3's MLA and routing with the DSA indexer (2 heads of 8),
    # index_topk 32: every sequence here (at most 25 tokens) attends to all its keys, as rlc runs it;
    # layer 0 dense; fp32. The indexer's tensors are carried untrained (their gradients: none).
    "dsv32-tiny": dict(make=lambda: deepseek_v32_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # EXAONE 4.0 (exaone4): OLMo 2's norms after the blocks, per-head q/k norms; layers 0 and 2 slide
    # (window 4, RoPE), layer 1 attends fully without RoPE (sliding_window_pattern 2); fp32. (Its q_norm
    # gradients are bf16-sensitive: torch's own bf16 run is 0.039 from fp32 in rel L2 here, 0.14
    # with 4 layers of head_dim 12, which the emulator's bf16 test could not hold to 0.05.)
    "exaone4-tiny": dict(make=lambda: exaone4_cfg(), cls="causal", dtype=torch.float32, shard=None),
    # Solar Open (solar_open): Llama's attention (no o_proj bias), GLM-4.5's experts and routing in every
    # layer (top-2 of 8 within the best of 2 groups, a correction bias, a shared expert, scaled by
    # 1.5); no intermediate_size (no dense MLP); bf16.
    "solar-open-tiny": dict(make=lambda: solar_open_cfg(), cls="causal", dtype=torch.bfloat16, shard=None),
    # A value/reward model: Qwen2 with a token-classification score head (1 label).
    "qwen2-score": dict(make=lambda: qwen2_cfg(vocab_size=256, hidden_size=48, num_attention_heads=4,
                                                num_key_value_heads=2, intermediate_size=96, num_labels=1,
                                                tie_word_embeddings=False),
                        cls="tokcls", dtype=torch.float32, shard=None),
}


def causal_class(cfg):
    """The causal-LM class of a config: AutoModelForCausalLM's, or (Mistral 4, which transformers
    maps only as a multimodal text model) the class its architectures name."""
    import transformers
    from transformers import AutoModelForCausalLM
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if cfg.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return AutoModelForCausalLM
    return getattr(transformers, (cfg.architectures or [type(cfg).__name__.replace("Config", "ForCausalLM")])[0])


def load_causal(dirpath):
    from transformers import AutoConfig
    return causal_class(AutoConfig.from_pretrained(dirpath)).from_pretrained(dirpath, dtype=torch.float32).eval()


def build(name, spec):
    from transformers import AutoModelForTokenClassification
    torch.manual_seed(1234 + sum(map(ord, name)))
    cfg = spec["make"]()
    if spec["cls"] == "causal":
        cls = causal_class(cfg)
        model = cls.from_config(cfg) if hasattr(cls, "from_config") and cls.__name__.startswith("Auto") else cls(cfg)
    else:
        model = AutoModelForTokenClassification.from_config(cfg)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:  # Gemma's norms scale by (1 + w): the same spread around 1
                p.copy_((0.0 if "gemma" in name else 1.0) + 0.1 * torch.randn_like(p))
            elif pname.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
        for bname, b in model.named_buffers():  # GLM-4.5's router bias: zeros at init; make it select
            if bname.endswith("e_score_correction_bias"):
                b.copy_(0.2 * torch.randn_like(b))
    # Store in the fixture dtype; the fp32 reference runs on exactly those (rounded) values.
    # Only parameters are rounded: buffers such as rotary inv_freq stay fp32, as when
    # transformers loads a bf16 checkpoint with dtype=float32.
    # The routers' correction bias (a buffer) is rounded too: the checkpoint stores it in the
    # model's dtype, and the reference must run what rlc loads.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(spec["dtype"]).to(torch.float32))
        for bname, b in model.named_buffers():
            if bname.endswith("e_score_correction_bias"):
                b.copy_(b.to(spec["dtype"]).to(torch.float32))
    model.eval()
    if hasattr(cfg, "num_experts_per_tok"):  # the reference loop (grouped_mm refuses float64)
        model.set_experts_implementation("eager")
    if spec.get("fp8"):
        model.fp8_tensors = fp8_quantize(model, spec["fp8"])
    return model


def fp8_quantize(model, block):
    """Quantize every 2-D projection weight to float8_e4m3fn with one fp32 scale per block of
    `block` [rows, cols] (DeepSeek-V3's layout: NAME_scale_inv [ceil(R/bR), ceil(C/bC)], partial
    blocks at the edges, w = q x s). The model keeps the dequantized values, which the reference
    runs; returns the checkpoint's tensors (the FP8 weights and their scales)."""
    bR, bC = block
    out = {}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim != 2 or not n.endswith("proj.weight"):
                continue
            R, C = p.shape
            sR, sC = -(-R // bR), -(-C // bC)
            pad = torch.zeros(sR * bR, sC * bC)
            pad[:R, :C] = p.float()
            blocks = pad.view(sR, bR, sC, bC)
            s = blocks.abs().amax(dim=(1, 3)).clamp(min=1e-12) / 448.0
            q = (blocks / s[:, None, :, None]).reshape(sR * bR, sC * bC)[:R, :C].to(torch.float8_e4m3fn)
            p.copy_(q.float() * s.repeat_interleave(bR, 0)[:R].repeat_interleave(bC, 1)[:, :C])
            out[n] = q.contiguous()
            out[n + "_scale_inv"] = s.contiguous()
    return out


def batch(vocab):
    g = torch.Generator().manual_seed(99)
    seqs = [torch.randint(3, vocab, (n,), generator=g) for n in SEQ_LENS]
    T = max(SEQ_LENS)
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return seqs, ids, mask


def packed_logp(logits, seqs, temp=1.0):
    """Per packed token: log p(next token) and entropy; 0 on the last token of a sequence."""
    lp_all, ent_all = [], []
    for i, s in enumerate(seqs):
        z = logits[i, :len(s)] / temp
        logsm = torch.log_softmax(z, dim=-1)
        ent = -(logsm.exp() * logsm).sum(-1)
        lp = torch.zeros(len(s))
        lp[:-1] = logsm[:-1].gather(1, s[1:, None])[:, 0]
        e = ent.clone()
        e[-1] = 0.0
        lp_all.append(lp)
        ent_all.append(e)
    return torch.cat(lp_all), torch.cat(ent_all)


def n_valid():
    return sum(n - 1 for n in SEQ_LENS)


def causal_refs(model, seqs, ids, mask):
    """Log-probs from transformers in fp32 (the parity target); the loss and gradients from the
    same model in float64, so a gradient check measures rlc's rounding alone, not the sum of
    two fp32 errors (small gradients such as k_proj.bias come from cancelling terms)."""
    out = {}
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    lp, ent = packed_logp(logits, seqs)
    lp7, _ = packed_logp(logits, seqs, TEMP)
    out["logp"] = lp
    out["entropy"] = ent
    out["logp_t07"] = lp7
    m64 = copy.deepcopy(model).double()
    # one sequence at a time: no padding (Gemma 2's eager attention in float64 turns padded
    # rows into NaN, which their keys and values then carry into the real rows)
    lp64, ent64 = zip(*(packed_logp(m64(input_ids=s[None]).logits, [s]) for s in seqs))
    lp64, ent64 = torch.cat(lp64), torch.cat(ent64)
    loss = -lp64.sum() / n_valid() - ENT_COEF * ent64.sum() / n_valid()
    loss.backward()
    out["loss"] = loss.detach().float().reshape(1)
    grads = checkpoint_grads(model, {pname: p.grad.detach().float().clone() for pname, p in m64.named_parameters()
                                                 if p.grad is not None})  # not ERNIE's frozen router bias
    for pname, g in grads.items():
        out["grad." + pname] = g
    return out


def adam_curve(model, seqs, ids, mask):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAM["wd"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAM["lr"], betas=ADAM["betas"], eps=ADAM["eps"], foreach=False)
    losses = []
    for _ in range(ADAM["steps"]):
        opt.zero_grad()
        logits = model(input_ids=ids, attention_mask=mask).logits
        lp, _ = packed_logp(logits, seqs)
        loss = -lp.sum() / n_valid()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return torch.tensor(losses, dtype=torch.float32)


def greedy(model, vocab):
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(3, vocab, (n,), generator=g).tolist() for n in (3, 8, 13)]
    outs = []
    for p in prompts:
        x = torch.tensor([p])
        y = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=12, do_sample=False,
                           eos_token_id=None, pad_token_id=0)
        outs.append(y[0, len(p):].tolist())
    return {"prompts": prompts, "outputs": outs, "max_new_tokens": 12}


def write_fixture(name, spec):
    model = build(name, spec)
    mdir = os.path.join(ROOT, name)
    rdir = os.path.join(ROOT, name + ".ref")
    os.makedirs(rdir, exist_ok=True)
    save_model = build(name, spec).to(spec["dtype"])
    kw = {"max_shard_size": spec["shard"]} if spec["shard"] else {}
    save_model.save_pretrained(mdir, **kw)
    if spec.get("fp8"):  # the projections as FP8 with their block scales, as an FP8 checkpoint ships
        f = os.path.join(mdir, "model.safetensors")
        sd = load_file(f)
        sd.update(save_model.fp8_tensors)
        save_file(sd, f, metadata={"format": "pt"})
        with open(os.path.join(mdir, "config.json")) as fh:
            c = json.load(fh)
        c["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "dynamic", "fmt": "e4m3",
                                    "weight_block_size": list(spec["fp8"])}
        with open(os.path.join(mdir, "config.json"), "w") as fh:
            json.dump(c, fh, indent=2)
    if spec.get("tokenizer"):
        tdir = os.path.join(ROOT, "..", "tokenizers", spec["tokenizer"])
        for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            shutil.copyfile(os.path.join(tdir, f), os.path.join(mdir, f))
    vocab = model.config.vocab_size
    seqs, ids, mask = batch(vocab)
    packed = torch.cat(seqs).to(torch.int32)
    cu = torch.tensor([0] + list(torch.cumsum(torch.tensor(SEQ_LENS), 0)), dtype=torch.int32)
    ref = {"ids": packed, "cu_seqlens": cu}
    if spec["cls"] == "causal":
        ref.update(causal_refs(model, seqs, ids, mask))
        ref["adamw_losses"] = adam_curve(build(name, spec), seqs, ids, mask)
        with open(os.path.join(rdir, "gen.json"), "w") as f:
            json.dump(greedy(model, vocab), f)
    else:
        vals = model(input_ids=ids, attention_mask=mask).logits  # [B, T, labels]
        g = torch.Generator().manual_seed(5)
        r = torch.randn(vals.shape, generator=g)
        packed_vals = torch.cat([vals[i, :len(s)] for i, s in enumerate(seqs)])
        packed_r = torch.cat([r[i, :len(s)] for i, s in enumerate(seqs)])
        m64 = copy.deepcopy(model).double()
        vals64 = m64(input_ids=ids, attention_mask=mask).logits
        loss = sum((vals64[i, :len(s)] * r[i, :len(s)].double()).sum() for i, s in enumerate(seqs))
        loss.backward()
        ref["values"] = packed_vals.detach().reshape(-1)
        ref["dvalues"] = packed_r.reshape(-1)
        for pname, p in m64.named_parameters():
            ref["grad." + pname] = p.grad.detach().float().clone()
    ref = {k: v.contiguous() for k, v in ref.items()}
    save_file(ref, os.path.join(rdir, "ref.safetensors"), metadata={"format": "pt"})
    print(f"{name}: {sum(p.numel() for p in model.parameters())} params -> {mdir}")


def save_mm(model, name):
    """Save a multimodal model in bf16 as fixture NAME and write NAME.ref/ref.safetensors: the
    text batch's log-probs and entropies from the checkpoint reloaded in fp32 (converting the
    model back would keep its rotary inv_freq buffer rounded to bf16)."""
    mdir, rdir = os.path.join(ROOT, name), os.path.join(ROOT, name + ".ref")
    os.makedirs(rdir, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(mdir)
    model = type(model).from_pretrained(mdir, dtype=torch.float32).eval()
    seqs, ids, mask = batch(model.config.get_text_config().vocab_size)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    lp, ent = packed_logp(logits, seqs)
    packed = torch.cat(seqs).to(torch.int32)
    cu = torch.tensor([0] + list(torch.cumsum(torch.tensor(SEQ_LENS), 0)), dtype=torch.int32)
    save_file({"ids": packed, "cu_seqlens": cu, "logp": lp.contiguous(), "entropy": ent.contiguous()},
              os.path.join(rdir, "ref.safetensors"), metadata={"format": "pt"})
    return mdir


def write_gemma3_mm():
    """gemma3-mm/: a multimodal Gemma 3 checkpoint (Gemma3ForConditionalGeneration, a 1-layer
    SigLIP vision tower) as transformers 5 saves it, named as the Hub's gemma-3 checkpoints
    (language_model.model.*, vision_tower.*, multi_modal_projector.*), and gemma3-mm-v4/: the
    same weights under the names transformers 4.5x's refactored class used
    (model.language_model.*, model.vision_tower.*, lm_head.*). gemma3-mm.ref/ref.safetensors:
    per-token log-probs and entropies of the text batch (no images) from the multimodal
    model, fp32."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, SiglipVisionConfig
    torch.manual_seed(4321)
    text = gemma3_cfg(vocab_size=300, num_hidden_layers=2, sliding_window=6,
                      layer_types=["sliding_attention", "full_attention"])
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14)
    cfg = Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=4,
                       boi_token_index=296, eoi_token_index=297, image_token_index=298)
    cfg.eos_token_id = [1, 106 % 300]
    model = Gemma3ForConditionalGeneration(cfg)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.copy_((0.0 if "norm" in pname and "language_model" in pname else 0.1) * torch.ones_like(p) +
                    0.1 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    model.eval()
    mdir = save_mm(model, "gemma3-mm")
    v4 = os.path.join(ROOT, "gemma3-mm-v4")
    os.makedirs(v4, exist_ok=True)
    sd = load_file(os.path.join(mdir, "model.safetensors"))
    assert all(k.startswith(("language_model.model.", "vision_tower.", "multi_modal_projector.")) for k in sd)
    ren = {}
    for k, v in sd.items():
        if k.startswith("language_model.model."):
            k = "model.language_model." + k[len("language_model.model."):]
        else:
            k = "model." + k
        ren[k] = v
    save_file(ren, os.path.join(v4, "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(os.path.join(mdir, "config.json"), os.path.join(v4, "config.json"))
    print(f"gemma3-mm: {len(sd)} tensors ({sorted(sd)[0]} ...), 4.5x naming {sorted(ren)[0]} ...")


def write_mistral3_mm():
    """mistral3-mm/: a multimodal Mistral 3 checkpoint (Mistral3ForConditionalGeneration: Mistral
    Small 3.1/3.2, a 1-layer Pixtral tower) as transformers 5 saves it; its text_config leaves
    tie_word_embeddings false while Mistral3Config's top level ties the head (transformers ties
    it). mistral3-mm.ref: the text batch's log-probs and entropies from the multimodal model."""
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration, PixtralVisionConfig
    torch.manual_seed(999)
    text = mistral_cfg(vocab_size=300, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
                       intermediate_size=96, sliding_window=None, rope_theta=1e6, tie_word_embeddings=False)
    vision = PixtralVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                 image_size=28, patch_size=14, head_dim=16)
    cfg = Mistral3Config(text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_index=299,
                         spatial_merge_size=1)
    model = Mistral3ForConditionalGeneration(cfg)
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.copy_((1.0 if "norm" in pname else 0.0) + 0.1 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    save_mm(model.eval(), "mistral3-mm")
    print(f"mistral3-mm: {sum(p.numel() for p in model.parameters())} params")


def verify(dirpath, name):
    """Load a directory in transformers and compare log-probs with the fixture's reference."""
    ref = load_file(os.path.join(ROOT, name + ".ref", "ref.safetensors"))
    model = load_causal(dirpath)
    seqs, ids, mask = batch(model.config.vocab_size)
    with torch.no_grad():
        lp, _ = packed_logp(model(input_ids=ids, attention_mask=mask).logits, seqs)
    err = (lp - ref["logp"]).abs().max().item()
    print(f"verify {dirpath} against {name}: max |dlogp| = {err:.3g}")
    return 0 if err < 1e-4 else 1


def compare_rlc(dirpath, rlc):
    """Load DIR (any checkpoint rlc wrote) in transformers and compare its per-token log-probs
    on a fixed id sequence with `rlc logprobs` on the same directory."""
    import subprocess
    model = load_causal(dirpath)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(3, min(model.config.vocab_size, 500), (24,), generator=g).tolist()
    out = subprocess.run([rlc, "logprobs", "--model", dirpath, "--json", "--ids", " ".join(map(str, ids))],
                         check=True, capture_output=True, text=True).stdout
    ours = [t["logprob"] for t in json.loads(out)["tokens"]]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    ref = [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
    err = max(abs(a - b) for a, b in zip(ours, ref))
    print(f"compare {dirpath}: transformers loaded it; max |dlogp| vs rlc logprobs = {err:.3g}")
    return 0 if err < 1e-4 else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verify")
    ap.add_argument("--ref")
    ap.add_argument("--only")
    ap.add_argument("--compare-rlc", metavar="DIR")
    ap.add_argument("--rlc", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "cli", "rlc"))
    a = ap.parse_args()
    if a.compare_rlc:
        sys.exit(compare_rlc(a.compare_rlc, a.rlc))
    if a.verify:
        sys.exit(verify(a.verify, a.ref))
    torch.use_deterministic_algorithms(True)
    for name, spec in FIXTURES.items():
        if a.only and name != a.only:
            continue
        write_fixture(name, spec)
    if not a.only or a.only == "gemma3-mm":
        write_gemma3_mm()
    if not a.only or a.only == "mistral3-mm":
        write_mistral3_mm()


if __name__ == "__main__":
    main()
