#!/usr/bin/python3
"""Checks joule against PyTorch on the full-size models: random-initialised torchvision resnet50
and mobilenet_v2 and a Hugging Face-layout BERT-base are saved as safetensors with an input and
PyTorch's output; joule-run runs each on every CPU policy from those files, and the normwise
relative error max|joule - torch| / max|torch| must stay under 1e-4.

Usage: /usr/bin/python3 tools/check_full_models.py [--joule-run build/release/examples/joule-run]
                                                   [--work /tmp/joule-full-check] [--policies scalar,simd,blas,eigen]
Needs python3-torch, python3-torchvision, python3-numpy; writes about 600 MB under --work.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

MODELS = {  # joule-run name -> (torch_models name, kind)
    "resnet50": ("resnet50", "vision"),
    "mobilenet_v2": ("mobilenet_v2", "vision"),
    "bert-base": ("bert_base", "bert"),
}


def export(name, kind, work):
    base = os.path.join(work, name)
    if os.path.exists(base + ".expected.npy"):
        return base
    model = tm.build(MODELS[name][0])
    with torch.no_grad():
        if kind == "vision":
            x = tm.vision_input(1, 224)
            y = model(x)
            np.save(base + ".input.npy", x.numpy())
        else:
            ids, mask, types = tm.bert_inputs(1, 128, 30522)
            mask[0, 100:] = 0  # some padding, so the mask path is exercised
            y = model(ids, mask, types)
            np.save(base + ".input.npy", ids.numpy())
            np.save(base + ".mask.npy", mask.numpy())
            np.save(base + ".token_types.npy", types.numpy())
    tm.save_safetensors(base + ".safetensors", model.state_dict())
    np.save(base + ".expected.npy", y.numpy())
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--joule-run", default="build/release/examples/joule-run")
    ap.add_argument("--work", default="/tmp/joule-full-check")
    ap.add_argument("--policies", default="scalar,simd,blas,eigen")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(2)
    worst = 0.0
    print(f"torch {torch.__version__}; normwise relative error max|joule - torch| / max|torch|")
    for name, (_, kind) in MODELS.items():
        base = export(name, kind, a.work)
        expected = np.load(base + ".expected.npy")
        for policy in a.policies.split(","):
            out = f"{base}.{policy}.npy"
            cmd = [a.joule_run, "--model", name, "--policy", policy, "--weights", base + ".safetensors",
                   "--input", base + ".input.npy", "--output", out]
            if kind == "bert":
                cmd += ["--mask", base + ".mask.npy", "--token-types", base + ".token_types.npy"]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            got = np.load(out)
            err = float(np.abs(got.astype(np.float64) - expected).max() / np.abs(expected).max())
            worst = max(worst, err)
            print(f"{name:13s} {policy:7s} shape {tuple(got.shape)}  error {err:.2e}  {'ok' if err < 1e-4 else 'FAIL'}")
    print(f"worst {worst:.2e}: {'all under 1e-4' if worst < 1e-4 else 'FAILED'}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
