"""PyTorch definitions of the models joule implements, with the checkpoint names joule reads.

ResNet and MobileNetV2 come from torchvision (a small ResNet reuses torchvision's Bottleneck, since
torchvision's ResNet fixes the stem at 64 channels); BERT is written with plain torch.nn following
Hugging Face's BertModel layout and names, so no transformers package is needed.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import Bottleneck


class SmallResNet(nn.Module):
    """torchvision's ResNet with a configurable stem width (names identical to resnet50's)."""

    def __init__(self, layers=(1, 1, 1, 1), base_width=8, num_classes=10):
        super().__init__()
        self.inplanes = base_width
        self.conv1 = nn.Conv2d(3, base_width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(base_width, layers[0], 1)
        self.layer2 = self._make_layer(base_width * 2, layers[1], 2)
        self.layer3 = self._make_layer(base_width * 4, layers[2], 2)
        self.layer4 = self._make_layer(base_width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(base_width * 8 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))

    def forward(self, x, mask_add):
        b, s, c = x.shape
        split = lambda t: t.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask_add
        return (torch.softmax(scores, -1) @ v).permute(0, 2, 1, 3).reshape(b, s, c)


class DenseNorm(nn.Module):
    def __init__(self, n_in, n_out, eps):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(n_in, n_out), nn.LayerNorm(n_out, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, hidden, heads, eps):
        super().__init__()
        self.self, self.output = BertSelfAttention(hidden, heads), DenseNorm(hidden, hidden, eps)

    def forward(self, x, mask_add):
        return self.output(self.self(x, mask_add), x)


class BertIntermediate(nn.Module):
    def __init__(self, hidden, inter):
        super().__init__()
        self.dense = nn.Linear(hidden, inter)

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))  # exact erf GELU, as BERT


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, inter, eps):
        super().__init__()
        self.attention = BertAttention(hidden, heads, eps)
        self.intermediate = BertIntermediate(hidden, inter)
        self.output = DenseNorm(inter, hidden, eps)

    def forward(self, x, mask_add):
        x = self.attention(x, mask_add)
        return self.output(self.intermediate(x), x)


class BertEmbeddings(nn.Module):
    def __init__(self, vocab, hidden, max_pos, type_vocab, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids, token_types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(token_types)
        return self.LayerNorm(x)


class BertModel(nn.Module):
    """Hugging Face BertModel's encoder (and pooler, so checkpoints look like real ones)."""

    def __init__(self, layers=12, hidden=768, heads=12, inter=3072, vocab=30522, max_pos=512, type_vocab=2, eps=1e-12):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, hidden, max_pos, type_vocab, eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([BertLayer(hidden, heads, inter, eps) for _ in range(layers)])
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(hidden, hidden)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.bias, 0.0, 0.02)  # non-zero, so that biases are tested
            elif isinstance(m, nn.LayerNorm):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.normal_(m.bias, 0.0, 0.1)

    def forward(self, ids, mask, token_types):
        # additive mask [B,1,1,S]: 0 where attended, -10000 where masked (Hugging Face's BERT convention)
        mask_add = (1.0 - mask[:, None, None, :].to(torch.float32)) * -10000.0
        x = self.embeddings(ids, token_types)
        for layer in self.encoder.layer:
            x = layer(x, mask_add)
        return x


@torch.no_grad()
def calibrate_batch_norm(model, image_size, seed=1):
    """Random init leaves eval-mode activations badly scaled; one train-mode pass with momentum 1
    sets every BatchNorm's running statistics from a real batch, then gamma and beta are randomised
    so that folding them into the convolutions is exercised."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.momentum = 1.0
    model.train()
    model(torch.randn(4, 3, image_size, image_size, generator=g))
    for bn in bns:
        bn.momentum = 0.1
        bn.weight.uniform_(0.5, 1.5, generator=g)
        bn.bias.uniform_(-0.1, 0.1, generator=g)
    return model.eval()


def build(name, seed=0, image_size=224):
    torch.manual_seed(seed)
    if name == "resnet50":
        return calibrate_batch_norm(torchvision.models.resnet50(weights=None), image_size)
    if name == "resnet_small":
        return calibrate_batch_norm(SmallResNet((1, 1, 1, 1), 8, 10), image_size)
    if name == "mobilenet_v2":
        return calibrate_batch_norm(torchvision.models.mobilenet_v2(weights=None), image_size)
    if name == "mobilenet_v2_small":
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [4, 48, 1, 1]]
        m = torchvision.models.MobileNetV2(num_classes=10, width_mult=0.25, inverted_residual_setting=setting)
        return calibrate_batch_norm(m, image_size)
    if name == "bert_base":
        return BertModel().eval()
    if name == "bert_small":
        return BertModel(layers=2, hidden=32, heads=4, inter=64, vocab=100, max_pos=40, type_vocab=2).eval()
    raise ValueError(name)


_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(path, tensors, metadata=None):
    """Writes the safetensors format (8-byte header length, JSON header, data) without the
    safetensors package, which Debian 12 does not ship."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = (t.view(torch.int16) if t.dtype in (torch.float16, torch.bfloat16) else t).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def vision_input(batch, image_size, seed=123):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, image_size, image_size, generator=g)


def bert_inputs(batch, seq, vocab, seed=123):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq), generator=g, dtype=torch.int64)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[-1, seq - seq // 4:] = 0  # the last sequence ends in padding
    types = torch.zeros(batch, seq, dtype=torch.int64)
    types[:, seq // 2:] = 1  # second segment
    return ids, mask, types
