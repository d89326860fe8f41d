#!/bin/bash
# run_archs.sh - every architecture torch_run.py mirrors, end to end against
# PyTorch, across batch sizes: `normlab bench --run CONFIG --torch` (a real
# `normlab run` against torch_run.py on the same resolved config, the sides
# alternated over ROUNDS rounds) for the mlp, cnn, resnet, lm, vit, lstm, gru
# and the character LSTM LM at each of BATCHES, in one torch mode per pass.
# Each config trains about SAMPLES samples (windows for the token models;
# 20 to 400 steps), evaluating only at the start and the end (evaluations
# are taken out of the steady state anyway). `uptime`, the CPU and its ISA
# go to machine.txt; each measurement's table to NAME.txt, its rows (with the
# CPU model, ISA, OpenBLAS core, load and share of peak) to NAME.csv;
# archs_table.py makes the markdown table of a directory.
#
# usage: bash experiments/bench/run_archs.sh OUT_DIR
#   MODE (eager, compile, max-autotune or best; default eager), BATCHES
#   (default "2 16 128"), ROUNDS (default 3), THREADS (default 1: both
#   sides; on a shared 2-core host one thread each is the fairer split),
#   ONLY (a subset of: mlp cnn resnet lm vit lstm gru char_lm), NORMLAB
#   (default build/normlab), SAMPLES (default 4096), PRECISION (fp32, the
#   default, or bf16: train.precision on both sides, torch_run.py's CPU
#   autocast; the recurrent models train fp32 in torch, so bf16 leaves
#   them out), LAYOUT (the CNN's and ResNet's model.layout: unset, the
#   default, leaves the plan's choice, auto; nchw or blocked pins one;
#   torch_run.py reads its channels_last either way), CONV (the CNN's and
#   ResNet's model.conv_algorithm: unset leaves the default, direct;
#   winograd_f43, winograd_f23 or auto asks that one)
# PROFILE=1 runs no PyTorch: each config's `normlab run` alone under perf
# (product_share.py), its time by kind to NAME-bBATCH-profile.txt, which
# archs_table.py reads beside the ratios for the ceilings.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run_archs.sh OUT_DIR}
mkdir -p "$out"
cd "$root"
normlab=${NORMLAB:-build/normlab}
mode=${MODE:-eager}
rounds=${ROUNDS:-3}
threads=${THREADS:-1}
batches=${BATCHES:-"2 16 128"}
samples=${SAMPLES:-4096}
precision=${PRECISION:-fp32}
layout=${LAYOUT:-}
conv=${CONV:-}
only=${ONLY:-"mlp cnn resnet lm vit lstm gru char_lm"}
. "$root/experiments/bench/machine.sh"
describe_machine "$normlab" "$threads" >> "$out/machine.txt"

IMAGES="--set data.train_size=4096 --set data.test_size=500"
TEXT="--set data.test_size=4096"
bench() { # NAME BATCH CONFIG [--set ...]
  local name=$1 batch=$2 steps log
  shift 2
  steps=$((samples / batch))
  steps=$((steps < 20 ? 20 : steps > 400 ? 400 : steps))
  log=$((steps / 16 < 2 ? 2 : steps / 16))
  if [ -n "${PROFILE:-}" ]; then
    rm -rf "$out/.profile-run"
    python3 "$root/experiments/bench/product_share.py" "$out/$name-b$batch-profile.txt" -- \
      "$normlab" run "$@" --set train.batch_size="$batch" --set train.steps="$steps" \
      --set train.log_every="$log" --set train.eval_every=1000000 --set train.eval_batch_size=128 \
      --set train.precision="$precision" \
      --threads "$threads" --out "$out/.profile-run" > /dev/null ||
      echo "$name batch $batch profile: exit $?" | tee -a "$out/load.txt"
    rm -rf "$out/.profile-run"
    return
  fi
  echo "$name batch $batch $mode start: $(uptime)" | tee -a "$out/load.txt"
  "$normlab" bench --run "$@" --set train.batch_size="$batch" --set train.steps="$steps" \
    --set train.log_every="$log" --set train.eval_every=1000000 --set train.eval_batch_size=128 \
    --set train.precision="$precision" \
    --torch --torch-mode "$mode" --rounds "$rounds" --threads "$threads" \
    --csv "$out/$name-b$batch-$mode.csv" > "$out/$name-b$batch-$mode.txt" 2>&1 ||
    echo "$name batch $batch $mode: exit $? (see $name-b$batch-$mode.txt)" | tee -a "$out/load.txt"
  grep -E 'ratio normlab' "$out/$name-b$batch-$mode.txt" || true
  echo "$name batch $batch $mode end: $(uptime)" | tee -a "$out/load.txt"
}

for batch in $batches; do
  for what in $only; do
    if [ "$precision" != fp32 ]; then
      case $what in lstm | gru | char_lm) continue ;; esac
    fi
    case $what in
    mlp) # the quickstart's MLP: batch norm, widths 256-256
      bench mlp "$batch" configs/quickstart-cnn.yaml $IMAGES --set model.arch=mlp \
        --set 'model.widths=[256,256]' --set train.optimizer.lr=0.02 ;;
    cnn)
      bench cnn "$batch" configs/quickstart-cnn.yaml $IMAGES --set train.optimizer.lr=0.01 \
        ${layout:+--set model.layout=$layout} ${conv:+--set model.conv_algorithm=$conv} ;;
    resnet)
      bench resnet "$batch" configs/resnet-pre-layer.yaml $IMAGES ${layout:+--set model.layout=$layout} \
        ${conv:+--set model.conv_algorithm=$conv} ;;
    lm) # 3 blocks, d_model 64, context 64, characters
      bench lm "$batch" configs/lm-kjv-small.yaml $TEXT --set train.schedule.warmup_steps=0 ;;
    vit)
      bench vit "$batch" configs/vit-fashion.yaml $IMAGES --set train.schedule.warmup_steps=0 ;;
    lstm)
      bench lstm "$batch" configs/lstm-fashion.yaml $IMAGES ;;
    gru)
      bench gru "$batch" configs/lstm-fashion.yaml $IMAGES --set model.cell=gru ;;
    char_lm) # the character LSTM LM, context 64
      bench char_lm "$batch" configs/lstm-kjv.yaml $TEXT ;;
    esac
  done
done
