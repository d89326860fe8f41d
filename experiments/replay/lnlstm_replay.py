#!/usr/bin/env python3
"""Step-by-step replay of normlab's LN-LSTM (results/README.md section 26,
issue 57) in PyTorch, from normlab's own initial weights and batches.

Run (from the repository root, normlab built in build/; any PyTorch >= 1.13):

    /work/venv-peer/bin/python experiments/replay/lnlstm_replay.py \
        [--seed 1] [--norm layer|rms] [--out /tmp/lnlstm-replay]

It takes the rows task's run config of experiments/ba-ln-lstm.yaml
(results/ba-ln-lstm/configs/permute_pixels-false_type-NORM_seed-SEED.yaml
with model.norm.type and seed set) and
  1. runs normlab once with SGD at lr 1e-30 for one step, so that its
     final.nlck holds the initial weights (1e-30 times a clipped gradient
     moves no weight of this model; the zero-initialized shift comes back as
     about 1e-31 and is read as 0), and once as the experiment runs it, with
     train.log_every 1 (the loss of every step and its gradient norm before
     clipping: metrics.csv's grad_norm);
  2. reads Fashion-MNIST as normlab does (the first 6000 training images,
     pixel/255 in float, standardized by the subset's mean and population std
     in double) and draws the batch order with normlab's own generator
     (core/base/rng.c: PCG32 seeded through splitmix64, stream 2, a
     Fisher-Yates shuffle per epoch, the incomplete last batch dropped);
  3. trains three PyTorch copies of the model from those weights on those
     batches with AdamW and gradient clipping as the config says:
       doc32  the cell as configs/README.md (placement in_cell) defines it,
              in float32;
       doc64  the same in float64: how far float rounding alone takes two
              trajectories apart;
       ba32   Ba et al. 2016's cell (eq. 20-22): LN on W_x x and W_h h each
              with its own gain AND its own shift (beta_x, beta_h, from 0)
              beside the bias b, LN on c_t with gain and shift; the same
              function at initialization, with two more bias vectors for
              AdamW to move;
     and prints, per step, normlab's loss and gradient norm beside each copy's,
     the first step where a copy departs from normlab by more than it departs
     from its float64 twin (--tol), and the mean training loss over the spans
     section 26 reports (steps 1-50, 51-100, 101-186).
  4. With --weights-at K it also runs normlab for K steps (final.nlck) and
     compares the weights of doc32 and doc64 after K steps with normlab's,
     per tensor (largest absolute difference).
Checks at normlab's own weights, where chaos cannot hide a difference
(each replaces 3 and 4; the normlab runs of 1 are needed, --reuse keeps
them):
  --probe-at K1,K2,..  the loss and gradient norm of batch K+1 at normlab's
                       weights after K steps (a run of train.steps K),
                       float32 and float64, against normlab's logged ones;
  --grads-at K1,K2,..  normlab's gradient of every tensor at those weights
                       (one SGD step of lr 1000 without clipping from them,
                       init.from, read back as (w - w') / 1000) against
                       PyTorch's in float64;
  --teacher K          steps 1..K teacher-forced: PyTorch's AdamW moved by
                       the gradient at normlab's w_k, its w_k+1 against
                       normlab's, per tensor in units of the learning rate;
  --pairs N            N starts one float step from the initial weights
                       (each weight_hh entry, rewritten into a final.nlck),
                       each trained by normlab (init.from) and by doc32:
                       whether the two part one way in every pair.
Costs (2 shared cores): 1-3 about 4 minutes; a pair about 3.
Writes OUT/replay.csv (one row per step) and prints a summary.
"""
import argparse
import math
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from normlab_py import normlab_files  # noqa: E402
NORMLAB = os.path.join(ROOT, "build", "normlab")
DATA = "/usr/share/datasets/fashion-mnist"
TRAIN_SIZE, BATCH, HIDDEN, EPOCHS = 6000, 64, 128, 2
SPANS = ((1, 50), (51, 100), (101, 186))


def batch_indices(seed, steps):
    """the training batches' sample indices, as core/data/data.c's batcher
    draws them"""
    batches = normlab_files.image_batches(seed, TRAIN_SIZE, BATCH)
    return [next(batches) for _ in range(steps)]


# ---- data (core/data/idx.c, data.c) ----
def load_data(test_size=1000):
    """Fashion-MNIST's first TRAIN_SIZE training images and test_size test
    images as normlab reads and standardizes them (normlab_files)"""
    def read(name, count):
        return normlab_files.read_idx(os.path.join(DATA, name))[:count]
    x, xt = normlab_files.standardize(
        normlab_files.pixels(read("train-images-idx3-ubyte.gz", TRAIN_SIZE))[:, None],
        normlab_files.pixels(read("t10k-images-idx3-ubyte.gz", test_size))[:, None])
    y = read("train-labels-idx1-ubyte.gz", TRAIN_SIZE).astype(np.int64)
    yt = read("t10k-labels-idx1-ubyte.gz", test_size).astype(np.int64)
    return (torch.from_numpy(x[:, 0]), torch.from_numpy(y), torch.from_numpy(xt[:, 0]),
            torch.from_numpy(yt))


# ---- normlab's files ----
def read_final_model(run_dir, shapes):
    """final.nlck's parameters (normlab_files.read_final_model) by this
    script's names: the arena puts the decayed weights (the 2-D ones here)
    first, then the gains and biases, each in build order"""
    layout = normlab_files.arena_layout([(name, shape, len(shape) == 2) for name, shape in shapes])
    return {name: torch.from_numpy(v) for name, v in
            normlab_files.read_final_model(run_dir, layout).items()}


def read_metrics(run_dir):
    rows = {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        head = f.readline().strip().split(",")
        for line in f:
            r = dict(zip(head, line.strip().split(",")))
            if r["split"] == "train":
                rows[int(r["step"])] = (float(r["loss"]), float(r["grad_norm"]))
    return rows


def normlab(config, out, *sets):
    cmd = [NORMLAB, "run", config, "--out", out, "--threads", "1", "--quiet", "--force"]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)


def param_shapes(norm):
    g = 4 * HIDDEN
    shapes = [("weight_ih", (g, 28)), ("weight_hh", (g, HIDDEN)), ("bias", (g,)),
              ("norm_ih.weight", (g,)), ("norm_hh.weight", (g,)), ("norm_c.weight", (HIDDEN,))]
    if norm == "layer":
        shapes.append(("norm_c.bias", (HIDDEN,)))
    return shapes + [("classifier.weight", (10, HIDDEN)), ("classifier.bias", (10,))]


# ---- the model ----
def normalize(v, center, eps=1e-5):
    if center:
        v = v - v.mean(-1, keepdim=True)
    return v / torch.sqrt((v * v).mean(-1, keepdim=True) + eps)


def forward(p, x, center, ba):
    """x (N, 28, 28): 28 steps of one row each; logits from h_T"""
    n = x.shape[0]
    h = x.new_zeros(n, HIDDEN)
    c = x.new_zeros(n, HIDDEN)
    xproj = x @ p["weight_ih"].t()
    for t in range(x.shape[1]):
        a = normalize(xproj[:, t], center) * p["norm_ih.weight"]
        b = normalize(h @ p["weight_hh"].t(), center) * p["norm_hh.weight"]
        if ba:
            a = a + p["norm_ih.bias"]
            b = b + p["norm_hh.bias"]
        i, f, g, o = (a + b + p["bias"]).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        cn = normalize(c, center) * p["norm_c.weight"]
        if "norm_c.bias" in p:
            cn = cn + p["norm_c.bias"]
        h = torch.sigmoid(o) * torch.tanh(cn)
    return h @ p["classifier.weight"].t() + p["classifier.bias"]


class Copy:
    def __init__(self, name, init, dtype, center, ba):
        self.name, self.center, self.ba, self.dtype = name, center, ba, dtype
        self.p = {k: v.clone().to(dtype).requires_grad_(True) for k, v in init.items()}
        if ba:
            for side in ("norm_ih.bias", "norm_hh.bias"):
                self.p[side] = torch.zeros(4 * HIDDEN, dtype=dtype, requires_grad=True)
        self.opt = torch.optim.AdamW(list(self.p.values()), lr=0.002, betas=(0.9, 0.999),
                                     eps=1e-8, weight_decay=0.0)
        self.loss, self.gnorm = [], []

    def step(self, x, y):
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(self.p, x.to(self.dtype), self.center,
                                                         self.ba), y)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(list(self.p.values()), 1.0)
        self.opt.step()
        self.loss.append(loss.item())
        self.gnorm.append(gn.item())

    def test_error(self, xt, yt):
        with torch.no_grad():
            pred = forward(self.p, xt.to(self.dtype), self.center, self.ba).argmax(1)
        return 100.0 * (pred != yt).double().mean().item()


def span_means(losses):
    return [sum(losses[a - 1:b]) / (b - a + 1) for a, b in SPANS]


def first_parting(nl, mine, twin, tol):
    """the first step where |mine - normlab| exceeds tol + |mine - twin|
    (the float64 twin's distance: what rounding alone explains)"""
    for k, (a, b, c) in enumerate(zip(nl, mine, twin)):
        if abs(b - a) > tol + abs(b - c):
            return k + 1
    return None


def compare_weights(args, config, copies, init_shapes):
    out = os.path.join(args.out, "at%d" % args.weights_at)
    normlab(config, out, "train.steps=%d" % args.weights_at, "train.eval_every=100000")
    nl = read_final_model(out, init_shapes)
    print("weights after %d steps, largest |difference| per tensor:" % args.weights_at)
    print("  %-18s %12s %12s %12s" % ("tensor", "doc32-normlab", "doc64-normlab", "doc32-doc64"))
    for name, _ in init_shapes:
        a = copies["doc32"].p[name].detach().double()
        b = copies["doc64"].p[name].detach().double()
        w = nl[name].double()
        print("  %-18s %12.3g %12.3g %12.3g" % (name, (a - w).abs().max().item(),
                                               (b - w).abs().max().item(),
                                               (a - b).abs().max().item()))


def probe(args, config, sets, shapes, metrics, batches, x, y, center):
    """at normlab's own weights after K steps, the loss and gradient norm of
    batch K+1 in float32 and float64 beside the ones normlab logged"""
    print("at normlab's weights after K steps, batch K+1 (relative differences to normlab):")
    print("     K  normlab loss  f32 loss    f64 loss   | normlab |g|  f32 |g|   f64 |g|")
    for k in args.probe_at:
        w = weights_after(args, config, sets, shapes, k)
        idx = torch.tensor(batches[k])
        row = []
        for dtype in (torch.float32, torch.float64):
            p = {n: v.detach().to(dtype).clone().requires_grad_(True) for n, v in w.items()}
            loss = torch.nn.functional.cross_entropy(forward(p, x[idx].to(dtype), center, False),
                                                     y[idx])
            loss.backward()
            gn = math.sqrt(sum(float((v.grad.double() ** 2).sum()) for v in p.values()))
            row += [loss.item(), gn]
        nl_loss, nl_gn = metrics[k + 1]
        print("  %4d  %.6f  %+.2e  %+.2e  | %9.5f  %+.2e  %+.2e" % (
            k, nl_loss, row[0] / nl_loss - 1, row[2] / nl_loss - 1, nl_gn, row[1] / nl_gn - 1,
            row[3] / nl_gn - 1))


def weights_after(args, config, sets, shapes, k):
    """normlab's weights after k steps (a run of train.steps k; 0: the initial weights)"""
    out = os.path.join(args.out, "at%d" % k if k else "init")
    if k and not (args.reuse and os.path.exists(os.path.join(out, "final.nlck"))):
        normlab(config, out, *sets, "train.steps=%d" % k, "train.eval_every=100000")
    w = read_final_model(out, shapes)
    for name in w:
        w[name][w[name].abs() < 1e-20] = 0.0
    return w


def teacher(args, config, sets, shapes, batches, x, y, center):
    """teacher forcing: at every step k < K, the gradient at normlab's own
    weights w_k (float32) moves a PyTorch AdamW from w_k; its w_k+1 against
    normlab's, per tensor (largest difference, in units of the step lr)"""
    w = weights_after(args, config, sets, shapes, 0)
    p = {n: v.clone().requires_grad_(True) for n, v in w.items()}
    opt = torch.optim.AdamW(list(p.values()), lr=0.002, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0)
    print("teacher forcing: max |torch w_k+1 - normlab w_k+1| / lr per tensor")
    print("   k  " + " ".join("%10s" % n[:10] for n, _ in shapes))
    for k in range(args.teacher):
        with torch.no_grad():
            for n in p:
                p[n].copy_(w[n])
        opt.zero_grad()
        idx = torch.tensor(batches[k])
        torch.nn.functional.cross_entropy(forward(p, x[idx], center, False), y[idx]).backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        w = weights_after(args, config, sets, shapes, k + 1)
        print("%4d  " % (k + 1) + " ".join("%10.2e" % ((p[n].detach() - w[n]).abs().max().item()
                                                      / 0.002) for n, _ in shapes))


def write_perturbed(src, dst, k):
    """a copy of run directory src whose final.nlck has every weight_hh
    entry moved one float step up or down (numpy's generator seeded k; None:
    not moved), the
    shift's 1e-31 read back as 0, its CRC-32 redone (core/train/checkpoint.c:
    over the whole file with the CRC field read as zeros)"""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    path = os.path.join(dst, "final.nlck")
    raw = bytearray(open(path, "rb").read())
    at, n_params = normlab_files.params_offset(bytes(raw))
    flat = np.frombuffer(bytes(raw[at:at + 4 * n_params]), np.float32).copy()
    flat[np.abs(flat) < 1e-20] = 0.0
    g = 4 * HIDDEN
    hh = slice(g * 28, g * 28 + g * HIDDEN)  # the arena's second tensor
    if k is not None:
        up = np.random.default_rng(k).random(g * HIDDEN) < 0.5
        flat[hh] = np.where(up, np.nextafter(flat[hh], np.float32(np.inf)),
                            np.nextafter(flat[hh], np.float32(-np.inf)))
    raw[at:at + 4 * n_params] = flat.tobytes()
    raw[24:32] = bytes(8)
    struct.pack_into("<Q", raw, 24, zlib.crc32(bytes(raw)))
    open(path, "wb").write(bytes(raw))


def pairs(args, config, sets, shapes, batches, x, y, center):
    """--pairs N: N starts one float step away from normlab's initial
    weights (weight_hh), each trained by normlab (init.from) and by the
    float32 PyTorch copy: paired, so that what chaos does to one start it
    does to both, and a systematic difference shows in every pair"""
    print("pair  span means (%s): normlab | doc32 | normlab - doc32" %
          ", ".join("%d-%d" % s for s in SPANS))
    diffs = []
    for k in range(1, args.pairs + 1):
        start = os.path.join(args.out, "start%d" % k)
        write_perturbed(os.path.join(args.out, "init"), start, k)
        run = os.path.join(args.out, "pair%d" % k)
        normlab(config, run, *sets, "init.from=" + start, "train.log_every=1")
        metrics = read_metrics(run)
        nl = span_means([metrics[s][0] for s in range(1, len(batches) + 1)])
        copy = Copy("doc32", read_final_model(start, shapes), torch.float32, center, False)
        for idx in batches:
            idx = torch.tensor(idx)
            copy.step(x[idx], y[idx])
        mine = span_means(copy.loss)
        diffs.append([a - b for a, b in zip(nl, mine)])
        print("%4d  %s | %s | %s" % (k, " ".join("%.4f" % v for v in nl),
                                     " ".join("%.4f" % v for v in mine),
                                     " ".join("%+.4f" % v for v in diffs[-1])), flush=True)
    print("mean  normlab - doc32: %s" % " ".join(
        "%+.4f" % (sum(d[j] for d in diffs) / len(diffs)) for j in range(len(SPANS))))


def grads(args, config, sets, shapes, batches, x, y, center):
    """--grads-at K1,K2,...: normlab's own gradient of every tensor at its
    weights after K steps, on the first batch: one step of plain SGD (lr
    1000, no momentum, no clipping) from them (init.from), the gradient read
    back as (w - w') / 1000; against PyTorch's in float64, per tensor
    (largest difference over the largest entry)"""
    idx = torch.tensor(batches[0])
    print("normlab's gradient against PyTorch's (float64), at normlab's weights after K steps:")
    print("     K  " + " ".join("%10s" % n[:10] for n, _ in shapes))
    for k in args.grads_at:
        src = os.path.join(args.out, "at%d" % k if k else "init")
        weights_after(args, config, sets, shapes, k)
        if k == 0:
            src = os.path.join(args.out, "start0")
            write_perturbed(os.path.join(args.out, "init"), src, None)
        out = os.path.join(args.out, "grad%d" % k)
        normlab(config, out, *sets, "init.from=" + src, "train.steps=1",
                "train.optimizer.type=sgd", "train.optimizer.lr=1000",
                "train.optimizer.momentum=0", "train.clip_grad_norm=0",
                "train.eval_every=100000")
        w = read_final_model(src, shapes)
        after = read_final_model(out, shapes)
        p = {n: v.double().requires_grad_(True) for n, v in w.items()}
        torch.nn.functional.cross_entropy(forward(p, x[idx].double(), center, False),
                                          y[idx]).backward()
        row = []
        for n, _ in shapes:
            g_nl = (w[n].double() - after[n].double()) / 1000.0
            row.append(((g_nl - p[n].grad).abs().max() / p[n].grad.abs().max()).item())
        print("  %4d  " % k + " ".join("%10.2e" % v for v in row), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--norm", choices=("layer", "rms"), default="layer")
    ap.add_argument("--out", default="/tmp/lnlstm-replay")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="loss difference beyond the float64 twin's that counts as parting")
    ap.add_argument("--reuse", action="store_true",
                    help="the normlab runs of an earlier call in OUT, not run again")
    ap.add_argument("--probe-at", type=lambda v: [int(k) for k in v.split(",")], default=[],
                    help="K1,K2,...: the loss and gradient at normlab's weights after K steps")
    ap.add_argument("--grads-at", type=lambda v: [int(k) for k in v.split(",")], default=[],
                    help="K1,K2,...: normlab's per-tensor gradient at its weights after K steps")
    ap.add_argument("--pairs", type=int, default=0,
                    help="N: N perturbed starts, each trained by normlab and PyTorch (paired)")
    ap.add_argument("--teacher", type=int, default=0,
                    help="K: teacher-forced AdamW steps from normlab's weights, steps 1..K")
    ap.add_argument("--weights-at", type=int, default=0, help="compare weights after K steps")
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = os.path.join(ROOT, "results/ba-ln-lstm/configs/permute_pixels-false_type-%s_seed-%d.yaml"
                          % (args.norm, min(args.seed, 2)))
    sets = ["seed=%d" % args.seed, "model.norm.type=%s" % args.norm]
    os.makedirs(args.out, exist_ok=True)
    if not args.reuse:
        normlab(config, os.path.join(args.out, "init"), *sets, "train.steps=1",
                "train.optimizer.type=sgd", "train.optimizer.lr=1e-30",
                "train.optimizer.momentum=0", "train.eval_every=100000")
        normlab(config, os.path.join(args.out, "run"), *sets, "train.log_every=1")
    shapes = param_shapes(args.norm)
    init = read_final_model(os.path.join(args.out, "init"), shapes)
    for name in init:
        init[name][init[name].abs() < 1e-20] = 0.0
    metrics = read_metrics(os.path.join(args.out, "run"))
    steps = max(metrics)
    nl_loss = [metrics[k][0] for k in range(1, steps + 1)]
    nl_gnorm = [metrics[k][1] for k in range(1, steps + 1)]
    x, y, xt, yt = load_data()
    x = x.reshape(-1, 28, 28)
    xt = xt.reshape(-1, 28, 28)
    center = args.norm == "layer"
    batches = batch_indices(args.seed, steps)
    if args.grads_at:
        grads(args, config, sets, shapes, batches, x, y, center)
        return 0
    if args.pairs:
        pairs(args, config, sets, shapes, batches, x, y, center)
        return 0
    if args.teacher:
        teacher(args, config, sets, shapes, batches, x, y, center)
        return 0
    if args.probe_at:
        probe(args, config, sets, shapes, metrics, batches, x, y, center)
        return 0
    kinds = {"doc32": (torch.float32, False), "doc64": (torch.float64, False),
             "ba32": (torch.float32, True)}
    copies = {name: Copy(name, init, dtype, center, ba) for name, (dtype, ba) in kinds.items()}
    for k, idx in enumerate(batches):
        idx = torch.tensor(idx)
        for c in copies.values():
            c.step(x[idx], y[idx])
        if args.weights_at and k + 1 == args.weights_at:
            compare_weights(args, config, copies, shapes)
    with open(os.path.join(args.out, "replay.csv"), "w") as f:
        f.write("step,normlab_loss,doc32_loss,doc64_loss,ba32_loss,normlab_gnorm,doc32_gnorm,"
                "doc64_gnorm,ba32_gnorm\n")
        for k in range(steps):
            f.write("%d,%s\n" % (k + 1, ",".join("%.8g" % v for v in (
                nl_loss[k], *(copies[c].loss[k] for c in copies), nl_gnorm[k],
                *(copies[c].gnorm[k] for c in copies)))))
    print("step  normlab    doc32      doc64      ba32     | grad norm: normlab doc32 doc64")
    for k in list(range(0, 10)) + list(range(19, steps, 20)):
        print("%4d  %.6f  %.6f  %.6f  %.6f | %.5f %.5f %.5f" % (
            k + 1, nl_loss[k], copies["doc32"].loss[k], copies["doc64"].loss[k],
            copies["ba32"].loss[k], nl_gnorm[k], copies["doc32"].gnorm[k],
            copies["doc64"].gnorm[k]))
    print("first step where the loss parts from normlab's by more than from the float64 "
          "twin's (+ %g): doc32 %s" % (args.tol, first_parting(nl_loss, copies["doc32"].loss,
                                                                copies["doc64"].loss, args.tol)))
    print("mean training loss over steps %s:" % ", ".join("%d-%d" % s for s in SPANS))
    print("  normlab  %s" % "  ".join("%.4f" % v for v in span_means(nl_loss)))
    for name, c in copies.items():
        print("  %-7s  %s   test error %.1f%%" % (name, "  ".join("%.4f" % v for v in
                                                               span_means(c.loss)),
                                                  c.test_error(xt, yt)))
    print("(normlab's final test error: the run's summary; %s)" % os.path.join(args.out, "run"))


if __name__ == "__main__":
    sys.exit(main())
