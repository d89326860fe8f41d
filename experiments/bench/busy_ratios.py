#!/usr/bin/python3
"""What a default run keeps beside a busy core: `normlab bench --training
--busy 0` and `--busy 1` alternated, files busy0-ROUND.csv and
busy1-ROUND.csv (ROUND = 1, 2, ...); per point the median over rounds of
busy / idle samples/s (each busy run divided by the idle run just before
it), as a Markdown table, then the range and geometric mean of the medians
(issue 28's target: at least 0.40).

usage: python3 experiments/bench/busy_ratios.py DIR"""
import argparse
import csv
import glob
import math
import os
import statistics


def load(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["section"] == "train":
                rows[(r["model"], r["norm"], int(r["batch"]))] = (float(r["samples_per_s"]),
                                                                   int(r["threads"]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    args = ap.parse_args()
    rounds = []
    for idle_path in sorted(glob.glob(os.path.join(args.dir, "busy0-*.csv"))):
        busy_path = idle_path.replace("busy0-", "busy1-")
        if os.path.exists(busy_path):
            rounds.append((load(idle_path), load(busy_path)))
    if not rounds:
        raise SystemExit(f"busy_ratios.py: no busy0-N.csv with its busy1-N.csv in {args.dir}")
    print("| model | norm | batch | idle samples/s (threads) | one busy core (threads) | kept: median (range) |")
    print("|---|---|---:|---:|---:|---:|")
    medians = []
    for k in rounds[0][0]:
        pairs = [(idle[k], busy[k]) for idle, busy in rounds if k in idle and k in busy]
        ratios = [b[0] / a[0] for a, b in pairs]
        kept = statistics.median(ratios)
        medians.append(kept)
        idle_rate = statistics.median(a[0] for a, _ in pairs)
        busy_rate = statistics.median(b[0] for _, b in pairs)
        print(f"| {k[0]} | {k[1]} | {k[2]} | {idle_rate / 1000:.1f}k ({pairs[0][0][1]}) | "
              f"{busy_rate / 1000:.1f}k ({pairs[0][1][1]}) | {kept:.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
    geo = math.exp(sum(map(math.log, medians)) / len(medians))
    print(f"\nkept, median per point over {len(rounds)} rounds: {min(medians):.2f}-{max(medians):.2f}, "
          f"geometric mean {geo:.2f}")


if __name__ == "__main__":
    main()
