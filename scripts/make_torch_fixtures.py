#!/usr/bin/env python3
"""Writes the PyTorch-checkpoint fixtures (torch.save zip files, as older Hugging Face
checkpoints ship their weights in pytorch_model.bin) with PyPI torch:

  tests/fixtures/models/llama3-tiny-bin/   llama3-tiny's bf16 weights in one pytorch_model.bin,
                                           saved as Parameters (state_dict(keep_vars=True)), with
                                           the rotary inv_freq buffers older checkpoints held
  tests/fixtures/models/llama-bias-bin/    llama-bias's fp16 weights in two .bin shards with a
                                           pytorch_model.bin.index.json
  tests/fixtures/torch/dtypes.bin          one small tensor per dtype, a scalar, an empty tensor,
                                           a slice at a storage offset, two views of one storage
  tests/fixtures/torch/noncontig.bin       a transposed (non-contiguous) tensor
  tests/fixtures/torch/object.bin          a state dict holding a non-tensor value
  tests/fixtures/torch/legacy.bin          the pre-1.6 (non-zip) format
  tests/fixtures/torch/nested.bin          {"state_dict": {...}} (a training checkpoint)
  tests/fixtures/torch/dtypes.json         the values dtypes.bin holds, for the test

Run from the repo root: python3 scripts/make_torch_fixtures.py  (tests never need it)."""
import json
import os
import shutil

import torch
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
MODELS = os.path.join(ROOT, "models")
OUT = os.path.join(ROOT, "torch")


def model_dir(src, dst):
    d = os.path.join(MODELS, dst)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in os.listdir(os.path.join(MODELS, src)):
        if f.endswith(".json") and "index" not in f:
            shutil.copyfile(os.path.join(MODELS, src, f), os.path.join(d, f))
    return d, load_file(os.path.join(MODELS, src, "model.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    # one file, bf16 Parameters (pickled through torch._utils._rebuild_parameter)
    d, sd = model_dir("llama3-tiny", "llama3-tiny-bin")
    params = {k: torch.nn.Parameter(v, requires_grad=False) for k, v in sd.items()}
    # the rotary inv_freq buffers checkpoints of transformers < 4.31 saved beside the weights
    cfg = json.load(open(os.path.join(d, "config.json")))
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    for i in range(cfg["num_hidden_layers"]):
        params[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = 1.0 / (
            cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2).float() / hd))
    torch.save(params, os.path.join(d, "pytorch_model.bin"))
    # two fp16 shards and their index
    d, sd = model_dir("llama-bias", "llama-bias-bin")
    names = sorted(sd)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    wm = {}
    for i, part in enumerate(shards):
        fn = f"pytorch_model-0000{i + 1}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, os.path.join(d, fn))
        wm.update({k: fn for k in part})
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(v.numel() * v.element_size() for v in sd.values())},
                   "weight_map": wm}, f, indent=1)
    # dtypes, shapes and views
    base = torch.arange(10, dtype=torch.float32) * 0.5
    t = {"f32": torch.tensor([[1.5, -2.0, 3.25], [4.0, 5.5, -6.0]]),
         "f16": torch.tensor([0.5, -1.0, 2.0], dtype=torch.float16),
         "bf16": torch.tensor([1.0, -3.0], dtype=torch.bfloat16),
         "f64": torch.tensor([2.5], dtype=torch.float64),
         "i64": torch.tensor([-7, 1 << 40], dtype=torch.int64),
         "i32": torch.tensor([-3, 9], dtype=torch.int32),
         "i16": torch.tensor([-2], dtype=torch.int16),
         "i8": torch.tensor([-1, 5], dtype=torch.int8),
         "u8": torch.tensor([200], dtype=torch.uint8),
         "bool": torch.tensor([True, False, True]),
         "scalar": torch.tensor(7.0),
         "empty": torch.zeros(0, 4),
         "slice": base[3:7],            # storage offset 3 into a storage of 10
         "view": base.view(2, 5)}       # the same storage again, offset 0
    torch.save(t, os.path.join(OUT, "dtypes.bin"))
    vals = {k: v.double().flatten().tolist() if v.dtype != torch.bool else v.int().tolist() for k, v in t.items()}
    with open(os.path.join(OUT, "dtypes.json"), "w") as f:
        json.dump({k: {"shape": list(v.shape), "values": vals[k]} for k, v in t.items()}, f, indent=1)
    torch.save({"w": torch.arange(6.0).view(2, 3).t()}, os.path.join(OUT, "noncontig.bin"))
    torch.save({"w": torch.ones(2), "step": 3}, os.path.join(OUT, "object.bin"))
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 1}, os.path.join(OUT, "nested.bin"))
    print("torch fixtures written")


if __name__ == "__main__":
    main()
