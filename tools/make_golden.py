#!/usr/bin/python3
"""Writes the golden fixtures of joule's model tests into tests/data/: small-configuration weights
(safetensors, torchvision / Hugging Face names), inputs and PyTorch's outputs (.npy).

Usage: /usr/bin/python3 tools/make_golden.py [--out tests/data]
Needs Debian's python3-torch, python3-torchvision and python3-numpy (apt-get install them).
Deterministic: the same files on every run with the same PyTorch.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

VISION = {"resnet_small": 64, "mobilenet_v2_small": 64}  # name -> image size
BATCH = 2
BERT_SEQ = 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for name, size in VISION.items():
        model = tm.build(name, image_size=size)
        x = tm.vision_input(BATCH, size)
        with torch.no_grad():
            y = model(x)
        tm.save_safetensors(os.path.join(out, f"{name}.safetensors"), model.state_dict(),
                            {"source": "tools/make_golden.py", "torch": torch.__version__})
        np.save(os.path.join(out, f"{name}.input.npy"), x.numpy())
        np.save(os.path.join(out, f"{name}.expected.npy"), y.numpy())
        print(f"{name}: input {tuple(x.shape)} -> {tuple(y.shape)}, |y| max {y.abs().max():.3g}")

    model = tm.build("bert_small")
    ids, mask, types = tm.bert_inputs(BATCH, BERT_SEQ, 100)
    with torch.no_grad():
        y = model(ids, mask, types)
    tm.save_safetensors(os.path.join(out, "bert_small.safetensors"), model.state_dict(),
                        {"source": "tools/make_golden.py", "torch": torch.__version__})
    for suffix, t in (("ids", ids), ("mask", mask), ("token_types", types)):
        np.save(os.path.join(out, f"bert_small.{suffix}.npy"), t.numpy())
    np.save(os.path.join(out, "bert_small.expected.npy"), y.numpy())
    print(f"bert_small: ids {tuple(ids.shape)} -> {tuple(y.shape)}, |y| max {y.abs().max():.3g}")


if __name__ == "__main__":
    main()
