#!/bin/bash
# run_all.sh - the whole normlab vs PyTorch comparison, one measurement at a
# time: build, normlab bench, PyTorch under every threading setting, then the
# ratio table and plot. Run on a quiet machine (check `uptime`); ~30 min.
#
# usage: bash experiments/bench/run_all.sh [OUT_DIR]   (default results/bench)
#   extra options for both benches: BENCH_ARGS="--threads 2" bash experiments/bench/run_all.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/results/bench}
args=${BENCH_ARGS:-}
mkdir -p "$out"
cd "$root"
cmake -B build-bench -DNORMLAB_CUDA=OFF >/dev/null
cmake --build build-bench -j2 >/dev/null
uptime | tee "$out/load.txt"
./build-bench/normlab bench $args --csv "$out/normlab.csv" | tee "$out/normlab.txt"
bash experiments/bench/run_torch.sh "$out/torch.csv" $args | tee "$out/torch.txt"
uptime | tee -a "$out/load.txt"
python3 experiments/bench/compare.py "$out/normlab.csv" "$out/torch.csv" --out "$out" | tee "$out/ratios.md"
