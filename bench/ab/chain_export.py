#!/usr/bin/python3
"""Exports a chain of ResNet-50 identity bottleneck blocks (no stem, no downsample) as an ONNX model,
to time ONNX Runtime on one stage's layers alone (bench/ab/chain_ort.js) beside joule on the same
chain (bench/ab/chain.cpp). Batch norm is left out (ONNX Runtime folds it into the convolution's
bias anyway); each block is relu(conv1x1), relu(conv3x3) unless --no-3x3, conv1x1 + input, relu.
An entry layer, relu(conv1x1) from and to the blocks' width, comes first, as bench/ab/chain.cpp's
does: with the chain's input straight from the graph's input (NCHW), ONNX Runtime kept every
block's residual add out of its blocked (NCHWc) convolutions, reordering around each.

  /usr/bin/python3 bench/ab/chain_export.py WIDTH SIZE BLOCKS [--no-3x3] OUT.onnx
  /usr/bin/python3 bench/ab/chain_export.py 256 14 5 /tmp/chain/s3.onnx      # stage 3's five identity blocks
"""
import argparse

import torch


class Block(torch.nn.Module):
    def __init__(self, width, with_3x3):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(4 * width, width, 1)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1) if with_3x3 else None
        self.conv3 = torch.nn.Conv2d(width, 4 * width, 1)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        if self.conv2 is not None:
            y = torch.relu(self.conv2(y))
        return torch.relu(self.conv3(y) + x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("width", type=int)
    p.add_argument("size", type=int)
    p.add_argument("blocks", type=int)
    p.add_argument("out")
    p.add_argument("--no-3x3", dest="with_3x3", action="store_false")
    a = p.parse_args()
    torch.manual_seed(0)
    entry = torch.nn.Sequential(torch.nn.Conv2d(4 * a.width, 4 * a.width, 1), torch.nn.ReLU())
    model = torch.nn.Sequential(entry, *[Block(a.width, a.with_3x3) for _ in range(a.blocks)]).eval()
    for m in model.modules():  # small weights: activations stay in range through the chain
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.uniform_(m.weight, 0, 0.05 / m.weight[0].numel() ** 0.5)
    x = torch.rand(1, 4 * a.width, a.size, a.size)
    torch.onnx.export(model, (x,), a.out, input_names=["x"], output_names=["y"], opset_version=17)


if __name__ == "__main__":
    main()
