#!/usr/bin/env python3
"""The markdown table of a run_archs.sh directory: per architecture and
batch, normlab's and PyTorch's steady rates (median over the rounds), the
ratio normlab / PyTorch per round (median, min-max), each side's share of
the FMA peak and of the sgemm peak, the load over the rounds, and, where more than one torch mode was
measured, the ratio against the faster mode's median. Where the directory
holds NAME-bBATCH-profile.txt files (run_archs.sh with PROFILE=1, written by
product_share.py), a second table gives each config's ceilings: its median
ratio over the share of normlab's run spent in products (and in products
and the convolutions' data preparation), the ratio normlab would reach if
all else were free.

    python3 experiments/bench/archs_table.py DIR

Plain Python (csv and statistics): no numpy needed.
"""
import csv
import glob
import os
import statistics
import sys

ORDER = ["mlp", "cnn", "resnet", "lm", "vit", "lstm", "gru", "char_lm"]
MODES = ("eager", "compile", "max-autotune", "best")  # run_archs.sh's MODE


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def rows_of(path):
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["section"] == "run"]


def spread(values, digits):
    values = [v for v in values if v is not None]
    if not values:
        return "–", None
    med = statistics.median(values)
    fmt = "%%.%df" % digits
    if len(values) == 1:
        return fmt % med, med
    return (fmt + " (" + fmt + "–" + fmt + ")") % (med, min(values), max(values)), med


def rate(v):
    return "%.0f" % v if v < 1e4 else "%.1fk" % (v / 1e3)


def shares_of(path):
    """products and conv_prep shares (fractions) of a product_share.py report"""
    shares = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("products", "conv_prep", "rest") and \
                    parts[1].endswith("%"):
                shares[parts[0]] = float(parts[1][:-1]) / 100.0
    return shares


def print_ceilings(directory, ratios):
    rows = []
    for key in sorted(ratios, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1])):
        path = os.path.join(directory, "%s-b%d-profile.txt" % key)
        if not os.path.exists(path):
            continue
        sh = shares_of(path)
        p, pc = sh.get("products", 0.0), sh.get("products", 0.0) + sh.get("conv_prep", 0.0)
        rows.append("| %s | %d | %.2f | %.0f%% | %.0f%% | %s | %s |" % (
            key[0], key[1], ratios[key], 100 * p, 100 * sh.get("conv_prep", 0.0),
            "%.2f" % (ratios[key] / p) if p > 0 else "–",
            "%.2f" % (ratios[key] / pc) if pc > 0 else "–"))
    if rows:
        print("\n| model | batch | normlab / PyTorch | products | conv. preparation | ceiling: all but "
              "products free | ceiling: all but products and preparation free |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print("\n".join(rows))


def main():
    directory = sys.argv[1]
    ratios = {}
    configs = {}
    for path in sorted(glob.glob(os.path.join(directory, "*-b*-*.csv"))):
        stem = os.path.basename(path)[:-4]
        name, rest = stem.split("-b", 1)
        batch, mode = rest.split("-", 1)
        if mode not in MODES:  # another tool's CSV beside them (bench_layer_times')
            continue
        configs.setdefault((name, int(batch)), {})[mode] = rows_of(path)
    print("| model | batch | torch mode | normlab /s | PyTorch /s (mode won) | normlab / PyTorch, "
          "median (min–max) | share of FMA peak normlab / PyTorch | share of sgemm peak | load | "
          "compile s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted(configs, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1])):
        name, batch = key
        by_mode = configs[key]
        best_torch, normlab_all = 0.0, []
        for mode in sorted(by_mode):
            rows = by_mode[mode]
            ours = [r for r in rows if r["impl"] == "normlab"]
            theirs = [r for r in rows if r["impl"] == "torch"]
            if not ours or not theirs:
                print("| %s | %d | %s | (no complete round: see its .txt) | | | | | | |"
                      % (name, batch, mode))
                continue
            n_rate = statistics.median(number(r["steady_per_s"]) for r in ours)
            normlab_all += [number(r["steady_per_s"]) for r in ours]
            # the peer of each round: the fastest mode's row (peer_mode)
            peers = [r for r in theirs if r["torch_mode"] == r["peer_mode"]] or theirs
            t_rate = statistics.median(number(r["steady_per_s"]) for r in peers)
            best_torch = max(best_torch, t_rate)
            won = {}
            for r in peers:
                won[r["torch_mode"]] = won.get(r["torch_mode"], 0) + 1
            ratio, ratio_med = spread([number(r["ratio_to_torch"]) for r in ours], 2)
            if ratio_med is not None:
                ratios[key] = ratio_med
            share_n, _ = spread([number(r["peak_share"]) for r in ours], 3)
            share_t, _ = spread([number(r["peak_share"]) for r in peers], 3)
            # the FMA peak's share ("–" in CSVs from before it was measured)
            fma_n, _ = spread([number(r.get("fma_peak_share")) for r in ours], 3)
            fma_t, _ = spread([number(r.get("fma_peak_share")) for r in peers], 3)
            loads = [number(r["load1"]) for r in rows if number(r["load1"]) is not None]
            compile_s = [number(r["compile_s"]) for r in theirs if number(r["compile_s"])]
            unit = "tokens" if ours[0]["per_sample"] == "tokens" else ""
            print("| %s | %d | %s | %s%s | %s (%s) | **%s** | %s / %s | %s / %s | %.1f–%.1f | %s |" % (
                name, batch, mode, rate(n_rate), " tok" if unit else "", rate(t_rate),
                ", ".join("%s %d" % kv for kv in sorted(won.items())), ratio,
                fma_n.split(" ")[0], fma_t.split(" ")[0],
                share_n.split(" ")[0], share_t.split(" ")[0], min(loads), max(loads),
                " / ".join("%.0f" % c for c in compile_s) if compile_s else "–"))
        if len(by_mode) > 1 and best_torch > 0:
            print("| %s | %d | faster mode's median | %s | %s | **%.2f** | | | | |" % (
                name, batch, rate(statistics.median(normlab_all)), rate(best_torch),
                statistics.median(normlab_all) / best_torch))
            ratios[key] = statistics.median(normlab_all) / best_torch
    print_ceilings(directory, ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
