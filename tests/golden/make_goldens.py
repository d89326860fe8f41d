#!/usr/bin/python3
"""Writes the PyTorch reference fixtures that normlab's C tests compare against.

Run with Debian's PyTorch or the peer venv's (never a CI dependency; the outputs are
committed). norm_goldens.nlfx was last written by the peer venv's torch 2.15.0 (.venv-peer,
for the custom normalizer's cases); the built-ins' cases then moved from Debian's by float
rounding only (batch norm's dx and dgamma). Its switchable cases were added by the same torch
2.15.0 with every earlier tensor kept byte for byte (tests/golden/splice_fixture.py: on another
CPU the regenerated RMSNorm and custom cases move by float rounding), and so were its
batch_channel cases:
    /usr/bin/python3 tests/golden/make_goldens.py [norm] [layer] [e2e] [optim] [tfm] [rnn]
        [param_norm] [rnn_norm] [gradscaler] [autocast]
or with the pinned peer (experiments/bench/requirements-peer.txt) where Debian's is not
installed: .venv-peer/bin/python tests/golden/make_goldens.py tfm. tfm_goldens.nlfx was
last written whole by torch 2.15.0 (issue 58's depth schemes); the others by Debian's.
It writes tests/fixtures/{norm,layer,e2e,optim,tfm,rnn,param_norm,rnn_norm}_goldens.nlfx,
tests/fixtures/gradscaler.nlfx and tests/fixtures/autocast.nlfx (all ten without arguments).

File format (little endian), read by tests/testutil.c:
    b"NLFX", u32 version = 1, u32 count, then per tensor:
    u32 name length, name (utf-8), u32 dtype (0 float32, 1 int32),
    u32 ndim, u32 dims[ndim], data.

Everything runs in float32 on one thread, as normlab does, from fixed seeds.
"""
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")


class Fixture:
    def __init__(self):
        self.tensors = []

    def add(self, name, value):
        # clone: a view would record the value at write time, not now
        t = torch.as_tensor(value).detach().cpu().clone().contiguous()
        if t.dtype in (torch.int32, torch.int64, torch.bool):
            t = t.to(torch.int32)
            dtype = 1
        else:
            t = t.to(torch.float32)
            dtype = 0
        self.tensors.append((name, dtype, t))

    def write(self, filename):
        path = os.path.join(OUT, filename)
        with open(path, "wb") as f:
            f.write(b"NLFX")
            f.write(struct.pack("<II", 1, len(self.tensors)))
            for name, dtype, t in self.tensors:
                raw = name.encode()
                f.write(struct.pack("<I", len(raw)))
                f.write(raw)
                f.write(struct.pack("<II", dtype, t.dim()))
                f.write(struct.pack("<%dI" % t.dim(), *t.shape))
                f.write(t.numpy().tobytes())
        print("wrote %s (%d tensors)" % (os.path.relpath(path), len(self.tensors)))


# ---------------------------------------------------------------------------
# normalizers: forward (train) over several steps so running statistics move,
# backward of the last step with a random dy, then eval mode.

class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019) in torch ops, since PyTorch 1.13 has no
    nn.RMSNorm: statistics per sample over every axis but the batch (layer
    norm's), no centring, a per-channel gamma and no beta; autograd gives the
    gradients."""

    def __init__(self, c, eps, affine):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(c)) if affine else None
        self.bias = None

    def forward(self, x):
        dims = tuple(range(1, x.dim()))
        y = x / torch.sqrt(x.pow(2).mean(dim=dims, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, *([1] * (x.dim() - 2)))
        return y


class BatchRenorm(nn.Module):
    """Batch Renormalization (Ioffe 2017, Algorithm 1) in torch ops: r and d
    from the batch statistics against the running ones before this batch's
    update, clipped to limits that ramp linearly over training steps, and
    detach()ed (the paper's stop-gradient); running statistics as batch
    norm's (momentum, unbiased variance); eval mode as batch norm's."""

    def __init__(self, c, eps, momentum, affine, r_max, d_max, r_ramp, d_ramp):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.r_max, self.d_max, self.r_ramp, self.d_ramp = r_max, d_max, r_ramp, d_ramp
        self.weight = nn.Parameter(torch.ones(c)) if affine else None
        self.bias = nn.Parameter(torch.zeros(c)) if affine else None
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.step = 0

    @staticmethod
    def ramp(r, step):
        return 1.0 if step >= r[1] else 0.0 if step <= r[0] else (step - r[0]) / (r[1] - r[0])

    def forward(self, x):
        dims = [0] + list(range(2, x.dim()))
        view = (1, -1) + (1,) * (x.dim() - 2)
        if self.training:
            mean, var = x.mean(dims), x.var(dims, unbiased=False)
            sigma = torch.sqrt(var + self.eps)
            sigma_running = torch.sqrt(self.running_var + self.eps)
            r_max = 1.0 + (self.r_max - 1.0) * self.ramp(self.r_ramp, self.step)
            d_max = self.d_max * self.ramp(self.d_ramp, self.step)
            r = (sigma / sigma_running).detach().clamp(1.0 / r_max, r_max)
            d = ((mean - self.running_mean) / sigma_running).detach().clamp(-d_max, d_max)
            y = (x - mean.view(view)) / sigma.view(view) * r.view(view) + d.view(view)
            with torch.no_grad():
                count = x.numel() // x.shape[1]
                self.running_mean += self.momentum * (mean - self.running_mean)
                self.running_var += self.momentum * (var * count / (count - 1) - self.running_var)
            self.step += 1
        else:
            y = (x - self.running_mean.view(view)) / torch.sqrt(self.running_var.view(view) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(view) + self.bias.view(view)
        return y


def ghost_batchnorm(base, virtual_batch):
    """Ghost batch norm (Hoffer et al. 2017): the batch norm module on each
    virtual batch of x.split(V) in training, itself in eval mode."""

    class Ghost(base):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            return torch.cat([super(Ghost, self).forward(chunk) for chunk in x.split(virtual_batch)])

    return Ghost


class DyT(nn.Module):
    """Dynamic Tanh (Zhu et al. 2025) in torch ops: gamma * tanh(alpha * x) +
    beta, one scalar alpha, per-channel gamma and beta."""

    def __init__(self, c, alpha_init, affine):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor([alpha_init]))
        self.weight = nn.Parameter(torch.ones(c)) if affine else None
        self.bias = nn.Parameter(torch.zeros(c)) if affine else None

    def forward(self, x):
        y = torch.tanh(self.alpha * x)
        if self.weight is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class FRN(nn.Module):
    """Filter Response Normalization + TLU (Singh & Krishnan 2020) in torch
    ops: nu2 = mean over H, W of x^2 per sample and channel,
    max(gamma * x / sqrt(nu2 + eps) + beta, tau)."""

    def __init__(self, c, eps, affine):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(c)) if affine else None
        self.bias = nn.Parameter(torch.zeros(c)) if affine else None
        self.tau = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        y = x / torch.sqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return torch.max(y, self.tau.view(1, -1, 1, 1))


class ScaleNorm(nn.Module):
    """ScaleNorm (Nguyen & Salazar 2019) as the paper's reference code
    (tnq177/transformers_without_tears): scale / max(||x||, eps) times x,
    one learned scalar scale initialised to sqrt(d); the norm over each
    token's features on (N, T, D), over each sample's C, H, W on images."""

    def __init__(self, d, eps):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(d) ** 0.5))
        self.eps = eps
        self.weight = None

    def forward(self, x):
        rows = x if x.dim() == 3 else x.flatten(1)
        norm = torch.norm(rows, dim=-1, keepdim=True).clamp(min=self.eps)
        return (rows * (self.scale / norm)).view_as(x)


class MeanOnlyBatchNorm(nn.Module):
    """Mean-only batch norm (Salimans & Kingma 2016) in torch ops, since
    PyTorch has no module for it: in training y = x - mean + beta with the
    batch mean per channel, the running mean updated as batch norm's; in
    eval mode y = x - running_mean + beta. No variance, no gamma."""

    def __init__(self, c, momentum, affine):
        super().__init__()
        self.momentum = momentum
        self.weight = None
        self.bias = nn.Parameter(torch.zeros(c)) if affine else None
        self.register_buffer("running_mean", torch.zeros(c))

    def forward(self, x):
        dims = [0] + list(range(2, x.dim()))
        view = (1, -1) + (1,) * (x.dim() - 2)
        if self.training:
            mean = x.mean(dims)
            with torch.no_grad():
                self.running_mean += self.momentum * (mean - self.running_mean)
        else:
            mean = self.running_mean
        y = x - mean.view(view)
        if self.bias is not None:
            y = y + self.bias.view(view)
        return y


class SwitchNorm2d(nn.Module):
    """Switchable Normalization (Luo et al. 2018) in torch ops, after the
    authors' SwitchNorm2d (switchablenorms/Switchable-Normalization): per
    (sample, channel) the mean and variance are softmax(mean_weight) and
    softmax(var_weight) mixes of the instance, layer and batch statistics,
    the layer and batch ones derived from the instance ones as the authors
    do; in eval mode the batch term is the running statistics. As normlab
    takes them (core/norm/switchable.c): every variance biased (the authors'
    instance variance is unbiased), and the running statistics updated as
    batch norm's (momentum of the new value, the unbiased batch variance;
    momentum None the cumulative average) where the authors keep 0.997 of
    the old value. track False: eval takes the batch's statistics. In
    double, rounded to float32 at the end: the authors' E[x^2] - mean^2 for
    the layer and batch variances cancels in float32 at a mean far from 0
    (the offset case), where normlab's norm_stats does not."""

    def __init__(self, c, eps, momentum, affine, track, g):
        super().__init__()
        self.eps, self.momentum, self.track = eps, momentum, track
        self.weight = nn.Parameter(torch.ones(c)) if affine else None
        self.bias = nn.Parameter(torch.zeros(c)) if affine else None
        # logits away from their initial ones, so that every weight differs
        self.mean_weight = nn.Parameter(torch.randn(3, generator=g))
        self.var_weight = nn.Parameter(torch.randn(3, generator=g))
        if track:
            self.register_buffer("running_mean", torch.zeros(c))
            self.register_buffer("running_var", torch.ones(c))
            self.tracked = 0

    def forward(self, x):
        n, c, h, w = x.shape
        x3 = x.double().view(n, c, -1)
        mean_in = x3.mean(-1, keepdim=True)
        var_in = x3.var(-1, keepdim=True, unbiased=False)
        mean_ln = mean_in.mean(1, keepdim=True)
        temp = var_in + mean_in ** 2
        var_ln = temp.mean(1, keepdim=True) - mean_ln ** 2
        if self.training or not self.track:
            mean_bn = mean_in.mean(0, keepdim=True)
            var_bn = temp.mean(0, keepdim=True) - mean_bn ** 2
            if self.training and self.track:
                self.tracked += 1
                m = 1.0 / self.tracked if self.momentum is None else self.momentum
                count = n * h * w
                with torch.no_grad():
                    self.running_mean.copy_((1 - m) * self.running_mean.double()
                                            + m * mean_bn.view(c))
                    self.running_var.copy_((1 - m) * self.running_var.double()
                                           + m * var_bn.view(c) * count / (count - 1))
        else:
            mean_bn = self.running_mean.double().view(1, c, 1)
            var_bn = self.running_var.double().view(1, c, 1)
        a = torch.softmax(self.mean_weight.double(), 0)
        b = torch.softmax(self.var_weight.double(), 0)
        mean = a[0] * mean_in + a[1] * mean_ln + a[2] * mean_bn
        var = b[0] * var_in + b[1] * var_ln + b[2] * var_bn
        y = ((x3 - mean) / (var + self.eps).sqrt()).view(n, c, h, w)
        if self.weight is not None:
            y = y * self.weight.double().view(1, -1, 1, 1) + self.bias.double().view(1, -1, 1, 1)
        return y.float()


class BatchChannelNorm(nn.Module):
    """Batch-Channel Normalization (Qiao et al. 2019), the large-batch form
    normlab takes (core/norm/batch_channel.c): torch's BatchNorm2d with its
    affine, then GroupNorm(G, C) with its own, in double (rounded to
    float32 at the end). weight, bias and the running statistics are the
    batch step's, as normlab names them; the channel step's affine is
    channel.weight and channel.bias."""

    def __init__(self, c, groups, eps, momentum, affine, track):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=eps, momentum=momentum, affine=affine,
                                 track_running_stats=track)
        self.channel = nn.GroupNorm(groups, c, eps=eps, affine=affine)

    @property
    def weight(self):
        return self.bn.weight

    @property
    def bias(self):
        return self.bn.bias

    @property
    def running_mean(self):
        return self.bn.running_mean

    @property
    def running_var(self):
        return self.bn.running_var

    def forward(self, x):
        return self.channel(self.bn(x.double())).float()


# model.norm.type custom's keys as the fixture holds them (.point): the
# reduction as bits of normlab's axis order (core/base/names.h), then
# center, scale (std 0, rms 1, none 2), train_stats and eval_stats (batch 0,
# running 1)
AXES = ("batch", "channels", "spatial", "tokens")
SCALES = ("std", "rms", "none")
SOURCES = ("batch", "running")


class CustomNorm(nn.Module):
    """A point of the normalization design space in torch ops (autograd gives
    the gradients): statistics over the `reduce` axes of (N, C) or
    (N, C, H, W), the channels in `groups` groups; the mean subtracted where
    `center`; divided by sqrt(var + eps) (std), sqrt(E[x^2] + eps) (rms) or
    nothing (none, no eps); gamma where it divides, beta where it centres.
    Statistics that reduce over the batch are per channel and kept as
    PyTorch's running averages (unbiased variance) where training or
    evaluation takes them ("running"): training with running statistics
    folds the batch in first and normalizes with them as constants."""

    def __init__(self, c, reduce, center, scale, train_stats, eval_stats, groups, eps,
                 momentum, affine):
        super().__init__()
        self.reduce, self.center, self.divisor = set(reduce), center, scale
        self.train_stats, self.eval_stats = train_stats, eval_stats
        self.groups = groups if "channels" in reduce else c
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(c)) if affine and scale != "none" else None
        self.bias = nn.Parameter(torch.zeros(c)) if affine and center else None
        if "running" in (train_stats, eval_stats):
            self.register_buffer("running_mean", torch.zeros(c))
            self.register_buffer("running_var", torch.ones(c))

    def apply_point(self, x, mean, second):
        """y from the statistics (broadcast to x): mean, and the second moment
        the scale divides by"""
        shift = mean if self.center else torch.zeros_like(mean)
        y = x - shift
        if self.divisor != "none":
            y = y / torch.sqrt(second + self.eps)
        return y

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        view = [1, c] + [1] * (x.dim() - 2)
        grouped = x.reshape(n, self.groups, c // self.groups, *x.shape[2:])
        dims = [d for d, axis in ((0, "batch"), (2, "channels")) if axis in self.reduce]
        if "spatial" in self.reduce:
            dims += list(range(3, grouped.dim()))
        mean = grouped.mean(dims, keepdim=True)
        var = grouped.var(dims, keepdim=True, unbiased=False)
        ms = (grouped * grouped).mean(dims, keepdim=True)
        source = self.train_stats if self.training else self.eval_stats
        if self.training and hasattr(self, "running_mean"):
            with torch.no_grad():
                count = math.prod(grouped.shape[d] for d in dims)
                m = self.momentum
                # per-sample statistics (instance norm's) averaged over the batch
                bm = mean if "batch" in self.reduce else mean.mean(0, keepdim=True)
                bv = var if "batch" in self.reduce else var.mean(0, keepdim=True)
                self.running_mean.mul_(1 - m).add_(m * bm.reshape(c))
                self.running_var.mul_(1 - m).add_(m * bv.reshape(c) * count / (count - 1))
        if source == "running":
            rm, rv = self.running_mean.view(view), self.running_var.view(view)
            second = rv if self.divisor == "std" else rv + rm * rm
            y = self.apply_point(x, rm, second)
        else:
            second = var if self.divisor == "std" else ms
            y = self.apply_point(grouped, mean, second).reshape(x.shape)
        if self.weight is not None:
            y = y * self.weight.view(view)
        if self.bias is not None:
            y = y + self.bias.view(view)
        return y


def norm_case(fx, name, kind, shape, steps=3, groups=1, eps=1e-5, momentum=0.1, affine=True,
              track=None, mean=0.5, std=2.0, seed=0, renorm=(3.0, 5.0, (0, 2), (0, 2)),
              virtual_batch=0, alpha_init=0.5, point=None):
    g = torch.Generator().manual_seed(seed)
    n, c = shape[0], shape[1]
    if track is None:
        track = kind in ("batch", "batch_renorm", "ghost_batch", "mean_only", "switchable",
                        "batch_channel") or (
            kind == "custom" and "running" in (point["train_stats"], point["eval_stats"]))
    bn_class = nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d
    if kind == "batch":
        module = bn_class(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    elif kind == "batch_renorm":
        module = BatchRenorm(c, eps, momentum, affine, *renorm)
    elif kind == "ghost_batch":
        module = ghost_batchnorm(bn_class, virtual_batch)(
            c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    elif kind == "layer":
        # the Wu & He LayerNorm: one group, per-channel affine; on (N, D) the same as LayerNorm(D)
        module = nn.GroupNorm(1, c, eps=eps, affine=affine)
    elif kind == "group":
        module = nn.GroupNorm(groups, c, eps=eps, affine=affine)
    elif kind == "instance":
        module = nn.InstanceNorm2d(c, eps=eps, momentum=momentum, affine=affine,
                                   track_running_stats=track)
    elif kind == "rms":
        module = RMSNorm(c, eps, affine)
    elif kind == "dyt":
        module = DyT(c, alpha_init, affine)
        fx.add(name + ".alpha", module.alpha)
    elif kind == "scale":
        module = ScaleNorm(shape[-1] if len(shape) == 3 else math.prod(shape[1:]), eps)
        fx.add(name + ".scale", module.scale)
    elif kind == "mean_only":
        module = MeanOnlyBatchNorm(c, momentum, affine)
    elif kind == "custom":
        module = CustomNorm(c, point["reduce"], point["center"], point["scale"],
                            point["train_stats"], point["eval_stats"], groups, eps, momentum,
                            affine)
        fx.add(name + ".point", torch.tensor(
            [sum(1 << AXES.index(a) for a in point["reduce"]), int(point["center"]),
             SCALES.index(point["scale"]), SOURCES.index(point["train_stats"]),
             SOURCES.index(point["eval_stats"])], dtype=torch.int32))
    elif kind == "switchable":
        module = SwitchNorm2d(c, eps, momentum, affine, track, g)
        fx.add(name + ".mean_weight", module.mean_weight)
        fx.add(name + ".var_weight", module.var_weight)
    elif kind == "batch_channel":
        module = BatchChannelNorm(c, groups, eps, momentum, affine, track)
        if affine:  # the channel step's affine, drawn in float32 like the batch step's
            with torch.no_grad():
                module.channel.weight.copy_(0.5 + torch.rand(c, generator=g))
                module.channel.bias.copy_(torch.rand(c, generator=g) - 0.5)
            fx.add(name + ".channel.weight", module.channel.weight)
            fx.add(name + ".channel.bias", module.channel.bias)
        module.double()
    elif kind == "frn":
        module = FRN(c, eps, affine)
        with torch.no_grad():  # thresholds that clip some values of every channel
            module.tau.copy_(torch.rand(c, generator=g) - 0.5)
        fx.add(name + ".tau", module.tau)
    if affine:
        with torch.no_grad():
            if module.weight is not None:
                module.weight.copy_(0.5 + torch.rand(c, generator=g))
            if module.bias is not None:
                module.bias.copy_(torch.rand(c, generator=g) - 0.5)
        if module.weight is not None:
            fx.add(name + ".gamma", module.weight)
        if module.bias is not None:
            fx.add(name + ".beta", module.bias)
    module.train()
    for step in range(steps):
        x = (mean + std * torch.randn(*shape, generator=g)).requires_grad_(True)
        fx.add("%s.x%d" % (name, step), x)
        y = module(x)
    dy = torch.randn(*shape, generator=g)
    y.backward(dy)
    fx.add(name + ".y", y)
    fx.add(name + ".dy", dy)
    fx.add(name + ".dx", x.grad)
    if affine:
        if module.weight is not None:
            fx.add(name + ".dgamma", module.weight.grad)
        if module.bias is not None:
            fx.add(name + ".dbeta", module.bias.grad)
    for extra in ("alpha", "tau", "scale", "mean_weight", "var_weight"):
        if hasattr(module, extra):
            fx.add(name + ".d" + extra, getattr(module, extra).grad)
    if kind == "batch_channel" and affine:
        fx.add(name + ".dchannel.weight", module.channel.weight.grad)
        fx.add(name + ".dchannel.bias", module.channel.bias.grad)
    if track:
        fx.add(name + ".running_mean", module.running_mean)
        if hasattr(module, "running_var"):
            fx.add(name + ".running_var", module.running_var)
    module.eval()
    x_eval = mean + std * torch.randn(*shape, generator=g)
    with torch.no_grad():
        fx.add(name + ".x_eval", x_eval)
        fx.add(name + ".y_eval", module(x_eval))
    dims = list(shape) + [1] * (4 - len(shape))
    fx.add(name + ".kind", torch.tensor(list(kind.encode()), dtype=torch.int32))
    fx.add(name + ".meta", torch.tensor(
        [len(shape)] + dims + [groups, int(affine), int(track),
                                                int(momentum is None), steps], dtype=torch.int32))
    fx.add(name + ".eps", torch.tensor([eps]))
    fx.add(name + ".momentum", torch.tensor([0.0 if momentum is None else momentum]))
    if kind == "batch_renorm":  # r_max, d_max, then the two ramps [from, to]
        fx.add(name + ".renorm", torch.tensor([renorm[0], renorm[1]]))
        fx.add(name + ".renorm_ramps", torch.tensor(list(renorm[2]) + list(renorm[3]),
                                                    dtype=torch.int32))
    if kind == "ghost_batch":
        fx.add(name + ".virtual_batch", torch.tensor([virtual_batch], dtype=torch.int32))


def make_norm_goldens():
    fx = Fixture()
    cases = []

    def case(name, *args, **kw):
        cases.append(name)
        norm_case(fx, name, *args, **kw)

    case("batch4d", "batch", (3, 6, 5, 7), seed=1)
    case("batch2d", "batch", (7, 10), seed=2)
    case("batch4d_cumulative_noaffine", "batch", (3, 6, 5, 7), momentum=None, affine=False,
         eps=1e-3, seed=3)
    case("batch4d_untracked", "batch", (3, 6, 5, 7), track=False, seed=4)
    case("batch4d_batch1", "batch", (1, 6, 5, 7), seed=5)
    case("batch2d_momentum", "batch", (5, 9), momentum=0.3, eps=1e-4, seed=6)
    case("batch4d_offset", "batch", (4, 3, 6, 6), mean=20.0, std=0.5, seed=7)
    case("layer4d", "layer", (3, 6, 5, 7), seed=11)
    case("layer2d", "layer", (7, 10), seed=12)
    case("layer2d_noaffine", "layer", (4, 13), affine=False, eps=1e-3, seed=13)
    case("group4d", "group", (3, 6, 5, 7), groups=3, seed=21)
    case("group2d", "group", (5, 12), groups=4, seed=22)
    case("group4d_noaffine", "group", (2, 8, 3, 5), groups=2, affine=False, eps=1e-3, seed=23)
    case("group4d_offset", "group", (3, 6, 5, 7), groups=2, mean=20.0, std=0.5, seed=24)
    # feature vectors in 8 or more groups of a multiple of 8 take the CPU's
    # eight-groups-at-a-time path: 8 features a group, 40 (a 32-wide step and
    # an 8-wide one), and 32 without affine
    case("group2d_by8", "group", (5, 64), groups=8, seed=25)
    case("group2d_by8_wide_offset", "group", (3, 640), groups=16, mean=20.0, std=0.5, seed=26)
    case("group2d_by8_noaffine", "group", (4, 256), groups=8, affine=False, eps=1e-3, seed=27)
    case("instance4d", "instance", (3, 6, 5, 7), groups=6, seed=31)
    case("instance4d_affine_tracked", "instance", (3, 6, 5, 7), groups=6, affine=True,
         track=True, momentum=0.2, seed=32)
    case("instance4d_plain", "instance", (2, 4, 6, 3), groups=4, affine=False, seed=33)
    case("rms4d", "rms", (3, 6, 5, 7), seed=41)
    case("rms2d", "rms", (7, 10), seed=42)
    case("rms2d_noaffine", "rms", (4, 13), affine=False, eps=1e-3, seed=43)
    case("rms4d_offset", "rms", (3, 6, 5, 7), mean=20.0, std=0.5, seed=44)
    case("rms2d_wide", "rms", (5, 640), mean=-1.0, seed=45)
    # renorm: limits reached at once, r and d clipped at step 2 (r_max 1.5),
    # and at steps 0-1 of a ramp (batch norm at step 0, partly open at 1)
    case("renorm4d", "batch_renorm", (4, 6, 5, 7), renorm=(1.5, 0.5, (0, 0), (0, 0)), seed=51)
    case("renorm2d", "batch_renorm", (8, 10), std=3.0, renorm=(2.0, 1.0, (0, 2), (0, 4)),
         seed=52)
    case("renorm2d_noaffine", "batch_renorm", (6, 9), affine=False, momentum=0.3, eps=1e-3,
         renorm=(1.2, 0.2, (0, 1), (0, 1)), seed=53)
    case("ghost4d", "ghost_batch", (8, 6, 5, 7), virtual_batch=2, seed=61)
    case("ghost2d", "ghost_batch", (12, 10), virtual_batch=4, seed=62)
    case("ghost2d_cumulative_noaffine", "ghost_batch", (6, 5), virtual_batch=3, momentum=None,
         affine=False, seed=63)
    case("dyt4d", "dyt", (3, 6, 5, 7), seed=51)
    case("dyt2d", "dyt", (7, 10), seed=52)
    case("dyt2d_noaffine_alpha2", "dyt", (4, 13), affine=False, alpha_init=2.0, seed=53)
    case("dyt4d_offset_alpha01", "dyt", (3, 6, 5, 7), mean=20.0, std=0.5, alpha_init=0.1, seed=54)
    case("frn4d", "frn", (3, 6, 5, 7), eps=1e-6, seed=61)
    case("frn4d_noaffine", "frn", (2, 8, 3, 5), affine=False, eps=1e-3, seed=62)
    case("frn4d_offset", "frn", (3, 6, 5, 7), mean=20.0, std=0.5, eps=1e-6, seed=63)
    # ScaleNorm: no affine key (its scalar is always learned); every row of
    # scale2d_clamped has a norm below eps, where the norm passes no gradient
    case("scale2d", "scale", (7, 10), affine=False, seed=71)
    case("scale4d", "scale", (3, 6, 5, 7), affine=False, seed=72)
    case("scale2d_wide_offset", "scale", (5, 640), affine=False, mean=20.0, std=0.5, seed=73)
    case("scale2d_clamped", "scale", (4, 6), affine=False, mean=0.0, std=1e-4, eps=1e-2,
         seed=74)
    case("scale3d_tokens", "scale", (3, 5, 12), affine=False, seed=75)
    # mean-only batch norm: no eps (nothing is divided), beta alone
    case("mean_only4d", "mean_only", (3, 6, 5, 7), seed=81)
    case("mean_only2d", "mean_only", (7, 10), seed=82)
    case("mean_only2d_noaffine", "mean_only", (5, 9), affine=False, momentum=0.3, seed=83)
    case("mean_only4d_offset", "mean_only", (4, 3, 6, 6), mean=20.0, std=0.5, seed=84)
    # custom: points off the built-ins (the built-ins' own points are
    # checked against the built-ins in tests/norm_space.c)
    def pt(reduce, center=True, scale="std", train_stats="batch", eval_stats=None):
        if eval_stats is None:
            eval_stats = "running" if "batch" in reduce else "batch"
        return dict(reduce=reduce, center=center, scale=scale, train_stats=train_stats,
                    eval_stats=eval_stats)
    case("custom4d_batch_centred_rms", "custom", (3, 6, 5, 7), seed=91,
         point=pt(("batch", "spatial"), scale="rms"))
    case("custom2d_batch_uncentred_std", "custom", (7, 10), seed=92, momentum=0.3,
         point=pt(("batch",), center=False))
    case("custom4d_groups_uncentred_std", "custom", (3, 6, 5, 7), groups=2, seed=93,
         point=pt(("channels", "spatial"), center=False))
    case("custom2d_channels_centred_none", "custom", (5, 12), seed=94,
         point=pt(("channels",), scale="none"))
    case("custom4d_spatial_centred_rms_offset", "custom", (3, 6, 5, 7), mean=20.0, std=0.5,
         seed=95, point=pt(("spatial",), scale="rms"))
    case("custom4d_batch_train_running", "custom", (4, 6, 5, 7), seed=96, momentum=0.3,
         point=pt(("batch", "spatial"), train_stats="running"))
    case("custom2d_batch_eval_batch_noaffine", "custom", (6, 9), affine=False, seed=97,
         point=pt(("batch",), eval_stats="batch"))
    case("custom4d_batch_uncentred_rms", "custom", (3, 6, 5, 7), seed=98,
         point=pt(("batch", "spatial"), scale="rms", center=False))
    # uncentred with running statistics kept: their mean is still averaged
    case("custom4d_spatial_uncentred_rms_eval_running", "custom", (3, 6, 5, 7), seed=99,
         momentum=0.3, point=pt(("spatial",), center=False, scale="rms", eval_stats="running"))
    # switchable: its six logits drawn away from 0, the gradients to them
    # from every term (in training the batch term's too); eval with the
    # running statistics, or (untracked) with the batch's
    case("switchable4d", "switchable", (3, 6, 5, 7), seed=101)
    case("switchable4d_noaffine_untracked", "switchable", (2, 8, 3, 5), affine=False,
         track=False, eps=1e-3, seed=102)
    # an offset of 2 standard deviations: the logits' gradients weigh the
    # differences between the three statistics, each stored in float32, so
    # at the other kinds' offset (mean 20, std 0.5) they differ from
    # double's by ~1e-4 (normalized; 1.2e-5 at mean 5, std 1), past the
    # test's 1e-5
    case("switchable4d_offset_momentum", "switchable", (4, 3, 6, 6), mean=2.0, std=1.0,
         momentum=0.3, seed=103)
    case("switchable4d_cumulative_batch2", "switchable", (2, 5, 4, 3), momentum=None, seed=104)
    # batch-channel: batch norm then group norm, each with its own affine;
    # the running statistics are the batch step's. Untracked, eval takes
    # the batch's statistics; a batch of 2 (with one channel per group the
    # channel step would undo the batch step's gamma, whose gradient is then
    # rounding alone)
    case("batch_channel4d", "batch_channel", (3, 8, 5, 4), groups=4, seed=111)
    case("batch_channel4d_noaffine_untracked", "batch_channel", (2, 6, 3, 5), groups=2,
         affine=False, track=False, eps=1e-3, seed=112)
    case("batch_channel4d_offset_momentum", "batch_channel", (4, 6, 6, 6), groups=3,
         mean=20.0, std=0.5, momentum=0.3, seed=113)
    case("batch_channel4d_cumulative_batch2", "batch_channel", (2, 6, 4, 3), groups=3,
         momentum=None, seed=114)
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, name in enumerate(cases):
        fx.add("case%d" % i, torch.tensor(list(name.encode()), dtype=torch.int32))
    fx.write("norm_goldens.nlfx")


# ---------------------------------------------------------------------------
# layers: forward and backward with a random dy


def standardized(weight, eps):
    """Weight standardization (Qiao et al. 2019) as timm's StdConv2d writes
    it: per output unit over its fan-in, biased variance, eps inside the
    square root; autograd carries the weight gradient through it."""
    flat = weight.reshape(1, weight.shape[0], -1)
    return F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=eps).reshape_as(weight)


class StdLinear(nn.Linear):
    def __init__(self, *args, eps, **kw):
        super().__init__(*args, **kw)
        self.eps = eps

    def forward(self, x):
        return F.linear(x, standardized(self.weight, self.eps), self.bias)


class StdConv2d(nn.Conv2d):
    def __init__(self, *args, eps, **kw):
        super().__init__(*args, **kw)
        self.eps = eps

    def forward(self, x):
        return F.conv2d(x, standardized(self.weight, self.eps), self.bias, self.stride,
                        self.padding)


def layer_case(fx, name, module, shape, seed, params=()):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname in params:
            p = getattr(module, pname)
            p.copy_(0.3 * torch.randn(*p.shape, generator=g))
            fx.add("%s.%s" % (name, pname), p)
    x = torch.randn(*shape, generator=g).requires_grad_(True)
    y = module(x)
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    fx.add(name + ".x", x)
    fx.add(name + ".y", y)
    fx.add(name + ".dy", dy)
    fx.add(name + ".dx", x.grad)
    for pname in params:
        fx.add("%s.d%s" % (name, pname), getattr(module, pname).grad)


def make_layer_goldens():
    fx = Fixture()
    layer_case(fx, "linear", nn.Linear(11, 7), (5, 11), 1, ("weight", "bias"))
    layer_case(fx, "linear_nobias", nn.Linear(9, 4, bias=False), (3, 9), 2, ("weight",))
    # normlab's linear layer switches kernels on the batch and the width
    # (core/cpu/linear.c): skinny forward and skinny dW up to 7 rows (the
    # cases above), skinny forward with register-tiled dx and dW to 12; past
    # 12 rows a row-tiled forward for outputs up to 12 wide (linear_gemm,
    # linear_tall); for outputs 24 or more wide a tile over W and the
    # transposed input (in 16-row panels) to 256 rows (linear_wide,
    # linear_deep, linear_sgemm at 130 rows) and sgemm past those
    # (linear_sgemm_forward); tiled backward for outputs up to 256 wide to
    # 128 rows (dW; linear_sgemm's 130 rows go to sgemm) and 512 rows (dx),
    # sgemm past those; a dW of 48 rows or more from 32 to 256 deep copies
    # each panel of x first and stays tiled to 256 rows (linear_packed,
    # linear_packed_tall); ragged edges in every case
    layer_case(fx, "linear_skinny", nn.Linear(37, 7), (11, 37), 17, ("weight", "bias"))
    layer_case(fx, "linear_gemm", nn.Linear(37, 7), (13, 37), 18, ("weight", "bias"))
    layer_case(fx, "linear_tall", nn.Linear(21, 7), (130, 21), 19, ("weight", "bias"))
    layer_case(fx, "linear_wide", nn.Linear(19, 257), (13, 19), 20, ("weight", "bias"))
    layer_case(fx, "linear_deep", nn.Linear(410, 29), (37, 410), 21, ("weight", "bias"))
    layer_case(fx, "linear_sgemm", nn.Linear(40, 30), (130, 40), 22, ("weight", "bias"))
    layer_case(fx, "linear_packed", nn.Linear(70, 50), (40, 70), 23, ("weight", "bias"))
    layer_case(fx, "linear_packed_tall", nn.Linear(40, 50), (200, 40), 24, ("weight", "bias"))
    layer_case(fx, "linear_sgemm_forward", nn.Linear(20, 30), (260, 20), 25, ("weight", "bias"))
    layer_case(fx, "conv3x3", nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 6), 3, ("weight", "bias"))
    layer_case(fx, "conv3x3_s2", nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False),
               (3, 4, 9, 8), 4, ("weight",))
    layer_case(fx, "conv1x1_s2", nn.Conv2d(4, 3, 1, stride=2, bias=False), (2, 4, 7, 7), 5,
               ("weight",))
    layer_case(fx, "conv1x1", nn.Conv2d(5, 2, 1, bias=True), (2, 5, 4, 3), 6, ("weight", "bias"))
    # 3x3 stride-1 convolutions with >= 8 channels in and out take normlab's
    # Winograd path: odd and even map sizes, a channel count off the register
    # kernel's 4 rows, and a row of 19 tiles that is cut into segments
    layer_case(fx, "conv3x3_winograd", nn.Conv2d(8, 9, 3, padding=1), (3, 8, 7, 6), 19,
               ("weight", "bias"))
    layer_case(fx, "conv3x3_winograd_wide", nn.Conv2d(8, 8, 3, padding=1, bias=False),
               (2, 8, 5, 37), 20, ("weight",))
    # the weight gradient gathers 64 tiles at a time: 294 tiles fill that
    # more than twice per thread on 1 or 2 threads; 9 input channels leave
    # a transpose tail
    layer_case(fx, "conv3x3_winograd_chunks", nn.Conv2d(9, 10, 3, padding=1), (7, 9, 13, 11),
               21, ("weight", "bias"))
    # weight standardization: the default eps, and an eps large enough to matter
    layer_case(fx, "linear_ws", StdLinear(11, 7, eps=1e-6), (5, 11), 26, ("weight", "bias"))
    layer_case(fx, "conv3x3_ws", StdConv2d(3, 5, 3, padding=1, bias=False, eps=0.05), (2, 3, 7, 6),
               27, ("weight",))
    layer_case(fx, "conv3x3_ws_winograd", StdConv2d(8, 9, 3, padding=1, eps=1e-6), (3, 8, 7, 6),
               28, ("weight", "bias"))
    layer_case(fx, "maxpool2", nn.MaxPool2d(2, 2), (2, 3, 7, 6), 7)
    layer_case(fx, "avgpool2", nn.AvgPool2d(2, 2), (2, 3, 7, 6), 8)
    layer_case(fx, "maxpool3_s2_p1", nn.MaxPool2d(3, 2, padding=1), (2, 2, 7, 7), 9)
    # rows wide enough for the vectorized 2x2 path (8 outputs at a time) and its tail
    layer_case(fx, "maxpool2_wide", nn.MaxPool2d(2, 2), (2, 3, 6, 38), 15)
    layer_case(fx, "avgpool2_wide", nn.AvgPool2d(2, 2), (2, 3, 6, 38), 16)
    # ReLU followed by max pooling, which normlab's CNN builds as one layer:
    # narrow rows with an odd height, rows for the 8-wide path and its tail,
    # and an overlapping 3x3 window; about 1 window in 16 is all negative
    relu_pool2 = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, 2))
    layer_case(fx, "relu_maxpool2", relu_pool2, (2, 3, 7, 6), 22)
    layer_case(fx, "relu_maxpool2_wide", relu_pool2, (2, 3, 6, 38), 23)
    layer_case(fx, "relu_maxpool3_s2_p1", nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)),
               (2, 2, 7, 7), 24)
    layer_case(fx, "gap", nn.AdaptiveAvgPool2d(1), (3, 4, 5, 3), 10)
    layer_case(fx, "relu", nn.ReLU(), (4, 3, 5, 5), 11)
    layer_case(fx, "sigmoid", nn.Sigmoid(), (4, 3, 5, 5), 12)
    layer_case(fx, "tanh", nn.Tanh(), (4, 3, 5, 5), 13)
    # softmax cross-entropy: mean over the batch, gradient of the mean loss
    g = torch.Generator().manual_seed(14)
    logits = (3.0 * torch.randn(6, 10, generator=g)).requires_grad_(True)
    logits.data[0, 3] = 80.0  # large logits must not overflow
    labels = torch.randint(0, 10, (6,), generator=g)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    fx.add("xent.logits", logits)
    fx.add("xent.labels", labels)
    fx.add("xent.loss", loss.reshape(1))
    fx.add("xent.dlogits", logits.grad)
    fx.add("xent.correct", (logits.argmax(1) == labels).sum().reshape(1).to(torch.int32))
    fx.write("layer_goldens.nlfx")


# ---------------------------------------------------------------------------
# end to end: the same models as normlab builds (same parameter names), the
# same initial weights and batches, 20 SGD steps; the loss at every step.


def norm_module(kind, c, groups, image):
    if kind == "batch":
        return nn.BatchNorm2d(c) if image else nn.BatchNorm1d(c)
    if kind == "group":
        return nn.GroupNorm(groups, c)
    if kind == "layer":
        return nn.GroupNorm(1, c) if image else nn.LayerNorm(c)
    raise ValueError(kind)


class Mlp(nn.Module):
    """normlab mlp, placement before: fc -> norm -> relu; fc has no bias
    before a normalizer with a learned shift"""

    def __init__(self, in_features, widths, classes, norm, groups):
        super().__init__()
        self.n = len(widths)
        prev = in_features
        for i, w in enumerate(widths, 1):
            setattr(self, "fc%d" % i, nn.Linear(prev, w, bias=False))
            setattr(self, "norm%d" % i, norm_module(norm, w, groups, False))
            prev = w
        self.classifier = nn.Linear(prev, classes)

    def forward(self, x):
        x = x.flatten(1)
        for i in range(1, self.n + 1):
            x = F.relu(getattr(self, "norm%d" % i)(getattr(self, "fc%d" % i)(x)))
        return self.classifier(x)


class Cnn(nn.Module):
    """normlab cnn: per stage conv3x3 (pad 1, no bias) -> norm -> relu -> maxpool 2"""

    def __init__(self, in_c, hw, widths, classes, norm, groups):
        super().__init__()
        self.n = len(widths)
        prev = in_c
        for i, w in enumerate(widths, 1):
            setattr(self, "conv%d" % i, nn.Conv2d(prev, w, 3, padding=1, bias=False))
            setattr(self, "norm%d" % i, norm_module(norm, w, groups, True))
            prev = w
            hw //= 2
        self.classifier = nn.Linear(prev * hw * hw, classes)

    def forward(self, x):
        for i in range(1, self.n + 1):
            x = F.relu(getattr(self, "norm%d" % i)(getattr(self, "conv%d" % i)(x)))
            x = F.max_pool2d(x, 2)
        return self.classifier(x.flatten(1))


def optimizer(model, lr, momentum, weight_decay, nesterov, adamw):
    """torch.optim.AdamW when adamw = (beta1, beta2, eps, clip) is given, else
    SGD; and the clipping norm (0: none)"""
    if adamw:
        beta1, beta2, eps, clip = adamw
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(beta1, beta2), eps=eps,
                                 weight_decay=weight_decay), clip
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=weight_decay, nesterov=nesterov), 0.0


def add_trajectory(fx, name, model, losses, lr, momentum, weight_decay, nesterov, adamw):
    """a training case's results: the loss per step, the hyperparameters the
    C test trains with, and the parameters at the end"""
    fx.add(name + ".losses", torch.tensor(losses))
    fx.add(name + ".hyper", torch.tensor([lr, momentum, weight_decay, float(nesterov)]))
    if adamw:
        fx.add(name + ".adamw", torch.tensor(list(adamw)))
    for pname, p in model.named_parameters():
        fx.add("%s.final.%s" % (name, pname), p)


def train_steps(model, opt, clip, steps, loss_at):
    """steps optimizer steps in train mode, loss_at(step) the step's loss,
    clip_grad_norm_ when clip > 0; the losses"""
    losses = []
    model.train()
    for step in range(steps):
        opt.zero_grad()
        loss = loss_at(step)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
    return losses


def e2e_case(fx, name, model, in_shape, batch, steps, lr, momentum, weight_decay, nesterov,
             seed, adamw=None):
    """adamw: (beta1, beta2, eps, clip) trains with torch.optim.AdamW (and
    clip_grad_norm_ when clip > 0) instead of SGD; momentum and nesterov are
    then unused"""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(*p.shape, generator=g) * (2.0 / p[0].numel()) ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(*p.shape, generator=g) + (1.0 if pname.endswith("weight") else 0.0))
    for pname, p in model.named_parameters():
        fx.add("%s.param.%s" % (name, pname), p)
    opt, clip = optimizer(model, lr, momentum, weight_decay, nesterov, adamw)
    xs = torch.randn(steps, batch, *in_shape, generator=g)
    ys = torch.randint(0, 10, (steps, batch), generator=g)
    losses = train_steps(model, opt, clip, steps,
                         lambda step: F.cross_entropy(model(xs[step]), ys[step]))
    fx.add(name + ".x", xs)
    fx.add(name + ".y", ys)
    add_trajectory(fx, name, model, losses, lr, momentum, weight_decay, nesterov, adamw)
    for bname, b in model.named_buffers():
        if "running" in bname:
            fx.add("%s.final.%s" % (name, bname), b)


def make_e2e_goldens():
    fx = Fixture()
    in_shape = (1, 12, 12)
    specs = [
        # name, arch, norm, widths, groups, lr, momentum, wd, nesterov
        ("mlp_batch", "mlp", "batch", [32, 24], 4, 0.05, 0.9, 0.0, False),
        ("cnn_batch", "cnn", "batch", [4, 8], 2, 0.05, 0.9, 0.0, False),
        ("mlp_group", "mlp", "group", [32, 24], 4, 0.05, 0.9, 5e-4, True),
        ("cnn_group", "cnn", "group", [4, 8], 2, 0.05, 0.9, 5e-4, False),
        ("mlp_layer", "mlp", "layer", [32, 24], 1, 0.1, 0.5, 0.0, False),
        ("cnn_layer", "cnn", "layer", [4, 8], 1, 0.05, 0.9, 0.0, True),
        # AdamW (beta1, beta2, eps, clip); every value a float32 so that both
        # sides start from the same numbers
        ("mlp_batch_adamw", "mlp", "batch", [32, 24], 4, 0.01, 0.0, 0.01, False,
         (0.9, 0.999, 1e-8, 0.0)),
        ("cnn_group_adamw", "cnn", "group", [4, 8], 2, 0.01, 0.0, 0.0, False,
         (0.9, 0.999, 1e-8, 0.0)),
        ("mlp_layer_adamw_clip", "mlp", "layer", [32, 24], 1, 0.005, 0.0, 0.05, False,
         (0.8, 0.99, 1e-6, 0.5)),
        ("cnn_batch_adamw_clip", "cnn", "batch", [4, 8], 2, 0.005, 0.0, 0.01, False,
         (0.9, 0.999, 1e-8, 0.25)),
    ]
    for i, (name, arch, norm, widths, groups, lr, mom, wd, nest, *adamw) in enumerate(specs):
        torch.manual_seed(100 + i)
        if arch == "mlp":
            model = Mlp(144, widths, 10, norm, groups)
        else:
            model = Cnn(1, 12, widths, 10, norm, groups)
        adamw = tuple(f32(v) for v in adamw[0]) if adamw else None
        e2e_case(fx, name, model, in_shape, 8, 20, f32(lr) if adamw else lr, mom,
                 f32(wd) if adamw else wd, nest, seed=200 + i, adamw=adamw)
    fx.write("e2e_goldens.nlfx")


# ---------------------------------------------------------------------------
# transformers: the token ops (embedding, causal and bidirectional attention
# written out by hand, GELU in both forms), normlab's lm architecture (one
# block in every placement, with and without QK-norm, and the normalizers
# placeable on tokens), 20 training steps of a 2-layer LM with SGD and
# AdamW, 20 AdamW steps of the vit on images, and the MLP-Mixer's steps
# with AdamW and SGD. A model case stores its shape as "<case>.spec" (ints,
# see LM_SPEC; a vit "<case>.vit", see VIT_SPEC; a mixer "<case>.mixer",
# see MIXER_SPEC) and its names as "<case>.names" ("norm,placement,gelu" in
# bytes), so the C test builds what each case says.

LM_SPEC = ["d_model", "heads", "layers", "context", "mlp_ratio", "qk_norm", "tie", "vocab",
           "batch", "groups"]


VIT_SPEC = ["d_model", "heads", "layers", "patch", "mlp_ratio", "qk_norm", "mean_pool", "classes",
            "batch", "groups", "in_c", "side"]

MIXER_SPEC = ["d_model", "layers", "patch", "mlp_ratio", "token_mlp_width", "classes", "batch",
              "groups", "in_c", "side"]


def causal_attention(q, k, v, heads, causal=True):
    """softmax(q k^T / sqrt(head_dim) + causal mask) v per head; q, k, v (N, T, D);
    causal False: no mask (the vit)"""
    n, t, d = q.shape
    hd = d // heads
    q, k, v = (a.view(n, t, heads, hd).transpose(1, 2) for a in (q, k, v))
    logits = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1 if causal else t)
    probs = torch.softmax(logits.masked_fill(mask, float("-inf")), dim=-1)
    return (probs @ v).transpose(1, 2).reshape(n, t, d), probs, logits.masked_fill(mask, float("-inf")).max()


def token_norm(kind, d, groups):
    """a normalizer over the last axis of (..., d) rows, named as normlab names it"""
    if kind == "layer":
        return nn.LayerNorm(d)
    if kind == "rms":
        return RMSNorm(d, 1e-5, True)
    if kind == "dyt":
        return DyT(d, 0.5, True)
    if kind == "batch":
        return nn.BatchNorm1d(d)
    if kind == "group":
        return nn.GroupNorm(groups, d)
    raise ValueError(kind)


def depth_scale(on, block):
    """LayerNorm Scaling (Sun et al. 2025): block l's norms (l = block + 1
    from the input) times 1 / sqrt(l), as its authors' code writes it"""
    return 1.0 / math.sqrt(block + 1) if on else 1.0


def deepnorm_coefficients(layers):
    """DeepNorm's (alpha, beta) of a decoder-only (or encoder-only) stack of
    `layers` blocks (Wang et al. 2022)"""
    return (2.0 * layers) ** 0.25, (8.0 * layers) ** -0.25


def add_depth_scheme(fx, name, residual, alpha, beta, depth_scaling):
    """the case's depth scheme for the C side: "<case>.residual_<kind>"
    with alpha and beta (deepnorm: what normlab must compute; explicit: what
    it is given), and "<case>.depth_scaling" when on"""
    if residual != "none":
        fx.add("%s.residual_%s" % (name, residual), torch.tensor([alpha, beta]))
    if depth_scaling:
        fx.add(name + ".depth_scaling", torch.tensor([1], dtype=torch.int32))


def rows(module, x):
    """module applied to x's rows: (..., d) -> (rows, d) and back"""
    return module(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class LmBlock(nn.Module):
    """alpha: DeepNorm's factor on the shortcut of a post-norm add;
    depth_scale: LayerNorm Scaling's factor on a pre-norm block's norms"""

    def __init__(self, d, heads, ratio, norm, placement, qk_norm, gelu, groups, causal=True,
                 alpha=1.0, depth_scale=1.0):
        super().__init__()
        self.heads, self.placement, self.qk, self.causal = heads, placement, qk_norm, causal
        self.alpha, self.depth_scale = alpha, depth_scale
        self.attn = nn.Module()
        for name in ("q", "k", "v", "proj"):
            setattr(self.attn, name, nn.Linear(d, d))
        if qk_norm and norm != "none":
            self.attn.q_norm = token_norm(norm, d // heads, groups)
            self.attn.k_norm = token_norm(norm, d // heads, groups)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, ratio * d)
        self.mlp.fc2 = nn.Linear(ratio * d, d)
        self.gelu = nn.GELU(approximate=gelu)
        if placement != "none" and norm != "none":
            for i in (1, 2):
                setattr(self, "norm%d" % i, token_norm(norm, d, groups))
                if placement == "peri":
                    setattr(self, "norm%d_out" % i, token_norm(norm, d, groups))

    def norm(self, name, x):
        return rows(getattr(self, name), x) if hasattr(self, name) else x

    def qk_heads(self, name, x):
        if not hasattr(self.attn, name):
            return x
        n, t, d = x.shape
        return rows(getattr(self.attn, name), x.reshape(n, t * self.heads, d // self.heads)).reshape(n, t, d)

    def attention(self, h):
        q = self.qk_heads("q_norm", self.attn.q(h))
        k = self.qk_heads("k_norm", self.attn.k(h))
        y, _, _ = causal_attention(q, k, self.attn.v(h), self.heads, self.causal)
        return self.attn.proj(y)

    def branch(self, x, i):
        f = self.attention if i == 1 else lambda h: self.mlp.fc2(self.gelu(self.mlp.fc1(h)))
        if self.placement == "post":
            return self.norm("norm%d" % i, x * self.alpha + f(x) if self.alpha != 1.0 else x + f(x))
        h = self.norm("norm%d" % i, x) if self.placement in ("pre", "peri") else x
        if self.depth_scale != 1.0:
            h = h * self.depth_scale
        out = f(h)
        if self.placement == "peri":
            out = self.norm("norm%d_out" % i, out)
        return x + out

    def forward(self, x):
        return self.branch(self.branch(x, 1), 2)


class Lm(nn.Module):
    """normlab's lm: token + position embeddings, blocks, a final norm for
    pre and peri, the head (tied: the token table)"""

    def __init__(self, vocab, d, heads, layers, context, ratio, norm, placement, qk_norm, gelu,
                 tie, groups, alpha=1.0, depth_scaling=False):
        super().__init__()
        self.tie = tie
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(LmBlock(d, heads, ratio, norm, placement, qk_norm, gelu, groups,
                                            alpha=alpha, depth_scale=depth_scale(depth_scaling, i))
                                    for i in range(layers))
        if placement in ("pre", "peri") and norm != "none":
            self.final_norm = token_norm(norm, d, groups)
        if not tie:
            self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        if hasattr(self, "final_norm"):
            x = rows(self.final_norm, x)
        return x @ self.tok_emb.weight.t() if self.tie else self.head(x)


def lm_init(model, g):
    """weights N(0, 0.3^2) (embeddings 0.5), norm scales 1 + N(0, 0.1^2),
    biases and shifts N(0, 0.1^2), DyT's alpha 0.5 + N(0, 0.1^2): every
    parameter matters to the loss"""
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(*p.shape, generator=g) * (0.5 if "emb" in pname else 0.3))
            else:
                base = 1.0 if pname.endswith("weight") else 0.5 if pname.endswith("alpha") else 0.0
                p.copy_(base + 0.1 * torch.randn(*p.shape, generator=g))


def residual_alpha(residual, layers, alpha_beta):
    """the shortcut's factor and the init factor of a residual scale kind"""
    if residual == "deepnorm":
        return deepnorm_coefficients(layers)
    return alpha_beta if residual == "explicit" else (1.0, 1.0)


def lm_case_model(fx, name, seed, vocab=13, d=16, heads=2, layers=1, context=6, ratio=2,
                  norm="layer", placement="pre", qk_norm=False, gelu="none", tie=True, groups=2,
                  batch=3, residual="none", alpha_beta=(1.0, 1.0), depth_scaling=False):
    torch.manual_seed(seed)
    alpha, beta = residual_alpha(residual, layers, alpha_beta)
    model = Lm(vocab, d, heads, layers, context, ratio, norm, placement, qk_norm, gelu, tie, groups,
               alpha=alpha, depth_scaling=depth_scaling)
    g = torch.Generator().manual_seed(seed)
    lm_init(model, g)
    add_depth_scheme(fx, name, residual, alpha, beta, depth_scaling)
    fx.add(name + ".spec", torch.tensor([d, heads, layers, context, ratio, int(qk_norm), int(tie),
                                         vocab, batch, groups], dtype=torch.int32))
    fx.add(name + ".names", torch.tensor(list(("%s,%s,%s" % (norm, placement, "erf" if gelu == "none" else gelu)).encode()),
                                         dtype=torch.int32))
    for pname, p in model.named_parameters():
        fx.add("%s.param.%s" % (name, pname), p)
    return model, g


def lm_golden(fx, name, seed, **kw):
    """one forward and backward: logits, the mean token loss, every gradient"""
    model, g = lm_case_model(fx, name, seed, **kw)
    vocab, batch, context = kw.get("vocab", 13), kw.get("batch", 3), kw.get("context", 6)
    tokens = torch.randint(0, vocab, (batch, context), generator=g)
    targets = torch.randint(0, vocab, (batch, context), generator=g)
    model.train()
    logits = model(tokens)
    loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    loss.backward()
    fx.add(name + ".tokens", tokens)
    fx.add(name + ".targets", targets)
    fx.add(name + ".logits", logits)
    fx.add(name + ".loss", torch.tensor([loss.item()]))
    for pname, p in model.named_parameters():
        fx.add("%s.grad.%s" % (name, pname), p.grad)


def lm_train_golden(fx, name, seed, steps, lr, weight_decay=0.0, momentum=0.0, adamw=None, **kw):
    """steps optimizer steps from the same weights on the same batches: the
    loss at every step, the final parameters. adamw: (beta1, beta2, eps,
    clip) as in e2e_case"""
    model, g = lm_case_model(fx, name, seed, **kw)
    vocab, batch, context = kw["vocab"], kw["batch"], kw["context"]
    opt, clip = optimizer(model, lr, momentum, weight_decay, False, adamw)
    tokens = torch.randint(0, vocab, (steps, batch, context), generator=g)
    targets = torch.randint(0, vocab, (steps, batch, context), generator=g)
    losses = train_steps(model, opt, clip, steps, lambda step: F.cross_entropy(
        model(tokens[step]).reshape(-1, vocab), targets[step].reshape(-1)))
    fx.add(name + ".tokens", tokens)
    fx.add(name + ".targets", targets)
    add_trajectory(fx, name, model, losses, lr, momentum, weight_decay, False, adamw)


def patches_of(images, p):
    """(N, C, H, W) -> (N, HW/p^2, C*p*p): a p x p patch's values in channel,
    row, column order, the patches row-major (normlab's patchify)"""
    n, c, h, w = images.shape
    patches = images.unfold(2, p, p).unfold(3, p, p)  # n, c, h/p, w/p, p, p
    return patches.permute(0, 2, 3, 1, 4, 5).reshape(n, (h // p) * (w // p), c * p * p)


class Vit(nn.Module):
    """normlab's vit: patches (a p x p patch's values in channel, row, column
    order, the patches row-major), a linear patch embedding, a class token
    (pool cls), learned positions, the lm's blocks without the causal mask,
    a final norm for pre and peri, the class token's output or the tokens'
    mean, a linear classifier"""

    def __init__(self, in_c, side, patch, classes, d, heads, layers, ratio, norm, placement,
                 qk_norm, gelu, mean_pool, groups, alpha=1.0, depth_scaling=False):
        super().__init__()
        self.patch, self.mean_pool = patch, mean_pool
        tokens = (side // patch) ** 2
        self.patch_embed = nn.Linear(in_c * patch * patch, d)
        if not mean_pool:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb = nn.Embedding(tokens + (0 if mean_pool else 1), d)
        self.blocks = nn.ModuleList(LmBlock(d, heads, ratio, norm, placement, qk_norm, gelu, groups,
                                            causal=False, alpha=alpha,
                                            depth_scale=depth_scale(depth_scaling, i))
                                    for i in range(layers))
        if placement in ("pre", "peri") and norm != "none":
            self.final_norm = token_norm(norm, d, groups)
        self.head = nn.Linear(d, classes)

    def forward(self, images):
        n = images.shape[0]
        x = self.patch_embed(patches_of(images, self.patch))
        if not self.mean_pool:
            x = torch.cat([self.cls_token.expand(n, 1, -1), x], dim=1)
        x = x + self.pos_emb.weight
        for block in self.blocks:
            x = block(x)
        if hasattr(self, "final_norm"):
            x = rows(self.final_norm, x)
        return self.head(x.mean(dim=1) if self.mean_pool else x[:, 0])


def vit_train_golden(fx, name, seed, steps, lr, weight_decay, adamw, in_c=1, side=8, patch=4,
                     classes=5, d=16, heads=2, layers=2, ratio=2, norm="layer", placement="pre",
                     qk_norm=False, gelu="none", mean_pool=False, groups=2, batch=4,
                     residual="none", alpha_beta=(1.0, 1.0), depth_scaling=False):
    """steps AdamW steps of a vit from the same weights on the same images:
    the loss at every step, the final parameters"""
    torch.manual_seed(seed)
    alpha, beta = residual_alpha(residual, layers, alpha_beta)
    model = Vit(in_c, side, patch, classes, d, heads, layers, ratio, norm, placement, qk_norm, gelu,
                mean_pool, groups, alpha=alpha, depth_scaling=depth_scaling)
    g = torch.Generator().manual_seed(seed)
    lm_init(model, g)
    add_depth_scheme(fx, name, residual, alpha, beta, depth_scaling)
    fx.add(name + ".vit", torch.tensor([d, heads, layers, patch, ratio, int(qk_norm),
                                        int(mean_pool), classes, batch, groups, in_c, side],
                                       dtype=torch.int32))
    fx.add(name + ".names", torch.tensor(list(("%s,%s,%s" % (norm, placement, "erf" if gelu == "none" else gelu)).encode()),
                                         dtype=torch.int32))
    for pname, p in model.named_parameters():
        fx.add("%s.param.%s" % (name, pname), p)
    opt, clip = optimizer(model, lr, 0.0, weight_decay, False, adamw)
    images = torch.randn(steps, batch, in_c, side, side, generator=g)
    labels = torch.randint(0, classes, (steps, batch), generator=g)
    losses = train_steps(model, opt, clip, steps,
                         lambda step: F.cross_entropy(model(images[step]), labels[step]))
    fx.add(name + ".images", images)
    fx.add(name + ".labels", labels)
    add_trajectory(fx, name, model, losses, lr, 0.0, weight_decay, False, adamw)


class TokenMlp(nn.Module):
    """fc1, GELU, fc2 back to the input's width, over the last axis"""

    def __init__(self, width, hidden, gelu):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.gelu = nn.GELU(approximate=gelu)

    def forward(self, x):
        return self.fc2(self.gelu(self.fc1(x)))


class MixerBlock(nn.Module):
    """x + token MLP (across the tokens, per channel) of norm1(x), then
    x + the channel MLP (the transformer's) of norm2(x); placement none: no
    norms"""

    def __init__(self, tokens, d, token_width, ratio, norm, placement, gelu, groups):
        super().__init__()
        if placement != "none":
            self.norm1 = token_norm(norm, d, groups)
            self.norm2 = token_norm(norm, d, groups)
        self.mlp_tokens = TokenMlp(tokens, token_width, gelu)
        self.mlp = TokenMlp(d, ratio * d, gelu)

    def norm(self, name, x):
        return rows(getattr(self, name), x) if hasattr(self, name) else x

    def forward(self, x):
        x = x + self.mlp_tokens(self.norm("norm1", x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp(self.norm("norm2", x))


class Mixer(nn.Module):
    """normlab's mixer: the vit's patches and linear patch embedding, mixer
    blocks, a final norm (placement pre), the tokens' mean, a linear
    classifier"""

    def __init__(self, in_c, side, patch, classes, d, layers, ratio, token_width, norm,
                 placement, gelu, groups):
        super().__init__()
        self.patch = patch
        tokens = (side // patch) ** 2
        self.patch_embed = nn.Linear(in_c * patch * patch, d)
        self.blocks = nn.ModuleList(MixerBlock(tokens, d, token_width or (d + 1) // 2, ratio, norm,
                                               placement, gelu, groups) for _ in range(layers))
        if placement != "none":
            self.final_norm = token_norm(norm, d, groups)
        self.head = nn.Linear(d, classes)

    def forward(self, images):
        x = self.patch_embed(patches_of(images, self.patch))
        for block in self.blocks:
            x = block(x)
        if hasattr(self, "final_norm"):
            x = rows(self.final_norm, x)
        return self.head(x.mean(dim=1))


def mixer_train_golden(fx, name, seed, steps, lr, momentum=0.0, weight_decay=0.0, adamw=None,
                       in_c=1, side=8, patch=2, classes=5, d=8, layers=2, ratio=2, token_width=0,
                       norm="layer", placement="pre", gelu="none", groups=2, batch=4):
    """steps optimizer steps of a mixer from the same weights on the same
    images: the loss at every step, the final parameters; adamw as in
    e2e_case (SGD without it)"""
    torch.manual_seed(seed)
    model = Mixer(in_c, side, patch, classes, d, layers, ratio, token_width, norm, placement, gelu,
                  groups)
    g = torch.Generator().manual_seed(seed)
    lm_init(model, g)
    fx.add(name + ".mixer", torch.tensor([d, layers, patch, ratio, token_width, classes, batch,
                                          groups, in_c, side], dtype=torch.int32))
    fx.add(name + ".names", torch.tensor(list(("%s,%s,%s" % (norm, placement, "erf" if gelu == "none" else gelu)).encode()),
                                         dtype=torch.int32))
    for pname, p in model.named_parameters():
        fx.add("%s.param.%s" % (name, pname), p)
    opt, clip = optimizer(model, lr, momentum, weight_decay, False, adamw)
    images = torch.randn(steps, batch, in_c, side, side, generator=g)
    labels = torch.randint(0, classes, (steps, batch), generator=g)
    losses = train_steps(model, opt, clip, steps,
                         lambda step: F.cross_entropy(model(images[step]), labels[step]))
    fx.add(name + ".images", images)
    fx.add(name + ".labels", labels)
    add_trajectory(fx, name, model, losses, lr, momentum, weight_decay, False, adamw)


def make_tfm_goldens():
    fx = Fixture()
    g = torch.Generator().manual_seed(2501)
    # embedding: token ids with repeats (the scatter-add), positions
    tokens = torch.randint(0, 7, (3, 5), generator=g)
    table = nn.Parameter(torch.randn(7, 6, generator=g))
    pos = nn.Parameter(torch.randn(5, 6, generator=g))
    y = F.embedding(tokens, table) + pos.unsqueeze(0)
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    for key, value in (("tokens", tokens), ("table", table), ("pos", pos), ("y", y), ("dy", dy),
                       ("dtable", table.grad), ("dpos", pos.grad)):
        fx.add("embedding." + key, value)
    # attention: (N, T, D) with several heads, and one token per sequence
    for name, (n, t, d, heads) in (("attention", (2, 7, 12, 3)), ("attention_one", (2, 1, 8, 2)),
                                   ("attention_long", (2, 33, 16, 4))):
        q, k, v = (nn.Parameter(1.5 * torch.randn(n, t, d, generator=g)) for _ in range(3))
        y, probs, largest = causal_attention(q, k, v, heads)
        dy = torch.randn(*y.shape, generator=g)
        y.backward(dy)
        for key, value in (("q", q), ("k", k), ("v", v), ("y", y), ("probs", probs), ("dy", dy),
                           ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)):
            fx.add("%s.%s" % (name, key), value)
        fx.add(name + ".heads", torch.tensor([heads], dtype=torch.int32))
        fx.add(name + ".max_logit", torch.tensor([largest.item()]))
    # GELU over a range that reaches both tails
    for form in ("none", "tanh"):
        x = nn.Parameter(torch.linspace(-8.0, 8.0, 801))
        y = F.gelu(x, approximate=form)
        dy = torch.randn(*y.shape, generator=g)
        y.backward(dy)
        name = "gelu_" + ("erf" if form == "none" else "tanh")
        for key, value in (("x", x), ("y", y), ("dy", dy), ("dx", x.grad)):
            fx.add("%s.%s" % (name, key), value)
    # one block in every placement, with and without QK-norm (layer norm),
    # tied and untied; then every other normalizer placeable on tokens
    seed = 10
    for placement in ("pre", "post", "peri", "none"):
        for qk in (False, True):
            seed += 1
            lm_golden(fx, "block_%s%s" % (placement, "_qk" if qk else ""), seed,
                      placement=placement, qk_norm=qk, tie=seed % 2 == 0)
    for norm in ("rms", "dyt", "batch", "group"):
        seed += 1
        lm_golden(fx, "block_pre_qk_" + norm, seed, norm=norm, qk_norm=True, groups=2)
    lm_golden(fx, "lm_peri_tanh", 40, layers=2, placement="peri", gelu="tanh", tie=False)
    # 20 steps of a 2-layer LM
    train = dict(vocab=17, d=16, heads=2, layers=2, context=8, ratio=4, batch=4)
    lm_train_golden(fx, "train_sgd", 50, 20, 0.1, momentum=0.9, weight_decay=1e-4, **train)
    lm_train_golden(fx, "train_adamw", 51, 20, f32(3e-3), weight_decay=f32(0.1),
                    adamw=(0.9, 0.95, f32(1e-8), 1.0), qk_norm=True, norm="rms",
                    **train)
    # attention without the causal mask (the vit's), after every older case
    # so that their random draws stay as they were
    n, t, d, heads = 2, 9, 12, 3
    q, k, v = (nn.Parameter(1.5 * torch.randn(n, t, d, generator=g)) for _ in range(3))
    y, probs, largest = causal_attention(q, k, v, heads, causal=False)
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    for key, value in (("q", q), ("k", k), ("v", v), ("y", y), ("probs", probs), ("dy", dy),
                       ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)):
        fx.add("attention_bidirectional.%s" % key, value)
    fx.add("attention_bidirectional.heads", torch.tensor([heads], dtype=torch.int32))
    fx.add("attention_bidirectional.max_logit", torch.tensor([largest.item()]))
    fx.add("attention_bidirectional.bidirectional", torch.tensor([1], dtype=torch.int32))
    # 20 AdamW steps of a 2-layer vit on 2-channel 8x8 images in 4x4
    # patches: class token with pre-norm; mean pooling with post-norm and
    # tanh GELU. QK-norm by RMSNorm in both, as in train_adamw: without it
    # (or with a normalizer that has a shift) the key's bias gets an exactly
    # zero gradient (a shift of every key leaves the softmax alone), and
    # AdamW turns the two sides' rounding noise in it into steps of lr
    vit_adamw = (0.9, 0.95, f32(1e-8), 1.0)
    vit_train_golden(fx, "vit_cls_pre", 60, 20, f32(3e-3), f32(0.05), vit_adamw, in_c=2,
                     qk_norm=True, norm="rms")
    vit_train_golden(fx, "vit_mean_post", 61, 20, f32(3e-3), f32(0.05), vit_adamw, in_c=2,
                     mean_pool=True, placement="post", qk_norm=True, norm="rms", gelu="tanh")
    # the MLP-Mixer on 2-channel 8x8 images in 2x2 patches (16 tokens): 20
    # AdamW steps with RMSNorm before each branch and a token MLP of 6; 20
    # SGD steps with momentum and layer norm (the paper's); 20 SGD steps
    # with no normalizer, the token MLP's default width (d_model / 2) and
    # tanh GELU. Layer norm leaves the token MLP's fc2 bias (a constant
    # over each token's channels) an exactly zero gradient, which AdamW
    # would turn into steps of lr, as the vit's key bias above
    mixer_train_golden(fx, "mixer_pre_rms", 70, 20, f32(3e-3), weight_decay=f32(0.05),
                       adamw=vit_adamw, in_c=2, token_width=6, norm="rms")
    mixer_train_golden(fx, "mixer_pre_sgd", 72, 20, 0.05, momentum=0.9, weight_decay=1e-4,
                       in_c=2, token_width=6)
    mixer_train_golden(fx, "mixer_none_sgd", 71, 20, 0.05, momentum=0.9, weight_decay=1e-4,
                       in_c=2, placement="none", gelu="tanh")
    # the depth schemes on 3-block stacks (issue 58): DeepNorm's alpha on
    # post-norm adds (from the depth, and given), LayerNorm Scaling on
    # pre-norm blocks (with layer norm, and with RMS norm and QK-norm,
    # whose norms it leaves); one pass each, then 20 AdamW steps of the
    # vit under each. The parameters are lm_init's, so beta (an
    # initialization) does not enter: test_tfm_model checks it
    lm_golden(fx, "stack_deepnorm", 80, layers=3, placement="post", residual="deepnorm", tie=False)
    lm_golden(fx, "stack_explicit_alpha", 81, layers=3, placement="post", residual="explicit",
              alpha_beta=(f32(1.7), f32(0.5)), gelu="tanh")
    lm_golden(fx, "stack_depth_scaling", 82, layers=3, depth_scaling=True, tie=False)
    lm_golden(fx, "stack_depth_scaling_rms_qk", 83, layers=3, depth_scaling=True, norm="rms",
              qk_norm=True)
    vit_train_golden(fx, "vit_deepnorm", 84, 20, f32(3e-3), f32(0.05), vit_adamw, in_c=2,
                     layers=3, placement="post", residual="deepnorm", qk_norm=True, norm="rms")
    vit_train_golden(fx, "vit_depth_scaling", 85, 20, f32(3e-3), f32(0.05), vit_adamw, in_c=2,
                     layers=3, depth_scaling=True, qk_norm=True, norm="rms", mean_pool=True)
    fx.write("tfm_goldens.nlfx")


def f32(value):
    """the float32 nearest to value, as a Python float"""
    return float(torch.tensor(value, dtype=torch.float32))


# ---------------------------------------------------------------------------
# optimizer trajectories: the parameters of a small normlab MLP (names and
# shapes as normlab builds them: 1x4x4 input, widths [8], batch norm, 10
# classes), given gradients for several steps (some large enough that
# clipping acts, some not), a learning rate per step; the parameters, the
# optimizer state and the pre-clip gradient norm after each run.

OPTIM_PARAMS = [("fc1.weight", (8, 16)), ("norm1.weight", (8,)), ("norm1.bias", (8,)),
                ("classifier.weight", (10, 8)), ("classifier.bias", (10,))]


def is_norm_or_bias(pname):
    return pname.startswith("norm") or pname.endswith(".bias")


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), which PyTorch 1.13 lacks: the step of the
    reference implementation, lucidrains/lion-pytorch (update_fn), op for
    op. The decoupled weight decay scales the parameter by 1 - lr * wd
    before the signed update, as there (the paper's
    theta -= lr * (sign(c) + wd * theta) in one step is the same in exact
    arithmetic)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                exp_avg = state["exp_avg"]
                p.data.mul_(1.0 - lr * wd)
                update = exp_avg.clone().mul_(beta1).add(p.grad, alpha=1.0 - beta1).sign_()
                p.add_(update, alpha=-lr)
                exp_avg.mul_(beta2).add_(p.grad, alpha=1.0 - beta2)


def optim_case(fx, name, kind, seed, steps=7, lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
               weight_decay=0.0, decay_norm_and_bias=True, momentum=0.9, clip=0.0, alpha=0.99,
               centered=False):
    g = torch.Generator().manual_seed(seed)
    params = {}
    for pname, shape in OPTIM_PARAMS:
        params[pname] = nn.Parameter(torch.randn(*shape, generator=g) * 0.5)
        fx.add("%s.param.%s" % (name, pname), params[pname])
    lr, eps, weight_decay, momentum, clip, alpha = map(f32, (lr, eps, weight_decay, momentum, clip,
                                                         alpha))
    betas = tuple(f32(b) for b in betas)
    decayed = [p for n, p in params.items() if decay_norm_and_bias or not is_norm_or_bias(n)]
    exempt = [p for n, p in params.items() if not (decay_norm_and_bias or not is_norm_or_bias(n))]
    groups = [{"params": decayed}] + ([{"params": exempt, "weight_decay": 0.0}] if exempt else [])
    if kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    elif kind == "lion":
        opt = Lion(groups, lr=lr, betas=betas, weight_decay=weight_decay)
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                  momentum=momentum, centered=centered)
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    lrs = [f32(lr * (0.5 + 0.25 * (k % 3))) for k in range(steps)]
    norms = []
    for k in range(steps):
        # a gradient scale that varies over four orders of magnitude
        scale = 10.0 ** ((k % 4) - 2)
        for pname, p in params.items():
            p.grad = torch.randn(*p.shape, generator=g) * scale
            fx.add("%s.grad%d.%s" % (name, k, pname), p.grad)
        if clip > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), clip)))
        for group in opt.param_groups:
            group["lr"] = lrs[k]
        opt.step()
    fx.add(name + ".lrs", torch.tensor(lrs))
    fx.add(name + ".kind", torch.tensor(list(kind.encode()), dtype=torch.int32))
    # adamw or not (the kind is .kind), beta1, beta2, eps, weight decay, decay_norm_and_bias, momentum, clip
    # and for rmsprop alpha, centered
    hyper = [float(kind == "adamw"), betas[0], betas[1], eps, weight_decay,
             float(decay_norm_and_bias), momentum, clip]
    if kind == "rmsprop":
        hyper += [alpha, float(centered)]
    fx.add(name + ".hyper", torch.tensor(hyper))
    if norms:
        fx.add(name + ".grad_norms", torch.tensor(norms))
    for pname, p in params.items():
        fx.add("%s.final.%s" % (name, pname), p)
        state = opt.state[p]
        for key in ("exp_avg", "exp_avg_sq", "momentum_buffer", "square_avg", "grad_avg"):
            if key in state:
                fx.add("%s.%s.%s" % (name, key, pname), state[key])


def make_optim_goldens():
    fx = Fixture()
    cases = []

    def case(name, *args, **kw):
        cases.append(name)
        optim_case(fx, name, *args, **kw)

    case("adamw_plain", "adamw", 1)
    case("adamw_decay", "adamw", 2, weight_decay=0.01)
    case("adamw_exempt", "adamw", 3, weight_decay=0.1, decay_norm_and_bias=False,
         betas=(0.8, 0.95), eps=1e-6)
    case("adamw_clip", "adamw", 4, weight_decay=0.01, clip=0.5)
    case("adamw_clip_exempt", "adamw", 5, weight_decay=0.05, clip=2.0,
         decay_norm_and_bias=False, steps=12)
    case("sgd_clip", "sgd", 6, weight_decay=1e-3, clip=1.0)
    # Lion as AdamW above, at its own scale (lr 3-10x smaller, weight decay
    # 3-10x larger, as the paper advises) and its default betas
    lion = dict(lr=1e-3, betas=(0.9, 0.99))
    case("lion_plain", "lion", 7, **lion)
    case("lion_decay", "lion", 8, weight_decay=0.1, **lion)
    case("lion_exempt", "lion", 9, lr=1e-3, weight_decay=0.5, decay_norm_and_bias=False,
         betas=(0.95, 0.98))
    case("lion_clip", "lion", 10, weight_decay=0.1, clip=0.5, **lion)
    case("lion_clip_exempt", "lion", 11, weight_decay=0.3, clip=2.0, decay_norm_and_bias=False,
         steps=12, **lion)
    # RMSprop as torch.optim.RMSprop, with and without momentum and
    # centering (PyTorch keeps momentum_buffer and grad_avg only when they
    # are used), weight decay as its L2 penalty, exempt groups, clipping
    rms = dict(lr=1e-3, momentum=0.0)
    case("rmsprop_plain", "rmsprop", 12, **rms)
    case("rmsprop_momentum", "rmsprop", 13, lr=1e-3, weight_decay=0.01, momentum=0.9)
    case("rmsprop_centered", "rmsprop", 14, lr=1e-3, momentum=0.5, alpha=0.9, eps=1e-6,
         centered=True)
    case("rmsprop_exempt", "rmsprop", 15, lr=1e-3, weight_decay=0.1, decay_norm_and_bias=False,
         momentum=0.9, centered=True)
    case("rmsprop_clip", "rmsprop", 16, weight_decay=0.01, clip=0.5, **rms)
    case("rmsprop_clip_exempt", "rmsprop", 17, lr=1e-3, weight_decay=0.05, clip=2.0,
         decay_norm_and_bias=False, momentum=0.9, centered=True, steps=12)
    # the case list the test walks (every optimizer must have cases)
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, name in enumerate(cases):
        fx.add("case%d" % i, torch.tensor(list(name.encode()), dtype=torch.int32))
    fx.write("optim_goldens.nlfx")


# ---------------------------------------------------------------------------
# recurrent layers: nn.LSTM / nn.GRU (batch_first) forward over T steps and
# backward through time from random gradients of the outputs and of the
# final states, one case per cell and shape. Each layer's parameters are
# written under PyTorch's names (weight_ih_l0, ...); normlab's kernels
# switch products on the rows (core/cpu/linear.c), so the shapes run the
# recurrent product skinny (a few samples) and tiled (20 samples).


def rnn_case(fx, name, cell, n, t, d, hidden, layers, seed):
    g = torch.Generator().manual_seed(seed)
    module = (nn.LSTM if cell == "lstm" else nn.GRU)(d, hidden, num_layers=layers,
                                                     batch_first=True)
    with torch.no_grad():
        for pname, p in module.named_parameters():
            p.copy_(0.5 * torch.randn(*p.shape, generator=g))
    x = torch.randn(n, t, d, generator=g).requires_grad_(True)
    if cell == "lstm":
        y, (h_n, c_n) = module(x)
    else:
        y, h_n = module(x)
        c_n = None
    dy = torch.randn(*y.shape, generator=g)
    dh = torch.randn(*h_n.shape, generator=g)
    loss = (y * dy).sum() + (h_n * dh).sum()
    if c_n is not None:
        dc = torch.randn(*c_n.shape, generator=g)
        loss = loss + (c_n * dc).sum()
    loss.backward()
    fx.add(name + ".shape", torch.tensor([n, t, d, hidden, layers], dtype=torch.int32))
    fx.add(name + ".x", x)
    fx.add(name + ".y", y)
    fx.add(name + ".dy", dy)
    fx.add(name + ".h_n", h_n)
    fx.add(name + ".dh_n", dh)
    if c_n is not None:
        fx.add(name + ".c_n", c_n)
        fx.add(name + ".dc_n", dc)
    fx.add(name + ".dx", x.grad)
    for pname, p in module.named_parameters():
        fx.add("%s.%s" % (name, pname), p)
        fx.add("%s.d%s" % (name, pname), p.grad)


def make_rnn_goldens():
    fx = Fixture()
    cases = []
    for cell in ("lstm", "gru"):
        for suffix, shape, seed in (("small", (3, 6, 5, 7, 1), 1), ("stacked", (2, 4, 3, 5, 2), 2),
                                    ("wide", (20, 5, 13, 32, 1), 3)):
            name = "%s_%s" % (cell, suffix)
            rnn_case(fx, name, cell, *shape, seed)
            cases.append(name)
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, name in enumerate(cases):
        fx.add("case%d" % i, torch.tensor(list(name.encode()), dtype=torch.int32))
    fx.write("rnn_goldens.nlfx")


# ---------------------------------------------------------------------------
# parameter normalizers: torch.nn.utils.weight_norm (dim 0) on a linear and
# a conv layer, forward and the gradients of x, v, g and the bias. normlab
# keeps v as the layer's weight and g as "<layer>.weight_g", one per output
# unit; g is drawn apart from ||v|| so that it matters.


def weight_norm_case(fx, name, module, shape, seed):
    """Writes under <name>: the kind (model.param_norm.type), the layer's
    parameters by normlab's names and their gradients (d<name>), the input,
    dy, the output and dx."""
    fx.add(name + ".kind", torch.tensor(list(b"weight"), dtype=torch.int32))
    g = torch.Generator().manual_seed(seed)
    module = nn.utils.weight_norm(module, dim=0)
    with torch.no_grad():
        module.weight_v.copy_(0.3 * torch.randn(*module.weight_v.shape, generator=g))
        module.weight_g.copy_(0.5 + torch.rand(*module.weight_g.shape, generator=g))
        if module.bias is not None:
            module.bias.copy_(0.3 * torch.randn(*module.bias.shape, generator=g))
    x = torch.randn(*shape, generator=g).requires_grad_(True)
    y = module(x)
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    fx.add(name + ".x", x)
    fx.add(name + ".y", y)
    fx.add(name + ".dy", dy)
    fx.add(name + ".dx", x.grad)
    fx.add(name + ".weight", module.weight_v)
    fx.add(name + ".dweight", module.weight_v.grad)
    fx.add(name + ".weight_g", module.weight_g.reshape(-1))
    fx.add(name + ".dweight_g", module.weight_g.grad.reshape(-1))
    if module.bias is not None:
        fx.add(name + ".bias", module.bias)
        fx.add(name + ".dbias", module.bias.grad)


# Spectral normalization: torch.nn.utils.spectral_norm (dim 0, one power
# iteration, eps 1e-12) keeps the weight as weight_orig (normlab's
# "<layer>.weight") and u, v as the buffers weight_u, weight_v (normlab's
# layer state of those names), drawn here and normalized.


def spectral_norm_case(fx, name, module, shape, seed):
    """Writes under <name>: the kind, the parameters, u and v before the
    first forward, and as weight_norm_case does the first training
    forward's output and gradients; then u and v after each of three
    training forwards (<state>.after1..3: the power iteration moving them
    across steps) and the output of an eval forward with the stored u, v
    (y_eval)."""
    fx.add(name + ".kind", torch.tensor(list(b"spectral"), dtype=torch.int32))
    g = torch.Generator().manual_seed(seed)
    module = nn.utils.spectral_norm(module, n_power_iterations=1, dim=0, eps=1e-12)
    with torch.no_grad():
        module.weight_orig.copy_(0.3 * torch.randn(*module.weight_orig.shape, generator=g))
        for buf in (module.weight_u, module.weight_v):
            buf.copy_(F.normalize(torch.randn(*buf.shape, generator=g), dim=0, eps=1e-12))
        if module.bias is not None:
            module.bias.copy_(0.3 * torch.randn(*module.bias.shape, generator=g))
    fx.add(name + ".weight_u", module.weight_u.clone())
    fx.add(name + ".weight_v", module.weight_v.clone())
    x = torch.randn(*shape, generator=g).requires_grad_(True)
    module.train()
    y = module(x)
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    fx.add(name + ".x", x)
    fx.add(name + ".y", y)
    fx.add(name + ".dy", dy)
    fx.add(name + ".dx", x.grad)
    fx.add(name + ".weight", module.weight_orig)
    fx.add(name + ".dweight", module.weight_orig.grad)
    if module.bias is not None:
        fx.add(name + ".bias", module.bias)
        fx.add(name + ".dbias", module.bias.grad)
    for step in (1, 2, 3):
        if step > 1:
            with torch.no_grad():
                module(x)
        fx.add("%s.weight_u.after%d" % (name, step), module.weight_u.clone())
        fx.add("%s.weight_v.after%d" % (name, step), module.weight_v.clone())
    module.eval()
    with torch.no_grad():
        fx.add(name + ".y_eval", module(x))


def make_param_norm_goldens():
    fx = Fixture()
    cases = []
    for name, module, shape, seed in (
            ("wn_linear", nn.Linear(11, 7), (5, 11), 1),
            ("wn_linear_nobias", nn.Linear(19, 30, bias=False), (13, 19), 2),
            ("wn_conv3x3", nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 6), 3),
            ("wn_conv3x3_winograd", nn.Conv2d(8, 9, 3, padding=1, bias=False), (3, 8, 7, 6), 4),
            ("wn_conv1x1_s2", nn.Conv2d(4, 3, 1, stride=2), (2, 4, 7, 7), 5)):
        weight_norm_case(fx, name, module, shape, seed)
        cases.append(name)
    for name, module, shape, seed in (
            ("sn_linear", nn.Linear(11, 7), (5, 11), 11),
            ("sn_linear_nobias", nn.Linear(19, 30, bias=False), (13, 19), 12),
            ("sn_conv3x3", nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 6), 13),
            ("sn_conv1x1_s2", nn.Conv2d(4, 3, 1, stride=2), (2, 4, 7, 7), 14)):
        spectral_norm_case(fx, name, module, shape, seed)
        cases.append(name)
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, name in enumerate(cases):
        fx.add("case%d" % i, torch.tensor(list(name.encode()), dtype=torch.int32))
    fx.write("param_norm_goldens.nlfx")


# ---- normalizers inside the recurrent cell (rnn_norm) ----
# A direct PyTorch cell, step by step, as normlab's in-cell placement
# defines it (core/layers/layer.h, nl_rnn_norm_layer):
#   u = N_x(x_t w_ih^T) + N_h(h_{t-1} w_hh^T) + bias
#   lstm: c_t = sig(f) c_{t-1} + sig(i) tanh(g), h_t = sig(o) tanh(N_c(c_t))
#   gru:  r, z = sig(u_r), sig(u_z), n = tanh(N_x(.)_n + bias_n + r N_h(.)_n),
#         h_t = (1 - z) n + z h_{t-1}
# N_x and N_h have a gain alone; N_c a gain and (layer, batch) a shift.
# layer and rms: per-sample statistics over the row (Ba et al. 2016);
# batch: each step's own batch statistics and running statistics per step
# (Cooijmans et al. 2016).
RNN_NORM_SHIFT = {"layer": True, "rms": False, "batch": True}


def cell_norm(kind, x, gain, shift, eps, running=None, training=True, momentum=0.1):
    if kind == "batch":
        mean, var = running if running is not None else (None, None)
        return F.batch_norm(x, mean, var, gain, shift, training, momentum, eps)
    if kind == "layer":
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        y = (x - mean) / torch.sqrt(var + eps)
    else:
        y = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)
    y = y * gain
    return y + shift if shift is not None else y


def cell_update(cell, a, b, bias, h, c, norm_c):
    """one step of the cell with normalizers inside it, from the normalized
    input and recurrent products a and b: the lstm's gates from a + b +
    bias, h = o tanh(norm_c(c)); the gru's n gate tanh(a_n + bias_n + r
    b_n). Returns (h, c) (the gru's c unchanged). torch_models.NormCell
    steps through it too."""
    if cell == "lstm":
        i, f, gg, o = (a + b + bias).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        return torch.sigmoid(o) * torch.tanh(norm_c(c)), c
    a_r, a_z, a_n = a.chunk(3, 1)
    b_r, b_z, b_n = b.chunk(3, 1)
    bias_r, bias_z, bias_n = bias.chunk(3)
    r = torch.sigmoid(a_r + b_r + bias_r)
    z = torch.sigmoid(a_z + b_z + bias_z)
    nn_ = torch.tanh(a_n + bias_n + r * b_n)
    return (1 - z) * nn_ + z * h, c


class NormCellLayer:
    def __init__(self, prefix, cell, kind, d, hidden, t, cell_state, g):
        gates = (4 if cell == "lstm" else 3) * hidden
        self.cell, self.kind, self.hidden = cell, kind, hidden
        self.cell_state = cell_state and cell == "lstm"
        self.params = {}

        def param(name, *shape, base=0.0):
            p = (base + 0.5 * torch.randn(*shape, generator=g)).requires_grad_(True)
            self.params["%s.%s" % (prefix, name)] = p
            return p
        self.w_ih = param("weight_ih", gates, d)
        self.w_hh = param("weight_hh", gates, hidden)
        self.bias = param("bias", gates)
        self.g_x = param("norm_ih.weight", gates, base=1.0)
        self.g_h = param("norm_hh.weight", gates, base=1.0)
        self.g_c = param("norm_c.weight", hidden, base=1.0) if self.cell_state else None
        self.b_c = (param("norm_c.bias", hidden)
                    if self.cell_state and RNN_NORM_SHIFT[kind] else None)
        self.running = {}
        if kind == "batch":
            for side, width in (("norm_ih", gates), ("norm_hh", gates), ("norm_c", hidden)):
                if side == "norm_c" and not self.cell_state:
                    continue
                self.running[side] = (torch.zeros(t, width), torch.ones(t, width))
                self.running_prefix = prefix

    def norm(self, side, s, v, gain, shift, training):
        running = None
        if self.kind == "batch":
            mean, var = self.running[side]
            running = (mean[s], var[s])
        return cell_norm(self.kind, v, gain, shift, 1e-5, running, training)

    def __call__(self, x, training=True, rounding=None):
        """rounding: the autocast set's bf16 around the two products (the
        weights rounded once, so their gradients are fp32 sums over the
        steps rounded once); None: fp32"""
        n, t, _ = x.shape
        hdim = self.hidden
        h = torch.zeros(n, hdim)
        c = torch.zeros(n, hdim)
        ys = []
        rnd = rounding or (lambda v: v)
        w_ih, w_hh = rnd(self.w_ih), rnd(self.w_hh)
        for s in range(t):
            a = self.norm("norm_ih", s, rnd(rnd(x[:, s]) @ w_ih.t()), self.g_x, None, training)
            b = self.norm("norm_hh", s, rnd(rnd(h) @ w_hh.t()), self.g_h, None, training)
            h, c = cell_update(self.cell, a, b, self.bias, h, c,
                               lambda c_t: self.norm("norm_c", s, c_t, self.g_c, self.b_c, training)
                               if self.cell_state else c_t)
            ys.append(h)
        return torch.stack(ys, 1)


def rnn_norm_case(fx, name, cell, kind, cell_state, n, t, d, hidden, seed):
    """Two layers, the lower one's every step feeding the upper, whose last
    hidden state is the output; the loss (h_T dy).sum() reaches every step."""
    g = torch.Generator().manual_seed(seed)
    layers = [NormCellLayer("%s.l%d" % (cell, k), cell, kind, d if k == 0 else hidden, hidden, t,
                            cell_state, g) for k in range(2)]
    x = torch.randn(n, t, d, generator=g).requires_grad_(True)
    h_top = layers[1](layers[0](x))[:, -1]
    dy = torch.randn(*h_top.shape, generator=g)
    (h_top * dy).sum().backward()
    fx.add(name + ".shape", torch.tensor([n, t, d, hidden], dtype=torch.int32))
    fx.add(name + ".x", x)
    fx.add(name + ".h_top", h_top)
    fx.add(name + ".dy", dy)
    fx.add(name + ".dx", x.grad)
    names = []
    for layer in layers:
        for pname, p in layer.params.items():
            fx.add("%s.%s" % (name, pname), p)
            fx.add("%s.grad.%s" % (name, pname), p.grad)
            names.append(pname)
    fx.add(name + ".params", torch.tensor([len(names)], dtype=torch.int32))
    if kind == "batch":
        # the running statistics after this one training pass, then eval
        # with them
        for layer in layers:
            for side, (mean, var) in layer.running.items():
                fx.add("%s.%s.%s.running_mean" % (name, layer.running_prefix, side), mean)
                fx.add("%s.%s.%s.running_var" % (name, layer.running_prefix, side), var)
        with torch.no_grad():
            fx.add(name + ".h_top_eval", layers[1](layers[0](x, False), False)[:, -1])


def make_rnn_norm_goldens():
    fx = Fixture()
    cases = []
    # hidden 12: the CPU's lstm kernels run 8 units at a time on vmath and
    # the rest through libm (core/cpu/rnn_cell.c); hidden 6 and 5 reach
    # only the libm loop
    for cell, kind, cell_state, shape, seed in (
            ("lstm", "layer", True, (3, 5, 4, 6), 11),
            ("lstm", "rms", True, (3, 5, 4, 6), 12),
            ("lstm", "batch", True, (4, 5, 4, 6), 13),
            ("lstm", "layer", False, (2, 4, 3, 5), 14),
            ("gru", "layer", True, (3, 5, 4, 6), 15),
            ("gru", "rms", True, (3, 4, 4, 5), 16),
            ("gru", "batch", True, (4, 5, 4, 6), 17),
            ("lstm", "layer", True, (3, 5, 4, 12), 18),
            ("lstm", "rms", True, (3, 5, 4, 12), 19),
            ("lstm", "layer", False, (3, 5, 4, 12), 20)):
        name = "%s_%s%s%s" % (cell, kind, "" if cell_state or cell == "gru" else "_nocell",
                              "_h%d" % shape[3] if shape[3] >= 8 else "")
        rnn_norm_case(fx, name, cell, kind, cell_state, *shape, seed)
        cases.append(name)
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, name in enumerate(cases):
        fx.add("case%d" % i, torch.tensor(list(name.encode()), dtype=torch.int32))
    fx.write("rnn_norm_goldens.nlfx")

# ---------------------------------------------------------------------------
# dynamic loss scaling: GradScaler's sequence of scales over a scripted
# sequence of overflows (found_inf flags).

def amp_update_scale(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """torch._amp_update_scale_, which torch 1.13 implements for CUDA tensors
    only (aten/src/ATen/native/cuda/AmpKernels.cu, _amp_update_scale_cuda_kernel):
    the scale a float32, the factors Python floats (doubles), each product
    taken in double and stored as float32; a growth to a non-finite scale is
    refused, the tracker reset all the same."""
    if torch.cuda.is_available():
        s = torch.tensor([scale], dtype=torch.float32, device="cuda")
        g = torch.tensor([tracker], dtype=torch.int32, device="cuda")
        f = torch.tensor([1.0 if found_inf else 0.0], dtype=torch.float32, device="cuda")
        torch._amp_update_scale_(s, g, f, growth_factor, backoff_factor, growth_interval)
        return float(s.item()), int(g.item())
    def f32(v):  # a double rounded to float32 as a C cast (inf past the range)
        return float(torch.tensor([v], dtype=torch.float64).to(torch.float32).item())
    if found_inf:
        return f32(scale * backoff_factor), 0
    successful = tracker + 1
    if successful == growth_interval:
        grown = f32(scale * growth_factor)
        return (grown if math.isfinite(grown) else scale), 0
    return scale, successful


def make_gradscaler_goldens():
    fx = Fixture()
    g = torch.Generator().manual_seed(47)
    # (init_scale, growth_factor, backoff_factor, growth_interval, steps, overflow probability)
    cases = [
        (65536.0, 2.0, 0.5, 3, 40, 0.2),       # GradScaler's factors, a short interval
        (65536.0, 2.0, 0.5, 1, 30, 0.3),       # grows every clean step
        (1000.0, 3.0, 0.3, 2, 40, 0.3),        # factors whose products round in float32
        (1.7e38, 2.0, 0.5, 2, 20, 0.15),       # growth to infinity refused
        (65536.0, 2.0, 0.5, 2000, 25, 0.0),    # the defaults: no change within the interval
        (3.0, 1.0001, 0.999, 4, 60, 0.25),     # factors close to 1
    ]
    fx.add("cases", torch.tensor([len(cases)], dtype=torch.int32))
    for i, (init, growth, backoff, interval, steps, p) in enumerate(cases):
        flags = (torch.rand(steps, generator=g) < p).to(torch.int32)
        scale = struct.unpack("<f", struct.pack("<f", init))[0]
        tracker = 0
        scales, trackers = [], []
        for found in flags.tolist():
            scale, tracker = amp_update_scale(scale, tracker, bool(found), growth, backoff, interval)
            scales.append(scale)
            trackers.append(tracker)
        fx.add("case%d.args" % i, torch.tensor([init, growth, backoff], dtype=torch.float32))
        fx.add("case%d.interval" % i, torch.tensor([interval], dtype=torch.int32))
        fx.add("case%d.found_inf" % i, flags)
        fx.add("case%d.scale" % i, torch.tensor(scales, dtype=torch.float32))
        fx.add("case%d.tracker" % i, torch.tensor(trackers, dtype=torch.int32))
    fx.write("gradscaler.nlfx")
# autocast: forward and backward with torch.autocast("cpu", dtype=bfloat16)'s
# policy as normlab mirrors it (train.precision: bf16). A product (linear,
# conv2d, attention's two) rounds its inputs to bf16, accumulates in fp32
# and rounds its output; its backward rounds the incoming gradient and
# rounds dx, dW, db. Everything else is fp32, as autocast runs it on CUDA:
# normlab keeps normalizers and the softmax in fp32 (torch 1.13's CPU
# autocast would run layer_norm, batch_norm and softmax on bf16 tensors).
#
# The products are written out (bf16 roundings around fp32 torch ops)
# rather than run through torch's bf16 kernels: on a CPU without AVX-512,
# torch 1.13's bf16 matmul (its own gemm, not oneDNN's) accumulates some
# layouts in bf16, rounding after every addition: measured here, dx and dW
# of a 13x37 -> 29 linear are bit for bit a sequential bf16 sum, up to 65%
# and 560% off the fp32-accumulated result, while the forward agrees bit
# for bit. autocast_check prints how far torch.autocast's own forward is
# from these references.


class _RoundBF16(torch.autograd.Function):
    """a cast to bf16 and back: rounds the value forward, the gradient back"""

    @staticmethod
    def forward(ctx, x):
        return x.bfloat16().float()

    @staticmethod
    def backward(ctx, grad):
        return grad.bfloat16().float()


def bf16(x):
    return None if x is None else _RoundBF16.apply(x)


def bf16_linear(x, weight, bias):
    return bf16(F.linear(bf16(x), bf16(weight), bf16(bias)))


def bf16_conv2d(x, conv):
    return bf16(F.conv2d(bf16(x), bf16(conv.weight), bf16(conv.bias), conv.stride, conv.padding))


def bf16_ulps(got, want):
    """max |got - want| in bf16 ulps of want (floored at 2^-6 of its largest)"""
    floor = want.abs().max() * 2.0 ** -6
    mag = torch.maximum(want.abs(), floor)
    ulp = torch.pow(2.0, torch.floor(torch.log2(mag)) - 7)
    return ((got - want).abs() / ulp).max().item()


def autocast_check(name, module, x, y):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = module(x)
    print("  %s: torch.autocast's forward is %.2f bf16 ulps from the reference"
          % (name, bf16_ulps(theirs.float(), y.detach())), file=sys.stderr)


def autocast_backward(fx, name, x, y, g):
    """y's backward from a standard normal dy drawn from g, recording x, y,
    dy and dx (the caller records its parameters' gradients)"""
    dy = torch.randn(*y.shape, generator=g)
    y.backward(dy)
    for key, value in (("x", x), ("y", y), ("dy", dy), ("dx", x.grad)):
        fx.add("%s.%s" % (name, key), value)


def autocast_layer_case(fx, name, module, shape, seed, params=()):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname in params:
            p = getattr(module, pname)
            p.copy_(0.3 * torch.randn(*p.shape, generator=g))
            fx.add("%s.%s" % (name, pname), p)
    x = torch.randn(*shape, generator=g).requires_grad_(True)
    if isinstance(module, nn.Linear):
        y = bf16_linear(x, module.weight, module.bias)
    else:
        y = bf16_conv2d(x, module)
    autocast_check(name, module, x, y)
    autocast_backward(fx, name, x, y, g)
    for pname in params:
        fx.add("%s.d%s" % (name, pname), getattr(module, pname).grad)


def autocast_attention_case(fx, name, n, t, heads, hd, seed, causal=True):
    """attention_forward/backward's semantics: logits = q k^T (a bf16
    product), scaled and softmaxed in fp32, y = p v (a bf16 product)"""
    g = torch.Generator().manual_seed(seed)
    d = heads * hd
    q, k, v = (torch.randn(n, t, d, generator=g).requires_grad_(True) for _ in range(3))
    qh, kh, vh = (a.view(n, t, heads, hd).transpose(1, 2) for a in (q, k, v))
    logits = bf16(bf16(qh) @ bf16(kh).transpose(-2, -1))
    scaled = logits * (1.0 / math.sqrt(hd))
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1 if causal else t)
    probs = torch.softmax(scaled.masked_fill(mask, float("-inf")), dim=-1)
    y = bf16(bf16(probs) @ bf16(vh)).transpose(1, 2).reshape(n, t, d)
    dy = torch.randn(n, t, d, generator=g)
    y.backward(dy)
    for key, value in (("q", q), ("k", k), ("v", v), ("y", y), ("dy", dy), ("dq", q.grad),
                       ("dk", k.grad), ("dv", v.grad), ("probs", probs)):
        fx.add("%s.%s" % (name, key), value)


def autocast_mlp_case(fx, name, kind, n, d_in, hidden, d_out, seed, groups=2):
    """x -> linear (no bias before a normalizer with a shift) -> the
    normalizer in fp32 -> linear: the products in bf16"""
    g = torch.Generator().manual_seed(seed)
    fc1 = nn.Linear(d_in, hidden, bias=(kind in ("none", "rms")))
    fc2 = nn.Linear(hidden, d_out)
    norm = nn.Identity() if kind == "none" else token_norm(kind, hidden, groups)
    with torch.no_grad():
        for prefix, layer in (("fc1", fc1), ("fc2", fc2)):
            for pname, p in layer.named_parameters():
                p.copy_(0.3 * torch.randn(*p.shape, generator=g))
                fx.add("%s.%s.%s" % (name, prefix, pname), p)
    x = torch.randn(n, d_in, generator=g).requires_grad_(True)
    y = bf16_linear(norm(bf16_linear(x, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)
    autocast_backward(fx, name, x, y, g)
    for prefix, layer in (("fc1", fc1), ("fc2", fc2)):
        for pname, p in layer.named_parameters():
            fx.add("%s.%s.d%s" % (name, prefix, pname), p.grad)


def autocast_rnn_case(fx, name, cell, n, t, d, hidden, seed):
    """core/cpu/rnn.c's definition: the input projection over all steps and
    each step's recurrent projection are bf16 products (W_hh and b_hh
    rounded once, so their gradients are fp32 sums over the steps rounded
    once, as normlab's one product over all steps computes them); the gate
    arithmetic and the states are fp32"""
    g = torch.Generator().manual_seed(seed)
    module = (nn.LSTM if cell == "lstm" else nn.GRU)(d, hidden, batch_first=True)
    pnames = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    with torch.no_grad():
        for pname in pnames:
            p = getattr(module, pname)
            p.copy_(0.3 * torch.randn(*p.shape, generator=g))
            fx.add("%s.%s" % (name, pname[:-3]), p)
    x = torch.randn(n, t, d, generator=g).requires_grad_(True)
    w_ih, w_hh, b_ih, b_hh = (getattr(module, pname) for pname in pnames)
    xproj = bf16_linear(x.reshape(n * t, d), w_ih, b_ih).view(n, t, -1)
    w_hh_r, b_hh_r = bf16(w_hh), bf16(b_hh)
    h = torch.zeros(n, hidden)
    c = torch.zeros(n, hidden)
    ys = []
    for s in range(t):
        hproj = bf16(F.linear(bf16(h), w_hh_r, b_hh_r))
        if cell == "lstm":
            i, f, cand, o = (xproj[:, s] + hproj).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cand)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            a_r, a_z, a_n = xproj[:, s].chunk(3, 1)
            h_r, h_z, h_n = hproj.chunk(3, 1)
            r, z = torch.sigmoid(a_r + h_r), torch.sigmoid(a_z + h_z)
            cand = torch.tanh(a_n + r * h_n)
            h = (1 - z) * cand + z * h
        ys.append(h)
    y = torch.stack(ys, 1)
    autocast_check(name, lambda v: module(v)[0], x, y)
    autocast_backward(fx, name, x, y, g)
    for pname in pnames:
        fx.add("%s.d%s" % (name, pname[:-3]), getattr(module, pname).grad)


def autocast_norm_cell_case(fx, name, cell, kind, n, t, d, hidden, seed):
    """one in-cell layer (the rnn_norm set's NormCellLayer, the cell state
    normalized) with its two products in bf16, every step's output"""
    g = torch.Generator().manual_seed(seed)
    layer = NormCellLayer("%s.l0" % cell, cell, kind, d, hidden, t, True, g)
    x = torch.randn(n, t, d, generator=g).requires_grad_(True)
    y = layer(x, rounding=bf16)
    autocast_check(name, layer, x, y)
    autocast_backward(fx, name, x, y, g)
    for pname, p in layer.params.items():
        fx.add("%s.%s" % (name, pname), p)
        fx.add("%s.grad.%s" % (name, pname), p.grad)


AUTOCAST_NORMS = ["batch", "layer", "group", "rms", "none"]


def make_autocast_goldens():
    fx = Fixture()
    # normlab's fp32 linear switches kernels on the shape; under bf16 every
    # shape takes the rounded sgemm: a small, a wide and a tall case
    autocast_layer_case(fx, "linear", nn.Linear(37, 29), (13, 37), 1, ("weight", "bias"))
    autocast_layer_case(fx, "linear_tall", nn.Linear(64, 48), (130, 64), 2, ("weight", "bias"))
    autocast_layer_case(fx, "linear_nobias", nn.Linear(19, 7, bias=False), (5, 19), 3, ("weight",))
    # im2col with padding and stride, and a shape fp32 would send to Winograd
    autocast_layer_case(fx, "conv3x3", nn.Conv2d(3, 5, 3, padding=1), (2, 3, 7, 6), 4,
                        ("weight", "bias"))
    autocast_layer_case(fx, "conv3x3_s2", nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False),
                        (3, 4, 9, 8), 5, ("weight",))
    autocast_layer_case(fx, "conv3x3_winograd_shape", nn.Conv2d(8, 9, 3, padding=1), (3, 8, 7, 6),
                        6, ("weight", "bias"))
    autocast_attention_case(fx, "attention", 2, 7, 2, 8, 7)
    autocast_attention_case(fx, "attention_bidirectional", 2, 5, 3, 4, 8, causal=False)
    for i, kind in enumerate(AUTOCAST_NORMS):
        autocast_mlp_case(fx, "mlp_" + kind, kind, 8, 12, 16, 5, 20 + i)
    # the fused recurrent layers: a batch below and one above the sample
    # count where fp32's recurrent products switch to sgemm, and a hidden
    # size that ends in a partial vector of the gate kernels
    autocast_rnn_case(fx, "lstm", "lstm", 3, 5, 6, 8, 30)
    autocast_rnn_case(fx, "gru", "gru", 3, 5, 6, 8, 31)
    autocast_rnn_case(fx, "lstm_wide", "lstm", 9, 4, 7, 12, 32)
    autocast_rnn_case(fx, "gru_wide", "gru", 9, 4, 7, 12, 33)
    autocast_norm_cell_case(fx, "lstm_layer", "lstm", "layer", 3, 5, 4, 6, 34)
    fx.write("autocast.nlfx")

if __name__ == "__main__":
    print("torch", torch.__version__, file=sys.stderr)
    # with arguments, only those sets: norm layer e2e
    wanted = set(sys.argv[1:]) or {"norm", "layer", "e2e", "optim", "tfm", "rnn", "param_norm", "rnn_norm",
                                   "gradscaler", "autocast"}
    if "norm" in wanted:
        make_norm_goldens()
    if "layer" in wanted:
        make_layer_goldens()
    if "e2e" in wanted:
        make_e2e_goldens()
    if "optim" in wanted:
        make_optim_goldens()
    if "tfm" in wanted:
        make_tfm_goldens()
    if "rnn" in wanted:
        make_rnn_goldens()
    if "param_norm" in wanted:
        make_param_norm_goldens()
    if "rnn_norm" in wanted:
        make_rnn_norm_goldens()
    if "gradscaler" in wanted:
        make_gradscaler_goldens()
    if "autocast" in wanted:
        make_autocast_goldens()
