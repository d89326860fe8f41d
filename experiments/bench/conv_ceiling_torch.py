#!/usr/bin/env python3
"""The convolutions of a normlab training step against the same convolutions
in PyTorch, alone: the ceiling of a convolutional model's end-to-end ratio.

Reads the CSV of bench_layer_times (experiments/bench/layer_times.c: every
layer's median forward and backward microseconds inside normlab's real
steps, a convolution's geometry and whether its input gradient is
computed), times each convolution in PyTorch on the same shapes (random
N(0,1) tensors in NCHW, as eager trains, and channels-last, the layout
inductor gives convolutions, the faster of the two; the weight gradient always and
the input gradient where normlab computes one; the median of --reps calls
after a warm-up, on --threads threads), and prints per convolution and in
all: each side's microseconds, torch / normlab, and each side's share of
the sgemm peak in the CSV's header (the products' FLOPs of the direct
convolution, 2 per multiply-add, as nl_model_flops counts them; normlab's
Winograd does fewer multiplies, so its share can pass 1).

With --ratio (the end-to-end ratio normlab / PyTorch peer that `normlab
bench --run ... --torch` measured on the same config and batch), it also
prints the ceilings: the ratio normlab would reach against that peer if
every part of its step but the convolutions were free (the ratio over the
convolutions' share of the step), and if its convolutions were also as
fast as PyTorch's alone. Shares, not the peer's absolute rate: a rate
measured on a loaded host and times taken by the CPU clock do not mix. The
step here leaves out the optimizer and the data, so the convolutions'
share is the larger and the ceilings are lower bounds.

With --device cuda (a CSV of bench_layer_times --set device=cuda) the
convolutions run on the GPU, as PyTorch trains there: cuDNN, its algorithms
autotuned (torch.backends.cudnn.benchmark), every call waited for before
the clock is read, as bench_layer_times waits for each layer; no sgemm
peak, so no shares.

    .venv-peer/bin/python experiments/bench/conv_ceiling_torch.py LAYERS.csv
        [--threads 1] [--reps 30] [--ratio MEASURED] [--bias] [--cpu-clock]
        [--device cpu|cuda]
"""
import argparse
import csv
import statistics
import sys
import time


def read_layers(path):
    header, rows = [], []
    with open(path) as f:
        lines = [line for line in f]
    header = [line[1:].strip() for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    for r in csv.DictReader(body):
        rows.append(r)
    return header, rows


def peak_of(header):
    for line in header:
        if "peak" in line:
            for word in line.replace(",", " ").split():
                try:
                    return float(word)
                except ValueError:
                    continue
    return None


def batch_of(header):
    for line in header:
        if ", batch " in line:
            return int(line.split(", batch ")[1].split(",")[0])
    sys.exit("conv_ceiling_torch.py: the CSV's header names no batch")


def time_conv(torch, row, n, reps, bias, clock, device):
    """the faster of NCHW and channels-last (inductor's layout for
    convolutions) by forward + backward: (forward µs, backward µs, layout)"""
    times = {}
    for layout in ("nchw", "channels_last"):
        times[layout] = time_conv_in(torch, row, n, reps, bias, clock, layout, device)
    best = min(times, key=lambda k: sum(times[k]))
    return times[best] + (best,)


def time_conv_in(torch, row, n, reps, bias, clock, layout, device):
    f = torch.nn.functional
    g = {k: int(row[k]) for k in ("in_c", "in_h", "in_w", "out_c", "kernel", "stride", "pad")}
    needs_dx = row["input_grad"] == "1"
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.randn(n, g["in_c"], g["in_h"], g["in_w"], device=device).to(memory_format=fmt)
    x.requires_grad_(needs_dx)
    w = torch.randn(g["out_c"], g["in_c"], g["kernel"], g["kernel"],
                    device=device).to(memory_format=fmt)
    w.requires_grad_(True)
    b = torch.zeros(g["out_c"], device=device, requires_grad=True) if bias else None
    fwd, bwd = [], []
    for r in range(reps + 3):
        t0 = clock()
        y = f.conv2d(x, w, b, stride=g["stride"], padding=g["pad"])
        t1 = clock()
        dy = torch.randn_like(y) if r == 0 else dy
        t2 = clock()
        y.backward(dy)
        t3 = clock()
        w.grad = None
        if needs_dx:
            x.grad = None
        if r >= 3:
            fwd.append((t1 - t0) * 1e6)
            bwd.append((t3 - t2) * 1e6)
    return statistics.median(fwd), statistics.median(bwd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("layers")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--ratio", type=float,
                    help="the measured end-to-end ratio normlab / PyTorch peer")
    ap.add_argument("--bias", action="store_true", help="give PyTorch's convolutions a bias")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time by the thread's CPU clock (one thread only), as bench_layer_times "
                         "--cpu-clock: what other processes took is left out")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where PyTorch runs the convolutions (cuda: cuDNN, autotuned)")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("conv_ceiling_torch.py: no torch here (install the peer: python3 -m venv "
                 ".venv-peer && .venv-peer/bin/pip install -r experiments/bench/requirements-peer.txt)")
    if args.cpu_clock and (args.threads != 1 or args.device != "cpu"):
        sys.exit("conv_ceiling_torch.py: --cpu-clock needs --threads 1 and --device cpu")
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.cpu_clock else time.perf_counter
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("conv_ceiling_torch.py: --device cuda, but torch sees no GPU")
        torch.backends.cudnn.benchmark = True

        def clock():
            torch.cuda.synchronize()
            return time.perf_counter()
    header, rows = read_layers(args.layers)
    n, peak = batch_of(header), peak_of(header)
    convs = [r for r in rows if r["kind"].startswith("conv2d")]
    if not convs:
        sys.exit(f"conv_ceiling_torch.py: {args.layers} has no convolution")
    step_us = sum(float(r["forward_us"]) + float(r["backward_us"]) for r in rows)
    for line in header:
        print(f"# {line}")
    where = (f"{torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}"
             if args.device == "cuda" else f"{args.threads} thread(s)")
    print(f"# torch {torch.__version__}, {where}, median of {args.reps} calls, "
          f"clock {'thread cpu' if args.cpu_clock else 'wall'}; batch {n}")
    print()
    print("| convolution | in → out, kernel/stride | normlab fwd + bwd µs | PyTorch fwd + bwd µs "
          "(layout) | PyTorch / normlab | share of peak normlab / PyTorch |")
    print("|---|---|---:|---:|---:|---:|")
    total_nl = total_pt = total_flops = 0.0
    for r in convs:
        nl_f, nl_b = float(r["forward_us"]), float(r["backward_us"])
        pt_f, pt_b, layout = time_conv(torch, r, n, args.reps, args.bias, clock, args.device)
        flops = float(r["forward_flops"]) + float(r["backward_flops"])
        total_nl += nl_f + nl_b
        total_pt += pt_f + pt_b
        total_flops += flops
        share = ""
        if peak:
            share = (f"{flops / (nl_f + nl_b) / 1e3 / peak:.2f} / "
                     f"{flops / (pt_f + pt_b) / 1e3 / peak:.2f}")
        print(f"| {r['layer']} | {r['in_c']}×{r['in_h']}² → {r['out_c']}×{r['out_h']}², "
              f"{r['kernel']}/{r['stride']} | {nl_f:.0f} + {nl_b:.0f} | {pt_f:.0f} + {pt_b:.0f} ({layout}) "
              f"| {(pt_f + pt_b) / (nl_f + nl_b):.2f} | {share} |")
    share = ""
    if peak:
        share = (f"{total_flops / total_nl / 1e3 / peak:.2f} / "
                 f"{total_flops / total_pt / 1e3 / peak:.2f}")
    print(f"| **all {len(convs)}** | | {total_nl:.0f} | {total_pt:.0f} | "
          f"**{total_pt / total_nl:.2f}** | {share} |")
    print()
    print(f"normlab's convolutions: {total_nl:.0f} µs of its {step_us:.0f} µs step "
          f"({100 * total_nl / step_us:.0f}%; the layers' and the loss's medians, without the "
          f"optimizer)")
    if args.ratio:
        print(f"measured end to end: {args.ratio:.2f}x")
        print(f"ceiling, all but normlab's convolutions free: "
              f"{args.ratio * step_us / total_nl:.2f}x")
        print(f"ceiling, all but the convolutions free and normlab's as fast as PyTorch's alone: "
              f"{args.ratio * step_us / min(total_nl, total_pt):.2f}x")


if __name__ == "__main__":
    main()
