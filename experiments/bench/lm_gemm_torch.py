#!/usr/bin/env python3
"""lm_gemm_torch.py - the LM step's linear products in PyTorch, the same
shapes and products as lm_gemm_ceiling.c times with OpenBLAS's sgemm:
forward y = x W^T + b (addmm), backward dx = dy W and dW = dy^T x, per
block the fused q/k/v projection d -> 3d, the output projection d -> d,
the MLP's d -> 4d and 4d -> d, then the tied head d -> vocab; best of many
short repetitions on one process's threads.

Why (issue 56): torch 2.15 from PyPI multiplies with its own bundled BLAS
(MKL on x86 when it is there, else its own kernels), not the system's
OpenBLAS that normlab and Debian's 1.13 share. Where the LM's end-to-end
ratio falls, this says how much of it is the products alone: run it beside
lm_gemm_ceiling at the same windows and threads and compare the GFLOP/s
column shape by shape.

    OMP_NUM_THREADS=2 .venv-peer/bin/python experiments/bench/lm_gemm_torch.py [WINDOWS [REPS]]
"""
import sys
import time

import torch

D, LAYERS, CONTEXT, VOCAB, MLP_RATIO = 128, 5, 64, 256, 4


def best(fn, reps):
    fn()
    fastest = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest


def main():
    windows = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    n, wide = windows * CONTEXT, MLP_RATIO * D
    shapes = [("qkv", D, 3 * D, LAYERS, True), ("proj", D, D, LAYERS, True),
              ("mlp up", D, wide, LAYERS, True), ("mlp down", wide, D, LAYERS, True),
              ("head (tied)", D, VOCAB, 1, False)]
    g = torch.Generator().manual_seed(1)
    print(f"lm_gemm_torch: torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}, "
          f"MKL {torch.backends.mkl.is_available()}), {windows} windows of {CONTEXT} tokens "
          f"({n} rows), {torch.get_num_threads()} threads, best of {reps}")
    print(f"{'product':12s} {'fwd ms':>9s} {'dx ms':>9s} {'dW ms':>9s} {'GFLOP/s':>9s}")
    step = 0.0
    flops_step = 0.0
    with torch.no_grad():
        for name, fan_in, fan_out, per_step, bias in shapes:
            x = torch.randn(n, fan_in, generator=g)
            w = torch.randn(fan_out, fan_in, generator=g)
            b = torch.randn(fan_out, generator=g)
            dy = torch.randn(n, fan_out, generator=g)
            y = torch.empty(n, fan_out)
            dx = torch.empty(n, fan_in)
            dw = torch.empty(fan_out, fan_in)
            if bias:
                fwd = best(lambda: torch.addmm(b, x, w.t(), out=y), reps)
            else:
                fwd = best(lambda: torch.mm(x, w.t(), out=y), reps)
            bx = best(lambda: torch.mm(dy, w, out=dx), reps)
            bw = best(lambda: torch.mm(dy.t(), x, out=dw), reps)
            flops = 3 * 2.0 * n * fan_in * fan_out
            print(f"{name:12s} {fwd * 1e3:9.3f} {bx * 1e3:9.3f} {bw * 1e3:9.3f} "
                  f"{flops / (fwd + bx + bw) * 1e-9:9.1f}")
            step += per_step * (fwd + bx + bw)
            flops_step += per_step * flops
    print(f"products of one step: {step * 1e3:.2f} ms, {flops_step / step * 1e-9:.1f} GFLOP/s; "
          f"{n / step:.0f} tokens/s with everything else free")


if __name__ == "__main__":
    main()
