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
    batch 8).
The bench's mlp and cnn are fixed models (784-256-256-256-10, conv 32 - conv
64), and it has no ResNet; their width axis, and the ResNet's two axes, are
real runs instead: `normlab bench --run CONFIG --torch --torch-mode eager
--rounds 1` (torch_run.py on the same resolved config, whole runs of about
2048 samples, the steady state) of the quickstart's MLP (widths [w, w]) and
CNN ([w, 2w], batch 32) and of configs/resnet-pre-layer.yaml ([w, 2w],
batch 16; and at its own [16, 32] across the batch). Their rows say
section train_run, their shape W<w>.
Each side writes one CSV per model (OUT/normlab-MODEL.csv, OUT/torch-MODEL.csv)
with the bench's columns, and the runs' rows to OUT/SIDE-MODEL-runs.csv;
`uptime` before each model goes to OUT/load.txt.

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
    "mlp": {"norm": "batch", "size": ("width", [64, 128, 256, 512, 1024], 32),
            "batches": "2,4,8,16,32,64,128,256,512"},
    "cnn": {"norm": "batch", "size": ("width", [8, 16, 32, 64], 32),
            "batches": "2,4,8,16,32,64,128,256,512"},
    "resnet": {"norm": "layer", "size": ("width", [8, 16, 32, 64], 16), "batches": "2,4,8,16,32,64,128"},
    "lm": {"norm": "layer", "size": ("layers", [1, 2, 4, 8], 16), "batches": "1,2,4,8,16,32,64"},
    "vit": {"norm": "layer", "size": ("layers", [1, 2, 4, 8], 16), "batches": "2,4,8,16,32,64,128,256"},
    "lstm": {"norm": "none", "size": ("hidden", [64, 128, 256, 512], 8), "batches": "1,2,4,8,16,32,64,128"},
}

# The axes measured as real runs (bench --run): the config and its --set
# arguments, the widths a width w gives, and whether the batch axis is runs
# too (the ResNet: the bench has no ResNet step)
IMAGES = ["--set", "data.train_size=4096", "--set", "data.test_size=500"]
RUNS = {
    "mlp": {"config": "configs/quickstart-cnn.yaml",
            "sets": IMAGES + ["--set", "model.arch=mlp", "--set", "train.optimizer.lr=0.02"],
            "widths": lambda w: [w, w], "label": "[w, w]", "batch_axis": False},
    "cnn": {"config": "configs/quickstart-cnn.yaml",
            "sets": IMAGES + ["--set", "train.optimizer.lr=0.01"],
            "widths": lambda w: [w, 2 * w], "label": "[w, 2w]", "batch_axis": False},
    "resnet": {"config": "configs/resnet-pre-layer.yaml", "sets": IMAGES,
               "widths": lambda w: [w, 2 * w], "label": "[w, 2w]", "batch_axis": True},
}
RUN_SAMPLES = 2048


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
        if m in RUNS:
            measure_runs(args, m)
            if RUNS[m]["batch_axis"]:
                continue
        runs = [(["--batch", args.batches or spec["batches"]], "batch")]
        if spec["size"] and m not in RUNS:
            # the batch figure at the bench's default size only
            runs[0][0].extend([f"--{spec['size'][0]}", str(default_size(m))])
        if spec["size"] and m not in RUNS:
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


def measure_runs(args, m):
    """the run-measured points of model m, into normlab-m.csv and torch-m.csv
    (started afresh): each point one `normlab bench --run ... --torch` round"""
    run, (_, widths, size_batch) = RUNS[m], MODELS[m]["size"]
    points = [(w, size_batch) for w in widths]
    if run["batch_axis"]:
        batches = args.batches or MODELS[m]["batches"]
        points += [(default_size(m), int(b)) for b in batches.split(",")]
    out = {side: os.path.join(args.out, f"{side}-{m}-runs.csv") for side in ("normlab", "torch")}
    for path in out.values():
        if os.path.exists(path):
            os.remove(path)
    fields = ["section", "model", "norm", "batch", "samples_per_s", "shape", "threads", "load1",
              "cpu_model", "isa", "openblas_core", "commit"]
    for path in out.values():
        with open(path, "w", newline="") as f:
            csv.writer(f).writerow(fields)
    done = set()
    for w, batch in points:
        if (w, batch) in done:
            continue
        done.add((w, batch))
        steps = max(20, min(200, RUN_SAMPLES // batch if not args.quick else 0))
        part = os.path.join(args.out, f".{m}-run.csv")
        widths = ",".join(str(v) for v in run["widths"](w))
        sh([args.normlab, "bench", "--run", run["config"]] + run["sets"] +
           ["--set", f"model.widths=[{widths}]", "--set", f"train.batch_size={batch}",
            "--set", f"train.steps={steps}", "--set", f"train.log_every={max(2, steps // 16)}",
            "--set", "train.eval_every=1000000", "--set", "train.eval_batch_size=128",
            "--torch", "--torch-mode", "eager", "--rounds", "1", "--threads", str(args.threads),
            "--python", args.python, "--csv", part])
        with open(part) as f:
            rows = [r for r in csv.DictReader(f) if r["section"] == "run"]
        os.remove(part)
        for r in rows:
            side = "normlab" if r["impl"] == "normlab" else "torch"
            with open(out[side], "a", newline="") as f:
                csv.writer(f).writerow(["train_run", m, r["norm"], r["batch"], r["steady_per_s"],
                                        f"W{w}", r["threads"], r["load1"], r["cpu_model"],
                                        r["isa"], r["openblas_core"], r["commit"]])


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
    if key == "width":
        return int(shape[1:]) if shape.startswith("W") and shape[1:].isdigit() else None
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
    run_batch = model in RUNS and RUNS[model]["batch_axis"]
    for r in rows:
        batch = int(r["batch"])
        by_run = r["section"] == "train_run"
        if axis == "batch":
            if by_run != run_batch:
                continue
            if spec["size"] and (by_run or model not in RUNS) and \
                    size_of(model, r) != default_size(model):
                continue
            x = batch
        else:
            if batch != spec["size"][2] or (model in RUNS) != by_run:
                continue
            x = size_of(model, r)
            if x is None:
                continue
        us = 1e6 / float(r["samples_per_s"])
        best[x] = min(best.get(x, us), us)
    return sorted(best.items())


def default_size(model):
    return {"lm": 5, "vit": 5, "lstm": 128, "resnet": 16}.get(model)


def plot(args):
    drawn = 0
    for m in MODELS:
        sides = {s: read_rows(os.path.join(args.out, f"{s}-{m}.csv")) +
                 read_rows(os.path.join(args.out, f"{s}-{m}-runs.csv")) for s in ("normlab", "torch")}
        if not sides["normlab"] and not sides["torch"]:
            continue
        axes = ["batch"] + (["size"] if MODELS[m]["size"] else [])
        gp = [f'set terminal pngcairo size {700 * len(axes)},520 font "DejaVu Sans,11"',
              f'set output "growth-{m}.png"', "set logscale xy", "set grid",
              "set key top right", f"set multiplot layout 1,{len(axes)} title "
              f'"{m}: microseconds per sample, training (log-log)"']
        for axis in axes:
            label = "batch size" if axis == "batch" else ("width w" if m in RUNS else MODELS[m]["size"][0])
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
            runs = m in RUNS and (axis == "size" or RUNS[m]["batch_axis"])
            what = ", whole runs, torch eager" if runs else ", the step"
            if axis == "size":
                b = MODELS[m]["size"][2]
                first = "width w of widths " + RUNS[m]["label"] if m in RUNS else label
                gp.append(f'set title "against the {first} (batch {b}{what})"')
            else:
                gp.append(f'set title "against the batch size{what}"')
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
