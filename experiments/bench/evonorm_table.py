#!/usr/bin/python3
"""The markdown table of evonorm_vs_timm.sh's directories: per row (model,
formula, batch, torch mode) the median steady-state training rate of each
side (samples/s, wall clock), the ratio normlab / timm per round (median,
min-max over the rounds, the sides alternated), and each whole run's
process CPU seconds (median; the ratio timm / normlab per round, median and
min-max), the compile seconds of a compiled mode and the load average.

  python3 experiments/bench/evonorm_table.py DIR [DIR ...]
"""
import csv
import glob
import os
import statistics
import sys


def spread(values):
    return "%.2f× (%.2f–%.2f)" % (statistics.median(values), min(values), max(values))


def rows_of(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["section"] == "run"]
    by_round = {}
    for r in rows:
        by_round.setdefault(r["round"], {})[r["impl"]] = r
    rounds = [v for v in by_round.values() if "normlab" in v and "torch" in v]
    if not rounds:
        return None
    rate = [float(v["normlab"]["steady_per_s"]) / float(v["torch"]["steady_per_s"]) for v in rounds]
    cpu = [float(v["torch"]["process_cpu_s"]) / float(v["normlab"]["process_cpu_s"]) for v in rounds]
    med = lambda side, key: statistics.median(float(v[side][key]) for v in rounds)  # noqa: E731
    compile_s = [float(v["torch"]["compile_s"]) for v in rounds if v["torch"].get("compile_s")]
    loads = [float(v[s]["load1"]) for v in rounds for s in ("normlab", "torch")]
    name = os.path.basename(path)[:-4]
    model, formula, batch, mode = name.split("-")
    return ("| %s | %s | %s | %s | %.0f | %.0f | %s | %.2f | %.2f | %s | %s | %.0f–%.0f |"
            % (model, formula.upper(), batch[1:], mode, med("normlab", "steady_per_s"),
               med("torch", "steady_per_s"), spread(rate), med("normlab", "process_cpu_s"),
               med("torch", "process_cpu_s"), spread(cpu),
               "%.0f" % statistics.median(compile_s) if compile_s else "", min(loads), max(loads)))


def main():
    print("| model | formula | batch | timm | normlab samples/s | timm samples/s "
          "| step rate normlab / timm | normlab CPU s | timm CPU s | CPU s timm / normlab "
          "| compile s | load |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in sys.argv[1:]:
        for path in sorted(glob.glob(os.path.join(d, "*.csv")),
                           key=lambda p: (os.path.basename(p).split("-")[0],
                                          int(os.path.basename(p).split("-")[2][1:]),
                                          os.path.basename(p))):
            line = rows_of(path)
            if line:
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
