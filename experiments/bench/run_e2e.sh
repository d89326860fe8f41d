#!/bin/bash
# run_e2e.sh - the README's end-to-end speed table: `normlab bench --run`
# (a real `normlab run` against experiments/bench/torch_run.py, and the
# model's step timed alone, alternated over ROUNDS rounds) on the quickstart
# CNN, the quickstart's MLP (batch norm, batch 32) and the 12-block
# byte-vocabulary LM, then the quickstart sweep timed with /usr/bin/time.
# `uptime` and the CPU go to machine.txt; each measurement's table to
# NAME.txt, its rows to NAME.csv.
#
# usage: bash experiments/bench/run_e2e.sh OUT_DIR
#   ROUNDS (default 3), THREADS (default 2: both sides), NORMLAB (default
#   build/normlab), ONLY (space-separated subset of: cnn mlp lm quickstart)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run_e2e.sh OUT_DIR}
mkdir -p "$out"
cd "$root"
normlab=${NORMLAB:-build/normlab}
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
only=${ONLY:-"cnn mlp lm quickstart"}
. "$root/experiments/bench/machine.sh"
describe_machine "$normlab" "$threads" > "$out/machine.txt"

bench() { # NAME CONFIG [--set ...]
  local name=$1
  shift
  echo "$name start: $(uptime)" | tee -a "$out/load.txt"
  "$normlab" bench --run "$@" --torch --step --rounds "$rounds" --threads "$threads" \
    --csv "$out/$name.csv" | tee "$out/$name.txt"
  echo "$name end: $(uptime)" | tee -a "$out/load.txt"
}

for what in $only; do
  case $what in
  cnn)
    bench cnn configs/quickstart-cnn.yaml ;;
  mlp) # experiments/quickstart.yaml's base, batch norm at batch 32
    bench mlp configs/quickstart-cnn.yaml --set model.arch=mlp --set 'model.widths=[256,256]' \
      --set model.norm.type=batch --set train.batch_size=32 --set train.optimizer.lr=0.02 \
      --set train.optimizer.weight_decay=0 --set train.schedule.type=constant \
      --set train.log_every=25 ;;
  lm) # issue 9's LM: 12 blocks, d_model 128, 4 heads, context 64, batch 16, bytes
    bench lm12 configs/lm-kjv.yaml --set model.layers=12 --set model.context=64 \
      --set data.vocabulary=bytes --set train.steps=${LM_STEPS:-100} \
      --set train.eval_every=50 --set train.log_every=10 ;;
  quickstart)
    rm -rf /tmp/normlab-e2e-quickstart
    echo "quickstart start: $(uptime)" | tee -a "$out/load.txt"
    /usr/bin/time -v "$normlab" sweep experiments/quickstart.yaml -j 2 \
      --out /tmp/normlab-e2e-quickstart > "$out/quickstart.txt" 2>&1
    echo "quickstart end: $(uptime)" | tee -a "$out/load.txt"
    grep -E 'Elapsed|User time|System time|Percent of CPU' "$out/quickstart.txt" ;;
  esac
done
