#!/usr/bin/env python3
"""growth.py - how the training step's cost grows with the batch and with the
model's size, normlab and PyTorch on the same log-log axes (issue 56).

    python3 experiments/bench/growth.py run OUT [--normlab build/normlab]
        [--python .venv-peer/bin/python] [--models mlp,cnn,lm,vit,lstm]
        [--batches LIST] [--threads 2] [--quick]
        [--torch-arg=--compile=best ...]
    python3 experiments/bench/growth.py plot OUT

`run` measures, one side after the other per model (never both at once: 2
shared cores), with `normlab bench --training` and torch_bench.py:
  - the step against the batch size at the bench's default model size (2 to
    512 images for the mlp and cnn, fewer for the costlier steps: the lm's
    windows 1 to 64, the vit's images 2 to 256, the lstm's sequences 1 to 128);
  - the step against the model's size at one batch: the lm and vit by depth
    (--layers 1, 2, 4, 8; batch 16), the lstm by width (--hidden 64 .. 512;
    batch 8). The bench's mlp and cnn are fixed models (784-256-256-256-10,
    conv 32 - conv 64): they have the batch figure only.
Each side writes one CSV per model (OUT/normlab-MODEL.csv, OUT/torch-MODEL.csv)
with the bench's columns; `uptime` before each model goes to OUT/load.txt.

`plot` draws OUT/growth-MODEL.png per model (gnuplot): microseconds per sample
against the batch (left) and against depth or width (right), both axes log;
a dashed line of slope 0 on the left marks a cost per sample that does not
grow, and the legend carries each side's fitted slope over the last four
points (0: the work per sample is flat, as it should be; a positive slope at
large batches is a cost growing faster than the work: cache spills).
Plain python3 and gnuplot, no numpy.
"""
import argparse
import csv
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# the model's norm (the quickstart's: batch norm for the MLP and CNN, layer
# norm in the transformer blocks, the plain recurrent cell) and the size axis
# batches: the batch axis (the lm's are windows of 64 tokens, the lstm's
# sequences of 28 steps: a step costs tens of times an image's)
MODELS = {
    "mlp": {"norm": "batch", "size": None, "batches": "2,4,8,16,32,64,128,256,512"},
    "cnn": {"norm": "batch", "size": None, "batches": "2,4,8,16,32,64,128,256,512"},
    "lm": {"norm": "layer", "size": ("layers", [1, 2, 4, 8], 16), "batches": "1,2,4,8,16,32,64"},
    "vit": {"norm": "layer", "size": ("layers", [1, 2, 4, 8], 16), "batches": "2,4,8,16,32,64,128,256"},
    "lstm": {"norm": "none", "size": ("hidden", [64, 128, 256, 512], 8), "batches": "1,2,4,8,16,32,64,128"},
}


def sh(cmd, env=None):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, env=env)


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(args):
    os.makedirs(args.out, exist_ok=True)
    models = args.models.split(",")
    for m in models:
        if m not in MODELS:
            sys.exit(f"growth.py: unknown model '{m}'; accepted: {', '.join(MODELS)}")
    quick = ["--quick"] if args.quick else []
    for m in models:
        spec = MODELS[m]
        with open(os.path.join(args.out, "load.txt"), "a") as f:
            f.write(f"{m}: {uptime()}\n")
        runs = [(["--batch", args.batches or spec["batches"]], "batch")]
        if spec["size"]:
            # the batch figure at the bench's default size only
            runs[0][0].extend([f"--{spec['size'][0]}", str(default_size(m))])
        if spec["size"]:
            key, values, batch = spec["size"]
            if key == "hidden":
                runs.append((["--batch", str(batch), "--hidden", ",".join(map(str, values))], key))
            else:
                for v in values:
                    runs.append((["--batch", str(batch), f"--{key}", str(v)], key))
        for side in ("normlab", "torch"):
            csv_path = os.path.join(args.out, f"{side}-{m}.csv")
            if os.path.exists(csv_path):
                os.remove(csv_path)
            for extra, _ in runs:
                common = ["--training", "--model", m, "--norm", spec["norm"], "--threads",
                          str(args.threads), "--csv", csv_path] + extra + quick
                if side == "normlab":
                    # normlab bench writes its CSV whole: one file per run, appended
                    part = csv_path + ".part"
                    sh([args.normlab, "bench"] + [a if a != csv_path else part for a in common])
                    append_csv(part, csv_path)
                else:
                    sh([args.python, os.path.join(HERE, "torch_bench.py")] + common +
                       args.torch_arg)


def append_csv(part, path):
    """the rows of `part` appended to `path` (its header only when new)"""
    with open(part) as f:
        lines = f.readlines()
    os.remove(part)
    new = not os.path.exists(path)
    with open(path, "a") as f:
        f.writelines(lines if new else lines[1:])


def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["section"].startswith("train") and
                r.get("samples_per_s")]


def size_of(model, row):
    """the depth or width a row was measured at, from its shape column"""
    key = MODELS[model]["size"][0]
    shape = row["shape"]
    for part in shape.replace("_", "-").split("-"):
        if key == "layers" and part.startswith("L") and part[1:].isdigit():
            return int(part[1:])
        if key == "hidden" and part.startswith("H") and part[1:].isdigit():
            return int(part[1:])
    return None


def slope(points):
    """least-squares slope of log(y) on log(x) over the last four points"""
    pts = sorted(points)[-4:]
    if len(pts) < 2:
        return float("nan")
    xs = [math.log(x) for x, _ in pts]
    ys = [math.log(y) for _, y in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")


def series(model, rows, axis):
    """(x, microseconds per sample) of the rows on one axis, best per x"""
    spec = MODELS[model]
    best = {}
    for r in rows:
        batch = int(r["batch"])
        if axis == "batch":
            if spec["size"] and size_of(model, r) != default_size(model):
                continue
            x = batch
        else:
            if batch != spec["size"][2]:
                continue
            x = size_of(model, r)
            if x is None:
                continue
        us = 1e6 / float(r["samples_per_s"])
        best[x] = min(best.get(x, us), us)
    return sorted(best.items())


def default_size(model):
    return {"lm": 5, "vit": 5, "lstm": 128}.get(model)


def plot(args):
    drawn = 0
    for m in MODELS:
        sides = {s: read_rows(os.path.join(args.out, f"{s}-{m}.csv")) for s in ("normlab", "torch")}
        if not sides["normlab"] and not sides["torch"]:
            continue
        axes = ["batch"] + (["size"] if MODELS[m]["size"] else [])
        gp = [f'set terminal pngcairo size {700 * len(axes)},520 font "DejaVu Sans,11"',
              f'set output "growth-{m}.png"', "set logscale xy", "set grid",
              "set key top right", f"set multiplot layout 1,{len(axes)} title "
              f'"{m}: microseconds per sample, training step (log-log)"']
        for axis in axes:
            label = "batch size" if axis == "batch" else MODELS[m]["size"][0]
            data = os.path.join(args.out, f"growth-{m}-{axis}.dat")
            plots = []
            with open(data, "w") as f:
                for i, side in enumerate(("normlab", "torch")):
                    pts = series(m, sides[side], axis)
                    f.write(f"# {side}\n")
                    for x, y in pts:
                        f.write(f"{x} {y:.6g}\n")
                    f.write("\n\n")
                    if pts:
                        plots.append(f'"{os.path.basename(data)}" index {i} with linespoints '
                                     f'lw 2 title "{side} (slope {slope(pts):.2f})"')
            if axis == "size":
                b = MODELS[m]["size"][2]
                gp.append(f'set title "against {label} (batch {b})"')
            else:
                gp.append('set title "against the batch size"')
            gp.append(f'set xlabel "{label}"')
            gp.append('set ylabel "us per sample"')
            gp.append("plot " + ", ".join(plots) if plots else "plot 1/0 notitle")
        gp.append("unset multiplot")
        path = os.path.join(args.out, f"growth-{m}.gp")
        with open(path, "w") as f:
            f.write("\n".join(gp) + "\n")
        subprocess.run(["gnuplot", os.path.basename(path)], cwd=args.out, check=True)
        drawn += 1
    if not drawn:
        sys.exit(f"growth.py: no normlab-*.csv or torch-*.csv in {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out")
    r.add_argument("--normlab", default="build/normlab")
    r.add_argument("--python", default=".venv-peer/bin/python")
    r.add_argument("--models", default=",".join(MODELS))
    r.add_argument("--batches", help="the batch axis of every model (default: each model's own)")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--quick", action="store_true")
    r.add_argument("--torch-arg", action="append", default=[],
                   help="passed to torch_bench.py (repeatable), e.g. --torch-arg=--compile=best")
    p = sub.add_parser("plot")
    p.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "run":
        measure(args)
    plot(args)


if __name__ == "__main__":
    main()
