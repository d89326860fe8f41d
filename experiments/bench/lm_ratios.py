#!/usr/bin/env python3
"""The transformer speed table from run_lm.sh's rounds: tokens/s (LM) or
images/s (ViT) of normlab and of PyTorch's best threading setting, round by
round, and their ratio.

usage: python3 experiments/bench/lm_ratios.py DIR
  reads DIR/normlab-R.csv and DIR/torch-R.csv (R = 1, 2, ...: run_lm.sh's
  rounds), prints Markdown and writes DIR/lm_ratios.csv.

Per round and per (model, norm, groups, placement, model shape, batch,
precision; compare.py's precision_of reads it, so a bf16 row never meets
an fp32 one):
normlab's tokens/s or images/s, PyTorch's best over the settings of the same round, ratio =
normlab / PyTorch. Over the rounds: the median and the range (min..max) of
each. Issue 25's targets: ratio >= 3 at the smallest batch, >= 1.5 at every
other; "met" reads the median ratio, "every round" whether the worst round
meets it too. "fastest" divides each side's fastest round: on a shared
host a side's slow rounds are mostly other people's work, so it is the
fairer single number, never a substitute for a quiet machine. Plain python3, standard library only.
"""
import csv
import glob
import os
import re
import statistics
import sys

from compare import precision_of


SECTIONS = ("train_lm", "train_vit")


def rows_of(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["section"] in SECTIONS]


def key_of(r):
    return (r["model"], r["norm"], r["groups"], r["mode"], r["shape"], int(r["batch"]),
            precision_of(r))


def best(rows):
    """key -> (tokens/s, setting): the fastest row per key"""
    out = {}
    for r in rows:
        v = float(r["samples_per_s"])
        k = key_of(r)
        if k not in out or v > out[k][0]:
            out[k] = (v, r["setting"])
    return out


def spread(values):
    return "%.0f (%.0f..%.0f)" % (statistics.median(values), min(values), max(values))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    rounds = sorted(int(m.group(1)) for p in glob.glob(os.path.join(d, "normlab-*.csv"))
                    for m in [re.search(r"normlab-(\d+)\.csv$", p)] if m)
    per_key = {}
    machine = None
    threads = {"normlab": set(), "torch": set()}
    for rnd in rounds:
        nl_rows = rows_of(os.path.join(d, "normlab-%d.csv" % rnd))
        torch_path = os.path.join(d, "torch-%d.csv" % rnd)
        if not nl_rows or not os.path.exists(torch_path):
            continue
        machine = machine or nl_rows[0]
        torch_rows = rows_of(torch_path)
        threads["normlab"].update(r["threads"] for r in nl_rows)
        threads["torch"].update(r["threads"] for r in torch_rows)
        nl, th = best(nl_rows), best(torch_rows)
        for k, (v, _) in nl.items():
            if k in th:
                per_key.setdefault(k, []).append((v, th[k][0], th[k][1]))
    if not per_key:
        sys.exit("lm_ratios: no round of %s has both sides' train_lm or train_vit rows" % d)
    smallest = {}
    for k in per_key:
        smallest[k[0]] = min(smallest.get(k[0], k[5]), k[5])
    print("Training speed (lm: tokens/s, vit: images/s), normlab vs PyTorch's best setting, "
          "%d round(s); %s, %s, "
          "OpenBLAS core %s; threads: normlab %s, PyTorch %s" % (
              max(len(v) for v in per_key.values()), machine["cpu_model"], machine["isa"],
              machine["openblas_core"], "/".join(sorted(threads["normlab"])),
              "/".join(sorted(threads["torch"]))))
    print()
    print("| model | norm | placement | shape | batch | precision | normlab /s | PyTorch /s (best setting) "
          "| ratio | fastest | target | met (median) | every round |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    out_rows = []
    for k in sorted(per_key, key=lambda k: (k[0], k[1], k[3], k[4], k[5], k[6] != "fp32", k[6])):
        vals = per_key[k]
        ratios = [a / b for a, b, _ in vals]
        target = 3.0 if k[5] == smallest[k[0]] else 1.5
        med = statistics.median(ratios)
        settings = "/".join(sorted({s for _, _, s in vals}))
        norm = "%s(%s)" % (k[1], k[2]) if k[2] else k[1]
        fastest = max(a for a, _, _ in vals) / max(b for _, b, _ in vals)
        print("| %s | %s | %s | %s | %d | %s | %s | %s (%s) | %.2f (%.2f..%.2f) | %.2f | %.1f | %s | %s |" % (
            k[0], norm, k[3], k[4], k[5], k[6], spread([a for a, _, _ in vals]), spread([b for _, b, _ in vals]),
            settings, med, min(ratios), max(ratios), fastest, target, "yes" if med >= target else "no",
            "yes" if min(ratios) >= target else "no"))
        out_rows.append([k[0], k[1], k[2], k[3], k[4], k[5], k[6], len(vals),
                         statistics.median([a for a, _, _ in vals]),
                         statistics.median([b for _, b, _ in vals]), med, min(ratios), max(ratios),
                         fastest, target])
    with open(os.path.join(d, "lm_ratios.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "norm", "groups", "placement", "shape", "batch", "precision", "rounds",
                    "normlab_per_s", "torch_per_s", "ratio_median", "ratio_min",
                    "ratio_max", "ratio_fastest", "target"])
        for r in out_rows:
            w.writerow(["%.6g" % v if isinstance(v, float) else v for v in r])


if __name__ == "__main__":
    main()
