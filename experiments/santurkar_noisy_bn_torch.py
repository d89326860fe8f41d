#!/usr/bin/python3
"""PyTorch replica of experiments/santurkar-noisy-bn.yaml (issue 46, 1a), to
tell a bug in normlab's noisy batch norm from a property of the setup.

The same network (conv3x3 16 -> BN -> [noise] -> ReLU -> maxpool 2, conv3x3
32 -> BN -> [noise] -> ReLU -> maxpool 2, linear 1568 -> 10; He-normal convs,
Glorot-normal classifier, zero biases, conv biases only without a
normalizer), the same data (the first 10k Fashion-MNIST training images,
pixels / 255 standardized by that subset's mean and std), SGD lr 0.05
momentum 0.9, batch 64, 5 epochs of 156 full batches. The noise draws each
channel's scale and shift anew every training step from the same Gaussians
as model.norm_noise (scale_mean 1.5, shift_mean 0.5, the given spread); with
--per-activation those per-channel draws become the means of each
activation's own draws (of the same spread again) for every sample and
position: Santurkar et al.'s "each activation for each sample", from a
distribution that changes every step. The draws do
not match normlab's bit for bit; the seeds only fix torch's own streams.

Prints, per 10-step window, the mean training loss of the batches as trained
(what metrics.csv's train rows hold), as CSV:
    variant,seed,step,loss,accuracy
results/santurkar-noisy-bn/torch-replica.csv holds the runs results/README.md
section 22 reads (a header added): the four variants at seeds 1 and 2, the
per-activation noise at both spreads and seeds, and --lr 0.01 at seed 1.

Run with /usr/bin/python3 (torch 1.13), e.g.
    nice /usr/bin/python3 experiments/santurkar_noisy_bn_torch.py --variant noisy --spread 0.1 --seed 1
"""
import argparse
import gzip
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(train_size):
    x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")[:train_size].astype(np.float64) / 255.0
    y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")[:train_size].astype(np.int64)
    x = (x - x.mean()) / x.std()
    return torch.tensor(x, dtype=torch.float32).unsqueeze(1), torch.tensor(y)


class ChannelNoise(nn.Module):
    """After a batch norm, in training only: x * scale + shift, the scale and
    shift drawn per channel (or per activation) at every forward pass."""

    def __init__(self, scale_mean, scale_std, shift_mean, shift_std, per_activation):
        super().__init__()
        self.scale_mean, self.scale_std = scale_mean, scale_std
        self.shift_mean, self.shift_std = shift_mean, shift_std
        self.per_activation = per_activation

    def forward(self, x):
        if not self.training:
            return x
        channels = (1, x.shape[1], 1, 1)
        scale = self.scale_mean + self.scale_std * torch.randn(channels)
        shift = self.shift_mean + self.shift_std * torch.randn(channels)
        if self.per_activation:
            # the step's per-channel draws are the means of each
            # activation's own draws, spread as much again
            scale = scale + self.scale_std * torch.randn(x.shape)
            shift = shift + self.shift_std * torch.randn(x.shape)
        return x * scale + shift


class Net(nn.Module):
    def __init__(self, variant, spread, per_activation, widths=(16, 32), convs_per_stage=1):
        super().__init__()
        norm = variant != "none"
        layers, c_in = [], 1
        for w in widths:
            for _ in range(convs_per_stage):
                conv = nn.Conv2d(c_in, w, 3, padding=1, bias=not norm)
                nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (c_in * 9)))
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)
                layers.append(conv)
                if norm:
                    layers.append(nn.BatchNorm2d(w, eps=1e-5, momentum=0.1))
                if variant == "noisy":
                    layers.append(ChannelNoise(1.5, spread, 0.5, spread, per_activation))
                layers.append(nn.ReLU())
                c_in = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = 28 // (2 ** len(widths))
        self.classifier = nn.Linear(c_in * side * side, 10)
        fan_in = c_in * side * side
        nn.init.normal_(self.classifier.weight, 0.0, math.sqrt(2.0 / (fan_in + 10)))
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=["none", "batch", "noisy"], required=True)
    ap.add_argument("--spread", type=float, default=0.5)
    ap.add_argument("--per-activation", action="store_true")
    ap.add_argument("--convs-per-stage", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-size", type=int, default=10000)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x, y = load(args.train_size)
    net = Net(args.variant, args.spread, args.per_activation,
              convs_per_stage=args.convs_per_stage)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    batch, step = 64, 0
    steps_per_epoch = x.shape[0] // batch
    label = args.variant if args.variant != "noisy" else (
        f"noisy{'-act' if args.per_activation else ''}-{args.spread:g}")
    if args.lr != 0.05:
        label += f"@lr{args.lr:g}"
    if args.convs_per_stage != 1:
        label += f"@convs{args.convs_per_stage}"
    win_loss = win_correct = win_n = 0.0
    net.train()
    for _ in range(args.epochs):
        order = torch.randperm(x.shape[0])
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            logits = net(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            win_loss += loss.item()
            win_correct += (logits.argmax(1) == y[idx]).float().mean().item()
            win_n += 1
            if step % 10 == 0:
                print(f"{label},{args.seed},{step},{win_loss / win_n:.6f},{win_correct / win_n:.6f}",
                      flush=True)
                win_loss = win_correct = win_n = 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
