#!/usr/bin/python3
"""The training step per CPU kernel set: samples/s of each set against the
native build, from `normlab bench --training` CSVs named SET-ROUND.csv
(e.g. native-1.csv, x86-64-v4-2.csv; the best round of each point is
taken), as a Markdown table and geometric means.

usage: python3 experiments/bench/kernel_sets.py DIR [--base native]
The CSVs come from the same binary with NORMLAB_CPU_KERNELS set for each
round, alternated (results/bench/zen4-2026-11-23/README.md has the loop)."""
import argparse
import csv
import glob
import math
import os
import re


def load(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["section"] == "train":
                rows[(r["model"], r["norm"], int(r["batch"]))] = float(r["samples_per_s"])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--base", default="native", help="the set the others are divided by")
    args = ap.parse_args()
    rounds = {}
    for path in sorted(glob.glob(os.path.join(args.dir, "*-[0-9]*.csv"))):
        name = re.sub(r"-[0-9]+\.csv$", "", os.path.basename(path))
        rounds.setdefault(name, []).append(load(path))
    if args.base not in rounds:
        raise SystemExit(f"kernel_sets.py: no {args.base}-N.csv in {args.dir}")
    best = {s: {k: max(d[k] for d in ds if k in d) for k in ds[0]} for s, ds in rounds.items()}
    base = best[args.base]
    others = [s for s in rounds if s != args.base]
    print("| model | norm | batch | " + " | ".join([args.base] + others) + " |")
    print("|---|---|---:|" + "---:|" * (1 + len(others)))
    for k in base:
        cells = [f"{base[k] / 1000:.1f}k"]
        cells += [f"{best[s][k] / 1000:.1f}k ({best[s][k] / base[k]:.2f})" if k in best[s] else ""
                  for s in others]
        print(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(cells) + " |")
    print()
    for s in others:
        ratios = [best[s][k] / base[k] for k in base if k in best[s]]
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"{s} / {args.base}: geometric mean {geo:.2f}, range {min(ratios):.2f}-{max(ratios):.2f} "
              f"over {len(ratios)} points, best of {len(rounds[s])} rounds")


if __name__ == "__main__":
    main()
