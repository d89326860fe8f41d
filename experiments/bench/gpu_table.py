#!/usr/bin/env python3
"""The markdown tables of one or more gpu_checklist.sh result folders (each
call's checklist.tar.gz unpacked, one folder a round, in the order they
ran): normlab's training rate with the step recorded (graph auto) and not,
PyTorch's eager and CUDA-graph step on the same configs, and normlab's
faster mode over PyTorch's faster mode, round k of one side against round
k of the other (a round where PyTorch missed a mode gives no ratio); then the normalization kernels against
PyTorch's, where a folder holds bench_normlab.csv and bench_torch.csv.

  python3 experiments/bench/gpu_table.py CALL1 [CALL2 ...] > table.md

normlab's rates come from each folder's steps.txt ("NAME: "samples_per_s":
X" lines, the run NAME-bBATCH-graph-MODE); which config a NAME trains is
read from gpu_checklist.sh's own `run` lines, so a new timed config needs
no change here. PyTorch's come from the torch-*.txt JSON lines of
torch_cuda_step.py. Plain python3.
"""
import csv
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def config_of_prefix():
    """{"mlp": "mlp-batch", ...} from the checklist's `run "PREFIX-b..." CONFIG` lines"""
    with open(os.path.join(HERE, "gpu_checklist.sh")) as f:
        text = f.read()
    return dict(re.findall(r'^\s*run "?([a-z0-9]+)-b[^ ]* ([a-z0-9-]+) ', text, re.M))


def normlab_rates(folder, configs):
    """{(config, batch, "auto"|"off"): rate} of one round"""
    out = {}
    path = os.path.join(folder, "steps.txt")
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r'\s+([a-z0-9]+)-b(\d+)-graph-(auto|off): "samples_per_s": ([0-9.e+]+)', line)
        if m and m.group(1) in configs:
            out[(configs[m.group(1)], int(m.group(2)), m.group(3))] = float(m.group(4))
    return out


def torch_rates(folder):
    """{(config, batch, "eager"|"graph"): rate} of one round"""
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "torch-*.txt"))):
        for line in open(path):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "samples_per_s" in r:
                out[(r["config"].rsplit(".", 1)[0], r["batch"], r["mode"])] = r["samples_per_s"]
    return out


def short(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    return "%.2fk" % (v / 1e3) if v >= 1e3 else "%.0f" % v


def cell(values):
    return " / ".join(short(v) for v in values)


def span(ratios):
    ratios = [r for r in ratios if r is not None]
    if not ratios:
        return "—"
    lo, hi = min(ratios), max(ratios)
    return "%.2f×" % lo if abs(hi - lo) < 0.005 else "%.2f–%.2f×" % (lo, hi)


def training_table(folders):
    configs = config_of_prefix()
    rounds_n = [normlab_rates(f, configs) for f in folders]
    rounds_t = [torch_rates(f) for f in folders]
    # the rounds that measured normlab, and those that measured torch, in order
    rounds_n = [r for r in rounds_n if r]
    rounds_t = [r for r in rounds_t if r]
    keys = sorted({(c, b) for r in rounds_n for (c, b, _) in r},
                  key=lambda k: (list(configs.values()).index(k[0]) if k[0] in configs.values()
                                 else 99, k[1]))
    lines = ["| config | batch | normlab, graph auto | normlab, graph off | PyTorch eager | "
             "PyTorch, one CUDA graph | normlab / faster PyTorch |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for c, b in keys:
        auto = [r.get((c, b, "auto")) for r in rounds_n]
        off = [r.get((c, b, "off")) for r in rounds_n]
        eager = [r.get((c, b, "eager")) for r in rounds_t]
        graph = [r.get((c, b, "graph")) for r in rounds_t]
        ratios = []
        for k in range(min(len(auto), len(eager))):  # round k of each side
            mine = max(v for v in (auto[k], off[k]) if v is not None) if (auto[k] or off[k]) else None
            # a round whose peer missed a mode (a graph it could not record)
            # has no strongest peer to divide by
            theirs = (eager[k], graph[k])
            ratios.append(mine / max(theirs) if mine and None not in theirs else None)
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            c, b, cell(auto), cell(off), cell(eager), cell(graph), span(ratios)))
    return "\n".join(lines)


def kernel_table(folders):
    rows = {}
    for f in folders:
        for name in ("bench_normlab.csv", "bench_torch.csv"):
            path = os.path.join(f, name)
            if not os.path.exists(path):
                continue
            for r in csv.DictReader(open(path)):
                key = (r["norm"], "%s×%s×%s×%s" % (r["n"], r["c"], r["h"], r["w"]), r["pass"])
                rows.setdefault(key, {})[r["impl"]] = (float(r["median_us"]),
                                                       float(r["pct_of_copy"]))
    if not rows:
        return ""
    lines = ["| normalizer | shape | pass | normlab µs (of copy) | PyTorch µs (of copy) | "
             "PyTorch / normlab |", "|---|---|---|---:|---:|---:|"]
    for (norm, shape, pas), v in rows.items():
        if "normlab" not in v or "torch" not in v:
            continue
        (un, pn), (ut, pt) = v["normlab"], v["torch"]
        lines.append("| %s | %s | %s | %.1f (%.0f%%) | %.1f (%.0f%%) | %.2f |" % (
            norm, shape, pas, un, pn, ut, pt, ut / un))
    return "\n".join(lines)


def main():
    folders = sys.argv[1:]
    if not folders:
        sys.exit(__doc__)
    for f in folders:
        if not os.path.isdir(f):
            sys.exit("gpu_table.py: %s: not a folder" % f)
    print("## Training rate, samples/s (rounds in the order given)\n")
    print(training_table(folders))
    kernels = kernel_table(folders)
    if kernels:
        print("\n## Normalization kernels\n")
        print(kernels)


if __name__ == "__main__":
    main()
