#!/usr/bin/env python3
"""Check a run's TensorBoard event files with the tensorboard package's own reader.

Usage: python3 scripts/check_tensorboard.py RUN_DIR
Every numeric metric of every metrics.jsonl line must be a scalar at its step with its value
(float32), and the logged samples must be text summaries. Exit 1 on any mismatch.
Needs: tensorboard (PyPI). Tests never run this script (test_cli_tboard reads the files in C).
"""
import json
import math
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    run = sys.argv[1]
    acc = event_accumulator.EventAccumulator(os.path.join(run, "tensorboard"),
                                             size_guidance={event_accumulator.SCALARS: 0,
                                                            event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags["scalars"]}
    bad = checked = 0
    for line in open(os.path.join(run, "metrics.jsonl")):
        row = json.loads(line)
        step = row["step"]
        for k, v in row.items():
            if k == "step" or not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                continue
            got = scalars.get(k, {}).get(step)
            checked += 1
            if got is None or abs(got - v) > 1e-6 * abs(v) + 1e-30:
                bad += 1
                print("step %d %s: %r in metrics.jsonl, %r in TensorBoard" % (step, k, v, got))
    texts = [t for t in tags.get("tensors", []) if t.startswith("samples/")]
    print("%d scalars checked, %d mismatches; %d scalar tags; text tags: %s" % (checked, bad, len(scalars), texts))
    sys.exit(1 if bad or not checked or not texts else 0)


if __name__ == "__main__":
    main()
