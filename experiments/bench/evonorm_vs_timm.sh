#!/bin/bash
# evonorm_vs_timm.sh - EvoNorm-B0 and S0 as normlab formulas in the
# activation's place (model.norm.activation: replace) against timm's
# EvoNorm2dB0 / EvoNorm2dS0 in the same model: the PyTorch peer
# (torch_run.py, torch_models.py) builds normlab's CNN and ResNet with timm's
# module wherever normlab puts the formula and no activation after it where
# normlab has none. Each row is `normlab bench --run CONFIG --torch
# --torch-mode MODE`: real runs, the sides alternated round by round over
# ROUNDS rounds, the steady-state training step (samples/s between train
# rows, evaluations left out), and each side's process CPU seconds beside
# its wall time; under nice, one thread a side.
# First, evonorm_same_function.py: the formula (as `normlab export torch`
# writes it) and timm's module give the same outputs, gradients and running
# variance, or nothing is timed.
#
# usage: experiments/bench/evonorm_vs_timm.sh OUT_DIR
#   PYTHON   a Python with torch and timm (default .venv-timm/bin/python;
#            never a dependency of normlab: python3 -m venv .venv-timm &&
#            .venv-timm/bin/pip install torch timm pyyaml numpy)
#   NORMLAB  (build/normlab: a build with the host's kernel set)
#   ROUNDS   (3), BATCHES ("16 128"), MODES ("eager compile"),
#   ONLY     a subset of "cnn-b0 cnn-s0 resnet-b0 resnet-s0" (all),
#   SAMPLES  samples each run trains (2048; 20 to 400 steps)
# OUT_DIR gets machine.txt (the CPU, kernel set, compiler, torch and timm),
# same_function.txt, and per row NAME-bBATCH-MODE.txt (bench's table) and
# .csv (its rows); load.txt the load at each row's start and end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: evonorm_vs_timm.sh OUT_DIR}
mkdir -p "$out"
cd "$root"
normlab=${NORMLAB:-build/normlab}
python=${PYTHON:-.venv-timm/bin/python}
rounds=${ROUNDS:-3}
batches=${BATCHES:-"16 128"}
modes=${MODES:-"eager compile"}
only=${ONLY:-"cnn-b0 cnn-s0 resnet-b0 resnet-s0"}
samples=${SAMPLES:-2048}
. "$root/experiments/bench/machine.sh"
{
  describe_machine "$normlab" 1
  cc --version | head -1
  "$python" -c 'import torch, timm; print("torch", torch.__version__, "timm", timm.__version__)'
} > "$out/machine.txt" 2>&1

"$python" experiments/bench/evonorm_same_function.py --normlab "$normlab" | tee "$out/same_function.txt"

# the row's config: the registry's EvoNorm formula, replace, on the
# two-stage CNN (configs/expr/evonorm-*.yaml) or the ResNet the other
# benches time (widths 16, 32, a block per stage), post-activation
config_of() { # NAME -> the config and its --set flags
  local arch=${1%-*} kind=${1#*-}
  echo "configs/expr/evonorm-$kind.yaml --set model.norm.activation=replace"
  [ "$arch" = resnet ] && echo "--set model.arch=resnet --set model.widths=[16,32] --set model.blocks_per_stage=1 --set model.norm.placement=post"
  [ "$kind" = b0 ] && echo "--set model.norm.eps=0.001" # timm's B0 default; S0's is normlab's 1e-5
  return 0
}

for batch in $batches; do
  steps=$((samples / batch))
  steps=$((steps < 20 ? 20 : steps > 400 ? 400 : steps))
  log=$((steps / 16 < 2 ? 2 : steps / 16))
  for name in $only; do
    for mode in $modes; do
      row="$name-b$batch-$mode"
      echo "$row start: $(uptime)" | tee -a "$out/load.txt"
      # shellcheck disable=SC2046
      nice "$normlab" bench --run $(config_of "$name") --set data.train_size=4096 \
        --set data.test_size=500 --set train.batch_size="$batch" --set train.steps="$steps" \
        --set train.log_every="$log" --set train.eval_every=1000000 \
        --set train.eval_batch_size=128 --torch --torch-mode "$mode" --python "$python" \
        --rounds "$rounds" --threads 1 --csv "$out/$row.csv" > "$out/$row.txt" 2>&1 ||
        echo "$row: exit $? (see $row.txt)" | tee -a "$out/load.txt"
      grep -E 'ratio normlab' "$out/$row.txt" || true
      echo "$row end: $(uptime)" | tee -a "$out/load.txt"
    done
  done
done
