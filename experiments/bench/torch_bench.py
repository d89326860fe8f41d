#!/usr/bin/python3
"""PyTorch's side of `normlab bench`: the same measurements, the same CSV columns.

Run with the pinned peer (.venv-peer/bin/python, experiments/bench/
requirements-peer.txt) or Debian's PyTorch (python3-torch 1.13,
/usr/bin/python3, the history rows), one process per threading setting: the environment (OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY)
must be set before `import torch`, so run_torch.sh launches this script once
per setting and passes the setting's name with --setting.

  /usr/bin/python3 experiments/bench/torch_bench.py --setting default --csv torch.csv
  /usr/bin/python3 experiments/bench/torch_bench.py --quick --training --model mlp
  .venv-peer/bin/python experiments/bench/torch_bench.py --training --compile compile --setting default

--compile compile|max-autotune (torch >= 2.15): the mlp, cnn, lm and vit
training steps under torch.compile (a static graph per shape); the first
step, which compiles, is timed alone and printed, then the usual warm-up
and timing; the rows' setting is SETTING+MODE, so compare.py, which takes
PyTorch's best setting per row, takes the faster of eager and compiled.

Mirrors normlab's bench (cmd/bench.c and its bench_*.c, core/bench/bench.h):
- models: mlp 784-256-256-256-10 and cnn conv3x3(1->32)-norm-relu-maxpool2,
  conv3x3(32->64)-norm-relu-maxpool2, linear(64*7*7->10); the normalizer sits
  between the weight layer and the ReLU; a layer feeding a normalizer (all of
  them affine) has no bias, the classifier has one. normlab's "layer" is
  GroupNorm(1, C) on images (per-channel affine) and LayerNorm(D) on features;
  "group" is GroupNorm(G, C) (G = --groups, 8); "instance" is
  InstanceNorm2d(C, affine=True) (no running statistics), cnn only. PyTorch
  1.13 has no RMSNorm, DyT or FRN: they are the torch-op modules the goldens
  are made with (tests/golden/make_goldens.py), FRN on images only; RMSNorm
  has no shift, so the layer before it keeps its bias.
- training step: zero_grad(set_to_none), forward, cross-entropy (mean),
  backward, SGD(lr 0.01, momentum 0.9) on a pool of random N(0,1) images and
  random labels generated once (16 batches, at least 256 samples), cycled.
- FLOPs per sample: 2 per multiply-add of the weight layers, forward + weight
  gradient + input gradient, except the first layer's input gradient.
- normalizers on (32,64,28,28), (128,256,14,14), (256,1024): fwd_train (train
  mode, autograd recording), fwd_eval (eval mode, no_grad), bwd (autograd.grad
  for x, gamma, beta on a retained graph), fwd_bwd; minimal bytes 8/8/12/20
  per element against dst.copy_(src) on the same element count (8 B/elem).
- conv/linear layers of both models, forward and backward (dW, and dX except
  for the first layer), against torch.mm on the same whole-batch GEMM shapes
  and on a square 1024 (torch.mm goes to the BLAS PyTorch was built with:
  OpenBLAS for Debian's package).
- lm (--model lm): tests/golden/make_goldens.py's Lm (the module the
  transformer goldens are made with: token + position embeddings, blocks with
  hand-written causal attention, GELU erf, MLP ratio 4, tied head) built from
  --d-model/--heads/--layers/--context/--vocab/--placement and the normalizer;
  the step is zero_grad, forward, cross-entropy over every token, backward,
  AdamW (PyTorch's defaults, lr 0.001) on a pool of random token windows and
  targets; samples_per_s is tokens/s (windows x context).
- vit (--model vit): make_goldens.py's Vit (the module the vit golden is made
  with: patches, a linear patch embedding, a class token, learned positions,
  the lm's blocks without the causal mask, a linear classifier) built from
  --d-model/--heads/--layers/--placement/--patch and the normalizer, MLP ratio
  4, GELU erf, on random N(0,1) 1x28x28 images and 10 classes; the step as
  the lm's (AdamW, lr 0.001); samples_per_s is images/s.
- lstm, gru (--model lstm / gru): nn.LSTM / nn.GRU (batch_first, PyTorch's
  init U(-1/sqrt(H), 1/sqrt(H))) of --hidden units (a list, default
  128,256,512), --layers (default 1) stacked, over --context steps (default
  28) of 28 random N(0,1) inputs (sequential Fashion-MNIST's rows), and a
  linear classifier to 10 classes on the top layer's last hidden state with
  normlab's init (weights N(0, 2/(H+10)), bias 0); the step as the lm's
  (AdamW, lr 0.001) over random labels; samples_per_s is sequences/s; flops
  the cell's products and the classifier, 3x forward less the first layer's
  input gradient, as normlab counts them. With --norm layer, rms or batch
  the lstm's cell has the normalizer inside it (normlab's placement in_cell):
  tests/golden/make_goldens.py's direct cell (NormCellLayer) as an nn.Module
  stepping over T, with normlab's init (weights and the one bias U(-1/sqrt(H),
  1/sqrt(H)), gains 1, batch norm's 0.1, shifts 0, running statistics per
  step); the input projection of every step is one product, as normlab's.
  Each point is timed eager and under torch.jit.script, the row keeping the
  faster ("PyTorch's best") and its kernel column saying which won.
- eval (--eval, only when named): the mlp and cnn with batch norm in eval mode
  under no_grad, forward and cross-entropy on a pool of random batches,
  unfolded and with each (Linear or Conv2d, BatchNorm) pair replaced by
  torch.nn.utils.fusion's fuse_linear_bn_eval / fuse_conv_bn_eval: rows
  "eval", kernel eval_forward, mode unfolded / folded.
- precision (--precision fp32 | bf16; the `precision` column): bf16 runs
  the training steps' forward and loss under torch.autocast("cpu",
  dtype=torch.bfloat16), weights, gradients and optimizer state fp32, as a
  bf16 `normlab run` trains; the other sections (kernels, eval, the sgemm
  reference) stay fp32 and say so. torch 1.13's CPU autocast has no fp16
  (refused, exit 2) and leaves nn.LSTM / nn.GRU in fp32 (lstm and gru
  refused under bf16: only their classifier would be autocast). What 1.13's
  CPU autocast does with the ops these models use: linear, conv, matmul
  take bf16 inputs and return bf16; cross_entropy is upcast to fp32; ops
  on neither list (softmax, GELU, ReLU, max pooling, layer/group/batch norm)
  run in the dtype they are fed; GroupNorm and LayerNorm fed a bf16 output
  with fp32 affine parameters fail ("expected scalar type BFloat16"), so
  every normalizer gets its input cast to fp32 (torch_run.fp32_normalizers,
  the policy of normlab's bf16 and of CUDA autocast).
- timing: warm-up calls, one call sizes the repetitions (each repeats the call
  for at least rep_s), the median of the per-call times of the repetitions.
"""
import argparse
import contextlib
import csv
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

import torch.nn.functional as F
from typing import Optional

COLUMNS = [
    "section", "impl", "setting", "threads", "model", "norm", "groups", "batch", "kernel",
    "shape", "mode", "reps", "calls", "median_us", "min_us", "samples_per_s", "median_ms",
    "flops", "gflops", "ref_gflops", "square_gflops", "ceiling_samples_per_s",
    "bytes_per_elem", "gbps", "copy_gbps", "fraction", "busy", "flush_subnormals", "cpu_model",
    "isa", "build_isa", "l1d_kib", "l2_kib", "l3_kib", "openblas_core", "cpu_kernels",
    "precision",
]
# the CPU's extensions that change which kernels run fastest (as normlab bench lists them)
ISA_FLAGS = ["amx_tile", "avx512_bf16", "avx512_vnni", "avx512bw", "avx512vl", "avx512f", "avx2",
             "fma", "sse4_2"]


def machine():
    """the machine columns every row carries, as normlab bench writes them"""
    info = {"cpu_model": "", "isa": "", "l1d_kib": "", "l2_kib": "", "l3_kib": "",
            "openblas_core": "", "build_isa": "", "cpu_kernels": "", "busy": 0,
            # PyTorch keeps IEEE subnormals unless torch.set_flush_denormal(True),
            # which this script never calls
            "flush_subnormals": "false"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not info["cpu_model"]:
                    info["cpu_model"] = value.strip()
                elif key == "flags" and not info["isa"]:
                    flags = set(value.split())
                    info["isa"] = "+".join(x for x in ISA_FLAGS if x in flags)
    except OSError:
        pass
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in range(8):
        try:
            level = int(open("%s/index%d/level" % (base, index)).read())
            kind = open("%s/index%d/type" % (base, index)).read().strip()
            size = open("%s/index%d/size" % (base, index)).read().strip()
        except OSError:
            break
        if kind != "Instruction" and size.endswith("K") and level in (1, 2, 3):
            info[("l1d_kib", "l2_kib", "l3_kib")[level - 1]] = int(size[:-1])
    try:
        import ctypes
        blas = ctypes.CDLL("libopenblas.so.0")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        info["openblas_core"] = blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass
    return info
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "golden"))
import make_goldens  # noqa: E402  (the torch-op normalizers PyTorch lacks)
import torch_run  # noqa: E402  (fp32_normalizers: the same bf16 policy as a run's)

# kind: (module for c channels, groups, image?), takes feature vectors, has a learned shift
NORM_MODULES = {
    "none": (lambda c, groups, image: nn.Identity(), True, True),
    "batch": (lambda c, groups, image: nn.BatchNorm2d(c) if image else nn.BatchNorm1d(c),
              True, True),
    "layer": (lambda c, groups, image: nn.GroupNorm(1, c) if image else nn.LayerNorm(c),
              True, True),
    "group": (lambda c, groups, image: nn.GroupNorm(groups, c), True, True),
    "instance": (lambda c, groups, image: nn.InstanceNorm2d(c, affine=True), False, True),
    "rms": (lambda c, groups, image: make_goldens.RMSNorm(c, 1e-5, True), True, False),
    "dyt": (lambda c, groups, image: make_goldens.DyT(c, 0.5, True), True, True),
    "frn": (lambda c, groups, image: make_goldens.FRN(c, 1e-5, True), False, True),
    # normlab's defaults: r_max 3, d_max 5, ramps [500, 4000], [500, 2500]
    "batch_renorm": (lambda c, groups, image: make_goldens.BatchRenorm(
        c, 1e-5, 0.1, True, 3.0, 5.0, (500, 4000), (500, 2500)), True, True),
    "ghost_batch": (lambda c, groups, image: ghost_module(
        nn.BatchNorm2d if image else nn.BatchNorm1d)(c), True, True),
}
NORMS = list(NORM_MODULES)
MODE_BYTES = {"fwd_train": 8.0, "fwd_eval": 8.0, "bwd": 12.0, "fwd_bwd": 20.0}
TRAIN_LR = 0.01
PRECISIONS = ("fp32", "bf16")  # fp16: torch 1.13's CPU autocast has none
# the training steps' autocast region: main puts bf16's here for --precision bf16
AUTOCAST = [contextlib.nullcontext]


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


COMPILE = ["eager"]  # main puts --compile's mode here


def compiled(model):
    """the module the training step calls: the model itself (eager), or
    torch.compile'd in --compile's mode, a static graph per shape"""
    mode = COMPILE[0]
    if mode == "eager":
        return model
    return torch.compile(model, mode=None if mode == "compile" else mode, dynamic=False)


def compile_first(step):
    """--compile: the first step (which compiles) timed alone, before
    measure's warm-up and timing; printed as the row's compile seconds"""
    if COMPILE[0] == "eager":
        return ""
    t0 = time.perf_counter()
    step()
    return "  (%s: first step, compiling, %.1f s)" % (COMPILE[0], time.perf_counter() - t0)


def for_precision(model, a):
    """the model as the training step at a.precision runs it"""
    if a.precision == "bf16":
        torch_run.fp32_normalizers(model, torch, nn)
    return model
LM_LR = 0.001  # PyTorch's AdamW default, as normlab bench's lm


class Timing:
    def __init__(self, reps, warmup, rep_s):
        self.reps, self.warmup, self.rep_s = reps, warmup, rep_s


CLOCK = [time.perf_counter]  # main puts time.process_time here for --cpu-clock


def measure(fn, t):
    """-> (median s per call, min s per call, calls per repetition, reps)"""
    clock = CLOCK[0]
    for _ in range(t.warmup):
        fn()
    t0 = clock()
    fn()
    one = clock() - t0
    calls = 1
    if t.rep_s > one:
        calls = min(1000000, int(math.ceil(t.rep_s / max(one, 1e-8))))
    per = []
    for _ in range(t.reps):
        t0 = clock()
        for _ in range(calls):
            fn()
        per.append((clock() - t0) / calls)
    return statistics.median(per), min(per), calls, t.reps


class Out:
    """rows to the CSV (appended, header when the file is new) and the table"""

    def __init__(self, path, setting, threads):
        self.setting, self.threads = setting, threads
        self.machine = machine()
        self.file = None
        if path:
            new = not os.path.exists(path) or os.path.getsize(path) == 0
            self.file = open(path, "a", newline="")
            self.writer = csv.writer(self.file, lineterminator="\n")
            if new:
                self.writer.writerow(COLUMNS)

    def row(self, section, timing=None, **kw):
        r = {c: "" for c in COLUMNS}
        r.update(self.machine)
        r.update(section=section, impl="torch", setting=self.setting, threads=self.threads,
                 precision="fp32")
        if timing:
            med, mn, calls, reps = timing
            r.update(reps=reps, calls=calls, median_us=med * 1e6, min_us=mn * 1e6)
        r.update(kw)
        if self.file:
            self.writer.writerow(
                ["%.9g" % v if isinstance(v, float) else ("" if v is None else v)
                 for v in (r[c] for c in COLUMNS)])
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()


# ---- references ----

def gemm_describe(gemms):
    return "+".join("%dx%dx%d%s%s" % (m, n, k, "T" if ta else "N", "T" if tb else "N")
                    for m, n, k, ta, tb in gemms)


def gemm_flops(gemms):
    return sum(2.0 * m * n * k for m, n, k, _, _ in gemms)


def bench_mm(gemms, t):
    """torch.mm on row-major shapes: a transposed operand is a transposed view"""
    ops = []
    for m, n, k, ta, tb in gemms:
        a = torch.rand(k, m).t() if ta else torch.rand(m, k)
        b = torch.rand(n, k).t() if tb else torch.rand(k, n)
        ops.append((a - 0.5, b - 0.5, torch.empty(m, n)))

    def call():
        for a, b, c in ops:
            torch.mm(a, b, out=c)

    return measure(call, t)


# ---- models ----

def bench_virtual_batch(n):
    """ghost batch norm's virtual batch, as core/bench/bench.c picks it"""
    return n // 4 if n >= 8 and n % 4 == 0 else n


def ghost_module(base):
    """ghost batch norm as in the goldens, with the bench's virtual batch"""
    class BenchGhost(base):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            chunks = x.split(bench_virtual_batch(x.shape[0]))
            return torch.cat([super(BenchGhost, self).forward(chunk) for chunk in chunks])
    return BenchGhost


def norm_module(kind, c, groups, image):
    return NORM_MODULES[kind][0](c, groups, image)


def takes_features(kind):
    return NORM_MODULES[kind][1]


def make_model(arch, norm, groups):
    bias = norm == "none" or not NORM_MODULES[norm][2]
    if arch == "mlp":
        layers, d = [nn.Flatten()], 784
        for _ in range(3):
            layers += [nn.Linear(d, 256, bias=bias), norm_module(norm, 256, groups, False), nn.ReLU()]
            d = 256
        layers.append(nn.Linear(d, 10))
        return nn.Sequential(*layers)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=bias), norm_module(norm, 32, groups, True), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=bias), norm_module(norm, 64, groups, True), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def weight_layers(model, batch):
    """[(name, module, input shape, output shape, first)] of the conv/linear layers,
    named as normlab names them (conv1, conv2 / fc1..fc3, classifier)"""
    found = []
    hooks = [m.register_forward_hook(
        lambda mod, inp, out: found.append((mod, tuple(inp[0].shape), tuple(out.shape))))
        for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(batch, 1, 28, 28))
        model.train()
    for h in hooks:
        h.remove()
    out, convs, fcs = [], 0, 0
    for i, (mod, ishape, oshape) in enumerate(found):
        if isinstance(mod, nn.Conv2d):
            convs += 1
            name = "conv%d" % convs
        elif i == len(found) - 1:
            name = "classifier"
        else:
            fcs += 1
            name = "fc%d" % fcs
        out.append((name, mod, ishape, oshape, i == 0))
    return out


def layer_forward_flops(mod, oshape):
    """per sample"""
    if isinstance(mod, nn.Conv2d):
        return 2.0 * mod.weight.numel() * oshape[2] * oshape[3]
    return 2.0 * mod.weight.numel()


def train_flops(model):
    return sum(layer_forward_flops(mod, oshape) * (2.0 if first else 3.0)
               for _, mod, _, oshape, first in weight_layers(model, 1))


def layer_gemms(mod, ishape, oshape, input_grad):
    n = ishape[0]
    if isinstance(mod, nn.Linear):
        fin, fout = mod.in_features, mod.out_features
        fwd = [(n, fout, fin, False, True)]
        bwd = [(fout, fin, n, True, False)] + ([(n, fin, fout, False, False)] if input_grad else [])
    else:
        oc, r = mod.out_channels, mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        np_ = n * oshape[2] * oshape[3]
        fwd = [(oc, np_, r, False, False)]
        bwd = [(oc, r, np_, False, True)] + ([(r, np_, oc, True, False)] if input_grad else [])
    return fwd, bwd


# ---- sections ----

def bench_norms(out, a, t):
    shapes = [((32, 64, 28, 28), "cnn"), ((128, 256, 14, 14), "cnn"), ((256, 1024), "mlp")]
    print("normalizers: effective GB/s with minimal bytes (fwd 8, bwd 12, fwd+bwd 20 per element);"
          " copy = dst.copy_(src), 8 B/elem")
    print("  %-10s %-16s %-10s %11s %8s %9s %9s" % ("norm", "shape", "mode", "median_us", "GB/s",
                                                   "copy GB/s", "fraction"))
    for shape, model in shapes:
        if model not in a.models:
            continue
        image = len(shape) == 4
        sh = "x".join(map(str, shape))
        count = math.prod(shape)
        src, dst = torch.randn(*shape), torch.empty(*shape)
        tc = measure(lambda: dst.copy_(src), t)
        copy_gbps = 8.0 * count / tc[0] / 1e9
        print("  %-10s %-16s %-10s %11.1f %8.1f %9.1f" % ("(copy)", sh, "copy", tc[0] * 1e6,
                                                         copy_gbps, copy_gbps))
        out.row("copy", tc, batch=shape[0], kernel="copy", shape=sh, mode="copy",
                bytes_per_elem=8.0, gbps=copy_gbps, copy_gbps=copy_gbps, fraction=1.0)
        del src, dst
        for kind in NORMS[1:]:
            if kind not in a.norms or not (image or takes_features(kind)):
                continue
            m = norm_module(kind, shape[1], a.groups, image)
            x = (torch.rand(*shape) * 2 - 1).requires_grad_()
            dy = torch.rand(*shape) * 2 - 1
            params = list(m.parameters())

            def fwd_train():
                return m(x)

            def fwd_eval():
                with torch.no_grad():
                    return m(x)

            results = {}
            m.train()
            results["fwd_train"] = measure(fwd_train, t)
            m.eval()
            results["fwd_eval"] = measure(fwd_eval, t)
            m.train()
            y = m(x)
            results["bwd"] = measure(
                lambda: torch.autograd.grad(y, [x] + params, dy, retain_graph=True), t)
            del y
            results["fwd_bwd"] = measure(
                lambda: torch.autograd.grad(m(x), [x] + params, dy), t)
            label = "group(%d)" % a.groups if kind == "group" else kind
            for mode in ("fwd_train", "fwd_eval", "bwd", "fwd_bwd"):
                r = results[mode]
                gbps = MODE_BYTES[mode] * count / r[0] / 1e9
                print("  %-10s %-16s %-10s %11.1f %8.1f %9.1f %9.3f" % (
                    label, sh, mode, r[0] * 1e6, gbps, copy_gbps, gbps / copy_gbps))
                out.row("norm", r, norm=kind, groups=a.groups if kind == "group" else "",
                        batch=shape[0], kernel=kind + "norm", shape=sh, mode=mode,
                        bytes_per_elem=MODE_BYTES[mode], gbps=gbps, copy_gbps=copy_gbps,
                        fraction=gbps / copy_gbps)
    print()


def bench_layers(out, a, t, square):
    print("conv and linear layers: GFLOP/s = 2*MACs / time; bwd = dW (+ dX except the first"
          " layer); sgemm = torch.mm on the same whole-batch GEMM shapes")
    print("  %-5s %-11s %5s %-4s %-32s %11s %8s %8s %8s" % (
        "model", "layer", "batch", "mode", "GEMM shapes", "median_us", "GFLOP/s", "sgemm",
        "fraction"))
    for arch in ("mlp", "cnn"):
        if arch not in a.models:
            continue
        model = make_model(arch, "batch", a.groups)
        for n in a.batches:
            for name, mod, ishape, oshape, first in weight_layers(model, n):
                x = torch.rand(*ishape) * 2 - 1
                if not first:
                    x.requires_grad_()
                inputs = ([] if first else [x]) + list(mod.parameters())
                dy = torch.rand(*oshape) * 2 - 1
                fwd_g, bwd_g = layer_gemms(mod, ishape, oshape, not first)
                rf = measure(lambda: mod(x), t)
                y = mod(x)
                rb = measure(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True), t)
                del y
                for mode, r, g in (("fwd", rf, fwd_g), ("bwd", rb, bwd_g)):
                    ref = bench_mm(g, t)
                    flops = gemm_flops(g)
                    gf, ref_gf = flops / r[0] / 1e9, flops / ref[0] / 1e9
                    shapes = gemm_describe(g)
                    print("  %-5s %-11s %5d %-4s %-32s %11.1f %8.1f %8.1f %8.3f" % (
                        arch, name, n, mode, shapes, r[0] * 1e6, gf, ref_gf, gf / ref_gf))
                    out.row("layer", r, model=arch, batch=n, kernel=name, shape=shapes, mode=mode,
                            flops=flops, gflops=gf, ref_gflops=ref_gf, square_gflops=square,
                            fraction=gf / ref_gf)
    print()


def bench_training(out, a, t, square):
    print("training step (zero_grad, forward, cross-entropy, backward, SGD lr %g momentum 0.9);"
          " ceiling = torch.mm 1024 rate (%.1f GFLOP/s) / FLOPs per sample" % (TRAIN_LR, square))
    print("  %-5s %-10s %5s %11s %9s %12s %8s %11s %8s" % (
        "model", "norm", "batch", "samples/s", "ms/step", "MFLOP/sample", "GFLOP/s", "ceiling/s",
        "fraction"))
    for arch in ("mlp", "cnn"):
        if arch not in a.models:
            continue
        for norm in NORMS:
            if norm not in a.norms or (arch == "mlp" and not takes_features(norm)):
                continue
            for n in a.batches:
                torch.manual_seed(0)
                model = for_precision(make_model(arch, norm, a.groups), a)
                flops = train_flops(model)
                model.train()
                opt = torch.optim.SGD(model.parameters(), lr=TRAIN_LR, momentum=0.9)
                loss_fn = nn.CrossEntropyLoss()
                pool = 16
                while pool * n < 256:
                    pool *= 2
                xs = torch.randn(pool * n, 1, 28, 28)
                ys = torch.randint(0, 10, (pool * n,))
                batches = [(xs[i * n:(i + 1) * n], ys[i * n:(i + 1) * n]) for i in range(pool)]
                state = {"next": 0}
                fwd = compiled(model)

                def step():
                    xb, yb = batches[state["next"]]
                    state["next"] = (state["next"] + 1) % pool
                    opt.zero_grad(set_to_none=True)
                    with AUTOCAST[0]():
                        loss = loss_fn(fwd(xb), yb)
                    loss.backward()
                    opt.step()
                    return loss

                compile_note = compile_first(step)
                r = measure(step, t)
                loss = float(step().item())
                sps = n / r[0]
                ceiling = square * 1e9 / flops
                label = "group(%d)" % a.groups if norm == "group" else norm
                print("  %-5s %-10s %5d %11.0f %9.3f %12.3f %8.1f %11.0f %8.3f%s" % (
                    arch, label, n, sps, r[0] * 1e3, flops / 1e6, sps * flops / 1e9, ceiling,
                    sps / ceiling, ("" if math.isfinite(loss) else "  (loss not finite)") + compile_note))
                out.row("train", r, precision=a.precision, model=arch, norm=norm, groups=a.groups if norm == "group" else "",
                        batch=n, kernel="train_step", mode="train", samples_per_s=sps,
                        median_ms=r[0] * 1e3, flops=flops, gflops=sps * flops / 1e9,
                        ref_gflops=square, square_gflops=square, ceiling_samples_per_s=ceiling,
                        fraction=sps / ceiling)
    print()


def fold_batchnorm(model):
    """the Sequential with each (Linear or Conv2d, BatchNorm) pair fused into one layer"""
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
    layers, mods, i = [], list(model), 0
    while i < len(mods):
        m = mods[i]
        bn = mods[i + 1] if i + 1 < len(mods) else None
        if isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)) and isinstance(m, (nn.Linear, nn.Conv2d)):
            layers.append(fuse_linear_bn_eval(m, bn) if isinstance(m, nn.Linear) else fuse_conv_bn_eval(m, bn))
            i += 2
        else:
            layers.append(m)
            i += 1
    return nn.Sequential(*layers).eval()


def bench_eval(out, a, t):
    print("eval forward (eval mode, no_grad, forward and cross-entropy) with batch norm and with it"
          " folded (torch.nn.utils.fusion)")
    print("  %-5s %5s %14s %14s %8s" % ("model", "batch", "unfolded/s", "folded/s", "speed-up"))
    for arch in ("mlp", "cnn"):
        if arch not in a.models:
            continue
        for n in a.batches:
            torch.manual_seed(0)
            model = make_model(arch, "batch", a.groups).eval()
            folded = fold_batchnorm(model)
            pool = 16
            while pool * n < 256:
                pool *= 2
            xs = torch.randn(pool * n, 1, 28, 28)
            ys = torch.randint(0, 10, (pool * n,))
            batches = [(xs[i * n:(i + 1) * n], ys[i * n:(i + 1) * n]) for i in range(pool)]
            rates = {}
            for mode, net in (("unfolded", model), ("folded", folded)):
                state = {"next": 0}

                def forward():
                    xb, yb = batches[state["next"]]
                    state["next"] = (state["next"] + 1) % pool
                    with torch.no_grad():
                        return F.cross_entropy(net(xb), yb)

                r = measure(forward, t)
                rates[mode] = (r, n / r[0])
            for mode, (r, sps) in rates.items():
                out.row("eval", r, model=arch, norm="batch", batch=n, kernel="eval_forward",
                        mode=mode, samples_per_s=sps, median_ms=r[0] * 1e3,
                        fraction=sps / rates["unfolded"][1])
            print("  %-5s %5d %14.0f %14.0f %8.2f" % (arch, n, rates["unfolded"][1],
                                                     rates["folded"][1],
                                                     rates["folded"][1] / rates["unfolded"][1]))
    print()


def lm_norms():
    """the normalizers make_goldens.token_norm builds, and none"""
    found = ["none"]
    for kind in NORMS:
        try:
            make_goldens.token_norm(kind, 8, 2)
        except ValueError:
            continue
        found.append(kind)
    return found


def lm_shape(a):
    return "d%d-h%d-L%d-T%d-V%d" % (a.d_model, a.heads, a.layers, a.context, a.vocab)


def transformer_step(model, n, make_batch, loss_of):
    """the lm's and vit's bench step: normlab's init (every weight matrix
    N(0, 0.02^2), biases 0), AdamW (PyTorch's defaults, lr LM_LR) over a
    pool of batches from make_batch(pool) cycled step by step, loss_of(batch
    at i) the step's loss"""
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
            elif pname.endswith("bias"):
                p.zero_()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=LM_LR)
    pool = 16
    while pool * n < 256:
        pool *= 2
    batches = make_batch(pool)
    state = {"next": 0}

    def step():
        i = state["next"]
        state["next"] = (i + 1) % pool
        opt.zero_grad(set_to_none=True)
        with AUTOCAST[0]():
            loss = loss_of(batches, i)
        loss.backward()
        opt.step()
        return loss

    return step


def bench_training_lm(out, a, t):
    print("lm training step (zero_grad, forward, cross-entropy, backward, AdamW lr %g, defaults)"
          " on random windows of %d token ids: %s, placement %s" % (
              LM_LR, a.context, lm_shape(a), a.placement))
    print("  %-10s %5s %11s %10s %9s %9s %8s" % ("norm", "batch", "tokens/s", "windows/s", "ms/step",
                                                 "params", "loss"))
    for norm in a.lm_norms:
        for n in a.lm_batches:
            torch.manual_seed(0)
            model = for_precision(make_goldens.Lm(a.vocab, a.d_model, a.heads, a.layers,
                                                  a.context, 4, norm, a.placement, False, "none",
                                                  True, a.groups), a)
            fwd = compiled(model)
            step = transformer_step(
                model, n,
                lambda pool: (torch.randint(0, a.vocab, (pool, n, a.context)),
                              torch.randint(0, a.vocab, (pool, n, a.context))),
                lambda b, i: F.cross_entropy(fwd(b[0][i]).reshape(-1, a.vocab), b[1][i].reshape(-1)))
            compile_note = compile_first(step)
            r = measure(step, t)
            loss = float(step().item())
            tps = n * a.context / r[0]
            params = sum(p.numel() for p in model.parameters())
            label = "group(%d)" % a.groups if norm == "group" else norm
            print("  %-10s %5d %11.0f %10.1f %9.3f %9d %8.3f%s" % (
                label, n, tps, n / r[0], r[0] * 1e3, params, loss,
                ("" if math.isfinite(loss) else "  (loss not finite)") + compile_note))
            out.row("train_lm", r, precision=a.precision, model="lm", norm=norm,
                    groups=a.groups if norm == "group" else "", batch=n, kernel="train_step",
                    shape=lm_shape(a), mode=a.placement, samples_per_s=tps, median_ms=r[0] * 1e3)
    print()


def vit_shape(a):
    return "d%d-h%d-L%d-P%d" % (a.d_model, a.heads, a.layers, a.patch)


def bench_training_vit(out, a, t):
    print("vit training step (zero_grad, forward, cross-entropy, backward, AdamW lr %g, defaults)"
          " on random 1x28x28 images: %s, placement %s" % (LM_LR, vit_shape(a), a.placement))
    print("  %-10s %5s %11s %9s %9s %8s" % ("norm", "batch", "images/s", "ms/step", "params", "loss"))
    for norm in a.lm_norms:
        for n in a.lm_batches:
            torch.manual_seed(0)
            model = for_precision(make_goldens.Vit(1, 28, a.patch, 10, a.d_model, a.heads,
                                                   a.layers, 4, norm, a.placement, False, "none",
                                                   False, a.groups), a)
            fwd = compiled(model)
            step = transformer_step(
                model, n,
                lambda pool: (torch.randn(pool, n, 1, 28, 28), torch.randint(0, 10, (pool, n))),
                lambda b, i: F.cross_entropy(fwd(b[0][i]), b[1][i]))
            compile_note = compile_first(step)
            r = measure(step, t)
            loss = float(step().item())
            params = sum(p.numel() for p in model.parameters())
            label = "group(%d)" % a.groups if norm == "group" else norm
            print("  %-10s %5d %11.1f %9.3f %9d %8.3f%s" % (
                label, n, n / r[0], r[0] * 1e3, params, loss,
                ("" if math.isfinite(loss) else "  (loss not finite)") + compile_note))
            out.row("train_vit", r, precision=a.precision, model="vit", norm=norm,
                    groups=a.groups if norm == "group" else "", batch=n, kernel="train_step",
                    shape=vit_shape(a), mode=a.placement, samples_per_s=n / r[0],
                    median_ms=r[0] * 1e3)
    print()


RNN_INPUTS = 28  # the values a step reads: a Fashion-MNIST row


class RnnClassifier(nn.Module):
    """normlab's arch rnn: the stacked cells over the rows, a classifier on the last state"""

    def __init__(self, cell, hidden, layers, norm="none", steps=28):
        super().__init__()
        if norm != "none":
            self.rnn = NormLstmStack(norm, hidden, layers, steps)
        else:
            self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(RNN_INPUTS, hidden, layers,
                                                               batch_first=True)
        self.classifier = nn.Linear(hidden, 10)
        with torch.no_grad():
            # normlab's classifier: Glorot normal, zero bias
            self.classifier.weight.normal_(0.0, math.sqrt(2.0 / (hidden + 10)))
            self.classifier.bias.zero_()

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.classifier(out[:, -1])


class NormLstmLayer(nn.Module):
    """make_goldens.NormCellLayer's lstm as a module: per step
    u = N_x(x_t w_ih^T) + N_h(h w_hh^T) + bias, c = sig(f) c + sig(i) tanh(g),
    h = sig(o) tanh(N_c(c)); N_x, N_h a gain alone, N_c a gain and (layer,
    batch) a shift; batch norm: each step's batch statistics, running ones
    per step. Layer norm is F.layer_norm (the same statistics, fused)."""

    def __init__(self, kind, d, hidden, steps):
        super().__init__()
        gates = 4 * hidden
        bound = 1.0 / math.sqrt(hidden)
        gain = 0.1 if kind == "batch" else 1.0
        self.kind = kind
        self.hidden = hidden
        self.has_shift = kind != "rms"
        self.weight_ih = nn.Parameter(torch.empty(gates, d).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(gates).uniform_(-bound, bound))
        self.g_x = nn.Parameter(torch.full((gates,), gain))
        self.g_h = nn.Parameter(torch.full((gates,), gain))
        self.g_c = nn.Parameter(torch.full((hidden,), gain))
        # rms has no shift: b_c then takes no gradient and AdamW skips it
        self.b_c = nn.Parameter(torch.zeros(hidden))
        rows = steps if kind == "batch" else 1
        for side, width in (("x", gates), ("h", gates), ("c", hidden)):
            self.register_buffer("mean_" + side, torch.zeros(rows, width))
            self.register_buffer("var_" + side, torch.ones(rows, width))

    def norm(self, v, gain, shift: Optional[torch.Tensor], mean, var):
        if self.kind == "batch":
            return F.batch_norm(v, mean, var, gain, shift, self.training, 0.1, 1e-5)
        if self.kind == "layer":
            return F.layer_norm(v, [v.shape[-1]], gain, shift, 1e-5)
        y = v * torch.rsqrt((v * v).mean(-1, keepdim=True) + 1e-5) * gain
        return y + shift if shift is not None else y

    def forward(self, x):
        n, t = x.shape[0], x.shape[1]
        xw = x @ self.weight_ih.t()
        h = x.new_zeros(n, self.hidden)
        c = x.new_zeros(n, self.hidden)
        shift: Optional[torch.Tensor] = self.b_c if self.has_shift else None
        ys = []
        for s in range(t):
            r = s if self.kind == "batch" else 0
            a = self.norm(xw[:, s], self.g_x, None, self.mean_x[r], self.var_x[r])
            b = self.norm(h @ self.weight_hh.t(), self.g_h, None, self.mean_h[r], self.var_h[r])
            i, f, g, o = (a + b + self.bias).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            cn = self.norm(c, self.g_c, shift, self.mean_c[r], self.var_c[r])
            h = torch.sigmoid(o) * torch.tanh(cn)
            ys.append(h)
        return torch.stack(ys, 1)


class NormLstmStack(nn.Module):
    def __init__(self, kind, hidden, layers, steps):
        super().__init__()
        self.layers = nn.ModuleList([NormLstmLayer(kind, RNN_INPUTS if k == 0 else hidden, hidden,
                                                   steps) for k in range(layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x, None


def rnn_train_flops(cell, hidden, layers, steps):
    gates = (4 if cell == "lstm" else 3) * hidden
    flops = 3.0 * 2.0 * hidden * 10
    for layer in range(layers):
        inputs = RNN_INPUTS if layer == 0 else hidden
        input_proj = 2.0 * steps * gates * inputs
        recurrent = 2.0 * steps * gates * hidden
        flops += 3.0 * (input_proj + recurrent) - (input_proj if layer == 0 else 0.0)
    return flops


RNN_NORMS = ("none", "layer", "rms", "batch")  # the lstm's: normlab's in_cell kinds


def rnn_step(a, cell, norm, hidden, n, t, script):
    """time one training step of the model (scripted or eager): (timing, loss)"""
    torch.manual_seed(0)
    model = RnnClassifier(cell, hidden, a.rnn_layers, norm, a.rnn_steps).train()
    if script:
        model.rnn = torch.jit.script(model.rnn)
    opt = torch.optim.AdamW(model.parameters(), lr=LM_LR)
    pool = 16
    while pool * n < 256:
        pool *= 2
    xs = torch.randn(pool, n, a.rnn_steps, RNN_INPUTS)
    ys = torch.randint(0, 10, (pool, n))
    state = {"next": 0}

    def step():
        i = state["next"]
        state["next"] = (i + 1) % pool
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[i]), ys[i])
        loss.backward()
        opt.step()
        return loss

    r = measure(step, t)
    return r, float(step().item())


def bench_training_rnn(out, a, t, square):
    print("rnn training step (zero_grad, forward over %d steps of %d random N(0,1) inputs, "
          "classifier on the last state, cross-entropy, backward, AdamW lr %g, defaults); "
          "%d layer(s); a normalizer other than none inside the lstm's cell, the faster of "
          "eager and torch.jit.script" % (a.rnn_steps, RNN_INPUTS, LM_LR, a.rnn_layers))
    print("  %-5s %-6s %6s %5s %11s %9s %12s %8s %11s %8s %8s %s" % (
        "cell", "norm", "hidden", "batch", "seqs/s", "ms/step", "MFLOP/seq", "GFLOP/s",
        "ceiling/s", "fraction", "loss", "(eager, script ms)"))
    for cell in ("lstm", "gru"):
        if cell not in a.models:
            continue
        for norm in a.rnn_norms:
            for hidden in a.hiddens:
                shape = "H%d-L%d-T%d-I%d" % (hidden, a.rnn_layers, a.rnn_steps, RNN_INPUTS)
                flops = rnn_train_flops(cell, hidden, a.rnn_layers, a.rnn_steps)
                for n in a.rnn_batches:
                    kernel, versus = "train_step", ""
                    r, loss = rnn_step(a, cell, norm, hidden, n, t, False)
                    if norm != "none":
                        rs, loss_s = rnn_step(a, cell, norm, hidden, n, t, True)
                        versus = "(%.3f, %.3f)" % (r[0] * 1e3, rs[0] * 1e3)
                        kernel = "train_step_in_cell:eager"
                        if rs[0] < r[0]:
                            r, loss, kernel = rs, loss_s, "train_step_in_cell:script"
                    sps = n / r[0]
                    ceiling = square * 1e9 / flops
                    print("  %-5s %-6s %6d %5d %11.1f %9.3f %12.3f %8.1f %11.0f %8.3f %8.3f%s %s" % (
                        cell, norm, hidden, n, sps, r[0] * 1e3, flops / 1e6, sps * flops / 1e9,
                        ceiling, sps / ceiling, loss,
                        "" if math.isfinite(loss) else "  (loss not finite)", versus))
                    out.row("train_rnn", r, model=cell, norm=norm, batch=n, kernel=kernel,
                            shape=shape, mode="train", samples_per_s=sps, median_ms=r[0] * 1e3,
                            flops=flops, gflops=sps * flops / 1e9, ref_gflops=square,
                            square_gflops=square, ceiling_samples_per_s=ceiling,
                            fraction=sps / ceiling)
    print()


def parse_list(s, cast=str):
    return [cast(v) for part in s for v in part.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", default="default", help="the label of this threading setting")
    ap.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--csv", help="append rows to this CSV (header when new)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time by the process's CPU time (time.process_time), as normlab bench "
                         "--cpu-clock; the setting gets +clock=cpu")
    ap.add_argument("--kernels", action="store_true")
    ap.add_argument("--training", action="store_true")
    ap.add_argument("--eval", action="store_true",
                    help="eval forward with batch norm unfolded and folded (only when named)")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--norm", action="append", default=[])
    ap.add_argument("--batch", action="append", default=[])
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, help="lm, vit: default 5; lstm, gru: default 1")
    ap.add_argument("--context", type=int, help="lm: default 64; lstm, gru: the steps, default 28")
    ap.add_argument("--hidden", action="append", default=[],
                    help="lstm, gru: hidden sizes (default 128,256,512)")
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--placement", default="pre", choices=["pre", "post", "peri", "none"])
    ap.add_argument("--patch", type=int, default=7)
    ap.add_argument("--precision", default="fp32",
                    help="fp32 or bf16: the training steps' forward and loss under "
                         "torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--compile", default="eager", choices=list(torch_run.MODES),
                    help="the training steps (mlp, cnn, lm, vit) eager (the default) or under "
                    "torch.compile (compile: its default mode; max-autotune), torch >= 2.15; "
                    "the rows' setting gets +MODE, so compare.py's best setting takes the "
                    "faster of eager and compiled")
    a = ap.parse_args()
    if a.compile != "eager":
        lo = torch_run.MODES[a.compile]
        if torch_run.torch_version(torch.__version__) < lo:
            print("torch_bench.py: --compile %s: torch %s is older than %d.%d (install the "
                  "pinned peer: %s)" % (a.compile, torch.__version__, lo[0], lo[1],
                                        torch_run.INSTALL), file=sys.stderr)
            return 2
        if a.kernels or a.eval:
            ap.error("--compile %s: the training steps only (--kernels and --eval run eager)"
                     % a.compile)
        rnn = [m for m in parse_list(a.model) if m in ("lstm", "gru")]
        if rnn:
            ap.error("--compile %s --model %s: the recurrent step runs eager only here"
                     % (a.compile, rnn[0]))
        a.training = True
        COMPILE[0] = a.compile
    if a.precision == "fp16":
        print("torch_bench.py: --precision fp16: torch %s's CPU autocast runs bf16 only "
              "(torch.autocast('cpu', dtype=torch.float16) is refused); use fp32 or bf16"
              % torch.__version__, file=sys.stderr)
        return 2
    if a.precision not in PRECISIONS:
        ap.error("--precision: %r is not one of %s" % (a.precision, ", ".join(PRECISIONS)))
    a.models = parse_list(a.model) or ["mlp", "cnn"]
    a.norms = parse_list(a.norm) or NORMS
    a.batches = parse_list(a.batch, int) or [2, 8, 32, 128]
    a.lm_batches = parse_list(a.batch, int) or [1, 4, 16, 64]
    a.rnn_batches = parse_list(a.batch, int) or [1, 8, 64]
    a.hiddens = parse_list(a.hidden, int) or [128, 256, 512]
    a.rnn_layers = a.layers or 1
    a.rnn_steps = a.context or 28
    a.layers = a.layers or 5
    a.context = a.context or 64
    for m in a.models:
        if m not in ("mlp", "cnn", "lm", "vit", "lstm", "gru"):
            ap.error("--model: %r is not mlp, cnn, lm, vit, lstm or gru" % m)
    for nm in a.norms:
        if nm not in NORMS:
            ap.error("--norm: %r is not one of %s" % (nm, ", ".join(NORMS)))
    a.lm_norms = [nm for nm in a.norms if nm in lm_norms()]
    # the recurrent bench, as normlab's: --norm inside the lstm's cell, else none
    a.rnn_norms = parse_list(a.norm) or ["none"]
    if "lstm" in a.models or "gru" in a.models:
        refused = [nm for nm in a.rnn_norms if nm not in RNN_NORMS]
        if refused or ("gru" in a.models and a.rnn_norms != ["none"]):
            ap.error("--norm: the lstm's cell takes %s here, the gru none; not %s" % (
                ", ".join(RNN_NORMS), ", ".join(a.rnn_norms)))
        if "batch" in a.rnn_norms and min(a.rnn_batches) < 2:
            ap.error("--norm batch: a batch of 1 has no batch statistics; --batch 2 or more")
    if "vit" in a.models and 28 % a.patch:
        ap.error("--patch %d does not divide 28" % a.patch)
    if "lm" in a.models or "vit" in a.models:
        if a.d_model % a.heads:
            ap.error("--d-model %d is not a multiple of --heads %d" % (a.d_model, a.heads))
        refused = [nm for nm in parse_list(a.norm) if nm not in a.lm_norms]
        if refused:
            ap.error("--norm: the lm takes %s, not %s" % (", ".join(lm_norms()), ", ".join(refused)))
    if a.precision != "fp32":
        if a.kernels or a.eval:
            ap.error("--precision %s: the training steps only (--kernels and --eval run fp32)"
                     % a.precision)
        rnn = [m for m in a.models if m in ("lstm", "gru")]
        if rnn:
            ap.error("--precision %s --model %s: torch %s's CPU autocast leaves nn.LSTM and "
                     "nn.GRU in fp32 (only the classifier would run bf16)"
                     % (a.precision, rnn[0], torch.__version__))
        a.training = True
        AUTOCAST[0] = bf16_autocast
    if not a.kernels and not a.training and not a.eval:
        a.kernels = "mlp" in a.models or "cnn" in a.models
        a.training = True

    if a.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    kt = Timing(7, 3, 0.03) if not a.quick else Timing(2, 1, 0.002)
    tt = Timing(5, 5, 0.25) if not a.quick else Timing(2, 1, 0.01)
    for t in (kt, tt):
        if a.reps:
            t.reps = a.reps
        if a.warmup is not None:
            t.warmup = a.warmup
    setting = a.setting
    if COMPILE[0] != "eager":
        setting += "+" + COMPILE[0]
    if a.cpu_clock:
        CLOCK[0] = time.process_time
        setting += "+clock=cpu"
    out = Out(a.csv, setting, torch.get_num_threads())

    env = " ".join("%s=%s" % (k, os.environ[k]) for k in (
        "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")
        if k in os.environ) or "(none)"
    print("torch_bench: torch %s, %d threads, setting %s, mkldnn %s, precision %s, env %s" % (
        torch.__version__, torch.get_num_threads(), setting, torch.backends.mkldnn.enabled,
        a.precision, env))
    print("load (start): %s" % open("/proc/loadavg").read().strip())
    g = [(1024, 1024, 1024, False, False)]
    r = bench_mm(g, kt)
    square = gemm_flops(g) / r[0] / 1e9
    print("sgemm reference torch.mm 1024x1024x1024: %.1f us, %.1f GFLOP/s\n" % (r[0] * 1e6, square))
    out.row("sgemm", r, kernel="sgemm", shape="1024x1024x1024", mode="NN", flops=gemm_flops(g),
            gflops=square)
    if a.kernels:
        bench_norms(out, a, kt)
        bench_layers(out, a, kt, square)
    if a.training and ("mlp" in a.models or "cnn" in a.models):
        bench_training(out, a, tt, square)
    if a.training and "lm" in a.models:
        bench_training_lm(out, a, tt)
    if a.training and "vit" in a.models:
        bench_training_vit(out, a, tt)
    if a.training and ("lstm" in a.models or "gru" in a.models):
        bench_training_rnn(out, a, tt, square)
    if a.eval and ("mlp" in a.models or "cnn" in a.models):
        bench_eval(out, a, kt)
    print("load (end): %s" % open("/proc/loadavg").read().strip())
    out.close()


if __name__ == "__main__":
    sys.exit(main())
