#!/bin/bash
# run_lm.sh - `normlab bench --model lm` (or vit) and torch_bench.py --model
# lm (or vit) side by side in one run: REPEATS rounds, each normlab then PyTorch under each
# threading setting, one measurement at a time, so a change in the machine's
# load falls on both sides of a round alike. `uptime` before and after each
# round goes to load.txt; lm_ratios.py turns the CSVs into the table.
#
# usage: bash experiments/bench/run_lm.sh OUT_DIR [options for both benches...]
#   e.g. bash experiments/bench/run_lm.sh results/bench/lm --norm layer,rms --reps 3
#        MODEL=vit bash experiments/bench/run_lm.sh results/bench/vit --norm layer
# MODEL (lm or vit, default lm), REPEATS (default 3), SETTINGS (PyTorch's, default "default ob1": see run_torch.sh),
# NORMLAB (a normlab binary to use instead of building build-bench)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run_lm.sh OUT_DIR [bench options]}
shift
mkdir -p "$out"
cd "$root"
normlab=${NORMLAB:-}
if [ -z "$normlab" ]; then
  cmake -B build-bench -DNORMLAB_CUDA=OFF >/dev/null
  cmake --build build-bench -j2 >/dev/null
  normlab=./build-bench/normlab
fi
: > "$out/load.txt"
for round in $(seq 1 "${REPEATS:-3}"); do
  echo "round $round start: $(uptime)" | tee -a "$out/load.txt"
  "$normlab" bench --model "${MODEL:-lm}" "$@" --csv "$out/normlab-$round.csv" \
    | tee "$out/normlab-$round.txt"
  SETTINGS=${SETTINGS:-"default ob1"} bash experiments/bench/run_torch.sh \
    "$out/torch-$round.csv" --model "${MODEL:-lm}" "$@" | tee "$out/torch-$round.txt"
  echo "round $round end: $(uptime)" | tee -a "$out/load.txt"
done
python3 experiments/bench/lm_ratios.py "$out" | tee "$out/ratios.md"
