#!/bin/bash
# Eval throughput with batch norm folded (issue 44, reproduction 4):
# `normlab bench --eval` beside torch_bench.py --eval (PyTorch folding with
# torch.nn.utils.fusion) on the MLP and CNN, REPEATS interleaved rounds by
# run_lm.sh, each side timed by its own CPU time (--cpu-clock) on one
# thread, so that other processes on a shared machine count less; then
# OUT_DIR/speedup.md: per model and batch the median samples/s of each side
# unfolded and folded, each round's folded/unfolded speed-up, and normlab's
# folded rate over PyTorch's.
#
# usage: experiments/fold-bench.sh OUT_DIR [bench options]
#   (default options: --threads 1 --cpu-clock --batch 1,8,32,256)
# REPEATS (default 6), NORMLAB (default build/normlab)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: fold-bench.sh OUT_DIR [bench options]}
shift
[ $# -gt 0 ] || set -- --threads 1 --cpu-clock --batch 1,8,32,256
cd "$root"
NORMLAB=${NORMLAB:-build/normlab} MODEL=mlp,cnn SETTINGS=default REPEATS=${REPEATS:-6} \
    bash experiments/bench/run_lm.sh "$out" --eval "$@" || true  # its LM table has no rows here
python3 - "$out" > "$out/speedup.md" <<'PYEOF'
import csv, glob, os, statistics, sys
d = sys.argv[1]
def rows(f):
    return {(r["model"], int(r["batch"]), r["mode"]): float(r["samples_per_s"])
            for r in csv.DictReader(open(f)) if r["section"] == "eval"}
rounds = sorted(int(os.path.basename(f)[8:-4]) for f in glob.glob(os.path.join(d, "normlab-*.csv")))
nl = [rows(os.path.join(d, "normlab-%d.csv" % i)) for i in rounds]
th = [rows(os.path.join(d, "torch-%d.csv" % i)) for i in rounds]
print("| model | batch | normlab unfolded | normlab folded | normlab speed-up, per round | "
      "PyTorch unfolded | PyTorch folded | PyTorch speed-up, per round | folded normlab / folded PyTorch |")
print("|---|---:|---:|---:|---|---:|---:|---|---:|")
for model, b in sorted({(k[0], k[1]) for k in nl[0]}, key=lambda k: (k[0] != "mlp", k[1])):
    med = lambda side, mode: statistics.median(s[(model, b, mode)] for s in side)
    nsu = [s[(model, b, "folded")] / s[(model, b, "unfolded")] for s in nl]
    tsu = [s[(model, b, "folded")] / s[(model, b, "unfolded")] for s in th]
    ratio = [n[(model, b, "folded")] / t[(model, b, "folded")] for n, t in zip(nl, th)]
    print("| %s | %d | %.0f | %.0f | **%.2f** (%s) | %.0f | %.0f | **%.2f** (%s) | %.2f |" % (
        model, b, med(nl, "unfolded"), med(nl, "folded"), statistics.median(nsu),
        ", ".join("%.2f" % x for x in nsu), med(th, "unfolded"), med(th, "folded"),
        statistics.median(tsu), ", ".join("%.2f" % x for x in tsu), statistics.median(ratio)))
PYEOF
cat "$out/speedup.md"
