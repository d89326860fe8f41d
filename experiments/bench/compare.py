#!/usr/bin/env python3
"""Joins `normlab bench --csv` with torch_bench.py's CSV into ratio tables.

usage: python3 experiments/bench/compare.py NORMLAB.csv[,MORE.csv] TORCH.csv[,MORE.csv]
                                          [--out DIR] [--no-plot] [--fastest] [--rounds]

Prints Markdown on stdout and writes, under --out (default results/bench):
  ratios.csv  one row per joined measurement: normlab's value, PyTorch's best
              value over its threading settings (and which setting), PyTorch's
              "default" setting, ratio = normlab / PyTorch best (> 1: normlab
              is faster); for training rows each side's share of the peak:
              its samples/s x normlab's FLOPs per sample / normlab's measured
              peak (columns flops, peak_gflops; the same FLOPs for both sides)
  ratios.gp   a gnuplot script (data inline) drawing ratios.png; run with gnuplot
              (done here unless --no-plot)

Metrics: training samples/s per (model, norm, groups, batch); recurrent
training (section train_rnn, --model lstm / gru) sequences/s per (cell,
shape, batch); normalizer
effective GB/s per (norm, groups, shape, mode); conv/linear GFLOP/s per (model,
layer, batch, mode); the references (copy GB/s, sgemm GFLOP/s) for context.
When a CSV holds several rows for one key (several settings or runs), each
side's best is taken (so several CSVs can be given, comma-separated).
The precision is part of every key: normlab's rows carry it in the setting
(`+precision=bf16`, none for fp32), torch_bench.py's in its `precision`
column (absent in older CSVs: fp32), so a bf16 step is only ever compared
with a bf16 step, and fp32 and bf16 rows of one CSV stay apart. The
normalizer kernels and the copy and sgemm references run no product op,
so they are fp32 whatever the run's precision and join as fp32.
--fastest compares the fastest repetitions instead of the medians: a fairer
view when the machine was busy, never a substitute for a quiet run.
--rounds pairs the comma-separated CSVs in order (round R: the R-th of each
side, measured one after the other, as run_lm.sh alternates them) and adds
the training ratios per round and their median and range: on a shared
machine a ratio from one interleaved pair says more than one side's best of
several runs.
Plain python3, standard library only.
"""
import argparse
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

NORM_ORDER = []  # main fills it: the order normlab measured the normalizers in (its registry's)
MODE_ORDER = ["fwd_train", "fwd_eval", "bwd", "fwd_bwd"]


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return math.nan
    return v


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# sections whose measurement no product op takes part in: the precision
# a run was given does not reach them
FP32_ONLY = ("norm", "copy", "sgemm")


def precision_of(r):
    """the precision a row was measured at: torch_bench.py's column, else
    normlab's `+precision=P` in the setting, else fp32 (neither says fp32)"""
    if r["section"] in FP32_ONLY:
        return "fp32"
    if r.get("precision"):
        return r["precision"]
    for part in r.get("setting", "").split("+"):
        if part.startswith("precision="):
            return part[len("precision="):]
    return "fp32"


def key_of(r):
    """(section, model, norm, groups, batch, kernel, shape, mode, precision)"""
    s, p = r["section"], precision_of(r)
    if s == "train":
        return (s, r["model"], r["norm"], r["groups"], int(r["batch"]), "", "", "", p)
    if s == "train_rnn":
        return (s, r["model"], r["norm"], "", int(r["batch"]), "", r["shape"], "", p)
    if s == "norm":
        return (s, "", r["norm"], r["groups"], int(r["batch"]), r["kernel"], r["shape"], r["mode"],
                p)
    if s == "layer":
        return (s, r["model"], "", "", int(r["batch"]), r["kernel"], r["shape"], r["mode"], p)
    if s == "eval":
        return (s, r["model"], r["norm"], "", int(r["batch"]), r["kernel"], "", r["mode"], p)
    if s in ("copy", "sgemm"):
        return (s, "", "", "", int(r["batch"] or 0), r["kernel"], r["shape"], r["mode"], p)
    return None


METRIC = {"train": "samples_per_s", "train_rnn": "samples_per_s", "eval": "samples_per_s", "norm": "gbps", "layer": "gflops", "copy": "gbps",
          "sgemm": "gflops"}


def best_by_key(rows, fastest=False):
    """key -> {setting: best value}; fastest: from the fastest repetition
    (min_us) instead of the median, for runs on a noisy machine"""
    out = defaultdict(dict)
    for r in rows:
        k = key_of(r)
        if k is None:
            continue
        v = num(r[METRIC[k[0]]])
        if fastest:
            # every metric is inversely proportional to the time
            v *= num(r["median_us"]) / num(r["min_us"])
        if not math.isfinite(v):
            continue
        s = r["setting"]
        if v > out[k].get(s, -1.0):
            out[k][s] = v
    return out


def flops_and_peak(nl_rows):
    """key -> (FLOPs per sample, peak GFLOP/s) from normlab's training rows
    (columns flops and peak_gflops; a CSV from before the peak probe has
    no peak): both sides are credited the same FLOPs"""
    out = {}
    for r in nl_rows:
        k = key_of(r)
        if k is None or k[0] not in ("train", "train_rnn"):
            continue
        flops, peak = num(r.get("flops")), num(r.get("peak_gflops"))
        if math.isfinite(flops) and math.isfinite(peak) and peak > 0:
            out[k] = (flops, peak)
    return out


def share_of_peak(per_s, flops_peak):
    """samples/s as a share of the measured peak, or nan"""
    if flops_peak is None or not math.isfinite(per_s):
        return math.nan
    return per_s * flops_peak[0] / 1e9 / flops_peak[1]


def fmt(v, digits=0):
    if v is None or not math.isfinite(v):
        return "-"
    return "%.*f" % (digits, v)


def join(nl_rows, torch_rows, fastest=False):
    nl, th = best_by_key(nl_rows, fastest), best_by_key(torch_rows, fastest)
    fp = flops_and_peak(nl_rows)
    # mlp before cnn, normalizers in their usual order, batches ascending;
    # shapes, layers and modes in the order they were measured
    first = {}
    for r in nl_rows + torch_rows:
        for f in ("shape", "kernel", "mode"):
            first.setdefault((f, r[f]), len(first))
    sections = ["train", "norm", "layer", "sgemm", "copy", "eval", "train_rnn"]
    models = {"mlp": 0, "cnn": 1}

    def order(k):
        sec, model, norm, groups, batch, kernel, shape, mode, precision = k
        m, n = models.get(model, 2), NORM_ORDER.index(norm) if norm in NORM_ORDER else 9
        f = lambda what, v: first.get((what, v), 1 << 30)
        # a precision's rows beside the same point's other precisions, fp32 first
        p = (0 if precision == "fp32" else 1, precision)
        if sec == "train":
            return (0, m, n, batch, p)
        if sec == "norm":
            return (1, f("shape", shape), n, MODE_ORDER.index(mode) if mode in MODE_ORDER else 9, p)
        if sec == "layer":
            return (2, m, batch, f("kernel", kernel), 0 if mode == "fwd" else 1, p)
        if sec == "eval":
            return (5, m, batch, 0 if mode == "unfolded" else 1, p)
        if sec == "train_rnn":
            return (6, model, f("shape", shape), batch, p)
        return (sections.index(sec), f("shape", shape), batch, p)

    joined = []
    for k in sorted(set(nl) | set(th), key=order):
        nv = max(nl[k].values()) if k in nl else math.nan
        ts = th.get(k, {})
        if ts:
            best_setting = max(ts, key=ts.get)
            tv = ts[best_setting]
        else:
            best_setting, tv = "", math.nan
        joined.append(dict(key=k, normlab=nv, torch_best=tv, torch_best_setting=best_setting,
                           torch_default=ts.get("default", math.nan),
                           ratio=nv / tv if math.isfinite(nv) and tv > 0 else math.nan,
                           normlab_share=share_of_peak(nv, fp.get(k)),
                           torch_share=share_of_peak(tv, fp.get(k))))
    return joined


def label_norm(norm, groups):
    return "group(%s)" % groups if norm == "group" and groups else norm


def tagged(label, key):
    """a row's first label, with the key's precision unless it is fp32"""
    return label if key[8] == "fp32" else "%s %s" % (label, key[8])


def markdown(joined, nl_rows, torch_rows):
    lines = []
    th_settings = sorted({r["setting"] for r in torch_rows})
    nl_settings = sorted({r["setting"] for r in nl_rows})
    threads = sorted({r["threads"] for r in nl_rows + torch_rows})
    lines.append("normlab settings: %s; PyTorch settings: %s; threads: %s" % (
        ", ".join(nl_settings), ", ".join(th_settings), ", ".join(threads)))
    lines.append("ratio = normlab / PyTorch's best setting (> 1: normlab faster)\n")

    def table(title, header, rows):
        if not rows:
            return
        # text columns left, numbers right
        ntext = header.index("normlab")
        lines.append("### " + title + "\n")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" if i < ntext or header[i] == "best setting" else "---:"
                                    for i in range(len(header))) + "|")
        for r in rows:
            lines.append("| " + " | ".join(r) + " |")
        lines.append("")

    sec = lambda s: [j for j in joined if j["key"][0] == s]
    table("training: samples/s",
          ["model", "norm", "batch", "normlab", "PyTorch best", "best setting", "PyTorch default",
           "ratio", "normlab share of peak", "PyTorch share of peak"],
          [[tagged(j["key"][1], j["key"]), label_norm(j["key"][2], j["key"][3]), str(j["key"][4]),
            fmt(j["normlab"]), fmt(j["torch_best"]), j["torch_best_setting"] or "-",
            fmt(j["torch_default"]), fmt(j["ratio"], 2), fmt(j["normlab_share"], 3),
            fmt(j["torch_share"], 3)] for j in sec("train")])
    table("normalizers: effective GB/s (minimal traffic)",
          ["norm", "shape", "mode", "normlab", "PyTorch best", "best setting", "PyTorch default",
           "ratio"],
          [[tagged(label_norm(j["key"][2], j["key"][3]), j["key"]), j["key"][6], j["key"][7],
            fmt(j["normlab"], 1),
            fmt(j["torch_best"], 1), j["torch_best_setting"] or "-", fmt(j["torch_default"], 1),
            fmt(j["ratio"], 2)] for j in sec("norm")])
    table("conv and linear layers: GFLOP/s",
          ["model", "layer", "batch", "mode", "normlab", "PyTorch best", "best setting", "ratio"],
          [[tagged(j["key"][1], j["key"]), j["key"][5], str(j["key"][4]), j["key"][7],
            fmt(j["normlab"], 1),
            fmt(j["torch_best"], 1), j["torch_best_setting"] or "-", fmt(j["ratio"], 2)]
           for j in sec("layer")])
    table("references (copy GB/s, sgemm GFLOP/s)",
          ["what", "shape", "-", "normlab", "PyTorch best", "best setting", "PyTorch default",
           "ratio"],
          [[tagged(j["key"][5], j["key"]), j["key"][6], "", fmt(j["normlab"], 1),
            fmt(j["torch_best"], 1),
            j["torch_best_setting"] or "-", fmt(j["torch_default"], 1), fmt(j["ratio"], 2)]
           for j in sec("sgemm") + sec("copy")])
    table("eval forward, batch norm unfolded and folded: samples/s",
          ["model", "batch", "mode", "normlab", "PyTorch best", "best setting", "PyTorch default",
           "ratio"],
          [[tagged(j["key"][1], j["key"]), str(j["key"][4]), j["key"][7], fmt(j["normlab"]),
            fmt(j["torch_best"]),
            j["torch_best_setting"] or "-", fmt(j["torch_default"]), fmt(j["ratio"], 2)]
           for j in sec("eval")])
    table("recurrent training (lstm, gru): sequences/s",
          ["cell", "shape", "batch", "normlab", "PyTorch best", "best setting", "PyTorch default",
           "ratio"],
          [[tagged(j["key"][1], j["key"]), j["key"][6], str(j["key"][4]), fmt(j["normlab"], 1),
            fmt(j["torch_best"], 1), j["torch_best_setting"] or "-", fmt(j["torch_default"], 1),
            fmt(j["ratio"], 2)] for j in sec("train_rnn")])
    precisions = list(dict.fromkeys(j["key"][8] for j in sec("train")))
    for p in precisions:
        tr = [j["ratio"] for j in sec("train") if j["key"][8] == p and math.isfinite(j["ratio"])]
        if tr:
            geo = math.exp(sum(math.log(v) for v in tr) / len(tr))
            lines.append("training ratio%s: geometric mean %.2f, min %.2f, max %.2f over %d points"
                         % ("" if precisions == ["fp32"] else " (%s)" % p, geo, min(tr), max(tr),
                            len(tr)))
    return "\n".join(lines)


def round_ratios(nl_paths, torch_paths, fastest):
    """Markdown: the training ratios of each interleaved round (normlab's
    R-th CSV against PyTorch's R-th) and their median and range"""
    per_key = defaultdict(list)
    for nl_path, torch_path in zip(nl_paths, torch_paths):
        nl_rows = [r for r in read(nl_path) if r["impl"] == "normlab"]
        torch_rows = [r for r in read(torch_path) if r["impl"] == "torch"]
        for j in join(nl_rows, torch_rows, fastest):
            if j["key"][0] in ("train", "train_rnn") and math.isfinite(j["ratio"]):
                per_key[j["key"]].append(j["ratio"])
    lines = ["### training ratio per interleaved round (normlab / PyTorch best)\n",
             "| model | norm | shape | batch | rounds | ratio median | min | max | per round |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for k, ratios in per_key.items():
        lines.append("| %s | %s | %s | %d | %d | %.2f | %.2f | %.2f | %s |" % (
            tagged(k[1], k), label_norm(k[2], k[3]), k[6] or "-", k[4], len(ratios),
            statistics.median(ratios), min(ratios), max(ratios),
            " ".join("%.2f" % v for v in ratios)))
    return "\n".join(lines)


def write_csv(path, joined):
    cols = ["section", "model", "norm", "groups", "batch", "kernel", "shape", "mode", "precision",
            "metric", "normlab", "torch_best", "torch_best_setting", "torch_default", "ratio",
            "normlab_share", "torch_share"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for j in joined:
            k = j["key"]
            w.writerow(list(k) + [METRIC[k[0]]] + [
                "%.6g" % j[c] if isinstance(j[c], float) and math.isfinite(j[c])
                else ("" if isinstance(j[c], float) else j[c])
                for c in ("normlab", "torch_best", "torch_best_setting", "torch_default", "ratio",
                          "normlab_share", "torch_share")])


def gnuplot_script(joined, png):
    """three panels: mlp training, cnn training (clusters = norm, bars = batch),
    normalizer kernels (clusters = norm/shape, bars = mode)"""
    def usable(rows, cols):
        """drops columns without a finite value (gnuplot refuses empty histograms)"""
        keep = [i for i in range(len(cols)) if any(math.isfinite(v[i]) for _, v in rows)]
        return [(lab, [v[i] for i in keep]) for lab, v in rows], [cols[i] for i in keep]

    def block(name, rows, cols):
        out = ["$%s << EOD" % name]
        for label, vals in rows:
            out.append('"%s" ' % label + " ".join(
                "%.4g" % v if math.isfinite(v) else "NaN" for v in vals))
        out.append("EOD")
        return out

    script = []
    panels = []
    train = [j for j in joined if j["key"][0] == "train"]
    batches = sorted({j["key"][4] for j in train})
    precisions = list(dict.fromkeys(j["key"][8] for j in train))
    for model in ("mlp", "cnn"):
        rows = []
        for norm in NORM_ORDER:
            for p in precisions:
                mine = [j for j in train if j["key"][1] == model and j["key"][2] == norm
                        and j["key"][8] == p]
                if mine:
                    pts = {j["key"][4]: j["ratio"] for j in mine}
                    rows.append((tagged(label_norm(norm, mine[0]["key"][3]), mine[0]["key"]),
                                 [pts.get(b, math.nan) for b in batches]))
        rows, cols = usable(rows, ["batch %d" % b for b in batches])
        if rows and cols:
            name = "train_" + model
            script += block(name, rows, cols)
            panels.append((name, "%s training: normlab samples/s / PyTorch best setting" %
                           model.upper(), "normalizer", len(rows), cols))
    norm = [j for j in joined if j["key"][0] == "norm"]
    modes = [m for m in MODE_ORDER if any(j["key"][7] == m for j in norm)]
    if norm:
        rows, seen = [], []
        kernel_label = lambda k: tagged("%s %s" % (label_norm(k[2], k[3]), k[6]), k)
        for j in norm:
            lab = kernel_label(j["key"])
            if lab not in seen:
                seen.append(lab)
        for lab in seen:
            vals = []
            for m in modes:
                v = [j["ratio"] for j in norm if kernel_label(j["key"]) == lab
                     and j["key"][7] == m]
                vals.append(v[0] if v else math.nan)
            rows.append((lab, vals))
        rows, cols = usable(rows, modes)
        if cols:
            script += block("kernels", rows, cols)
            panels.append(("kernels", "normalizers: normlab GB/s / PyTorch best setting",
                           "normalizer and shape", len(rows), cols))
    allv = [j["ratio"] for j in joined if j["key"][0] in ("train", "norm")
            and math.isfinite(j["ratio"]) and j["ratio"] > 0]
    lo = min(allv + [0.5]) / 1.5
    hi = max(allv + [4.0]) * 1.5
    script += [
        "set terminal pngcairo size 1100,%d font 'DejaVu Sans,10' noenhanced" % (380 * max(1, len(panels))),
        "set output '%s'" % png,
        "set multiplot layout %d,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'"
        % max(1, len(panels)),
        "set style data histogram",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set logscale y",
        "set yrange [%.3g:%.3g]" % (lo, hi),
        "set grid ytics",
        "set ytics (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)",
        "set lmargin 14",
        "set key outside right top vertical",
        "set xtics rotate by 25 right nomirror",
        "set ylabel 'ratio (log scale)'",
    ]
    for name, title, xlabel, nrows, cols in panels:
        script += [
            "set title '%s'" % title,
            "set xrange [-0.6:%g]" % (nrows - 0.4),
            "set xlabel '%s'" % xlabel,
            "plot " + ", \\\n     ".join(
                "$%s using %d:xtic(1) title '%s'" % (name, i + 2, c) for i, c in enumerate(cols))
            + ", \\\n     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', "
            "1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', "
            "3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'",
        ]
    script.append("unset multiplot")
    return "\n".join(script) + "\n"


def main():
    ap = argparse.ArgumentParser(description="normlab vs PyTorch ratio tables")
    ap.add_argument("normlab_csv")
    ap.add_argument("torch_csv")
    ap.add_argument("--out", default="results/bench")
    ap.add_argument("--no-plot", action="store_true", help="write ratios.gp but do not run gnuplot")
    ap.add_argument("--fastest", action="store_true",
                    help="use the fastest repetition instead of the median (noisy machines)")
    ap.add_argument("--rounds", action="store_true",
                    help="pair the CSVs in order as interleaved rounds: ratios per round")
    a = ap.parse_args()
    if a.rounds and len(a.normlab_csv.split(",")) != len(a.torch_csv.split(",")):
        sys.exit("compare.py: --rounds needs as many normlab CSVs as PyTorch CSVs")
    nl_rows = [r for p in a.normlab_csv.split(",") for r in read(p) if r["impl"] == "normlab"]
    torch_rows = [r for p in a.torch_csv.split(",") for r in read(p) if r["impl"] == "torch"]
    if not nl_rows or not torch_rows:
        sys.exit("compare.py: no %s rows" % ("normlab" if not nl_rows else "torch"))
    NORM_ORDER[:] = list(dict.fromkeys(r["norm"] for r in nl_rows if r["norm"]))
    joined = join(nl_rows, torch_rows, a.fastest)
    if a.fastest:
        print("(fastest repetitions, not medians)")
    print(markdown(joined, nl_rows, torch_rows))
    if a.rounds:
        print()
        print(round_ratios(a.normlab_csv.split(","), a.torch_csv.split(","), a.fastest))
    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "ratios.csv"), joined)
    gp = os.path.join(a.out, "ratios.gp")
    with open(gp, "w") as f:
        f.write(gnuplot_script(joined, "ratios.png"))
    if not a.no_plot:
        if shutil.which("gnuplot"):
            subprocess.run(["gnuplot", "ratios.gp"], cwd=a.out, check=True)
        else:
            print("compare.py: gnuplot not found; ratios.gp written, no PNG", file=sys.stderr)


if __name__ == "__main__":
    main()
