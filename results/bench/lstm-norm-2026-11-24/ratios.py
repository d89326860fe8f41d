"""The in-cell normalized lstm against PyTorch, per interleaved round:
normlab / PyTorch sequences/s (median and range over the rounds), and on
each side the normalized step's time over the plain step's of the same
round, hidden size and batch. usage: python3 ratios.py DIR > DIR/ratios.md"""
import csv
import glob
import os
import statistics
import sys
from collections import defaultdict


def rows(d, impl, rnd):
    out = {}
    for path in glob.glob(os.path.join(d, "%s-%d.csv" % (impl, rnd))) + \
            glob.glob(os.path.join(d, "%s-bn-%d.csv" % (impl, rnd))):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["section"] == "train_rnn":
                    out[(r["norm"], r["shape"], int(r["batch"]))] = r
    return out


def main(d):
    rounds = sorted(int(p.rsplit("-", 1)[1][:-4]) for p in glob.glob(os.path.join(d, "normlab-[0-9]*.csv")))
    ratio, nl_cost, th_cost, winner = (defaultdict(list) for _ in range(4))
    for rnd in rounds:
        nl, th = rows(d, "normlab", rnd), rows(d, "torch", rnd)
        for k, r in nl.items():
            if k not in th:
                continue
            ratio[k].append(float(r["samples_per_s"]) / float(th[k]["samples_per_s"]))
            plain = (("none",) + k[1:])
            if k[0] != "none" and plain in nl and plain in th:
                nl_cost[k].append(float(r["median_ms"]) / float(nl[plain]["median_ms"]))
                th_cost[k].append(float(th[k]["median_ms"]) / float(th[plain]["median_ms"]))
                winner[k].append(th[k]["kernel"].rsplit(":", 1)[-1])
    fmt = lambda v: "%.2f (%.2f–%.2f)" % (statistics.median(v), min(v), max(v)) if v else "-"
    print("normlab / PyTorch's best (sequences/s), median (range) over %d rounds; the\n"
          "normalized step's time over the plain step's on each side; PyTorch's\n"
          "faster form per round (eager or torch.jit.script).\n" % len(rounds))
    print("| norm | hidden | batch | normlab / PyTorch | normlab cost ÷ plain | PyTorch cost ÷ plain "
          "| PyTorch's faster |")
    print("|---|---:|---:|---:|---:|---:|---|")
    order = {"none": 0, "layer": 1, "rms": 2, "batch": 3}
    for k in sorted(ratio, key=lambda k: (order.get(k[0], 9), int(k[1][1:].split("-")[0]), k[2])):
        print("| %s | %s | %d | %s | %s | %s | %s |" % (
            k[0], k[1].split("-")[0][1:], k[2], fmt(ratio[k]), fmt(nl_cost[k]), fmt(th_cost[k]),
            " ".join(winner[k]) or "-"))


if __name__ == "__main__":
    main(sys.argv[1])
