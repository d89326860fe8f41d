#!/usr/bin/env python3
"""PyTorch's normalization kernels on the GPU, measured like
experiments/bench_cuda_norm.c measures normlab's, for side-by-side numbers.

Each normalizer's forward (training mode; batch norm updates its running
statistics) and backward (dx, dgamma, dbeta from a given dy) on
(32, 64, 56, 56) and (256, 256, 14, 14), float32. Time: the median over
--reps repetitions of --calls back-to-back calls between two synchronizes.
Bandwidth: forward reads x and writes y, backward reads x and dy and writes
dx; the reference is a 256 MiB device-to-device copy (read + write) measured
in the same run.

    python3 experiments/bench_cuda_norm_torch.py [--csv FILE] [--reps N] [--calls N] [--groups G]

Writes CSV with the columns of bench_cuda_norm.c (impl = torch), so the two
files concatenate.
"""
import argparse
import csv
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn, reps, calls):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def copy_bandwidth(reps, calls):
    n = (256 << 20) // 4
    a = torch.ones(n, device="cuda")
    b = torch.empty_like(a)
    t = timed(lambda: b.copy_(a), reps, calls)
    return 2.0 * n * 4 / t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default="bench_cuda_norm_torch.csv")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--groups", type=int, default=32)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_cuda_norm_torch: no CUDA device visible to PyTorch")
    torch.backends.cudnn.benchmark = False
    dev = torch.cuda.get_device_properties(0)
    device = "%s, compute capability %d.%d, torch %s, CUDA %s, cuDNN %s" % (
        dev.name, dev.major, dev.minor, torch.__version__, torch.version.cuda,
        torch.backends.cudnn.version())
    copy_bw = copy_bandwidth(args.reps, args.calls)
    print("device:", device)
    print("device-to-device copy (256 MiB, read + write): %.1f GB/s\n" % (copy_bw / 1e9))
    print("%-9s %6s  %-18s %-8s %10s %10s %8s" % ("norm", "groups", "shape", "pass",
                                                  "median us", "GB/s", "% copy"))
    rows = []
    for (n, c, h, w) in [(32, 64, 56, 56), (256, 256, 14, 14)]:
        g = torch.Generator(device="cuda").manual_seed(1)
        x = (torch.randn(n, c, h, w, device="cuda", generator=g) * 2 + 0.5).requires_grad_()
        dy = torch.randn(n, c, h, w, device="cuda", generator=g)
        gamma = (torch.randn(c, device="cuda", generator=g) * 0.2 + 1).requires_grad_()
        beta = (torch.randn(c, device="cuda", generator=g) * 0.2).requires_grad_()
        rm = torch.zeros(c, device="cuda")
        rv = torch.ones(c, device="cuda")
        kinds = [
            ("batch", 0, lambda t: F.batch_norm(t, rm, rv, gamma, beta, True, 0.1, 1e-5)),
            ("layer", 1, lambda t: F.group_norm(t, 1, gamma, beta, 1e-5)),
            ("group", args.groups, lambda t: F.group_norm(t, args.groups, gamma, beta, 1e-5)),
            ("instance", c, lambda t: F.instance_norm(t, weight=gamma, bias=beta, eps=1e-5)),
        ]
        count = n * c * h * w
        for name, groups, fn in kinds:
            if groups > 0 and c % groups:
                print("%-9s %6d  skipped: %d groups do not divide %d channels"
                      % (name, groups, groups, c))
                continue
            with torch.no_grad():
                t_fwd = timed(lambda: fn(x), args.reps, args.calls)
            y = fn(x)
            t_bwd = timed(lambda: torch.autograd.grad(y, (x, gamma, beta), dy, retain_graph=True),
                          args.reps, args.calls)
            for pass_name, t, factor in (("forward", t_fwd, 2), ("backward", t_bwd, 3)):
                nbytes = count * 4 * factor
                bw = nbytes / t
                shape = "(%d,%d,%d,%d)" % (n, c, h, w)
                print("%-9s %6d  %-18s %-8s %10.1f %10.1f %7.1f%%"
                      % (name, groups, shape, pass_name, t * 1e6, bw / 1e9, 100 * bw / copy_bw))
                rows.append(["torch", device, name, groups, n, c, h, w, pass_name,
                             "%.3f" % (t * 1e6), nbytes, "%.2f" % (bw / 1e9),
                             "%.2f" % (copy_bw / 1e9), "%.2f" % (100 * bw / copy_bw)])
    with open(args.csv, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["impl", "device", "norm", "groups", "n", "c", "h", "w", "pass",
                      "median_us", "bytes", "gbps", "copy_gbps", "pct_of_copy"])
        out.writerows(rows)
    print("\nwrote", args.csv)


if __name__ == "__main__":
    main()
