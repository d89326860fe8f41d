#!/usr/bin/python3
"""PyTorch's side of `normlab bench --run`: a plain PyTorch training loop of
the run a resolved normlab config describes, writing the same records a
`normlab run` writes, so one reader times both.

  .venv-peer/bin/python experiments/bench/torch_run.py RESOLVED.yaml --out DIR [--threads N]
                        [--mode eager|compile|max-autotune]
  .venv-peer/bin/python experiments/bench/torch_run.py RESOLVED.yaml --check
  .venv-peer/bin/python experiments/bench/torch_run.py --probe --mode MODE
  ... RESOLVED.yaml --out DIR --init-from NORMLAB_RUN_DIR --normlab-order

(RESOLVED.yaml "-": the config on standard input, as bench --run gives it
to --check.)

.venv-peer is the pinned peer (experiments/bench/requirements-peer.txt);
--mode eager runs on torch >= 1.13 (Debian's /usr/bin/python3 too), the
compiled modes need >= 2.15. --mode compile is torch.compile's default
mode, max-autotune its max-autotune; both compile before the clock starts
(compile_warmup) and summary.json gets the seconds as compile_s. A torch
missing or too old: exit 2 before anything is written (--probe checks
only that); a compiled mode that fails to compile the model: exit 3.

RESOLVED.yaml is a config with every key filled in (`normlab validate
--print`, or a run directory's config.yaml); `normlab bench --run CONFIG
--torch` writes it and starts this script. DIR gets metrics.csv (normlab's
columns: step,epoch,split,loss,accuracy,lr,elapsed_s, a `train` row every
train.log_every steps, `test` rows every train.eval_every steps and at the
end, `test_trainmode` rows where normlab writes them) and summary.json
(status, steps, wall_s, train_s, samples_per_s, tokens_per_s, threads,
torch, mode, compile_s, graphs_compiled_in_run).

What it mirrors (and refuses, exit 2, anything else):
- data: fashion-mnist and mnist (the IDX files, gzip or not; the first
  train_size / test_size samples; the pixels and their standardization
  exactly normlab's: experiments/normlab_py/normlab_files.py), synthetic (random N(0,1) samples of
  data.shape and random labels: normlab's generator is not reproduced, only
  the shapes), text (the file's bytes, or its distinct bytes as the
  vocabulary for `chars`; the last valid_fraction held out; train_size /
  test_size tokens), synthetic_text (an order-k Markov chain of the same
  vocab, order, branching and length, each context's successors distinct
  as normlab's, drawn by numpy: the same task and cost, not the same
  tokens).
- batches: images shuffled each epoch, the last partial batch dropped;
  token windows of `context` tokens at random starts for training,
  consecutive windows of the held-out tokens for evaluation; torch's
  generator draws them, or with --normlab-order normlab's own (the same
  batches as the normlab run of the config).
- models (torch_models.py, one builder per row of ARCHS, normlab's
  parameter names): mlp (linear -> norm -> activation per width, a
  classifier), cnn (per stage convs_per_stage x (conv3x3 pad 1 -> norm ->
  activation), then max or avg pooling 2, a linear classifier), resnet
  (stem conv, basic blocks post- or pre-activation with 1x1 projection
  shortcuts, global average pool, classifier; blocks_per_stage,
  stem_width), lm and vit (torch_models.Lm and Vit: one fused q, k, v
  projection and F.scaled_dot_product_attention, causal for the lm;
  placement pre, post, peri or none, qk_norm, GELU erf or tanh, the lm's tied or untied head, the vit's
  patch, cls or mean pooling; model.bias), rnn (the image's rows as the
  sequence, permute_pixels with normlab's pixel order, stacked nn.LSTM /
  nn.GRU, the classifier on the last state) and rnn_lm (embedding N(0, 1),
  the stack, a head at every step); the recurrent nets' placement in_cell
  with layer or rms norm inside the cell (torch_models.NormCell; the
  per-step recurrent batch norm is refused); the normalizer none, batch,
  layer (GroupNorm(1, C) on images), group or rms (the goldens' torch-op
  RMSNorm), with its eps and momentum; model.bias as normlab's auto rule
  (no bias before a normalizer with a learned shift) or as given; and a
  formula (model.norm.type expr) where it is EvoNorm-B0's or S0's
  (experiments/bench/evonorm_formulas.py), on the cnn and resnet, as timm's
  EvoNorm2dB0 / EvoNorm2dS0 (timm needed then) with the config's eps,
  momentum and groups, and no activation after it in each norm ->
  activation pair under model.norm.activation: replace (the ReLU after a
  post-activation block's add stays, as normlab's).
- training: SGD (momentum, dampening, nesterov, weight decay) or AdamW
  (betas, eps, weight decay), decay_norm_and_bias, clip_grad_norm, the
  constant, step or cosine schedule with linear warmup (normlab's formula,
  core/optim/schedule.c), cross-entropy (mean over samples or tokens), the
  accuracy counted every step as normlab's step counts it.
- precision: train.precision fp32, or bf16 with the forward and the loss
  under torch.autocast("cpu", dtype=torch.bfloat16) as a user writes it
  (cross_entropy upcast to fp32 as autocast does; weights, gradients and
  optimizer state fp32; evaluation under the same autocast; the
  normalizers in the dtype autocast hands them: torch 2.x's CPU GroupNorm,
  LayerNorm and BatchNorm take a bf16 input with fp32 parameters and
  return bf16). --fp32-normalizers feeds every normalizer fp32 instead
  (fp32_normalizers), as normlab's bf16 and CUDA autocast keep them: the
  same statistics as normlab's, and about 1.3x slower on an AMX Xeon
  (issue 91), so not the peer a speed claim is made against; torch 1.13's
  CPU autocast needs it (it refuses GroupNorm and LayerNorm on a bf16
  input with fp32 affine parameters). On a CPU without AVX-512, 1.13's
  bf16 convolutions and matmul/bmm (the attention's products) accumulate
  in bf16, linear in fp32: PyTorch's bf16 there is less exact than
  autocast's fp32 accumulation and normlab's. fp16 is refused (torch
  1.13's CPU autocast runs bf16 only),
  and so is train.loss_scale.enabled (torch.cuda.amp.GradScaler without
  CUDA warns, disables itself and passes the loss through unscaled).
- initialization: normlab's rules (core/arch/parts.c, transformer.c,
  rnn.c) drawn by torch: for the mlp, cnn and resnet model.init auto (He
  normal, std sqrt(2/fan_in), before a ReLU; Glorot normal, std gain
  sqrt(2/(fan_in+fan_out)), gain 5/3 before tanh, for the classifier and
  the other activations), he, xavier or gaussian (model.init_std); the
  transformers' weights N(0, 0.02^2) under auto, embeddings, positions
  and the class token N(0, 0.02^2); the recurrent cells U(-1/sqrt(H),
  1/sqrt(H)) as PyTorch's, the rnn_lm's embedding N(0, 1); biases 0; the
  normalizers' gains 1 (a cell's model.norm.cell_gamma) and shifts 0.
  --init-from RUN_DIR starts from a normlab run's final.nlck instead (by
  name; its layout from `normlab show RUN_DIR --params`, --normlab the
  program): tests/peer/same_model.py starts from normlab's initial weights
  on normlab's batches and requires normlab's losses (a fused q, k, v
  weight is normlab's q, k and v weights one after another).
- evaluation: eval mode on the test split in eval_batch_size batches, and
  with batch statistics in batch_size batches (running statistics left
  alone) where the model keeps running statistics and train.eval_trainmode.

Written as a competent user writes for speed (the strongest fair peer):
the fused projection and scaled_dot_product_attention above, fused AdamW
and SGD (one kernel over all parameters), clip_grad_norm_ with
foreach=True, the convolutional models and their inputs channels_last,
subnormals flushed to zero as normlab flushes them
(torch.set_flush_denormal, the config's flush_subnormals), evaluation under
torch.inference_mode.

Timing: elapsed_s counts from the start of training (after the data are
loaded and the model built), as normlab's does; train_s only the steps.
"""
import argparse
import copy
import csv
import json
import math
import os
import socket
import subprocess
import sys
import time

try:  # a Python without them is refused with the way to install the peer
    import numpy as np
    import yaml
    MISSING = None
except ImportError as missing:
    MISSING = missing.name

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "golden"))
sys.path.insert(0, os.path.join(HERE, ".."))
if not MISSING:
    from normlab_py import normlab_files

# one row per architecture this script mirrors: whether it reads token ids,
# whether it trains under bf16 autocast (which leaves nn.LSTM / nn.GRU in
# fp32, so not the recurrent nets), whether it is convolutional (the model
# and its inputs channels_last, the layout oneDNN's CPU convolutions want),
# the normlab placements it mirrors, and its builder in torch_models.py
ARCHS = {
    "mlp": {"tokens": False, "bf16": True, "conv": False, "placements": ("before",),
            "build": "build_mlp"},
    "cnn": {"tokens": False, "bf16": True, "conv": True, "placements": ("before",),
            "build": "build_cnn"},
    "resnet": {"tokens": False, "bf16": True, "conv": True, "placements": ("post", "pre"),
               "build": "build_resnet"},
    "lm": {"tokens": True, "bf16": True, "conv": False, "placements": ("pre", "post", "peri", "none"),
           "build": "build_lm"},
    "vit": {"tokens": False, "bf16": True, "conv": False,
            "placements": ("pre", "post", "peri", "none"), "build": "build_vit"},
    # the plain cell (none) or the cell with layer or rms norm inside (in_cell)
    "rnn": {"tokens": False, "bf16": False, "conv": False, "placements": ("none", "in_cell"),
            "build": "build_rnn"},
    "rnn_lm": {"tokens": True, "bf16": False, "conv": False, "placements": ("none", "in_cell"),
               "build": "build_rnn_lm"},
}
NORMS = ("none", "batch", "layer", "group", "rms")
# inside a recurrent cell: the per-sample kinds; the per-step recurrent
# batch norm (running statistics per step) is not written here
IN_CELL_NORMS = ("layer", "rms")
DATASETS = ("fashion-mnist", "mnist", "synthetic", "text", "synthetic_text")
PRECISIONS = ("fp32", "bf16")  # fp16: torch 1.13's CPU autocast has none
# --mode: how the model runs, and the oldest torch each mode is taken from.
# Eager: 2.4, the first with what the peer is written with (the CPU's fused
# AdamW and SGD, nn.RMSNorm; scaled_dot_product_attention is 2.0's), so not
# Debian's python3-torch 1.13, the history rows' older peer; compile and
# max-autotune: the pinned peer (requirements-peer.txt), whose inductor the
# numbers are about.
MODES = {"eager": (2, 4), "compile": (2, 15), "max-autotune": (2, 15)}
# the compile modes' warm-up steps before the clock starts: the first
# compiles the training graph, the second shows a recompilation the first
# step's state forces (an optimizer state, a counter) before timing does
WARMUP_STEPS = 2
# the exit status of a compiled mode that fails to compile the model
# (normlab bench --run --torch-mode best leaves that mode out and goes on)
DOES_NOT_COMPILE = 3
INSTALL = ("python3 -m venv .venv-peer && .venv-peer/bin/pip install -r "
           "experiments/bench/requirements-peer.txt")


class Refusal(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Refusal(what)


def get(cfg, dotted, default=None):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def torch_version(text):
    """(major, minor) of a torch.__version__ such as 2.15.0+cpu or 1.13.1"""
    parts = text.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 0, 0


def load_torch(mode):
    """torch, when this Python has one new enough for the mode; Refusal
    (exit 2, nothing written) otherwise, saying how to install the peer"""
    try:
        import torch
    except ImportError:
        raise Refusal("%s has no torch (install the peer: %s)" % (sys.executable, INSTALL))
    lo = MODES[mode]
    if torch_version(torch.__version__) < lo:
        raise Refusal("%s's torch %s is older than %d.%d, which --mode %s needs (install the "
                      "pinned peer: %s)" % (sys.executable, torch.__version__, lo[0], lo[1],
                                            mode, INSTALL))
    if MISSING:
        raise Refusal("%s has no %s (install the peer: %s)" % (sys.executable, MISSING, INSTALL))
    return torch


def check(cfg):
    """refuses what this script does not mirror; the reason names the key"""
    arch = get(cfg, "model.arch")
    need(arch in ARCHS, "model.arch: %s (this script mirrors %s)" % (arch, ", ".join(ARCHS)))
    row = ARCHS[arch]
    norm = get(cfg, "model.norm.type")
    if norm == "expr":  # a formula: the two timm mirrors, on images (torch_models.EVONORMS)
        from evonorm_formulas import evonorm_of
        need(evonorm_of(cfg, get) and arch in ("cnn", "resnet"),
             "model.norm.type: expr (this script mirrors the formulas of "
             "configs/expr/evonorm-b0.yaml and evonorm-s0.yaml, by timm's EvoNorm2dB0 and "
             "EvoNorm2dS0, on the cnn and resnet)")
        import importlib.util
        need(importlib.util.find_spec("timm") is not None,
             "model.norm.type: expr as EvoNorm needs timm, which %s lacks (a venv of its own: "
             "experiments/bench/evonorm_vs_timm.sh's PYTHON)" % sys.executable)
    else:
        need(norm in NORMS, "model.norm.type: %s (this script mirrors %s, and expr as "
             "EvoNorm-B0/S0)" % (norm, ", ".join(NORMS)))
    need(get(cfg, "device", "cpu") == "cpu", "device: %s (the CPU only)" % get(cfg, "device"))
    ds = get(cfg, "data.dataset")
    need(ds in DATASETS, "data.dataset: %s (this script mirrors %s)" % (ds, ", ".join(DATASETS)))
    place = get(cfg, "model.norm.placement")
    need(place in row["placements"] or norm == "none",
         "model.norm.placement: %s (this script mirrors %s's %s)"
         % (place, arch, ", ".join(row["placements"])))
    if place == "in_cell" and norm != "none":
        need(norm in IN_CELL_NORMS, "model.norm.type: %s at placement in_cell (this script's "
             "cell mirrors %s; not the per-step recurrent batch norm)"
             % (norm, ", ".join(IN_CELL_NORMS)))
    if arch == "cnn":
        need(get(cfg, "model.pool", "max") in ("max", "avg"), "model.pool")
    need(get(cfg, "model.activation", "relu") in ("relu", "sigmoid", "tanh"),
         "model.activation: %s" % get(cfg, "model.activation"))
    need(get(cfg, "model.init", "auto") in ("auto", "he", "xavier", "gaussian"),
         "model.init: %s" % get(cfg, "model.init"))
    need(not get(cfg, "model.skip_init", False), "model.skip_init: true (SkipInit's gain)")
    need(not get(cfg, "model.weight_standardization", False),
         "model.weight_standardization: true")
    need(get(cfg, "model.param_norm.type", "none") == "none",
         "model.param_norm.type: %s" % get(cfg, "model.param_norm.type"))
    need(not get(cfg, "model.dropout.p", 0), "model.dropout.p: %s (no dropout here)"
         % get(cfg, "model.dropout.p"))
    need(get(cfg, "model.norm_noise.distribution", "none") == "none",
         "model.norm_noise.distribution: %s" % get(cfg, "model.norm_noise.distribution"))
    need(get(cfg, "model.norm.virtual_batch") is None, "model.norm.virtual_batch (ghost batches)")
    if row["tokens"] or arch == "vit":
        need(get(cfg, "model.norm.affine", True) or norm == "none",
             "model.norm.affine: false (the transformer's normalizers here are affine)")
        need(get(cfg, "model.norm.track_running_stats", True) or norm != "batch",
             "model.norm.track_running_stats: false (a token batch norm here keeps them)")
    if arch == "vit":
        shape = get(cfg, "data.shape", [1, 28, 28]) if ds == "synthetic" else [1, 28, 28]
        need(shape[1] == shape[2], "data.shape: %s (the vit here takes square images)" % shape)
    need(get(cfg, "init.from", "") == "", "init.from (fine-tuning from a run)")
    need(get(cfg, "train.freeze_bn_after") is None, "train.freeze_bn_after")
    need(get(cfg, "train.bn_recalibrate.batches") is None, "train.bn_recalibrate")
    need(not get(cfg, "train.trace.activation", ""), "train.trace.activation")
    for key in ("grad_norms", "attention_logits", "variance_shift", "step_norms", "weight_stats",
                "signal_propagation"):
        need(not get(cfg, "train.log." + key, False), "train.log.%s: true" % key)
    need(get(cfg, "train.log.landscape.every") is None, "train.log.landscape.every")
    for key, plain in (("invert", False), ("contrast", 1), ("brightness", 1), ("offset", 0),
                       ("noise_std", 0)):
        need(get(cfg, "data.shift." + key, plain) == plain, "data.shift.%s: %s (no data shift "
             "here)" % (key, get(cfg, "data.shift." + key)))
    need(not get(cfg, "data.classes_subset", []) and not get(cfg, "data.per_class", 0),
         "data.classes_subset / data.per_class")
    need(not get(cfg, "train.checkpoint_every", 0), "train.checkpoint_every (no checkpoints here)")
    opt = get(cfg, "train.optimizer.type")
    need(opt in ("sgd", "adamw"), "train.optimizer.type: %s" % opt)
    need(get(cfg, "train.schedule.type", "constant") in ("constant", "step", "cosine"),
         "train.schedule.type")
    precision = get(cfg, "train.precision", "fp32")
    need(precision in PRECISIONS,
         "train.precision: %s (torch 1.13's CPU autocast runs bf16 only: "
         "torch.autocast('cpu', dtype=torch.float16) is refused; this script mirrors %s)"
         % (precision, ", ".join(PRECISIONS)))
    need(precision == "fp32" or row["bf16"],
         "train.precision: %s (%s: CPU autocast leaves nn.LSTM and nn.GRU in fp32)"
         % (precision, arch))
    need(get(cfg, "model.norm.stats_precision", "fp32") == "fp32",
         "model.norm.stats_precision: %s (PyTorch's normalizers keep their statistics in fp32)"
         % get(cfg, "model.norm.stats_precision"))
    need(not get(cfg, "train.loss_scale.enabled", False),
         "train.loss_scale.enabled: true (torch 1.13's GradScaler is CUDA's: on the CPU it "
         "disables itself and leaves the loss unscaled)")
    if norm == "batch":
        need(get(cfg, "model.norm.momentum", 0.1) is not None and
             get(cfg, "model.norm.momentum", 0.1) != "cumulative",
             "model.norm.momentum: cumulative")
        need(not get(cfg, "model.norm.sync", False), "model.norm.sync: true")


# ---- data ----

def idx_file(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise Refusal("data.path: no %s(.gz) in %s" % (stem, directory))


def image_data(cfg, torch):
    ds = get(cfg, "data.dataset")
    train_n, test_n = get(cfg, "data.train_size", 0), get(cfg, "data.test_size", 0)
    if ds == "synthetic":
        shape = list(get(cfg, "data.shape", [1, 28, 28]))
        classes = get(cfg, "data.classes", 10)
        g = torch.Generator().manual_seed(int(get(cfg, "seed", 1)))
        need(train_n and test_n, "data: the synthetic splits' sizes (--sizes)")
        return (torch.randn([train_n] + shape, generator=g),
                torch.randint(0, classes, (train_n,), generator=g),
                torch.randn([test_n] + shape, generator=g),
                torch.randint(0, classes, (test_n,), generator=g), shape, classes)
    path = get(cfg, "data.path") or "/usr/share/datasets/fashion-mnist"
    read_idx = normlab_files.read_idx
    xs = read_idx(idx_file(path, "train-images-idx3-ubyte"))
    ys = read_idx(idx_file(path, "train-labels-idx1-ubyte"))
    xt = read_idx(idx_file(path, "t10k-images-idx3-ubyte"))
    yt = read_idx(idx_file(path, "t10k-labels-idx1-ubyte"))
    if train_n:
        xs, ys = xs[:train_n], ys[:train_n]
    if test_n:
        xt, yt = xt[:test_n], yt[:test_n]
    xs = normlab_files.pixels(xs)[:, None]
    xt = normlab_files.pixels(xt)[:, None]
    if get(cfg, "data.standardize", True):
        xs, xt = normlab_files.standardize(xs, xt)
    xs, xt = torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(np.ascontiguousarray(xt))
    return (xs, torch.from_numpy(ys.astype(np.int64)), xt,
            torch.from_numpy(yt.astype(np.int64)), [1, 28, 28], 10)


def markov_tokens(cfg):
    vocab = get(cfg, "data.markov.vocab", 16)
    order = get(cfg, "data.markov.order", 2)
    branching = get(cfg, "data.markov.branching", 2)
    length = get(cfg, "data.markov.length", 100000)
    rng = np.random.default_rng(int(get(cfg, "seed", 1)))
    # each context's successors distinct, as core/data/markov.c draws them:
    # with repeats a context can have one successor, and a cycle of such
    # contexts traps the chain (a seed whose loss falls to 0.1 in 20 steps)
    contexts = vocab ** order
    succ = np.empty((contexts, branching), dtype=np.int64)
    for lo in range(0, contexts, 65536):
        hi = min(contexts, lo + 65536)
        succ[lo:hi] = np.argsort(rng.random((hi - lo, vocab)), axis=1)[:, :branching]
    out = np.empty(length, dtype=np.int64)
    out[:order] = rng.integers(0, vocab, size=order)
    ctx = 0
    for i in range(order):
        ctx = ctx * vocab + int(out[i])
    picks = rng.integers(0, branching, size=length)
    mod = vocab ** (order - 1) if order > 1 else 1
    for i in range(order, length):
        t = succ[ctx, picks[i]]
        out[i] = t
        ctx = (ctx % mod) * vocab + int(t) if order > 1 else int(t)
    return out, vocab


def token_data(cfg):
    ds = get(cfg, "data.dataset")
    if ds == "synthetic_text":
        tokens, vocab = markov_tokens(cfg)
    else:
        path = get(cfg, "data.path")
        need(path and os.path.exists(path), "data.path: %s not found" % path)
        raw = np.fromfile(path, dtype=np.uint8)
        if get(cfg, "data.vocabulary", "bytes") == "chars":
            used = np.unique(raw)
            lookup = np.zeros(256, dtype=np.int64)
            lookup[used] = np.arange(len(used))
            tokens, vocab = lookup[raw], len(used)
        else:
            tokens, vocab = raw.astype(np.int64), 256
    n_valid = int(len(tokens) * get(cfg, "data.valid_fraction", 0.1))
    train, valid = tokens[:len(tokens) - n_valid], tokens[len(tokens) - n_valid:]
    if get(cfg, "data.train_size", 0):
        train = train[:get(cfg, "data.train_size")]
    if get(cfg, "data.test_size", 0):
        valid = valid[:get(cfg, "data.test_size")]
    return train, valid, vocab


# ---- models ----

def build_model(cfg, in_shape, classes):
    """the config's model (torch_models.py: the ARCHS row's builder)"""
    import torch_models
    spec = torch_models.Spec(cfg, get)
    return getattr(torch_models, ARCHS[spec.arch]["build"])(spec, in_shape, classes)


def fp32_normalizers(model, torch, nn):
    """every normalizer of the model fed fp32 (a forward pre-hook casting its
    input), as normlab's bf16 and CUDA autocast keep them: under torch 1.13's
    CPU autocast a GroupNorm or LayerNorm fed a conv's or linear's bf16 output
    fails (its fp32 affine parameters do not match) and the others would
    return bf16. The modules and their parameter names stay as they are."""
    import make_goldens
    kinds = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm,
             make_goldens.RMSNorm,
             make_goldens.BatchRenorm, make_goldens.DyT, make_goldens.FRN,
             make_goldens.ScaleNorm, make_goldens.MeanOnlyBatchNorm)

    def to_fp32(module, inputs):
        return tuple(x.float() if torch.is_tensor(x) and x.is_floating_point() else x
                     for x in inputs)

    count = 0
    for m in model.modules():
        if isinstance(m, kinds):
            m.register_forward_pre_hook(to_fp32)
            count += 1
    return count


def compiled_graphs(torch, mode):
    """the graphs torch.compile has made in this process so far"""
    if mode == "eager":
        return 0
    from torch._dynamo.utils import counters
    return int(counters["stats"]["unique_graphs"])


def schedule_lr(cfg, base, step, total):
    """core/optim/schedule.c's nl_schedule_lr"""
    warm = get(cfg, "train.schedule.warmup_steps", 0)
    if step < warm:
        return base * (step + 1) / warm
    kind = get(cfg, "train.schedule.type", "constant")
    if kind == "step":
        lr = base
        for m in get(cfg, "train.schedule.milestones", []) or []:
            if step >= m:
                lr *= get(cfg, "train.schedule.gamma", 0.1)
        return lr
    if kind == "cosine":
        span = total - warm
        if span <= 1:
            return base
        t = (step - warm) / (span - 1)
        lo = get(cfg, "train.schedule.min_lr", 0.0)
        return lo + (base - lo) * 0.5 * (1.0 + math.cos(math.pi * t))
    return base


def make_optimizer(cfg, torch, model):
    o = get(cfg, "train.optimizer")
    wd = float(o.get("weight_decay", 0.0))
    params = list(model.parameters())
    if o.get("decay_norm_and_bias", True) or wd == 0.0:
        groups = [{"params": params, "weight_decay": wd}]
    else:
        groups = [{"params": [p for p in params if p.dim() > 1], "weight_decay": wd},
                  {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
    # fused: one kernel over every parameter (torch >= 2.4 on the CPU), what
    # a user who wants speed asks for
    if o["type"] == "adamw":
        b = o.get("betas", [0.9, 0.999])
        return torch.optim.AdamW(groups, lr=float(o["lr"]), betas=(b[0], b[1]),
                                 eps=float(o.get("eps", 1e-8)), fused=True)
    return torch.optim.SGD(groups, lr=float(o["lr"]), momentum=float(o.get("momentum", 0.9)),
                           dampening=float(o.get("dampening", 0.0)),
                           nesterov=bool(o.get("nesterov", False)), fused=True)


def read_config(path):
    """the config file's text; a run's config.yaml of a packed sweep by its
    old path too (SWEEP/runs/RUN/config.yaml, in SWEEP/runs.sqlite: tests/packs.py)"""
    if not os.path.exists(path):
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
        import packs
        data = packs.read_path(path)
        if data is not None:
            return packs.as_text(data)
    with open(path) as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", nargs="?")
    ap.add_argument("--mode", choices=list(MODES), default="eager",
                    help="eager (the default), compile (torch.compile's default mode) or "
                    "max-autotune; the compile modes need torch >= 2.15")
    ap.add_argument("--probe", action="store_true",
                    help="only say whether this Python's torch runs --mode (exit 2: why not)")
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="only say whether the config is mirrored")
    ap.add_argument("--fp32-normalizers", action="store_true",
                    help="bf16: feed every normalizer fp32 (normlab's statistics), not autocast's "
                         "bf16 as a user's plain torch.autocast does")
    ap.add_argument("--data-path", help="the dataset's path where the config leaves the default "
                    "(normlab bench --run passes it: a text corpus's default is the build's)")
    ap.add_argument("--sizes", help="TRAIN,TEST: the splits' sizes, subsets applied (samples, "
                    "or tokens), as normlab's check found them")
    ap.add_argument("--init-from", metavar="RUN_DIR",
                    help="start from the weights of a normlab run's final.nlck (read by name: "
                    "`normlab show RUN_DIR --params`) instead of this script's draw")
    ap.add_argument("--normlab-order", action="store_true",
                    help="the training batches in the order normlab's generator draws them "
                    "(normlab_files.image_batches / window_starts), not torch's")
    ap.add_argument("--normlab", default=os.path.join(HERE, "..", "..", "build", "normlab"),
                    help="the normlab program --init-from asks for the parameters' layout")
    a = ap.parse_args()
    if a.probe:
        try:
            torch = load_torch(a.mode)
        except Refusal as e:
            print("torch_run.py: %s" % e, file=sys.stderr)
            return 2
        print("torch %s runs --mode %s" % (torch.__version__, a.mode))
        return 0
    if not a.config:
        ap.error("a config is needed (or --probe)")
    if MISSING:
        print("torch_run.py: %s has no %s (install the peer: %s)" % (sys.executable, MISSING,
                                                                    INSTALL), file=sys.stderr)
        return 2
    if a.config == "-":  # normlab bench --run pipes the resolved config for --check
        cfg = yaml.safe_load(sys.stdin)
    else:
        cfg = yaml.safe_load(read_config(a.config))
    if a.data_path and not get(cfg, "data.path"):
        cfg["data"]["path"] = a.data_path
    if a.sizes:
        train_n, test_n = (int(v) for v in a.sizes.split(","))
        cfg["data"]["train_size"], cfg["data"]["test_size"] = train_n, test_n
    source = "the resolved config" if a.config == "-" else a.config
    try:
        check(cfg)
    except Refusal as e:
        print("torch_run.py: %s: not mirrored: %s" % (source, e), file=sys.stderr)
        return 2
    if a.check:
        print("%s: mirrored" % source)
        return 0
    if not a.out:
        print("torch_run.py: --out DIR is needed", file=sys.stderr)
        return 2

    try:  # before anything is written
        torch = load_torch(a.mode)
    except Refusal as e:
        print("torch_run.py: %s" % e, file=sys.stderr)
        return 2
    # subnormals flushed to zero as normlab flushes them (flush_subnormals,
    # true by default); set before the first parallel op, so that the
    # OpenMP threads, created later, inherit the setting
    torch.set_flush_denormal(bool(get(cfg, "flush_subnormals", True)))
    import torch.nn as nn
    import torch.nn.functional as F
    import make_goldens  # noqa: F401  (sets one thread on import: set ours after)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(int(get(cfg, "seed", 1)))

    arch = get(cfg, "model.arch")
    batch = get(cfg, "train.batch_size")
    eval_batch = get(cfg, "train.eval_batch_size", 500)
    tokens = ARCHS[arch]["tokens"]
    seed = int(get(cfg, "seed", 1))
    try:
        if tokens:
            train_tok, valid_tok, vocab = token_data(cfg)
            context = get(cfg, "model.context")
            need(len(train_tok) > context and len(valid_tok) > context,
                 "the token splits hold no window of %d" % context)
            model = build_model(cfg, None, vocab)
            train_t = torch.from_numpy(train_tok)
            valid_t = torch.from_numpy(valid_tok)
            # nl_window_batcher_batches: an epoch is the split's tokens once
            per_epoch = max(1, len(train_tok) // (batch * context))
            normlab_order = normlab_files.window_starts(seed, len(train_tok), context, batch)
        else:
            xs, ys, xt, yt, shape, classes = image_data(cfg, torch)
            model = build_model(cfg, shape, classes)
            per_epoch = len(xs) // batch
            need(per_epoch >= 1, "train.batch_size: larger than the training split")
            normlab_order = normlab_files.image_batches(seed, len(xs), batch)
        if a.init_from:
            import torch_models
            layout = normlab_files.param_layout(a.normlab, a.init_from)
            torch_models.load_normlab(model, normlab_files.read_final_model(a.init_from, layout))
    except (Refusal, ValueError, OSError, subprocess.CalledProcessError) as e:
        print("torch_run.py: %s: %s" % (a.config, e), file=sys.stderr)
        return 2
    bf16 = get(cfg, "train.precision", "fp32") == "bf16"
    if bf16 and a.fp32_normalizers:
        fp32_normalizers(model, torch, nn)
    conv = ARCHS[arch]["conv"]
    if conv:  # channels_last: oneDNN's convolutions run NHWC without reorders
        model = model.to(memory_format=torch.channels_last)
        xs, xt = (t.contiguous(memory_format=torch.channels_last) for t in (xs, xt))
    base_lr = float(get(cfg, "train.optimizer.lr"))
    total = get(cfg, "train.steps") or get(cfg, "train.epochs", 1) * per_epoch
    log_every = get(cfg, "train.log_every", 20)
    eval_every = get(cfg, "train.eval_every", 200)
    clip = float(get(cfg, "train.clip_grad_norm", 0.0))
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    trainmode = bool(bns) and get(cfg, "train.eval_trainmode", True)
    gen = torch.Generator().manual_seed(int(get(cfg, "seed", 1)))

    def token_windows(split, starts):
        idx = starts.unsqueeze(1) + torch.arange(context).unsqueeze(0)
        return split[idx], split[idx + 1]

    # the compile modes: every shape its own static graph (dynamic=False),
    # so that the evaluation's batch does not turn the training graph into
    # a dynamic-shape one
    net = model if a.mode == "eager" else torch.compile(
        model, mode=None if a.mode == "compile" else a.mode, dynamic=False)

    def loss_and_correct(x, y):
        # bf16: the forward and the loss as autocast runs them (cross_entropy in fp32)
        if conv:  # a batch drawn by index may come back in NCHW
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
            out = out.reshape(-1, out.shape[-1])
            y = y.reshape(-1)
            return F.cross_entropy(out, y), (out.argmax(1) == y).sum()

    def evaluate(train_mode):
        saved = []
        if train_mode:
            model.train()
            for m in bns:  # batch statistics, running statistics left alone
                saved.append(m.momentum)
                m.momentum = 0.0
        else:
            model.eval()
        loss_sum, correct, count = 0.0, 0, 0
        n_eval = batch if train_mode else eval_batch
        with torch.inference_mode():
            if tokens:
                windows = (len(valid_tok) - 1) // context
                for s in range(0, windows, n_eval):
                    starts = torch.arange(s, min(windows, s + n_eval)) * context
                    if train_mode and len(starts) < n_eval and s > 0:
                        break
                    x, y = token_windows(valid_t, starts)
                    loss, c = loss_and_correct(x, y)
                    loss_sum += loss.item() * y.numel()
                    correct += int(c)
                    count += y.numel()
            else:
                step_n = n_eval
                for s in range(0, len(xt), step_n):
                    if train_mode and s + step_n > len(xt):
                        break
                    loss, c = loss_and_correct(xt[s:s + step_n], yt[s:s + step_n])
                    n = min(step_n, len(xt) - s)
                    loss_sum += loss.item() * n
                    correct += int(c)
                    count += n
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.train()
        return loss_sum / max(count, 1), correct / max(count, 1)

    def train_step(optimizer, x, y):
        optimizer.zero_grad(set_to_none=True)
        loss, correct = loss_and_correct(x, y)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip, foreach=True)
        optimizer.step()
        return loss, correct

    def compile_warmup():
        """the compile modes' compilation, before the clock starts and apart
        from the run: WARMUP_STEPS training steps on the first batch (a
        throwaway optimizer) and one evaluation of each kind the run makes,
        which compiles every graph the run calls; then the weights, the
        running statistics and the optimizer start over as eager's do, so
        the run trains what eager trains. Its seconds (compilation, and
        those steps and evaluations) are summary.json's compile_s."""
        saved = copy.deepcopy(model.state_dict())
        if tokens:
            x, y = token_windows(train_t, torch.arange(batch) * context)
        else:
            x, y = xs[:batch], ys[:batch]
        t0 = time.perf_counter()
        warm_opt = make_optimizer(cfg, torch, model)
        for _ in range(WARMUP_STEPS):
            train_step(warm_opt, x, y)
        evaluate(False)
        if trainmode:
            evaluate(True)
        seconds = time.perf_counter() - t0
        model.load_state_dict(saved)
        model.train()
        return seconds

    compile_s = None
    if a.mode != "eager":
        try:
            compile_s = compile_warmup()
        except Exception as e:  # inductor's failures have no common class
            print("torch_run.py: %s: --mode %s does not compile this model: %s: %s"
                  % (a.config, a.mode, type(e).__name__, str(e).split("\n")[0]), file=sys.stderr)
            return DOES_NOT_COMPILE
    graphs_warm = compiled_graphs(torch, a.mode)
    opt = make_optimizer(cfg, torch, model)
    os.makedirs(a.out, exist_ok=True)  # everything refusable is refused by now
    f = open(os.path.join(a.out, "metrics.csv"), "w", newline="")
    w = csv.writer(f)
    w.writerow(["step", "epoch", "split", "loss", "accuracy", "lr", "elapsed_s"])
    start = time.perf_counter()
    lr = schedule_lr(cfg, base_lr, 0, total)
    step, train_s = 0, 0.0
    final = {}

    def emit(split, loss, acc):
        # normlab's digits: float32's, so that a parity check sees its rounding
        w.writerow([step, "%.6g" % (step / per_epoch), split, "%.9g" % loss, "%.9g" % acc,
                    "%.6g" % lr, "%.6f" % (time.perf_counter() - start)])

    def eval_rows():
        loss, acc = evaluate(False)
        emit("test", loss, acc)
        final["test_loss"], final["test_accuracy"] = loss, acc
        if trainmode:
            loss, acc = evaluate(True)
            emit("test_trainmode", loss, acc)

    eval_rows()
    model.train()
    perm, pos = torch.randperm(len(xs), generator=gen) if not tokens else None, 0
    window_loss, window_correct, window_steps = torch.zeros(()), torch.zeros((), dtype=torch.long), 0
    preds_per_step = batch * (context if tokens else 1)
    while step < total:
        t0 = time.perf_counter()
        if a.normlab_order:
            drawn = torch.tensor(next(normlab_order))
            x, y = token_windows(train_t, drawn) if tokens else (xs[drawn], ys[drawn])
        elif tokens:
            starts = torch.randint(0, len(train_tok) - context, (batch,), generator=gen)
            x, y = token_windows(train_t, starts)
        else:
            if pos + batch > len(xs):
                perm, pos = torch.randperm(len(xs), generator=gen), 0
            idx = perm[pos:pos + batch]
            pos += batch
            x, y = xs[idx], ys[idx]
        lr = schedule_lr(cfg, base_lr, step, total)
        for g in opt.param_groups:
            g["lr"] = lr
        loss, correct = train_step(opt, x, y)
        window_loss += loss.detach()
        window_correct += correct
        step += 1
        window_steps += 1
        train_s += time.perf_counter() - t0
        if window_steps == log_every or step == total:
            mean = float(window_loss) / window_steps
            emit("train", mean, float(window_correct) / (window_steps * preds_per_step))
            final["train_loss"] = mean
            window_loss.zero_()
            window_correct.zero_()
            window_steps = 0
        if step % eval_every == 0 or step == total:
            eval_rows()
    wall = time.perf_counter() - start
    f.close()
    per_s = step * batch / train_s if train_s > 0 else 0.0
    summary = {"status": "ok", "impl": "torch", "torch": torch.__version__, "mode": a.mode,
               "compile_s": compile_s, "warmup_steps": 0 if compile_s is None else WARMUP_STEPS,
               "graphs_compiled_warmup": graphs_warm,
               # graphs compiled after the warm-up, in the timed run: 0
               # unless a guard the warm-up did not meet forced one
               "graphs_compiled_in_run": compiled_graphs(torch, a.mode) - graphs_warm,
               "steps": step,
               "batch_size": batch, "wall_s": wall, "train_s": train_s, "samples_per_s": per_s,
               "threads": torch.get_num_threads(), "host": socket.gethostname(),
               "precision": "bf16" if bf16 else "fp32",
               "autocast": ("fp32 normalizers" if a.fp32_normalizers else "plain") if bf16 else "",
               "final_train_loss": final.get("train_loss"),
               "final_test_loss": final.get("test_loss"),
               "final_test_accuracy": final.get("test_accuracy")}
    if tokens:
        summary["tokens_per_s"] = per_s * context
    with open(os.path.join(a.out, "summary.json"), "w") as sf:
        json.dump(summary, sf, indent=1)
    print("ok: %s, %d steps, %.1f s, %.0f %s/s%s" % (
        a.mode, step, wall, per_s * (context if tokens else 1), "tokens" if tokens else "samples",
        "" if compile_s is None else ", compiled in %.1f s" % compile_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
